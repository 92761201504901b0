// SPDX-License-Identifier: GPL-2.0

//! Safe Rust interfaces over the kernel's time keeping devices.
//!
//! - [`Clocksource`] registers a `struct clocksource` whose callbacks are dispatched to a
//!   [`ClocksourceOps`] implementation.
//! - [`PerCpuClockEvents`] holds one `struct clock_event_device` per CPU whose callbacks are
//!   dispatched to a [`ClockEventOps`] implementation, registers and unregisters them CPU by CPU,
//!   and passes timer events to the tick core.
//! - [`CpuHotplug`] runs a [`CpuHotplugOps`] implementation on each CPU as it comes online and
//!   before it goes offline (a dynamic `CPUHP_AP_ONLINE_DYN` state).
//!
//! Together with the hypervisor layer (`xen_hv.rs`) this file holds all of the driver's `unsafe`
//! code: the rest of the driver is safe Rust.
//!
//! C headers: [include/linux/clocksource.h](srctree/include/linux/clocksource.h),
//! [include/linux/clockchips.h](srctree/include/linux/clockchips.h),
//! [include/linux/cpuhotplug.h](srctree/include/linux/cpuhotplug.h)

use core::{
    marker::{
        PhantomData,
        PhantomPinned, //
    },
    sync::atomic::{
        AtomicBool,
        Ordering, //
    },
};
use kernel::{
    alloc::KVec,
    bindings,
    cpu::{
        nr_cpu_ids,
        CpuId, //
    },
    error::{
        from_result,
        to_result, //
    },
    ffi::{
        c_int,
        c_uint,
        c_ulong, //
    },
    interrupt::LocalInterruptDisabled,
    prelude::*,
    sync::Arc,
    types::Opaque, //
};

/// The kernel's `CLOCK_MONOTONIC` at one instant, with the count of clocksource changes.
#[derive(Clone, Copy)]
pub(crate) struct MonotonicSnapshot {
    /// `CLOCK_MONOTONIC` in nanoseconds.
    pub(crate) ns: u64,
    /// How many times the time keeping core changed its clocksource, modulo 256: a change
    /// between two snapshots means they were read from different clocksources.
    pub(crate) clocksource_changes: u8,
}

impl MonotonicSnapshot {
    /// Reads `CLOCK_MONOTONIC` now (`ktime_get_snapshot_id()`).
    ///
    /// Not from the time keeping core's own callbacks (such as [`ClocksourceOps::resume`]),
    /// which run with its sequence count held for writing; any other context, interrupts off
    /// included, is fine.
    pub(crate) fn now() -> Self {
        let mut snap: bindings::system_time_snapshot = pin_init::zeroed();
        // CAST: `CLOCK_MONOTONIC` is 1.
        let clock = bindings::CLOCK_MONOTONIC as bindings::clockid_t;
        // SAFETY: `snap` is a valid, writable `system_time_snapshot`, and `CLOCK_MONOTONIC` is
        // a clock id the function handles.
        unsafe { bindings::ktime_get_snapshot_id(clock, &mut snap) };
        Self {
            // CLOCK_MONOTONIC is never negative.
            ns: snap.systime.max(0).unsigned_abs(),
            clocksource_changes: snap.cs_was_changed_seq,
        }
    }
}

/// What a clocksource does: return its counter, and resynchronise after a system resume.
pub(crate) trait ClocksourceOps: Sync {
    /// Reads the counter. Called from any context, including with interrupts off and from NMI-safe
    /// time keeping paths, so it must not sleep nor take locks.
    fn read(&self) -> u64;

    /// Called by the time keeping core on resume, before the first read. The default does nothing.
    fn resume(&self) {}
}

/// How to register a clocksource.
#[derive(Clone, Copy)]
pub(crate) struct ClocksourceConfig {
    /// The name shown in `available_clocksource`.
    pub(crate) name: &'static CStr,
    /// The rating: the time keeping core uses the highest rated usable clocksource.
    pub(crate) rating: i32,
    /// The counter's frequency in Hz.
    pub(crate) hz: u32,
}

/// A registered clocksource, backed by `T`.
///
/// The counter is 64 bits wide and continuous, and valid for high resolution timers.
///
/// # Invariants
///
/// `cs` is registered with the time keeping core from the end of [`Clocksource::register`] until
/// drop, and its callbacks only ever see it embedded in a `Clocksource<T>`.
#[pin_data(PinnedDrop)]
pub(crate) struct Clocksource<T: ClocksourceOps> {
    #[pin]
    cs: Opaque<bindings::clocksource>,
    ops: T,
    #[pin]
    _pin: PhantomPinned,
}

impl<T: ClocksourceOps> Clocksource<T> {
    /// Registers a clocksource whose owner is `module`: while the clocksource is in use, the
    /// module cannot be unloaded.
    pub(crate) fn register(
        config: ClocksourceConfig,
        ops: T,
        module: &'static ThisModule,
    ) -> impl PinInit<Self, Error> {
        try_pin_init!(&this in Self {
            ops,
            cs <- Opaque::ffi_init(move |cs: *mut bindings::clocksource| {
                // SAFETY: `ffi_init` hands us valid, writable memory for a `clocksource`; every
                // field not written here is zero, as the C users of static clocksources expect.
                unsafe {
                    cs.write_bytes(0, 1);
                    (*cs).name = config.name.as_char_ptr();
                    (*cs).rating = config.rating;
                    (*cs).read = Some(Self::read_callback);
                    (*cs).resume = Some(Self::resume_callback);
                    (*cs).mask = u64::MAX;
                    // CAST: small bit masks, `u32` in the bindings, `unsigned long` in C.
                    (*cs).flags = (bindings::CLOCK_SOURCE_IS_CONTINUOUS
                        | bindings::CLOCK_SOURCE_VALID_FOR_HRES)
                        as kernel::ffi::c_ulong;
                    (*cs).owner = module.as_ptr();
                }
            }),
            _pin: PhantomPinned,
            _: {
                // SAFETY: `this` is pinned and every field is initialised, so the time keeping
                // core may keep a pointer to `cs` until `drop` unregisters it.
                to_result(unsafe {
                    bindings::__clocksource_register_scale(
                        Opaque::cast_into(&raw const (*this.as_ptr()).cs),
                        1,
                        config.hz,
                    )
                })?;
                // INVARIANT: registered above.
            },
        })
    }

    /// Gets the `Clocksource<T>` that embeds `cs`.
    ///
    /// # Safety
    ///
    /// `cs` must point at the `cs` field of a live `Clocksource<T>`.
    unsafe fn from_raw<'a>(cs: *mut bindings::clocksource) -> &'a Self {
        // CAST: `Opaque<T>` is `repr(transparent)` over `T`.
        let cs = cs.cast::<Opaque<bindings::clocksource>>();
        // SAFETY: By the safety requirements, `cs` is the `cs` field of a `Self`, which is alive
        // for `'a` (the duration of the callback).
        unsafe { &*kernel::container_of!(cs, Self, cs) }
    }

    /// # Safety
    ///
    /// Called by the time keeping core with a clocksource registered by [`Self::register`].
    unsafe extern "C" fn read_callback(cs: *mut bindings::clocksource) -> u64 {
        // SAFETY: By the type invariants, the core only calls us with the clocksource embedded in
        // a registered, hence live, `Clocksource<T>`.
        unsafe { Self::from_raw(cs) }.ops.read()
    }

    /// # Safety
    ///
    /// Called by the time keeping core with a clocksource registered by [`Self::register`].
    unsafe extern "C" fn resume_callback(cs: *mut bindings::clocksource) {
        // SAFETY: As in `read_callback`.
        unsafe { Self::from_raw(cs) }.ops.resume()
    }
}

#[pinned_drop]
impl<T: ClocksourceOps> PinnedDrop for Clocksource<T> {
    fn drop(self: Pin<&mut Self>) {
        // SAFETY: By the type invariants `cs` is registered. While it is the current clocksource,
        // it holds a reference on the module that owns it, so the module (and this object) cannot
        // go away before the core switched to another clocksource; `clocksource_unregister()`
        // then waits for readers through `stop_machine()` when it is the watchdog or current one.
        let ret = unsafe { bindings::clocksource_unregister(self.cs.get()) };
        if ret != 0 {
            pr_err!("clocksource_unregister failed: {}\n", ret);
        }
    }
}

// SAFETY: The C side only reads the `clocksource` fields we wrote before registration, and `T` is
// `Sync`, so sharing a `Clocksource<T>` between CPUs is sound.
unsafe impl<T: ClocksourceOps> Sync for Clocksource<T> {}
// SAFETY: Nothing in a `Clocksource<T>` is tied to the thread that created it.
unsafe impl<T: ClocksourceOps + Send> Send for Clocksource<T> {}

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
    registered: AtomicBool,
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
            registered: AtomicBool::new(false),
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
        if self.registered.swap(true, Ordering::Relaxed) {
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
        if !self.registered.load(Ordering::Relaxed) {
            return Ok(());
        }
        // CAST: CPU ids are below `nr_cpu_ids`, which fits an `int`.
        let cpu = self.cpu.as_u32() as c_int;
        // SAFETY: `ced` was registered. Unbinding an already unbound device (through sysfs
        // `unbind_device`) only removes it from an empty list again.
        to_result(unsafe { bindings::clockevents_unbind_device(self.ced.get(), cpu) })?;
        self.registered.store(false, Ordering::Relaxed);
        Ok(())
    }

    /// Passes a timer event to the tick core if the device is in use on this CPU.
    fn deliver(&self, _irq_off: &LocalInterruptDisabled) -> bool {
        if !self.registered.load(Ordering::Relaxed) {
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
            self.registered.store(false, Ordering::Relaxed);
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

/// A CPU that has died: its hotplug teardown ran past `CPUHP_AP_TICK_DYING`, where the tick
/// core forgot every per-CPU clock event device of it. Only [`CpuHotplug`]'s callback of the
/// `CPUHP_BP_PREPARE_DYN` stage creates one, for the duration of the call.
pub(crate) struct DeadCpu<'a> {
    cpu: CpuId,
    _callback: PhantomData<&'a ()>,
}

impl DeadCpu<'_> {
    /// The CPU's number.
    pub(crate) fn id(&self) -> CpuId {
        self.cpu
    }
}

/// What runs as CPUs come and go.
#[vtable]
pub(crate) trait CpuHotplugOps: Send + Sync {
    /// Called on `cpu`, in its hotplug thread, when it is online (and for every online CPU when
    /// the [`CpuHotplug`] is set up). An error stops `cpu` from coming online.
    fn online(&self, cpu: CpuId) -> Result;

    /// Called on `cpu`, in its hotplug thread, before it goes offline (and for every online CPU
    /// when the [`CpuHotplug`] is dropped).
    fn offline(&self, cpu: CpuId);

    /// Called on another CPU once `cpu` is dead, before it can come online again.
    fn dead(&self, _cpu: &DeadCpu<'_>) {
        build_error!(kernel::error::VTABLE_DEFAULT_ERROR)
    }
}

/// A dynamic CPU hotplug state of multi-instance callbacks, removed on drop.
struct DynamicState(c_int);

type SingleCallback = unsafe extern "C" fn(c_uint) -> c_int;
type MultiCallback = unsafe extern "C" fn(c_uint, *mut bindings::hlist_node) -> c_int;

impl DynamicState {
    /// Sets up a state in the dynamic range that starts at `first` (`CPUHP_AP_ONLINE_DYN` or
    /// `CPUHP_BP_PREPARE_DYN`).
    fn new(
        first: bindings::cpuhp_state,
        name: &'static CStr,
        startup: Option<MultiCallback>,
        teardown: Option<MultiCallback>,
    ) -> Result<Self> {
        // For a multi-instance state the hotplug core stores the callbacks in a union and calls
        // them with the `(cpu, node)` signature: C's `cpuhp_setup_state_multi()` casts them to
        // the single-instance type too.
        let cast = |f: MultiCallback| {
            // SAFETY: Both are function pointers; the hotplug core calls the result with the
            // signature it was created with (see above).
            unsafe { core::mem::transmute::<MultiCallback, SingleCallback>(f) }
        };
        // SAFETY: `name` is a static string; the callbacks have the right signature; `invoke`
        // is false because no instance exists yet.
        let state = unsafe {
            bindings::__cpuhp_setup_state(
                first,
                name.as_char_ptr(),
                false,
                startup.map(cast),
                teardown.map(cast),
                true,
            )
        };
        to_result(state)?;
        Ok(Self(state))
    }
}

impl Drop for DynamicState {
    fn drop(&mut self) {
        // SAFETY: The state was set up by `new`; its instance, if any, was removed before.
        unsafe { bindings::__cpuhp_remove_state(self.0, false) };
    }
}

/// Runs `T` on each CPU as it comes online and before it goes offline, from the moment it is
/// set up (for every CPU online then) until it is dropped (for every CPU online then), and,
/// if `T` has [`CpuHotplugOps::dead`], after each CPU died.
///
/// # Invariants
///
/// - `online_node` is an instance of `online` from the end of [`CpuHotplug::new`] until drop;
/// - if `dead` is `Some`, `dead_node` is an instance of it for the same time;
/// - the states' callbacks only ever see the nodes embedded in a `CpuHotplug<T>`.
#[pin_data(PinnedDrop)]
pub(crate) struct CpuHotplug<T: CpuHotplugOps> {
    online: DynamicState,
    dead: Option<DynamicState>,
    #[pin]
    online_node: Opaque<bindings::hlist_node>,
    #[pin]
    dead_node: Opaque<bindings::hlist_node>,
    ops: Arc<T>,
    #[pin]
    _pin: PhantomPinned,
}

impl<T: CpuHotplugOps> CpuHotplug<T> {
    /// Sets up hotplug states named `online` and `dead` (the latter only if `T` has a `dead`
    /// callback), then runs `ops.online()` on every online CPU. If it fails on one, it is undone
    /// (`ops.offline()`) on those where it succeeded, and nothing is left set up.
    pub(crate) fn new(
        online: &'static CStr,
        dead: &'static CStr,
        ops: Arc<T>,
    ) -> impl PinInit<Self, Error> {
        try_pin_init!(&this in Self {
            dead: if T::HAS_DEAD {
                Some(DynamicState::new(
                    bindings::cpuhp_state_CPUHP_BP_PREPARE_DYN,
                    dead,
                    None,
                    Some(Self::dead_callback),
                )?)
            } else {
                None
            },
            online: DynamicState::new(
                bindings::cpuhp_state_CPUHP_AP_ONLINE_DYN,
                online,
                Some(Self::startup_callback),
                Some(Self::teardown_callback),
            )?,
            online_node: Opaque::uninit(),
            dead_node: Opaque::uninit(),
            ops,
            _pin: PhantomPinned,
            _: {
                // SAFETY: `this` is pinned and fully initialised.
                let this = unsafe { &*this.as_ptr() };
                if let Some(dead) = &this.dead {
                    // SAFETY: The node stays valid until `drop` removes it. Nothing to run now:
                    // no CPU is dead.
                    to_result(unsafe {
                        bindings::__cpuhp_state_add_instance(dead.0, this.dead_node.get(), false)
                    })?;
                }
                // SAFETY: As above; the startup callback runs on every online CPU.
                let added = to_result(unsafe {
                    bindings::__cpuhp_state_add_instance(
                        this.online.0,
                        this.online_node.get(),
                        true,
                    )
                });
                if let Err(e) = added {
                    if let Some(dead) = &this.dead {
                        // SAFETY: Added above; a state may not be removed with instances left.
                        unsafe {
                            bindings::__cpuhp_state_remove_instance(
                                dead.0,
                                this.dead_node.get(),
                                false,
                            )
                        };
                    }
                    return Err(e);
                }
                // INVARIANT: both instances are added.
            },
        })
    }

    /// # Safety
    ///
    /// `node` must be the `online_node` field of a live `CpuHotplug<T>`.
    unsafe fn from_online_node<'a>(node: *mut bindings::hlist_node) -> &'a Self {
        // CAST: `Opaque<T>` is `repr(transparent)` over `T`.
        let node = node.cast::<Opaque<bindings::hlist_node>>();
        // SAFETY: By the safety requirements, `node` is the `online_node` field of a live `Self`.
        unsafe { &*kernel::container_of!(node, Self, online_node) }
    }

    /// # Safety
    ///
    /// Called by the hotplug core for the `online` instance added by [`Self::new`].
    unsafe extern "C" fn startup_callback(cpu: c_uint, node: *mut bindings::hlist_node) -> c_int {
        // SAFETY: By the type invariants, the instance is embedded in a live `Self`.
        let this = unsafe { Self::from_online_node(node) };
        from_result(|| {
            let cpu = CpuId::from_u32(cpu).ok_or(EINVAL)?;
            this.ops.online(cpu).map(|()| 0)
        })
    }

    /// # Safety
    ///
    /// As for [`Self::startup_callback`].
    unsafe extern "C" fn teardown_callback(cpu: c_uint, node: *mut bindings::hlist_node) -> c_int {
        // SAFETY: As in `startup_callback`.
        let this = unsafe { Self::from_online_node(node) };
        if let Some(cpu) = CpuId::from_u32(cpu) {
            this.ops.offline(cpu);
        }
        0
    }

    /// # Safety
    ///
    /// Called by the hotplug core for the `dead` instance added by [`Self::new`], whose state
    /// is in the `CPUHP_BP_PREPARE_DYN` range: its teardown runs on a control CPU after `cpu`
    /// went through `CPUHP_AP_TICK_DYING` and died.
    unsafe extern "C" fn dead_callback(cpu: c_uint, node: *mut bindings::hlist_node) -> c_int {
        // CAST: `Opaque<T>` is `repr(transparent)` over `T`.
        let node = node.cast::<Opaque<bindings::hlist_node>>();
        // SAFETY: By the type invariants the node is the `dead_node` field of a live `Self`.
        let this = unsafe { &*kernel::container_of!(node, Self, dead_node) };
        if let Some(cpu) = CpuId::from_u32(cpu) {
            // The hotplug core only calls this teardown for a CPU that is dead (see above).
            this.ops.dead(&DeadCpu {
                cpu,
                _callback: PhantomData,
            });
        }
        0
    }
}

#[pinned_drop]
impl<T: CpuHotplugOps> PinnedDrop for CpuHotplug<T> {
    fn drop(self: Pin<&mut Self>) {
        // SAFETY: By the type invariants `online_node` is an instance of `online`. Removing it
        // runs the teardown callback on every online CPU and waits for it.
        unsafe {
            bindings::__cpuhp_state_remove_instance(self.online.0, self.online_node.get(), true)
        };
        if let Some(dead) = &self.dead {
            // SAFETY: By the type invariants `dead_node` is an instance of `dead`. No CPU dies
            // now: there is nothing to run.
            unsafe { bindings::__cpuhp_state_remove_instance(dead.0, self.dead_node.get(), false) };
        }
        // The states are removed after this, when the fields are dropped.
    }
}

// SAFETY: The hotplug core only uses the nodes under its own locks; `T` is `Send + Sync`.
unsafe impl<T: CpuHotplugOps> Send for CpuHotplug<T> {}
// SAFETY: As above.
unsafe impl<T: CpuHotplugOps> Sync for CpuHotplug<T> {}
