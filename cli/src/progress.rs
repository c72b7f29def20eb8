//! Progress lines on standard error for operations that may run long (`dlq replay`,
//! `dlq purge` over a queue of many thousands): a count every `every` items or every
//! `interval`, whichever comes first, so an operator sees the work move while standard
//! output stays clean for scripts. Nothing is printed for work that ends before the
//! first line is due.

use std::io::Write;
use std::time::{Duration, Instant};

/// Items between two lines at most.
pub const DEFAULT_EVERY: usize = 1000;
/// Time between two lines at most.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(1);

/// Counts items done and prints `<label>: <done> of <total>` when a line is due.
#[derive(Debug)]
pub struct Progress<W: Write> {
    label: String,
    every: usize,
    interval: Duration,
    out: W,
    total: usize,
    done: usize,
    last: Instant,
    shown: bool,
}

impl Progress<std::io::Stderr> {
    /// Progress on standard error with the default steps.
    pub fn stderr(label: impl Into<String>) -> Self {
        Self::new(label, std::io::stderr())
    }
}

impl<W: Write> Progress<W> {
    /// Progress written to `out`, a line every [`DEFAULT_EVERY`] items or
    /// [`DEFAULT_INTERVAL`].
    pub fn new(label: impl Into<String>, out: W) -> Self {
        Self {
            label: label.into(),
            every: DEFAULT_EVERY,
            interval: DEFAULT_INTERVAL,
            out,
            total: 0,
            done: 0,
            last: Instant::now(),
            shown: false,
        }
    }

    /// Other steps (tests use small ones).
    pub fn with_steps(mut self, every: usize, interval: Duration) -> Self {
        self.every = every.max(1);
        self.interval = interval;
        self
    }

    /// Starts counting towards `total` (the clock for the first line starts now).
    pub fn begin(&mut self, total: usize) {
        self.total = total;
        self.done = 0;
        self.last = Instant::now();
    }

    /// One more item done; prints a line when one is due.
    pub fn tick(&mut self) {
        self.done += 1;
        if self.done.is_multiple_of(self.every) || self.last.elapsed() >= self.interval {
            self.show();
        }
    }

    /// Items done since [`Progress::begin`].
    pub fn done(&self) -> usize {
        self.done
    }

    /// Prints the final count if any line was printed before, so a long run's last
    /// line is its total.
    pub fn finish(&mut self) {
        if self.shown && !self.done.is_multiple_of(self.every) {
            self.show();
        }
    }

    /// The writer (tests read what was printed).
    pub fn into_inner(self) -> W {
        self.out
    }

    fn show(&mut self) {
        // A closed standard error must not fail the work it reports on.
        let _ = writeln!(self.out, "{}: {} of {}", self.label, self.done, self.total);
        self.shown = true;
        self.last = Instant::now();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(progress: Progress<Vec<u8>>) -> Vec<String> {
        String::from_utf8(progress.into_inner())
            .expect("UTF-8")
            .lines()
            .map(str::to_owned)
            .collect()
    }

    #[test]
    fn a_line_every_n_items_and_the_total_at_the_end() {
        let mut progress =
            Progress::new("purged", Vec::new()).with_steps(2, Duration::from_secs(3600));
        progress.begin(5);
        for _ in 0..5 {
            progress.tick();
        }
        progress.finish();
        assert_eq!(progress.done(), 5);
        assert_eq!(
            lines(progress),
            ["purged: 2 of 5", "purged: 4 of 5", "purged: 5 of 5"]
        );
    }

    #[test]
    fn short_work_prints_nothing() {
        let mut progress = Progress::new("replayed", Vec::new());
        progress.begin(3);
        for _ in 0..3 {
            progress.tick();
        }
        progress.finish();
        assert!(lines(progress).is_empty());
    }

    #[test]
    fn a_line_when_the_interval_passed() {
        let mut progress = Progress::new("replayed", Vec::new()).with_steps(1000, Duration::ZERO);
        progress.begin(2);
        progress.tick();
        assert_eq!(lines(progress), ["replayed: 1 of 2"]);
    }
}
