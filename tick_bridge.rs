// SPDX-License-Identifier: GPL-2.0

//! The bridge between the `xen-rs` clock event devices and the tick core.
//!
//! - As each CPU comes online (and on every online CPU at load), its vCPU timer is probed and
//!   its `xen-rs` device registered: rated above the C `xen` device, it takes the CPU's tick
//!   over. Before a CPU goes offline (and on every CPU at unload), the device is unbound, which
//!   hands the tick back to the C device first. Both run from the callbacks of a
//!   `kernel::cpu::hotplug::Registration`.
//! - The vCPU timer's events, which the C driver's `VIRQ_TIMER` handler offers to the
//!   driver first (`xen_hv::TimerEventHook`), go to the current CPU's device if the tick core
//!   uses it, and to the C device otherwise.
//! - Built in and in place of the C driver (`xen_builtin.rs`), the devices are registered as
//!   each CPU starts and run its tick until it is down; the hotplug state only tells them that
//!   a CPU died, and the events come from the driver's own `VIRQ_TIMER` binding.
//!
//! Safe code only: the devices are `kernel::time::clockevents`, the hook is in the hypervisor
//! layer.

use crate::{
    xen_clockevent::XenClockEvents,
    xen_hv::TimerEventHandler,
    Role, //
};
use kernel::{
    cpu::{
        hotplug::{
            self,
            DeadCpu, //
        },
        CpuId, //
    },
    interrupt::LocalInterruptDisabled,
    prelude::*,
};

impl TimerEventHandler for XenClockEvents {
    fn timer_event(&self, irq_off: &LocalInterruptDisabled) -> bool {
        self.devices
            .deliver(irq_off, |timer, event| timer.event(event))
    }
}

#[vtable]
impl hotplug::Operations for XenClockEvents {
    /// Never fails: a CPU whose probe fails keeps the C device, and a failure here would make
    /// the hotplug core undo the CPUs set up before, which may no longer be possible (see
    /// [`PerCpuDevices`](kernel::time::clockevents::PerCpuDevices)).
    fn online(&self, cpu: CpuId) -> Result {
        // In place of the C driver, the device was registered as the CPU started
        // (`xen_builtin::setup_cpu_clockevents`).
        if self.role != Role::Beside {
            return Ok(());
        }
        let Some(timer) = self.devices.ops(cpu) else {
            return Ok(());
        };
        if let Err(e) = timer.probe() {
            pr_warn!(
                "CPU {}: Xen refused VCPUOP_stop_periodic_timer ({e:?}): its tick stays with \
                 the xen device\n",
                cpu.as_u32()
            );
            return Ok(());
        }
        if let Err(e) = self.devices.register(cpu) {
            pr_err!("CPU {}: could not register xen-rs: {e:?}\n", cpu.as_u32());
        }
        Ok(())
    }

    fn offline(&self, cpu: CpuId) {
        // In place of the C driver no other device is there to take the tick: the device runs
        // it until the CPU is down, as the C one does.
        if self.role != Role::Beside {
            return;
        }
        if self.devices.unregister(cpu).is_err() {
            pr_notice!(
                "CPU {}: no other clock event device to take the tick; xen-rs keeps it until \
                 the CPU is down\n",
                cpu.as_u32()
            );
        }
    }

    fn dead(&self, cpu: &DeadCpu<'_>) {
        self.devices.forget(cpu);
    }
}
