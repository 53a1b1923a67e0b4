//! A JSON object kept sorted by key, so that the canonical form is a single pass.

use std::cmp::Ordering;

use super::Value;

/// A JSON object whose entries are always sorted by key in code-point order (which is
/// the byte order of the keys' UTF-8), with unique keys.
///
/// Keeping the entries sorted makes canonical encoding a single pass and lookups a
/// binary search; objects in Matrix events are small, so a sorted vector beats a tree
/// or a hash map for both building and reading.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Object {
    entries: Vec<(String, Value)>,
}

impl Object {
    /// An empty object.
    #[must_use]
    pub const fn new() -> Self {
        Self {
            entries: Vec::new(),
        }
    }

    /// Builds an object from entries in any order; when a key repeats, the later entry
    /// wins (as in Synapse, whose JSON decoder keeps the last duplicate).
    #[must_use]
    pub fn from_entries(mut entries: Vec<(String, Value)>) -> Self {
        let strictly_sorted = entries.windows(2).all(|pair| pair[0].0 < pair[1].0);
        if !strictly_sorted {
            // A stable sort keeps duplicates in input order; keep the last of each run.
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            let mut deduped: Vec<(String, Value)> = Vec::with_capacity(entries.len());
            for entry in entries {
                match deduped.last_mut() {
                    Some(last) if last.0 == entry.0 => *last = entry,
                    _ => deduped.push(entry),
                }
            }
            entries = deduped;
        }
        Self { entries }
    }

    /// Number of entries.
    #[must_use]
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when the object has no entries.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The value under `key`.
    #[must_use]
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.find(key).map(|index| &self.entries[index].1)
    }

    /// The value under `key`, mutably.
    #[must_use]
    pub fn get_mut(&mut self, key: &str) -> Option<&mut Value> {
        self.find(key).map(|index| &mut self.entries[index].1)
    }

    /// True when `key` is present.
    #[must_use]
    pub fn contains_key(&self, key: &str) -> bool {
        self.find(key).is_some()
    }

    /// Sets `key` to `value`, returning the value it replaced.
    pub fn insert(&mut self, key: impl Into<String>, value: Value) -> Option<Value> {
        let key = key.into();
        match self.position(key.as_str()) {
            Ok(index) => Some(std::mem::replace(&mut self.entries[index].1, value)),
            Err(index) => {
                self.entries.insert(index, (key, value));
                None
            }
        }
    }

    /// Removes `key`, returning its value.
    pub fn remove(&mut self, key: &str) -> Option<Value> {
        let index = self.find(key)?;
        Some(self.entries.remove(index).1)
    }

    /// Keeps only the entries for which `keep` returns true.
    pub fn retain(&mut self, mut keep: impl FnMut(&str, &mut Value) -> bool) {
        self.entries.retain_mut(|(key, value)| keep(key, value));
    }

    /// The entries in key order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&str, &Value)> {
        self.entries
            .iter()
            .map(|(key, value)| (key.as_str(), value))
    }

    /// The keys in order.
    pub fn keys(&self) -> impl ExactSizeIterator<Item = &str> {
        self.entries.iter().map(|(key, _)| key.as_str())
    }

    /// The values in key order.
    pub fn values(&self) -> impl ExactSizeIterator<Item = &Value> {
        self.entries.iter().map(|(_, value)| value)
    }

    /// The index of `key`. Objects in events are small: up to [`LINEAR_SEARCH_MAX`]
    /// entries a scan comparing lengths first beats a binary search; larger objects
    /// (power levels of big rooms) are searched in order.
    fn find(&self, key: &str) -> Option<usize> {
        if self.entries.len() <= LINEAR_SEARCH_MAX {
            let key = key.as_bytes();
            self.entries
                .iter()
                .position(|(probe, _)| probe.len() == key.len() && probe.as_bytes() == key)
        } else {
            self.position(key).ok()
        }
    }

    /// The index of `key` among the entries, for callers that read one entry of an
    /// object they never change again.
    pub(crate) fn index_of(&self, key: &str) -> Option<usize> {
        self.find(key)
    }

    /// The value at `index` (from [`Object::index_of`]).
    pub(crate) fn value_at(&self, index: usize) -> Option<&Value> {
        self.entries.get(index).map(|(_, value)| value)
    }

    /// Where `key` is, or where it would be inserted.
    fn position(&self, key: &str) -> Result<usize, usize> {
        self.entries
            .binary_search_by(|(probe, _)| compare_keys(probe, key))
    }
}

/// The largest object searched by a scan rather than a binary search.
const LINEAR_SEARCH_MAX: usize = 16;

/// Code-point (byte) order of two keys. Keys are short, so a plain byte loop beats a
/// call into `memcmp`; the order is the same as `str`'s.
fn compare_keys(a: &str, b: &str) -> Ordering {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    for (x, y) in a.iter().zip(b) {
        if x != y {
            return x.cmp(y);
        }
    }
    a.len().cmp(&b.len())
}

impl FromIterator<(String, Value)> for Object {
    fn from_iter<I: IntoIterator<Item = (String, Value)>>(iter: I) -> Self {
        Self::from_entries(iter.into_iter().collect())
    }
}

impl IntoIterator for Object {
    type Item = (String, Value);
    type IntoIter = std::vec::IntoIter<(String, Value)>;

    fn into_iter(self) -> Self::IntoIter {
        self.entries.into_iter()
    }
}

impl<'a> IntoIterator for &'a Object {
    type Item = (&'a str, &'a Value);
    type IntoIter = std::iter::Map<
        std::slice::Iter<'a, (String, Value)>,
        fn(&'a (String, Value)) -> (&'a str, &'a Value),
    >;

    fn into_iter(self) -> Self::IntoIter {
        self.entries
            .iter()
            .map(|(key, value)| (key.as_str(), value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn later_duplicates_win_and_keys_are_sorted() {
        let object = Object::from_entries(vec![
            ("b".into(), Value::from(1)),
            ("a".into(), Value::from(2)),
            ("b".into(), Value::from(3)),
        ]);
        assert_eq!(object.keys().collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(object.get("b"), Some(&Value::from(3)));
    }

    #[test]
    fn insert_remove_keep_order() {
        let mut object = Object::new();
        assert_eq!(object.insert("日", Value::from(1)), None);
        assert_eq!(object.insert("本", Value::from(2)), None);
        assert_eq!(object.insert("a", Value::from(3)), None);
        assert_eq!(object.insert("a", Value::from(4)), Some(Value::from(3)));
        assert_eq!(object.keys().collect::<Vec<_>>(), ["a", "日", "本"]);
        assert_eq!(object.remove("日"), Some(Value::from(1)));
        assert_eq!(object.remove("日"), None);
        assert_eq!(object.len(), 2);
        assert!(object.contains_key("本"));
    }
}
