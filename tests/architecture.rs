//! The module map of `docs/architecture.md`, checked on the sources: no two-way dependency
//! between top-level modules of `firmware/src`, the dependency rules the map states, and no
//! function over 80 lines except the listed ones (each with its reason). A change that breaks
//! the map fails here with the offending module or function named, instead of being found by
//! the next reader.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("firmware/src")
}

fn rust_files(p: &Path, out: &mut Vec<PathBuf>) {
    if p.is_file() {
        if p.extension().is_some_and(|e| e == "rs") {
            out.push(p.to_path_buf());
        }
        return;
    }
    for e in std::fs::read_dir(p).unwrap() {
        rust_files(&e.unwrap().path(), out);
    }
}

/// The text without `//` comments (doc links name modules without depending on them).
fn code(text: &str) -> String {
    text.lines()
        .map(|l| match l.find("//") {
            Some(i) if !l[..i].contains('"') => &l[..i],
            _ => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Top-level module → the other top-level modules its code names with `crate::`.
fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let mut modules = BTreeMap::new();
    for e in std::fs::read_dir(src()).unwrap() {
        let p = e.unwrap().path();
        let name = p.file_stem().unwrap().to_string_lossy().to_string();
        let is_mod = p.is_dir() || p.extension().is_some_and(|e| e == "rs");
        if is_mod && name != "lib" && name != "main" {
            modules.insert(name, p);
        }
    }
    let names: BTreeSet<String> = modules.keys().cloned().collect();
    let mut g = BTreeMap::new();
    for (m, p) in &modules {
        let mut files = vec![];
        rust_files(p, &mut files);
        let mut deps = BTreeSet::new();
        for f in files {
            let c = code(&std::fs::read_to_string(&f).unwrap());
            for part in c.split("crate::").skip(1) {
                let used: Vec<&str> = match part.strip_prefix('{') {
                    // `crate::{a, b::c}`
                    Some(group) => group
                        .split('}')
                        .next()
                        .unwrap_or("")
                        .split(',')
                        .map(|s| s.trim().split("::").next().unwrap_or(""))
                        .collect(),
                    None => vec![part
                        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                        .next()
                        .unwrap_or("")],
                };
                for u in used {
                    if u != m && names.contains(u) {
                        deps.insert(u.to_string());
                    }
                }
            }
        }
        g.insert(m.clone(), deps);
    }
    g
}

/// A path `a → … → a` in the graph, if there is one.
fn find_cycle(g: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        g: &BTreeMap<String, BTreeSet<String>>,
        m: &str,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(i) = path.iter().position(|p| p == m) {
            let mut c = path[i..].to_vec();
            c.push(m.to_string());
            return Some(c);
        }
        if done.contains(m) {
            return None;
        }
        path.push(m.to_string());
        for d in g.get(m).into_iter().flatten() {
            if let Some(c) = visit(g, d, path, done) {
                return Some(c);
            }
        }
        path.pop();
        done.insert(m.to_string());
        None
    }
    let mut done = BTreeSet::new();
    g.keys().find_map(|m| visit(g, m, &mut vec![], &mut done))
}

#[test]
fn top_level_modules_depend_on_each_other_without_cycles() {
    let g = graph();
    assert!(g.len() > 20, "modules not found: {g:?}");
    assert!(g["app"].contains("queue"), "dependencies not read: {g:?}");
    assert_eq!(find_cycle(&g), None, "the module graph must have no cycle");
    // The check finds one when there is one.
    let mut bad = g.clone();
    bad.get_mut("queue").unwrap().insert("app".into());
    assert!(find_cycle(&bad).is_some());
}

#[test]
fn dependency_rules_of_the_module_map_hold() {
    let g = graph();
    let forbidden: &[(&str, &[&str])] = &[
        // The queue gets its stages through traits.
        (
            "queue",
            &["policy", "keystore", "smtp", "liveconf", "admin"],
        ),
        ("smtp", &["policy", "keystore", "admin"]),
        ("spool", &["queue", "smtp", "policy", "config"]),
        ("keystore", &["admin", "policy", "queue", "smtp"]),
        // The two HTTP services share `webkit` and do not import each other's internals.
        ("webkit", &["admin", "portal", "policy", "queue"]),
        ("portal", &["admin", "app"]),
        ("ctl", &["app", "policy", "keystore", "smtp", "spool"]),
        ("message", &["policy", "queue", "smtp", "keystore"]),
    ];
    let leaves = [
        "address", "clock", "durable", "smime", "password", "testhook",
    ];
    let mut broken = vec![];
    for (m, bad) in forbidden {
        for b in *bad {
            if g[*m].contains(*b) {
                broken.push(format!("{m} uses {b}"));
            }
        }
    }
    for l in leaves {
        if !g[l].is_empty() {
            broken.push(format!("leaf {l} uses {:?}", g[l]));
        }
    }
    assert!(broken.is_empty(), "{broken:?}");
    // HTTP stays an adapter: only the admin, the portal and their shared kit use axum.
    for m in ["keystore", "policy", "queue", "smtp", "spool", "license"] {
        let mut files = vec![];
        rust_files(&src().join(m), &mut files);
        for f in files {
            let c = code(&std::fs::read_to_string(&f).unwrap());
            assert!(!c.contains("axum::"), "{} uses axum", f.display());
        }
    }
}

/// Functions over 80 lines, each with why it stays long (or until when).
const LONG_FUNCTIONS: &[(&str, &str)] = &[(
    "app.rs:serve",
    "start-up wiring in order; one place to read it",
)];

/// `(file:function, lines)` of every function over `limit` lines outside test modules.
fn long_functions(limit: usize) -> Vec<(String, usize)> {
    let mut files = vec![];
    rust_files(&src(), &mut files);
    let mut out = vec![];
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        let end = lines
            .iter()
            .position(|l| l.starts_with("#[cfg(test)]"))
            .unwrap_or(lines.len());
        let rel = f.strip_prefix(src()).unwrap().to_string_lossy().to_string();
        let mut i = 0;
        while i < end {
            let l = lines[i];
            let t = l.trim_start();
            let indent = &l[..l.len() - t.len()];
            let sig = [
                "pub fn ",
                "fn ",
                "pub async fn ",
                "async fn ",
                "pub(crate) fn ",
                "pub(super) fn ",
            ]
            .iter()
            .find_map(|p| t.strip_prefix(p));
            if let Some(rest) = sig {
                let name: String = rest
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                let close = format!("{indent}}}");
                let mut j = i + 1;
                while j < end && lines[j].trim_end() != close {
                    j += 1;
                }
                if j - i + 1 > limit {
                    out.push((format!("{rel}:{name}"), j - i + 1));
                }
                i = j;
            }
            i += 1;
        }
    }
    out
}

/// `found` (place, lines) has nothing beyond `listed`, and `listed` nothing no longer found: a
/// list of exceptions that only shrinks.
fn only_listed(what: &str, found: &[(String, usize)], listed: &[(&str, &str)]) {
    let new: Vec<_> = found
        .iter()
        .filter(|(f, _)| !listed.iter().any(|(k, _)| k == f))
        .collect();
    assert!(
        new.is_empty(),
        "{what} (split them, or list them with a reason): {new:?}"
    );
    let gone: Vec<_> = listed
        .iter()
        .filter(|(k, _)| !found.iter().any(|(f, _)| f == k))
        .collect();
    assert!(
        gone.is_empty(),
        "no longer long, remove from the list: {gone:?}"
    );
}

#[test]
fn no_new_long_functions() {
    only_listed(
        "functions over 80 lines",
        &long_functions(80),
        LONG_FUNCTIONS,
    );
}

/// Files over 600 lines of code (tests not counted), each with why it stays long.
const LONG_FILES: &[(&str, &str)] = &[
    (
        "admin/web/i18n.rs",
        "the admin pages' text tables, one language per block",
    ),
    (
        "admin/web/settings.rs",
        "the configuration pages made from the field table, with their upload sections; split when the next System page lands",
    ),
];

#[test]
fn no_new_long_files() {
    let mut files = vec![];
    rust_files(&src(), &mut files);
    let mut found = vec![];
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        let code_lines = text
            .lines()
            .position(|l| l.starts_with("#[cfg(test)]"))
            .unwrap_or(text.lines().count());
        if code_lines > 600 {
            let rel = f.strip_prefix(src()).unwrap().to_string_lossy().to_string();
            found.push((rel, code_lines));
        }
    }
    only_listed("files over 600 lines", &found, LONG_FILES);
}
