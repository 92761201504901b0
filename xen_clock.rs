// SPDX-License-Identifier: GPL-2.0

//! Xen guest time in Rust.
//!
//! The crate root of `xen_clock.ko`. This first version only proves the tool chain: it loads,
//! says which Xen domain it runs in, and unloads.

use kernel::prelude::*;

module! {
    type: XenClock,
    name: "xen_clock",
    authors: ["The xen-clock developers"],
    description: "Xen guest clock: pvclock clocksource and VCPUOP timer, in Rust",
    license: "GPL",
}

struct XenClock;

impl kernel::Module for XenClock {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        pr_info!("loaded\n");
        Ok(XenClock)
    }
}

impl Drop for XenClock {
    fn drop(&mut self) {
        pr_info!("unloaded\n");
    }
}
