//! Publisher confirms awaited in a task of their own. lapin keeps a `PublisherConfirm`
//! dropped before it resolved (its caller timed out or went away) in a per-channel list
//! that only `Channel::wait_for_confirms` empties, with the message the broker returned
//! if it did; a long-lived channel whose callers time out (a broker that blocks
//! publishers, a slow disk) would grow that list without bound. Here every confirm is
//! awaited to its end by a task, which ends when the broker answers or the channel
//! closes, and at most a bounded number of them are outstanding at once.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use lapin::{Confirmation, PublisherConfirm};
use tokio::sync::oneshot;

/// Confirms one channel may have outstanding (published, not yet answered) unless
/// set otherwise: past it, a publish is refused before anything is sent.
pub const DEFAULT_MAX_PENDING: usize = 1024;

/// The outstanding confirms of one channel.
#[derive(Debug, Clone)]
pub struct Confirms {
    pending: Arc<AtomicUsize>,
    max_pending: usize,
}

/// Too many confirms are outstanding; nothing was published.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{0} publishes already await their confirm")]
pub struct TooManyPending(pub usize);

/// A place reserved for one confirm (see [`Confirms::reserve`]); given back when
/// dropped unused.
#[derive(Debug)]
pub struct Reservation {
    pending: Arc<AtomicUsize>,
}

impl Drop for Reservation {
    fn drop(&mut self) {
        self.pending.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Default for Confirms {
    fn default() -> Self {
        Self::new(DEFAULT_MAX_PENDING)
    }
}

impl Confirms {
    /// At most `max_pending` outstanding confirms.
    pub fn new(max_pending: usize) -> Self {
        Self {
            pending: Arc::new(AtomicUsize::new(0)),
            max_pending: max_pending.max(1),
        }
    }

    /// Confirms outstanding now: published, and neither answered by the broker nor
    /// ended by the channel closing.
    pub fn pending(&self) -> usize {
        self.pending.load(Ordering::SeqCst)
    }

    /// Takes a place before publishing, so a refusal sends nothing.
    pub fn reserve(&self) -> Result<Reservation, TooManyPending> {
        let before = self.pending.fetch_add(1, Ordering::SeqCst);
        let reservation = Reservation {
            pending: Arc::clone(&self.pending),
        };
        if before >= self.max_pending {
            return Err(TooManyPending(before));
        }
        Ok(reservation)
    }

    /// Runs `publish` (a `basic_publish` on a confirm-mode channel) and awaits its
    /// confirm in a task that holds `reservation` until the broker answers or the
    /// channel ends; the caller may stop listening at any time, even before the message
    /// is written (a blocked connection writes nothing).
    pub fn spawn<P>(
        &self,
        reservation: Reservation,
        publish: P,
    ) -> oneshot::Receiver<lapin::Result<Confirmation>>
    where
        P: Future<Output = lapin::Result<PublisherConfirm>> + Send + 'static,
    {
        let (answer, answered) = oneshot::channel();
        tokio::spawn(async move {
            let confirmation = match publish.await {
                Ok(confirm) => confirm.await,
                Err(error) => Err(error),
            };
            drop(reservation);
            // The caller may have stopped waiting; the confirm is consumed either way.
            let _ = answer.send(confirmation);
        });
        answered
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn places_are_bounded_and_given_back() {
        let confirms = Confirms::new(2);
        let first = confirms.reserve().expect("first place");
        let _second = confirms.reserve().expect("second place");
        assert_eq!(confirms.reserve().err(), Some(TooManyPending(2)));
        assert_eq!(confirms.pending(), 2);
        drop(first);
        assert_eq!(confirms.pending(), 1);
        assert!(confirms.reserve().is_ok());
    }
}
