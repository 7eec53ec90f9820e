//! Datetimes in payloads and range bounds: RFC 3339, or the looser forms Qdrant accepts
//! (`2024-01-31T10:00:00`, `2024-01-31 10:00:00`, `2024-01-31`), read as UTC when no offset
//! is given.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A datetime bound, kept as microseconds since the epoch for cheap comparisons.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct DateTimeValue(pub i64);

pub fn parse_datetime(text: &str) -> Option<DateTimeValue> {
    let text = text.trim();
    let utc = if let Ok(dt) = DateTime::parse_from_rfc3339(text) {
        dt.with_timezone(&Utc)
    } else if let Some(naive) = [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
    ]
    .iter()
    .find_map(|f| NaiveDateTime::parse_from_str(text, f).ok())
    {
        naive.and_utc()
    } else if let Ok(dt) = DateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f%:z") {
        dt.with_timezone(&Utc)
    } else {
        NaiveDate::parse_from_str(text, "%Y-%m-%d")
            .ok()?
            .and_hms_opt(0, 0, 0)?
            .and_utc()
    };
    Some(DateTimeValue(utc.timestamp_micros()))
}

impl Serialize for DateTimeValue {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let dt = DateTime::<Utc>::from_timestamp_micros(self.0).unwrap_or_default();
        s.serialize_str(&dt.to_rfc3339())
    }
}

impl<'de> Deserialize<'de> for DateTimeValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        parse_datetime(&text)
            .ok_or_else(|| serde::de::Error::custom(format!("`{text}` is not a datetime")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_qdrant_datetime_forms_as_utc() {
        let reference = parse_datetime("2024-01-31T10:00:00Z").unwrap();
        for same in [
            "2024-01-31T10:00:00",
            "2024-01-31 10:00:00",
            "2024-01-31T11:00:00+01:00",
        ] {
            assert_eq!(parse_datetime(same), Some(reference), "{same}");
        }
        assert!(parse_datetime("2024-01-31").unwrap() < reference);
        assert_eq!(parse_datetime("yesterday"), None);
    }
}
