#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Run the host tests of the driver's kernel-independent code (host/, which
# compiles pvclock.rs). The build goes to the cache, outside the clone, so it
# is kept between runs; the output is also written to results/host-test.log.
# Extra arguments go to `cargo test` (e.g. a test name filter).
# Exit status: cargo's.
set -euo pipefail

. "$(dirname "$0")/lib.sh"
export CARGO_TARGET_DIR=$CACHE/host-target

mkdir -p "$RESULTS" "$CARGO_TARGET_DIR"

set +e
cargo +"$RUST_VER" test --manifest-path "$REPO/host/Cargo.toml" -j2 "$@" 2>&1 |
	tee "$RESULTS/host-test.log"
rc=${PIPESTATUS[0]}
set -e
exit "$rc"
