// SPDX-License-Identifier: GPL-2.0
/*
 * xen_twin: a C twin of the xen-rs clock event device, for experiments only.
 *
 * One clock_event_device "xen-twin" per CPU, like xen-rs: TICK_ONLY, rating
 * 510, one-shot deadlines from xen_clocksource_read() with VCPUOP, events
 * from the xen_timer_event_hook of patches/. It tells what the Rust code does
 * from what the hand-over of the vCPU timer does (README.md, "Known
 * failure"). Not a driver: no error handling beyond the minimum.
 */
#include <linux/module.h>
#include <linux/clockchips.h>
#include <linux/cpuhotplug.h>
#include <linux/percpu.h>
#include <linux/string.h>
#include <xen/xen.h>
#include <xen/xen-ops.h>
#include <xen/interface/xen.h>
#include <xen/interface/vcpu.h>
#include <asm/xen/hypercall.h>
#include <asm/xen/hypervisor.h>

static DEFINE_PER_CPU(struct clock_event_device, xen_twin_ced);
static int xen_twin_state;

static int xen_twin_shutdown(struct clock_event_device *evt)
{
	int cpu = smp_processor_id();

	HYPERVISOR_vcpu_op(VCPUOP_stop_singleshot_timer, xen_vcpu_nr(cpu), NULL);
	HYPERVISOR_vcpu_op(VCPUOP_stop_periodic_timer, xen_vcpu_nr(cpu), NULL);
	return 0;
}

static int xen_twin_set_oneshot(struct clock_event_device *evt)
{
	HYPERVISOR_vcpu_op(VCPUOP_stop_periodic_timer, xen_vcpu_nr(smp_processor_id()), NULL);
	return 0;
}

static int xen_twin_next(unsigned long delta, struct clock_event_device *evt)
{
	struct vcpu_set_singleshot_timer single = {
		.timeout_abs_ns = xen_clocksource_read() + delta,
		.flags = 0,
	};

	return HYPERVISOR_vcpu_op(VCPUOP_set_singleshot_timer, xen_vcpu_nr(smp_processor_id()), &single);
}

static irqreturn_t xen_twin_hook_fn(struct xen_timer_event_hook *hook)
{
	struct clock_event_device *evt = this_cpu_ptr(&xen_twin_ced);

	if (!evt->event_handler || clockevent_state_detached(evt))
		return IRQ_NONE;
	evt->event_handler(evt);
	return IRQ_HANDLED;
}

static struct xen_timer_event_hook xen_twin_hook = { .handler = xen_twin_hook_fn };

static int xen_twin_online(unsigned int cpu)
{
	struct clock_event_device *evt = per_cpu_ptr(&xen_twin_ced, cpu);

	memset(evt, 0, sizeof(*evt));
	evt->name = "xen-twin";
	evt->features = CLOCK_EVT_FEAT_ONESHOT | CLOCK_EVT_FEAT_TICK_ONLY;
	evt->max_delta_ns = 0xffffffff;
	evt->max_delta_ticks = 0xffffffff;
	evt->min_delta_ns = 1;
	evt->min_delta_ticks = 1;
	evt->mult = 1;
	evt->shift = 0;
	evt->rating = 510;
	evt->irq = -1;
	evt->cpumask = cpumask_of(cpu);
	evt->owner = THIS_MODULE;
	evt->set_state_shutdown = xen_twin_shutdown;
	evt->set_state_oneshot = xen_twin_set_oneshot;
	evt->set_next_event = xen_twin_next;
	clockevents_register_device(evt);
	return 0;
}

static int xen_twin_offline(unsigned int cpu)
{
	clockevents_unbind_device(per_cpu_ptr(&xen_twin_ced, cpu), cpu);
	return 0;
}

static int __init xen_twin_init(void)
{
	int ret = xen_timer_set_event_hook(&xen_twin_hook);

	if (ret)
		return ret;
	xen_twin_state = cpuhp_setup_state(CPUHP_AP_ONLINE_DYN, "clockevents/xen_twin:online", xen_twin_online, xen_twin_offline);
	if (xen_twin_state < 0) {
		xen_timer_clear_event_hook(&xen_twin_hook);
		return xen_twin_state;
	}
	return 0;
}

static void __exit xen_twin_exit(void)
{
	cpuhp_remove_state(xen_twin_state);
	xen_timer_clear_event_hook(&xen_twin_hook);
}
module_init(xen_twin_init);
module_exit(xen_twin_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("C twin of the xen-rs clock event device (experiments)");
