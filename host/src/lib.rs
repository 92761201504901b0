// SPDX-License-Identifier: GPL-2.0

//! Host build of the xen_clock driver's kernel-independent code.
//!
//! The module source is the file the kernel module compiles, so the tests in
//! `tests/` exercise exactly the code that runs in the guest kernel.

#![no_std]

#[path = "../../pvclock.rs"]
pub mod pvclock;
