// SPDX-License-Identifier: GPL-2.0

//! KUnit tests of `pvclock.rs` and `deadline.rs`, run in the guest when the module loads.
//!
//! The host runs many more (property tests with `proptest`, threads, fakes of a hypervisor that
//! rewrites the record mid-read: `host/tests/pvclock.rs`; the drift simulator:
//! `host/tests/drift_sim.rs`); these check that the code the kernel
//! compiled gives the same known answers.

use kernel::prelude::*;

#[kunit_tests(xen_clock_pvclock)]
mod tests {
    use crate::deadline::{
        deadline,
        DriftEstimator,
        Policy,
        Rate,
        DEADLINE_VECTORS,
        ESTIMATE_VECTORS,
        ESTIMATE_VECTOR_WINDOW,
        RATE_VECTORS, //
    };
    use crate::pvclock::{
        lateness_bucket,
        lateness_bucket_floor_us,
        monotonic,
        oneshot_deadline,
        periodic_ticks,
        read,
        scale_delta,
        time_at,
        TimeInfo,
        TimeSource,
        LATENESS_BUCKETS,
        LATENESS_VECTORS,
        PERIODIC_VECTORS,
        PVCLOCK_TSC_STABLE_BIT,
        TEST_VECTORS, //
    };
    use core::cell::Cell;
    use kernel::sync::atomic::Atomic;

    #[test]
    fn scale_delta_known_answers() {
        for v in TEST_VECTORS {
            assert_eq!(scale_delta(v.delta, v.mul, v.shift), v.expected);
        }
    }

    #[test]
    fn time_at_wraps_like_c() {
        let info = TimeInfo {
            tsc_timestamp: 1000,
            system_time: 5_000_000,
            tsc_to_system_mul: 1 << 31,
            tsc_shift: 1,
            ..TimeInfo::default()
        };
        assert_eq!(time_at(&info, 1000), 5_000_000);
        assert_eq!(time_at(&info, 1500), 5_000_500);
        // A TSC below the timestamp gives a huge delta, as in C: the sum wraps.
        let below = time_at(&info, 999);
        assert_eq!(
            below,
            5_000_000u64.wrapping_add(scale_delta(u64::MAX, 1 << 31, 1))
        );
    }

    /// A record whose version is odd for the first `odd_reads` loads of it.
    struct Flaky {
        loads: Cell<u32>,
        odd_reads: u32,
    }

    impl TimeSource for Flaky {
        fn version(&self) -> u32 {
            let n = self.loads.get();
            self.loads.set(n + 1);
            if n < self.odd_reads {
                3
            } else {
                4
            }
        }
        fn snapshot(&self) -> TimeInfo {
            TimeInfo {
                system_time: 42,
                tsc_to_system_mul: 1 << 31,
                tsc_shift: 1,
                flags: PVCLOCK_TSC_STABLE_BIT,
                ..TimeInfo::default()
            }
        }
        fn read_tsc(&self) -> u64 {
            8
        }
        fn read_barrier(&self) {}
    }

    #[test]
    fn read_retries_while_odd() {
        let src = Flaky {
            loads: Cell::new(0),
            odd_reads: 5,
        };
        assert_eq!(read(&src), (50, PVCLOCK_TSC_STABLE_BIT));
        // Each odd attempt loads the version twice; the good one twice more.
        assert!(src.loads.get() >= 6);
    }

    #[test]
    fn monotonic_never_goes_back() {
        let last = Atomic::<u64>::new(0);
        assert_eq!(monotonic(&last, 100, 0), 100);
        assert_eq!(monotonic(&last, 90, 0), 100);
        assert_eq!(monotonic(&last, 110, 0), 110);
        // Trusted stable TSC: no guard.
        assert_eq!(monotonic(&last, 90, PVCLOCK_TSC_STABLE_BIT), 90);
    }

    #[test]
    fn deadline_saturates() {
        assert_eq!(oneshot_deadline(1_000, 500), 1_500);
        assert_eq!(oneshot_deadline(u64::MAX - 1, 500), u64::MAX);
    }

    #[test]
    fn periodic_ticks_known_answers() {
        for v in PERIODIC_VECTORS {
            assert_eq!(periodic_ticks(v.now, v.next_due, v.period), v.expected);
        }
    }

    #[test]
    fn lateness_buckets_known_answers() {
        for &(ns, bucket) in LATENESS_VECTORS {
            assert_eq!(lateness_bucket(ns), bucket);
        }
        // Each bucket's lower edge falls in that bucket.
        for b in 0..LATENESS_BUCKETS {
            assert_eq!(lateness_bucket(lateness_bucket_floor_us(b) * 1_000), b);
        }
    }

    #[test]
    fn rate_known_answers() {
        for v in RATE_VECTORS {
            assert_eq!(Rate::from_ppb(v.ppb).to_xen(v.kernel_ns), v.expected);
        }
    }

    #[test]
    fn deadline_known_answers() {
        for v in DEADLINE_VECTORS {
            let rate = Rate::from_ppb(v.ppb);
            assert_eq!(
                deadline(
                    v.policy,
                    v.xen_now,
                    v.delta_ns,
                    v.kernel_expiry_ns,
                    v.offset_ns,
                    rate
                ),
                v.expected
            );
        }
        // Delta is what the driver programmed before the policies existed.
        assert_eq!(
            deadline(Policy::Delta, 1_000, 500, 7, 3, Rate::IDENTITY),
            oneshot_deadline(1_000, 500)
        );
    }

    #[test]
    fn drift_estimator_known_answers() {
        for v in ESTIMATE_VECTORS {
            let mut e = DriftEstimator::<ESTIMATE_VECTOR_WINDOW>::new();
            for &(kernel_ns, xen_ns) in v.samples {
                e.add(kernel_ns, xen_ns);
            }
            assert_eq!(e.samples(), v.window);
            assert_eq!(e.estimate(), v.expected);
        }
    }
}
