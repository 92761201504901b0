// SPDX-License-Identifier: GPL-2.0

//! Safe Rust interfaces over the kernel's time keeping devices.
//!
//! [`Clocksource`] registers a `struct clocksource` whose callbacks are dispatched to a
//! [`ClocksourceOps`] implementation. Together with the hypervisor layer (`xen_hv.rs`) this file
//! holds all of the driver's `unsafe` code: the rest of the driver is safe Rust.
//!
//! C header: [include/linux/clocksource.h](srctree/include/linux/clocksource.h)

use core::marker::PhantomPinned;
use kernel::{
    bindings,
    error::to_result,
    prelude::*,
    types::Opaque, //
};

/// What a clocksource does: return its counter, and resynchronise after a system resume.
pub(crate) trait ClocksourceOps: Sync {
    /// Reads the counter. Called from any context, including with interrupts off and from NMI-safe
    /// time keeping paths, so it must not sleep nor take locks.
    fn read(&self) -> u64;

    /// Called by the time keeping core on resume, before the first read. The default does nothing.
    fn resume(&self) {}
}

/// How to register a clocksource.
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
