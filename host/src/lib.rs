// SPDX-License-Identifier: GPL-2.0

//! Host build of the xen_clock driver's kernel-independent code.
//!
//! The module sources are the files the kernel module compiles, so the tests in
//! `tests/` exercise exactly the code that runs in the guest kernel. The crate
//! stays `no_std`, so that those files cannot come to depend on `std` unnoticed;
//! [`sim`], which exists only on the host, needs nothing from `std` either.

#![no_std]

#[path = "../../pvclock.rs"]
pub mod pvclock;

#[path = "../../deadline.rs"]
pub mod deadline;

pub mod sim;

use core::sync::atomic::{AtomicU64, Ordering};

/// The host's cell for [`pvclock::monotonic`], with the orderings the kernel's
/// `Atomic<u64>` gives the module (relaxed load; fully ordered exchange).
impl pvclock::LastValue for AtomicU64 {
    fn load_relaxed(&self) -> u64 {
        self.load(Ordering::Relaxed)
    }

    fn compare_exchange(&self, old: u64, new: u64) -> Result<u64, u64> {
        AtomicU64::compare_exchange(self, old, new, Ordering::SeqCst, Ordering::Relaxed)
    }
}
