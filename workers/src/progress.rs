//! Whether a worker applies anything: the group committer counts the commands waiting
//! for an answer and stamps each one it applies (or refuses, which is as final), and
//! `/readyz` reports a worker that has commands waiting, or keeps failing them on the
//! database, with nothing applied for longer than a bound. That is what a blackholed
//! database or a parked lane looks like from outside: the process answers, its probe
//! may even reach Postgres, and nothing gets done.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// How long a worker may have commands waiting, or failing, without applying one
/// before it reports not ready: past the bound of a group on the database
/// (`db::SessionSettings::transaction_bound`, 15 s by default) with a margin.
pub const DEFAULT_STALL_BOUND: Duration = Duration::from_secs(30);

#[derive(Debug)]
struct State {
    waiting: usize,
    last_applied: Instant,
    last_failed: Option<Instant>,
}

/// The committer's progress, shared with the operations port. Cloning shares it.
#[derive(Debug, Clone)]
pub struct Progress {
    state: Arc<Mutex<State>>,
    stall: Duration,
}

impl Default for Progress {
    fn default() -> Self {
        Self::new(DEFAULT_STALL_BOUND)
    }
}

/// One command waiting for its answer; dropping it ends the wait.
#[must_use = "the command counts as waiting until this is dropped"]
pub struct Waiting {
    progress: Progress,
}

impl Drop for Waiting {
    fn drop(&mut self) {
        let mut state = self.progress.lock();
        state.waiting = state.waiting.saturating_sub(1);
    }
}

impl Progress {
    /// Progress that counts as stalled after `stall` without an applied command.
    pub fn new(stall: Duration) -> Self {
        Self {
            state: Arc::new(Mutex::new(State {
                waiting: 0,
                last_applied: Instant::now(),
                last_failed: None,
            })),
            stall,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // The state stays consistent whatever panicked while holding it.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A command starts waiting for its answer.
    pub fn begin(&self) -> Waiting {
        self.lock().waiting += 1;
        Waiting {
            progress: self.clone(),
        }
    }

    /// A command got a final answer (applied, replayed or refused).
    pub fn applied(&self) {
        let mut state = self.lock();
        state.last_applied = Instant::now();
        state.last_failed = None;
    }

    /// A command failed on the database and will be retried.
    pub fn failed(&self) {
        self.lock().last_failed = Some(Instant::now());
    }

    /// Ok while the worker applies what it is given; why not otherwise.
    pub fn check(&self) -> Result<(), String> {
        self.check_at(Instant::now())
    }

    /// [`Progress::check`] as of `now` (a test looks ahead without waiting).
    fn check_at(&self, now: Instant) -> Result<(), String> {
        let state = self.lock();
        let idle = now.duration_since(state.last_applied);
        if idle <= self.stall {
            return Ok(());
        }
        let failing = state
            .last_failed
            .is_some_and(|at| now.duration_since(at) <= self.stall);
        if state.waiting == 0 && !failing {
            return Ok(());
        }
        Err(format!(
            "nothing applied for {}s: {} commands waiting{}",
            idle.as_secs(),
            state.waiting,
            if failing {
                ", commands failing on the database"
            } else {
                ""
            }
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_worker_with_work_and_no_answers_is_stalled() {
        let stall = Duration::from_secs(30);
        let progress = Progress::new(stall);
        // Looked at from past the bound, as if it had passed with nothing applied.
        let later = Instant::now() + stall + Duration::from_secs(1);
        assert!(
            progress.check_at(later).is_ok(),
            "nothing to do is not a stall"
        );
        let waiting = progress.begin();
        assert!(progress.check().is_ok(), "within the bound");
        assert!(
            progress.check_at(later).is_err(),
            "a command waits, none applied"
        );
        drop(waiting);
        assert!(progress.check_at(later).is_ok(), "nothing waits any more");
        let _waiting = progress.begin();
        let applied = Instant::now();
        progress.applied();
        assert!(
            progress.check_at(applied + stall).is_ok(),
            "applied within the bound"
        );
        progress.failed();
        assert!(progress.check().is_ok(), "failing, within the bound");
    }
}
