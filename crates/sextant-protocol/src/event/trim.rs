//! Size limits (§13.4): string trimming with a `...` marker and databag depth/byte budgets.

use serde_json::Value;

use super::meta::{At, Meta};

/// Trims `s` to at most `max_chars` characters, ending in `...` when cut.
/// Returns whether it was trimmed.
pub fn trim_string(s: &mut String, max_chars: usize) -> bool {
    if s.len() <= max_chars {
        return false;
    }
    let keep = max_chars.saturating_sub(3);
    match s.char_indices().nth(keep) {
        // Only cut when there really are more than `max_chars` characters.
        Some((cut, _)) if s[cut..].chars().nth(3).is_some() => {
            s.truncate(cut);
            s.push_str("...");
            true
        }
        _ => false,
    }
}

/// Depth and (approximate serialized) byte budget of a free-form data bag.
#[derive(Debug, Clone, Copy)]
pub(super) struct BagSize {
    depth: usize,
    bytes: usize,
}

impl BagSize {
    /// Levels kept below the bag's own; containers deeper become their JSON text.
    pub(super) const fn depth(&self) -> usize {
        self.depth
    }

    /// `extra`: Relay's "massive" bag.
    pub(super) const EXTRA: BagSize = BagSize {
        depth: 7,
        bytes: 256 * 1024,
    };
    /// Frame `vars`.
    pub(super) const VARS: BagSize = BagSize {
        depth: 5,
        bytes: 8 * 1024,
    };
    /// Breadcrumb `data`.
    pub(super) const BREADCRUMB: BagSize = BagSize {
        depth: 5,
        bytes: 8 * 1024,
    };
    /// Request `data`, `cookies`, `env`.
    pub(super) const REQUEST: BagSize = BagSize {
        depth: 7,
        bytes: 64 * 1024,
    };
    /// One context: Relay's "large" depth. No byte budget of its own (the event size
    /// limit bounds it): members go in key order, so a budget could drop `trace_id` or
    /// `type` after a large `data`.
    pub(super) const CONTEXT: BagSize = BagSize {
        depth: 7,
        bytes: usize::MAX,
    };
}

/// Replaces containers nested deeper than the bag allows by their JSON string, noting
/// each in `meta`, and drops members once the byte budget is spent. `at` is where the bag
/// sits in the event. Linear in the size of the bag.
pub(super) fn trim_databag(value: &mut Value, size: BagSize, at: &At<'_>, meta: &mut Meta) {
    let mut budget = size.bytes;
    let mut walk = Walk {
        budget: &mut budget,
        meta,
    };
    walk.value(value, size.depth, at);
}

struct Walk<'w> {
    budget: &'w mut usize,
    meta: &'w mut Meta,
}

impl Walk<'_> {
    fn spend(&mut self, bytes: usize) {
        *self.budget = self.budget.saturating_sub(bytes);
    }

    /// Returns false when the value should be removed from its parent.
    fn value(&mut self, value: &mut Value, depth_left: usize, at: &At<'_>) -> bool {
        if *self.budget == 0 {
            return false;
        }
        let is_container = value.is_object() || value.is_array();
        if is_container && depth_left == 0 {
            *value = Value::String(serde_json::to_string(value).unwrap_or_default());
            self.meta.substituted(at);
        }
        match value {
            Value::Object(map) => {
                self.spend(2);
                map.retain(|k, v| {
                    if *self.budget == 0 {
                        return false;
                    }
                    self.spend(k.len() + 3);
                    self.value(v, depth_left - 1, &at.key(k))
                });
            }
            Value::Array(items) => {
                self.spend(2);
                // Only a suffix is ever dropped, so indexes are those of the kept items.
                let mut index = 0;
                items.retain_mut(|v| {
                    index += 1;
                    self.value(v, depth_left - 1, &at.index(index - 1))
                });
            }
            Value::String(s) => {
                let cost = s.len() + 2;
                if cost > *self.budget {
                    trim_string(s, self.budget.saturating_sub(2).max(3));
                }
                let len = s.len();
                self.spend(len + 2);
            }
            Value::Number(_) => self.spend(8),
            Value::Bool(_) | Value::Null => self.spend(5),
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn trims_strings_on_char_boundaries() {
        let mut s = "héllo wörld".to_owned();
        assert!(trim_string(&mut s, 8));
        assert_eq!(s, "héllo...");
        let mut short = "abc".to_owned();
        assert!(!trim_string(&mut short, 3));
        let mut exact = "ééé".to_owned();
        assert!(!trim_string(&mut exact, 3), "3 chars fit although 6 bytes");
    }

    #[test]
    fn over_deep_containers_become_strings_noted_in_meta() {
        let mut bag = json!({"a": {"b": {"c": [1, 2]}}, "l": [0, [[1]]], "x": 1});
        let mut meta = Meta::default();
        let size = BagSize {
            depth: 2,
            bytes: 1000,
        };
        trim_databag(&mut bag, size, &At::ROOT.key("extra"), &mut meta);
        assert_eq!(
            bag,
            json!({"a": {"b": "{\"c\":[1,2]}"}, "l": [0, "[[1]]"], "x": 1})
        );
        let mut data = serde_json::Map::new();
        meta.apply(&mut data);
        let note = json!({"": {"rem": [["!limit", "s"]]}});
        assert_eq!(
            data["_meta"],
            json!({"extra": {"a": {"b": note}, "l": {"1": note}}})
        );
    }

    #[test]
    fn budget_drops_members() {
        let mut bag = json!({"a": "x".repeat(50), "b": "y".repeat(50), "c": 1});
        let size = BagSize {
            depth: 5,
            bytes: 60,
        };
        trim_databag(&mut bag, size, &At::ROOT, &mut Meta::default());
        let obj = bag.as_object().unwrap();
        assert!(obj.contains_key("a"));
        assert!(!obj.contains_key("c"));
    }
}
