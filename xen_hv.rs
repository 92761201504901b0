// SPDX-License-Identifier: GPL-2.0

//! The hypervisor layer: what the driver reads from, and asks of, Xen.
//!
//! The pvclock record of the current vCPU, read with volatile loads because Xen rewrites it at
//! any time; the C reference read, for cross-checks; the vCPU timer hypercalls; built in, the
//! driver's own binding of each vCPU's `VIRQ_TIMER` and the entry points through which
//! `arch/x86/xen/time.c` hands Xen time to it.
//!
//! As a module, the hook in the C driver's `VIRQ_TIMER` handler through which the vCPU timer
//! events reach the driver.
//!
//! This file holds all of the driver's `unsafe` code.
//!
//! C headers: [arch/x86/include/asm/pvclock-abi.h](srctree/arch/x86/include/asm/pvclock-abi.h),
//! [include/xen/xen-ops.h](srctree/include/xen/xen-ops.h),
//! [include/xen/interface/vcpu.h](srctree/include/xen/interface/vcpu.h),
//! [arch/x86/include/asm/xen/hypervisor.h](srctree/arch/x86/include/asm/xen/hypervisor.h)

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
use kernel::{
    bindings,
    cpu::CpuId,
    error::to_result,
    ffi::{
        c_int,
        c_void, //
    },
    interrupt::LocalInterruptDisabled,
    prelude::*,
    sync::barrier,
    time::clockevents::DeviceCpu, //
};

/// Whether the kernel runs as a Xen guest (PV, PVH or HVM).
pub(crate) fn xen_domain() -> bool {
    // SAFETY: `xen_domain()` only reads `xen_domain_type`, set once during early boot.
    unsafe { bindings::xen_domain() }
}

/// Whether the pvclock records may be read: in a PV guest always, in an HVM or PVH guest only
/// if Xen offers `XENFEAT_hvm_safe_pvclock`. The same test guards the C driver's set-up
/// (`xen_hvm_init_time_ops()`, `xen_cpu_up_prepare_hvm()`).
pub(crate) fn pvclock_usable() -> bool {
    // SAFETY: Both only read flags and the feature bitmap, set once during early boot.
    unsafe {
        bindings::xen_pv_domain()
            || bindings::xen_feature(bindings::XENFEAT_hvm_safe_pvclock as c_int)
    }
}

/// Whether the C driver runs the tick on the `VCPUOP` one-shot timer, with every vCPU's
/// `VIRQ_TIMER` bound to `xen_timer_interrupt()`: the only way the module's clock event
/// devices get events (through [`TimerEventHook`]). Not so in an HVM guest without the vector
/// callback, whose tick is the local APIC's.
#[cfg(MODULE)]
pub(crate) fn vcpuop_timer_in_use() -> bool {
    // SAFETY: The function only compares a pointer set once during boot.
    unsafe { bindings::xen_vcpuop_timer_in_use() }
}

/// The rating the C driver gave its `xen` clocksource (`xen_clocksource_rating()`): 400, or
/// below `tsc`'s 300 where the TSC is as good (275 in dom0, 299 where Xen says it is
/// invariant, stable and never emulated).
#[cfg(MODULE)]
pub(crate) fn c_clocksource_rating() -> i32 {
    // SAFETY: The function only reads a field written once during boot.
    unsafe { bindings::xen_clocksource_rating() }
}

/// Whether the tick can run on the `VCPUOP` one-shot timer: built in, always, because
/// `xen_time_init()` hands Xen time to the driver only once it chose that timer.
#[cfg(not(MODULE))]
pub(crate) fn vcpuop_timer_in_use() -> bool {
    true
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
/// The C structure is `__packed`, so Rust gives it an alignment of 1 and each field's place
/// alone does not make it aligned for `read_volatile`. Every field sits at a multiple of its
/// own size (checked below at build time), so the fields are aligned whenever the record is
/// 8-byte aligned, which [`ThisCpuTime::get`] checks (in a `vcpu_info` it is at offset 32).
///
/// # Invariants
///
/// `time` points at the `pvclock_vcpu_time_info` of the current CPU's `vcpu_info`, which is never
/// freed, and is 8-byte aligned; preemption is disabled (so the current CPU does not change)
/// while `self` lives.
pub(crate) struct ThisCpuTime {
    time: NonNull<bindings::pvclock_vcpu_time_info>,
    _pinned: NoPreempt,
}

impl ThisCpuTime {
    /// The record of the current vCPU, or `None` before its `vcpu_info` is set up (or if it were
    /// not 8-byte aligned, which Xen's layout excludes).
    #[inline]
    pub(crate) fn get() -> Option<Self> {
        let pinned = NoPreempt::new();
        // SAFETY: Preemption is disabled, as the helper requires.
        let time = NonNull::new(unsafe { bindings::xen_this_cpu_time_info() })?;
        if !time.as_ptr().cast::<u64>().is_aligned() {
            return None;
        }
        // INVARIANT: the helper returns the live record of the current CPU, 8-byte aligned as
        // checked above, and `pinned` keeps us on that CPU.
        Some(Self {
            time,
            _pinned: pinned,
        })
    }

    /// Clears `PVCLOCK_GUEST_STOPPED` in the record and touches the watchdogs, as the C reader does
    /// when Xen reports that it paused the guest.
    pub(crate) fn acknowledge_guest_stopped(&self) {
        let t = self.time.as_ptr();
        // SAFETY: By the type invariants `t` is valid, and `flags` is a `u8`, aligned anywhere. Xen
        // sets the flag and only the guest clears it; a racing update of the record by Xen
        // rewrites `flags` as a whole, which the C code tolerates in the same way.
        unsafe {
            let flags = ptr::read_volatile(&raw const (*t).flags);
            ptr::write_volatile(&raw mut (*t).flags, flags & !PVCLOCK_GUEST_STOPPED);
        }
        // SAFETY: The function only touches watchdog timestamps; it may be called from any context.
        unsafe { bindings::pvclock_touch_watchdogs() };
    }
}

// Every field of the packed record at a multiple of its size: aligned in an 8-byte aligned
// record (see `ThisCpuTime`).
const _: () = {
    use core::mem::{
        offset_of,
        size_of, //
    };
    type Info = bindings::pvclock_vcpu_time_info;
    assert!(offset_of!(Info, version) % size_of::<u32>() == 0);
    assert!(offset_of!(Info, tsc_timestamp) % size_of::<u64>() == 0);
    assert!(offset_of!(Info, system_time) % size_of::<u64>() == 0);
    assert!(offset_of!(Info, tsc_to_system_mul) % size_of::<u32>() == 0);
    assert!(size_of::<Info>() % size_of::<u64>() == 0);
};

impl TimeSource for ThisCpuTime {
    #[inline]
    fn version(&self) -> u32 {
        // SAFETY: By the type invariants `time` is valid and 8-byte aligned, so its `u32` field
        // at offset 0 is aligned; Xen writes it concurrently, hence the volatile load (C: a
        // plain load of a field the compiler may not cache across barriers).
        unsafe { ptr::read_volatile(&raw const (*self.time.as_ptr()).version) }
    }

    #[inline]
    fn snapshot(&self) -> TimeInfo {
        let t = self.time.as_ptr();
        // SAFETY: As in `version`: each field is at a multiple of its size in an 8-byte aligned
        // record (checked at build time above), hence aligned. A snapshot torn by a concurrent
        // update is detected by the version check of `pvclock::read`.
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
        // C's `virt_rmb()`, pairing with Xen's write barriers between its updates of `version`
        // and of the record; on x86 a compiler barrier, inlined.
        barrier::virt_mb(barrier::Read);
    }
}

/// The hypercalls that program a vCPU's timers, for counting their failures and, in test
/// kernels, for injecting failures.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum TimerCall {
    /// `VCPUOP_set_singleshot_timer`.
    SetSingleshot = 0,
    /// `VCPUOP_stop_singleshot_timer`.
    StopSingleshot = 1,
    /// `VCPUOP_set_periodic_timer`.
    SetPeriodic = 2,
    /// `VCPUOP_stop_periodic_timer`.
    StopPeriodic = 3,
    /// `HYPERVISOR_set_timer_op`, the older one-shot interface.
    SetTimerOp = 4,
}

impl TimerCall {
    /// Every operation, in the order of their numbers.
    pub(crate) const ALL: [TimerCall; 5] = [
        TimerCall::SetSingleshot,
        TimerCall::StopSingleshot,
        TimerCall::SetPeriodic,
        TimerCall::StopPeriodic,
        TimerCall::SetTimerOp,
    ];

    /// The name used in debugfs and in messages.
    pub(crate) fn name(self) -> &'static str {
        match self {
            TimerCall::SetSingleshot => "set_singleshot",
            TimerCall::StopSingleshot => "stop_singleshot",
            TimerCall::SetPeriodic => "set_periodic",
            TimerCall::StopPeriodic => "stop_periodic",
            TimerCall::SetTimerOp => "set_timer_op",
        }
    }

    /// The operation's index in [`TimerCall::ALL`].
    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

/// The timer of the vCPU that runs one Linux CPU, programmed with `VCPUOP_*` hypercalls.
///
/// Xen only lets a vCPU program its own one-shot timer: those methods take the [`DeviceCpu`]
/// of a clock event device callback or event, which proves that they run on the CPU, and
/// program that CPU's vCPU. The periodic timer may be programmed from any CPU.
pub(crate) struct VcpuTimer {
    cpu: CpuId,
}

impl VcpuTimer {
    /// The timer of the vCPU that runs `cpu`.
    pub(crate) fn new(cpu: CpuId) -> Self {
        Self { cpu }
    }

    /// # Safety
    ///
    /// `arg` must be null or point at the argument structure that `cmd` expects.
    unsafe fn vcpu_op(cpu: CpuId, op: TimerCall, cmd: u32, arg: *mut c_void) -> Result {
        fault_inject::check(op)?;
        // CAST: the `VCPUOP_*` numbers are small; the hypercall takes an `int`.
        let cmd = cmd as c_int;
        // SAFETY: By the safety requirements `arg` suits `cmd`; Xen checks everything else and
        // reports a bad request as an error.
        to_result(unsafe { bindings::xen_cpu_vcpu_op(cmd, cpu.as_u32(), arg) })
    }

    /// Arms the one-shot timer at `deadline_ns`, absolute Xen system time. A deadline in the
    /// past fires at once: no `VCPU_SSHOTTMR_future` flag, so Xen never refuses it with `ETIME`.
    pub(crate) fn set_singleshot(on: &DeviceCpu<'_>, deadline_ns: u64) -> Result {
        let mut arg = bindings::vcpu_set_singleshot_timer {
            timeout_abs_ns: deadline_ns,
            flags: 0,
        };
        // SAFETY: `arg` is the argument of `VCPUOP_set_singleshot_timer`.
        unsafe {
            Self::vcpu_op(
                on.id(),
                TimerCall::SetSingleshot,
                bindings::VCPUOP_set_singleshot_timer,
                (&raw mut arg).cast(),
            )
        }
    }

    /// Arms the same one-shot timer through the older `set_timer_op` hypercall, which Xen has
    /// kept for guests that predate `VCPUOP`: the fallback when `set_singleshot` fails.
    pub(crate) fn set_timer_op(_on: &DeviceCpu<'_>, deadline_ns: u64) -> Result {
        // The hypercall programs the calling vCPU's timer: `_on` shows it is the device's, since
        // the devices are per CPU (`CLOCK_EVT_FEAT_PERCPU`) and their callbacks and events run on
        // their own CPU, so the fallback arms the same timer as `set_singleshot` would.
        fault_inject::check(TimerCall::SetTimerOp)?;
        // Xen reads 0 as "stop the timer"; no deadline the driver computes is 0.
        // SAFETY: The hypercall takes a plain value and only programs the calling vCPU's timer.
        to_result(unsafe { bindings::xen_set_timer_op(deadline_ns.max(1)) })
    }

    /// Disarms the one-shot timer.
    pub(crate) fn stop_singleshot(on: &DeviceCpu<'_>) -> Result {
        // SAFETY: `VCPUOP_stop_singleshot_timer` takes no argument.
        unsafe {
            Self::vcpu_op(
                on.id(),
                TimerCall::StopSingleshot,
                bindings::VCPUOP_stop_singleshot_timer,
                ptr::null_mut(),
            )
        }
    }

    /// Starts the periodic timer with a period of `period_ns` (Xen wants at least 1 ms).
    pub(crate) fn set_periodic(&self, period_ns: u64) -> Result {
        let mut arg = bindings::vcpu_set_periodic_timer { period_ns };
        // SAFETY: `arg` is the argument of `VCPUOP_set_periodic_timer`.
        unsafe {
            Self::vcpu_op(
                self.cpu,
                TimerCall::SetPeriodic,
                bindings::VCPUOP_set_periodic_timer,
                (&raw mut arg).cast(),
            )
        }
    }

    /// Stops the periodic timer.
    pub(crate) fn stop_periodic(&self) -> Result {
        // SAFETY: `VCPUOP_stop_periodic_timer` takes no argument.
        unsafe {
            Self::vcpu_op(
                self.cpu,
                TimerCall::StopPeriodic,
                bindings::VCPUOP_stop_periodic_timer,
                ptr::null_mut(),
            )
        }
    }
}

/// Failures of the timer hypercalls on demand, for the tests of the paths that handle them:
/// `xen_clock/fault/<op>` in debugfs holds how many of the next calls of `<op>` fail with
/// `EIO` instead of reaching Xen. Only in kernels built with
/// `CONFIG_XEN_CLOCK_RUST_FAULT_INJECTION`, a test option; elsewhere [`fault_inject::check`]
/// is an empty inline function.
pub(crate) mod fault_inject {
    use super::TimerCall;
    use kernel::prelude::*;

    #[cfg(CONFIG_XEN_CLOCK_RUST_FAULT_INJECTION)]
    use kernel::{
        debugfs,
        sync::atomic::{
            Atomic,
            Relaxed, //
        },
    };

    /// Failures still to inject, per operation.
    #[cfg(CONFIG_XEN_CLOCK_RUST_FAULT_INJECTION)]
    static PENDING: [Atomic<u32>; 5] = [const { Atomic::new(0) }; 5];

    /// Fails with `EIO` if a failure of `op` is pending, and consumes it.
    #[cfg(CONFIG_XEN_CLOCK_RUST_FAULT_INJECTION)]
    pub(crate) fn check(op: TimerCall) -> Result {
        let Some(pending) = PENDING.get(op.index()) else {
            return Ok(());
        };
        let mut n = pending.load(Relaxed);
        while n > 0 {
            match pending.cmpxchg(n, n - 1, Relaxed) {
                Ok(_) => return Err(EIO),
                Err(now) => n = now,
            }
        }
        Ok(())
    }

    /// Never fails: this kernel injects no failures.
    #[cfg(not(CONFIG_XEN_CLOCK_RUST_FAULT_INJECTION))]
    #[inline(always)]
    pub(crate) fn check(_op: TimerCall) -> Result {
        Ok(())
    }

    /// Makes the next `n` calls of `op` fail.
    #[cfg(CONFIG_XEN_CLOCK_RUST_FAULT_INJECTION)]
    pub(crate) fn arm(op: TimerCall, n: u32) {
        if let Some(pending) = PENDING.get(op.index()) {
            pending.store(n, Relaxed);
        }
    }

    /// The skew added between the vCPUs' clocks: CPU `n` reads `n` times this much behind.
    #[cfg(CONFIG_XEN_CLOCK_RUST_FAULT_INJECTION)]
    static SKEW_NS: Atomic<u64> = Atomic::new(0);

    /// A reading of this vCPU's pvclock record, with the skew of `fault/skew_ns` applied: the
    /// never-backwards guard must hide it, and the raw readings must show it.
    #[cfg(CONFIG_XEN_CLOCK_RUST_FAULT_INJECTION)]
    pub(crate) fn skewed(now: u64) -> u64 {
        let skew = SKEW_NS.load(Relaxed);
        if skew == 0 {
            return now;
        }
        now.saturating_sub(u64::from(kernel::cpu::CpuId::current().as_u32()).saturating_mul(skew))
    }

    /// The reading as it is: this kernel injects no skew.
    #[cfg(not(CONFIG_XEN_CLOCK_RUST_FAULT_INJECTION))]
    #[inline(always)]
    pub(crate) fn skewed(now: u64) -> u64 {
        now
    }

    /// Set by writing a non-zero number to `fault/fail_init`: lets an init held by
    /// [`fail_init`] go on and fail.
    #[cfg(CONFIG_XEN_CLOCK_RUST_FAULT_INJECTION)]
    static INIT_RELEASED: Atomic<u64> = Atomic::new(0);

    /// With `hold`, waits (at most 60 s) until `fault/fail_init` is written, then fails with
    /// `EIO`: the module's init fails with everything registered, and what the test changed
    /// meanwhile (a CPU left with no other clock event device) is what its undoing meets.
    #[cfg(CONFIG_XEN_CLOCK_RUST_FAULT_INJECTION)]
    pub(crate) fn fail_init(hold: bool) -> Result {
        if !hold {
            return Ok(());
        }
        pr_info!("fault: init holds until fault/fail_init is written, then fails\n");
        for _ in 0..600 {
            if INIT_RELEASED.load(Relaxed) != 0 {
                break;
            }
            kernel::time::delay::fsleep(kernel::time::Delta::from_millis(100));
        }
        pr_info!("fault: init fails\n");
        Err(EIO)
    }

    /// A debugfs file's view of one of the settings above: reads and takes a decimal number.
    #[cfg(CONFIG_XEN_CLOCK_RUST_FAULT_INJECTION)]
    fn show_setting(
        setting: &&'static Atomic<u64>,
        f: &mut core::fmt::Formatter<'_>,
    ) -> core::fmt::Result {
        writeln!(f, "{}", setting.load(Relaxed))
    }

    #[cfg(CONFIG_XEN_CLOCK_RUST_FAULT_INJECTION)]
    fn store_setting(
        setting: &&'static Atomic<u64>,
        reader: &mut kernel::uaccess::UserSliceReader,
    ) -> Result {
        setting.store(read_number(reader)?, Relaxed);
        Ok(())
    }

    /// Parses the decimal number written to a debugfs file.
    #[cfg(CONFIG_XEN_CLOCK_RUST_FAULT_INJECTION)]
    fn read_number<T: core::str::FromStr>(
        reader: &mut kernel::uaccess::UserSliceReader,
    ) -> Result<T> {
        let mut buf = [0u8; 24];
        let text = buf.get_mut(..reader.len()).ok_or(EINVAL)?;
        reader.read_slice(text)?;
        core::str::from_utf8(text)
            .map_err(|_| EINVAL)?
            .trim()
            .parse::<T>()
            .map_err(|_| EINVAL)
    }

    /// How many failures of `op` are still to be injected.
    #[cfg(CONFIG_XEN_CLOCK_RUST_FAULT_INJECTION)]
    fn pending(op: TimerCall) -> u32 {
        PENDING.get(op.index()).map_or(0, |p| p.load(Relaxed))
    }

    #[cfg(CONFIG_XEN_CLOCK_RUST_FAULT_INJECTION)]
    fn show(op: &TimerCall, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        writeln!(f, "{}", pending(*op))
    }

    #[cfg(CONFIG_XEN_CLOCK_RUST_FAULT_INJECTION)]
    fn store(call: &TimerCall, reader: &mut kernel::uaccess::UserSliceReader) -> Result {
        arm(*call, read_number(reader)?);
        Ok(())
    }

    /// The debugfs directory `fault/`: one file per operation, which reads the failures still
    /// pending and takes a new count.
    #[cfg(CONFIG_XEN_CLOCK_RUST_FAULT_INJECTION)]
    #[pin_data]
    pub(crate) struct Files {
        #[pin]
        set_singleshot: debugfs::File<TimerCall>,
        #[pin]
        stop_singleshot: debugfs::File<TimerCall>,
        #[pin]
        set_periodic: debugfs::File<TimerCall>,
        #[pin]
        stop_periodic: debugfs::File<TimerCall>,
        #[pin]
        set_timer_op: debugfs::File<TimerCall>,
        #[pin]
        skew_ns: debugfs::File<&'static Atomic<u64>>,
        #[pin]
        fail_init: debugfs::File<&'static Atomic<u64>>,
        dir: debugfs::Dir,
    }

    /// Nothing: this kernel injects no failures.
    #[cfg(not(CONFIG_XEN_CLOCK_RUST_FAULT_INJECTION))]
    pub(crate) struct Files;

    #[cfg(not(CONFIG_XEN_CLOCK_RUST_FAULT_INJECTION))]
    impl Files {
        /// Creates nothing.
        pub(crate) fn new(_parent: &kernel::debugfs::Dir) -> impl PinInit<Self, Error> + '_ {
            Ok::<_, Error>(Files)
        }
    }

    #[cfg(CONFIG_XEN_CLOCK_RUST_FAULT_INJECTION)]
    impl Files {
        /// Creates `fault/` under `parent`.
        pub(crate) fn new(parent: &debugfs::Dir) -> impl PinInit<Self, Error> + '_ {
            let dir = parent.subdir(c"fault");
            try_pin_init!(Self {
                set_singleshot <- dir.read_write_callback_file(
                    c"set_singleshot", TimerCall::SetSingleshot, &show, &store),
                stop_singleshot <- dir.read_write_callback_file(
                    c"stop_singleshot", TimerCall::StopSingleshot, &show, &store),
                set_periodic <- dir.read_write_callback_file(
                    c"set_periodic", TimerCall::SetPeriodic, &show, &store),
                stop_periodic <- dir.read_write_callback_file(
                    c"stop_periodic", TimerCall::StopPeriodic, &show, &store),
                set_timer_op <- dir.read_write_callback_file(
                    c"set_timer_op", TimerCall::SetTimerOp, &show, &store),
                skew_ns <- dir.read_write_callback_file(
                    c"skew_ns", &SKEW_NS, &show_setting, &store_setting),
                fail_init <- dir.read_write_callback_file(
                    c"fail_init", &INIT_RELEASED, &show_setting, &store_setting),
                dir,
            }? Error)
        }
    }
}
/// What receives the vCPU timer events.
pub(crate) trait TimerEventHandler: Send + Sync {
    /// Called from the timer interrupt (`irq_off` shows that interrupts are off) on the CPU
    /// whose vCPU timer fired. Returns `true` if the event was for the handler's device.
    ///
    /// As a module, `false` lets the C `xen` clock event device have it.
    fn timer_event(&self, irq_off: &LocalInterruptDisabled) -> bool;
}

#[cfg(MODULE)]
pub(crate) use hook::TimerEventHook;

/// Only in the module: the hook in the C driver's `VIRQ_TIMER` handler.
#[cfg(MODULE)]
mod hook {
    use super::TimerEventHandler;
    use core::marker::PhantomPinned;
    use kernel::{
        bindings,
        error::to_result,
        interrupt::LocalInterruptDisabled,
        prelude::*,
        sync::Arc,
        types::Opaque, //
    };

    /// The vCPU timer events, offered to `T` before the C `xen` device sees them, through the
    /// hook in `xen_timer_interrupt()` (`arch/x86/xen/time.c`).
    ///
    /// Only in the module: built in, the driver binds `VIRQ_TIMER` itself (`VirqTimer`).
    ///
    /// # Invariants
    ///
    /// `hook` is installed with `xen_timer_set_event_hook()` from the end of
    /// [`TimerEventHook::new`] until drop, and its handler only ever sees it embedded in a
    /// `TimerEventHook<T>`.
    #[pin_data(PinnedDrop)]
    pub(crate) struct TimerEventHook<T: TimerEventHandler> {
        #[pin]
        hook: Opaque<bindings::xen_timer_event_hook>,
        handler: Arc<T>,
        #[pin]
        _pin: PhantomPinned,
    }

    impl<T: TimerEventHandler> TimerEventHook<T> {
        /// Installs the hook: from now on `handler` sees every vCPU timer event first. Fails
        /// with `EBUSY` if another hook is installed.
        pub(crate) fn new(handler: Arc<T>) -> impl PinInit<Self, Error> {
            try_pin_init!(&this in Self {
                handler,
                hook <- Opaque::ffi_init(|hook: *mut bindings::xen_timer_event_hook| {
                    // SAFETY: `ffi_init` hands us valid, writable memory for the hook.
                    unsafe { (*hook).handler = Some(Self::handler_callback) };
                }),
                _pin: PhantomPinned,
                _: {
                    // SAFETY: `this` is pinned and fully initialised; the hook stays valid
                    // until `drop` removes it and waits for the handlers that may be running
                    // it.
                    to_result(unsafe {
                        bindings::xen_timer_set_event_hook(Opaque::cast_into(
                            &raw const (*this.as_ptr()).hook,
                        ))
                    })?;
                    // INVARIANT: installed above.
                },
            })
        }

        /// # Safety
        ///
        /// Called by `xen_timer_interrupt()` with the hook installed by [`Self::new`].
        unsafe extern "C" fn handler_callback(
            hook: *mut bindings::xen_timer_event_hook,
        ) -> bindings::irqreturn_t {
            // CAST: `Opaque<T>` is `repr(transparent)` over `T`.
            let hook = hook.cast::<Opaque<bindings::xen_timer_event_hook>>();
            // SAFETY: By the type invariants the hook is embedded in a `Self`, which stays
            // alive until `drop` has removed the hook and waited for running handlers.
            let this = unsafe { &*kernel::container_of!(hook, Self, hook) };
            // SAFETY: `xen_timer_interrupt()` is an interrupt handler: interrupts stay off
            // until this callback returns.
            let irq_off = unsafe { LocalInterruptDisabled::assume_disabled() };
            if this.handler.timer_event(irq_off) {
                bindings::irqreturn::IRQ_HANDLED
            } else {
                bindings::irqreturn::IRQ_NONE
            }
        }
    }

    #[pinned_drop]
    impl<T: TimerEventHandler> PinnedDrop for TimerEventHook<T> {
        fn drop(self: Pin<&mut Self>) {
            // SAFETY: By the type invariants the hook is installed. The call removes it and
            // waits (`synchronize_rcu()`) until no timer interrupt is still running it.
            unsafe { bindings::xen_timer_clear_event_hook(self.hook.get()) };
        }
    }

    // SAFETY: The hook is only read by the C side; `T` is `Send + Sync`.
    unsafe impl<T: TimerEventHandler> Send for TimerEventHook<T> {}
    // SAFETY: As above.
    unsafe impl<T: TimerEventHandler> Sync for TimerEventHook<T> {}
}

/// Every vCPU's `VIRQ_TIMER` binding, by CPU number: only built in, where the driver replaces
/// the C one (whose `xen_setup_timer()` then binds nothing). The only way to bind it, so that
/// no two bindings of one vCPU's `VIRQ_TIMER` can exist: binding it twice would make the
/// second `request_irq()` fail, and the event core's error path would then close the first
/// binding's event channel under its owner.
///
/// # Invariants
///
/// At most one `VirqTimers` exists at a time (`CLAIMED`); `slots[i]` is CPU `i`'s binding.
#[cfg(not(MODULE))]
#[pin_data(PinnedDrop)]
pub(crate) struct VirqTimers {
    #[pin]
    slots: kernel::sync::Mutex<KVec<Option<VirqTimer>>>,
}

/// Whether a [`VirqTimers`] exists.
#[cfg(not(MODULE))]
static CLAIMED: kernel::sync::atomic::AtomicFlag = kernel::sync::atomic::AtomicFlag::new(false);

#[cfg(not(MODULE))]
impl VirqTimers {
    /// The table, with nothing bound; `EBUSY` if another one exists.
    pub(crate) fn new() -> impl PinInit<Self, Error> {
        try_pin_init!(Self {
            slots <- kernel::new_mutex!(Self::claim()?, "xen_clock_virqs"),
        }? Error)
    }

    /// Claims the one table, and allocates its slots.
    fn claim() -> Result<KVec<Option<VirqTimer>>> {
        if CLAIMED.xchg(true, kernel::sync::atomic::Relaxed) {
            return Err(EBUSY);
        }
        let n = kernel::cpu::nr_cpu_ids() as usize;
        let mut slots = KVec::with_capacity(n, GFP_KERNEL).inspect_err(|_| Self::release())?;
        for _ in 0..n {
            slots
                .push(None, GFP_KERNEL)
                .inspect_err(|_| Self::release())?;
        }
        Ok(slots)
    }

    fn release() {
        CLAIMED.store(false, kernel::sync::atomic::Relaxed);
    }

    /// Binds the `VIRQ_TIMER` of `cpu`'s vCPU to `handler`, named `timerN` as the C driver's,
    /// unbinding this table's former binding of it first (returns whether there was one).
    /// `EBUSY` if something else has it bound.
    pub(crate) fn bind<T: TimerEventHandler>(
        &self,
        cpu: CpuId,
        handler: &'static T,
    ) -> Result<bool> {
        let mut slots = self.slots.lock();
        let slot = slots.get_mut(cpu.as_u32() as usize).ok_or(EINVAL)?;
        let was_bound = slot.take().is_some();
        let mut evtchn = 0;
        // SAFETY: Reads the event core's per-CPU table for a possible CPU; `evtchn_from_irq()`
        // takes -1 (nothing bound) as an irq out of range.
        let irq = unsafe {
            bindings::irq_evtchn_from_virq(cpu.as_u32(), bindings::VIRQ_TIMER, &mut evtchn)
        };
        if irq != -1 {
            return Err(EBUSY);
        }
        *slot = Some(VirqTimer::bind(cpu, handler)?);
        Ok(was_bound)
    }

    /// Unbinds `cpu`'s `VIRQ_TIMER`, if this table bound it.
    pub(crate) fn unbind(&self, cpu: CpuId) {
        if let Some(slot) = self.slots.lock().get_mut(cpu.as_u32() as usize) {
            drop(slot.take());
        }
    }
}

#[cfg(not(MODULE))]
#[pinned_drop]
impl PinnedDrop for VirqTimers {
    fn drop(self: Pin<&mut Self>) {
        for slot in self.slots.lock().iter_mut() {
            drop(slot.take());
        }
        Self::release();
    }
}

/// A vCPU's `VIRQ_TIMER`, bound to the driver's handler as the C driver binds it to
/// `xen_timer_interrupt()` (`xen_setup_timer()`): per CPU, not balanced, a timer interrupt,
/// resumed early and by force; unbound on drop. Only built in, where the driver replaces the C
/// one.
///
/// # Invariants
///
/// `irq` is bound to [`VirqTimer::handler`] with `handler` as its `dev_id` and `name` as its
/// name, from [`VirqTimer::bind`] until drop. It is the only binding of its vCPU's
/// `VIRQ_TIMER` ([`VirqTimers`] creates it).
#[cfg(not(MODULE))]
struct VirqTimer {
    irq: u32,
    dev_id: *mut c_void,
    _name: kernel::str::CString,
}

#[cfg(not(MODULE))]
impl VirqTimer {
    /// Binds the `VIRQ_TIMER` of `cpu`'s vCPU, which nothing has bound ([`VirqTimers::bind`]
    /// checked), to `handler`, named `timerN` as the C driver's.
    fn bind<T: TimerEventHandler>(cpu: CpuId, handler: &'static T) -> Result<Self> {
        let name = kernel::str::CString::try_from_fmt(fmt!("timer{}", cpu.as_u32()))?;
        let dev_id = ptr::from_ref(handler).cast_mut().cast::<c_void>();
        let flags = bindings::IRQF_PERCPU
            | bindings::IRQF_NOBALANCING
            | bindings::IRQF_TIMER
            | bindings::IRQF_FORCE_RESUME
            | bindings::IRQF_EARLY_RESUME;
        // SAFETY: `name` lives as long as the binding (the type invariants); `dev_id` points at a
        // `T` that lives for ever, which is what `handler::<T>` expects.
        let irq = unsafe {
            bindings::bind_virq_to_irqhandler(
                bindings::VIRQ_TIMER,
                cpu.as_u32(),
                Some(Self::handler::<T>),
                // CAST: the flags are bits below 2^32; the parameter is an `unsigned long`.
                flags as usize,
                name.as_char_ptr(),
                dev_id,
            )
        };
        // CAST: a negative value is an error code, anything else an irq number.
        let irq = to_result(irq).map(|()| irq as u32)?;
        let priority = bindings::XEN_IRQ_PRIORITY_MAX;
        // SAFETY: `irq` was bound above. A failure (2-level event channels have no priorities)
        // is ignored, as the C driver does.
        let _ = unsafe { bindings::xen_set_irq_priority(irq, priority) };
        // INVARIANT: bound above, with `dev_id` and `name`.
        Ok(Self {
            irq,
            dev_id,
            _name: name,
        })
    }

    /// # Safety
    ///
    /// Called by the irq core for an irq bound by [`Self::bind`] with `T`.
    unsafe extern "C" fn handler<T: TimerEventHandler>(
        _irq: c_int,
        dev_id: *mut c_void,
    ) -> bindings::irqreturn_t {
        // SAFETY: By the safety requirements `dev_id` is the `&'static T` given to `bind`.
        let handler = unsafe { &*dev_id.cast::<T>() };
        // SAFETY: An interrupt handler runs with interrupts off until it returns.
        let irq_off = unsafe { LocalInterruptDisabled::assume_disabled() };
        if handler.timer_event(irq_off) {
            bindings::irqreturn::IRQ_HANDLED
        } else {
            bindings::irqreturn::IRQ_NONE
        }
    }
}

#[cfg(not(MODULE))]
impl Drop for VirqTimer {
    fn drop(&mut self) {
        // SAFETY: By the type invariants `irq` is bound with `dev_id`; `name` is freed only after
        // this returns, when the binding is gone.
        unsafe { bindings::unbind_from_irqhandler(self.irq, self.dev_id) };
    }
}

#[cfg(not(MODULE))]
// SAFETY: `dev_id` points at a `T: Sync` that lives for ever; the binding may be dropped from
// any thread.
unsafe impl Send for VirqTimer {}
#[cfg(not(MODULE))]
// SAFETY: A shared `VirqTimer` allows nothing.
unsafe impl Sync for VirqTimer {}

/// The entry points through which `arch/x86/xen/time.c` hands Xen time to the built-in driver
/// (declared in `arch/x86/include/asm/xen/hypervisor.h`; `#[export]` checks the signatures
/// against those declarations). Each passes on to [`crate::xen_builtin`].
///
/// They are `unsafe` because `#[export]` wants the type of the C declaration; the only
/// requirement is the calling context each states, which `arch/x86/xen/time.c` keeps.
#[cfg(not(MODULE))]
mod entry {
    use crate::xen_builtin;
    use kernel::{
        cpu::{
            CpuId,
            CurrentCpu, //
        },
        error::from_result,
        ffi::c_int,
        prelude::*, //
    };

    /// From `xen_time_init()`, on the boot CPU, before the first tick, with the C driver's
    /// clocksource rating and timer slop (`xen_timer_slop=`): 0 if the driver took Xen time
    /// over (it then registered the clocksource), an error if the C driver keeps it.
    ///
    /// # Safety
    ///
    /// Called only from `arch/x86/xen/time.c`, in the context stated above.
    #[export]
    unsafe extern "C" fn xen_clock_rust_time_init(
        clocksource_rating: c_int,
        timer_slop_ns: u64,
    ) -> c_int {
        from_result(|| xen_builtin::time_init(clocksource_rating, timer_slop_ns).map(|()| 0))
    }

    /// From `xen_setup_timer()`: the boot CPU from `xen_time_init()`, each other CPU from the
    /// `CPUHP_XEN_PREPARE` state as it comes up, on the CPU that brings it up.
    ///
    /// # Safety
    ///
    /// Called only from `arch/x86/xen/time.c`, in the context stated above.
    #[export]
    unsafe extern "C" fn xen_clock_rust_setup_timer(cpu: c_int) {
        match CpuId::from_i32(cpu) {
            Some(cpu) => xen_builtin::setup_timer(cpu),
            None => pr_err!("setup_timer: no CPU {cpu}\n"),
        }
    }

    /// From `xen_teardown_timer()`, after the CPU died.
    ///
    /// # Safety
    ///
    /// Called only from `arch/x86/xen/time.c`, in the context stated above.
    #[export]
    unsafe extern "C" fn xen_clock_rust_teardown_timer(cpu: c_int) {
        if let Some(cpu) = CpuId::from_i32(cpu) {
            xen_builtin::teardown_timer(cpu);
        }
    }

    /// From `xen_setup_cpu_clockevents()`, on the CPU whose device it is: from `cpu_bringup()`
    /// (PV) or the `setup_percpu_clockev` hook (HVM) as the CPU starts, with interrupts off,
    /// and for the boot CPU from `xen_time_init()` or the HVM set-up, before any other CPU is
    /// up and with preemption still disabled.
    ///
    /// # Safety
    ///
    /// Called only from `arch/x86/xen/time.c`, in the context stated above.
    #[export]
    unsafe extern "C" fn xen_clock_rust_setup_cpu_clockevents() {
        // SAFETY: In either context above the code cannot leave the current CPU during the call.
        let on = unsafe { CurrentCpu::assume_bound() };
        xen_builtin::setup_cpu_clockevents(&on);
    }

    /// From `xen_timer_resume()`, after a save/restore, before time keeping resumes.
    ///
    /// # Safety
    ///
    /// Called only from `arch/x86/xen/time.c`, in the context stated above.
    #[export]
    unsafe extern "C" fn xen_clock_rust_timer_resume() {
        xen_builtin::timer_resume();
    }
}
