//! The event pipeline on *structurally* mutated JSON: a custom mutator parses the input,
//! replaces, deletes, duplicates or inserts (Sentry-keyed) members at random, and
//! serializes it back, so inputs stay valid JSON and reach the deep normalization and
//! grouping paths that byte-level mutations mostly break. Non-JSON inputs fall back to
//! libFuzzer's own mutations.
#![no_main]

use libfuzzer_sys::{fuzz_mutator, fuzz_target, fuzzer_mutate};
use serde_json::{Map, Value, json};

fuzz_target!(|data: &[u8]| {
    sextant_fuzz::check_event(data);
});

fuzz_mutator!(|data: &mut [u8], size: usize, max_size: usize, seed: u32| {
    let mut rng = Rng(u64::from(seed) | 1);
    if rng.below(8) != 0
        && let Ok(mut value) = serde_json::from_slice::<Value>(&data[..size])
    {
        for _ in 0..=rng.below(3) {
            mutate(&mut value, &mut rng);
        }
        if let Ok(out) = serde_json::to_vec(&value)
            && out.len() <= max_size
        {
            data[..out.len()].copy_from_slice(&out);
            return out.len();
        }
    }
    fuzzer_mutate(data, size, max_size)
});

/// xorshift64: the mutator must be deterministic in libFuzzer's seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Keys the normalizer and grouping look at, so inserted members hit real code paths.
const KEYS: &[&str] = &[
    "event_id",
    "timestamp",
    "start_timestamp",
    "platform",
    "level",
    "logger",
    "type",
    "transaction",
    "culprit",
    "server_name",
    "release",
    "dist",
    "environment",
    "message",
    "logentry",
    "formatted",
    "params",
    "exception",
    "values",
    "value",
    "module",
    "mechanism",
    "handled",
    "synthetic",
    "stacktrace",
    "raw_stacktrace",
    "frames",
    "function",
    "raw_function",
    "filename",
    "abs_path",
    "package",
    "lineno",
    "colno",
    "in_app",
    "context_line",
    "pre_context",
    "post_context",
    "vars",
    "threads",
    "breadcrumbs",
    "category",
    "data",
    "tags",
    "extra",
    "user",
    "id",
    "email",
    "username",
    "ip_address",
    "request",
    "headers",
    "env",
    "REMOTE_ADDR",
    "cookies",
    "contexts",
    "trace",
    "trace_id",
    "os",
    "browser",
    "runtime",
    "name",
    "version",
    "fingerprint",
    "sdk",
    "settings",
    "infer_ip",
    "errors",
    "spans",
    "csp",
    "effective-directive",
    "blocked-uri",
    "sentry.interfaces.Exception",
    "sentry.interfaces.Message",
    "site",
];

fn leaf(rng: &mut Rng) -> Value {
    match rng.below(20) {
        0 => Value::Null,
        1 => json!(true),
        2 => json!(false),
        3 => json!(0),
        4 => json!(-1),
        5 => json!(u64::MAX),
        6 => json!(i64::MIN),
        7 => json!(1.0e308),
        8 => json!(-1.5e-300),
        9 => json!(1_795_512_725.862_159),
        10 => json!(""),
        11 => json!("{{ default }}"),
        12 => json!("{{auto}}"),
        13 => json!("%s %d %(x)s {0} {name} %% {} %"),
        14 => json!("Error: TypeError: something: bad"),
        15 => json!("é\u{0}\u{1F600}\u{202E}…/\\"),
        16 => Value::String("x".repeat(rng.below(10_000))),
        17 => json!("2026-11-24T09:31:16.807077Z"),
        18 => json!("-1e999"),
        _ => json!(KEYS[rng.below(KEYS.len())]),
    }
}

fn random_value(rng: &mut Rng, depth: usize) -> Value {
    if depth == 0 {
        return leaf(rng);
    }
    match rng.below(6) {
        0 => Value::Array(
            (0..rng.below(4))
                .map(|_| random_value(rng, depth - 1))
                .collect(),
        ),
        1 => {
            let mut map = Map::new();
            for _ in 0..rng.below(4) {
                let key = KEYS[rng.below(KEYS.len())].to_owned();
                map.insert(key, random_value(rng, depth - 1));
            }
            Value::Object(map)
        }
        _ => leaf(rng),
    }
}

fn count(value: &Value) -> usize {
    1 + match value {
        Value::Array(items) => items.iter().map(count).sum(),
        Value::Object(map) => map.values().map(count).sum(),
        _ => 0,
    }
}

/// A copy of the `index`-th node in pre-order.
fn nth(value: &Value, index: &mut usize) -> Option<Value> {
    if *index == 0 {
        return Some(value.clone());
    }
    *index -= 1;
    match value {
        Value::Array(items) => items.iter().find_map(|v| nth(v, index)),
        Value::Object(map) => map.values().find_map(|v| nth(v, index)),
        _ => None,
    }
}

/// The `index`-th node in pre-order.
fn nth_mut<'a>(value: &'a mut Value, index: &mut usize) -> Option<&'a mut Value> {
    if *index == 0 {
        return Some(value);
    }
    *index -= 1;
    match value {
        Value::Array(items) => items.iter_mut().find_map(|v| nth_mut(v, index)),
        Value::Object(map) => map.values_mut().find_map(|v| nth_mut(v, index)),
        _ => None,
    }
}

fn mutate(root: &mut Value, rng: &mut Rng) {
    let total = count(root);
    let donor = nth(root, &mut rng.below(total));
    let Some(target) = nth_mut(root, &mut rng.below(total)) else {
        return;
    };
    match rng.below(6) {
        // Replace the node by a new random value.
        0 | 1 => *target = random_value(rng, 3),
        // Replace it by a copy of another node (type confusion with realistic shapes).
        2 => {
            if let Some(donor) = donor {
                *target = donor;
            }
        }
        // Insert a Sentry key / push an element.
        3 => match target {
            Value::Object(map) => {
                let key = KEYS[rng.below(KEYS.len())].to_owned();
                map.insert(key, random_value(rng, 2));
            }
            Value::Array(items) => items.push(random_value(rng, 2)),
            other => *other = json!([other.clone(), random_value(rng, 1)]),
        },
        // Delete a member / element.
        4 => match target {
            Value::Object(map) if !map.is_empty() => {
                let key = map.keys().nth(rng.below(map.len())).cloned();
                if let Some(key) = key {
                    map.remove(&key);
                }
            }
            Value::Array(items) if !items.is_empty() => {
                items.remove(rng.below(items.len()));
            }
            _ => *target = Value::Null,
        },
        // Wrap it: the object / single-element array / `{"values": …}` container forms.
        _ => {
            let inner = target.take();
            *target = match rng.below(3) {
                0 => json!([inner]),
                1 => json!({ "values": [inner] }),
                _ => json!({ "values": inner }),
            };
        }
    }
}
