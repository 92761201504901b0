# SPDX-License-Identifier: GPL-2.0

obj-$(CONFIG_XEN_CLOCK_RUST) += xen_clock.o

# --- the harness: not part of the driver's Makefile in the kernel tree ---
#
# Everything above this line is the driver's Makefile in the kernel tree
# (drivers/clocksource/xen/), and all the series' driver patch carries of it
# (scripts/lib.sh, driver_tree). Below, for a checkout of the repository:
# `make run`, `make check` and `make bench` drive the harness in scripts/,
# which builds a kernel around this directory and boots it as a Xen guest
# under QEMU. Kbuild, which also reads this file, skips it.

ifeq ($(KBUILD_EXTMOD)$(obj),)

.PHONY: all setup kernel run check check-pvh bench soak host-test series-check clean-results help

all: help

help:
	@echo "make run        build everything, boot Xen, start a domU with the driver, show what it did"
	@echo "make check      everything 'run' prepares, plus all tests; ends with 'N passed, N failed'"
	@echo "make check-pvh  the check matrix with PVH guests (fails on this platform: see Documentation/testing.rst)"
	@echo "make bench      read cost of xen-rs against the C xen clocksource, from one boot"
	@echo "make soak       the long load/unload and hotplug runs under timer load (hours; not in CI)"
	@echo "make setup      install host packages, toolchain and pinned downloads only"
	@echo "make kernel     set up and build the kernel with the driver only"
	@echo "make host-test  the driver's arithmetic, tested on the host with cargo"
	@echo "make series-check  every prefix of patches/ builds (slow: about 15 minutes)"

setup:
	@bash scripts/setup-host.sh

kernel: setup
	@bash scripts/build-kernel.sh

run:
	@bash scripts/harness.sh run

check:
	@bash scripts/harness.sh check

check-pvh:
	@bash scripts/harness.sh check-pvh

bench:
	@bash scripts/harness.sh bench

soak:
	@bash scripts/harness.sh soak

host-test:
	@bash scripts/host-test.sh

series-check: kernel
	@bash scripts/check-series.sh

clean-results:
	rm -rf results

endif
