//! The runner's flags parse, and the test build makes the binaries: `scripts/test` runs
//! `target/debug/chaos --short` after the suite, and cargo builds a package's binaries
//! for its integration tests only (this crate has no other). Needs no service.

use std::process::Command;

#[test]
fn chaos_help_names_the_short_run_and_the_faults() {
    let output = Command::new(env!("CARGO_BIN_EXE_chaos"))
        .arg("--help")
        .output()
        .expect("the chaos binary runs");
    assert!(output.status.success(), "chaos --help failed: {output:?}");
    let help = String::from_utf8_lossy(&output.stdout);
    for flag in ["--short", "--faults", "--bin-dir", "--report"] {
        assert!(
            help.contains(flag),
            "{flag} missing from chaos --help:\n{help}"
        );
    }
}
