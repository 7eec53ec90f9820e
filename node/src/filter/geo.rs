//! Geographic conditions: bounding boxes, radii (haversine) and polygons (ray casting).

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::FilterError;

const EARTH_RADIUS_M: f64 = 6_371_008.8;

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GeoPoint {
    pub lon: f64,
    pub lat: f64,
}

impl GeoPoint {
    /// A payload value that is a geo point (`{"lon": .., "lat": ..}`).
    pub fn from_payload(value: &Value) -> Option<GeoPoint> {
        let object = value.as_object()?;
        Some(GeoPoint {
            lon: object.get("lon")?.as_f64()?,
            lat: object.get("lat")?.as_f64()?,
        })
    }

    pub fn validate(&self) -> Result<(), FilterError> {
        if !(-180.0..=180.0).contains(&self.lon) || !(-90.0..=90.0).contains(&self.lat) {
            return Err(FilterError(format!(
                "geo point (lon {}, lat {}) is out of range: lon must be within [-180, 180], \
                 lat within [-90, 90]",
                self.lon, self.lat
            )));
        }
        Ok(())
    }

    /// Great-circle distance in meters.
    pub fn distance_m(&self, other: &GeoPoint) -> f64 {
        let (lat1, lat2) = (self.lat.to_radians(), other.lat.to_radians());
        let dlat = lat2 - lat1;
        let dlon = (other.lon - self.lon).to_radians();
        let a = (dlat / 2.0).sin().powi(2) + lat1.cos() * lat2.cos() * (dlon / 2.0).sin().powi(2);
        2.0 * EARTH_RADIUS_M * a.sqrt().asin()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GeoBoundingBox {
    pub top_left: GeoPoint,
    pub bottom_right: GeoPoint,
}

impl GeoBoundingBox {
    /// A box whose left edge is east of its right edge crosses the antimeridian.
    pub fn contains(&self, p: &GeoPoint) -> bool {
        let lat_ok = p.lat <= self.top_left.lat && p.lat >= self.bottom_right.lat;
        let (left, right) = (self.top_left.lon, self.bottom_right.lon);
        let lon_ok = if left <= right {
            p.lon >= left && p.lon <= right
        } else {
            p.lon >= left || p.lon <= right
        };
        lat_ok && lon_ok
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GeoRadius {
    pub center: GeoPoint,
    /// In meters.
    pub radius: f64,
}

impl GeoRadius {
    pub fn contains(&self, p: &GeoPoint) -> bool {
        self.center.distance_m(p) <= self.radius
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GeoLineString {
    pub points: Vec<GeoPoint>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GeoPolygon {
    pub exterior: GeoLineString,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interiors: Option<Vec<GeoLineString>>,
}

impl GeoPolygon {
    pub fn points(&self) -> impl Iterator<Item = GeoPoint> + '_ {
        let interiors = self.interiors.iter().flatten();
        self.exterior
            .points
            .iter()
            .chain(interiors.flat_map(|ring| ring.points.iter()))
            .copied()
    }

    /// Rings must be closed (first point repeated last) with at least four points, as in
    /// Qdrant and GeoJSON.
    pub fn validate(&self) -> Result<(), FilterError> {
        let rings = std::iter::once(&self.exterior).chain(self.interiors.iter().flatten());
        for ring in rings {
            let closed = ring.points.first() == ring.points.last();
            if ring.points.len() < 4 || !closed {
                return Err(FilterError(
                    "geo_polygon: each ring needs at least 4 points and must be closed \
                     (first point equal to the last)"
                        .into(),
                ));
            }
        }
        Ok(())
    }

    pub fn contains(&self, p: &GeoPoint) -> bool {
        let in_hole = self
            .interiors
            .iter()
            .flatten()
            .any(|ring| ring_contains(&ring.points, p));
        ring_contains(&self.exterior.points, p) && !in_hole
    }
}

/// Even-odd rule on the plane of (lon, lat).
fn ring_contains(ring: &[GeoPoint], p: &GeoPoint) -> bool {
    let mut inside = false;
    for pair in ring.windows(2) {
        let (a, b) = (pair[0], pair[1]);
        if (a.lat > p.lat) != (b.lat > p.lat) {
            let lon_at = a.lon + (p.lat - a.lat) / (b.lat - a.lat) * (b.lon - a.lon);
            if p.lon < lon_at {
                inside = !inside;
            }
        }
    }
    inside
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pt(lon: f64, lat: f64) -> GeoPoint {
        GeoPoint { lon, lat }
    }

    #[test]
    fn haversine_matches_a_known_distance() {
        // Berlin to Paris is about 878 km.
        let d = pt(13.405, 52.52).distance_m(&pt(2.3522, 48.8566));
        assert!((d - 878_000.0).abs() < 5_000.0, "{d}");
    }

    #[test]
    fn boxes_handle_the_antimeridian() {
        let b = GeoBoundingBox {
            top_left: pt(170.0, 10.0),
            bottom_right: pt(-170.0, -10.0),
        };
        assert!(b.contains(&pt(179.0, 0.0)));
        assert!(b.contains(&pt(-175.0, 5.0)));
        assert!(!b.contains(&pt(0.0, 0.0)));
    }

    #[test]
    fn polygons_exclude_their_holes() {
        let square = |lo: f64, hi: f64| GeoLineString {
            points: vec![pt(lo, lo), pt(hi, lo), pt(hi, hi), pt(lo, hi), pt(lo, lo)],
        };
        let p = GeoPolygon {
            exterior: square(0.0, 10.0),
            interiors: Some(vec![square(4.0, 6.0)]),
        };
        assert!(p.validate().is_ok());
        assert!(p.contains(&pt(1.0, 1.0)));
        assert!(!p.contains(&pt(5.0, 5.0)));
        assert!(!p.contains(&pt(11.0, 5.0)));
    }
}
