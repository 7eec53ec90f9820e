//! Geo cells: a location is keyed by its cell on a Z-order (geohash-like) curve, 32 bits of
//! latitude interleaved with 32 bits of longitude, so every coarser cell is one contiguous
//! range of keys. A region is answered by covering its bounding box(es) with a few coarse
//! cells; the points in them are a superset of the region's, which the filter then checks.

use std::ops::RangeInclusive;

use crate::filter::{GeoBoundingBox, GeoPoint, GeoPolygon, GeoRadius};

const EARTH_RADIUS_M: f64 = 6_371_008.8;
/// Cells per side of a covering, at most: a box is covered by up to this squared cells.
const COVER_SIDE: f64 = 8.0;
/// Widening of covered boxes, in degrees, so rounding never drops a point on an edge.
const MARGIN: f64 = 1e-6;

/// The cell key of a location.
pub fn cell_of(p: &GeoPoint) -> u64 {
    interleave(quantize(p.lat, -90.0, 90.0), quantize(p.lon, -180.0, 180.0))
}

/// A box in degrees, west to east without crossing the antimeridian.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LatLonBox {
    pub south: f64,
    pub north: f64,
    pub west: f64,
    pub east: f64,
}

pub fn boxes_of_bounding_box(b: &GeoBoundingBox) -> Vec<LatLonBox> {
    let (south, north) = (b.bottom_right.lat, b.top_left.lat);
    split_antimeridian(south, north, b.top_left.lon, b.bottom_right.lon)
}

/// Boxes holding every point within the radius (the exact latitude band and, away from the
/// poles, the widest longitude span of the circle).
pub fn boxes_of_radius(r: &GeoRadius) -> Vec<LatLonBox> {
    let angle = r.radius / EARTH_RADIUS_M;
    let dlat = angle.to_degrees();
    let (south, north) = (r.center.lat - dlat, r.center.lat + dlat);
    if south <= -90.0 || north >= 90.0 || angle >= std::f64::consts::FRAC_PI_2 {
        return vec![whole_band(south, north)];
    }
    let spread = angle.sin() / r.center.lat.to_radians().cos();
    if spread >= 1.0 {
        return vec![whole_band(south, north)];
    }
    let dlon = spread.asin().to_degrees();
    split_antimeridian(south, north, r.center.lon - dlon, r.center.lon + dlon)
}

/// The bounding box of the exterior ring (holes only remove points).
pub fn boxes_of_polygon(p: &GeoPolygon) -> Vec<LatLonBox> {
    let ring = &p.exterior.points;
    let fold = |f: fn(f64, f64) -> f64, get: fn(&GeoPoint) -> f64, start: f64| {
        ring.iter().map(get).fold(start, f)
    };
    vec![LatLonBox {
        south: fold(f64::min, |p| p.lat, 90.0),
        north: fold(f64::max, |p| p.lat, -90.0),
        west: fold(f64::min, |p| p.lon, 180.0),
        east: fold(f64::max, |p| p.lon, -180.0),
    }]
}

fn whole_band(south: f64, north: f64) -> LatLonBox {
    LatLonBox {
        south,
        north,
        west: -180.0,
        east: 180.0,
    }
}

/// A box from `west` eastwards to `east`, split in two where it crosses the antimeridian.
fn split_antimeridian(south: f64, north: f64, west: f64, east: f64) -> Vec<LatLonBox> {
    let wrap = |lon: f64| ((lon + 180.0).rem_euclid(360.0)) - 180.0;
    if east - west >= 360.0 {
        return vec![whole_band(south, north)];
    }
    let (west, east) = (wrap(west), wrap(east));
    if west <= east {
        vec![LatLonBox {
            south,
            north,
            west,
            east,
        }]
    } else {
        vec![
            LatLonBox {
                south,
                north,
                west,
                east: 180.0,
            },
            LatLonBox {
                south,
                north,
                west: -180.0,
                east,
            },
        ]
    }
}

/// Key ranges whose cells cover the boxes, sorted and merged.
pub fn cover(boxes: &[LatLonBox]) -> Vec<RangeInclusive<u64>> {
    let mut ranges: Vec<(u64, u64)> = boxes.iter().flat_map(cover_box).collect();
    ranges.sort_unstable();
    let mut merged: Vec<(u64, u64)> = Vec::with_capacity(ranges.len());
    for (start, end) in ranges {
        match merged.last_mut() {
            Some(last) if start <= last.1.saturating_add(1) => last.1 = last.1.max(end),
            _ => merged.push((start, end)),
        }
    }
    merged.into_iter().map(|(s, e)| s..=e).collect()
}

/// Cells of one level (the finest at which the box spans at most `COVER_SIDE` cells per
/// side) that meet the box.
fn cover_box(b: &LatLonBox) -> Vec<(u64, u64)> {
    let south = (b.south - MARGIN).max(-90.0);
    let north = (b.north + MARGIN).min(90.0);
    let west = (b.west - MARGIN).max(-180.0);
    let east = (b.east + MARGIN).min(180.0);
    if south > north || west > east {
        return Vec::new();
    }
    let level = |span: f64, full: f64| -> u32 {
        if span <= 0.0 {
            return 32;
        }
        (COVER_SIDE * full / span).log2().floor().clamp(0.0, 32.0) as u32
    };
    let bits = level(north - south, 180.0).min(level(east - west, 360.0));
    let shift = 32 - bits;
    let cells = |lo: f64, hi: f64, min: f64, max: f64| {
        let first = quantize(lo, min, max) as u64 >> shift;
        let last = quantize(hi, min, max) as u64 >> shift;
        first..=last
    };
    let span = if shift == 32 {
        u64::MAX
    } else {
        (1u64 << (2 * shift)) - 1
    };
    let mut out = Vec::new();
    for lat in cells(south, north, -90.0, 90.0) {
        for lon in cells(west, east, -180.0, 180.0) {
            let start = interleave((lat << shift) as u32, (lon << shift) as u32);
            out.push((start, start.saturating_add(span)));
        }
    }
    out
}

/// `x` in `[min, max]` as a 32-bit fixed-point fraction of the range.
fn quantize(x: f64, min: f64, max: f64) -> u32 {
    let fraction = ((x - min) / (max - min)).clamp(0.0, 1.0);
    (fraction * u32::MAX as f64) as u32
}

/// Bits of `a` at odd positions, bits of `b` at even positions (Morton order).
fn interleave(a: u32, b: u32) -> u64 {
    (spread(a) << 1) | spread(b)
}

fn spread(x: u32) -> u64 {
    let mut x = x as u64;
    x = (x | (x << 16)) & 0x0000_FFFF_0000_FFFF;
    x = (x | (x << 8)) & 0x00FF_00FF_00FF_00FF;
    x = (x | (x << 4)) & 0x0F0F_0F0F_0F0F_0F0F;
    x = (x | (x << 2)) & 0x3333_3333_3333_3333;
    x = (x | (x << 1)) & 0x5555_5555_5555_5555;
    x
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::filter::GeoLineString;

    fn covered(boxes: &[LatLonBox], p: &GeoPoint) -> bool {
        let key = cell_of(p);
        cover(boxes).iter().any(|r| r.contains(&key))
    }

    fn pt(lon: f64, lat: f64) -> GeoPoint {
        GeoPoint { lon, lat }
    }

    #[test]
    fn a_cover_holds_its_box_and_not_far_away_points() {
        let berlin = boxes_of_radius(&GeoRadius {
            center: pt(13.4, 52.5),
            radius: 50_000.0,
        });
        assert!(covered(&berlin, &pt(13.4, 52.5)));
        assert!(covered(&berlin, &pt(13.9, 52.8)));
        assert!(!covered(&berlin, &pt(2.35, 48.85)), "Paris is far");
        assert!(cover(&berlin).len() <= 81);
    }

    #[test]
    fn boxes_across_the_antimeridian_are_split() {
        let b = GeoBoundingBox {
            top_left: pt(170.0, 10.0),
            bottom_right: pt(-170.0, -10.0),
        };
        let boxes = boxes_of_bounding_box(&b);
        assert_eq!(boxes.len(), 2);
        assert!(covered(&boxes, &pt(179.9, 0.0)));
        assert!(covered(&boxes, &pt(-175.0, 5.0)));
        assert!(!covered(&boxes, &pt(0.0, 0.0)));
    }

    proptest! {
        #[test]
        fn every_point_inside_a_region_is_covered(
            lon in -180.0f64..180.0, lat in -89.0f64..89.0,
            radius in 1.0f64..3_000_000.0, dlon in -30.0f64..30.0, dlat in -30.0f64..30.0,
        ) {
            let circle = GeoRadius { center: pt(lon, lat), radius };
            let p = pt(((lon + dlon + 180.0).rem_euclid(360.0)) - 180.0, (lat + dlat).clamp(-90.0, 90.0));
            if circle.contains(&p) {
                prop_assert!(covered(&boxes_of_radius(&circle), &p));
            }
            let (w, e) = (lon.min(lon + dlon), lon.max(lon + dlon).min(180.0));
            let (s, n) = (lat.min(lat + dlat).max(-90.0), lat.max(lat + dlat).min(90.0));
            let ring = vec![pt(w, s), pt(e, s), pt(e, n), pt(w, n), pt(w, s)];
            let polygon = GeoPolygon { exterior: GeoLineString { points: ring }, interiors: None };
            if polygon.contains(&p) {
                prop_assert!(covered(&boxes_of_polygon(&polygon), &p));
            }
        }
    }
}
