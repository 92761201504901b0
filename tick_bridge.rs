// SPDX-License-Identifier: GPL-2.0

//! Safe Rust interfaces over the kernel's time keeping devices.
//!
//! - [`PerCpuClockEvents`] holds one `struct clock_event_device` per CPU whose callbacks are
//!   dispatched to a [`ClockEventOps`] implementation, registers and unregisters them CPU by CPU,
//!   and passes timer events to the tick core.
//!
//! Together with the hypervisor layer (`xen_hv.rs`) this file holds all of the driver's `unsafe`
//! code: the rest of the driver is safe Rust.
//!
//! The clocksource and the CPU hotplug states are `kernel::time::clocksource` and
//! `kernel::cpu::hotplug`, in the kernel crate.
//!
//! C header: [include/linux/clockchips.h](srctree/include/linux/clockchips.h)

use core::marker::{
    PhantomData,
    PhantomPinned, //
};
use kernel::{
    alloc::KVec,
    bindings,
    cpu::{
        hotplug::DeadCpu,
        nr_cpu_ids,
        CpuId, //
    },
    error::{
        from_result,
        to_result, //
    },
    ffi::{
        c_int,
        c_ulong, //
    },
    interrupt::LocalInterruptDisabled,
    prelude::*,
    sync::atomic::{
        AtomicFlag,
        Relaxed, //
    },
    types::Opaque, //
};

/// What a clock event device does when the tick core programs it or changes its state.
///
/// The tick core calls each method on the device's own CPU, with interrupts off, so none may
/// sleep. An error makes the tick core retry (for `set_next_event`) or log the failure.
pub(crate) trait ClockEventOps: Send + Sync {
    /// Arms the device to fire `delta_ns` nanoseconds from now (one-shot state): at
    /// `expiry_ns` on the kernel's `CLOCK_MONOTONIC`, which the tick core computed `delta_ns`
    /// from (the device's `next_event`).
    fn set_next_event(&self, delta_ns: u64, expiry_ns: u64) -> Result;
    /// Stops the device: no event may fire until it is set up again.
    fn set_state_shutdown(&self) -> Result;
    /// Enters the one-shot state: events only on `set_next_event`.
    fn set_state_oneshot(&self) -> Result;
    /// Enters the periodic state: an event every tick period (`1 / CONFIG_HZ` s).
    fn set_state_periodic(&self) -> Result;
    /// Stops a one-shot device that has nothing to do. The default shuts it down.
    fn set_state_oneshot_stopped(&self) -> Result {
        self.set_state_shutdown()
    }
    /// Called on resume from suspend, before the device is used again. The default does nothing.
    fn tick_resume(&self) -> Result {
        Ok(())
    }
    /// Handles a timer event of the device (see [`PerCpuClockEvents::deliver`]); `tick` runs
    /// the tick core's handler. The default runs it once.
    fn event(&self, tick: &TickHandler<'_>) {
        tick.run();
    }
}

/// How to set up the clock event device of each CPU.
#[derive(Clone, Copy)]
pub(crate) struct ClockEventConfig {
    /// The name shown in `/proc/timer_list` and sysfs.
    pub(crate) name: &'static CStr,
    /// The rating: the tick core uses the highest rated device of each CPU.
    pub(crate) rating: i32,
    /// Whether the device has a periodic state (it always has a one-shot state).
    pub(crate) periodic: bool,
    /// Whether the device shares its timer with the CPU's other clock event devices, so that
    /// the tick core must only ever use it as the CPU's tick device
    /// (`CLOCK_EVT_FEAT_TICK_ONLY`), never for broadcast or wakeup duty.
    pub(crate) tick_only: bool,
    /// The shortest delay `set_next_event` is asked for, in nanoseconds.
    pub(crate) min_delta_ns: u64,
    /// The longest delay `set_next_event` is asked for, in nanoseconds.
    pub(crate) max_delta_ns: u64,
}

/// The tick core's handler of a device, for the duration of one timer event.
pub(crate) struct TickHandler<'a> {
    ced: *mut bindings::clock_event_device,
    _device: PhantomData<&'a ()>,
}

impl TickHandler<'_> {
    /// Runs the tick core's current handler of the device once. It is read again on each call:
    /// a handler may install another one (`tick_handle_periodic()` switching to high
    /// resolution mode, for instance).
    pub(crate) fn run(&self) {
        // SAFETY: A `TickHandler` only exists during `PerCpuClockEvents::deliver`, which runs on
        // the device's CPU with interrupts off, for a registered device: the tick core does
        // not change the handler concurrently, and a handler it installed may be called.
        unsafe {
            if let Some(handler) = (*self.ced).event_handler {
                handler(self.ced);
            }
        }
    }
}

/// One CPU's clock event device.
///
/// # Invariants
///
/// - `ced` is set up for `cpu` by [`ClockEventDevice::new`]; its callbacks only ever see it
///   embedded in a `ClockEventDevice<T>`.
/// - `ced` may be known to the tick core (registered, and not yet unbound) only while
///   `registered` is true; such a device is never dropped (see [`PerCpuClockEvents`]).
#[pin_data]
struct ClockEventDevice<T: ClockEventOps> {
    #[pin]
    ced: Opaque<bindings::clock_event_device>,
    ops: T,
    cpu: CpuId,
    registered: AtomicFlag,
    #[pin]
    _pin: PhantomPinned,
}

impl<T: ClockEventOps> ClockEventDevice<T> {
    fn new(
        config: ClockEventConfig,
        cpu: CpuId,
        ops: T,
        module: &'static ThisModule,
    ) -> impl PinInit<Self, Error> {
        try_pin_init!(Self {
            ops,
            cpu,
            registered: AtomicFlag::new(false),
            ced <- Opaque::ffi_init(move |ced: *mut bindings::clock_event_device| {
                let mut features = bindings::CLOCK_EVT_FEAT_ONESHOT;
                if config.periodic {
                    features |= bindings::CLOCK_EVT_FEAT_PERIODIC;
                }
                if config.tick_only {
                    features |= bindings::CLOCK_EVT_FEAT_TICK_ONLY;
                }
                // SAFETY: `ffi_init` hands us valid, writable memory for a `clock_event_device`.
                // Zero is a valid value of every field (state `CLOCK_EVT_STATE_DETACHED`, no
                // handler), as for the static devices of C drivers.
                unsafe {
                    ced.write_bytes(0, 1);
                    (*ced).name = config.name.as_char_ptr();
                    (*ced).features = features;
                    (*ced).rating = config.rating;
                    // The device counts in nanoseconds: one tick is one nanosecond.
                    (*ced).mult = 1;
                    (*ced).shift = 0;
                    (*ced).min_delta_ns = config.min_delta_ns;
                    (*ced).max_delta_ns = config.max_delta_ns;
                    // CAST: both limits fit `unsigned long` on 64-bit, the only kind of build.
                    (*ced).min_delta_ticks = config.min_delta_ns as c_ulong;
                    (*ced).max_delta_ticks = config.max_delta_ns as c_ulong;
                    // No irq of its own: its events come through the vCPU timer VIRQ that
                    // the C driver binds; with a one-CPU mask the tick core does not look.
                    (*ced).irq = -1;
                    (*ced).cpumask = bindings::cpumask_of(cpu.as_u32());
                    (*ced).owner = module.as_ptr();
                    (*ced).set_next_event = Some(Self::set_next_event_callback);
                    (*ced).set_state_shutdown = Some(Self::shutdown_callback);
                    (*ced).set_state_oneshot = Some(Self::oneshot_callback);
                    (*ced).set_state_oneshot_stopped = Some(Self::oneshot_stopped_callback);
                    (*ced).tick_resume = Some(Self::tick_resume_callback);
                    if config.periodic {
                        (*ced).set_state_periodic = Some(Self::periodic_callback);
                    }
                }
            }),
            _pin: PhantomPinned,
        })
    }

    /// Registers the device with the tick core, which uses it instead of the CPU's current
    /// tick device if it is rated higher. Must run on the device's CPU: the tick core only
    /// considers a device for the CPU it is registered on.
    fn register(&self) -> Result {
        if CpuId::current() != self.cpu {
            return Err(EINVAL);
        }
        if self.registered.xchg(true, Relaxed) {
            return Ok(());
        }
        // SAFETY: `ced` is set up (type invariants) and pinned. It stays valid while the tick
        // core knows it: `registered` is set, and a registered device is never freed.
        unsafe { bindings::clockevents_register_device(self.ced.get()) };
        Ok(())
    }

    /// Unregisters the device: if it is the CPU's tick device, the tick core switches that CPU
    /// to the best other device first. Fails with `EBUSY` if there is none; the device then
    /// stays registered.
    fn unregister(&self) -> Result {
        if !self.registered.load(Relaxed) {
            return Ok(());
        }
        // CAST: CPU ids are below `nr_cpu_ids`, which fits an `int`.
        let cpu = self.cpu.as_u32() as c_int;
        // SAFETY: `ced` was registered. Unbinding an already unbound device (through sysfs
        // `unbind_device`) only removes it from an empty list again.
        to_result(unsafe { bindings::clockevents_unbind_device(self.ced.get(), cpu) })?;
        self.registered.store(false, Relaxed);
        Ok(())
    }

    /// Passes a timer event to the tick core if the device is in use on this CPU.
    fn deliver(&self, _irq_off: &LocalInterruptDisabled) -> bool {
        if !self.registered.load(Relaxed) {
            return false;
        }
        let ced = self.ced.get();
        // SAFETY: The device is registered, hence valid; we run on its CPU (the caller picked
        // the device of the current CPU) with interrupts off (the token), where the tick core
        // changes its state.
        if unsafe { bindings::clockevent_state_detached(ced) } {
            return false;
        }
        self.ops.event(&TickHandler {
            ced,
            _device: PhantomData,
        });
        true
    }

    /// Records that the tick core no longer knows the device: when a CPU dies,
    /// `tick_offline_cpu()` takes every per-CPU device of it off the tick core's lists, the tick
    /// device included, whether or not it could be unbound before (it cannot when no other
    /// device is left for the CPU, for instance after an admin unbound the C one). The
    /// [`DeadCpu`] token shows that this happened.
    fn forget(&self, cpu: &DeadCpu<'_>) {
        if cpu.id() == self.cpu {
            // INVARIANT: the tick core forgot the device (see above).
            self.registered.store(false, Relaxed);
        }
    }

    /// Gets the `ClockEventDevice<T>` that embeds `ced`.
    ///
    /// # Safety
    ///
    /// `ced` must point at the `ced` field of a live `ClockEventDevice<T>`.
    unsafe fn from_raw<'a>(ced: *mut bindings::clock_event_device) -> &'a Self {
        // CAST: `Opaque<T>` is `repr(transparent)` over `T`.
        let ced = ced.cast::<Opaque<bindings::clock_event_device>>();
        // SAFETY: By the safety requirements, `ced` is the `ced` field of a live `Self`.
        unsafe { &*kernel::container_of!(ced, Self, ced) }
    }

    /// # Safety
    ///
    /// Called by the tick core with a device set up by [`Self::new`].
    unsafe extern "C" fn set_next_event_callback(
        delta: c_ulong,
        ced: *mut bindings::clock_event_device,
    ) -> c_int {
        // SAFETY: By the type invariants, the tick core only calls us with the device embedded
        // in a `ClockEventDevice<T>`, which is alive while registered.
        let this = unsafe { Self::from_raw(ced) };
        // SAFETY: `ced` is valid (above); the tick core wrote `next_event` before this call, on
        // this CPU, and does not write it concurrently.
        let expiry = unsafe { (*ced).next_event };
        // With `mult = 1, shift = 0` the tick core's ticks are nanoseconds.
        // CAST: `unsigned long` is 64 bits wide on the 64-bit builds this driver supports.
        from_result(|| {
            this.ops
                .set_next_event(delta as u64, expiry.max(0).unsigned_abs())
                .map(|()| 0)
        })
    }

    /// # Safety
    ///
    /// As for [`Self::set_next_event_callback`].
    unsafe extern "C" fn shutdown_callback(ced: *mut bindings::clock_event_device) -> c_int {
        // SAFETY: As in `set_next_event_callback`.
        let this = unsafe { Self::from_raw(ced) };
        from_result(|| this.ops.set_state_shutdown().map(|()| 0))
    }

    /// # Safety
    ///
    /// As for [`Self::set_next_event_callback`].
    unsafe extern "C" fn oneshot_callback(ced: *mut bindings::clock_event_device) -> c_int {
        // SAFETY: As in `set_next_event_callback`.
        let this = unsafe { Self::from_raw(ced) };
        from_result(|| this.ops.set_state_oneshot().map(|()| 0))
    }

    /// # Safety
    ///
    /// As for [`Self::set_next_event_callback`].
    unsafe extern "C" fn periodic_callback(ced: *mut bindings::clock_event_device) -> c_int {
        // SAFETY: As in `set_next_event_callback`.
        let this = unsafe { Self::from_raw(ced) };
        from_result(|| this.ops.set_state_periodic().map(|()| 0))
    }

    /// # Safety
    ///
    /// As for [`Self::set_next_event_callback`].
    unsafe extern "C" fn oneshot_stopped_callback(ced: *mut bindings::clock_event_device) -> c_int {
        // SAFETY: As in `set_next_event_callback`.
        let this = unsafe { Self::from_raw(ced) };
        from_result(|| this.ops.set_state_oneshot_stopped().map(|()| 0))
    }

    /// # Safety
    ///
    /// As for [`Self::set_next_event_callback`].
    unsafe extern "C" fn tick_resume_callback(ced: *mut bindings::clock_event_device) -> c_int {
        // SAFETY: As in `set_next_event_callback`.
        let this = unsafe { Self::from_raw(ced) };
        from_result(|| this.ops.tick_resume().map(|()| 0))
    }
}

// SAFETY: The tick core accesses `ced` under its own locking or on the device's CPU with
// interrupts off; the Rust side only reads it in `deliver`, under the same rule. `T` is `Sync`.
unsafe impl<T: ClockEventOps> Sync for ClockEventDevice<T> {}
// SAFETY: Nothing in a `ClockEventDevice<T>` is tied to the thread that created it; `T` is
// `Send`.
unsafe impl<T: ClockEventOps> Send for ClockEventDevice<T> {}

/// A clock event device for every possible CPU, each registered and unregistered on its CPU.
///
/// # Dropping
///
/// Drop unregisters every device, which fails only for a device that is its CPU's tick device
/// with no other device left to take over. Such a device is leaked rather than freed, because
/// the tick core still uses it; that is safe as long as the module stays loaded. It cannot
/// happen when the module goes away: module exit runs only once the module's reference count
/// is zero, and the tick core holds a reference for every CPU whose tick device is one of these
/// (their `owner`); and a module's init must not fail after registering a device (register
/// last, as `xen_clock.rs` does), because a failed init frees the module whatever it holds.
///
/// # Invariants
///
/// `devices[i]` is the device of CPU `i`.
pub(crate) struct PerCpuClockEvents<T: ClockEventOps> {
    devices: KVec<Pin<KBox<ClockEventDevice<T>>>>,
}

impl<T: ClockEventOps> PerCpuClockEvents<T> {
    /// Sets up (without registering) a device for each possible CPU, all with `config`, each
    /// with the operations `ops` returns for its CPU.
    pub(crate) fn new(
        config: ClockEventConfig,
        mut ops: impl FnMut(CpuId) -> T,
        module: &'static ThisModule,
    ) -> Result<Self> {
        let n = nr_cpu_ids();
        let mut devices = KVec::with_capacity(n as usize, GFP_KERNEL)?;
        for i in 0..n {
            let cpu = CpuId::from_u32(i).ok_or(EINVAL)?;
            let ops = ops(cpu);
            devices.push(
                KBox::pin_init(ClockEventDevice::new(config, cpu, ops, module), GFP_KERNEL)?,
                GFP_KERNEL,
            )?;
        }
        Ok(Self { devices })
    }

    fn device(&self, cpu: CpuId) -> Result<&ClockEventDevice<T>> {
        self.devices
            .get(cpu.as_u32() as usize)
            .map(|d| &**d)
            .ok_or(EINVAL)
    }

    /// The operations of `cpu`'s device.
    pub(crate) fn ops(&self, cpu: CpuId) -> Option<&T> {
        self.device(cpu).ok().map(|d| &d.ops)
    }

    /// Registers `cpu`'s device. Must be called on `cpu`, from a context that stays there (a CPU
    /// hotplug callback, for instance); fails with `EINVAL` elsewhere.
    pub(crate) fn register(&self, cpu: CpuId) -> Result {
        self.device(cpu)?.register()
    }

    /// Unregisters `cpu`'s device, handing the CPU's tick to the best other device.
    pub(crate) fn unregister(&self, cpu: CpuId) -> Result {
        self.device(cpu)?.unregister()
    }

    /// Passes a timer event of the current CPU to its device, if the tick core uses that device.
    /// Returns whether it did. Called from the timer interrupt: interrupts are off, so the CPU
    /// cannot change under us.
    pub(crate) fn deliver(&self, irq_off: &LocalInterruptDisabled) -> bool {
        self.device(CpuId::current())
            .is_ok_and(|d| d.deliver(irq_off))
    }

    /// Records that the tick core forgot `cpu`'s device when `cpu` died.
    pub(crate) fn forget(&self, cpu: &DeadCpu<'_>) {
        if let Ok(device) = self.device(cpu.id()) {
            device.forget(cpu);
        }
    }
}

impl<T: ClockEventOps> Drop for PerCpuClockEvents<T> {
    fn drop(&mut self) {
        for device in self.devices.drain_all() {
            if let Err(e) = device.unregister() {
                pr_err!(
                    "CPU {}: clock event device still in use ({e:?}), leaking it\n",
                    device.cpu.as_u32()
                );
                // Never freed, because the tick core may still use it (see "Dropping" above).
                core::mem::forget(device);
            }
        }
    }
}
