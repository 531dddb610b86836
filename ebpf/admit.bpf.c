// SPDX-License-Identifier: GPL-2.0
/*
 * admit: georep's write admission policy, on the writable raw tracepoint
 * georep:georep_admit (include/uapi/linux/georep_bpf.h).
 *
 * Pressure, per mille, is the largest of
 *   uncommitted bytes / max_uncommitted       (the consensus queue)
 *   log blocks in use / high watermark         (the log filling up)
 *   follower lag (map lag, from georepd) / the same budget as the queue
 * Below start_pm nothing happens. Above it a background write (no
 * REQ_SYNC) waits max_delay_us * (pressure - start_pm) / (1000 - start_pm),
 * times (1 + bytes / 128 KiB) so that large writes pay for their size, cut
 * to GEOREP_ADMIT_MAX_DELAY_US; writers slow down smoothly long before the
 * hard watermark stops them;
 * a REQ_SYNC write waits a quarter of that; a FUA or PREFLUSH write (fsync,
 * a journal commit) is never delayed and, while the watermarks throttle
 * the volume, passes ahead of the background writes that wait.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <linux/georep_bpf.h>
#include "admit.h"

#define SIZE_UNIT	(128 << 10)

/* set by georepd before load */
const volatile __u32 start_pm = 250;
const volatile __u32 max_delay_us = 20000;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, ADMIT_MAX_VOLUMES);
	__type(key, __u32);
	__type(value, struct admit_lag);
} lag SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, ADMIT_MAX_VOLUMES);
	__type(key, __u32);
	__type(value, struct admit_stats);
} stats SEC(".maps");

static __always_inline __u64 per_mille(__u64 val, __u64 of)
{
	if (!of)
		return 0;
	if (val >= of)
		return 1000;
	return val * 1000 / of;
}

static __always_inline __u64 pressure(const struct georep_admit_ctx *c)
{
	__u64 wm_blocks = c->log_area_blocks * c->high_wm / 100;
	__u64 budget = c->max_uncommitted ?: wm_blocks * 4096;
	__u64 p, q;
	struct admit_lag *l;
	__u32 minor = c->minor;

	p = per_mille(c->uncommitted_bytes, budget);
	q = per_mille(c->log_used_blocks, wm_blocks);
	if (q > p)
		p = q;
	l = bpf_map_lookup_elem(&lag, &minor);
	if (l) {
		q = per_mille(l->lag_bytes, budget);
		if (q > p)
			p = q;
	}
	return p;
}

static __always_inline struct admit_stats *stats_of(__u32 minor)
{
	static const struct admit_stats zero;
	struct admit_stats *s = bpf_map_lookup_elem(&stats, &minor);

	if (s)
		return s;
	bpf_map_update_elem(&stats, &minor, &zero, BPF_NOEXIST);
	return bpf_map_lookup_elem(&stats, &minor);
}

SEC("raw_tp.w/georep_admit")
int BPF_PROG(georep_admit, struct georep_admit_ctx *c)
{
	bool fua = c->flags & GEOREP_ADMIT_F_FUA;
	bool sync = c->flags & (GEOREP_ADMIT_F_SYNC | GEOREP_ADMIT_F_FUA);
	struct admit_stats *s = stats_of(c->minor);
	__u64 p = pressure(c), delay = 0;

	if (s) {
		__sync_fetch_and_add(&s->calls, 1);
		if (sync)
			__sync_fetch_and_add(&s->sync, 1);
		s->pressure_pm = p;
	}
	if (fua) {
		if (c->flags & GEOREP_ADMIT_F_THROTTLED) {
			c->verdict = GEOREP_ADMIT_PASS;
			if (s)
				__sync_fetch_and_add(&s->passed, 1);
		}
		return 0;
	}
	if (start_pm < 1000 && p > start_pm)
		delay = (__u64)max_delay_us * (p - start_pm) / (1000 - start_pm) *
			(SIZE_UNIT + c->bytes) / SIZE_UNIT;
	if (delay > GEOREP_ADMIT_MAX_DELAY_US)
		delay = GEOREP_ADMIT_MAX_DELAY_US;
	if (sync)
		delay /= 4;
	if (!delay)
		return 0;
	c->verdict = GEOREP_ADMIT_DELAY;
	c->delay_us = delay;
	if (s) {
		__sync_fetch_and_add(&s->delayed, 1);
		if (sync)
			__sync_fetch_and_add(&s->delayed_sync, 1);
		__sync_fetch_and_add(&s->delay_us, delay);
	}
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
