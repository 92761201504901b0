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
//! The clocksource, the clock event devices and the CPU hotplug states use the kernel crate's
//! abstractions (`kernel::time::clocksource`, `kernel::time::clockevents`,
//! `kernel::cpu::hotplug`); `tick_bridge.rs` ties the devices to the tick core. All of the
//! driver's `unsafe` code is in `xen_hv.rs` (the hypervisor); the arithmetic is in `pvclock.rs`
//! and `deadline.rs`, which have no kernel dependency and are also tested on the host.

mod checks;
pub mod deadline;
pub mod pvclock;
#[cfg(CONFIG_XEN_CLOCK_RUST_KUNIT_TEST)]
mod pvclock_kunit;
mod tick_bridge;
#[cfg(not(MODULE))]
mod xen_builtin;
mod xen_clockevent;
mod xen_hv;

use kernel::{
    debugfs,
    module_param::ModuleParam,
    prelude::*,
    str::BStr,
    sync::{
        atomic::{
            Atomic,
            AtomicFlag,
            Full,
            Relaxed, //
        },
        Arc, //
    },
    time::clocksource::{
        self,
        Registration, //
    },
};
use pvclock::{
    PVCLOCK_GUEST_STOPPED,
    PVCLOCK_TSC_STABLE_BIT, //
};
use xen_hv::ThisCpuTime;

/// The module's declaration, with the test-only parameters of kernels built with
/// `CONFIG_XEN_CLOCK_RUST_FAULT_INJECTION` appended to the others.
macro_rules! xen_clock_module {
    ($($test_params:tt)*) => {
        module! {
            type: XenClock,
            name: "xen_clock",
            authors: ["The xen-clock developers"],
            description: "Xen guest clock in Rust: pvclock clocksource and vCPU timer clock events",
            license: "GPL",
            params: {
                prefer: bool {
                    default: false,
                    description: "Rate xen-rs above the C xen and tsc clocksources, \
                        so time keeping uses it",
                },
                clockevents: bool {
                    default: true,
                    description: "Register the xen-rs clock event devices \
                        (false: the clocksource only)",
                },
                deadline: DeadlineParam {
                    default: DeadlineParam(deadline::Policy::Delta),
                    description: "How a one-shot deadline is made: \
                        delta (Xen time now + delta, as the C driver; the default), \
                        absolute (the tick core's expiry + the clocks' offset at load), \
                        compensated (Xen time now + delta scaled by the measured drift)",
                },
                min_delta_ns: u64 {
                    default: 1,
                    description: "Shortest delay of a one-shot event in ns, \
                        from 1 to one tick period (timer slop); 1 as in the C driver",
                },
                $($test_params)*
            },
        }
    };
}

#[cfg(not(CONFIG_XEN_CLOCK_RUST_FAULT_INJECTION))]
xen_clock_module!();

#[cfg(CONFIG_XEN_CLOCK_RUST_FAULT_INJECTION)]
xen_clock_module! {
    fail_stop_periodic: u32 {
        default: 0,
        description: "Test only: fail the first N VCPUOP_stop_periodic_timer calls \
            (the probe at load is the first)",
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
}

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

/// Rating without `prefer`: below every rating the C driver gives `xen` (400, or 299 and 275
/// when the TSC is safe to use) and below `tsc` (300), so loading the module never changes the
/// clocksource by itself; `current_clocksource` selects it explicitly.
const RATING_DEFAULT: i32 = 250;

/// Rating with `prefer`: above the C `xen` (400) and `tsc` (300), so the kernel switches to it.
const RATING_PREFERRED: i32 = 410;

/// The highest time any CPU has returned, when Xen does not promise a stable TSC: the `last_value`
/// of `arch/x86/kernel/pvclock.c`, but ours, so that `xen-rs` and `xen` are independent. Reset on
/// resume, because Xen system time restarts from the new host's boot after a migration.
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

/// Whether the driver trusts `PVCLOCK_TSC_STABLE_BIT`: Xen set it on the vCPU that loaded the
/// driver (as C `pvclock_set_flags()` does at boot).
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

/// The `xen-rs` clocksource: a 1 GHz counter of Xen system time.
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

/// How the driver runs.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    /// Beside the C driver, whose devices it takes the tick over from and hands it back to:
    /// the module, or built in where the C driver kept Xen time. Its devices are `xen-rs`.
    Beside,
    /// Built in, in place of the C driver from `xen_time_init()` on (`xen_builtin.rs`), under
    /// the C names and with the clocksource rating the C driver chose.
    #[cfg_attr(MODULE, expect(dead_code))]
    Replacing { rating: i32 },
}

impl Role {
    /// The name of the clocksource and of the clock event devices.
    pub(crate) fn name(self) -> &'static CStr {
        match self {
            Role::Beside => c"xen-rs",
            Role::Replacing { .. } => c"xen",
        }
    }

    /// [`Role::name`], for messages.
    pub(crate) fn label(self) -> &'static str {
        match self {
            Role::Beside => "xen-rs",
            Role::Replacing { .. } => "xen",
        }
    }
}

/// What the checks at load found: how to register the clocksource, and the clock event
/// devices' settings if they are wanted.
#[derive(Clone, Copy)]
pub(crate) struct Probed {
    pub(crate) clocksource: clocksource::Config,
    pub(crate) clockevents: Option<xen_clockevent::Settings>,
}

/// Checks, before anything is registered, that this is a Xen guest with a pvclock record that
/// is safe to read, and the parameters and the guest for the clock event devices if they are
/// wanted.
pub(crate) fn probe(role: Role) -> Result<Probed> {
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
        Some(xen_clockevent::XenClockEvents::probe(
            module_parameters::min_delta_ns.value(),
            guest.vcpuop_timer_in_use,
            module_parameters::deadline.value().0,
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
    let rating = match role {
        Role::Replacing { rating } => rating,
        Role::Beside if module_parameters::prefer.value() => RATING_PREFERRED,
        Role::Beside => RATING_DEFAULT,
    };
    let stable = flags & PVCLOCK_TSC_STABLE_BIT != 0;
    pr_info!(
        "registering clocksource {}, rating {rating}, Xen promises a stable TSC: {stable}\n",
        role.label()
    );
    Ok(Probed {
        clocksource: clocksource::Config {
            name: role.name(),
            rating,
            hz: 1_000_000_000,
        },
        clockevents,
    })
}

/// The driver: from module load (or boot, built in) to unload.
///
/// The fields are dropped in the order they are declared and set up in the opposite one, so
/// that the clock event devices, which take over the tick, come last: once one of them runs
/// a CPU's tick, nothing else can fail and make the driver undo its set-up.
#[pin_data(PinnedDrop)]
struct XenClock {
    // Dropped first: hands every CPU's tick back to the C `xen` device.
    _tick: Option<Pin<KBox<xen_clockevent::TickDevices>>>,
    #[pin]
    _checks: checks::Checks,
    // None when built in and registered by `xen_time_init()` (`xen_builtin.rs`).
    _clocksource: Option<Pin<KBox<Registration<XenTime>>>>,
}

/// Built in, the clock event devices of the driver that `xen_time_init()` handed Xen time to;
/// `None` if the C driver kept it, and always in the module.
fn replacing_c() -> Option<Arc<xen_clockevent::XenClockEvents>> {
    #[cfg(not(MODULE))]
    return xen_builtin::get().map(|time| time.events.clone());
    #[cfg(MODULE)]
    None
}

impl kernel::InPlaceModule for XenClock {
    fn init(module: &'static ThisModule) -> impl PinInit<Self, Error> {
        #[cfg(CONFIG_XEN_CLOCK_RUST_FAULT_INJECTION)]
        xen_hv::fault_inject::arm(
            xen_hv::TimerCall::StopPeriodic,
            module_parameters::fail_stop_periodic.value(),
        );
        let dir = debugfs::Dir::new(c"xen_clock");
        // Built in and in charge since `xen_time_init()`: only debugfs and the CPU hotplug
        // state are left to set up.
        let replacing = replacing_c();
        let probed = match replacing {
            Some(_) => Ok(None),
            None => probe(Role::Beside).map(Some),
        };
        try_pin_init!(Self {
            _clocksource: match probed? {
                Some(probed) => Some(KBox::pin_init(
                    Registration::new(probed.clocksource, XenTime, module),
                    GFP_KERNEL,
                )?),
                None => None,
            },
            _checks <- checks::Checks::new(dir.clone()),
            _tick: match (replacing, probed?.and_then(|p| p.clockevents)) {
                (Some(events), _) => Some(KBox::pin_init(
                    xen_clockevent::TickDevices::new(events, &dir),
                    GFP_KERNEL,
                )?),
                (None, Some(settings)) => Some(KBox::pin_init(
                    xen_clockevent::TickDevices::new(
                        Arc::new(
                            xen_clockevent::XenClockEvents::new(settings, Role::Beside, module)?,
                            GFP_KERNEL,
                        )?,
                        &dir,
                    ),
                    GFP_KERNEL,
                )?),
                (None, None) => None,
            },
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
