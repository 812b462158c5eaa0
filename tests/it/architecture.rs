//! The house reads routes → app → core → db (ARCHITECTURE.md). These tests read `src/` and
//! fail when a file reaches past its layer: a handler running queries, the core knowing HTTP.

use std::fs;
use std::path::{Path, PathBuf};

/// Every `.rs` file under `src/<dir>`.
fn sources(dir: &str) -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src").join(dir);
    let mut out = Vec::new();
    if root.is_dir() {
        walk(&root, &mut out);
    } else {
        out.push(root.with_extension("rs"));
    }
    assert!(!out.is_empty(), "no sources under src/{dir}");
    out
}

/// The code of a file without its comments, with whitespace squeezed, so that
/// `state\n    .db\n    .run(` is found as `state.db.run(`.
fn code(path: &Path) -> String {
    let text = fs::read_to_string(path).unwrap();
    let mut out = String::with_capacity(text.len());
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with("//") {
            continue;
        }
        out.push_str(line);
        if !(line.ends_with('.') || line.ends_with("::")) {
            out.push(' ');
        }
    }
    out.replace(" .", ".")
}

/// The files of `dirs` that contain any of `forbidden`, with what they contain.
fn offences(dirs: &[&str], forbidden: &[&str]) -> Vec<String> {
    let mut found = Vec::new();
    for dir in dirs {
        for path in sources(dir) {
            let code = code(&path);
            for word in forbidden {
                if code.contains(word) {
                    let rel = path.strip_prefix(env!("CARGO_MANIFEST_DIR")).unwrap();
                    found.push(format!("{} uses `{word}`", rel.display()));
                }
            }
        }
    }
    found
}

#[test]
fn handlers_call_use_cases_not_the_database() {
    let found = offences(
        &["routes"],
        &[
            "db.run",
            ".db.backend_run",
            "diesel::",
            "DbConnection",
            "state.caches",
            "state.revocations",
            "runtime::cache",
            "runtime::revocations",
            "crate::db::",
            "crate::schema",
        ],
    );
    assert!(
        found.is_empty(),
        "the doors reach past app/:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_core_knows_nothing_of_http_pages_or_the_node() {
    let found = offences(
        &["core"],
        &[
            "actix",
            "askama",
            "crate::app",
            "crate::runtime",
            "crate::routes",
            "crate::state",
            "AppState",
        ],
    );
    assert!(
        found.is_empty(),
        "the core depends on outer layers:\n{}",
        found.join("\n")
    );
}

#[test]
fn use_cases_know_nothing_of_http() {
    let found = offences(
        &["app"],
        &["actix", "HttpRequest", "HttpResponse", "crate::routes"],
    );
    assert!(
        found.is_empty(),
        "app/ depends on the doors:\n{}",
        found.join("\n")
    );
}

#[test]
fn node_machinery_and_state_depend_on_no_use_case_or_door() {
    let found = offences(
        &["runtime", "state", "db"],
        &["crate::app", "crate::routes"],
    );
    assert!(
        found.is_empty(),
        "a loop between layers:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_check_itself_finds_what_it_looks_for() {
    // The squeezing must join a call split over lines, or the tests above prove nothing.
    let dir = std::env::temp_dir().join(format!("arch-{}", std::process::id()));
    fs::create_dir_all(&dir).unwrap();
    let file = dir.join("x.rs");
    fs::write(
        &file,
        "// db.run in a comment\nlet x = state\n    .db\n    .run(|c| f(c));\n",
    )
    .unwrap();
    let text = code(&file);
    fs::remove_dir_all(&dir).unwrap();
    assert!(text.contains("state.db.run("), "{text}");
    assert_eq!(
        text.matches("db.run").count(),
        1,
        "comments are skipped: {text}"
    );
}
