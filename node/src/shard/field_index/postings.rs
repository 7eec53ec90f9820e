//! Posting lists: for each indexed value (keyword, number, token, geo cell), the offsets of
//! the points holding it, as compressed bitmaps (`roaring`) so unions and intersections of
//! large sets stay cheap.

use std::collections::BTreeMap;
use std::ops::RangeBounds;

use roaring::RoaringBitmap;

pub struct Postings<K> {
    map: BTreeMap<K, RoaringBitmap>,
}

impl<K: Ord> Default for Postings<K> {
    fn default() -> Self {
        Postings {
            map: BTreeMap::new(),
        }
    }
}

impl<K: Ord> Postings<K> {
    pub fn insert(&mut self, key: K, offset: u32) {
        self.map.entry(key).or_default().insert(offset);
    }

    /// Removes an offset from a value's list, dropping the list once it is empty.
    pub fn remove(&mut self, key: &K, offset: u32) {
        if let Some(set) = self.map.get_mut(key) {
            set.remove(offset);
            if set.is_empty() {
                self.map.remove(key);
            }
        }
    }

    pub fn get(&self, key: &K) -> Option<&RoaringBitmap> {
        self.map.get(key)
    }

    /// Lists of the values within `range`, in value order.
    pub fn range<R: RangeBounds<K>>(
        &self,
        range: R,
    ) -> impl DoubleEndedIterator<Item = (&K, &RoaringBitmap)> {
        self.map.range(range)
    }

    pub fn iter(&self) -> impl DoubleEndedIterator<Item = (&K, &RoaringBitmap)> {
        self.map.iter()
    }
}

/// The union of some lists.
pub fn union<'a>(sets: impl IntoIterator<Item = &'a RoaringBitmap>) -> RoaringBitmap {
    let mut out = RoaringBitmap::new();
    for set in sets {
        out |= set;
    }
    out
}
