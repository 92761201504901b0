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
//! needs the rest of the kernel up: debugfs, and the CPU hotplug state that tells the devices
//! a CPU died.
//!
//! Only in the built-in driver: the module is loaded long after the first tick.
//!
//! The names are the C ones, `xen`, because that is what user space and admins know: scripts
//! that check or select `current_clocksource`, `/proc/timer_list` readers, monitoring. Two
//! drivers for one timer never coexist in this mode, so the name is never ambiguous.

use crate::{
    xen_clockevent::XenClockEvents,
    xen_hv::VirqTimer,
    Role,
    XenTime, //
};
use kernel::{
    cpu::{
        nr_cpu_ids,
        CpuId, //
    },
    new_mutex,
    prelude::*,
    sync::{
        Arc,
        Mutex,
        SetOnce, //
    },
    time::clocksource::Registration,
};

/// Xen time as the built-in driver keeps it, from [`time_init`] until the guest stops.
#[pin_data]
pub(crate) struct BuiltinTime {
    #[pin]
    _clocksource: Registration<XenTime>,
    /// Every CPU's clock event device.
    pub(crate) events: Arc<XenClockEvents>,
    /// Each CPU's `VIRQ_TIMER` binding, by CPU number. Bound and unbound from the C driver's
    /// CPU hotplug prepare stage, which the hotplug core serialises; the lock is for the
    /// compiler.
    #[pin]
    virqs: Mutex<KVec<Option<VirqTimer>>>,
}

/// Set once, by [`time_init`], if the driver took Xen time over.
static BUILTIN: SetOnce<Pin<KBox<BuiltinTime>>> = SetOnce::new();

/// The driver's Xen time, if `xen_time_init()` handed it over.
pub(crate) fn get() -> Option<&'static BuiltinTime> {
    BUILTIN.as_ref().map(|b| &**b)
}

/// Takes Xen time over from the C driver: probes, registers the clocksource with
/// `clocksource_rating` (the C driver's choice) and sets up every CPU's clock event device,
/// registered later, CPU by CPU ([`setup_cpu_clockevents`]). On an error, the C driver keeps
/// Xen time, and nothing is left registered.
pub(crate) fn time_init(clocksource_rating: i32) -> Result {
    let role = Role::Replacing {
        rating: clocksource_rating,
    };
    let probed = crate::probe(role).inspect_err(|_| {
        pr_err!("the C xen clocksource and clock event devices keep Xen time\n");
    })?;
    let Some(settings) = probed.clockevents else {
        pr_info!("clockevents=0: the C driver keeps Xen time\n");
        return Err(ENODEV);
    };
    let module = kernel::module::this_module::<crate::LocalModule>();
    let events = Arc::new(XenClockEvents::new(settings, role, module)?, GFP_KERNEL)?;
    let n = nr_cpu_ids() as usize;
    let mut slots = KVec::with_capacity(n, GFP_KERNEL)?;
    for _ in 0..n {
        slots.push(None, GFP_KERNEL)?;
    }
    let state = KBox::pin_init(
        try_pin_init!(BuiltinTime {
            events,
            virqs <- new_mutex!(slots, "xen_clock_virqs"),
            _clocksource <- Registration::new(probed.clocksource, XenTime, module),
        }? Error),
        GFP_KERNEL,
    )?;
    if !BUILTIN.populate(state) {
        return Err(EBUSY);
    }
    pr_info!("Xen time taken over from the C driver, before the first tick\n");
    Ok(())
}

/// Binds `cpu`'s `VIRQ_TIMER`, unbinding a binding left from before as the C driver does.
pub(crate) fn setup_timer(cpu: CpuId) {
    let Some(time) = get() else {
        return;
    };
    let mut virqs = time.virqs.lock();
    let Some(slot) = virqs.get_mut(cpu.as_u32() as usize) else {
        return;
    };
    if slot.take().is_some() {
        pr_warn!("CPU {}: VIRQ_TIMER was still bound\n", cpu.as_u32());
    }
    match VirqTimer::bind(cpu, &*time.events) {
        Ok(virq) => *slot = Some(virq),
        Err(e) => pr_err!(
            "CPU {}: could not bind VIRQ_TIMER ({e:?}): the CPU gets no timer events\n",
            cpu.as_u32()
        ),
    }
}

/// Unbinds `cpu`'s `VIRQ_TIMER`.
pub(crate) fn teardown_timer(cpu: CpuId) {
    if let Some(time) = get() {
        if let Some(slot) = time.virqs.lock().get_mut(cpu.as_u32() as usize) {
            drop(slot.take());
        }
    }
}

/// Registers the current CPU's clock event device: it becomes the CPU's tick device.
pub(crate) fn setup_cpu_clockevents() {
    let Some(time) = get() else {
        return;
    };
    let cpu = CpuId::current();
    if let Err(e) = time.events.devices.register(cpu) {
        pr_err!(
            "CPU {}: could not register the clock event device ({e:?})\n",
            cpu.as_u32()
        );
    }
}

/// After a restore: stops the periodic timer of every CPU whose device is registered, which
/// Xen may have restarted; the tick core then resumes each device in its state.
pub(crate) fn timer_resume() {
    if let Some(time) = get() {
        time.events.stop_periodic_timers();
    }
}
