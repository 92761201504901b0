// SPDX-License-Identifier: GPL-2.0

//! The hypervisor layer: what the driver reads from, and asks of, Xen.
//!
//! The pvclock record of the current vCPU, read with volatile loads because Xen rewrites it at
//! any time; the C reference read, for cross-checks. With `tick_bridge.rs` this file holds all of
//! the driver's `unsafe` code.
//!
//! C headers: [arch/x86/include/asm/pvclock-abi.h](srctree/arch/x86/include/asm/pvclock-abi.h),
//! [include/xen/xen-ops.h](srctree/include/xen/xen-ops.h)

use crate::pvclock::{
    TimeInfo,
    TimeSource,
    PVCLOCK_GUEST_STOPPED, //
};
use core::{
    marker::PhantomData,
    ptr::{
        self,
        NonNull, //
    },
};
use kernel::bindings;

/// Whether the kernel runs as a Xen guest (PV, PVH or HVM).
pub(crate) fn xen_domain() -> bool {
    // SAFETY: `xen_domain()` only reads `xen_domain_type`, set once during early boot.
    unsafe { bindings::xen_domain() }
}

/// Reads Xen system time through the C driver (`xen_clocksource_read()`), the reference the
/// Rust read is checked and measured against.
pub(crate) fn c_xen_clocksource_read() -> u64 {
    // SAFETY: The C function has no preconditions: it disables preemption itself.
    unsafe { bindings::xen_clocksource_read() }
}

/// Reads the TSC, ordered like a load (`rdtsc_ordered()`).
#[inline]
pub(crate) fn tsc_ordered() -> u64 {
    // SAFETY: `rdtsc_ordered()` has no preconditions.
    unsafe { bindings::rdtsc_ordered() }
}

/// Preemption stays disabled (notrace, so that a clocksource read stays traceable-free) while a
/// value of this type lives, which also pins the thread to its CPU.
///
/// # Invariants
///
/// `preempt_disable_notrace()` was called when the value was created; drop re-enables.
struct NoPreempt(PhantomData<*mut ()>);

impl NoPreempt {
    #[inline]
    fn new() -> Self {
        // SAFETY: Always allowed; balanced by `drop`.
        unsafe { bindings::preempt_disable_notrace() };
        // INVARIANT: preemption was disabled just above.
        NoPreempt(PhantomData)
    }
}

impl Drop for NoPreempt {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: By the type invariants, this balances the `preempt_disable_notrace()` of `new`.
        unsafe { bindings::preempt_enable_notrace() };
    }
}

/// The live pvclock record of the vCPU the caller runs on, and the CPU pinned for as long as the
/// value lives.
///
/// The record is the `time` field of the vCPU's `vcpu_info`, reached through the per-CPU
/// `xen_vcpu` pointer: that is the copy Xen updates. Once a vCPU registered its own `vcpu_info`
/// (`VCPUOP_register_vcpu_info`, which Linux does for every vCPU it can), the slot in the
/// shared info page is no longer written and would read stale.
///
/// # Invariants
///
/// `time` points at the `pvclock_vcpu_time_info` of the current CPU's `vcpu_info`, which is never
/// freed, and preemption is disabled (so the current CPU does not change) while `self` lives.
pub(crate) struct ThisCpuTime {
    time: NonNull<bindings::pvclock_vcpu_time_info>,
    _pinned: NoPreempt,
}

impl ThisCpuTime {
    /// The record of the current vCPU, or `None` before its `vcpu_info` is set up.
    #[inline]
    pub(crate) fn get() -> Option<Self> {
        let pinned = NoPreempt::new();
        // SAFETY: Preemption is disabled, as the helper requires.
        let time = NonNull::new(unsafe { bindings::xen_this_cpu_time_info() })?;
        // INVARIANT: the helper returns the live record of the current CPU, and `pinned` keeps
        // us on that CPU.
        Some(Self {
            time,
            _pinned: pinned,
        })
    }

    /// Clears `PVCLOCK_GUEST_STOPPED` in the record and touches the watchdogs, as the C reader does
    /// when Xen reports that it paused the guest.
    pub(crate) fn acknowledge_guest_stopped(&self) {
        let t = self.time.as_ptr();
        // SAFETY: By the type invariants `t` is valid. Xen sets the flag and only the guest clears
        // it; a racing update of the record by Xen rewrites `flags` as a whole, which the C code
        // tolerates in the same way.
        unsafe {
            let flags = ptr::read_volatile(&raw const (*t).flags);
            ptr::write_volatile(&raw mut (*t).flags, flags & !PVCLOCK_GUEST_STOPPED);
        }
        // SAFETY: The function only touches watchdog timestamps; it may be called from any context.
        unsafe { bindings::pvclock_touch_watchdogs() };
    }
}

impl TimeSource for ThisCpuTime {
    #[inline]
    fn version(&self) -> u32 {
        // SAFETY: By the type invariants `time` is valid; Xen writes it concurrently, hence the
        // volatile load (C: a plain load of a field the compiler may not cache across barriers).
        unsafe { ptr::read_volatile(&raw const (*self.time.as_ptr()).version) }
    }

    #[inline]
    fn snapshot(&self) -> TimeInfo {
        let t = self.time.as_ptr();
        // SAFETY: As in `version`. A snapshot torn by a concurrent update is detected by the
        // version check of `pvclock::read`.
        unsafe {
            TimeInfo {
                version: 0,
                tsc_timestamp: ptr::read_volatile(&raw const (*t).tsc_timestamp),
                system_time: ptr::read_volatile(&raw const (*t).system_time),
                tsc_to_system_mul: ptr::read_volatile(&raw const (*t).tsc_to_system_mul),
                tsc_shift: ptr::read_volatile(&raw const (*t).tsc_shift),
                flags: ptr::read_volatile(&raw const (*t).flags),
            }
        }
    }

    #[inline]
    fn read_tsc(&self) -> u64 {
        tsc_ordered()
    }

    #[inline]
    fn read_barrier(&self) {
        // C uses `virt_rmb()`. On x86 (the only architecture this driver builds for) loads are
        // not reordered with other loads, so it is `barrier()`, a compiler barrier, and so is
        // this: the kernel crate's `smp_mb(Read)` would be the same barrier behind a function
        // call, on the hottest path of the clocksource.
        //
        // SAFETY: An empty asm block; without `nomem` the compiler assumes it reads and writes
        // any memory, so it moves no load across it.
        unsafe { core::arch::asm!("", options(nostack, preserves_flags)) };
    }
}
