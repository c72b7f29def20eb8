//! The chaos runner's short run (`chaos --short`: 500 commands and 20 uploads while a
//! worker is killed every 2 s and the relay leader, RabbitMQ, Postgres and the gateway
//! each fail once) on a Postgres and RabbitMQ of its own, so it runs beside the other
//! tests. It passes only when no command was lost or applied twice, no event is
//! missing, no image is stuck and no data file is orphaned.

use std::process::Command;

#[test]
fn a_short_chaos_run_loses_nothing_and_leaves_nothing_behind() {
    // The runner builds the `api-gateway` and `workers` binaries it starts (a test
    // build does not make them; a no-op when they are up to date).
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
