//! `_meta`: notes on what normalization changed, keyed by the path of the changed value
//! in the normalized event, in Sentry's shape: `{"_meta": {"extra": {"key": {"": {"rem":
//! [["!limit", "x"]], "len": 3}}}}}`. Sentry's UI and API clients read them to show that
//! a value was trimmed rather than sent that way.

use serde_json::{Map, Value, json};

/// One step of a path: an object key or an array index.
#[derive(Clone, Copy)]
enum Seg<'a> {
    Key(&'a str),
    Index(usize),
}

/// A path into the event, built on the stack while walking it: each step borrows its
/// parent, so walking costs no allocation and a path is only spelled out for a note.
#[derive(Clone, Copy)]
pub(super) struct At<'a> {
    parent: Option<&'a At<'a>>,
    seg: Option<Seg<'a>>,
}

impl At<'static> {
    /// The event itself.
    pub(super) const ROOT: At<'static> = At {
        parent: None,
        seg: None,
    };
}

impl<'a> At<'a> {
    pub(super) fn key(&'a self, key: &'a str) -> At<'a> {
        At {
            parent: Some(self),
            seg: Some(Seg::Key(key)),
        }
    }

    pub(super) fn index(&'a self, index: usize) -> At<'a> {
        At {
            parent: Some(self),
            seg: Some(Seg::Index(index)),
        }
    }

    /// The path's keys from the event root, indexes spelled as `_meta` spells them.
    fn keys(&self) -> Vec<String> {
        let mut keys = Vec::new();
        let mut at = Some(self);
        while let Some(step) = at {
            match step.seg {
                Some(Seg::Key(k)) => keys.push(k.to_owned()),
                Some(Seg::Index(i)) => keys.push(i.to_string()),
                None => {}
            }
            at = step.parent;
        }
        keys.reverse();
        keys
    }
}

/// Notes collected during one normalization.
#[derive(Debug, Default)]
pub(super) struct Meta {
    tree: Map<String, Value>,
}

impl Meta {
    /// A value at `at` was replaced by its JSON text, as Relay does with data nested
    /// deeper than a bag allows.
    pub(super) fn substituted(&mut self, at: &At<'_>) {
        self.note(at, json!({"rem": [["!limit", "s"]]}));
    }

    /// A container at `at` with `len` members was removed (its value is now `null`).
    pub(super) fn removed(&mut self, at: &At<'_>, len: usize) {
        self.note(at, json!({"rem": [["!limit", "x"]], "len": len}));
    }

    fn note(&mut self, at: &At<'_>, note: Value) {
        let mut node = &mut self.tree;
        for key in at.keys() {
            node = object_at(node, key);
        }
        node.insert(String::new(), note);
    }

    /// Adds the notes to the event's `_meta`, keeping notes the client sent (SDKs such
    /// as sentry-python send their own) unless a note here replaces one.
    pub(super) fn apply(self, data: &mut Map<String, Value>) {
        if self.tree.is_empty() {
            return;
        }
        let target = object_at(data, "_meta".to_owned());
        merge(target, self.tree);
    }
}

/// The object under `key`, made one if it is missing or something else.
fn object_at(map: &mut Map<String, Value>, key: String) -> &mut Map<String, Value> {
    let slot = map.entry(key).or_insert_with(|| Value::Object(Map::new()));
    if !slot.is_object() {
        *slot = Value::Object(Map::new());
    }
    match slot {
        Value::Object(inner) => inner,
        _ => unreachable!("made an object above"),
    }
}

fn merge(into: &mut Map<String, Value>, from: Map<String, Value>) {
    for (key, value) in from {
        match value {
            Value::Object(inner) if !key.is_empty() => merge(object_at(into, key), inner),
            note => {
                into.insert(key, note);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notes_land_at_their_paths_beside_the_clients_own() {
        let mut meta = Meta::default();
        let extra = At::ROOT.key("extra");
        let deep = extra.key("k");
        let item = deep.index(3);
        meta.removed(&item, 2);
        meta.substituted(&At::ROOT.key("contexts").key("app"));
        let mut data = json!({
            "_meta": {"extra": {"other": {"": {"len": 9}}}, "user": 1},
        })
        .as_object()
        .unwrap()
        .clone();
        meta.apply(&mut data);
        assert_eq!(
            Value::Object(data),
            json!({"_meta": {
                "extra": {
                    "other": {"": {"len": 9}},
                    "k": {"3": {"": {"rem": [["!limit", "x"]], "len": 2}}},
                },
                "contexts": {"app": {"": {"rem": [["!limit", "s"]]}}},
                "user": 1,
            }})
        );
    }

    #[test]
    fn no_notes_leave_the_event_alone() {
        let mut data = Map::new();
        Meta::default().apply(&mut data);
        assert!(data.is_empty());
    }
}
