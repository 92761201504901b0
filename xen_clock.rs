// SPDX-License-Identifier: GPL-2.0

//! Xen guest time in Rust.
//!
//! The crate root of `xen_clock.ko`:
//!
//! - a clocksource named `xen-rs` that reads Xen system time (nanoseconds since the hypervisor
//!   booted) from the pvclock record of the current vCPU, beside the C `xen` clocksource of
//!   `arch/x86/xen/time.c`, which stays registered;
//! - a clock event device named `xen-rs` on every CPU (`xen_clockevent.rs`), rated above the C
//!   `xen` devices, so that it runs the tick from load until it is unbound;
//! - in debugfs (`xen_clock/`), files that check the clocksource against the C read, measure
//!   both, and count what each CPU's device did.
//!
//! All `unsafe` code is in `tick_bridge.rs` (the kernel's time keeping interfaces) and `xen_hv.rs`
//! (the hypervisor); the arithmetic is in `pvclock.rs`, which has no kernel dependency and is also
//! tested on the host.

mod checks;
pub mod pvclock;
mod pvclock_kunit;
mod tick_bridge;
mod xen_clockevent;
mod xen_hv;

use core::sync::atomic::{
    AtomicU64,
    AtomicU8,
    Ordering, //
};
use kernel::{
    debugfs,
    prelude::*, //
};
use pvclock::{
    PVCLOCK_GUEST_STOPPED,
    PVCLOCK_TSC_STABLE_BIT, //
};
use tick_bridge::{
    Clocksource,
    ClocksourceConfig,
    ClocksourceOps, //
};
use xen_hv::ThisCpuTime;

module! {
    type: XenClock,
    name: "xen_clock",
    authors: ["The xen-clock developers"],
    description: "Xen guest clock in Rust: pvclock clocksource and vCPU timer clock events",
    license: "GPL",
    params: {
        prefer: bool {
            default: false,
            description: "Rate xen-rs above the C xen and tsc clocksources, so time keeping uses it",
        },
        clockevents: bool {
            default: true,
            description: "Register the xen-rs clock event devices (false: the clocksource only)",
        },
        min_delta_ns: u64 {
            default: 1,
            description: "Shortest delay of a one-shot event in ns (timer slop); 1 as in the C driver",
        },
    },
}

/// Rating without `prefer`: below every rating the C driver gives `xen` (400, or 299 and 275
/// when the TSC is safe to use) and below `tsc` (300), so loading the module never changes the
/// clocksource by itself; `current_clocksource` selects it explicitly.
const RATING_DEFAULT: i32 = 250;

/// Rating with `prefer`: above the C `xen` (400) and `tsc` (300), so the kernel switches to it.
const RATING_PREFERRED: i32 = 410;

/// The highest time any CPU has returned, when Xen does not promise a stable TSC: the `last_value`
/// of `arch/x86/kernel/pvclock.c`, but ours, so that `xen-rs` and `xen` are independent. Reset on
/// resume, because Xen system time restarts from the new host's boot after a migration.
static LAST: AtomicU64 = AtomicU64::new(0);

/// The pvclock flags the driver trusts: `PVCLOCK_TSC_STABLE_BIT` if Xen set it on the vCPU that
/// loaded the driver (as C `pvclock_set_flags()` does at boot), else nothing.
static TRUSTED_FLAGS: AtomicU8 = AtomicU8::new(0);

/// Reads Xen system time in nanoseconds on the current vCPU, never going backwards across CPUs.
pub(crate) fn xen_rs_read() -> u64 {
    let Some(src) = ThisCpuTime::get() else {
        // No vcpu_info yet on this CPU (not seen on a PV guest): the last time returned is the
        // best answer that keeps time monotonic.
        return LAST.load(Ordering::Relaxed);
    };
    let (now, flags) = pvclock::read(&src);
    if flags & PVCLOCK_GUEST_STOPPED != 0 {
        src.acknowledge_guest_stopped();
    }
    pvclock::monotonic(&LAST, now, flags & TRUSTED_FLAGS.load(Ordering::Relaxed))
}

/// The `xen-rs` clocksource: a 1 GHz counter of Xen system time.
struct XenTime;

impl ClocksourceOps for XenTime {
    fn read(&self) -> u64 {
        xen_rs_read()
    }

    fn resume(&self) {
        LAST.store(0, Ordering::Relaxed);
    }
}

#[pin_data(PinnedDrop)]
struct XenClock {
    // Dropped first, so that no check can be running while `xen-rs` is unregistered.
    #[pin]
    _checks: checks::Checks,
    // Then the clock event devices, which read the clocksource to program their deadlines.
    _tick: Option<Pin<KBox<xen_clockevent::TickDevices>>>,
    #[pin]
    _clocksource: Clocksource<XenTime>,
}

/// Checks that this is a Xen guest with a pvclock record, and says how to register `xen-rs`.
fn probe() -> Result<ClocksourceConfig> {
    if !xen_hv::xen_domain() {
        pr_err!("not running on Xen, nothing to do\n");
        return Err(ENODEV);
    }
    let Some(time) = ThisCpuTime::get() else {
        pr_err!("no vcpu_info for this CPU\n");
        return Err(ENODEV);
    };
    let (_, flags) = pvclock::read(&time);
    drop(time);
    TRUSTED_FLAGS.store(flags & PVCLOCK_TSC_STABLE_BIT, Ordering::Relaxed);
    let rating = if module_parameters::prefer.value() {
        RATING_PREFERRED
    } else {
        RATING_DEFAULT
    };
    let stable = flags & PVCLOCK_TSC_STABLE_BIT != 0;
    pr_info!(
        "registering clocksource xen-rs, rating {rating}, Xen promises a stable TSC: {stable}\n"
    );
    Ok(ClocksourceConfig {
        name: c"xen-rs",
        rating,
        hz: 1_000_000_000,
    })
}

impl kernel::InPlaceModule for XenClock {
    fn init(module: &'static ThisModule) -> impl PinInit<Self, Error> {
        let config = probe();
        let dir = debugfs::Dir::new(c"xen_clock");
        let events =
            xen_clockevent::XenClockEvents::new(module_parameters::min_delta_ns.value(), module);
        try_pin_init!(Self {
            _clocksource <- Clocksource::register(config?, XenTime, module),
            _tick: if module_parameters::clockevents.value() {
                Some(KBox::pin_init(
                    xen_clockevent::TickDevices::new(events?, &dir),
                    GFP_KERNEL,
                )?)
            } else {
                None
            },
            _checks <- checks::Checks::new(dir.clone()),
        })
        .pin_chain(|_| {
            pr_info!("loaded\n");
            Ok(())
        })
    }
}

#[pinned_drop]
impl PinnedDrop for XenClock {
    fn drop(self: Pin<&mut Self>) {
        pr_info!("unloaded\n");
    }
}
