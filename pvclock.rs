// SPDX-License-Identifier: GPL-2.0

//! Arithmetic and read protocol of the Xen paravirtual clock (pvclock).
//!
//! This is the Rust counterpart of `arch/x86/include/asm/pvclock.h` and
//! `arch/x86/kernel/pvclock.c`: scaling a TSC delta to nanoseconds, the
//! even/odd version protocol used to read a consistent `vcpu_time_info`
//! snapshot that the hypervisor may update at any time, the global
//! "never go backwards" guard, and the deadline arithmetic of the one-shot
//! timer.
//!
//! The file depends on `core` only. The kernel module compiles it as a
//! submodule and supplies volatile reads, barriers and `rdtsc_ordered()`
//! through [`TimeSource`]; a host crate compiles the very same file for unit
//! and property tests.

/// The hypervisor guarantees that the TSC is synchronised across vCPUs, so
/// [`monotonic`] may skip the global last-value guard.
pub const PVCLOCK_TSC_STABLE_BIT: u8 = 1 << 0;

/// The hypervisor stopped the guest; the kernel should touch its watchdogs.
pub const PVCLOCK_GUEST_STOPPED: u8 = 1 << 1;

/// A snapshot of Xen's `struct vcpu_time_info` (Linux's
/// `struct pvclock_vcpu_time_info`), without the padding.
///
/// System time at TSC value `t` is
/// `system_time + scale_delta(t - tsc_timestamp, tsc_to_system_mul, tsc_shift)`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TimeInfo {
    /// Update counter: odd while the hypervisor is writing the record.
    pub version: u32,
    /// TSC value at which `system_time` was sampled.
    pub tsc_timestamp: u64,
    /// Nanoseconds since hypervisor boot at `tsc_timestamp`.
    pub system_time: u64,
    /// Fixed-point 0.32 multiplier from (shifted) TSC ticks to nanoseconds.
    pub tsc_to_system_mul: u32,
    /// Binary shift applied to the TSC delta before the multiplication.
    pub tsc_shift: i8,
    /// `PVCLOCK_*` flag bits.
    pub flags: u8,
}

/// Scales a TSC delta to nanoseconds, exactly like Linux's
/// `pvclock_scale_delta()`.
///
/// The delta is first shifted left by `shift` (right by `-shift` when
/// negative), discarding bits shifted out, and then multiplied by the 0.32
/// fixed-point fraction `mul_frac`; the result is the integer part of the
/// product, i.e. `(delta * mul_frac) >> 32` computed in 128 bits (x86-64:
/// `mulq; shrd $32`). That value is below `2^96 >> 32 = 2^64`, so it always
/// fits and nothing is truncated.
///
/// Xen only produces shifts in `-31..=31` or so. For shifts whose magnitude is
/// 64 or more the C code is undefined behaviour (on x86 the hardware would mask
/// the count to 6 bits); here the delta simply becomes 0, as if all its bits
/// had been shifted out, so no `i8` can panic or give a surprisingly large value.
#[inline]
pub fn scale_delta(delta: u64, mul_frac: u32, shift: i8) -> u64 {
    // Widen before negating: `-(-128i8)` does not fit in an `i8`.
    let amount = i32::from(shift).unsigned_abs();
    let delta = if shift < 0 {
        delta.checked_shr(amount).unwrap_or(0)
    } else {
        delta.checked_shl(amount).unwrap_or(0)
    };
    // A 64x32-bit multiply with the high 64 bits of the 96-bit product kept;
    // compiles to a single `mul` on x86-64, no 128-bit division.
    ((u128::from(delta) * u128::from(mul_frac)) >> 32) as u64
}

/// Returns the system time in nanoseconds that `info` gives for TSC value
/// `tsc`, like Linux's `__pvclock_read_cycles()`.
///
/// Both the subtraction and the addition wrap modulo 2^64, as the C `u64`
/// arithmetic does: a `tsc` below `tsc_timestamp` yields a huge delta rather
/// than a negative one, which is what the reference does too.
#[inline]
pub fn time_at(info: &TimeInfo, tsc: u64) -> u64 {
    let delta = tsc.wrapping_sub(info.tsc_timestamp);
    let offset = scale_delta(delta, info.tsc_to_system_mul, info.tsc_shift);
    info.system_time.wrapping_add(offset)
}

/// Access to one live `vcpu_time_info` record shared with the hypervisor.
///
/// The kernel implements it with volatile loads of the shared page,
/// `virt_rmb()` and `rdtsc_ordered()`; tests implement it with scripted fakes.
pub trait TimeSource {
    /// Reads the current `version` field (one volatile load).
    fn version(&self) -> u32;
    /// Reads every field except `version`; the returned `version` is ignored.
    fn snapshot(&self) -> TimeInfo;
    /// Reads the TSC, ordered after earlier loads (`rdtsc_ordered()`).
    fn read_tsc(&self) -> u64;
    /// Read memory barrier (`virt_rmb()`): orders earlier loads before later
    /// loads.
    fn read_barrier(&self);
}

/// Reads the current system time and flags from `src`, retrying while the
/// hypervisor updates the record.
///
/// This is the read loop of Linux's `__pvclock_clocksource_read()` built from
/// `pvclock_read_begin()`/`pvclock_read_retry()`. It does not apply the
/// last-value guard (see [`monotonic`]) and does not clear
/// [`PVCLOCK_GUEST_STOPPED`]. Like the C code it spins for as long as the
/// hypervisor keeps the record odd or keeps changing it.
#[inline]
pub fn read(src: &impl TimeSource) -> (u64, u8) {
    loop {
        // The hypervisor makes `version` odd before it writes the record and
        // even again after it. Clearing bit 0 means an odd (in-progress)
        // version cannot equal the value re-read below (short of 2^32
        // updates in between), so a read that starts during an update always
        // retries.
        let version = src.version() & !1;
        // Version load before data loads. Pairs with the hypervisor's write
        // barrier between its data stores and the store that makes `version`
        // even: having seen that store, we also see the data it published.
        src.read_barrier();
        // Same order as the C source, where `rdtsc_ordered()` is the argument
        // of `__pvclock_read_cycles()`. The TSC must be read after the version
        // load (hence the ordered read): a TSC sampled before an update could
        // precede the new `tsc_timestamp` and wrap the delta.
        let tsc = src.read_tsc();
        let info = src.snapshot();
        let now = time_at(&info, tsc);
        let flags = info.flags;
        // Data loads before the version re-load. Pairs with the hypervisor's
        // write barrier between the store that makes `version` odd and its
        // data stores: if we saw any data of a newer update, the re-load sees
        // that update's version, so we retry instead of using a torn record.
        src.read_barrier();
        if src.version() == version {
            return (now, flags);
        }
    }
}

/// The global "highest time returned so far" of [`monotonic`]: an atomic
/// 64-bit cell, supplied by the user of this file (the kernel's
/// `kernel::sync::atomic::Atomic<u64>` in the module, `core`'s `AtomicU64` on
/// the host), so that this file depends on `core` only.
pub trait LastValue {
    /// Loads the value without ordering (C's `raw_atomic64_read()`).
    fn load_relaxed(&self) -> u64;

    /// Stores `new` if the value is `old`, fully ordered on success and
    /// unordered on failure (C's `raw_atomic64_try_cmpxchg()`); never fails
    /// spuriously. Returns the value seen: `Ok(old)` if it stored, else
    /// `Err(current)`.
    fn compare_exchange(&self, old: u64, new: u64) -> Result<u64, u64>;
}

/// Makes the clock monotonic across vCPUs, like the `last_value` logic of
/// Linux's `__pvclock_clocksource_read()`.
///
/// `last` is the global accumulator of the highest time returned so far;
/// `now` is this CPU's reading from [`read`]. Returns `now` if it is not
/// below every earlier result, otherwise the current `last`.
///
/// `flags` must already be masked with the flags the guest trusts (Linux's
/// `valid_flags`, set by `pvclock_set_flags()`): the guard is skipped only if
/// [`PVCLOCK_TSC_STABLE_BIT`] is set in `flags`.
#[inline]
pub fn monotonic(last: &impl LastValue, now: u64, flags: u8) -> u64 {
    if flags & PVCLOCK_TSC_STABLE_BIT != 0 {
        return now;
    }

    // Orderings follow the C code under the kernel memory model (see
    // [`LastValue`]). Monotonicity itself needs only per-location coherence:
    // `last` only ever moves up, and coherence forbids a CPU from seeing an
    // older value of it after a newer one.
    let mut seen = last.load_relaxed();
    loop {
        if now <= seen {
            return seen;
        }
        // On failure `seen` is the newer value another CPU stored.
        match last.compare_exchange(seen, now) {
            Ok(_) => return now,
            Err(current) => seen = current,
        }
    }
}

/// Converts a relative timeout into the absolute Xen system time that
/// `VCPUOP_set_singleshot_timer` expects.
///
/// Linux's `get_abs_timeout()` computes `xen_clocksource_read() + delta`,
/// which wraps. Xen system time counts from hypervisor boot, so a wrapped
/// deadline would lie in the past and fire at once; saturating keeps a very
/// late deadline very late instead. With the clockevent's `max_delta_ns` of
/// `0xffffffff` both agree unless Xen has been up for more than 584 years.
#[inline]
pub fn oneshot_deadline(xen_now: u64, delta_ns: u64) -> u64 {
    xen_now.saturating_add(delta_ns)
}

/// Ticks of a periodic timer emulated with one-shot deadlines, at Xen time `now`.
///
/// `next_due` is the Xen time at which the next tick is due, `period` the tick period (not
/// zero). Returns how many ticks are due now (0 if `now` is before `next_due`, more than one if
/// the vCPU did not run for a while) and when the tick after them is due. The schedule is
/// absolute: `next_due` advances by whole periods, so late events do not shift later ticks
/// and no error accumulates.
#[inline]
pub fn periodic_ticks(now: u64, next_due: u64, period: u64) -> (u64, u64) {
    if now < next_due || period == 0 {
        return (0, next_due);
    }
    let due = (now - next_due) / period + 1;
    (due, next_due.saturating_add(due.saturating_mul(period)))
}

/// Buckets of a lateness histogram: under 1 us, then one per power of two of microseconds,
/// `[2^(k-1), 2^k)` us for bucket `k` in 1..=16 (the last of them 32.768 to 65.536 ms), and
/// 65.536 ms ("64 ms" in binary units) and above.
pub const LATENESS_BUCKETS: usize = 18;

/// The histogram bucket of a lateness of `ns` nanoseconds (see [`LATENESS_BUCKETS`]).
#[inline]
pub fn lateness_bucket(ns: u64) -> usize {
    let us = ns / 1_000;
    // For `us >= 1`, the number of significant bits is floor(log2(us)) + 1: 1 us goes to
    // bucket 1, 2 and 3 us to bucket 2, and so on; 0 (under 1 us) to bucket 0.
    // CAST: at most 64.
    let bits = (u64::BITS - us.leading_zeros()) as usize;
    bits.min(LATENESS_BUCKETS - 1)
}

/// The lower edge of bucket `bucket` in microseconds: 0, 1, 2, 4, ... 65536.
#[inline]
pub fn lateness_bucket_floor_us(bucket: usize) -> u64 {
    match bucket {
        0 => 0,
        b => 1u64 << (b.min(LATENESS_BUCKETS - 1) - 1),
    }
}

/// Known-answer cases for [`lateness_bucket`]: a lateness in nanoseconds and its bucket.
#[cfg(CONFIG_XEN_CLOCK_RUST_KUNIT_TEST)]
pub const LATENESS_VECTORS: &[(u64, usize)] = &[
    (0, 0),
    (999, 0),
    (1_000, 1),
    (1_999, 1),
    (2_000, 2),
    (3_999, 2),
    (4_000, 3),
    (1_000_000, 10),
    (32_767_999, 15),
    (32_768_000, 16),
    (65_535_999, 16),
    (65_536_000, 17),
    (u64::MAX, 17),
];

/// One known-answer case for [`scale_delta`].
#[cfg(CONFIG_XEN_CLOCK_RUST_KUNIT_TEST)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ScaleVector {
    /// TSC delta.
    pub delta: u64,
    /// 0.32 fixed-point multiplier.
    pub mul: u32,
    /// Binary shift.
    pub shift: i8,
    /// `scale_delta(delta, mul, shift)`, computed independently.
    pub expected: u64,
}

/// Known-answer cases for [`scale_delta`], shared by the host tests and KUnit.
///
/// The expected values were computed with arbitrary-precision integers
/// outside this code. Multipliers of real TSC rates follow Xen's
/// `set_time_scale()`: 2.5 GHz gives `(3435973836, -1)`, 3 GHz
/// `(2863311530, -1)` and 1 GHz `(1 << 31, 1)`.
#[cfg(CONFIG_XEN_CLOCK_RUST_KUNIT_TEST)]
pub const TEST_VECTORS: &[ScaleVector] = &[
    // Zero delta.
    ScaleVector {
        delta: 0,
        mul: u32::MAX,
        shift: 0,
        expected: 0,
    },
    // Zero multiplier.
    ScaleVector {
        delta: u64::MAX,
        mul: 0,
        shift: 0,
        expected: 0,
    },
    // Largest product: still fits in 64 bits after >> 32.
    ScaleVector {
        delta: u64::MAX,
        mul: u32::MAX,
        shift: 0,
        expected: 0xffff_fffe_ffff_ffff,
    },
    // mul 2^31 is 0.5.
    ScaleVector {
        delta: u64::MAX,
        mul: 1 << 31,
        shift: 0,
        expected: 0x7fff_ffff_ffff_ffff,
    },
    // 0.5 truncates to 0.
    ScaleVector {
        delta: 1,
        mul: 1 << 31,
        shift: 0,
        expected: 0,
    },
    // 1.5 truncates to 1.
    ScaleVector {
        delta: 3,
        mul: 1 << 31,
        shift: 0,
        expected: 1,
    },
    // Smallest delta giving a non-zero result for mul 1.
    ScaleVector {
        delta: 1 << 32,
        mul: 1,
        shift: 0,
        expected: 1,
    },
    // Just below it.
    ScaleVector {
        delta: (1 << 32) - 1,
        mul: 1,
        shift: 0,
        expected: 0,
    },
    // 2.5 GHz TSC, 1 s of ticks (the multiplier is rounded down).
    ScaleVector {
        delta: 2_500_000_000,
        mul: 3_435_973_836,
        shift: -1,
        expected: 999_999_999,
    },
    // 2.5 GHz TSC, 100 s of ticks.
    ScaleVector {
        delta: 250_000_000_000,
        mul: 3_435_973_836,
        shift: -1,
        expected: 99_999_999_976,
    },
    // 2.5 GHz TSC, u64::MAX ticks.
    ScaleVector {
        delta: u64::MAX,
        mul: 3_435_973_836,
        shift: -1,
        expected: 0x6666_6665_ffff_ffff,
    },
    // 3 GHz TSC, 1 s of ticks.
    ScaleVector {
        delta: 3_000_000_000,
        mul: 2_863_311_530,
        shift: -1,
        expected: 999_999_999,
    },
    // 1 GHz TSC, 1 s of ticks: exact.
    ScaleVector {
        delta: 1_000_000_000,
        mul: 1 << 31,
        shift: 1,
        expected: 1_000_000_000,
    },
    // Most negative shift Xen uses.
    ScaleVector {
        delta: u64::MAX,
        mul: u32::MAX,
        shift: -31,
        expected: 8_589_934_589,
    },
    // Shift -32.
    ScaleVector {
        delta: u64::MAX,
        mul: u32::MAX,
        shift: -32,
        expected: 4_294_967_294,
    },
    // Shift -33, beyond what Xen uses.
    ScaleVector {
        delta: u64::MAX,
        mul: u32::MAX,
        shift: -33,
        expected: 2_147_483_646,
    },
    // Largest shift Xen uses.
    ScaleVector {
        delta: 1,
        mul: u32::MAX,
        shift: 31,
        expected: 2_147_483_647,
    },
    // Shift 31 discards the high bits of the delta.
    ScaleVector {
        delta: u64::MAX,
        mul: u32::MAX,
        shift: 31,
        expected: 0xffff_fffe_8000_0000,
    },
    // delta << 31 is exactly 2^63.
    ScaleVector {
        delta: 1 << 32,
        mul: 1 << 31,
        shift: 31,
        expected: 1 << 62,
    },
    // delta << 1 overflows to 0.
    ScaleVector {
        delta: 1 << 63,
        mul: 1 << 31,
        shift: 1,
        expected: 0,
    },
    // Shift 63.
    ScaleVector {
        delta: 1,
        mul: u32::MAX,
        shift: 63,
        expected: 0x7fff_ffff_8000_0000,
    },
    // Shift -62 leaves 3.
    ScaleVector {
        delta: u64::MAX,
        mul: u32::MAX,
        shift: -62,
        expected: 2,
    },
    // Shift 64: every bit is shifted out.
    ScaleVector {
        delta: u64::MAX,
        mul: u32::MAX,
        shift: 64,
        expected: 0,
    },
    // Shift -64: every bit is shifted out.
    ScaleVector {
        delta: u64::MAX,
        mul: u32::MAX,
        shift: -64,
        expected: 0,
    },
    // i8::MAX shift.
    ScaleVector {
        delta: u64::MAX,
        mul: u32::MAX,
        shift: 127,
        expected: 0,
    },
    // i8::MIN shift.
    ScaleVector {
        delta: u64::MAX,
        mul: u32::MAX,
        shift: -128,
        expected: 0,
    },
];

/// One known-answer case for [`periodic_ticks`].
#[cfg(CONFIG_XEN_CLOCK_RUST_KUNIT_TEST)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PeriodicVector {
    /// Xen time now.
    pub now: u64,
    /// When the next tick is due.
    pub next_due: u64,
    /// The tick period.
    pub period: u64,
    /// `periodic_ticks(now, next_due, period)`.
    pub expected: (u64, u64),
}

/// Known-answer cases for [`periodic_ticks`], shared by the host tests and KUnit.
#[cfg(CONFIG_XEN_CLOCK_RUST_KUNIT_TEST)]
pub const PERIODIC_VECTORS: &[PeriodicVector] = &[
    // Before the tick: nothing due, schedule unchanged.
    PeriodicVector {
        now: 3_999,
        next_due: 4_000,
        period: 4_000,
        expected: (0, 4_000),
    },
    // On time and a little late: one tick, the next one a period after the due time.
    PeriodicVector {
        now: 4_000,
        next_due: 4_000,
        period: 4_000,
        expected: (1, 8_000),
    },
    PeriodicVector {
        now: 7_999,
        next_due: 4_000,
        period: 4_000,
        expected: (1, 8_000),
    },
    // Asleep for two and a half periods: three ticks owed.
    PeriodicVector {
        now: 14_000,
        next_due: 4_000,
        period: 4_000,
        expected: (3, 16_000),
    },
    // A zero period never divides by zero.
    PeriodicVector {
        now: 10,
        next_due: 5,
        period: 0,
        expected: (0, 5),
    },
    // Far in the future: the schedule saturates instead of wrapping.
    PeriodicVector {
        now: u64::MAX,
        next_due: 0,
        period: 1 << 62,
        expected: (4, u64::MAX),
    },
];
