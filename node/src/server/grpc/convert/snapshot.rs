//! Snapshot descriptions.

use qdrant_client::qdrant as grpc;

use crate::snapshot::SnapshotDescription;

pub fn snapshot_to_grpc(snapshot: SnapshotDescription) -> grpc::SnapshotDescription {
    grpc::SnapshotDescription {
        name: snapshot.name,
        creation_time: snapshot.creation_time.as_deref().and_then(parse_time),
        size: i64::try_from(snapshot.size).unwrap_or(i64::MAX),
        checksum: snapshot.checksum,
    }
}

/// Snapshot times are UTC, formatted `YYYY-MM-DDTHH:MM:SS` like Qdrant's REST.
fn parse_time(time: &str) -> Option<prost_types::Timestamp> {
    let parsed = chrono::NaiveDateTime::parse_from_str(time, "%Y-%m-%dT%H:%M:%S%.f").ok()?;
    let utc = parsed.and_utc();
    Some(prost_types::Timestamp {
        seconds: utc.timestamp(),
        nanos: utc.timestamp_subsec_nanos() as i32,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn description_converts_with_its_time() {
        let converted = snapshot_to_grpc(SnapshotDescription {
            name: "c-1.snapshot".into(),
            creation_time: Some("1970-01-01T00:01:40".into()),
            size: 42,
            checksum: Some("abc".into()),
        });
        assert_eq!(converted.name, "c-1.snapshot");
        assert_eq!(converted.creation_time.map(|t| t.seconds), Some(100));
        assert_eq!(converted.size, 42);
        assert_eq!(converted.checksum.as_deref(), Some("abc"));
    }
}
