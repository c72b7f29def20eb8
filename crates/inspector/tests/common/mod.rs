//! Helpers shared by the integration tests: a scratch directory, `qemu-img`, and
//! feeding an image to an inspector under several chunkings, and editing the descriptor
//! embedded in a sparse VMDK.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

use imagefleet_inspector::{Inspection, Inspector, Refusal};

/// A scratch directory removed on drop.
pub struct Scratch(pub PathBuf);

impl Scratch {
    pub fn new(label: &str) -> Self {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!(
            "imagefleet-inspector-{label}-{}-{n}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create scratch dir");
        Scratch(dir)
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    /// Runs `qemu-img create` in the directory and returns the image bytes.
    pub fn create(&self, name: &str, args: &[&str], size: &str) -> Vec<u8> {
        let status = Command::new("qemu-img")
            .current_dir(&self.0)
            .arg("create")
            .arg("-q")
            .args(args)
            .arg(name)
            .arg(size)
            .status()
            .expect("run qemu-img");
        assert!(status.success(), "qemu-img create {args:?} {name} failed");
        std::fs::read(self.path(name)).expect("read image")
    }

    /// QEMU's own idea of the virtual size, opening the file as `format`.
    pub fn qemu_virtual_size(&self, name: &str, format: &str) -> u64 {
        qemu_virtual_size(&self.path(name), format)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub fn qemu_virtual_size(path: &Path, format: &str) -> u64 {
    let out = Command::new("qemu-img")
        .args(["info", "--output=json", "-f", format])
        .arg(path)
        .output()
        .expect("run qemu-img info");
    let text = String::from_utf8_lossy(&out.stdout);
    // The top-level field (four spaces in), not the child nodes' own sizes.
    let key = "\n    \"virtual-size\":";
    let at = text.find(key).expect("virtual-size in qemu-img info") + key.len();
    text[at..]
        .trim_start()
        .split(|c: char| !c.is_ascii_digit())
        .next()
        .and_then(|n| n.parse().ok())
        .expect("a number")
}

/// Feeds `data` in chunks whose sizes cycle through `plan` (for the first MiB; the rest
/// goes in 64 KiB chunks so multi-megabyte images stay quick), checking the memory
/// bound after each chunk.
pub fn inspect_with(declared: &str, data: &[u8], plan: &[usize]) -> Result<Inspection, Refusal> {
    let mut inspector = Inspector::new(declared);
    let mut at = 0;
    let mut sizes = plan.iter().copied().cycle();
    while at < data.len() {
        let size = if at < (1 << 20) {
            sizes.next().unwrap_or(1).max(1)
        } else {
            64 * 1024
        };
        let end = data.len().min(at + size);
        let fed = inspector.feed(&data[at..end]);
        assert!(inspector.buffered_len() <= Inspector::MAX_BUFFERED);
        fed?;
        at = end;
    }
    inspector.finish()
}

/// The verdict, after checking that one chunk, 1-byte, 7-byte, 4096-byte and mixed
/// chunkings all agree.
pub fn inspect(declared: &str, data: &[u8]) -> Result<Inspection, Refusal> {
    let whole = inspect_with(declared, data, &[usize::MAX]);
    for plan in [&[1][..], &[7], &[4096], &[1, 7, 4096, 511, 3, 65536, 2]] {
        assert_eq!(
            inspect_with(declared, data, plan),
            whole,
            "chunking {plan:?} changed the verdict"
        );
    }
    whole
}

/// Asserts the verdict is an unsafe refusal.
pub fn assert_unsafe(declared: &str, data: &[u8]) {
    match inspect(declared, data) {
        Err(r) if r.is_unsafe() => {}
        other => panic!("declared {declared}: expected an unsafe refusal, got {other:?}"),
    }
}

/// Rewrites the embedded descriptor of a sparse VMDK (sector 1 up to its first NUL).
pub fn edit_descriptor(image: &[u8], edit: impl Fn(&str) -> String) -> Vec<u8> {
    let mut image = image.to_vec();
    let region = &mut image[512..512 + 20 * 512];
    let end = region.iter().position(|&b| b == 0).unwrap_or(region.len());
    let text = edit(std::str::from_utf8(&region[..end]).expect("ascii descriptor"));
    assert!(text.len() < region.len());
    region.fill(0);
    region[..text.len()].copy_from_slice(text.as_bytes());
    image
}
