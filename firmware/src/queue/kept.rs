//! Messages kept in memory from their acceptance until the process stage takes them, so the
//! stage does not read back the file that was just written and fsynced (an open, a read and a
//! checksum per message). The spool file stays the truth: a message that is not kept (too
//! large, over the budget, processed again after a deferral or a restart) is read from disk as
//! before. The budget bounds what a backlog can hold in memory.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// Bytes of kept messages at most, all together.
pub const BUDGET: usize = 32 * 1024 * 1024;

/// The bytes of one accepted message, counted against the queue's budget until dropped.
pub struct Kept {
    bytes: Vec<u8>,
    /// What this message counts against the budget.
    counted: usize,
    used: Arc<AtomicUsize>,
}

impl Kept {
    /// Keeps `bytes` if the budget allows it.
    pub fn new(bytes: Vec<u8>, used: &Arc<AtomicUsize>) -> Option<Kept> {
        let counted = bytes.len();
        used.fetch_update(Ordering::AcqRel, Ordering::Acquire, |u| {
            u.checked_add(counted).filter(|t| *t <= BUDGET)
        })
        .ok()?;
        Some(Kept {
            bytes,
            counted,
            used: used.clone(),
        })
    }

    /// The message (its budget is given back now).
    pub fn into_bytes(mut self) -> Vec<u8> {
        std::mem::take(&mut self.bytes)
    }
}

impl Drop for Kept {
    fn drop(&mut self) {
        self.used.fetch_sub(self.counted, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_budget_bounds_what_is_kept_and_comes_back_on_drop() {
        let used = Arc::new(AtomicUsize::new(0));
        let a = Kept::new(vec![0; BUDGET - 10], &used).expect("fits");
        assert!(Kept::new(vec![0; 11], &used).is_none(), "over the budget");
        let b = Kept::new(vec![0; 10], &used).expect("fits exactly");
        assert_eq!(used.load(Ordering::Acquire), BUDGET);
        assert_eq!(b.into_bytes().len(), 10);
        drop(a);
        assert_eq!(used.load(Ordering::Acquire), 0);
    }
}
