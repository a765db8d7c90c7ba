//! Parsing an event for indexing: the parts that no stored column, tag or grouping hash
//! reads (breadcrumbs, `extra`, frame locals and the source lines around each frame, …)
//! are checked as JSON but never built into the value tree. They are most of a typical
//! event's bytes, and building the tree is most of the cost of processing one.

use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

use super::nesting::{Bounded, Nesting};

/// Where in the event a value sits, as far as pruning cares.
#[derive(Clone, Copy)]
enum Scope {
    Root,
    /// `exception` or `threads`: `{"values": [...]}` or a bare list.
    Interface,
    /// The list under an interface's `values`.
    Entries,
    /// One exception or thread.
    Entry,
    Stacktrace,
    Frames,
    Frame,
    /// Kept whole.
    Plain,
}

impl Scope {
    /// The scope of the value under `key`, or `None` to skip it.
    fn child(self, key: &str) -> Option<Scope> {
        match (self, key) {
            (Scope::Root, "breadcrumbs" | "extra" | "modules" | "debug_meta" | "spans") => None,
            (Scope::Root, "exception" | "threads") => Some(Scope::Interface),
            (Scope::Root, "stacktrace") => Some(Scope::Stacktrace),
            (Scope::Interface, "values") => Some(Scope::Entries),
            (Scope::Entry, "stacktrace" | "raw_stacktrace") => Some(Scope::Stacktrace),
            (Scope::Stacktrace, "frames") => Some(Scope::Frames),
            (Scope::Frame, "vars" | "pre_context" | "post_context") => None,
            _ => Some(Scope::Plain),
        }
    }

    fn element(self) -> Scope {
        match self {
            Scope::Interface | Scope::Entries => Scope::Entry,
            Scope::Frames => Scope::Frame,
            _ => Scope::Plain,
        }
    }
}

/// Parses `payload` like the full parse (`Bounded`), leaving out what pruning skips (the
/// skipped values must still be valid JSON).
pub(super) fn parse(payload: &[u8], nesting: &Nesting) -> serde_json::Result<Value> {
    super::parse_with(
        payload,
        Pruned {
            scope: Scope::Root,
            depth: 1,
            nesting,
        },
    )
}

/// Reads a value in `scope`, which sits at `depth` if it is a container (the event
/// object is 1), counted as the full parse counts it.
#[derive(Clone, Copy)]
struct Pruned<'n> {
    scope: Scope,
    depth: usize,
    nesting: &'n Nesting,
}

impl<'n> Pruned<'n> {
    fn child(self, scope: Scope) -> Self {
        Pruned {
            scope,
            depth: self.depth + 1,
            nesting: self.nesting,
        }
    }
}

impl<'de> DeserializeSeed<'de> for Pruned<'_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<Value, D::Error> {
        match self.scope {
            Scope::Plain => Bounded::new(self.depth, self.nesting).deserialize(de),
            _ => de.deserialize_any(self),
        }
    }
}

// The structured scopes nest a few levels at most before `Plain` takes over, so only
// `Bounded` needs to bound the depth.
impl<'de> Visitor<'de> for Pruned<'_> {
    type Value = Value;

    super::nesting::scalar_visits!();

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        self.nesting.saw(self.depth);
        let child = self.child(self.scope.element());
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(v) = seq.next_element_seed(child)? {
            out.push(v);
        }
        Ok(Value::Array(out))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        self.nesting.saw(self.depth);
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            match self.scope.child(&key) {
                Some(scope) => {
                    let value = map.next_value_seed(self.child(scope))?;
                    out.insert(key, value);
                }
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(Value::Object(out))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn skips_bulky_parts_and_keeps_the_rest() {
        let event = json!({
            "message": "boom",
            "breadcrumbs": {"values": [{"message": "click"}]},
            "extra": {"big": "x"},
            "exception": {"values": [{
                "type": "ValueError",
                "stacktrace": {"frames": [{
                    "function": "handler", "context_line": "raise ValueError()",
                    "pre_context": ["a"], "post_context": ["b"], "vars": {"x": 1}
                }]}
            }]},
            "threads": [{"id": 1, "stacktrace": {"frames": [{"function": "run", "vars": {}}]}}],
            "request": {"data": {"vars": "kept: not a frame"}},
            "tags": [["a", 1.5], ["b", null]],
        });
        let parsed = parse(&serde_json::to_vec(&event).unwrap(), &Nesting::default()).unwrap();
        assert_eq!(
            parsed,
            json!({
                "message": "boom",
                "exception": {"values": [{
                    "type": "ValueError",
                    "stacktrace": {"frames": [{
                        "function": "handler", "context_line": "raise ValueError()"
                    }]}
                }]},
                "threads": [{"id": 1, "stacktrace": {"frames": [{"function": "run"}]}}],
                "request": {"data": {"vars": "kept: not a frame"}},
                "tags": [["a", 1.5], ["b", null]],
            })
        );
    }

    #[test]
    fn skipped_parts_must_still_be_json() {
        let nesting = Nesting::default();
        assert!(parse(br#"{"extra": {"a": tru}}"#, &nesting).is_err());
        assert!(parse(br#"{"message": "x"} trailing"#, &nesting).is_err());
        assert_eq!(parse(b"[1, 2]", &nesting).unwrap(), json!([1, 2]));
    }

    #[test]
    fn depth_is_bounded_and_counted_as_in_the_full_parse() {
        let deep = format!("{}1{}", "[".repeat(500), "]".repeat(500));
        let text = format!(
            r#"{{"exception": {{"values": [{{"type": "E", "value": {deep}}}]}}, "extra": {deep}}}"#
        );
        let nesting = Nesting::default();
        let pruned = parse(text.as_bytes(), &nesting).unwrap();
        assert!(nesting.may_exceed_max());
        let full_nesting = Nesting::default();
        let full = super::super::parse_json(text.as_bytes(), &full_nesting).unwrap();
        assert_eq!(pruned["exception"], full["exception"]);
        assert!(full.get("extra").is_some() && pruned.get("extra").is_none());
    }
}
