// SPDX-License-Identifier: GPL-2.0

//! Policies that turn the tick core's next event into an absolute Xen deadline, and an estimator
//! of the drift between the kernel's clock and Xen system time.
//!
//! The tick core wants an event at expiry `E` on the kernel's clock (ktime, driven by the current
//! clocksource, which may be `tsc` and run up to about 1 % off Xen time) and hands the driver
//! `delta = E - kernel_now`; `VCPUOP_set_singleshot_timer` wants an absolute deadline in Xen
//! system time. [`deadline`] implements the three ways of getting from one to the other
//! ([`Policy`]); only [`Policy::Delta`] is what Linux does.
//!
//! The file depends on `core` only and, like `pvclock.rs`, is compiled both into the kernel
//! module and into a host crate for tests. For the kernel's sake it uses no floating point, no
//! 128-bit division and no signed 128-bit arithmetic (the kernel's compiler builtins for those
//! panic); 64 x 64 -> 128-bit multiplies and constant shifts of the product are inline on
//! x86-64. Nothing in it can panic: every operation that could overflow is checked, saturating
//! or wrapping, and no index is unchecked.

/// How [`deadline`] turns the tick core's request into a Xen deadline.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Policy {
    /// Xen time now plus `delta`, as Linux's `get_abs_timeout()`. A drift `d` between
    /// the clocks makes each event off by `delta * d`, but the error never accumulates: both
    /// clocks are read again for every event.
    Delta,
    /// The kernel expiry plus the offset between the clocks measured once. The error grows with
    /// the time elapsed since the measurement, times the drift, without bound.
    Absolute,
    /// Xen time now plus `delta` converted at the measured rate of Xen time per kernel time
    /// ([`Rate`], from [`DriftEstimator`]). Each event is off by `delta` times the error of the
    /// rate estimate, and the error does not accumulate.
    Compensated,
}

/// The names [`Policy::from_name`] accepts, for messages and parameter descriptions.
pub const NAMES: &str = "delta, absolute, compensated";

impl Policy {
    /// Every policy, in the order of [`NAMES`].
    pub const ALL: [Policy; 3] = [Policy::Delta, Policy::Absolute, Policy::Compensated];

    /// Parses a policy name, as written to a module parameter: exactly one of [`NAMES`],
    /// optionally followed by one newline (what `echo` adds).
    pub fn from_name(name: &[u8]) -> Option<Policy> {
        let name = name.strip_suffix(b"\n").unwrap_or(name);
        match name {
            b"delta" => Some(Policy::Delta),
            b"absolute" => Some(Policy::Absolute),
            b"compensated" => Some(Policy::Compensated),
            _ => None,
        }
    }

    /// The policy's name, as [`Policy::from_name`] accepts it.
    pub fn name(self) -> &'static str {
        match self {
            Policy::Delta => "delta",
            Policy::Absolute => "absolute",
            Policy::Compensated => "compensated",
        }
    }
}

/// `2^64 / 10^9 = 18446744073.709551616` exactly, split into integer and billionths, so that
/// [`Rate::from_ppb`] needs only 64-bit arithmetic.
const TWO64_PER_BILLION_INT: u64 = 18_446_744_073;
const TWO64_PER_BILLION_FRAC: u64 = 709_551_616;
const BILLION: u64 = 1_000_000_000;

/// A rate of Xen time per kernel time, `1 + ppb / 10^9`, in fixed point.
///
/// The rate is kept as `1 ± frac / 2^64`, so that [`Rate::to_xen`] is one 64 x 64-bit multiply
/// whose high half is the correction (on x86-64: `mul`, then `add` or `sub`), and a fraction of
/// 64 bits makes the rounding of the multiplier cost less than 1 ns for any 64-bit duration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rate {
    /// `|rate - 1|` in units of `2^-64`; below `2^64` because `|ppb|` is below `10^9`.
    frac: u64,
    /// The rate is below 1: Xen time runs slower than the kernel's clock.
    slower: bool,
    /// The drift the rate was made from, after clamping.
    ppb: i32,
}

impl Rate {
    /// The largest drift [`Rate::from_ppb`] represents, either way: a rate strictly between 0
    /// and 2.
    pub const MAX_PPB: i64 = 999_999_999;

    /// Rate 1: a kernel duration is the same number of Xen nanoseconds.
    pub const IDENTITY: Rate = Rate {
        frac: 0,
        slower: false,
        ppb: 0,
    };

    /// The rate `1 + ppb / 10^9`, with `ppb` clamped to `±MAX_PPB`.
    ///
    /// The fraction is rounded down for a faster rate and up for a slower one, so that in both
    /// cases [`Rate::to_xen`] stays within 1 ns of the exact value.
    pub const fn from_ppb(ppb: i64) -> Rate {
        let clamped = if ppb > Self::MAX_PPB {
            Self::MAX_PPB
        } else if ppb < -Self::MAX_PPB {
            -Self::MAX_PPB
        } else {
            ppb
        };
        let p = clamped.unsigned_abs();
        // p < 10^9, so p * 18446744073 < 2^64 and p * 709551616 < 2^60: no overflow, and the
        // sum below stays under p * 2^64 / 10^9 + 1 < 2^64.
        let int_part = p.wrapping_mul(TWO64_PER_BILLION_INT);
        let frac_num = p.wrapping_mul(TWO64_PER_BILLION_FRAC);
        let mut frac = int_part.wrapping_add(frac_num / BILLION);
        let slower = clamped < 0;
        if slower && frac_num % BILLION != 0 {
            frac = frac.wrapping_add(1);
        }
        Rate {
            frac,
            slower,
            // |clamped| < 10^9 < 2^31.
            ppb: clamped as i32,
        }
    }

    /// The drift in parts per billion this rate was made from (after clamping).
    pub const fn ppb(self) -> i64 {
        self.ppb as i64
    }

    /// Converts a duration on the kernel's clock to Xen nanoseconds: `kernel_ns * rate`.
    ///
    /// The result is within 1 ns of `floor(kernel_ns * (10^9 + ppb) / 10^9)` for every `u64`,
    /// and saturates at `u64::MAX`. Why: `kernel_ns < 2^64`, so rounding `frac` by less than 1
    /// moves the product by less than 1 ns, down for a faster rate and up for a slower one;
    /// truncating the correction then gives `floor(exact)` or 1 below it for a faster rate, and
    /// `floor(exact)` or 1 above it for a slower one.
    #[inline]
    pub fn to_xen(self, kernel_ns: u64) -> u64 {
        // The high half of the 128-bit product: below 2^64 since frac < 2^64, and at most
        // `kernel_ns`, so the subtraction cannot wrap.
        let correction = ((u128::from(kernel_ns) * u128::from(self.frac)) >> 64) as u64;
        if self.slower {
            kernel_ns.saturating_sub(correction)
        } else {
            kernel_ns.saturating_add(correction)
        }
    }
}

/// The absolute Xen deadline for an event wanted at kernel time `kernel_expiry_ns`, which the
/// tick core asked for as `delta_ns` from now, under `policy`.
///
/// `xen_now` is Xen system time read at programming time ([`Policy::Delta`] and
/// [`Policy::Compensated`]); `offset_ns` is Xen time minus kernel time, measured once
/// ([`Policy::Absolute`]); `rate` is Xen time per kernel time ([`Policy::Compensated`]). An
/// argument a policy does not use is ignored. The sum saturates at 0 and `u64::MAX` instead of
/// wrapping: a wrapped deadline would lie in the past and fire at once, or never.
/// [`Policy::Delta`] gives exactly `pvclock::oneshot_deadline(xen_now, delta_ns)`.
#[inline]
pub fn deadline(
    policy: Policy,
    xen_now: u64,
    delta_ns: u64,
    kernel_expiry_ns: u64,
    offset_ns: i64,
    rate: Rate,
) -> u64 {
    match policy {
        Policy::Delta => xen_now.saturating_add(delta_ns),
        Policy::Absolute => kernel_expiry_ns.saturating_add_signed(offset_ns),
        Policy::Compensated => xen_now.saturating_add(rate.to_xen(delta_ns)),
    }
}

/// What [`DriftEstimator::estimate`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Estimate {
    /// How much faster Xen time runs than the kernel's clock, in parts per billion: the slope of
    /// `xen - kernel` against `kernel`. [`Rate::from_ppb`] of it is Xen time per kernel time.
    pub drift_ppb: i64,
    /// Xen time minus kernel time at the kernel time of the newest sample, from the fitted line
    /// (not the newest sample's own difference, which carries its read jitter).
    pub offset_ns: i64,
}

/// The most samples a [`DriftEstimator`] holds; the overflow bounds below assume it.
pub const MAX_WINDOW: usize = 64;

/// An estimator of the drift and offset between the kernel's clock and Xen time, from the last
/// `N` pairs of readings (`2 <= N <= MAX_WINDOW`), in a fixed ring without allocation.
///
/// [`DriftEstimator::estimate`] fits `y = xen - kernel` against `x = kernel` by ordinary least
/// squares. Computed relative to the newest sample, with `u = x_new - x >= 0` and
/// `v = y - y_new`, the slope is `-S_uv / S_uu` where `S_uu = n Σu² - (Σu)²` and
/// `S_uv = n Σuv - Σu Σv`; both are exact integers, so the only rounding is in the final
/// divisions.
///
/// # Precision
///
/// `drift_ppb` is within 0.5 ppb (plus 10^-10) of the exact least-squares slope times 10^9, and
/// `offset_ns` within 1 ns of the exact least-squares line at the newest sample. If every
/// sample lies within `e` ns of a line of slope `b` (in `y`; read jitter of `j` ns on each
/// clock gives `e = j * (1 + rate)`, and samples rounded to integer nanoseconds add 1 ns), the
/// slope is within `e Σ|x - x̄| / Σ(x - x̄)²` of `b`, which for `n` samples `h` ns apart is
/// `3 e n / (h (n² - 1))` (`2 e / h` for two samples; 47 ppb for `e` = 1 µs, `h` = 1 s,
/// `n` = 64); the offset is within `e + |slope error| (x_new - x̄)` of the line's.
///
/// # Overflow
///
/// An estimate is guaranteed (`Some`) for samples at least 1 ms apart whose kernel times span
/// at most 2^40 ns (1099 s; 64 samples 10 s apart span 630 s), with every `|v|` at most 2^40 ns
/// (±10 % drift over 630 s gives 63 s, read jitter adds little), and Xen minus kernel time
/// within ±2^62 ns. With `n <= 2^6`:
///
/// - `n u <= 2^46`, and `Σu`, `|Σv| <= 2^46`: 64 bits suffice;
/// - each `(n u) u` and `(n u) |v|` is at most 2^86; their sums, `(Σu)²` and `Σu |Σv|` at most
///   2^92, `S_uv` at most 2^93: far inside 128 bits;
/// - by Cauchy-Schwarz `|slope| <= sqrt(D_v / D_u)`, where `D_v = Σ(v - v̄)² <= 2^6 2^80`
///   and `D_u = Σ(u - ū)² >= 10^12 / 2` (two samples at least 1 ms apart), so
///   `|slope| < 2^24`, the 64.64 quotient is below 2^88 and `drift_ppb` below 2^54;
/// - the intercept is a least-squares fitted value, a combination of the `v` whose coefficients'
///   squares sum to at most 1, so it is at most `√n 2^40 = 2^43`, and
///   `|slope Σu| = |Σv - n intercept| < 2^50`: 64 bits suffice again.
///
/// Beyond these bounds every step is still checked, and `estimate` returns `None` rather than
/// a wrong value.
///
/// Samples must come in order. A sample whose kernel or Xen time is below the newest one's
/// (a clock stepped back) starts a new window; a step forward (resume, migration to another
/// host) cannot be told from drift, so the caller calls [`DriftEstimator::reset`] then.
#[derive(Clone, Debug)]
pub struct DriftEstimator<const N: usize> {
    kernel: [u64; N],
    xen: [u64; N],
    /// The slot the next sample goes to.
    next: usize,
    /// Valid samples: slots `0..len` (all of them once the ring has wrapped).
    len: usize,
}

impl<const N: usize> Default for DriftEstimator<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> DriftEstimator<N> {
    /// An estimator without samples.
    pub const fn new() -> Self {
        // A compile-time check, not a run-time panic: the window needs two samples for a slope,
        // and the overflow bounds hold up to MAX_WINDOW.
        const {
            assert!(N >= 2);
            assert!(N <= MAX_WINDOW);
        };
        Self {
            kernel: [0; N],
            xen: [0; N],
            next: 0,
            len: 0,
        }
    }

    /// Forgets every sample.
    pub fn reset(&mut self) {
        self.next = 0;
        self.len = 0;
    }

    /// How many samples the window holds now (at most `N`).
    pub fn samples(&self) -> usize {
        self.len
    }

    /// The newest sample, if any.
    fn newest(&self) -> Option<(u64, u64)> {
        if self.len == 0 {
            return None;
        }
        // next < N, and N >= 2: neither subtraction wraps.
        let i = if self.next == 0 {
            N.wrapping_sub(1)
        } else {
            self.next.wrapping_sub(1)
        };
        Some((*self.kernel.get(i)?, *self.xen.get(i)?))
    }

    /// Adds a pair of readings taken together, replacing the oldest once the window is full.
    pub fn add(&mut self, kernel_ns: u64, xen_ns: u64) {
        if let Some((k, x)) = self.newest() {
            if kernel_ns < k || xen_ns < x {
                self.reset();
            }
        }
        if let (Some(k), Some(x)) = (self.kernel.get_mut(self.next), self.xen.get_mut(self.next)) {
            *k = kernel_ns;
            *x = xen_ns;
        }
        // Both stay at most N <= MAX_WINDOW: no overflow.
        let next = self.next.wrapping_add(1);
        self.next = if next >= N { 0 } else { next };
        if self.len < N {
            self.len = self.len.wrapping_add(1);
        }
    }

    /// Fits the samples in the window (see the type's documentation for precision and bounds).
    ///
    /// Returns `None` with fewer than two samples, if all of them have the same kernel time, or
    /// if the window exceeds the documented bounds.
    pub fn estimate(&self) -> Option<Estimate> {
        if self.len < 2 {
            return None;
        }
        let (k_new, x_new) = self.newest()?;
        // len <= N <= 64.
        let n = self.len as u64;

        let mut sum_u: u64 = 0;
        let mut sum_v: i64 = 0;
        // n Σu², and n Σuv split by sign: no signed 128-bit arithmetic.
        let mut n_suu: u128 = 0;
        let mut n_suv_pos: u128 = 0;
        let mut n_suv_neg: u128 = 0;
        // Slots 0..len are the valid ones, whether or not the ring has wrapped.
        for (&k, &x) in self.kernel.iter().zip(self.xen.iter()).take(self.len) {
            // Non-negative: `add` keeps both clocks non-decreasing within a window.
            let u = k_new.checked_sub(k)?;
            let w = x_new.checked_sub(x)?;
            // v = (x - k) - (x_new - k_new) = u - w.
            let v = i64::try_from(u).ok()?.checked_sub(i64::try_from(w).ok()?)?;
            let nu = n.checked_mul(u)?;
            sum_u = sum_u.checked_add(u)?;
            sum_v = sum_v.checked_add(v)?;
            n_suu = n_suu.checked_add(wide(nu, u))?;
            let term = wide(nu, v.unsigned_abs());
            if v >= 0 {
                n_suv_pos = n_suv_pos.checked_add(term)?;
            } else {
                n_suv_neg = n_suv_neg.checked_add(term)?;
            }
        }

        // Non-negative by Cauchy-Schwarz; zero when every u is the same.
        let s_uu = n_suu.checked_sub(wide(sum_u, sum_u))?;
        if s_uu == 0 {
            return None;
        }
        // Subtract Σu Σv from n Σuv.
        let cross = wide(sum_u, sum_v.unsigned_abs());
        if sum_v >= 0 {
            n_suv_neg = n_suv_neg.checked_add(cross)?;
        } else {
            n_suv_pos = n_suv_pos.checked_add(cross)?;
        }
        // The larger minus the smaller: no wrap.
        let (s_uv_negative, s_uv) = if n_suv_pos >= n_suv_neg {
            (false, n_suv_pos.wrapping_sub(n_suv_neg))
        } else {
            (true, n_suv_neg.wrapping_sub(n_suv_pos))
        };

        // |slope| as 64.64 fixed point, rounded down by less than 2^-64.
        let slope = div_fixed64(s_uv, s_uu)?;
        let slope_int = (slope >> 64) as u64;
        let slope_frac = slope as u64;

        // |drift| in ppb, rounded to nearest: slope * 10^9 in two widening multiplies.
        let ppb = wide(slope_int, BILLION).checked_add(round_frac64(slope_frac, BILLION))?;
        let ppb = i64::try_from(ppb).ok()?;
        // v falls as u grows when Xen runs faster: the drift has the opposite sign of S_uv.
        // Negating a non-negative i64 cannot overflow.
        let drift_ppb = if s_uv_negative {
            ppb
        } else {
            ppb.wrapping_neg()
        };

        // Intercept at u = 0 (the newest sample): (Σv - slope_v Σu) / n,
        // with slope_v = S_uv/S_uu.
        let slope_sum_u = wide(slope_int, sum_u).checked_add(round_frac64(slope_frac, sum_u))?;
        let slope_sum_u = i64::try_from(slope_sum_u).ok()?;
        let slope_sum_u = if s_uv_negative {
            slope_sum_u.wrapping_neg()
        } else {
            slope_sum_u
        };
        let intercept = div_round(sum_v.checked_sub(slope_sum_u)?, n as i64)?;

        // Xen time minus kernel time at the newest sample, modulo 2^64: exact while the true
        // difference is within ±2^63 ns (292 years).
        let y_new = x_new.wrapping_sub(k_new) as i64;
        Some(Estimate {
            drift_ppb,
            offset_ns: y_new.checked_add(intercept)?,
        })
    }
}

/// The full 128-bit product of two 64-bit values (one `mul` on x86-64, no `__multi3`).
#[inline]
fn wide(a: u64, b: u64) -> u128 {
    u128::from(a) * u128::from(b)
}

/// `frac * b / 2^64` rounded to nearest, for a 0.64 fixed-point `frac`.
#[inline]
fn round_frac64(frac: u64, b: u64) -> u128 {
    // The product is at most (2^64 - 1)^2 = 2^128 - 2^65 + 1, so adding one half (2^63) cannot
    // overflow.
    wide(frac, b).wrapping_add(1 << 63) >> 64
}

/// `floor(num * 2^64 / den)`, or `None` if `den` is 0 or the quotient needs more than 128 bits.
///
/// Restoring shift-subtract division, one bit per step: 128 steps for the bits of `num`, then
/// 64 for the fraction. It uses only 128-bit compares, subtractions and shifts by the constant
/// 1, which LLVM lowers inline on x86-64, where `/` on `u128` would call `__udivti3`. Not on a
/// hot path: the estimator runs once per sample.
fn div_fixed64(num: u128, den: u128) -> Option<u128> {
    if den == 0 {
        return None;
    }
    let mut quotient: u128 = 0;
    let mut rem: u128 = 0;
    let mut bits = num;
    for _ in 0..192 {
        // rem < den before the shift; if den >= 2^127 the shift carries out of rem, and the
        // true remainder, 2^128 + rem, then certainly exceeds den.
        let carry = rem >> 127;
        rem = (rem << 1) | (bits >> 127);
        // After 128 steps `bits` is 0, and zeros come in: the fraction bits.
        bits <<= 1;
        if quotient >> 127 != 0 {
            return None;
        }
        quotient <<= 1;
        if carry != 0 || rem >= den {
            // Exact modulo 2^128: the true difference is below den.
            rem = rem.wrapping_sub(den);
            quotient |= 1;
        }
    }
    Some(quotient)
}

/// `num / den` rounded to nearest (halves up), for `den > 0`.
fn div_round(num: i64, den: i64) -> Option<i64> {
    let q = num.checked_div_euclid(den)?;
    let r = num.checked_rem_euclid(den)?;
    // 0 <= r < den, so 2r cannot overflow for den <= i64::MAX / 2.
    if r.checked_mul(2)? >= den {
        q.checked_add(1)
    } else {
        Some(q)
    }
}

/// One known-answer case for [`Rate::to_xen`].
#[cfg(CONFIG_XEN_CLOCK_RUST_KUNIT_TEST)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateVector {
    /// Drift given to [`Rate::from_ppb`].
    pub ppb: i64,
    /// Kernel duration.
    pub kernel_ns: u64,
    /// `Rate::from_ppb(ppb).to_xen(kernel_ns)`, computed independently.
    pub expected: u64,
    /// `floor(kernel_ns * (10^9 + ppb) / 10^9)` (ppb clamped), saturated at `u64::MAX`: the
    /// exact value `expected` is within 1 ns of.
    pub exact: u64,
}

/// Known-answer cases for [`Rate::to_xen`], shared by the host tests and KUnit.
///
/// Both columns were computed with Python's integers outside this code: `expected` by the
/// fixed-point recipe of [`Rate`] (`frac` = `|ppb| 2^64 / 10^9`, rounded down for positive
/// drift and up for negative, then `k ± (k frac >> 64)`), `exact` by exact rational arithmetic.
#[cfg(CONFIG_XEN_CLOCK_RUST_KUNIT_TEST)]
pub const RATE_VECTORS: &[RateVector] = &[
    RateVector {
        ppb: 0,
        kernel_ns: 0,
        expected: 0,
        exact: 0,
    },
    RateVector {
        ppb: 0,
        kernel_ns: 123_456_789,
        expected: 123_456_789,
        exact: 123_456_789,
    },
    RateVector {
        ppb: 0,
        kernel_ns: u64::MAX,
        expected: u64::MAX,
        exact: u64::MAX,
    },
    RateVector {
        ppb: 1,
        kernel_ns: 999_999_999,
        expected: 999_999_999,
        exact: 999_999_999,
    },
    RateVector {
        ppb: 1,
        kernel_ns: 1_000_000_000,
        expected: 1_000_000_000,
        exact: 1_000_000_001,
    },
    RateVector {
        ppb: 1,
        kernel_ns: u64::MAX,
        expected: u64::MAX,
        exact: u64::MAX,
    },
    RateVector {
        ppb: -1,
        kernel_ns: 999_999_999,
        expected: 999_999_999,
        exact: 999_999_998,
    },
    RateVector {
        ppb: -1,
        kernel_ns: 1_000_000_000,
        expected: 999_999_999,
        exact: 999_999_999,
    },
    RateVector {
        ppb: -1,
        kernel_ns: 1,
        expected: 1,
        exact: 0,
    },
    RateVector {
        ppb: -1,
        kernel_ns: u64::MAX,
        expected: 18_446_744_055_262_807_542,
        exact: 18_446_744_055_262_807_541,
    },
    RateVector {
        ppb: 1_000,
        kernel_ns: 1_000_000,
        expected: 1_000_000,
        exact: 1_000_001,
    },
    RateVector {
        ppb: 1_000,
        kernel_ns: 4_294_967_295,
        expected: 4_294_971_589,
        exact: 4_294_971_589,
    },
    RateVector {
        ppb: -1_000,
        kernel_ns: 4_294_967_295,
        expected: 4_294_963_001,
        exact: 4_294_963_000,
    },
    RateVector {
        ppb: 123_456,
        kernel_ns: 100_000_000,
        expected: 100_012_345,
        exact: 100_012_345,
    },
    RateVector {
        ppb: -123_456,
        kernel_ns: 100_000_000,
        expected: 99_987_655,
        exact: 99_987_654,
    },
    RateVector {
        ppb: 10_000_000,
        kernel_ns: 100_000,
        expected: 100_999,
        exact: 101_000,
    },
    RateVector {
        ppb: 10_000_000,
        kernel_ns: 4_294_967_295,
        expected: 4_337_916_967,
        exact: 4_337_916_967,
    },
    RateVector {
        ppb: -10_000_000,
        kernel_ns: 4_294_967_295,
        expected: 4_252_017_623,
        exact: 4_252_017_622,
    },
    RateVector {
        ppb: 100_000_000,
        kernel_ns: 1_000_000_000,
        expected: 1_099_999_999,
        exact: 1_100_000_000,
    },
    RateVector {
        ppb: -100_000_000,
        kernel_ns: 1_000_000_000,
        expected: 900_000_000,
        exact: 900_000_000,
    },
    RateVector {
        ppb: 100_000_000,
        kernel_ns: 9_223_372_036_854_775_808,
        expected: 10_145_709_240_540_253_388,
        exact: 10_145_709_240_540_253_388,
    },
    RateVector {
        ppb: -100_000_000,
        kernel_ns: u64::MAX,
        expected: 16_602_069_666_338_596_454,
        exact: 16_602_069_666_338_596_453,
    },
    RateVector {
        ppb: 100_000_000,
        kernel_ns: u64::MAX,
        expected: u64::MAX,
        exact: u64::MAX,
    },
    RateVector {
        ppb: 999_999_999,
        kernel_ns: 1_000_000_000,
        expected: 1_999_999_998,
        exact: 1_999_999_999,
    },
    RateVector {
        ppb: -999_999_999,
        kernel_ns: 1_000_000_000,
        expected: 1,
        exact: 1,
    },
    RateVector {
        ppb: -999_999_999,
        kernel_ns: u64::MAX,
        expected: 18_446_744_073,
        exact: 18_446_744_073,
    },
    RateVector {
        ppb: 2_000_000_000,
        kernel_ns: 1_000,
        expected: 1_999,
        exact: 1_999,
    },
    RateVector {
        ppb: -5_000_000_000,
        kernel_ns: 1_000_000_000,
        expected: 1,
        exact: 1,
    },
    RateVector {
        ppb: i64::MAX,
        kernel_ns: 7,
        expected: 13,
        exact: 13,
    },
    RateVector {
        ppb: i64::MIN,
        kernel_ns: u64::MAX,
        expected: 18_446_744_073,
        exact: 18_446_744_073,
    },
    RateVector {
        ppb: 7,
        kernel_ns: 3,
        expected: 3,
        exact: 3,
    },
    RateVector {
        ppb: 333_333_333,
        kernel_ns: 3,
        expected: 3,
        exact: 3,
    },
    RateVector {
        ppb: -333_333_333,
        kernel_ns: 3,
        expected: 3,
        exact: 2,
    },
];

/// One known-answer case for [`deadline`].
#[cfg(CONFIG_XEN_CLOCK_RUST_KUNIT_TEST)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeadlineVector {
    /// The policy.
    pub policy: Policy,
    /// Xen time at programming.
    pub xen_now: u64,
    /// The tick core's delay.
    pub delta_ns: u64,
    /// The tick core's absolute expiry.
    pub kernel_expiry_ns: u64,
    /// Xen minus kernel time, for [`Policy::Absolute`].
    pub offset_ns: i64,
    /// Drift for the [`Rate`] of [`Policy::Compensated`].
    pub ppb: i64,
    /// `deadline(policy, xen_now, delta_ns, kernel_expiry_ns, offset_ns, Rate::from_ppb(ppb))`.
    pub expected: u64,
}

/// Known-answer cases for [`deadline`], shared by the host tests and KUnit (computed by hand or
/// with Python's integers).
#[cfg(CONFIG_XEN_CLOCK_RUST_KUNIT_TEST)]
pub const DEADLINE_VECTORS: &[DeadlineVector] = &[
    DeadlineVector {
        policy: Policy::Delta,
        xen_now: 1_000_000_000_000,
        delta_ns: 4_000_000,
        kernel_expiry_ns: 5_000_000_000,
        offset_ns: 0,
        ppb: 0,
        expected: 1_000_004_000_000,
    },
    DeadlineVector {
        policy: Policy::Delta,
        xen_now: 18_446_744_073_709_551_605,
        delta_ns: 100,
        kernel_expiry_ns: 0,
        offset_ns: 0,
        ppb: 0,
        expected: u64::MAX,
    },
    DeadlineVector {
        policy: Policy::Delta,
        xen_now: 7,
        delta_ns: 4_294_967_295,
        kernel_expiry_ns: 123,
        offset_ns: -9,
        ppb: 10_000_000,
        expected: 4_294_967_302,
    },
    DeadlineVector {
        policy: Policy::Absolute,
        xen_now: 0,
        delta_ns: 0,
        kernel_expiry_ns: 5_004_000_000,
        offset_ns: 999_995_000_000,
        ppb: 0,
        expected: 1_004_999_000_000,
    },
    DeadlineVector {
        policy: Policy::Absolute,
        xen_now: 0,
        delta_ns: 0,
        kernel_expiry_ns: 5_004_000_000,
        offset_ns: -5_000_000_000,
        ppb: 0,
        expected: 4_000_000,
    },
    DeadlineVector {
        policy: Policy::Absolute,
        xen_now: 0,
        delta_ns: 0,
        kernel_expiry_ns: 5_004_000_000,
        offset_ns: -6_000_000_000,
        ppb: 0,
        expected: 0,
    },
    DeadlineVector {
        policy: Policy::Absolute,
        xen_now: 0,
        delta_ns: 0,
        kernel_expiry_ns: 18_446_744_073_709_551_610,
        offset_ns: 6,
        ppb: 0,
        expected: u64::MAX,
    },
    DeadlineVector {
        policy: Policy::Absolute,
        xen_now: 0,
        delta_ns: 0,
        kernel_expiry_ns: 9_223_372_036_854_775_808,
        offset_ns: i64::MIN,
        ppb: 0,
        expected: 0,
    },
    DeadlineVector {
        policy: Policy::Absolute,
        xen_now: 0,
        delta_ns: 0,
        kernel_expiry_ns: 0,
        offset_ns: i64::MIN,
        ppb: 0,
        expected: 0,
    },
    DeadlineVector {
        policy: Policy::Compensated,
        xen_now: 1_000_000_000_000,
        delta_ns: 4_000_000,
        kernel_expiry_ns: 0,
        offset_ns: 0,
        ppb: 0,
        expected: 1_000_004_000_000,
    },
    DeadlineVector {
        policy: Policy::Compensated,
        xen_now: 1_000_000_000_000,
        delta_ns: 4_000_000,
        kernel_expiry_ns: 0,
        offset_ns: 0,
        ppb: 10_000_000,
        expected: 1_000_004_039_999,
    },
    DeadlineVector {
        policy: Policy::Compensated,
        xen_now: 1_000_000_000_000,
        delta_ns: 4_000_000,
        kernel_expiry_ns: 0,
        offset_ns: 0,
        ppb: -10_000_000,
        expected: 1_000_003_960_000,
    },
    DeadlineVector {
        policy: Policy::Compensated,
        xen_now: 1_000_000_000_000,
        delta_ns: 4_294_967_295,
        kernel_expiry_ns: 0,
        offset_ns: 0,
        ppb: 12_345,
        expected: 1_004_295_020_316,
    },
    DeadlineVector {
        policy: Policy::Compensated,
        xen_now: 1_000_000_000_000,
        delta_ns: 4_294_967_295,
        kernel_expiry_ns: 0,
        offset_ns: 0,
        ppb: -12_345,
        expected: 1_004_294_914_274,
    },
    DeadlineVector {
        policy: Policy::Compensated,
        xen_now: 18_446_744_073_709_550_615,
        delta_ns: 1_000,
        kernel_expiry_ns: 0,
        offset_ns: 0,
        ppb: 100_000_000,
        expected: u64::MAX,
    },
    DeadlineVector {
        policy: Policy::Compensated,
        xen_now: 5,
        delta_ns: u64::MAX,
        kernel_expiry_ns: 0,
        offset_ns: 0,
        ppb: -100_000_000,
        expected: 16_602_069_666_338_596_459,
    },
];

/// The window of the estimators that [`ESTIMATE_VECTORS`] are fed to.
#[cfg(CONFIG_XEN_CLOCK_RUST_KUNIT_TEST)]
pub const ESTIMATE_VECTOR_WINDOW: usize = 4;

/// One known-answer case for [`DriftEstimator`].
#[cfg(CONFIG_XEN_CLOCK_RUST_KUNIT_TEST)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EstimateVector {
    /// `(kernel_ns, xen_ns)` pairs, added in order to a new
    /// `DriftEstimator<ESTIMATE_VECTOR_WINDOW>`.
    pub samples: &'static [(u64, u64)],
    /// [`DriftEstimator::samples`] afterwards.
    pub window: usize,
    /// [`DriftEstimator::estimate`] afterwards.
    pub expected: Option<Estimate>,
}

/// Known-answer cases for [`DriftEstimator`], shared by the host tests and KUnit.
///
/// The expected values are the exact least-squares fit of the samples left in the window,
/// computed with Python's `fractions` and rounded to nearest; none lies near a tie, so the
/// estimator's rounding (see its precision) gives the same integers.
#[cfg(CONFIG_XEN_CLOCK_RUST_KUNIT_TEST)]
pub const ESTIMATE_VECTORS: &[EstimateVector] = &[
    // No sample.
    EstimateVector {
        samples: &[],
        window: 0,
        expected: None,
    },
    // One sample.
    EstimateVector {
        samples: &[(5_000_000_000, 3_600_000_000_000_000)],
        window: 1,
        expected: None,
    },
    // Two samples at the same kernel time: no x-variance.
    EstimateVector {
        samples: &[
            (5_000_000_000, 3_600_000_000_000_000),
            (5_000_000_000, 3_600_000_000_001_000),
        ],
        window: 2,
        expected: None,
    },
    // Two samples, Xen 1000 ppb faster.
    EstimateVector {
        samples: &[
            (5_000_000_000, 3_600_000_000_000_000),
            (6_000_000_000, 3_600_001_000_001_000),
        ],
        window: 2,
        expected: Some(Estimate {
            drift_ppb: 1_000,
            offset_ns: 3_599_995_000_001_000,
        }),
    },
    // Two samples, Xen 1 % slower, 1 ms apart.
    EstimateVector {
        samples: &[
            (5_000_000_000, 3_600_000_000_000_000),
            (5_001_000_000, 3_600_000_000_990_000),
        ],
        window: 2,
        expected: Some(Estimate {
            drift_ppb: -10_000_000,
            offset_ns: 3_599_994_999_990_000,
        }),
    },
    // Four samples 1 s apart, 250 ppm, jittered by a few hundred ns.
    EstimateVector {
        samples: &[
            (5_000_000_113, 3_600_000_000_000_431),
            (5_999_999_729, 3_600_001_000_250_017),
            (7_000_000_388, 3_600_002_000_499_695),
            (8_000_000_009, 3_600_003_000_750_223),
        ],
        window: 4,
        expected: Some(Estimate {
            drift_ppb: 249_871,
            offset_ns: 3_599_995_000_749_838,
        }),
    },
    // Six samples 10 s apart, -10 %: only the last four stay in the window.
    EstimateVector {
        samples: &[
            (777, 3_600_000_000_000_000),
            (10_000_000_777, 3_600_009_000_000_037),
            (20_000_000_777, 3_600_018_000_000_045),
            (30_000_000_777, 3_600_027_000_000_024),
            (40_000_000_777, 3_600_036_000_000_077),
            (50_000_000_777, 3_600_045_000_000_101),
        ],
        window: 4,
        expected: Some(Estimate {
            drift_ppb: -99_999_998,
            offset_ns: 3_599_994_999_999_318,
        }),
    },
    // The kernel clock steps back: the window restarts with the third sample.
    EstimateVector {
        samples: &[
            (9_000_000_000, 3_600_000_000_000_000),
            (10_000_000_000, 3_600_001_000_000_050),
            (4_000_000_000, 3_600_002_000_000_000),
            (5_000_000_007, 3_600_003_002_000_000),
        ],
        window: 2,
        expected: Some(Estimate {
            drift_ppb: 1_999_993,
            offset_ns: 3_599_998_001_999_993,
        }),
    },
    // Xen time steps back (a migration): the window restarts with the second sample.
    EstimateVector {
        samples: &[
            (5_000_000_000, 3_600_000_000_000_000),
            (6_000_000_000, 3_599_999_000_000_000),
            (7_000_000_000, 3_600_000_000_001_000),
        ],
        window: 2,
        expected: Some(Estimate {
            drift_ppb: 1_000,
            offset_ns: 3_599_993_000_001_000,
        }),
    },
    // Xen behind the kernel (negative offset), 3 samples, 10 % faster.
    EstimateVector {
        samples: &[
            (3_600_000_000_000_000, 5_000_000_000),
            (3_600_003_000_000_000, 8_300_000_003),
            (3_600_004_000_000_001, 9_399_999_996),
        ],
        window: 3,
        expected: Some(Estimate {
            drift_ppb: 99_999_999,
            offset_ns: -3_599_994_600_000_002,
        }),
    },
];
