//! Value counts of a payload index (facets), read from its posting lists.

use roaring::RoaringBitmap;

use crate::filter::Filter;
use crate::payload::JsonPath;

use super::field_index::Key;
use super::search::Selection;
use super::Shard;

impl Shard {
    /// How many points matching the filter hold each value of the index at `path`. Exact
    /// counts intersect each value's points with the matching points; approximate ones
    /// (`exact: false`, when the indexes cannot tell the matches exactly) with the index
    /// candidates, scaled by the share of them estimated to match.
    pub fn facet_counts(
        &self,
        path: &JsonPath,
        filter: Option<&Filter>,
        exact: bool,
    ) -> Vec<(Key, u64)> {
        let state = self.state.read();
        let Some(index) = state.field_indexes.field(path) else {
            return Vec::new();
        };
        let selection = filter.map(|f| Selection::new(&state, f));
        let within = match &selection {
            None => Within::All,
            Some(s) => match (s.exact_count(&state).is_some(), s.candidates(), exact) {
                (true, Some(set), _) => Within::Set(set.clone(), 1.0),
                (true, None, _) => Within::All,
                (false, _, true) => Within::Set(s.matching(&state), 1.0),
                (false, Some(set), false) => {
                    let share = s.matches as f64 / set.len().max(1) as f64;
                    Within::Set(set.clone(), share)
                }
                (false, None, false) => Within::Share(s.matches as f64 / state.len().max(1) as f64),
            },
        };
        index
            .key_postings()
            .map(|(key, points)| (key.clone(), within.count(points)))
            .filter(|(_, count)| *count > 0)
            .collect()
    }
}

/// The points counted: all, a set (counts scaled by a share), or a share of all.
enum Within {
    All,
    Set(RoaringBitmap, f64),
    Share(f64),
}

impl Within {
    fn count(&self, points: &RoaringBitmap) -> u64 {
        match self {
            Within::All => points.len(),
            Within::Set(set, share) => scale(points.intersection_len(set), *share),
            Within::Share(share) => scale(points.len(), *share),
        }
    }
}

fn scale(count: u64, share: f64) -> u64 {
    if share >= 1.0 {
        count
    } else {
        (count as f64 * share).round() as u64
    }
}
