//! One refresh at a time: the first caller gets a ticket and does the work; the others go on
//! with what they have. The ticket clears the flag when dropped, also when the future holding
//! it is cancelled mid-await (a request cut short, a timeout), so a refresh is never locked
//! out for good.

use std::sync::atomic::{AtomicBool, Ordering};

/// A flag for work that one caller at a time should do.
#[derive(Debug, Default)]
pub struct SingleFlight(AtomicBool);

/// Held while the work runs.
#[derive(Debug)]
pub struct Ticket<'a>(&'a AtomicBool);

impl SingleFlight {
    /// A ticket when nobody holds one.
    pub fn try_start(&self) -> Option<Ticket<'_>> {
        (!self.0.swap(true, Ordering::AcqRel)).then_some(Ticket(&self.0))
    }
}

impl Drop for Ticket<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_at_a_time_and_free_again_when_dropped() {
        let flight = SingleFlight::default();
        let first = flight.try_start();
        assert!(first.is_some());
        assert!(flight.try_start().is_none());
        drop(first);
        assert!(flight.try_start().is_some());
    }

    #[test]
    fn a_cancelled_future_gives_its_ticket_back() {
        use std::future::Future;
        let flight = SingleFlight::default();
        let work = async {
            let _ticket = flight.try_start().unwrap();
            std::future::pending::<()>().await;
        };
        // Polled once (ticket taken), then dropped unfinished.
        let mut work = Box::pin(work);
        let waker = std::task::Waker::noop();
        let mut cx = std::task::Context::from_waker(waker);
        assert!(work.as_mut().poll(&mut cx).is_pending());
        assert!(flight.try_start().is_none());
        drop(work);
        assert!(flight.try_start().is_some());
    }
}
