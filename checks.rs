// SPDX-License-Identifier: GPL-2.0

//! Checks and measurements of `xen-rs` against the C `xen` clocksource, in debugfs.
//!
//! Reading a file runs the check on the reader's CPU (pin it with `taskset`) and prints
//! `key: value` lines:
//!
//! - `crosscheck`: [`CROSSCHECK_TRIPLES`] triples read with interrupts off, C then Rust then C;
//!   the Rust value must lie within [`CROSSCHECK_SLACK_NS`] of the interval the two C reads span.
//! - `monotonic`: [`MONOTONIC_READS`] Rust reads, each compared with the highest value any CPU
//!   published before the read began; run it on every CPU at once. The same for raw readings of
//!   the pvclock record without the never-backwards guard: their backward steps are the
//!   skew between the vCPUs' records that the guard hides.
//! - `bench`: the cost of one read of each clocksource, measured with the TSC, interleaved
//!   (alternating which goes first).

use crate::{
    pvclock::{
        self,
        TimeSource, //
    },
    xen_hv::{
        c_xen_clocksource_read,
        fault_inject,
        tsc_ordered as tsc,
        ThisCpuTime, //
    },
    xen_rs_read,
};
use core::fmt;
use kernel::{
    cpu::CpuId,
    debugfs,
    interrupt::local_interrupt_disable,
    prelude::*,
    sync::atomic::{
        Acquire,
        Atomic,
        Full,
        Relaxed, //
    },
};

/// Triples per read of `crosscheck`.
pub(crate) const CROSSCHECK_TRIPLES: u32 = 1_000_000;
/// How far outside `[c1, c2]` a Rust read may lie: the two clocksources keep separate
/// never-backwards guards, which may each have been raised by the other CPU's reads.
pub(crate) const CROSSCHECK_SLACK_NS: i64 = 1_000;
/// Reads per read of `monotonic`.
pub(crate) const MONOTONIC_READS: u32 = 1_000_000;
/// Samples of each kind per read of `bench`.
pub(crate) const BENCH_SAMPLES: usize = 100_000;

/// The highest `xen-rs` value any `monotonic` reader published.
static PUBLISHED: Atomic<u64> = Atomic::new(0);
/// The highest raw pvclock reading (without the guard) any `monotonic` reader published.
static PUBLISHED_RAW: Atomic<u64> = Atomic::new(0);

/// The debugfs directory and its files; removed on drop.
#[pin_data]
pub(crate) struct Checks {
    #[pin]
    crosscheck: debugfs::File<()>,
    #[pin]
    monotonic: debugfs::File<()>,
    #[pin]
    bench: debugfs::File<()>,
    dir: debugfs::Dir,
}

impl Checks {
    pub(crate) fn new(dir: debugfs::Dir) -> impl PinInit<Self, Error> {
        try_pin_init!(Self {
            crosscheck <- dir.read_callback_file(c"crosscheck", (), &show_crosscheck),
            monotonic <- dir.read_callback_file(c"monotonic", (), &show_monotonic),
            bench <- dir.read_callback_file(c"bench", (), &show_bench),
            dir,
        }? Error)
    }
}

fn show_crosscheck(_: &(), f: &mut fmt::Formatter<'_>) -> fmt::Result {
    let cpu = CpuId::current();
    let mut on_cpu = 0u32;
    let mut violations = 0u32;
    let mut min_below = i64::MAX; // min of r - c1
    let mut max_above = i64::MIN; // max of r - c2
    for _ in 0..CROSSCHECK_TRIPLES {
        let irq_off = local_interrupt_disable();
        let here = CpuId::current();
        let c1 = c_xen_clocksource_read();
        let r = xen_rs_read();
        let c2 = c_xen_clocksource_read();
        drop(irq_off);
        if here != cpu {
            continue;
        }
        on_cpu += 1;
        // CAST: differences of nearby times in ns; wrapping into i64 is exact for them.
        let below = r.wrapping_sub(c1) as i64;
        let above = r.wrapping_sub(c2) as i64;
        min_below = min_below.min(below);
        max_above = max_above.max(above);
        if below < -CROSSCHECK_SLACK_NS || above > CROSSCHECK_SLACK_NS {
            violations += 1;
        }
    }
    writeln!(f, "cpu: {}", cpu.as_u32())?;
    writeln!(f, "triples: {on_cpu}")?;
    writeln!(f, "violations: {violations}")?;
    writeln!(f, "slack_ns: {CROSSCHECK_SLACK_NS}")?;
    writeln!(f, "min_rs_minus_c1_ns: {min_below}")?;
    writeln!(f, "max_rs_minus_c2_ns: {max_above}")
}

/// Raises `max` to `v` if `v` is higher.
fn publish_max(max: &Atomic<u64>, v: u64) {
    let mut seen = max.load(Relaxed);
    while v > seen {
        match max.cmpxchg(seen, v, Full) {
            Ok(_) => return,
            Err(now) => seen = now,
        }
    }
}

/// Backward steps of one series of reads, each against the highest value any CPU published
/// before the read began.
#[derive(Default)]
struct Backwards {
    reads: u32,
    count: u32,
    worst_ns: u64,
}

impl Backwards {
    /// Reads `read()` once and checks the value against `published`, then publishes it.
    fn check(&mut self, published: &Atomic<u64>, read: impl FnOnce() -> Option<u64>) {
        // Everything published before this load was returned by a read that completed before
        // ours began, so ours must not be smaller. (On x86 neither the load nor the pvclock
        // loads and the ordered TSC read of `read` pass each other.)
        let before = published.load(Acquire);
        let Some(now) = read() else {
            return;
        };
        self.reads += 1;
        if now < before {
            self.count += 1;
            self.worst_ns = self.worst_ns.max(before - now);
        }
        publish_max(published, now);
    }
}

fn show_monotonic(_: &(), f: &mut fmt::Formatter<'_>) -> fmt::Result {
    let mut guarded = Backwards::default();
    let mut raw = Backwards::default();
    for _ in 0..MONOTONIC_READS {
        guarded.check(&PUBLISHED, || Some(xen_rs_read()));
        // The same clock without the never-backwards guard: what this vCPU's record says.
        raw.check(&PUBLISHED_RAW, || {
            ThisCpuTime::get().map(|time| fault_inject::skewed(pvclock::read(&time).0))
        });
    }
    writeln!(f, "cpu: {}", CpuId::current().as_u32())?;
    writeln!(f, "reads: {}", guarded.reads)?;
    writeln!(f, "backwards: {}", guarded.count)?;
    writeln!(f, "max_backwards_ns: {}", guarded.worst_ns)?;
    writeln!(f, "raw_reads: {}", raw.reads)?;
    writeln!(f, "raw_backwards: {}", raw.count)?;
    writeln!(f, "raw_max_backwards_ns: {}", raw.worst_ns)
}

/// Bins of a read-cost histogram, each [`BIN_TICKS`] TSC ticks wide; slower reads go to the last.
const BINS: usize = 65536;
const BIN_TICKS: u64 = 4;

/// A histogram of read costs in TSC ticks: percentiles without storing or sorting samples.
struct Histogram {
    bins: [u32; BINS],
    max: u64,
    count: u32,
}

impl Histogram {
    fn add(&mut self, ticks: u64) {
        // CAST: bounded by `BINS - 1` before the cast.
        let bin = (ticks / BIN_TICKS).min(BINS as u64 - 1) as usize;
        if let Some(b) = self.bins.get_mut(bin) {
            *b += 1;
        }
        self.max = self.max.max(ticks);
        self.count += 1;
    }

    /// The smallest cost (upper edge of its bin) with at least `per_mille` of the samples at or
    /// below it.
    fn percentile(&self, per_mille: u32) -> u64 {
        let want = (u64::from(self.count) * u64::from(per_mille)).div_ceil(1000);
        let mut seen = 0u64;
        for (i, n) in self.bins.iter().enumerate() {
            seen += u64::from(*n);
            if seen >= want && seen > 0 {
                // CAST: `i < BINS`.
                return ((i as u64 + 1) * BIN_TICKS).min(self.max);
            }
        }
        self.max
    }
}

fn show_bench(_: &(), f: &mut fmt::Formatter<'_>) -> fmt::Result {
    let new = || Histogram {
        bins: [0; BINS],
        max: 0,
        count: 0,
    };
    let (Ok(mut c), Ok(mut rs), Ok(mut empty)) = (
        KVBox::new(new(), GFP_KERNEL),
        KVBox::new(new(), GFP_KERNEL),
        KVBox::new(new(), GFP_KERNEL),
    ) else {
        return writeln!(f, "error: out of memory");
    };
    let Some(time) = ThisCpuTime::get() else {
        return writeln!(f, "error: no vcpu_info");
    };
    let scale = time.snapshot();
    drop(time);
    for i in 0..BENCH_SAMPLES {
        let irq_off = local_interrupt_disable();
        let t0 = tsc();
        let t1 = tsc();
        // Alternate which read goes first, so neither always runs right after the timing pair.
        let (c_ticks, rs_ticks) = if i % 2 == 0 {
            core::hint::black_box(c_xen_clocksource_read());
            let t2 = tsc();
            core::hint::black_box(xen_rs_read());
            let t3 = tsc();
            (t2.wrapping_sub(t1), t3.wrapping_sub(t2))
        } else {
            core::hint::black_box(xen_rs_read());
            let t2 = tsc();
            core::hint::black_box(c_xen_clocksource_read());
            let t3 = tsc();
            (t3.wrapping_sub(t2), t2.wrapping_sub(t1))
        };
        drop(irq_off);
        empty.add(t1.wrapping_sub(t0));
        c.add(c_ticks);
        rs.add(rs_ticks);
    }
    let ns = |ticks: u64| pvclock::scale_delta(ticks, scale.tsc_to_system_mul, scale.tsc_shift);
    let stats = |h: &Histogram| (h.percentile(500), h.percentile(990), h.max);
    let (e50, e99, emax) = stats(&empty);
    let (c50, c99, cmax) = stats(&c);
    let (r50, r99, rmax) = stats(&rs);
    writeln!(f, "cpu: {}", CpuId::current().as_u32())?;
    writeln!(f, "samples: {}", c.count)?;
    writeln!(
        f,
        "tsc_overhead_ns: median {} p99 {} max {}",
        ns(e50),
        ns(e99),
        ns(emax)
    )?;
    writeln!(
        f,
        "c_xen_ns: median {} p99 {} max {}",
        ns(c50),
        ns(c99),
        ns(cmax)
    )?;
    writeln!(
        f,
        "xen_rs_ns: median {} p99 {} max {}",
        ns(r50),
        ns(r99),
        ns(rmax)
    )?;
    // Ratios in thousandths, of the raw medians and of the medians less the timing overhead.
    let ratio = |a: u64, b: u64| a.saturating_mul(1000).checked_div(b).unwrap_or(0);
    writeln!(f, "ratio_median_permille: {}", ratio(r50, c50))?;
    writeln!(f, "ratio_p99_permille: {}", ratio(r99, c99))?;
    writeln!(
        f,
        "ratio_median_net_permille: {}",
        ratio(r50.saturating_sub(e50), c50.saturating_sub(e50))
    )
}
