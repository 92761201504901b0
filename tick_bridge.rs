// SPDX-License-Identifier: GPL-2.0

//! The loadable module: the `xen-rs` clocksource and clock event devices beside the C `xen`
//! ones of `arch/x86/xen/time.c`, and the bridge to the tick core that takes every CPU's tick
//! over at load and hands it back without losing one.
//!
//! - As each CPU comes online (and on every online CPU at load), its vCPU timer is probed and
//!   its `xen-rs` device registered: rated above the C `xen` device, it takes the CPU's tick
//!   over. Before a CPU goes offline (and on every CPU at unload), the device is unbound, which
//!   hands the tick back to the C device first. Both run from the callbacks of a
//!   `kernel::cpu::hotplug::Registration`.
//! - The vCPU timer's `VIRQ_TIMER` stays bound to the C driver's handler, which offers each
//!   event to the module first (`xen_hv::TimerEventHook`): it goes to the current CPU's
//!   `xen-rs` device if the tick core uses it, and to the C device otherwise. The binding
//!   never changes hands, so no event is lost while the devices do.
//!
//! Only in the module: built in, the driver replaces the C one from the first tick instead
//! (`xen_builtin.rs`), and none of this is needed.
//!
//! Safe code only: the devices are `kernel::time::clockevents`, the hook is in the hypervisor
//! layer.

use crate::{
    module_parameters,
    probe,
    xen_clockevent::{
        Settings,
        TickDevices,
        XenClockEvents, //
    },
    xen_hv::{
        self,
        TimerEventHook, //
    },
    XenTime,
    MIN_DELTA_NS_DEFAULT, //
};
use kernel::{
    cpu::{
        hotplug,
        CurrentCpu, //
    },
    debugfs,
    prelude::*,
    sync::Arc,
    time::clocksource::Registration,
};

/// The clocksource's rating without `prefer`: below every rating the C driver gives `xen`
/// (400, or 299 and 275 when the TSC is safe to use) and below `tsc` (300), so loading the
/// module never changes the clocksource by itself; `current_clocksource` selects it explicitly.
const RATING_DEFAULT: i32 = 250;

/// The clocksource's rating with `prefer`: above the C `xen` (400) and `tsc` (300), so the
/// kernel switches to it.
const RATING_PREFERRED: i32 = 410;

/// The rating of the `tsc` clocksource (`arch/x86/kernel/tsc.c`): the C driver rates `xen`
/// below it where the TSC is safe to use, and `prefer` says so when it overrides that.
const TSC_RATING: i32 = 300;

#[vtable]
impl hotplug::Operations for XenClockEvents {
    /// Never fails: a CPU whose probe fails keeps the C device, and a failure here would make
    /// the hotplug core undo the CPUs set up before, which may no longer be possible (see
    /// [`PerCpuDevices`](kernel::time::clockevents::PerCpuDevices)).
    fn online(&self, on: &CurrentCpu<'_>) -> Result {
        let cpu = on.id();
        let Some(timer) = self.devices.ops(cpu) else {
            return Ok(());
        };
        // The probe of the CPU's vCPU timer: the C driver stopped its periodic timer at boot, so
        // this changes nothing, but a refusal shows that Xen will not let the driver program
        // this vCPU's timers (FreeBSD's driver uses the same test).
        if let Err(e) = timer.stop_periodic() {
            pr_warn!(
                "CPU {}: Xen refused VCPUOP_stop_periodic_timer ({e:?}): its tick stays with \
                 the xen device\n",
                cpu.as_u32()
            );
            return Ok(());
        }
        if let Err(e) = self.devices.register(on) {
            pr_err!("CPU {}: could not register xen-rs: {e:?}\n", cpu.as_u32());
        }
        Ok(())
    }

    fn offline(&self, on: &CurrentCpu<'_>) {
        let cpu = on.id();
        if self.devices.unregister(cpu).is_err() {
            pr_notice!(
                "CPU {}: no other clock event device to take the tick; xen-rs keeps it until \
                 the CPU is down\n",
                cpu.as_u32()
            );
        }
    }
}

/// The clock event devices in charge of the tick of every online CPU, from set-up until drop,
/// which hands each CPU back to the C `xen` device.
///
/// The fields are dropped in the order they are declared, and set up in the opposite order.
#[pin_data]
pub(crate) struct Takeover {
    // Dropped first: removes the CPU hotplug state, whose offline callback unregisters the
    // devices, CPU by CPU, while the hook still routes events.
    #[pin]
    devices: TickDevices,
    // Dropped second, still before the hook: waits for any device the core keeps.
    _unregister: UnregisterAll,
    #[pin]
    hook: TimerEventHook<XenClockEvents>,
}

/// Unregisters every CPU's device when dropped. The offline callbacks have done so already,
/// except where a device was its CPU's only one (an init that failed after the take-over, with
/// the C device unbound meanwhile): then this waits until the tick core lets go of it, and the
/// hook, dropped after it, still passes that CPU's events on.
struct UnregisterAll(Arc<XenClockEvents>);

impl Drop for UnregisterAll {
    fn drop(&mut self) {
        self.0.devices.unregister_all();
    }
}

impl Takeover {
    /// Installs the timer event hook, then registers a device on every online CPU (and on each
    /// CPU that comes online later).
    fn new(
        settings: Settings,
        module: &'static ThisModule,
        dir: &debugfs::Dir,
    ) -> Result<Pin<KBox<Self>>> {
        let events = Arc::new(XenClockEvents::new(settings, module)?, GFP_KERNEL)?;
        let events = Ok::<_, Error>(events);
        KBox::pin_init(
            try_pin_init!(Self {
                hook <- TimerEventHook::new(events.clone()?),
                _unregister: UnregisterAll(events.clone()?),
                devices <- TickDevices::new(events?, dir),
            }? Error),
            GFP_KERNEL,
        )
    }
}

/// The module, from load to unload.
///
/// The fields are dropped in the order they are declared and set up in the opposite one, so
/// that the clock event devices, which take the tick over, come last: once one of them runs a
/// CPU's tick, nothing else can fail and make the module undo its set-up.
#[pin_data]
pub(crate) struct Driver {
    // Dropped first: hands every CPU's tick back to the C `xen` device.
    tick: Option<Pin<KBox<Takeover>>>,
    #[pin]
    _clocksource: Registration<XenTime>,
}

impl Driver {
    /// Probes, registers the `xen-rs` clocksource and, unless `clockevents=0`, takes every
    /// CPU's tick over.
    pub(crate) fn new<'a>(
        module: &'static ThisModule,
        dir: &'a debugfs::Dir,
    ) -> impl PinInit<Self, Error> + 'a {
        let rating = if module_parameters::prefer.value() {
            let c_rating = xen_hv::c_clocksource_rating();
            if c_rating < TSC_RATING {
                pr_notice!(
                    "prefer: rated {RATING_PREFERRED}, above tsc, although the C driver rated \
                     xen {c_rating} so that tsc wins: Xen says the TSC is safe to use here\n"
                );
            }
            RATING_PREFERRED
        } else {
            RATING_DEFAULT
        };
        let probed = probe(rating, MIN_DELTA_NS_DEFAULT);
        try_pin_init!(Self {
            _clocksource <- Registration::new(probed?.clocksource, XenTime, module),
            tick: match probed?.clockevents {
                Some(settings) => Some(Takeover::new(settings, module, dir)?),
                None => None,
            },
        }? Error)
    }
}
