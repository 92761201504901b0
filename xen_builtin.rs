// SPDX-License-Identifier: GPL-2.0

//! Built in, the driver is the guest's Xen time from `xen_time_init()` on, in place of the C
//! clocksource and clock event devices of `arch/x86/xen/time.c`.
//!
//! `xen_time_init()` hands Xen time over before the first tick ([`time_init`]): the driver
//! probes, registers the clocksource under the C one's name and rating, and sets up a clock
//! event device for every possible CPU, also under the C name. From then on the C driver's
//! per-CPU functions pass on to it: each CPU's `VIRQ_TIMER` is bound by the driver
//! ([`setup_timer`], on the CPU that brings the CPU up) and its device registered on the CPU
//! itself as it starts ([`setup_cpu_clockevents`]); after a CPU died its `VIRQ_TIMER` is
//! unbound ([`teardown_timer`]); after a restore the periodic timers are stopped
//! ([`timer_resume`]). None of it is ever torn down. The module initcall only adds what
//! needs the rest of the kernel up ([`Driver`]): debugfs, and a CPU hotplug state with
//! nothing to do built in.
//!
//! Only in the built-in driver: the module is loaded long after the first tick, and takes the
//! tick over from the C devices instead (`tick_bridge.rs`).
//!
//! The names are the C ones, `xen` ([`crate::NAME`]).

use crate::{
    module_parameters,
    probe,
    xen_clockevent::{
        TickDevices,
        XenClockEvents, //
    },
    xen_hv::VirqTimers,
    XenTime, //
};
use kernel::{
    cpu::{
        hotplug,
        nr_cpu_ids,
        CpuId,
        CurrentCpu, //
    },
    debugfs,
    prelude::*,
    sync::{
        Arc,
        SetOnce, //
    },
    time::clocksource::Registration,
};

/// Xen time as the built-in driver keeps it, from [`time_init`] until the guest stops.
#[pin_data]
struct BuiltinTime {
    #[pin]
    _clocksource: Registration<XenTime>,
    /// Every CPU's clock event device.
    events: Arc<XenClockEvents>,
    /// Each CPU's `VIRQ_TIMER` binding. Bound and unbound from the C driver's CPU hotplug
    /// prepare stage, which the hotplug core serialises.
    #[pin]
    virqs: VirqTimers,
}

/// Set once, by [`time_init`], if the driver took Xen time over.
static BUILTIN: SetOnce<Pin<KBox<BuiltinTime>>> = SetOnce::new();

/// The driver's Xen time, if `xen_time_init()` handed it over.
fn get() -> Option<&'static BuiltinTime> {
    BUILTIN.as_ref().map(|b| &**b)
}

/// Takes Xen time over from the C driver: probes, registers the clocksource with
/// `clocksource_rating` (the C driver's choice) and sets up every CPU's clock event device,
/// registered later, CPU by CPU ([`setup_cpu_clockevents`]), with the C driver's
/// `timer_slop_ns` (`xen_timer_slop=`) as their `min_delta_ns` unless `min_delta_ns=` is given.
/// On an error, the C driver keeps Xen time, and nothing is left registered.
pub(crate) fn time_init(clocksource_rating: i32, timer_slop_ns: u64) -> Result {
    if !module_parameters::clockevents.value() {
        pr_info!("clockevents=0: the C driver keeps Xen time\n");
        return Err(ENODEV);
    }
    take_over(clocksource_rating, timer_slop_ns).inspect_err(|e| {
        pr_err!(
            "could not take Xen time over ({e:?}): the C xen clocksource and clock event \
             devices keep it\n"
        );
    })?;
    pr_info!("Xen time taken over from the C driver, before the first tick\n");
    Ok(())
}

fn take_over(clocksource_rating: i32, timer_slop_ns: u64) -> Result {
    let probed = probe(clocksource_rating, timer_slop_ns)?;
    let settings = probed.clockevents.ok_or(EINVAL)?;
    let module = kernel::module::this_module::<crate::LocalModule>();
    let events = Arc::new(XenClockEvents::new(settings, module)?, GFP_KERNEL)?;
    let state = KBox::pin_init(
        try_pin_init!(BuiltinTime {
            events,
            virqs <- VirqTimers::new(),
            _clocksource <- Registration::new(probed.clocksource, XenTime, module),
        }? Error),
        GFP_KERNEL,
    )?;
    if BUILTIN.populate(state) {
        Ok(())
    } else {
        Err(EBUSY)
    }
}

/// Binds `cpu`'s `VIRQ_TIMER`, unbinding a binding left from before as the C driver does.
pub(crate) fn setup_timer(cpu: CpuId) {
    let Some(time) = get() else {
        return;
    };
    match time.virqs.bind(cpu, &*time.events) {
        Ok(false) => {}
        Ok(true) => pr_warn!("CPU {}: VIRQ_TIMER was still bound\n", cpu.as_u32()),
        Err(e) => pr_err!(
            "CPU {}: could not bind VIRQ_TIMER ({e:?}): the CPU gets no timer events\n",
            cpu.as_u32()
        ),
    }
}

/// Unbinds `cpu`'s `VIRQ_TIMER`.
pub(crate) fn teardown_timer(cpu: CpuId) {
    if let Some(time) = get() {
        time.virqs.unbind(cpu);
    }
}

/// Registers the current CPU's clock event device: it becomes the CPU's tick device.
pub(crate) fn setup_cpu_clockevents(on: &CurrentCpu<'_>) {
    let Some(time) = get() else {
        return;
    };
    if let Err(e) = time.events.devices.register(on) {
        pr_err!(
            "CPU {}: could not register the clock event device ({e:?})\n",
            on.id().as_u32()
        );
    }
}

/// After a restore: stops the periodic timer of every CPU whose device is registered, which
/// Xen may have restarted; the tick core then resumes each device in its state.
pub(crate) fn timer_resume() {
    let Some(time) = get() else {
        return;
    };
    let devices = &time.events.devices;
    for i in 0..nr_cpu_ids() {
        let Some(cpu) = CpuId::from_u32(i) else {
            continue;
        };
        if let (true, Some(timer)) = (devices.is_registered(cpu), devices.ops(cpu)) {
            if let Err(e) = timer.stop_periodic() {
                pr_warn!("CPU {i}: Xen refused VCPUOP_stop_periodic_timer ({e:?})\n");
            }
        }
    }
}

/// Built in, the devices are registered as each CPU starts ([`setup_cpu_clockevents`]) and run
/// its tick until the CPU is down, as the C ones do: no other device is there to take it. The
/// CPU hotplug state has nothing to do (the tick core drops a dead CPU's device itself).
#[vtable]
impl hotplug::Operations for XenClockEvents {
    fn online(&self, _cpu: &CurrentCpu<'_>) -> Result {
        Ok(())
    }
}

/// What the module initcall adds to the Xen time that [`time_init`] took over: the devices'
/// debugfs files and CPU hotplug state. Never torn down.
#[pin_data]
pub(crate) struct Driver {
    #[pin]
    _devices: TickDevices,
}

impl Driver {
    /// Fails with `ENODEV` if the C driver kept Xen time (the driver said why in
    /// [`time_init`]): then the driver leaves nothing behind, debugfs included.
    pub(crate) fn new<'a>(
        _module: &'static ThisModule,
        dir: &'a debugfs::Dir,
    ) -> impl PinInit<Self, Error> + 'a {
        let events = get().map(|time| time.events.clone()).ok_or(ENODEV);
        try_pin_init!(Self {
            _devices <- TickDevices::new(events?, dir),
        }? Error)
    }
}
