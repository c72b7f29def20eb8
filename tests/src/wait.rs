//! Waiting on a condition with a deadline instead of sleeping a guessed time: the
//! check is re-run every few milliseconds and the wait ends as soon as it holds, or
//! fails with a message once the deadline has passed.

use std::time::Duration;

/// How often the condition is checked again.
const RECHECK: Duration = Duration::from_millis(20);

/// Runs `check` until it returns true (Ok) or `within` has passed (Err naming `what`).
/// The check runs at least once, even with a zero `within`.
pub async fn wait_until(
    within: Duration,
    what: &str,
    mut check: impl AsyncFnMut() -> bool,
) -> anyhow::Result<()> {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        if check().await {
            return Ok(());
        }
        if tokio::time::Instant::now() >= deadline {
            anyhow::bail!("timed out after {within:?} waiting until {what}");
        }
        tokio::time::sleep(RECHECK).await;
    }
}
