//! Read consistency, as Qdrant's `consistency` parameter: a number of replicas, or
//! `majority`, `quorum`, `all`.

use serde::{Deserialize, Serialize};

/// How many replicas of a shard a read must consult.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ReadConsistency {
    /// Any `n` replicas (the default is one, the local replica when there is one); results
    /// are merged, the newest version of each point winning.
    Factor(u32),
    /// A named level; see [`ConsistencyLevel`].
    Level(ConsistencyLevel),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConsistencyLevel {
    /// A linearizable read: served by the shard's leader after it confirmed its leadership
    /// with a majority, so it sees every write acknowledged before it began.
    Majority,
    /// Same as `majority` (Raft's quorum is a majority).
    Quorum,
    /// Every replica must answer; results are merged.
    All,
}

impl Default for ReadConsistency {
    fn default() -> Self {
        ReadConsistency::Factor(1)
    }
}

impl ReadConsistency {
    /// Parses the REST query parameter: a positive number or a level name.
    pub fn parse(text: &str) -> Result<Self, String> {
        if let Ok(n) = text.parse::<u32>() {
            return match n {
                0 => Err("consistency factor must be at least 1".to_string()),
                n => Ok(ReadConsistency::Factor(n)),
            };
        }
        match text {
            "majority" => Ok(ReadConsistency::Level(ConsistencyLevel::Majority)),
            "quorum" => Ok(ReadConsistency::Level(ConsistencyLevel::Quorum)),
            "all" => Ok(ReadConsistency::Level(ConsistencyLevel::All)),
            other => Err(format!(
                "invalid consistency `{other}`: expected a number, `majority`, `quorum` or `all`"
            )),
        }
    }

    /// True when the read must go through the shard leader.
    pub fn is_linearizable(&self) -> bool {
        matches!(
            self,
            ReadConsistency::Level(ConsistencyLevel::Majority | ConsistencyLevel::Quorum)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_numbers_and_levels() {
        assert_eq!(ReadConsistency::parse("2"), Ok(ReadConsistency::Factor(2)));
        assert!(ReadConsistency::parse("majority")
            .unwrap()
            .is_linearizable());
        assert_eq!(
            ReadConsistency::parse("all"),
            Ok(ReadConsistency::Level(ConsistencyLevel::All))
        );
        assert!(ReadConsistency::parse("0").is_err());
        assert!(ReadConsistency::parse("most").is_err());
    }

    #[test]
    fn json_shape_is_qdrants() {
        let n: ReadConsistency = serde_json::from_str("3").unwrap();
        assert_eq!(n, ReadConsistency::Factor(3));
        let level: ReadConsistency = serde_json::from_str("\"quorum\"").unwrap();
        assert!(level.is_linearizable());
    }
}
