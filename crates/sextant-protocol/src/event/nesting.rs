//! Bounds on how deeply an event nests. JSON readers refuse documents nested beyond a
//! limit (serde_json at 128 levels), and events are normalized again each time they are
//! read, so one event with deeper data would make every read of it fail. Parsing skips
//! what lies beyond [`PARSE_DEPTH`] without building it, and normalization cuts what
//! still lies beyond [`MAX_DEPTH`], noting each cut in `_meta`.

use std::cell::Cell;

use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

use super::meta::{At, Meta};

/// The deepest a normalized event nests, counting the event object as level 1 (the
/// `_meta` note on a cut there nests five levels deeper). Half of serde_json's read limit, so that
/// Sentry's API form, which wraps event data a few levels deeper, reads back too; six
/// times what SDKs send (their serializers stop at about ten levels, Relay's data bags at
/// seven).
pub const MAX_DEPTH: usize = 64;

/// Containers nested deeper than this are skipped while parsing and read as `null`:
/// serde_json skips a value in a loop, not by recursion, so any depth is skipped safely.
/// Deeper than [`MAX_DEPTH`] so that normalization, which cuts there, notes the cut; and
/// below serde_json's limit, which counts the same levels.
const PARSE_DEPTH: usize = 100;

/// The most levels normalization adds above a value it keeps: a lone top-level
/// `stacktrace` beside a lone exception object moves from level 2 to
/// `exception.values[0].stacktrace`, level 5. (An invalid top-level value kept as
/// `errors[i].value` moves two.)
const NORMALIZATION_GROWTH: usize = 3;

/// What parsing saw of an event's nesting.
#[derive(Debug, Default)]
pub(super) struct Nesting {
    deepest: Cell<usize>,
}

impl Nesting {
    pub(super) fn saw(&self, depth: usize) {
        if depth > self.deepest.get() {
            self.deepest.set(depth);
        }
    }

    /// The level of the deepest container parsed (the event object is 1).
    pub(super) fn deepest(&self) -> usize {
        self.deepest.get()
    }

    /// Whether the parsed event can nest deeper than [`MAX_DEPTH`] once normalized.
    /// SDK events never do, so [`cap`] is almost never needed.
    pub(super) fn may_exceed_max(&self) -> bool {
        self.deepest.get() + NORMALIZATION_GROWTH > MAX_DEPTH
    }
}

/// Reads any JSON value like `serde_json::Value`'s own implementation, except that
/// containers deeper than [`PARSE_DEPTH`] are skipped and read as `null`.
#[derive(Clone, Copy)]
pub(super) struct Bounded<'n> {
    /// The level the value being read has if it is a container (the event object is 1).
    depth: usize,
    nesting: &'n Nesting,
}

impl<'n> Bounded<'n> {
    pub(super) fn new(depth: usize, nesting: &'n Nesting) -> Self {
        Bounded { depth, nesting }
    }

    fn child(self) -> Self {
        Bounded {
            depth: self.depth + 1,
            ..self
        }
    }
}

impl<'de> DeserializeSeed<'de> for Bounded<'_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<Value, D::Error> {
        de.deserialize_any(self)
    }
}

/// The scalar half of a JSON `Value` visitor, the same for every seed that builds one:
/// only how arrays and objects are read differs.
macro_rules! scalar_visits {
    () => {
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("any JSON value")
        }

        fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
            Ok(Value::Bool(v))
        }

        fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
            Ok(Value::Number(v.into()))
        }

        fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
            Ok(Value::Number(v.into()))
        }

        fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
            Ok(Number::from_f64(v).map_or(Value::Null, Value::Number))
        }

        fn visit_str<E>(self, v: &str) -> Result<Value, E> {
            Ok(Value::String(v.to_owned()))
        }

        fn visit_string<E>(self, v: String) -> Result<Value, E> {
            Ok(Value::String(v))
        }

        fn visit_unit<E>(self) -> Result<Value, E> {
            Ok(Value::Null)
        }

        fn visit_none<E>(self) -> Result<Value, E> {
            Ok(Value::Null)
        }

        fn visit_some<D: Deserializer<'de>>(self, de: D) -> Result<Value, D::Error> {
            self.deserialize(de)
        }
    };
}
pub(super) use scalar_visits;

impl<'de> Visitor<'de> for Bounded<'_> {
    type Value = Value;

    scalar_visits!();

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        if self.depth > PARSE_DEPTH {
            while seq.next_element::<IgnoredAny>()?.is_some() {}
            return Ok(Value::Null);
        }
        self.nesting.saw(self.depth);
        let child = self.child();
        let mut out = Vec::new();
        while let Some(v) = seq.next_element_seed(child)? {
            out.push(v);
        }
        Ok(Value::Array(out))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        if self.depth > PARSE_DEPTH {
            while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
            return Ok(Value::Null);
        }
        self.nesting.saw(self.depth);
        let child = self.child();
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let value = map.next_value_seed(child)?;
            out.insert(key, value);
        }
        Ok(Value::Object(out))
    }
}

/// Replaces every container nested deeper than [`MAX_DEPTH`] in the event by `null`, with
/// a `_meta` note saying so. Walks the whole event: call it only when
/// [`Nesting::may_exceed_max`].
pub(super) fn cap(data: &mut Map<String, Value>, meta: &mut Meta) {
    for (key, value) in data.iter_mut() {
        cap_value(value, 2, &At::ROOT.key(key), meta);
    }
}

fn cap_value(value: &mut Value, depth: usize, at: &At<'_>, meta: &mut Meta) {
    let len = match value {
        Value::Object(map) => map.len(),
        Value::Array(items) => items.len(),
        _ => return,
    };
    if depth > MAX_DEPTH {
        meta.removed(at, len);
        *value = Value::Null;
        return;
    }
    match value {
        Value::Object(map) => {
            for (key, v) in map.iter_mut() {
                cap_value(v, depth + 1, &at.key(key), meta);
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter_mut().enumerate() {
                cap_value(v, depth + 1, &at.index(i), meta);
            }
        }
        _ => {}
    }
}

/// The number of container levels in `value` (0 for a scalar).
#[cfg(test)]
pub(super) fn depth_of(value: &Value) -> usize {
    match value {
        Value::Object(map) => 1 + map.values().map(depth_of).max().unwrap_or(0),
        Value::Array(items) => 1 + items.iter().map(depth_of).max().unwrap_or(0),
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn nested(levels: usize) -> String {
        format!("{}1{}", "[".repeat(levels), "]".repeat(levels))
    }

    fn parse(text: &str, nesting: &Nesting) -> Value {
        let mut de = serde_json::Deserializer::from_str(text);
        let value = Bounded::new(1, nesting).deserialize(&mut de).unwrap();
        de.end().unwrap();
        value
    }

    #[test]
    fn reads_like_serde_json_within_the_bound() {
        let text = r#"{"a": [1, -2, 2.5, "s", true, null, {"b": {}}], "c": 18446744073709551615}"#;
        let nesting = Nesting::default();
        assert_eq!(
            parse(text, &nesting),
            serde_json::from_str::<Value>(text).unwrap()
        );
        assert_eq!(nesting.deepest.get(), 4);
        assert!(!nesting.may_exceed_max());
    }

    #[test]
    fn skips_containers_beyond_the_parse_depth_at_any_depth() {
        for levels in [PARSE_DEPTH, 200, 100_000] {
            let nesting = Nesting::default();
            let value = parse(&nested(levels), &nesting);
            assert_eq!(depth_of(&value), levels.min(PARSE_DEPTH), "{levels}");
            assert!(nesting.may_exceed_max());
        }
        // Still JSON all the way down, or refused.
        let broken = format!("{}1{}", "[".repeat(300), "]".repeat(299));
        let mut de = serde_json::Deserializer::from_str(&broken);
        assert!(
            Bounded::new(1, &Nesting::default())
                .deserialize(&mut de)
                .is_err()
        );
    }

    #[test]
    fn cap_cuts_below_max_depth_and_notes_each_cut() {
        let mut data = json!({
            "deep": serde_json::from_str::<Value>(&nested(80)).unwrap(),
            "wide": {"a": serde_json::from_str::<Value>(&nested(70)).unwrap(), "b": [1]},
            "flat": 1,
        })
        .as_object()
        .unwrap()
        .clone();
        let mut meta = Meta::default();
        cap(&mut data, &mut meta);
        meta.apply(&mut data);
        let meta_tree = data.remove("_meta").unwrap();
        let data = Value::Object(data);
        assert_eq!(depth_of(&data), MAX_DEPTH);
        assert_eq!(data["wide"]["b"], json!([1]));
        assert_eq!(data["flat"], json!(1));
        // `deep` is level 2; its array at level 64 is the last kept, so the cut is 63
        // indexes below it.
        let mut note = &meta_tree["deep"];
        let mut cut = &data["deep"];
        for _ in 0..MAX_DEPTH - 1 {
            note = &note["0"];
            cut = &cut[0];
        }
        assert_eq!(cut, &Value::Null);
        assert_eq!(note[""], json!({"rem": [["!limit", "x"]], "len": 1}));
        assert!(depth_of(&meta_tree) <= MAX_DEPTH + 4);
    }
}
