//! The pause between reconnect attempts, one type for every reconnect loop (the bus's
//! [`connect_with_backoff`](crate::connection::connect_with_backoff), the command
//! client's reconnect, the outbox relay's sessions): it starts at [`FIRST_BACKOFF`],
//! doubles after each attempt up to [`MAX_BACKOFF`], and each pause adds a random
//! jitter of up to half the step, so clients that lost the broker together do not all
//! come back in the same instant.

use std::time::Duration;

use rand::Rng;

use crate::connection::MAX_BACKOFF;

/// The first pause after a failed attempt.
pub const FIRST_BACKOFF: Duration = Duration::from_millis(100);

/// Where a reconnect loop is in its doubling pauses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    step: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self::new()
    }
}

impl Backoff {
    /// A loop that has not failed yet: its first pause is [`FIRST_BACKOFF`] (plus
    /// jitter).
    pub fn new() -> Self {
        Self {
            step: FIRST_BACKOFF,
        }
    }

    /// The pause before the next attempt: the current step plus a jitter of up to half
    /// of it. The step then doubles, up to [`MAX_BACKOFF`].
    pub fn next_pause(&mut self) -> Duration {
        let half = u64::try_from(self.step.as_millis() / 2).unwrap_or(u64::MAX);
        let jitter = Duration::from_millis(rand::rng().random_range(0..=half));
        let pause = self.step + jitter;
        self.step = (self.step * 2).min(MAX_BACKOFF);
        pause
    }

    /// Starts over from [`FIRST_BACKOFF`], once a connection has held.
    pub fn reset(&mut self) {
        *self = Self::new();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The steps a fresh backoff goes through, jitter left out.
    fn steps(count: usize) -> Vec<Duration> {
        let mut backoff = Backoff::new();
        (0..count)
            .map(|_| {
                let step = backoff.step;
                backoff.next_pause();
                step
            })
            .collect()
    }

    #[test]
    fn backoff_doubles_from_the_first_pause_up_to_the_cap() {
        let ms = Duration::from_millis;
        assert_eq!(
            steps(10),
            [
                ms(100),
                ms(200),
                ms(400),
                ms(800),
                ms(1600),
                ms(3200),
                ms(6400),
                MAX_BACKOFF,
                MAX_BACKOFF,
                MAX_BACKOFF,
            ]
        );
    }

    #[test]
    fn backoff_pause_is_its_step_plus_at_most_half_of_it() {
        let mut backoff = Backoff::new();
        for _ in 0..50 {
            let step = backoff.step;
            let pause = backoff.next_pause();
            assert!(pause >= step, "{pause:?} is shorter than the step {step:?}");
            assert!(
                pause <= step + step / 2,
                "{pause:?} exceeds the step {step:?} by more than half"
            );
        }
    }

    #[test]
    fn backoff_reset_starts_again_from_the_first_pause() {
        let mut backoff = Backoff::new();
        for _ in 0..5 {
            backoff.next_pause();
        }
        backoff.reset();
        assert_eq!(backoff, Backoff::new());
        assert!(backoff.next_pause() <= FIRST_BACKOFF + FIRST_BACKOFF / 2);
    }
}
