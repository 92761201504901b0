// SPDX-License-Identifier: GPL-2.0

//! Host tests of `pvclock.rs`: known answers, properties against an
//! independent reference, the version protocol against simulated hypervisor
//! writers, and the cross-CPU monotonic guard under real threads.

use std::cell::{Cell, RefCell};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Barrier;
use std::thread;

use proptest::prelude::*;
use xen_clock_host::pvclock::{
    lateness_bucket, lateness_bucket_floor_us, monotonic, oneshot_deadline, periodic_ticks, read,
    scale_delta, time_at, TimeInfo, TimeSource, LATENESS_BUCKETS, LATENESS_VECTORS,
    PERIODIC_VECTORS, PVCLOCK_GUEST_STOPPED, PVCLOCK_TSC_STABLE_BIT, TEST_VECTORS,
};

// ---------------------------------------------------------------------------
// Independent reference for scale_delta.
// ---------------------------------------------------------------------------

/// The shift step of `pvclock_scale_delta()`, done in 128 bits and truncated
/// back to 64, with |shift| >= 64 shifting every bit out.
fn ref_shift(delta: u64, shift: i8) -> u64 {
    let wide = u128::from(delta);
    let n = i32::from(shift);
    if n >= 64 || n <= -64 {
        0
    } else if n >= 0 {
        ((wide << n) & u128::from(u64::MAX)) as u64
    } else {
        (wide >> -n) as u64
    }
}

/// `mul_u64_u32_shr(a, mul, 32)` the way the 32-bit generic code in
/// `include/linux/math64.h` does it: two 32x32 products, no 128-bit type.
fn ref_mul_u64_u32_shr32(a: u64, mul: u32) -> u64 {
    let ah = a >> 32;
    let al = a & 0xffff_ffff;
    let mul = u64::from(mul);
    // With shift 32 the high half's product is added unshifted.
    ((al * mul) >> 32) + ah * mul
}

fn reference(delta: u64, mul: u32, shift: i8) -> u64 {
    ref_mul_u64_u32_shr32(ref_shift(delta, shift), mul)
}

/// Deltas with the edges over-represented.
fn any_delta() -> impl Strategy<Value = u64> {
    prop_oneof![
        4 => any::<u64>(),
        1 => Just(0u64),
        1 => Just(u64::MAX),
        1 => (0u32..64).prop_map(|b| 1u64 << b),
        1 => (0u32..64).prop_map(|b| (1u64 << b).wrapping_sub(1)),
    ]
}

/// Multipliers with the edges over-represented.
fn any_mul() -> impl Strategy<Value = u32> {
    prop_oneof![
        4 => any::<u32>(),
        1 => Just(0u32),
        1 => Just(1u32),
        1 => Just(u32::MAX),
        1 => Just(1u32 << 31),
    ]
}

// ---------------------------------------------------------------------------
// scale_delta
// ---------------------------------------------------------------------------

#[test]
fn scale_delta_known_answers() {
    assert!(TEST_VECTORS.len() >= 20);
    for v in TEST_VECTORS {
        assert_eq!(scale_delta(v.delta, v.mul, v.shift), v.expected, "{v:?}");
    }
}

#[test]
fn known_answers_agree_with_reference() {
    // Guards the vectors themselves against typos.
    for v in TEST_VECTORS {
        assert_eq!(reference(v.delta, v.mul, v.shift), v.expected, "{v:?}");
    }
}

#[test]
fn scale_delta_every_i8_shift_on_edge_values() {
    let deltas = [
        0,
        1,
        2,
        3,
        0xffff_ffff,
        1 << 32,
        1 << 63,
        u64::MAX - 1,
        u64::MAX,
    ];
    let muls = [
        0,
        1,
        2,
        1 << 31,
        (1 << 31) + 1,
        3_435_973_836,
        u32::MAX - 1,
        u32::MAX,
    ];
    for shift in i8::MIN..=i8::MAX {
        for &delta in &deltas {
            for &mul in &muls {
                assert_eq!(
                    scale_delta(delta, mul, shift),
                    reference(delta, mul, shift),
                    "delta {delta:#x} mul {mul:#x} shift {shift}"
                );
            }
        }
    }
}

#[test]
fn scale_delta_out_of_range_shifts_give_zero() {
    for shift in (i8::MIN..=-64).chain(64..=i8::MAX) {
        assert_eq!(scale_delta(u64::MAX, u32::MAX, shift), 0, "shift {shift}");
    }
    // The largest in-range shifts still keep the surviving bit.
    assert_ne!(scale_delta(u64::MAX, u32::MAX, 63), 0);
    assert_ne!(scale_delta(u64::MAX, u32::MAX, -62), 0);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4096))]

    #[test]
    fn scale_delta_matches_reference_legal_shifts(
        delta in any_delta(),
        mul in any_mul(),
        shift in -31i8..=31,
    ) {
        prop_assert_eq!(scale_delta(delta, mul, shift), reference(delta, mul, shift));
    }

    #[test]
    fn scale_delta_matches_reference_any_i8(
        delta in any_delta(),
        mul in any_mul(),
        shift in any::<i8>(),
    ) {
        prop_assert_eq!(scale_delta(delta, mul, shift), reference(delta, mul, shift));
    }

    #[test]
    fn scale_delta_never_exceeds_shifted_delta(
        delta in any_delta(),
        mul in any_mul(),
        shift in -31i8..=31,
    ) {
        // mul_frac < 1.0, so scaling never grows the (shifted) delta.
        let shifted = ref_shift(delta, shift);
        let r = scale_delta(delta, mul, shift);
        prop_assert!(r <= shifted);
        if mul == 1 << 31 {
            prop_assert_eq!(r, shifted / 2);
        }
    }

    #[test]
    fn scale_delta_is_monotonic_in_delta_for_right_shifts(
        a in any_delta(),
        b in any_delta(),
        mul in any_mul(),
        shift in -31i8..=0,
    ) {
        // Right shifts lose no high bits, so a later TSC never maps earlier.
        let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
        prop_assert!(scale_delta(lo, mul, shift) <= scale_delta(hi, mul, shift));
    }
}

// ---------------------------------------------------------------------------
// time_at
// ---------------------------------------------------------------------------

fn info(tsc_timestamp: u64, system_time: u64, mul: u32, shift: i8) -> TimeInfo {
    TimeInfo {
        version: 2,
        tsc_timestamp,
        system_time,
        tsc_to_system_mul: mul,
        tsc_shift: shift,
        flags: 0,
    }
}

#[test]
fn time_at_typical_2_5_ghz() {
    let i = info(1_000_000, 5_000_000_000, 3_435_973_836, -1);
    assert_eq!(time_at(&i, 1_000_000), 5_000_000_000);
    assert_eq!(time_at(&i, 1_000_000 + 2_500_000_000), 5_999_999_999);
}

#[test]
fn time_at_tsc_below_timestamp_wraps_like_c() {
    // delta = 998 - 1000 = 2^64 - 2; half of it is 2^63 - 1.
    let i = info(1000, 5000, 1 << 31, 0);
    assert_eq!(time_at(&i, 998), 5000 + (1u64 << 63) - 1);
    // The shift also drops the wrapped delta's top bit:
    // (2^64 - 2) << 1 = 2^64 - 4 (mod 2^64); times 0.5 = 2^63 - 2.
    let j = info(1000, 5000, 1 << 31, 1);
    assert_eq!(time_at(&j, 998), 5000 + (1u64 << 63) - 2);
}

#[test]
fn time_at_system_time_addition_wraps() {
    let i = info(0, u64::MAX - 10, 1 << 31, 1);
    assert_eq!(time_at(&i, 20), 9);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4096))]

    #[test]
    fn time_at_matches_reference(
        tsc in any_delta(),
        tsc_timestamp in any_delta(),
        system_time in any_delta(),
        mul in any_mul(),
        shift in any::<i8>(),
    ) {
        let i = info(tsc_timestamp, system_time, mul, shift);
        let delta = tsc.wrapping_sub(tsc_timestamp);
        let expected = system_time.wrapping_add(reference(delta, mul, shift));
        prop_assert_eq!(time_at(&i, tsc), expected);
    }
}

// ---------------------------------------------------------------------------
// Version protocol: scripted fake
// ---------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    Version,
    Barrier,
    Tsc,
    Snapshot,
}

/// Returns `versions[i]` on the i-th version read (the last entry forever
/// after), and for the n-th snapshot a record whose fields all encode n, so
/// the test can tell which iteration's data `read()` returned.
struct Scripted {
    versions: Vec<u32>,
    version_reads: Cell<usize>,
    snapshots: Cell<u64>,
    log: RefCell<Vec<Op>>,
}

impl Scripted {
    fn new(versions: Vec<u32>) -> Self {
        Scripted {
            versions,
            version_reads: Cell::new(0),
            snapshots: Cell::new(0),
            log: RefCell::new(Vec::new()),
        }
    }

    fn record(n: u64) -> TimeInfo {
        TimeInfo {
            version: 0,
            tsc_timestamp: 1000 * n,
            system_time: 1_000_000 * n,
            tsc_to_system_mul: 1 << 31,
            tsc_shift: 1,
            flags: (n % 4) as u8,
        }
    }

    const TSC_OFFSET: u64 = 77;
}

impl TimeSource for Scripted {
    fn version(&self) -> u32 {
        self.log.borrow_mut().push(Op::Version);
        let i = self.version_reads.get();
        self.version_reads.set(i + 1);
        *self
            .versions
            .get(i)
            .unwrap_or_else(|| self.versions.last().unwrap())
    }

    fn snapshot(&self) -> TimeInfo {
        self.log.borrow_mut().push(Op::Snapshot);
        let n = self.snapshots.get();
        self.snapshots.set(n + 1);
        Scripted::record(n)
    }

    fn read_tsc(&self) -> u64 {
        self.log.borrow_mut().push(Op::Tsc);
        // Always 77 ticks past the snapshot about to be read.
        1000 * self.snapshots.get() + Scripted::TSC_OFFSET
    }

    fn read_barrier(&self) {
        self.log.borrow_mut().push(Op::Barrier);
    }
}

/// Asserts that `read()` on `versions` retried exactly `retries` times and
/// returned the last iteration's data.
fn check_retries(versions: Vec<u32>, retries: usize) {
    let src = Scripted::new(versions);
    let (now, flags) = read(&src);
    assert_eq!(src.snapshots.get(), retries as u64 + 1, "iterations");
    assert_eq!(src.version_reads.get(), 2 * (retries + 1), "version reads");
    let last = Scripted::record(retries as u64);
    assert_eq!(now, last.system_time + Scripted::TSC_OFFSET);
    assert_eq!(flags, last.flags);
}

#[test]
fn read_protocol_order_and_barriers() {
    let src = Scripted::new(vec![4, 4]);
    let (now, flags) = read(&src);
    assert_eq!((now, flags), (Scripted::TSC_OFFSET, 0));
    use Op::*;
    assert_eq!(
        *src.log.borrow(),
        [Version, Barrier, Tsc, Snapshot, Barrier, Version]
    );
}

#[test]
fn read_stable_version_no_retry() {
    check_retries(vec![6, 6], 0);
}

#[test]
fn read_odd_version_retries() {
    for k in 1..=8u32 {
        // Odd at both reads of each of the first k iterations.
        let mut v: Vec<u32> = (0..k).flat_map(|_| [7, 7]).collect();
        v.extend([8, 8]);
        check_retries(v, k as usize);
    }
}

#[test]
fn read_odd_then_even_within_one_iteration_retries() {
    // Began during an update that finished before the re-read: 7 & !1 = 6
    // differs from 8, so the data may be torn and is discarded.
    check_retries(vec![7, 8, 8, 8], 1);
}

#[test]
fn read_odd_version_that_stays_is_not_accepted() {
    // Masked 7 is 6, never equal to a re-read of 7.
    check_retries(vec![7, 7, 7, 7, 7, 7, 10, 10], 3);
}

#[test]
fn read_changing_version_retries() {
    for k in 1..=8u32 {
        // A complete update lands between begin and end of each of the
        // first k iterations.
        let mut v: Vec<u32> = (0..k).flat_map(|i| [2 * i, 2 * i + 2]).collect();
        v.extend([2 * k + 2, 2 * k + 2]);
        check_retries(v, k as usize);
    }
}

#[test]
fn read_version_wraparound() {
    check_retries(vec![u32::MAX, 0, 0, 0], 1);
    check_retries(vec![u32::MAX - 1, u32::MAX - 1], 0);
}

// ---------------------------------------------------------------------------
// Version protocol: simulated concurrent writer
// ---------------------------------------------------------------------------

/// A record in shared memory and a hypervisor writer that updates it one
/// store at a time, like Xen: version odd, each field, version even. Every
/// load the reader makes first lets the writer take a scripted number of
/// stores, so updates interleave with the reader at field granularity.
struct Sim {
    version: Cell<u32>,
    fields: Cell<TimeInfo>,
    /// Stores the writer takes before each reader load, consumed in order.
    schedule: Vec<u8>,
    next: Cell<usize>,
    /// Position inside the current update: 0 = idle, 1..=7 = next store.
    step: Cell<u32>,
    tsc: Cell<u64>,
    // What the last iteration of `read()` saw.
    last_snapshot: Cell<TimeInfo>,
    last_tsc: Cell<u64>,
    iterations: Cell<u32>,
}

/// The record published by the update that makes the version `2 * k`.
fn sim_record(k: u32) -> TimeInfo {
    let k64 = u64::from(k);
    TimeInfo {
        version: 2 * k,
        tsc_timestamp: 10_000 * k64,
        system_time: 3_000_000 * k64 + 17,
        tsc_to_system_mul: 0x8000_0000 + k,
        tsc_shift: (k % 5) as i8 - 2,
        flags: (k % 4) as u8,
    }
}

impl Sim {
    fn new(schedule: Vec<u8>) -> Self {
        Sim {
            version: Cell::new(0),
            fields: Cell::new(sim_record(0)),
            schedule,
            next: Cell::new(0),
            step: Cell::new(0),
            tsc: Cell::new(5),
            last_snapshot: Cell::new(TimeInfo::default()),
            last_tsc: Cell::new(0),
            iterations: Cell::new(0),
        }
    }

    /// One store of the writer.
    fn store(&self) {
        let step = self.step.get();
        let v = self.version.get();
        // Idle at 2k or mid-update at 2k + 1: either way record k + 1 is next.
        let new = sim_record(v / 2 + 1);
        let mut f = self.fields.get();
        match step {
            0 => self.version.set(v + 1),
            1 => f.tsc_timestamp = new.tsc_timestamp,
            2 => f.system_time = new.system_time,
            3 => f.tsc_to_system_mul = new.tsc_to_system_mul,
            4 => f.tsc_shift = new.tsc_shift,
            5 => f.flags = new.flags,
            _ => self.version.set(v + 1),
        }
        self.fields.set(f);
        self.step.set(if step >= 6 { 0 } else { step + 1 });
    }

    /// Lets the writer run before one reader load. Once the schedule is used
    /// up the writer finishes any update in progress and stops, so the reader
    /// always terminates.
    fn tick(&self) {
        let i = self.next.get();
        self.next.set(i + 1);
        match self.schedule.get(i) {
            Some(&n) => (0..n).for_each(|_| self.store()),
            None => {
                while self.step.get() != 0 {
                    self.store();
                }
            }
        }
    }

    /// A reader without the version protocol, to prove the simulation does
    /// produce torn records.
    fn naive_snapshot(&self) -> TimeInfo {
        self.snapshot()
    }
}

impl TimeSource for Sim {
    fn version(&self) -> u32 {
        self.tick();
        self.version.get()
    }

    fn snapshot(&self) -> TimeInfo {
        // Field by field, like volatile loads of the shared page.
        let mut out = TimeInfo::default();
        self.tick();
        out.tsc_timestamp = self.fields.get().tsc_timestamp;
        self.tick();
        out.system_time = self.fields.get().system_time;
        self.tick();
        out.tsc_to_system_mul = self.fields.get().tsc_to_system_mul;
        self.tick();
        out.tsc_shift = self.fields.get().tsc_shift;
        self.tick();
        out.flags = self.fields.get().flags;
        self.last_snapshot.set(out);
        self.iterations.set(self.iterations.get() + 1);
        out
    }

    fn read_tsc(&self) -> u64 {
        self.tick();
        let t = self.tsc.get() + 1234;
        self.tsc.set(t);
        self.last_tsc.set(t);
        t
    }

    fn read_barrier(&self) {}
}

fn is_published(snap: &TimeInfo) -> bool {
    (0..1000).any(|k| {
        let r = sim_record(k);
        TimeInfo { version: 0, ..r }
            == TimeInfo {
                version: 0,
                ..*snap
            }
    })
}

#[test]
fn sim_can_produce_torn_records() {
    // Control for the test below: an update starts between the first two
    // field loads and, the schedule used up, completes before the third, so
    // a read without the protocol mixes old and new fields.
    let sim = Sim::new(vec![0, 2]);
    let snap = sim.naive_snapshot();
    assert!(!is_published(&snap), "{snap:?}");
}

#[test]
fn read_with_concurrent_writer_example() {
    // Begin sees version 0, then a full update (7 stores) lands mid-snapshot.
    let sim = Sim::new(vec![0, 0, 0, 0, 7, 0, 0, 0, 0, 0]);
    let (now, flags) = read(&sim);
    assert_eq!(sim.iterations.get(), 2);
    let r = sim_record(1);
    assert_eq!(sim.last_snapshot.get(), TimeInfo { version: 0, ..r });
    assert_eq!(now, time_at(&r, sim.last_tsc.get()));
    assert_eq!(flags, r.flags);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    #[test]
    fn read_never_returns_torn_record(schedule in prop::collection::vec(0u8..4, 0..200)) {
        let sim = Sim::new(schedule);
        let (now, flags) = read(&sim);
        let snap = sim.last_snapshot.get();
        // The returned data must be one complete published record...
        let k = (0..1000u32)
            .find(|&k| TimeInfo { version: 0, ..sim_record(k) } == snap);
        prop_assert!(k.is_some(), "torn snapshot {:?}", snap);
        let r = sim_record(k.unwrap_or(0));
        prop_assert_eq!(now, time_at(&r, sim.last_tsc.get()));
        prop_assert_eq!(flags, r.flags);
        // ...namely the one current when read() validated the version.
        let v = sim.version.get();
        prop_assert_eq!(v % 2, 0);
        prop_assert_eq!(k, Some(v / 2));
    }
}

// ---------------------------------------------------------------------------
// monotonic
// ---------------------------------------------------------------------------

#[test]
fn monotonic_stable_bit_bypasses_guard() {
    let last = AtomicU64::new(100);
    assert_eq!(monotonic(&last, 50, PVCLOCK_TSC_STABLE_BIT), 50);
    assert_eq!(monotonic(&last, 500, PVCLOCK_TSC_STABLE_BIT), 500);
    assert_eq!(
        monotonic(&last, 50, PVCLOCK_TSC_STABLE_BIT | PVCLOCK_GUEST_STOPPED),
        50
    );
    // The bypass neither reads nor updates the accumulator.
    assert_eq!(last.load(Ordering::Relaxed), 100);
}

#[test]
fn monotonic_other_flags_do_not_bypass() {
    let last = AtomicU64::new(100);
    assert_eq!(monotonic(&last, 50, PVCLOCK_GUEST_STOPPED), 100);
    assert_eq!(monotonic(&last, 50, 0xfe), 100);
}

#[test]
fn monotonic_below_or_equal_returns_last() {
    let last = AtomicU64::new(100);
    assert_eq!(monotonic(&last, 99, 0), 100);
    assert_eq!(monotonic(&last, 0, 0), 100);
    assert_eq!(monotonic(&last, 100, 0), 100);
    assert_eq!(last.load(Ordering::Relaxed), 100);
}

#[test]
fn monotonic_above_updates() {
    let last = AtomicU64::new(100);
    assert_eq!(monotonic(&last, 101, 0), 101);
    assert_eq!(last.load(Ordering::Relaxed), 101);
    assert_eq!(monotonic(&last, u64::MAX, 0), u64::MAX);
    assert_eq!(last.load(Ordering::Relaxed), u64::MAX);
    assert_eq!(monotonic(&last, 5, 0), u64::MAX);
}

#[test]
fn monotonic_from_zero_after_resume() {
    // pvclock_resume() resets the accumulator to 0; the next reading wins.
    let last = AtomicU64::new(0);
    assert_eq!(monotonic(&last, 0, 0), 0);
    assert_eq!(monotonic(&last, 42, 0), 42);
}

#[test]
fn monotonic_concurrent_readers_never_go_back() {
    const THREADS: usize = 4;
    const ITERS: u64 = 200_000;
    // Each CPU's clock runs a little ahead of or behind the true time; the
    // offsets are small so that the CPUs' readings interleave and often race
    // to raise the accumulator at the same time.
    const SKEW: [u64; THREADS] = [0, 3, 7, 12];

    // True time: every reading advances it, so each CPU's readings increase.
    let true_time = AtomicU64::new(1_000_000);
    let last = AtomicU64::new(0);
    // Highest value any call has returned so far. A call that starts after
    // another returned must not return less (linearizability of the guard).
    let max_returned = AtomicU64::new(0);
    let done = AtomicBool::new(false);
    let start = Barrier::new(THREADS + 1);

    let max_produced = thread::scope(|s| {
        let sampler = s.spawn(|| {
            start.wait();
            let mut prev = 0;
            let mut samples = 0u64;
            while !done.load(Ordering::Acquire) {
                let v = last.load(Ordering::Relaxed);
                assert!(v >= prev, "global last went back: {v} < {prev}");
                prev = v;
                samples += 1;
            }
            samples
        });
        let workers: Vec<_> = SKEW
            .iter()
            .map(|&skew| {
                let (true_time, last, max_returned, start) =
                    (&true_time, &last, &max_returned, &start);
                s.spawn(move || {
                    start.wait();
                    let mut prev = 0;
                    let mut max_now = 0;
                    for _ in 0..ITERS {
                        let floor = max_returned.load(Ordering::SeqCst);
                        let now = true_time.fetch_add(1, Ordering::Relaxed) + skew;
                        let got = monotonic(last, now, 0);
                        assert!(got >= prev, "skew {skew}: {got} < own earlier {prev}");
                        assert!(got >= floor, "skew {skew}: {got} < earlier result {floor}");
                        assert!(got >= now, "skew {skew}: {got} < own reading {now}");
                        max_returned.fetch_max(got, Ordering::SeqCst);
                        prev = got;
                        max_now = now;
                    }
                    max_now
                })
            })
            .collect();
        // Stop the sampler before propagating a worker's failure, or the
        // scope would wait for it forever.
        let results: Vec<_> = workers.into_iter().map(|w| w.join()).collect();
        done.store(true, Ordering::Release);
        let samples = sampler.join().unwrap();
        let max = results.into_iter().map(|r| r.unwrap()).max().unwrap();
        assert!(samples > 0);
        max
    });
    // Lost updates would leave the accumulator below the largest reading.
    assert_eq!(last.load(Ordering::Relaxed), max_produced);
    assert_eq!(max_returned.load(Ordering::Relaxed), max_produced);
}

// ---------------------------------------------------------------------------
// oneshot_deadline
// ---------------------------------------------------------------------------

#[test]
fn oneshot_deadline_adds() {
    assert_eq!(oneshot_deadline(1_000, 0xffff_ffff), 1_000 + 0xffff_ffff);
    assert_eq!(oneshot_deadline(0, 0), 0);
}

#[test]
fn oneshot_deadline_saturates() {
    assert_eq!(oneshot_deadline(u64::MAX - 5, 10), u64::MAX);
    assert_eq!(oneshot_deadline(u64::MAX, u64::MAX), u64::MAX);
    assert_eq!(oneshot_deadline(u64::MAX - 10, 10), u64::MAX);
    assert_eq!(oneshot_deadline(u64::MAX - 11, 10), u64::MAX - 1);
}

proptest! {
    #[test]
    fn oneshot_deadline_never_before_now(now in any_delta(), delta in any_delta()) {
        let d = oneshot_deadline(now, delta);
        prop_assert!(d >= now);
        prop_assert!(d >= delta);
        // The exact sum, clamped to the largest representable deadline.
        let exact = u128::from(now) + u128::from(delta);
        prop_assert_eq!(u128::from(d), exact.min(u128::from(u64::MAX)));
    }
}

// ---------------------------------------------------------------------------
// periodic_ticks
// ---------------------------------------------------------------------------

#[test]
fn periodic_ticks_known_answers() {
    assert!(PERIODIC_VECTORS.len() >= 6);
    for v in PERIODIC_VECTORS {
        assert_eq!(periodic_ticks(v.now, v.next_due, v.period), v.expected, "{v:?}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4096))]

    /// Fed a sequence of event times, the emulation delivers exactly one tick per period
    /// boundary passed, whatever the lateness of each event: no tick lost, none doubled,
    /// no drift of the schedule.
    #[test]
    fn periodic_ticks_count_every_boundary(
        start in 0u64..1u64 << 50,
        period in 1_000_000u64..20_000_000,
        steps in prop::collection::vec(0u64..50_000_000, 1..200),
    ) {
        let mut next = start + period;
        let mut now = start;
        let mut delivered = 0u64;
        for step in steps {
            now += step;
            let (due, after) = periodic_ticks(now, next, period);
            delivered += due;
            prop_assert!(after > now, "the next tick is in the future");
            prop_assert!(after - now <= period);
            prop_assert_eq!((after - start) % period, 0, "ticks stay on the start's grid");
            next = after;
        }
        prop_assert_eq!(delivered, (now - start) / period);
    }
}

// ---------------------------------------------------------------------------
// Lateness histogram buckets.
// ---------------------------------------------------------------------------

/// The bucket by counting: the number of times the microseconds can be halved before they
/// reach zero, capped at the last bucket.
fn reference_bucket(ns: u64) -> usize {
    let mut us = ns / 1_000;
    let mut b = 0;
    while us > 0 {
        us /= 2;
        b += 1;
    }
    b.min(LATENESS_BUCKETS - 1)
}

#[test]
fn lateness_bucket_known_answers() {
    for &(ns, bucket) in LATENESS_VECTORS {
        assert_eq!(lateness_bucket(ns), bucket, "{ns} ns");
    }
}

#[test]
fn lateness_bucket_edges() {
    // Every bucket starts at its floor, and the nanosecond before it is in the bucket before.
    assert_eq!(lateness_bucket_floor_us(LATENESS_BUCKETS - 1), 65_536);
    for b in 1..LATENESS_BUCKETS {
        let floor_ns = lateness_bucket_floor_us(b) * 1_000;
        assert_eq!(lateness_bucket(floor_ns), b);
        assert_eq!(lateness_bucket(floor_ns - 1), b - 1);
    }
}

proptest! {
    #[test]
    fn lateness_bucket_matches_reference(ns in any::<u64>()) {
        prop_assert_eq!(lateness_bucket(ns), reference_bucket(ns));
    }

    #[test]
    fn lateness_bucket_is_monotonic(a in any::<u64>(), b in any::<u64>()) {
        let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
        prop_assert!(lateness_bucket(lo) <= lateness_bucket(hi));
    }
}
