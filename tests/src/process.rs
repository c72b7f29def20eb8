//! Running the private services' command-line tools (`pg_ctl`, `rabbitmqctl`, ...) and
//! picking free loopback ports for them: shared by the private broker, the private
//! Postgres and the chaos runner.

use std::process::{Command, Stdio};

use anyhow::{Context as _, bail};

/// Runs a command to completion, failing with its output when it fails.
pub fn run(command: &mut Command, what: &str) -> anyhow::Result<String> {
    let output = command
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("running {what}"))?;
    if !output.status.success() {
        bail!(
            "{what} failed ({}): {}{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// A free port of 127.0.0.1 outside `avoid` (the OS picks; the listener is closed
/// again, so a race with another process is possible but unlikely).
pub fn free_port(avoid: impl Fn(u16) -> bool) -> anyhow::Result<u16> {
    for _ in 0..100 {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        if !avoid(port) {
            return Ok(port);
        }
    }
    bail!("no free port found")
}

/// Whether this process runs as root (initdb and postgres refuse to).
pub fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|out| out.stdout.trim_ascii() == b"0")
}
