// SPDX-License-Identifier: GPL-2.0

//! The clock event devices: one per CPU, each programming the Xen timer of the vCPU that runs
//! the CPU, each fed by that vCPU's `VIRQ_TIMER` events.
//!
//! # One-shot deadlines
//!
//! `VCPUOP_set_singleshot_timer` wants an absolute deadline in Xen system time; the tick core
//! thinks in the kernel's clock. How one becomes the other depends on that clock:
//!
//! - While the kernel's clocksource is Xen time (the C `xen` one, or `xen-rs`), the devices are
//!   coupled with it ([`clockevents::Config::coupled_to`]): the tick core converts the absolute
//!   expiry into Xen time with the timekeeper's own mapping, NTP's corrections included, and
//!   the deadline is that value (`set_next_coupled`). Both are the same clock, so the
//!   conversion has no drift to carry; and no clock is read, where programming by a delay
//!   reads Xen time twice (the tick core for the delay, the driver for the deadline) and
//!   carries the time between the two reads into the deadline.
//! - Otherwise (`tsc`, say) the tick core asks for an event `delta` nanoseconds from now,
//!   measured on the kernel's clock. The deadline is Xen time read at programming time plus
//!   `delta` ([`pvclock::oneshot_deadline`]), as the C driver does. If the kernel's clock and
//!   Xen time run at different rates, one event is off by `delta` times the rate difference,
//!   and no more: every programming reads both clocks again, so the error does not accumulate
//!   from one event to the next. Converting the tick core's absolute expiry with an offset
//!   taken once would carry the drift between the two clocks into every deadline.
//!
//! That is the default, `deadline=delta`; the other policies (`absolute`, `compensated`) are
//! never coupled. The error left is measured per event and shown in debugfs
//! (`xen_clock/lateness`): Xen time at delivery minus the deadline, in log2 histograms per CPU.
//!
//! A deadline already past when Xen sees it still fires: the driver does not set
//! `VCPU_SSHOTTMR_future`, so Xen raises the event at once instead of returning `ETIME`.
//!
//! # When Xen refuses a hypercall
//!
//! No refusal may lose a tick, and the tick core's own answer to a failed `set_next_event`
//! would: it retries with a growing `min_delta` and, after a jiffy's worth, gives up with
//! nothing armed. So the device answers failures itself ([`XenTimer::arm`]): a deadline Xen
//! refuses through `VCPUOP_set_singleshot_timer` is armed through the older `set_timer_op`,
//! which programs the same timer; if that fails too, the periodic timer runs as a backstop, so
//! that events keep coming (each one programs the device again) and the next deadline that
//! can be armed stops it. Only if all three fail does the error reach the tick core: Xen then
//! lets this vCPU have no timer at all, and no driver could do better. Handing the CPU back
//! to the C device would not help: it uses the same hypercall, and stops the kernel (`BUG()`)
//! when it fails. A failure to stop a timer only lets an extra event through, which the tick
//! core's handlers take as an early one; it is counted, and the state change goes ahead.
//! Every failure is counted per CPU and operation (`fail_*` in debugfs `xen_clock/clockevents`).
//!
//! # Periodic state
//!
//! `VCPUOP_set_periodic_timer` runs the tick while the vCPU runs. Xen stops a vCPU's periodic
//! timer when it deschedules it, and a blocked (idle) vCPU is descheduled: alone, the periodic
//! timer would never wake an idle CPU, and ticks would be lost. So each event also arms the
//! one-shot timer at the next tick's due time, which wakes a blocked vCPU, and the ticks are
//! counted on an absolute schedule ([`pvclock::periodic_ticks`]): one handler call per tick
//! period passed, however the events arrive (two timers firing together raise the event
//! channel once). If Xen refuses one of the two timers, the other still runs the tick: the
//! one-shot one alone wakes every tick, the periodic one alone while the vCPU runs.
//!
//! # Registration
//!
//! When and where each CPU's device is registered depends on how the driver sits in the
//! kernel: built in, as each CPU starts, in place of the C device (`xen_builtin.rs`); as a
//! module, as each CPU comes online, beside the C device, whose tick it takes over
//! (`tick_bridge.rs`). In both, the tick core itself drops a device that still runs its CPU's
//! tick as the CPU dies; the kernel crate's devices see that (and an unbind through sysfs)
//! from the core's own lists.

use crate::{
    deadline::{
        self,
        DriftEstimator,
        Policy,
        Rate, //
    },
    pvclock::{
        self,
        LATENESS_BUCKETS, //
    },
    xen_hv::{
        fault_inject,
        TimerCall,
        TimerEventHandler,
        VcpuTimer, //
    },
    xen_rs_read, NAME,
};
use core::fmt;
use kernel::{
    cpu::{
        hotplug,
        nr_cpu_ids,
        CpuId, //
    },
    debugfs,
    interrupt::LocalInterruptDisabled,
    new_spinlock,
    prelude::*,
    sync::{
        atomic::{
            Atomic,
            AtomicFlag,
            Relaxed, //
        },
        Arc,
        SpinLock, //
    },
    time::{
        clockevents::{
            self,
            DeviceCpu,
            Event,
            PerCpuDevices,
            TICK_PERIOD, //
        },
        clocksource::{
            self,
            MonotonicSnapshot, //
        },
        Delta,
        Instant,
        Monotonic, //
    }, //
};

/// The devices' rating, built in: the C device's, which they replace.
#[cfg(not(MODULE))]
const RATING: i32 = 500;

/// The devices' rating, as a module: above the C `xen` device (500), so that the tick core
/// moves every CPU to `xen-rs`.
#[cfg(MODULE)]
const RATING: i32 = 510;

/// The longest single delay: Xen accepts any 64-bit deadline; the C driver caps a delay at
/// `0xffffffff` ns (4.3 s), and so do we, so that both devices let an idle CPU sleep as long.
pub(crate) const MAX_DELTA_NS: u64 = 0xffff_ffff;

/// The tick period, `TICK_NSEC` in C.
// CAST: a tick period is positive.
const TICK_PERIOD_NS: u64 = TICK_PERIOD.as_nanos() as u64;

/// The largest `min_delta_ns` the driver accepts: one tick period.
pub(crate) const MAX_MIN_DELTA_NS: u64 = TICK_PERIOD_NS;

/// The most ticks one event delivers in the periodic state. After a long pause (the guest
/// paused or saved) the rest is dropped rather than run thousands of handlers in one
/// interrupt; time keeping itself follows the clocksource, not the tick count.
const MAX_CATCH_UP_TICKS: u64 = 1_000;

/// An event counter of one CPU's device, read from anywhere. It is mostly written on that CPU
/// with interrupts off, but not only (after a restore the built-in driver stops every CPU's
/// periodic timer from one CPU and counts a failure there), so every update is one atomic
/// read-modify-write and none is lost, whoever writes.
struct Counter(Atomic<u64>);

impl Counter {
    const fn new() -> Self {
        Self(Atomic::new(0))
    }

    fn add(&self, n: u64) {
        self.0.fetch_add(n, Relaxed);
    }

    fn get(&self) -> u64 {
        self.0.load(Relaxed)
    }

    /// Sets the counter to `v` if `v` is `better` than its value, in one compare-exchange loop
    /// (another writer may change it between the read and the write).
    fn replace_if(&self, v: u64, better: impl Fn(u64, u64) -> bool) {
        let mut cur = self.get();
        while better(v, cur) {
            match self.0.cmpxchg(cur, v, Relaxed) {
                Ok(_) => return,
                Err(seen) => cur = seen,
            }
        }
    }

    /// Keeps the largest value seen.
    fn max(&self, v: u64) {
        self.replace_if(v, |v, cur| v > cur);
    }

    /// Keeps the smallest value seen.
    fn min(&self, v: u64) {
        self.replace_if(v, |v, cur| v < cur);
    }
}

/// How late one kind of event came, on one CPU: Xen time when the event is handled minus the
/// Xen time it was due (the deadline handed to Xen, or the periodic tick's due time), in the
/// log2 buckets of [`pvclock::lateness_bucket`], with the extremes and the sum; and the
/// events that came with nothing due.
struct Lateness {
    buckets: [Counter; LATENESS_BUCKETS],
    sum_ns: Counter,
    /// `u64::MAX` until the first event.
    min_ns: Counter,
    max_ns: Counter,
    /// Events handled before the time they were due: the tick core finds nothing to run and
    /// programs the device again, so each is an extra interrupt.
    early: Counter,
    /// Events with nothing due at all: a one-shot event after its deadline was cleared (the
    /// timer stopped or reprogrammed just as it fired), or a periodic event with no tick due
    /// (the periodic timer and the one-shot backstop firing apart).
    stray: Counter,
    /// One-shot events before the kernel's own expiry, though on time by Xen's clock (the
    /// deadline policy and the drift between the clocks put the deadline too early): the tick
    /// core found nothing to run and programmed the same expiry again, so each is an extra
    /// interrupt. Counted from that reprogramming, without reading the kernel's clock.
    early_kernel: Counter,
}

impl Lateness {
    const fn new() -> Self {
        Self {
            buckets: [const { Counter::new() }; LATENESS_BUCKETS],
            sum_ns: Counter::new(),
            min_ns: Counter(Atomic::new(u64::MAX)),
            max_ns: Counter::new(),
            early: Counter::new(),
            stray: Counter::new(),
            early_kernel: Counter::new(),
        }
    }

    /// Counts an event handled at Xen time `now`, due at `due`.
    fn record(&self, now: u64, due: u64) {
        let Some(late) = now.checked_sub(due) else {
            self.early.add(1);
            return;
        };
        if let Some(b) = self.buckets.get(pvclock::lateness_bucket(late)) {
            b.add(1);
        }
        self.sum_ns.add(late);
        self.min_ns.min(late);
        self.max_ns.max(late);
    }

    /// Prints one line of `xen_clock/lateness` from one reading of every counter, and returns
    /// the events it counted: in the buckets, early or stray.
    fn show(&self, f: &mut fmt::Formatter<'_>, cpu: u32, kind: &str) -> Result<u64, fmt::Error> {
        let buckets = self.buckets.each_ref().map(Counter::get);
        let count = buckets.iter().fold(0u64, |a, b| a.wrapping_add(*b));
        let (early, stray) = (self.early.get(), self.stray.get());
        let min = if count == 0 { 0 } else { self.min_ns.get() };
        write!(
            f,
            "cpu{cpu} {kind} count={count} min_ns={min} mean_ns={} max_ns={} early={early} \
             stray={stray} early_kernel={} buckets=",
            self.sum_ns.get().checked_div(count).unwrap_or(0),
            self.max_ns.get(),
            self.early_kernel.get(),
        )?;
        write_list(f, buckets)?;
        writeln!(f)?;
        Ok(count.wrapping_add(early).wrapping_add(stray))
    }
}

/// What one CPU's device did, shown in debugfs `xen_clock/clockevents`.
struct TimerStats {
    /// Timer events handled by this device.
    events: Counter,
    /// Calls of the tick core's handler.
    ticks: Counter,
    /// One-shot deadlines programmed.
    programmed: Counter,
    /// Of those, the ones the tick core converted itself (coupled with the clocksource).
    coupled: Counter,
    /// How late the one-shot events and the periodic ticks came.
    oneshot: Lateness,
    periodic: Lateness,
    /// One-shot events that were due but not measured (see [`LatenessSampling`]): in no line of
    /// `xen_clock/lateness` but its `all` line.
    unmeasured: Counter,
    /// Ticks the periodic state dropped after a long pause ([`MAX_CATCH_UP_TICKS`]).
    dropped_ticks: Counter,
    /// Hypercalls Xen refused (or the fault injection failed), per [`TimerCall`].
    failures: [Counter; 5],
    /// Deadlines armed through `set_timer_op` because `VCPUOP_set_singleshot_timer` failed.
    timer_op_fallbacks: Counter,
    /// Times the periodic timer was started as a backstop because no one-shot interface
    /// worked.
    backstops: Counter,
    /// Deadlines nothing could arm: the error went back to the tick core (coupled, it has no
    /// retry: the CPU waits for its next interrupt).
    unarmed: Counter,
}

impl TimerStats {
    const fn new() -> Self {
        Self {
            events: Counter::new(),
            ticks: Counter::new(),
            programmed: Counter::new(),
            coupled: Counter::new(),
            oneshot: Lateness::new(),
            periodic: Lateness::new(),
            unmeasured: Counter::new(),
            dropped_ticks: Counter::new(),
            failures: [const { Counter::new() }; 5],
            timer_op_fallbacks: Counter::new(),
            backstops: Counter::new(),
            unarmed: Counter::new(),
        }
    }

    fn failures(&self, op: TimerCall) -> u64 {
        self.failures.get(op.index()).map_or(0, Counter::get)
    }
}

/// Samples of the drift monitor are at least this much Xen time apart.
const DRIFT_INTERVAL_NS: u64 = 1_000_000_000;

/// The drift monitor's window: the last 64 samples, a minute or more.
const DRIFT_WINDOW: usize = 64;

/// The `compensated` policy follows the estimate once the window holds this many samples, and
/// programs as `delta` before.
const DRIFT_MIN_SAMPLES: usize = 4;

/// Why the drift monitor last started a new window.
#[derive(Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
enum Restart {
    None = 0,
    /// The time keeping core changed its clocksource: the kernel's clock now runs at another
    /// rate.
    Clocksource = 1,
    /// The guest was resumed: Xen time jumped by the time the guest was away.
    Resume = 2,
}

impl Restart {
    fn name(code: u32) -> &'static str {
        match code {
            c if c == Restart::Clocksource as u32 => "clocksource",
            c if c == Restart::Resume as u32 => "resume",
            _ => "none",
        }
    }
}

/// What only the CPU that takes a sample touches: the window and the clocksource it was
/// read from.
struct DriftWindow {
    estimator: DriftEstimator<DRIFT_WINDOW>,
    clocksource_changes: u8,
}

/// The drift monitor: the kernel's clock (`CLOCK_MONOTONIC`, driven by the current
/// clocksource) against Xen system time, sampled from the devices' events at most once per
/// [`DRIFT_INTERVAL_NS`], fitted by least squares over the last [`DRIFT_WINDOW`] samples
/// ([`DriftEstimator`]); the results in atomics, for the `compensated` policy and debugfs
/// `xen_clock/drift`.
///
/// The window is taken with `try_lock` from timer events only (interrupts off): a CPU that
/// finds it taken skips the sample, so no CPU ever spins on it in interrupt context.
#[pin_data]
pub(crate) struct DriftMonitor {
    #[pin]
    window: SpinLock<DriftWindow>,
    /// The Xen time from which the next sample is due: a hint read without the lock.
    next_sample: Atomic<u64>,
    /// A resume happened since the last sample.
    resumed: AtomicFlag,
    /// Xen time minus kernel time, measured at load and after each resume, for the `absolute`
    /// policy.
    absolute_offset_ns: Atomic<i64>,
    samples: Atomic<u64>,
    in_window: Atomic<u64>,
    drift_ppb: Atomic<i64>,
    offset_ns: Atomic<i64>,
    /// What the `compensated` policy scales by: the drift once the window holds
    /// [`DRIFT_MIN_SAMPLES`], else 0.
    compensation_ppb: Atomic<i64>,
    restarts: Atomic<u64>,
    last_restart: Atomic<u32>,
}

/// How many times [`read_pair`] reads the clocks.
const PAIR_ATTEMPTS: usize = 4;

/// The kernel's clock and Xen time, read together: the kernel's read between two Xen reads,
/// paired with their midpoint, from the attempt whose Xen reads are closest. An interrupt or a
/// vCPU preemption between the reads (tens of microseconds under emulation) widens one
/// attempt, which another then beats.
fn read_pair() -> (MonotonicSnapshot, u64) {
    let attempt = || {
        let before = xen_rs_read();
        let kernel = MonotonicSnapshot::now();
        let after = xen_rs_read();
        // `xen_rs_read` never goes backwards, so `after >= before`.
        let width = after.saturating_sub(before);
        (kernel, before.saturating_add(width / 2), width)
    };
    let mut best = attempt();
    for _ in 1..PAIR_ATTEMPTS {
        let next = attempt();
        if next.2 < best.2 {
            best = next;
        }
    }
    (best.0, best.1)
}

/// `CLOCK_MONOTONIC` of a snapshot in nanoseconds (never negative).
fn kernel_ns(kernel: MonotonicSnapshot) -> u64 {
    kernel.monotonic().as_nanos().unsigned_abs()
}

/// Xen time minus kernel time now.
fn clock_offset(kernel: MonotonicSnapshot, xen_ns: u64) -> i64 {
    // CAST: both clocks count nanoseconds from (about) the same boot, far below 2^63.
    (xen_ns as i64).wrapping_sub(kernel_ns(kernel) as i64)
}

impl DriftMonitor {
    fn new() -> impl PinInit<Self> {
        let (kernel, xen) = read_pair();
        pin_init!(Self {
            window <- new_spinlock!(
                DriftWindow {
                    estimator: DriftEstimator::new(),
                    clocksource_changes: kernel.clocksource_changes(),
                },
                "xen_clock_drift"
            ),
            next_sample: Atomic::new(0),
            resumed: AtomicFlag::new(false),
            absolute_offset_ns: Atomic::new(clock_offset(kernel, xen)),
            samples: Atomic::new(0),
            in_window: Atomic::new(0),
            drift_ppb: Atomic::new(0),
            offset_ns: Atomic::new(0),
            compensation_ppb: Atomic::new(0),
            restarts: Atomic::new(0),
            last_restart: Atomic::new(Restart::None as u32),
        })
    }

    /// Called from every timer event, with the Xen time the event read: takes a sample if one
    /// is due and no other CPU is taking one.
    fn on_event(&self, xen_now: u64) {
        if xen_now < self.next_sample.load(Relaxed) {
            return;
        }
        let Some(mut window) = self.window.try_lock() else {
            return;
        };
        let (kernel, xen) = read_pair();
        if xen < self.next_sample.load(Relaxed) {
            return;
        }
        self.next_sample
            .store(xen.saturating_add(DRIFT_INTERVAL_NS), Relaxed);
        let restart = if self.resumed.xchg(false, Relaxed) {
            Restart::Resume
        } else if kernel.clocksource_changes() != window.clocksource_changes {
            Restart::Clocksource
        } else {
            Restart::None
        };
        if restart != Restart::None {
            window.estimator.reset();
            window.clocksource_changes = kernel.clocksource_changes();
            self.restarts
                .store(self.restarts.load(Relaxed).wrapping_add(1), Relaxed);
            self.last_restart.store(restart as u32, Relaxed);
            self.compensation_ppb.store(0, Relaxed);
        }
        window.estimator.add(kernel_ns(kernel), xen);
        self.samples
            .store(self.samples.load(Relaxed).wrapping_add(1), Relaxed);
        let in_window = window.estimator.samples();
        // CAST: at most DRIFT_WINDOW.
        self.in_window.store(in_window as u64, Relaxed);
        if let Some(e) = window.estimator.estimate() {
            self.drift_ppb.store(e.drift_ppb, Relaxed);
            self.offset_ns.store(e.offset_ns, Relaxed);
            if in_window >= DRIFT_MIN_SAMPLES {
                self.compensation_ppb.store(e.drift_ppb, Relaxed);
            }
        }
    }

    /// After a resume (from the tick core's resume of a device, when time keeping runs again):
    /// Xen time jumped, so the `absolute` offset is measured again, and the next sample starts
    /// a new window.
    fn on_resume(&self) {
        let (kernel, xen) = read_pair();
        self.absolute_offset_ns
            .store(clock_offset(kernel, xen), Relaxed);
        self.resumed.store(true, Relaxed);
        self.next_sample.store(0, Relaxed);
    }

    fn compensation(&self) -> Rate {
        Rate::from_ppb(self.compensation_ppb.load(Relaxed))
    }
}

/// Writes a signed number of billionths as millionths with three decimals.
fn write_ppm(f: &mut fmt::Formatter<'_>, ppb: i64) -> fmt::Result {
    let sign = if ppb < 0 { "-" } else { "" };
    let abs = ppb.unsigned_abs();
    write!(f, "{sign}{}.{:03}", abs / 1000, abs % 1000)
}

/// Which one-shot events are measured for `xen_clock/lateness`: one in `period` on each CPU
/// (debugfs `xen_clock/lateness_sampling`; 1 measures every event, 0 none). Measuring reads Xen
/// time once more per event than the C handler does, before the tick core's handler runs, and
/// that read costs the tick some of the lateness it measures (`make bench`); sampling keeps
/// the histograms' shape at a fraction of the cost. The periodic state reads Xen time anyway,
/// so its ticks are always measured.
pub(crate) struct LatenessSampling {
    period: Atomic<u32>,
}

/// The default of [`LatenessSampling`]: one event in 16.
const LATENESS_SAMPLING_DEFAULT: u32 = 16;

impl LatenessSampling {
    /// Whether the event that is the `n`th of its CPU is measured.
    fn measures(&self, n: u64) -> bool {
        match self.period.load(Relaxed) {
            0 => false,
            period => n % u64::from(period) == 0,
        }
    }
}

/// The clock event device of one CPU.
pub(crate) struct XenTimer {
    vcpu: VcpuTimer,
    /// Xen's periodic timer of the vCPU may be running: false only after the driver stopped it
    /// and before it starts it again, so that entering the one-shot state (again after each
    /// `ONESHOT_STOPPED`) skips a hypercall that would change nothing.
    periodic_armed: AtomicFlag,
    /// In the periodic state.
    periodic: AtomicFlag,
    /// One-shot state: the periodic timer runs as a backstop, because the last deadline could
    /// not be armed.
    backstop: AtomicFlag,
    /// Periodic state: the Xen time at which the next tick is due.
    next_tick: Atomic<u64>,
    /// One-shot state: the deadline last programmed, 0 once its event was handled.
    deadline: Atomic<u64>,
    /// The kernel expiry last programmed, and whether a one-shot event that was due has been
    /// handled since: if the first programming after it is for the same expiry, the event came
    /// before that expiry. The tick core programs from its handler, or, with
    /// `CONFIG_HRTIMER_REARM_DEFERRED`, on the way out of the interrupt; either is the first.
    last_expiry: Atomic<u64>,
    after_event: AtomicFlag,
    /// How one-shot deadlines are made (the `deadline` parameter).
    policy: Policy,
    drift: Arc<DriftMonitor>,
    sampling: Arc<LatenessSampling>,
    stats: TimerStats,
}

impl XenTimer {
    fn new(
        cpu: CpuId,
        policy: Policy,
        drift: Arc<DriftMonitor>,
        sampling: Arc<LatenessSampling>,
    ) -> Self {
        Self {
            vcpu: VcpuTimer::new(cpu),
            // Unknown until the probe at the CPU's online stops it.
            periodic_armed: AtomicFlag::new(true),
            last_expiry: Atomic::new(0),
            after_event: AtomicFlag::new(false),
            policy,
            drift,
            sampling,
            periodic: AtomicFlag::new(false),
            backstop: AtomicFlag::new(false),
            next_tick: Atomic::new(0),
            deadline: Atomic::new(0),
            stats: TimerStats::new(),
        }
    }

    /// Counts a failure of `op` and passes the result on.
    fn counted(&self, op: TimerCall, result: Result) -> Result {
        if result.is_err() {
            if let Some(c) = self.stats.failures.get(op.index()) {
                c.add(1);
            }
        }
        result
    }

    /// Stops Xen's periodic timer of the vCPU; while it may run, a failure leaves it marked
    /// as running.
    pub(crate) fn stop_periodic(&self) -> Result {
        self.counted(TimerCall::StopPeriodic, self.vcpu.stop_periodic())?;
        self.periodic_armed.store(false, Relaxed);
        Ok(())
    }

    /// Starts Xen's periodic timer of the vCPU at the tick period.
    fn start_periodic(&self) -> Result {
        // Marked first: a call that fails may still have left an earlier timer running.
        self.periodic_armed.store(true, Relaxed);
        self.counted(
            TimerCall::SetPeriodic,
            self.vcpu.set_periodic(TICK_PERIOD_NS),
        )
    }

    /// Arms the one-shot timer at `deadline`: through `VCPUOP_set_singleshot_timer`, or, if Xen
    /// refuses it, through `set_timer_op`, which programs the same timer.
    fn arm(&self, on: &DeviceCpu<'_>, deadline: u64) -> Result {
        if self
            .counted(
                TimerCall::SetSingleshot,
                VcpuTimer::set_singleshot(on, deadline),
            )
            .is_ok()
        {
            return Ok(());
        }
        self.counted(TimerCall::SetTimerOp, VcpuTimer::set_timer_op(on, deadline))?;
        self.stats.timer_op_fallbacks.add(1);
        Ok(())
    }

    /// Arms the one-shot `deadline` (Xen time) for the tick core's `expiry_ns`; if Xen refuses
    /// both one-shot interfaces, starts the periodic backstop, and fails only if that fails too.
    fn program(&self, cpu: &DeviceCpu<'_>, deadline: u64, expiry_ns: u64) -> Result {
        // Loads and stores: no locked instruction for a statistic.
        if self.after_event.load(Relaxed) {
            self.after_event.store(false, Relaxed);
            if self.last_expiry.load(Relaxed) == expiry_ns {
                self.stats.oneshot.early_kernel.add(1);
            }
        }
        self.last_expiry.store(expiry_ns, Relaxed);
        self.deadline.store(deadline, Relaxed);
        self.stats.programmed.add(1);
        match self.arm(cpu, deadline) {
            Ok(()) => {
                self.stop_backstop();
                Ok(())
            }
            // Events keep coming from the backstop, and each one programs the device again.
            Err(_) if self.backstop.load(Relaxed) => Ok(()),
            Err(e) => {
                if self.start_periodic().is_ok() {
                    self.backstop.store(true, Relaxed);
                    self.stats.backstops.add(1);
                    return Ok(());
                }
                self.stats.unarmed.add(1);
                Err(e)
            }
        }
    }

    /// Stops the periodic backstop of the one-shot state, if it runs. Should Xen refuse, it
    /// keeps running: it only brings extra events, and the next armed deadline tries again.
    fn stop_backstop(&self) {
        if self.backstop.load(Relaxed) && self.stop_periodic().is_ok() {
            self.backstop.store(false, Relaxed);
        }
    }

    fn stop(&self, on: &DeviceCpu<'_>) {
        self.periodic.store(false, Relaxed);
        self.backstop.store(false, Relaxed);
        self.deadline.store(0, Relaxed);
        // A timer that could not be stopped only brings an early event; the failure is counted.
        let _ = self.counted(TimerCall::StopSingleshot, VcpuTimer::stop_singleshot(on));
        let _ = self.stop_periodic();
    }

    fn periodic_event(&self, event: &Event<'_>) {
        let now = xen_rs_read();
        self.drift.on_event(now);
        let first_due = self.next_tick.load(Relaxed);
        let (due, next) = pvclock::periodic_ticks(now, first_due, TICK_PERIOD_NS);
        self.next_tick.store(next, Relaxed);
        if due == 0 {
            self.stats.periodic.stray.add(1);
        } else {
            self.stats.periodic.record(now, first_due);
        }
        // Armed before the handlers run: a vCPU that blocks after this event must still be
        // woken for the next tick. If a handler leaves the periodic state, the tick core
        // reprograms or stops the timer itself. Should Xen refuse both one-shot interfaces,
        // the periodic timer still brings the ticks while the vCPU runs.
        let _ = self.arm(event.cpu(), next);
        let run = due.min(MAX_CATCH_UP_TICKS);
        self.stats.dropped_ticks.add(due - run);
        for _ in 0..run {
            if !self.periodic.load(Relaxed) {
                break;
            }
            event.run_tick_handler();
            self.stats.ticks.add(1);
        }
    }

    fn oneshot_event(&self, event: &Event<'_>, n: u64) {
        let deadline = self.deadline.xchg(0, Relaxed);
        self.after_event.store(deadline != 0, Relaxed);
        match deadline {
            0 => self.stats.oneshot.stray.add(1),
            deadline if self.sampling.measures(n) => {
                let now = xen_rs_read();
                self.stats.oneshot.record(now, deadline);
                self.drift.on_event(now);
            }
            deadline => {
                self.stats.unmeasured.add(1);
                // Xen delivers an event at or after its deadline: a lower bound of the time now
                // is enough to pace the drift monitor, which reads both clocks itself.
                self.drift.on_event(deadline);
            }
        }
        event.run_tick_handler();
        self.stats.ticks.add(1);
    }
}

#[vtable]
impl clockevents::Operations for XenTimer {
    fn set_next_event(
        &self,
        cpu: &DeviceCpu<'_>,
        delta: Delta,
        expiry: Instant<Monotonic>,
    ) -> Result {
        // CAST: the tick core's delays and expiries are never negative.
        let (delta_ns, expiry_ns) = (delta.as_nanos() as u64, expiry.as_nanos() as u64);
        let deadline = match self.policy {
            Policy::Delta => pvclock::oneshot_deadline(xen_rs_read(), delta_ns),
            Policy::Absolute => deadline::deadline(
                Policy::Absolute,
                0,
                delta_ns,
                expiry_ns,
                self.drift.absolute_offset_ns.load(Relaxed),
                Rate::IDENTITY,
            ),
            Policy::Compensated => deadline::deadline(
                Policy::Compensated,
                xen_rs_read(),
                delta_ns,
                expiry_ns,
                0,
                self.drift.compensation(),
            ),
        };
        self.program(cpu, deadline, expiry_ns)
    }

    fn set_next_coupled(&self, cpu: &DeviceCpu<'_>, deadline: u64, expiry: Instant<Monotonic>) {
        // CAST: the tick core's expiries are never negative.
        // Should nothing arm the deadline, `program` counted it: the tick core has no retry here.
        let _ = self.program(cpu, deadline, expiry.as_nanos() as u64);
        // After `programmed`: never more coupled deadlines than programmed ones.
        self.stats.coupled.add(1);
    }

    fn set_state_shutdown(&self, cpu: &DeviceCpu<'_>) -> Result {
        self.stop(cpu);
        Ok(())
    }

    fn set_state_oneshot(&self, _cpu: &DeviceCpu<'_>) -> Result {
        self.periodic.store(false, Relaxed);
        self.backstop.store(false, Relaxed);
        // The tick core enters this state again after each `ONESHOT_STOPPED`; unlike the C
        // device, which stops the periodic timer every time, only a timer that may run is
        // stopped. One left running only brings extra events.
        if self.periodic_armed.load(Relaxed) {
            let _ = self.stop_periodic();
        }
        Ok(())
    }

    fn set_state_periodic(&self, cpu: &DeviceCpu<'_>) -> Result {
        // A one-shot event still armed only comes early: `periodic_event` finds no tick due.
        let _ = self.counted(TimerCall::StopSingleshot, VcpuTimer::stop_singleshot(cpu));
        let next = xen_rs_read().saturating_add(TICK_PERIOD_NS);
        self.next_tick.store(next, Relaxed);
        self.backstop.store(false, Relaxed);
        self.periodic.store(true, Relaxed);
        let periodic = self.start_periodic();
        // Either timer alone keeps the tick going (see the module documentation).
        match (periodic, self.arm(cpu, next)) {
            (Err(e), Err(_)) => {
                self.stats.unarmed.add(1);
                Err(e)
            }
            _ => Ok(()),
        }
    }

    fn set_state_oneshot_stopped(&self, cpu: &DeviceCpu<'_>) -> Result {
        self.stop_backstop();
        // Mostly entered from the handler of the event that consumed the deadline: then nothing
        // is armed, and the hypercall is saved. A deadline still armed would only bring a stray
        // event.
        if self.deadline.xchg(0, Relaxed) != 0 {
            let _ = self.counted(TimerCall::StopSingleshot, VcpuTimer::stop_singleshot(cpu));
        }
        Ok(())
    }

    fn tick_resume(&self, _cpu: &DeviceCpu<'_>) -> Result {
        self.drift.on_resume();
        // As the C driver's `xen_timer_resume()`: no periodic timer survives a resume. What
        // Xen runs after a restore is not known, so the timer is stopped in any case.
        self.periodic.store(false, Relaxed);
        self.backstop.store(false, Relaxed);
        self.periodic_armed.store(true, Relaxed);
        let _ = self.stop_periodic();
        Ok(())
    }
}

impl XenTimer {
    /// Handles a timer event of the device: runs the tick core's handler for the ticks due.
    pub(crate) fn event(&self, event: &Event<'_>) {
        let n = self.stats.events.get();
        self.stats.events.add(1);
        if self.periodic.load(Relaxed) {
            self.periodic_event(event);
        } else {
            self.oneshot_event(event, n);
        }
    }
}

/// The settings of the clock event devices, checked at load ([`XenClockEvents::probe`]).
#[derive(Clone, Copy)]
pub(crate) struct Settings {
    min_delta_ns: u64,
    policy: Policy,
    /// Whether the devices are coupled with the clocksource (`delta` only).
    coupled: bool,
}

/// The devices of all CPUs: what the vCPU timer events and the CPU hotplug states work on.
pub(crate) struct XenClockEvents {
    pub(crate) devices: PerCpuDevices<XenTimer>,
    drift: Arc<DriftMonitor>,
    sampling: Arc<LatenessSampling>,
    policy: Policy,
}

impl XenClockEvents {
    /// Every CPU's device, with the CPU's number, for the debugfs files.
    fn timers(&self) -> impl Iterator<Item = (u32, &XenTimer)> + '_ {
        (0..nr_cpu_ids()).filter_map(|i| Some((i, self.devices.ops(CpuId::from_u32(i)?)?)))
    }

    /// Checks, before anything is registered, the parameters and that the devices can work
    /// here: the C driver must run the tick on the vCPU timer whose events they take over
    /// (`vcpuop_timer_in_use`, from `xen_hv::vcpuop_timer_in_use()`), and Xen must let the
    /// driver program the timer of the vCPU it runs on.
    pub(crate) fn probe(
        min_delta_ns: u64,
        vcpuop_timer_in_use: bool,
        policy: Policy,
        coupled: bool,
    ) -> Result<Settings> {
        // Above one tick period the device could not even run the tick: every event would
        // come late by the excess (the tick core's own limit, `MIN_DELTA_LIMIT`, is a jiffy).
        if min_delta_ns == 0 || min_delta_ns > MAX_MIN_DELTA_NS {
            pr_err!(
                "min_delta_ns={min_delta_ns} is out of range: it must be between 1 and \
                 {MAX_MIN_DELTA_NS} (one tick)\n"
            );
            return Err(EINVAL);
        }
        if !vcpuop_timer_in_use {
            pr_err!(
                "the tick does not run on the Xen vCPU timer here (an HVM guest without the \
                 vector callback?), so these clock events would never fire; clockevents=0 \
                 loads the clocksource alone\n"
            );
            return Err(ENODEV);
        }
        // Another vCPU's periodic timer may be stopped from here, so a migration to another CPU
        // does not matter.
        if let Err(e) = VcpuTimer::new(CpuId::current()).stop_periodic() {
            pr_err!(
                "Xen refused VCPUOP_stop_periodic_timer ({e:?}): the tick stays with the xen \
                 device\n"
            );
            return Err(ENODEV);
        }
        if policy != Policy::Delta {
            pr_info!("one-shot deadlines by the {} policy\n", policy.name());
        }
        Ok(Settings {
            min_delta_ns,
            policy,
            coupled: coupled && policy == Policy::Delta,
        })
    }

    /// Sets up (without registering) a device for each possible CPU.
    pub(crate) fn new(settings: Settings, module: &'static ThisModule) -> Result<Self> {
        // CAST: both limits are far below `i64::MAX` (checked by `probe`, and constant).
        let config = clockevents::Config {
            name: NAME,
            rating: RATING,
            min_delta: Delta::from_nanos(settings.min_delta_ns as i64),
            max_delta: Delta::from_nanos(MAX_DELTA_NS as i64),
            // Only `delta` programs by the kernel's clock as it is; the other policies are
            // there to be compared with it.
            coupled_to: settings.coupled.then_some(clocksource::Id::XenPvclock),
            // As a module, the vCPU timer is also the C `xen` device's, which stays registered
            // for the hand-back.
            tick_only: cfg!(MODULE),
        };
        let drift = Arc::pin_init(DriftMonitor::new(), GFP_KERNEL)?;
        let sampling = Arc::new(
            LatenessSampling {
                period: Atomic::new(LATENESS_SAMPLING_DEFAULT),
            },
            GFP_KERNEL,
        )?;
        let policy = settings.policy;
        let devices = PerCpuDevices::new(
            config,
            |cpu| XenTimer::new(cpu, policy, drift.clone(), sampling.clone()),
            module,
        )?;
        Ok(Self {
            devices,
            drift,
            sampling,
            policy,
        })
    }
}

impl TimerEventHandler for XenClockEvents {
    fn timer_event(&self, irq_off: &LocalInterruptDisabled) -> bool {
        self.devices
            .deliver(irq_off, |timer, event| timer.event(event))
    }
}

/// Writes `values` separated by commas.
fn write_list(f: &mut fmt::Formatter<'_>, values: impl IntoIterator<Item = u64>) -> fmt::Result {
    for (i, v) in values.into_iter().enumerate() {
        let sep = if i == 0 { "" } else { "," };
        write!(f, "{sep}{v}")?;
    }
    Ok(())
}

fn show_stats(events: &Arc<XenClockEvents>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    for (i, t) in events.timers() {
        let s = &t.stats;
        // Read before `programmed`, which it never exceeds (`set_next_coupled`).
        let coupled = s.coupled.get();
        write!(
            f,
            "cpu{i} events={} ticks={} programmed={} dropped_ticks={}",
            s.events.get(),
            s.ticks.get(),
            s.programmed.get(),
            s.dropped_ticks.get(),
        )?;
        for op in TimerCall::ALL {
            write!(f, " fail_{}={}", op.name(), s.failures(op))?;
        }
        writeln!(
            f,
            " timer_op_fallbacks={} backstops={} unarmed={} coupled={}",
            s.timer_op_fallbacks.get(),
            s.backstops.get(),
            s.unarmed.get(),
            coupled,
        )?;
    }
    Ok(())
}

fn show_lateness(events: &Arc<XenClockEvents>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    write!(f, "buckets_us=")?;
    write_list(
        f,
        (0..LATENESS_BUCKETS).map(pvclock::lateness_bucket_floor_us),
    )?;
    writeln!(f)?;
    for (i, t) in events.timers() {
        let s = &t.stats;
        let measured = s
            .oneshot
            .show(f, i, "oneshot")?
            .wrapping_add(s.periodic.show(f, i, "periodic")?);
        let unmeasured = s.unmeasured.get();
        // Each event is counted in `events` first and after in one of the lines above or in
        // `unmeasured`: read in this order, `handled <= events`, and the difference is what
        // arrived in between.
        writeln!(
            f,
            "cpu{i} all handled={} unmeasured={unmeasured} events={} programmed={}",
            measured.wrapping_add(unmeasured),
            s.events.get(),
            s.programmed.get()
        )?;
    }
    Ok(())
}

fn show_lateness_sampling(events: &Arc<XenClockEvents>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    writeln!(f, "{}", events.sampling.period.load(Relaxed))
}

/// Takes the sampling period as a decimal number; anything else is refused with `EINVAL`.
fn store_lateness_sampling(
    events: &Arc<XenClockEvents>,
    reader: &mut kernel::uaccess::UserSliceReader,
) -> Result {
    let mut buf = [0u8; 12];
    let text = buf.get_mut(..reader.len()).ok_or(EINVAL)?;
    reader.read_slice(text)?;
    let period = core::str::from_utf8(text)
        .map_err(|_| EINVAL)?
        .trim()
        .parse::<u32>()
        .map_err(|_| EINVAL)?;
    events.sampling.period.store(period, Relaxed);
    Ok(())
}

fn show_drift(events: &Arc<XenClockEvents>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    let d = &events.drift;
    writeln!(
        f,
        "policy={} absolute_offset_ns={}",
        events.policy.name(),
        d.absolute_offset_ns.load(Relaxed)
    )?;
    write!(
        f,
        "samples={} window={} interval_ms={} drift_ppm=",
        d.samples.load(Relaxed),
        d.in_window.load(Relaxed),
        DRIFT_INTERVAL_NS / 1_000_000,
    )?;
    write_ppm(f, d.drift_ppb.load(Relaxed))?;
    writeln!(
        f,
        " drift_ppb={} offset_ns={} compensation_ppb={}",
        d.drift_ppb.load(Relaxed),
        d.offset_ns.load(Relaxed),
        d.compensation_ppb.load(Relaxed),
    )?;
    writeln!(
        f,
        "restarts={} last_restart={}",
        d.restarts.load(Relaxed),
        Restart::name(d.last_restart.load(Relaxed)),
    )?;
    // A pair read now, for a check from outside: two of them some seconds apart give the drift.
    let (kernel, xen) = read_pair();
    writeln!(f, "now kernel_ns={} xen_ns={xen}", kernel_ns(kernel))
}

/// The clock event devices' debugfs files and their CPU hotplug state, whose callbacks
/// (`tick_bridge.rs` as a module) register the devices; built in (`xen_builtin.rs`) they have
/// nothing to do.
///
/// The fields are dropped in the order they are declared, and set up in the opposite order:
/// the CPU hotplug state, which may register the devices, comes last, so that nothing can fail
/// once a device runs a tick.
#[pin_data]
pub(crate) struct TickDevices {
    // Dropped first: as a module, unregisters the devices, CPU by CPU.
    #[pin]
    hotplug: hotplug::Registration<XenClockEvents>,
    #[pin]
    stats: debugfs::File<Arc<XenClockEvents>>,
    #[pin]
    lateness: debugfs::File<Arc<XenClockEvents>>,
    #[pin]
    drift: debugfs::File<Arc<XenClockEvents>>,
    #[pin]
    lateness_sampling: debugfs::File<Arc<XenClockEvents>>,
    #[pin]
    faults: fault_inject::Files,
}

impl TickDevices {
    /// Creates the debugfs files in `dir`, then sets up the CPU hotplug state: on every online
    /// CPU and on each CPU that comes online later, its `online` callback runs.
    pub(crate) fn new(
        events: Arc<XenClockEvents>,
        dir: &debugfs::Dir,
    ) -> impl PinInit<Self, Error> + '_ {
        let events = Ok::<_, Error>(events);
        try_pin_init!(Self {
            faults <- fault_inject::Files::new(dir),
            stats <- dir.read_callback_file(c"clockevents", events.clone()?, &show_stats),
            lateness <- dir.read_callback_file(c"lateness", events.clone()?, &show_lateness),
            drift <- dir.read_callback_file(c"drift", events.clone()?, &show_drift),
            lateness_sampling <- dir.read_write_callback_file(
                c"lateness_sampling",
                events.clone()?,
                &show_lateness_sampling,
                &store_lateness_sampling,
            ),
            hotplug <- hotplug::Registration::new(c"clockevents/xen_clock:online", events?),
        }? Error)
    }
}
