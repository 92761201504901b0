// SPDX-License-Identifier: GPL-2.0

//! Xen guest time in Rust.
//!
//! The crate root of the driver `xen_clock`:
//!
//! - a clocksource that reads Xen system time (nanoseconds since the hypervisor booted) from the
//!   pvclock record of the current vCPU;
//! - a clock event device on every CPU (`xen_clockevent.rs`), on the vCPU's one-shot and
//!   periodic timers;
//! - in debugfs (`xen_clock/`), files that check the clocksource against the C read, measure
//!   both, and count what each CPU's device did.
//!
//! Built in, the driver replaces the C clocksource and devices of `arch/x86/xen/time.c` from
//! `xen_time_init()` on, under their name `xen` (`xen_builtin.rs`). As a module, it registers
//! `xen-rs` beside them and takes every CPU's tick over at load (`tick_bridge.rs`).
//!
//! The clocksource, the clock event devices and the CPU hotplug states use the kernel crate's
//! abstractions (`kernel::time::clocksource`, `kernel::time::clockevents`,
//! `kernel::cpu::hotplug`). All of the driver's `unsafe` code is in `xen_hv.rs` (the
//! hypervisor); the arithmetic is in `pvclock.rs` and `deadline.rs`, which have no kernel
//! dependency and are also tested on the host.

mod checks;
pub mod deadline;
pub mod pvclock;
#[cfg(CONFIG_XEN_CLOCK_RUST_KUNIT_TEST)]
mod pvclock_kunit;
#[cfg(MODULE)]
mod tick_bridge;
#[cfg(not(MODULE))]
mod xen_builtin;
mod xen_clockevent;
mod xen_hv;

use core::fmt;
use kernel::{
    debugfs,
    module_param::ModuleParam,
    prelude::*,
    str::BStr,
    sync::atomic::{
        Atomic,
        AtomicFlag,
        Full,
        Relaxed, //
    },
    time::clocksource::{
        self,
        VdsoClock, //
    },
};
use pvclock::{
    PVCLOCK_GUEST_STOPPED,
    PVCLOCK_TSC_STABLE_BIT, //
};
use xen_hv::ThisCpuTime;

/// The module's declaration, with the parameters given after those of every kernel.
macro_rules! xen_clock_module {
    ($($params:tt)*) => {
        module! {
            type: XenClock,
            name: "xen_clock",
            authors: ["The xen-clock developers"],
            description: "Xen guest clock in Rust: pvclock clocksource and vCPU timer clock events",
            license: "GPL",
            params: {
                clockevents: bool {
                    default: true,
                    description: "Register the clock event devices \
                        (false: the clocksource only, or built in the C driver keeps Xen time)",
                },
                deadline: DeadlineParam {
                    default: DeadlineParam(deadline::Policy::Delta),
                    description: "How a one-shot deadline is made: \
                        delta (Xen time now + delta, as the C driver; the default), \
                        absolute (the tick core's expiry + the clocks' offset at load), \
                        compensated (Xen time now + delta scaled by the measured drift)",
                },
                coupled: bool {
                    default: true,
                    description: "With deadline=delta, let the tick core convert expiries into \
                        Xen time while the clocksource is Xen time (false: read Xen time for \
                        every deadline, as the C driver)",
                },
                min_delta_ns: u64 {
                    default: MIN_DELTA_NS_DEFAULT,
                    description: "Shortest delay of a one-shot event in ns, \
                        from 1 to one tick period (timer slop); 1 as in the C driver; \
                        built in, xen_timer_slop= sets it too",
                },
                $($params)*
            },
        }
    };
}

/// [`xen_clock_module`] with the loadable module's own parameters.
#[cfg(MODULE)]
macro_rules! xen_clock_module_with_mode_params {
    ($($params:tt)*) => {
        xen_clock_module! {
            prefer: bool {
                default: false,
                description: "Rate xen-rs above the C xen and tsc clocksources, \
                    so time keeping uses it",
            },
            $($params)*
        }
    };
}

/// [`xen_clock_module`]: built in, the clocksource takes the C one's rating.
#[cfg(not(MODULE))]
macro_rules! xen_clock_module_with_mode_params {
    ($($params:tt)*) => {
        xen_clock_module! { $($params)* }
    };
}

#[cfg(not(CONFIG_XEN_CLOCK_RUST_FAULT_INJECTION))]
xen_clock_module_with_mode_params!();

// The test-only parameters of kernels built with `CONFIG_XEN_CLOCK_RUST_FAULT_INJECTION`.
#[cfg(CONFIG_XEN_CLOCK_RUST_FAULT_INJECTION)]
xen_clock_module_with_mode_params! {
    fail_stop_periodic: u32 {
        default: 0,
        description: "Test only: fail the first N VCPUOP_stop_periodic_timer calls \
            (the probe is the first)",
    },
    fake_no_vcpuop_timer: bool {
        default: false,
        description: "Test only: probe as if the tick did not run on the VCPUOP timer \
            (an HVM guest without the vector callback)",
    },
    fake_no_safe_pvclock: bool {
        default: false,
        description: "Test only: probe as if Xen did not offer XENFEAT_hvm_safe_pvclock",
    },
    fail_init: bool {
        default: false,
        description: "Test only: with everything registered, hold the init until \
            fault/fail_init is written (at most 60 s), then fail it",
    },
}

/// The name of the clocksource and of the clock event devices. Built in, the driver replaces
/// the C ones and takes their name, which user space knows: scripts that select or check
/// `current_clocksource`, `/proc/timer_list` readers, monitoring. Only one driver of the vCPU
/// timer exists then, so the name is never ambiguous.
#[cfg(not(MODULE))]
pub(crate) const NAME: &CStr = c"xen";

/// The name of the clocksource and of the clock event devices: as a module, the driver
/// registers them beside the C `xen` ones, and `xen-rs` tells them apart.
#[cfg(MODULE)]
pub(crate) const NAME: &CStr = c"xen-rs";

/// The `deadline` parameter: a [`deadline::Policy`], by name.
#[derive(Clone, Copy)]
struct DeadlineParam(deadline::Policy);

impl ModuleParam for DeadlineParam {
    fn try_from_param_arg(arg: &BStr) -> Result<Self> {
        deadline::Policy::from_name(arg).map(Self).ok_or_else(|| {
            pr_err!(
                "deadline={arg}: no such policy; the policies are {}\n",
                deadline::NAMES
            );
            EINVAL
        })
    }
}

/// What the probe finds of the guest, as Xen and the C driver set it up, or as a test kernel's
/// parameters pretend.
struct Guest {
    pvclock_usable: bool,
    vcpuop_timer_in_use: bool,
}

impl Guest {
    fn get() -> Self {
        #[cfg_attr(not(CONFIG_XEN_CLOCK_RUST_FAULT_INJECTION), expect(unused_mut))]
        let mut guest = Self {
            pvclock_usable: xen_hv::pvclock_usable(),
            vcpuop_timer_in_use: xen_hv::vcpuop_timer_in_use(),
        };
        #[cfg(CONFIG_XEN_CLOCK_RUST_FAULT_INJECTION)]
        {
            guest.pvclock_usable &= !module_parameters::fake_no_safe_pvclock.value();
            guest.vcpuop_timer_in_use &= !module_parameters::fake_no_vcpuop_timer.value();
        }
        guest
    }
}

/// The highest time any CPU has returned, when Xen does not promise a stable TSC: the
/// `last_value` of `arch/x86/kernel/pvclock.c`, but ours, so that this clocksource and the C
/// reader that `sched_clock` keeps using are independent. Reset on resume, because Xen system
/// time restarts from the new host's boot after a migration.
static LAST: Atomic<u64> = Atomic::new(0);

/// The orderings of C's `raw_atomic64_read()` and `raw_atomic64_try_cmpxchg()`.
impl pvclock::LastValue for Atomic<u64> {
    #[inline]
    fn load_relaxed(&self) -> u64 {
        self.load(Relaxed)
    }

    #[inline]
    fn compare_exchange(&self, old: u64, new: u64) -> Result<u64, u64> {
        self.cmpxchg(old, new, Full)
    }
}

/// Whether the driver trusts `PVCLOCK_TSC_STABLE_BIT`: Xen set it on the vCPU that probed (as C
/// `pvclock_set_flags()` does at boot).
static TSC_STABLE_TRUSTED: AtomicFlag = AtomicFlag::new(false);

/// The pvclock flags the driver trusts (Linux's `valid_flags`).
#[inline]
fn trusted_flags() -> u8 {
    if TSC_STABLE_TRUSTED.load(Relaxed) {
        PVCLOCK_TSC_STABLE_BIT
    } else {
        0
    }
}

/// Reads Xen system time in nanoseconds on the current vCPU, never going backwards across CPUs.
pub(crate) fn xen_rs_read() -> u64 {
    let Some(src) = ThisCpuTime::get() else {
        // No vcpu_info yet on this CPU (not seen on a PV guest): the last time returned is the
        // best answer that keeps time monotonic.
        return LAST.load(Relaxed);
    };
    let (now, flags) = pvclock::read(&src);
    let now = xen_hv::fault_inject::skewed(now);
    if flags & PVCLOCK_GUEST_STOPPED != 0 {
        src.acknowledge_guest_stopped();
    }
    pvclock::monotonic(&LAST, now, flags & trusted_flags())
}

/// The clocksource: a 1 GHz counter of Xen system time.
struct XenTime;

#[vtable]
impl clocksource::Operations for XenTime {
    fn read(&self) -> u64 {
        xen_rs_read()
    }

    fn resume(&self) {
        LAST.store(0, Relaxed);
    }
}

/// The `min_delta_ns` parameter's default: the C driver's `TIMER_SLOP`.
pub(crate) const MIN_DELTA_NS_DEFAULT: u64 = 1;

/// What the checks found: how to register the clocksource, and the clock event devices'
/// settings if they are wanted.
#[derive(Clone, Copy)]
struct Probed {
    clocksource: clocksource::Config,
    clockevents: Option<xen_clockevent::Settings>,
}

/// Checks, before anything is registered, that this is a Xen guest with a pvclock record that
/// is safe to read, and the parameters and the guest for the clock event devices if they are
/// wanted; the clocksource is to be rated `rating`, and the devices' `min_delta_ns` is
/// `default_min_delta_ns` unless the parameter is given (other than its default).
fn probe(rating: i32, default_min_delta_ns: u64) -> Result<Probed> {
    #[cfg(CONFIG_XEN_CLOCK_RUST_FAULT_INJECTION)]
    xen_hv::fault_inject::arm(
        xen_hv::TimerCall::StopPeriodic,
        module_parameters::fail_stop_periodic.value(),
    );
    if !xen_hv::xen_domain() {
        pr_err!("not running on Xen, nothing to do\n");
        return Err(ENODEV);
    }
    let guest = Guest::get();
    if !guest.pvclock_usable {
        pr_err!(
            "Xen offers no pvclock that is safe to read in this HVM guest \
             (no XENFEAT_hvm_safe_pvclock)\n"
        );
        return Err(ENODEV);
    }
    let clockevents = if module_parameters::clockevents.value() {
        let min_delta_ns = match module_parameters::min_delta_ns.value() {
            MIN_DELTA_NS_DEFAULT if default_min_delta_ns != MIN_DELTA_NS_DEFAULT => {
                pr_info!("min_delta_ns={default_min_delta_ns}, from xen_timer_slop=\n");
                default_min_delta_ns
            }
            given => given,
        };
        Some(xen_clockevent::XenClockEvents::probe(
            min_delta_ns,
            guest.vcpuop_timer_in_use,
            module_parameters::deadline.value().0,
            module_parameters::coupled.value(),
        )?)
    } else {
        None
    };
    let Some(time) = ThisCpuTime::get() else {
        pr_err!("no vcpu_info for this CPU\n");
        return Err(ENODEV);
    };
    let (_, flags) = pvclock::read(&time);
    drop(time);
    TSC_STABLE_TRUSTED.store(flags & PVCLOCK_TSC_STABLE_BIT != 0, Relaxed);
    let stable = flags & PVCLOCK_TSC_STABLE_BIT != 0;
    let vdso = VdsoClock::pvclock();
    pr_info!(
        "registering clocksource {NAME}, rating {rating}, Xen promises a stable TSC: {stable}, \
         read in the vDSO: {}\n",
        vdso.is_some()
    );
    Ok(Probed {
        clocksource: clocksource::Config {
            name: NAME,
            rating,
            hz: 1_000_000_000,
            id: clocksource::Id::XenPvclock,
            // The vCPU timer's devices take deadlines in Xen time (`xen_clockevent.rs`).
            coupled: true,
            vdso,
        },
        clockevents,
    })
}

// How the driver sits in the kernel: as a module beside the C driver (`tick_bridge.rs`), built in
// in its place (`xen_builtin.rs`).
#[cfg(MODULE)]
use tick_bridge::Driver;
#[cfg(not(MODULE))]
use xen_builtin::Driver;

/// The driver: from module load (or boot, built in) to unload.
///
/// The fields are dropped in the order they are declared and set up in the opposite one.
#[pin_data]
struct XenClock {
    // Dropped first: as a module, hands every CPU's tick back to the C `xen` device.
    #[pin]
    _driver: Driver,
    #[pin]
    _checks: checks::Checks,
    #[pin]
    _vdso: debugfs::File<()>,
    // Dropped last, once everything else is gone.
    _farewell: Farewell,
}

/// `xen_clock/vdso`: whether user space reads the clocksource in the vDSO, and if not, why.
fn show_vdso(_: &(), f: &mut fmt::Formatter<'_>) -> fmt::Result {
    match VdsoClock::pvclock() {
        Some(_) => writeln!(f, "pvclock"),
        None => writeln!(
            f,
            "none: Xen promised no stable TSC at boot, so the kernel mapped no pvclock \
             record for the vDSO; every read is a system call"
        ),
    }
}

/// Says "unloaded" when dropped.
struct Farewell;

impl Drop for Farewell {
    fn drop(&mut self) {
        pr_info!("unloaded\n");
    }
}

impl kernel::InPlaceModule for XenClock {
    fn init(module: &'static ThisModule) -> impl PinInit<Self, Error> {
        let dir = debugfs::Dir::new(c"xen_clock");
        try_pin_init!(Self {
            _vdso <- dir.read_callback_file(c"vdso", (), &show_vdso),
            _checks <- checks::Checks::new(dir.clone()),
            _driver <- Driver::new(module, &dir),
            _farewell: Farewell,
        })
        .pin_chain(|_| {
            #[cfg(CONFIG_XEN_CLOCK_RUST_FAULT_INJECTION)]
            xen_hv::fault_inject::fail_init(module_parameters::fail_init.value())?;
            pr_info!("loaded\n");
            Ok(())
        })
    }
}
