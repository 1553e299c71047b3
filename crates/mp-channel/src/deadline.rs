//! Deadlines of blocking calls: [`Deadline`] is the workspace's one type
//! (`mp_sys::time::Deadline`); [`LazyDeadline`] fixes one only when a call
//! first has to wait, so a call that needs no waiting does not read the clock.

use std::time::Duration;

pub(crate) use mp_sys::time::Deadline;

/// A [`Deadline`] fixed only when first asked for.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LazyDeadline {
    timeout: Option<Duration>,
    at: Option<Deadline>,
}

impl LazyDeadline {
    /// An already fixed deadline.
    pub(crate) fn fixed(at: Deadline) -> LazyDeadline {
        LazyDeadline {
            timeout: (!at.is_never()).then_some(Duration::ZERO),
            at: Some(at),
        }
    }

    /// `timeout` from the first [`get`](Self::get) (`None` = never).
    pub(crate) fn after(timeout: Option<Duration>) -> LazyDeadline {
        LazyDeadline { timeout, at: None }
    }

    /// Whether this deadline never passes.
    pub(crate) fn is_never(&self) -> bool {
        self.timeout.is_none()
    }

    /// The deadline, fixed now if it was not yet.
    pub(crate) fn get(&mut self) -> Deadline {
        *self.at.get_or_insert_with(|| Deadline::after(self.timeout))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lazy_deadline_is_fixed_on_first_use() {
        let mut never = LazyDeadline::after(None);
        assert!(never.is_never());
        assert!(never.get().is_never());
        let mut soon = LazyDeadline::after(Some(Duration::from_secs(60)));
        assert!(!soon.is_never());
        let first = soon.get();
        assert_eq!(soon.get(), first);
        let fixed = LazyDeadline::fixed(Deadline::NEVER);
        assert!(fixed.is_never());
    }
}
