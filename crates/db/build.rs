//! Build script of the shared crate: makes cargo rebuild when a migration is added
//! (`embed_migrations!` only tracks files that already existed) and publishes a
//! fingerprint of the migration set, which test harnesses use to name template
//! databases so a changed migration never reuses a stale template.

use std::fs;
use std::path::{Path, PathBuf};

fn main() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../migrations");
    // A directory here makes cargo compare the mtimes of everything below it.
    println!("cargo:rerun-if-changed={}", dir.display());

    let mut files = Vec::new();
    collect(&dir, &mut files);
    // Sorted so the fingerprint does not depend on directory iteration order.
    files.sort();

    let mut hash = Fnv64::default();
    for file in &files {
        let relative = file.strip_prefix(&dir).unwrap_or(file);
        hash.write(relative.to_string_lossy().as_bytes());
        hash.write(&[0]);
        // A file that cannot be read fails the embed macro with a clear message.
        hash.write(&fs::read(file).unwrap_or_default());
        hash.write(&[0]);
    }
    println!(
        "cargo:rustc-env=IMAGEFLEET_MIGRATIONS_FINGERPRINT={:016x}",
        hash.0
    );
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        // Same rule as diesel's migration loader: hidden entries are not migrations.
        if entry.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        if path.is_dir() {
            collect(&path, out);
        } else {
            out.push(path);
        }
    }
}

/// FNV-1a: stable across Rust releases, unlike `DefaultHasher`, and needs no crate.
struct Fnv64(u64);

impl Default for Fnv64 {
    fn default() -> Self {
        Self(0xcbf2_9ce4_8422_2325)
    }
}

impl Fnv64 {
    fn write(&mut self, bytes: &[u8]) {
        for byte in bytes {
            self.0 ^= u64::from(*byte);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }
}
