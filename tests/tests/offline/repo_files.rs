//! The repository's files as text, and the `IMAGEFLEET_*` variables the binaries read
//! (their clap `env = "..."` definitions) and a text names: what the compose file, the
//! Dockerfile and the README are checked against.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// The repository root.
pub(crate) fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A file of the repository, as text.
pub(crate) fn read(name: &str) -> String {
    let path = root().join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// Every `env = "IMAGEFLEET_..."` of the binaries' clap definitions.
pub(crate) fn known_variables() -> BTreeSet<String> {
    fn walk(dir: &Path, out: &mut BTreeSet<String>) {
        for entry in std::fs::read_dir(dir)
            .expect("readable source dir")
            .flatten()
        {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).unwrap_or_default();
                for (i, _) in text.match_indices("env = \"IMAGEFLEET_") {
                    let name = &text[i + "env = \"".len()..];
                    out.insert(name[..name.find('"').unwrap_or(0)].to_owned());
                }
            }
        }
    }
    let mut known = BTreeSet::new();
    for krate in ["shared", "api-gateway", "workers", "cli"] {
        walk(&root().join(krate).join("src"), &mut known);
    }
    walk(&root().join("crates"), &mut known);
    known
}

/// Every `IMAGEFLEET_*` word of a text, comments included (a commented alternative must
/// work when uncommented).
pub(crate) fn variables_in(text: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for (i, _) in text.match_indices("IMAGEFLEET_") {
        let tail = &text[i..];
        let end = tail
            .find(|c: char| !(c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_'))
            .unwrap_or(tail.len());
        found.insert(tail[..end].to_owned());
    }
    found
}
