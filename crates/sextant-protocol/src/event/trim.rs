//! Size limits (§13.4): string trimming with a `...` marker and databag depth/byte budgets.

use serde_json::Value;

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
}

/// Replaces containers nested deeper than the bag allows by their JSON string and drops
/// members once the byte budget is spent. Linear in the size of the bag.
pub(super) fn trim_databag(value: &mut Value, size: BagSize) {
    let mut budget = size.bytes;
    walk(value, size.depth, &mut budget);
}

/// Returns false when the value should be removed from its parent.
fn walk(value: &mut Value, depth_left: usize, budget: &mut usize) -> bool {
    if *budget == 0 {
        return false;
    }
    let is_container = value.is_object() || value.is_array();
    if is_container && depth_left == 0 {
        *value = Value::String(serde_json::to_string(value).unwrap_or_default());
    }
    match value {
        Value::Object(map) => {
            *budget = budget.saturating_sub(2);
            map.retain(|k, v| {
                if *budget == 0 {
                    return false;
                }
                *budget = budget.saturating_sub(k.len() + 3);
                walk(v, depth_left - 1, budget)
            });
            true
        }
        Value::Array(items) => {
            *budget = budget.saturating_sub(2);
            items.retain_mut(|v| walk(v, depth_left - 1, budget));
            true
        }
        Value::String(s) => {
            let cost = s.len() + 2;
            if cost > *budget {
                trim_string(s, budget.saturating_sub(2).max(3));
            }
            *budget = budget.saturating_sub(s.len() + 2);
            true
        }
        Value::Number(_) => {
            *budget = budget.saturating_sub(8);
            true
        }
        Value::Bool(_) | Value::Null => {
            *budget = budget.saturating_sub(5);
            true
        }
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
    fn over_deep_containers_become_strings() {
        let mut bag = json!({"a": {"b": {"c": [1, 2]}}, "x": 1});
        trim_databag(
            &mut bag,
            BagSize {
                depth: 2,
                bytes: 1000,
            },
        );
        assert_eq!(bag, json!({"a": {"b": "{\"c\":[1,2]}"}, "x": 1}));
    }

    #[test]
    fn budget_drops_members() {
        let mut bag = json!({"a": "x".repeat(50), "b": "y".repeat(50), "c": 1});
        trim_databag(
            &mut bag,
            BagSize {
                depth: 5,
                bytes: 60,
            },
        );
        let obj = bag.as_object().unwrap();
        assert!(obj.contains_key("a"));
        assert!(!obj.contains_key("c"));
    }
}
