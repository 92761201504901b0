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
#include <linux/rcupdate.h>
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

/*
 * Writing anything to /sys/module/xen_twin/parameters/swap hands the calling
 * CPU's tick from xen-twin to the C device and back: two device exchanges,
 * with no module load or unload and no hook change in between.
 */
static int xen_twin_swap(const char *val, const struct kernel_param *kp)
{
	struct clock_event_device *evt;
	int cpu, ret;

	migrate_disable();
	cpu = smp_processor_id();
	evt = per_cpu_ptr(&xen_twin_ced, cpu);
	/* "u": unbind only, "r": register only, anything else: both. */
	ret = val[0] == 'r' ? 0 : clockevents_unbind_device(evt, cpu);
	/* Unbinding leaves the list node pointing at itself: only then register again. */
	if (!ret && val[0] != 'u' && list_empty(&evt->list))
		clockevents_register_device(evt);
	migrate_enable();
	return ret;
}

static const struct kernel_param_ops xen_twin_swap_ops = { .set = xen_twin_swap };
module_param_cb(swap, &xen_twin_swap_ops, NULL, 0200);

/* With nodev=1 the module loads and unloads and does nothing else. */
static bool nodev;
module_param(nodev, bool, 0444);

static int xen_twin_add_state(void)
{
	xen_twin_state = cpuhp_setup_state(CPUHP_AP_ONLINE_DYN, "clockevents/xen_twin:online", xen_twin_online, xen_twin_offline);
	return xen_twin_state < 0 ? xen_twin_state : 0;
}

static int xen_twin_start(void)
{
	int ret = xen_timer_set_event_hook(&xen_twin_hook);

	if (ret)
		return ret;
	ret = xen_twin_add_state();
	if (ret)
		xen_timer_clear_event_hook(&xen_twin_hook);
	return ret;
}

/*
 * Writing anything to /sys/module/xen_twin/parameters/relife does what an
 * unload and a load do, without freeing or allocating the module's memory.
 */
static int xen_twin_relife(const char *val, const struct kernel_param *kp)
{
	/* "s": only wait for an RCU grace period, as removing the hook does. */
	if (val[0] == 's') {
		synchronize_rcu();
		return 0;
	}
	/* "k": redo only the hook; the devices are registered again through "swap". */
	if (val[0] == 'k') {
		xen_timer_clear_event_hook(&xen_twin_hook);
		return xen_timer_set_event_hook(&xen_twin_hook);
	}
	cpuhp_remove_state(xen_twin_state);
	/* "h": keep the hook, redo only the hotplug state. */
	if (val[0] == 'h')
		return xen_twin_add_state();
	xen_timer_clear_event_hook(&xen_twin_hook);
	return xen_twin_start();
}

static const struct kernel_param_ops xen_twin_relife_ops = { .set = xen_twin_relife };
module_param_cb(relife, &xen_twin_relife_ops, NULL, 0200);

static int __init xen_twin_init(void)
{
	return nodev ? 0 : xen_twin_start();
}

static void __exit xen_twin_exit(void)
{
	if (nodev)
		return;
	cpuhp_remove_state(xen_twin_state);
	xen_timer_clear_event_hook(&xen_twin_hook);
}
module_init(xen_twin_init);
module_exit(xen_twin_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("C twin of the xen-rs clock event device (experiments)");
