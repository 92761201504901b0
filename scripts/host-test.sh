#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Run the host tests of the driver's kernel-independent code (host/, which
# compiles pvclock.rs). The build goes to the cache, outside the clone, so it
# is kept between runs; the output is also written to results/host-test.log.
# Extra arguments go to `cargo test` (e.g. a test name filter).
# Exit status: cargo's.
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
CACHE=${XEN_CLOCK_CACHE:-$HOME/.cache/xen-clock}
export CARGO_TARGET_DIR=$CACHE/host-target
export PATH="$HOME/.cargo/bin:$PATH"

RESULTS=${RESULTS:-$REPO/results}
mkdir -p "$RESULTS" "$CARGO_TARGET_DIR"

set +e
cargo +1.95.0 test --manifest-path "$REPO/host/Cargo.toml" -j2 "$@" 2>&1 |
	tee "$RESULTS/host-test.log"
rc=${PIPESTATUS[0]}
set -e
exit "$rc"
