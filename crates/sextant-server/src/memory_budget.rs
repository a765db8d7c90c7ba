//! A shared bound on bytes held at once by one kind of work, such as decompressed request
//! bodies. Each request reserves what it is about to allocate and gives it back when the
//! reservation drops, so concurrent requests together never hold more than the bound,
//! whatever each one is allowed on its own.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

#[derive(Debug)]
pub struct MemoryBudget {
    used: AtomicUsize,
    max: usize,
}

impl MemoryBudget {
    pub fn new(max: usize) -> Arc<MemoryBudget> {
        Arc::new(MemoryBudget {
            used: AtomicUsize::new(0),
            max,
        })
    }

    /// Bytes reserved right now.
    pub fn used(&self) -> usize {
        self.used.load(Ordering::Relaxed)
    }

    /// `n` bytes held until the reservation drops; `None` when the budget cannot spare
    /// them.
    pub fn reserve(self: &Arc<Self>, n: usize) -> Option<Reservation> {
        self.used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
                used.checked_add(n).filter(|&total| total <= self.max)
            })
            .ok()?;
        Some(Reservation {
            budget: self.clone(),
            held: n,
        })
    }
}

/// Bytes held from a [`MemoryBudget`] until dropped.
#[derive(Debug)]
pub struct Reservation {
    budget: Arc<MemoryBudget>,
    held: usize,
}

impl Drop for Reservation {
    fn drop(&mut self) {
        self.budget.used.fetch_sub(self.held, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reservations_share_the_bound_and_return_it_when_dropped() {
        let budget = MemoryBudget::new(100);
        let a = budget.reserve(60).expect("60 of 100");
        assert!(budget.reserve(41).is_none(), "60 + 41 is over the bound");
        let b = budget.reserve(40).expect("60 + 40");
        assert_eq!(budget.used(), 100);
        drop(a);
        assert_eq!(budget.used(), 40);
        drop(b);
        assert_eq!(budget.used(), 0);
    }
}
