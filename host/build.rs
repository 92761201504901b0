// SPDX-License-Identifier: GPL-2.0

//! The kernel compiles the test vectors of `pvclock.rs` and `deadline.rs` only with
//! `CONFIG_XEN_CLOCK_RUST_KUNIT_TEST`; the host tests always need them.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(CONFIG_XEN_CLOCK_RUST_KUNIT_TEST)");
    println!("cargo::rustc-cfg=CONFIG_XEN_CLOCK_RUST_KUNIT_TEST");
}
