//! The chaos runner's short run (`chaos --short`: 500 commands and 20 uploads while a
//! worker is killed every 2 s and the relay leader, RabbitMQ, Postgres and the gateway
//! each fail once) on a Postgres and RabbitMQ of its own, so it runs beside the other
//! tests. It passes only when no command was lost or applied twice, no event is
//! missing, no image is stuck and no data file is orphaned.

use std::process::Command;

#[test]
fn a_short_chaos_run_loses_nothing_and_leaves_nothing_behind() {
    // The runner starts the real `api-gateway` and `workers` binaries from beside its
    // own; a test build does not make them, so build them (a no-op when up to date).
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let built = Command::new(cargo)
        .args(["build", "--workspace", "--bins"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .status()
        .expect("cargo runs");
    assert!(built.success(), "building the binaries failed");
    let run = Command::new(env!("CARGO_BIN_EXE_chaos"))
        .arg("--short")
        .output()
        .expect("the chaos runner starts");
    assert!(
        run.status.success(),
        "the chaos run failed ({}):\n{}\n{}",
        run.status,
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );
}
