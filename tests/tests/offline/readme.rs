//! The README's configuration table against the source: every `IMAGEFLEET_*` variable
//! the binaries read (their clap `env = "..."` definitions) has exactly one row, and
//! every row names a variable that is still read. Any other `IMAGEFLEET_*` word in the
//! README (the tests' own variables, a prefix such as `IMAGEFLEET_IMPORT_*`) must still
//! occur in the source, so a renamed variable cannot linger in the prose either.

use std::collections::BTreeSet;
use std::path::Path;

use crate::repo_files::{known_variables, read, root, variables_in};

/// The first cell of each row of the table under `## Configuration`.
fn table_variables(readme: &str) -> Vec<String> {
    let start = readme
        .find("\n## Configuration")
        .expect("a Configuration section");
    let section = &readme[start + 1..];
    let end = section[1..].find("\n## ").map_or(section.len(), |i| i + 1);
    section[..end]
        .lines()
        .filter_map(|line| line.strip_prefix("| `IMAGEFLEET_"))
        .map(|rest| format!("IMAGEFLEET_{}", &rest[..rest.find('`').unwrap_or(0)]))
        .collect()
}

/// Every `IMAGEFLEET_*` word of the workspace's Rust sources and scripts.
fn source_words() -> BTreeSet<String> {
    fn walk(dir: &Path, out: &mut BTreeSet<String>) {
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let path = entry.path();
            let name = entry.file_name();
            if path.is_dir() && name != "target" {
                walk(&path, out);
            } else if path.extension().is_none_or(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).unwrap_or_default();
                out.extend(variables_in(&text));
            }
        }
    }
    let mut words = BTreeSet::new();
    for dir in [
        "shared",
        "crates",
        "api-gateway",
        "workers",
        "cli",
        "tests",
        "scripts",
    ] {
        walk(&root().join(dir), &mut words);
    }
    words
}

#[test]
fn the_configuration_table_lists_every_variable_once() {
    let readme = read("README.md");
    let rows = table_variables(&readme);
    let listed: BTreeSet<String> = rows.iter().cloned().collect();
    assert_eq!(
        listed.len(),
        rows.len(),
        "a variable has two rows: {rows:?}"
    );
    let known = known_variables();
    assert!(known.len() > 30, "the clap definitions were not found");
    let missing: Vec<_> = known.difference(&listed).collect();
    let stale: Vec<_> = listed.difference(&known).collect();
    assert!(
        missing.is_empty() && stale.is_empty(),
        "README configuration table: missing {missing:?}, no longer read {stale:?}"
    );
}

#[test]
fn every_variable_the_readme_names_exists() {
    let words = source_words();
    let unknown: Vec<_> = variables_in(&read("README.md"))
        .into_iter()
        .filter(|word| !words.contains(word))
        .collect();
    assert!(
        unknown.is_empty(),
        "the README names variables nothing reads: {unknown:?}"
    );
}
