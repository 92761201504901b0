// SPDX-License-Identifier: GPL-2.0

//! The `xen-rs` clock event devices: one per CPU, each programming the Xen timer of the vCPU
//! that runs the CPU, each fed by that vCPU's `VIRQ_TIMER` events.
//!
//! # One-shot deadlines
//!
//! The tick core asks for an event `delta` nanoseconds from now, measured on the kernel's clock;
//! `VCPUOP_set_singleshot_timer` wants an absolute deadline in Xen system time. The deadline is
//! Xen time read at programming time plus `delta` ([`pvclock::oneshot_deadline`]), as the C
//! driver does. If the kernel's clock and Xen time run at different rates, one event is off by
//! `delta` times the rate difference, and no more: every programming reads both clocks again,
//! so the error does not accumulate from one event to the next. Converting the tick core's
//! absolute expiry instead would carry the whole offset between the two clocks into every
//! deadline. The error left is measured per event and shown in debugfs (`late_*`): Xen time at
//! delivery minus the deadline.
//!
//! A deadline already past when Xen sees it still fires: the driver does not set
//! `VCPU_SSHOTTMR_future`, so Xen raises the event at once instead of returning `ETIME`. Should
//! Xen return `ETIME` all the same, the error goes back to the tick core, which programs the
//! device again `min_delta` ahead.
//!
//! # Periodic state
//!
//! `VCPUOP_set_periodic_timer` runs the tick while the vCPU runs. Xen stops a vCPU's periodic
//! timer when it deschedules it, and a blocked (idle) vCPU is descheduled: alone, the periodic
//! timer would never wake an idle CPU, and ticks would be lost. So each event also arms the
//! one-shot timer at the next tick's due time, which wakes a blocked vCPU, and the ticks are
//! counted on an absolute schedule ([`pvclock::periodic_ticks`]): one handler call per tick
//! period passed, however the events arrive (two timers firing together raise the event
//! channel once).

use crate::{
    pvclock,
    tick_bridge::{
        ClockEventConfig,
        ClockEventOps,
        CpuHotplug,
        CpuHotplugOps,
        PerCpuClockEvents,
        TickHandler, //
    },
    xen_hv::{
        TimerEventHandler,
        TimerEventHook,
        VcpuTimer, //
    },
    xen_rs_read,
};
use core::{
    fmt,
    sync::atomic::{
        AtomicBool,
        AtomicU64,
        Ordering, //
    },
};
use kernel::{
    bindings,
    cpu::{
        nr_cpu_ids,
        CpuId, //
    },
    debugfs,
    prelude::*,
    sync::Arc, //
};

/// The devices' name, in `/proc/timer_list` and `/sys/devices/system/clockevents/`.
pub(crate) const NAME: &CStr = c"xen-rs";

/// Above the C `xen` device (500), so that the tick core moves every CPU to `xen-rs`.
pub(crate) const RATING: i32 = 510;

/// The longest single delay: Xen accepts any 64-bit deadline; the C driver caps a delay at
/// `0xffffffff` ns (4.3 s), and so do we, so that both devices let an idle CPU sleep as long.
pub(crate) const MAX_DELTA_NS: u64 = 0xffff_ffff;

/// The tick period, `TICK_NSEC` in C.
const TICK_PERIOD_NS: u64 =
    (1_000_000_000 + bindings::CONFIG_HZ as u64 / 2) / bindings::CONFIG_HZ as u64;

/// The most ticks one event delivers in the periodic state. After a long pause (the guest
/// paused or saved) the rest is dropped rather than run thousands of handlers in one
/// interrupt; time keeping itself follows the clocksource, not the tick count.
const MAX_CATCH_UP_TICKS: u64 = 1_000;

/// An event counter of one CPU, written only on that CPU (with interrupts off) and read from
/// anywhere, so a relaxed load and store suffice: no locked instruction on the hot path.
#[derive(Default)]
struct Counter(AtomicU64);

impl Counter {
    fn add(&self, n: u64) {
        self.0.store(
            self.0.load(Ordering::Relaxed).wrapping_add(n),
            Ordering::Relaxed,
        );
    }

    fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }

    fn max(&self, v: u64) {
        if v > self.get() {
            self.0.store(v, Ordering::Relaxed);
        }
    }
}

/// What one CPU's device did, shown in debugfs `xen_clock/clockevents`.
#[derive(Default)]
struct TimerStats {
    /// Timer events handled by this device.
    events: Counter,
    /// Calls of the tick core's handler.
    ticks: Counter,
    /// One-shot deadlines programmed.
    programmed: Counter,
    /// One-shot events whose deadline had passed when handled, and their lateness.
    late: Counter,
    late_sum_ns: Counter,
    late_max_ns: Counter,
    /// Events handled before the deadline they were meant for (an event raised before the
    /// device was reprogrammed, or Xen's clock a little ahead of ours).
    early: Counter,
    /// Ticks the periodic state dropped after a long pause ([`MAX_CATCH_UP_TICKS`]).
    dropped_ticks: Counter,
    /// Hypercalls Xen refused.
    errors: Counter,
}

/// The `xen-rs` device of one CPU.
pub(crate) struct XenTimer {
    vcpu: VcpuTimer,
    /// In the periodic state.
    periodic: AtomicBool,
    /// Periodic state: the Xen time at which the next tick is due.
    next_tick: AtomicU64,
    /// One-shot state: the deadline last programmed, 0 once its event was handled.
    deadline: AtomicU64,
    stats: TimerStats,
}

impl XenTimer {
    fn new(cpu: CpuId) -> Self {
        Self {
            vcpu: VcpuTimer::new(cpu),
            periodic: AtomicBool::new(false),
            next_tick: AtomicU64::new(0),
            deadline: AtomicU64::new(0),
            stats: TimerStats::default(),
        }
    }

    /// Counts a refused hypercall and passes the error on.
    fn checked(&self, result: Result) -> Result {
        if result.is_err() {
            self.stats.errors.add(1);
        }
        result
    }

    fn stop(&self) -> Result {
        self.periodic.store(false, Ordering::Relaxed);
        self.deadline.store(0, Ordering::Relaxed);
        let single = self.checked(self.vcpu.stop_singleshot());
        let periodic = self.checked(self.vcpu.stop_periodic());
        single.and(periodic)
    }

    fn periodic_event(&self, tick: &TickHandler<'_>) {
        let now = xen_rs_read();
        let (due, next) =
            pvclock::periodic_ticks(now, self.next_tick.load(Ordering::Relaxed), TICK_PERIOD_NS);
        self.next_tick.store(next, Ordering::Relaxed);
        // Armed before the handlers run: a vCPU that blocks after this event must still be
        // woken for the next tick. If a handler leaves the periodic state, the tick core
        // reprograms or stops the timer itself.
        let _ = self.checked(self.vcpu.set_singleshot(next));
        let run = due.min(MAX_CATCH_UP_TICKS);
        self.stats.dropped_ticks.add(due - run);
        for _ in 0..run {
            if !self.periodic.load(Ordering::Relaxed) {
                break;
            }
            tick.run();
            self.stats.ticks.add(1);
        }
    }

    fn oneshot_event(&self, tick: &TickHandler<'_>) {
        let deadline = self.deadline.swap(0, Ordering::Relaxed);
        if deadline != 0 {
            let now = xen_rs_read();
            if now >= deadline {
                let late = now - deadline;
                self.stats.late.add(1);
                self.stats.late_sum_ns.add(late);
                self.stats.late_max_ns.max(late);
            } else {
                self.stats.early.add(1);
            }
        }
        tick.run();
        self.stats.ticks.add(1);
    }
}

impl ClockEventOps for XenTimer {
    fn set_next_event(&self, delta_ns: u64) -> Result {
        let deadline = pvclock::oneshot_deadline(xen_rs_read(), delta_ns);
        self.deadline.store(deadline, Ordering::Relaxed);
        self.stats.programmed.add(1);
        self.checked(self.vcpu.set_singleshot(deadline))
    }

    fn set_state_shutdown(&self) -> Result {
        self.stop()
    }

    fn set_state_oneshot(&self) -> Result {
        self.periodic.store(false, Ordering::Relaxed);
        self.checked(self.vcpu.stop_periodic())
    }

    fn set_state_periodic(&self) -> Result {
        self.checked(self.vcpu.stop_singleshot())?;
        let next = xen_rs_read().saturating_add(TICK_PERIOD_NS);
        self.next_tick.store(next, Ordering::Relaxed);
        self.periodic.store(true, Ordering::Relaxed);
        self.checked(self.vcpu.set_periodic(TICK_PERIOD_NS))?;
        self.checked(self.vcpu.set_singleshot(next))
    }

    fn set_state_oneshot_stopped(&self) -> Result {
        self.deadline.store(0, Ordering::Relaxed);
        self.checked(self.vcpu.stop_singleshot())
    }

    fn tick_resume(&self) -> Result {
        // As the C driver's `xen_timer_resume()`: no periodic timer survives a resume.
        self.periodic.store(false, Ordering::Relaxed);
        self.checked(self.vcpu.stop_periodic())
    }

    fn event(&self, tick: &TickHandler<'_>) {
        self.stats.events.add(1);
        if self.periodic.load(Ordering::Relaxed) {
            self.periodic_event(tick);
        } else {
            self.oneshot_event(tick);
        }
    }
}

/// The devices of all CPUs: what the timer event hook and the CPU hotplug state work on.
pub(crate) struct XenClockEvents {
    devices: PerCpuClockEvents<XenTimer>,
}

impl XenClockEvents {
    /// Sets up (without registering) a device for each possible CPU.
    pub(crate) fn new(min_delta_ns: u64, module: &'static ThisModule) -> Result<Self> {
        if min_delta_ns == 0 || min_delta_ns > MAX_DELTA_NS {
            pr_err!("min_delta_ns must be between 1 and {MAX_DELTA_NS}, not {min_delta_ns}\n");
            return Err(EINVAL);
        }
        let config = ClockEventConfig {
            name: NAME,
            rating: RATING,
            periodic: true,
            // The vCPU timer is also the C `xen` device's.
            tick_only: true,
            min_delta_ns,
            max_delta_ns: MAX_DELTA_NS,
        };
        let devices = PerCpuClockEvents::new(config, XenTimer::new, module)?;
        Ok(Self { devices })
    }
}

impl TimerEventHandler for XenClockEvents {
    fn timer_event(&self) -> bool {
        self.devices.deliver()
    }
}

impl CpuHotplugOps for XenClockEvents {
    fn online(&self, cpu: CpuId) -> Result {
        self.devices.register(cpu)
    }

    fn offline(&self, cpu: CpuId) {
        if let Err(e) = self.devices.unregister(cpu) {
            pr_err!(
                "CPU {}: could not hand the tick back: {e:?}\n",
                cpu.as_u32()
            );
        }
    }
}

fn show_stats(events: &Arc<XenClockEvents>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    for i in 0..nr_cpu_ids() {
        let Some(cpu) = CpuId::from_u32(i) else {
            continue;
        };
        let Some(t) = events.devices.ops(cpu) else {
            continue;
        };
        let s = &t.stats;
        let late = s.late.get();
        let late_avg = s.late_sum_ns.get().checked_div(late).unwrap_or(0);
        writeln!(
            f,
            "cpu{i} events={} ticks={} programmed={} late={late} late_avg_ns={late_avg} \
             late_max_ns={} early={} dropped_ticks={} errors={}",
            s.events.get(),
            s.ticks.get(),
            s.programmed.get(),
            s.late_max_ns.get(),
            s.early.get(),
            s.dropped_ticks.get(),
            s.errors.get(),
        )?;
    }
    Ok(())
}

/// The `xen-rs` clock event devices, in charge of the tick of every online CPU from set-up
/// until drop, which hands each CPU back to the C `xen` device.
#[pin_data]
pub(crate) struct TickDevices {
    // Dropped first: unregisters the devices, CPU by CPU, while the hook still routes events.
    #[pin]
    _hotplug: CpuHotplug<XenClockEvents>,
    #[pin]
    _hook: TimerEventHook<XenClockEvents>,
    #[pin]
    _stats: debugfs::File<Arc<XenClockEvents>>,
}

impl TickDevices {
    /// Installs the timer event hook, then registers a device on every online CPU (and on each
    /// CPU that comes online later).
    pub(crate) fn new(
        events: XenClockEvents,
        dir: &debugfs::Dir,
    ) -> impl PinInit<Self, Error> + '_ {
        let events = Arc::new(events, GFP_KERNEL);
        try_pin_init!(Self {
            _hook <- TimerEventHook::new(events.clone()?),
            _hotplug <- CpuHotplug::new(c"clockevents/xen_clock:online", events.clone()?),
            _stats <- dir.read_callback_file(c"clockevents", events?, &show_stats),
        }? Error)
    }
}
