//! Repository hygiene: every Rust source file opens with a `//!` line saying what it is for.

use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read dir") {
        let path = entry.expect("dir entry").path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if path.is_dir() {
            if !matches!(name, "target" | "node_modules" | "snapshots" | "fuzz") {
                rust_files(&path, out);
            }
        } else if name.ends_with(".rs") {
            out.push(path);
        }
    }
}

#[test]
fn every_source_file_has_a_module_doc() {
    let crates = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("crates dir");
    let mut files = Vec::new();
    rust_files(crates, &mut files);
    assert!(
        files.len() > 20,
        "found only {} files under {}",
        files.len(),
        crates.display()
    );
    let missing: Vec<String> = files
        .iter()
        .filter(|path| {
            let text = std::fs::read_to_string(path).expect("read source");
            !text.lines().take(3).any(|line| line.starts_with("//!"))
        })
        .map(|path| path.display().to_string())
        .collect();
    assert!(missing.is_empty(), "files without a //! line: {missing:#?}");
}

/// `sextant-server`'s layers, lowest first. A module (named by its path, matched by the
/// longest prefix listed) may import from its own layer and the ones below, never from a
/// layer above; ARCHITECTURE.md ("Layers") states the same order.
const LAYERS: &[(&str, &[&str])] = &[
    (
        "leaf",
        &[
            "clock",
            "config",
            "releases::config",
            "memory_budget",
            "metrics",
            "disk",
            "rate_limit",
            "client_addr",
            "outcome",
            "outbound",
            "outbound::config",
            "alerts::config",
            "alerts::email::config",
        ],
    ),
    (
        "domain",
        &[
            "accounts",
            "alerts",
            "pipeline",
            "stored_event",
            "serialize",
            "projects",
            "releases::health",
            "releases::gate",
            "releases::verdict",
            "releases::stats",
            "releases::scheduler",
            "releases::serialize",
            "releases::root_cause",
        ],
    ),
    ("state", &["state"]),
    (
        "edge",
        &[
            "ingest",
            "api",
            "ui",
            "ops",
            "connections",
            "releases",
            "alerts::api",
        ],
    ),
    ("top", &["server", "lib"]),
];

/// The layer unit (the longest matching prefix) of a module path, and its layer's index.
fn unit_of(path: &str) -> Option<(&'static str, usize)> {
    let mut best: Option<(&'static str, usize)> = None;
    for (index, (_, prefixes)) in LAYERS.iter().enumerate() {
        for prefix in prefixes.iter().copied() {
            let matches = path == prefix || path.starts_with(&format!("{prefix}::"));
            if matches && best.is_none_or(|(b, _)| prefix.len() > b.len()) {
                best = Some((prefix, index));
            }
        }
    }
    best
}

/// Module paths that `source`, the file of module `module`, imports from its own crate:
/// `crate::a::b`, `crate::{a, b::c}` and `super::x` (resolved against `module`).
fn imported_paths(module: &str, source: &str) -> Vec<String> {
    let code: String = source
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n");
    let path_at = |rest: &str| -> String {
        rest.chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == ':')
            .collect::<String>()
            .trim_end_matches(':')
            .to_string()
    };
    let mut out = Vec::new();
    for (at, _) in code.match_indices("crate::") {
        if code[..at].ends_with(|c: char| c.is_ascii_alphanumeric() || c == '_') {
            continue; // `sextant_server::crate_x`, not a path of this crate
        }
        let rest = &code[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let group = &group[..group.find('}').unwrap_or(group.len())];
            out.extend(group.split(',').map(|p| path_at(p.trim())));
        } else {
            out.push(path_at(rest));
        }
    }
    for (at, _) in code.match_indices("super::") {
        if code[..at].ends_with("::") || code[..at].ends_with(|c: char| c.is_alphanumeric()) {
            continue; // `super::super::…` is read from its first `super`
        }
        let mut base: Vec<&str> = module.split("::").collect();
        let mut rest = &code[at..];
        while let Some(r) = rest.strip_prefix("super::") {
            base.pop();
            rest = r;
        }
        let tail = path_at(rest.trim_start_matches('{'));
        if !tail.is_empty() && tail != "*" {
            base.push(&tail);
            out.push(base.join("::"));
        }
    }
    out.retain(|p| !p.is_empty() && p != "self");
    out
}

#[test]
fn server_modules_import_only_from_their_layer_and_below() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../sextant-server/src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut upward = Vec::new();
    let mut unlisted = Vec::new();
    let mut edges = std::collections::BTreeSet::new();
    for file in &files {
        let rel = file.strip_prefix(&src).unwrap().with_extension("");
        let module = rel
            .to_string_lossy()
            .trim_end_matches("/mod")
            .replace('/', "::");
        let Some((from_unit, from_layer)) = unit_of(&module) else {
            unlisted.push(module);
            continue;
        };
        let source = std::fs::read_to_string(file).unwrap();
        for path in imported_paths(&module, &source) {
            let Some((to_unit, to_layer)) = unit_of(&path) else {
                continue; // a name inside the module itself, or `crate::Type` re-exports
            };
            if to_layer > from_layer {
                upward.push(format!(
                    "{module} ({}) imports {path} ({})",
                    LAYERS[from_layer].0, LAYERS[to_layer].0
                ));
            }
            if to_unit != from_unit {
                edges.insert((from_unit, to_unit));
            }
        }
    }
    assert!(unlisted.is_empty(), "modules in no layer: {unlisted:?}");
    assert!(
        upward.is_empty(),
        "imports from a higher layer:\n{}",
        upward.join("\n")
    );

    // No circle among the units either, within a layer included.
    let units: Vec<&str> = LAYERS.iter().flat_map(|(_, u)| u.iter().copied()).collect();
    let mut state = std::collections::HashMap::new();
    fn visit<'a>(
        unit: &'a str,
        edges: &std::collections::BTreeSet<(&'a str, &'a str)>,
        state: &mut std::collections::HashMap<&'a str, bool>,
        stack: &mut Vec<&'a str>,
    ) -> Option<Vec<&'a str>> {
        match state.get(unit) {
            Some(true) => return None,
            Some(false) => {
                let start = stack.iter().position(|u| *u == unit).unwrap_or(0);
                return Some(stack[start..].to_vec());
            }
            None => {}
        }
        state.insert(unit, false);
        stack.push(unit);
        for (_, to) in edges.iter().filter(|(from, _)| *from == unit) {
            if let Some(circle) = visit(to, edges, state, stack) {
                return Some(circle);
            }
        }
        stack.pop();
        state.insert(unit, true);
        None
    }
    for unit in units {
        let circle = visit(unit, &edges, &mut state, &mut Vec::new());
        assert!(circle.is_none(), "import circle: {:?}", circle.unwrap());
    }
}

#[test]
fn the_layer_check_reads_every_import_form() {
    let source = "use crate::{clock::format_ms, api::auth};\nuse super::super::gate::X;\n\
                  // crate::ui is only a comment\nlet a = crate::state::AppState;";
    let paths = imported_paths("releases::health::tests", source);
    assert_eq!(
        paths,
        [
            "clock::format_ms",
            "api::auth",
            "state::AppState",
            "releases::gate::X"
        ]
    );
    assert_eq!(
        unit_of("releases::config::GateSettings"),
        Some(("releases::config", 0))
    );
    assert_eq!(unit_of("releases::api"), Some(("releases", 3)));
    assert_eq!(unit_of("uix"), None);
}
