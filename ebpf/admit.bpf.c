// SPDX-License-Identifier: GPL-2.0
/*
 * admit: georep's write admission policy, on the writable raw tracepoint
 * georep:georep_admit (include/uapi/linux/georep_bpf.h).
 *
 * Two rules; a write waits the longer of the two:
 *
 * Hold the queue to the commit rate. The program measures how fast the
 * commit point moves (committed_bytes, over windows of 200 ms, averaged).
 * While the consensus queue (uncommitted bytes) holds more than
 * target_queue_ms of that rate, writes are admitted in turn at
 * rate * target_queue_ms / queue: slower than the queue drains, so it
 * shrinks back to the target, and a FUA write, which completes only once
 * everything before it is committed, waits about target_queue_ms plus the
 * round trip instead of the whole queue up to max_uncommitted. For the
 * first LEARN_NS of a burst, until the rate is measured, the rule assumes
 * the rate at which start_pm of the budget is target_queue_ms of queue:
 * a burst into an idle volume (the page cache written back at the local
 * disk's speed) no longer fills the queue before anything is measured.
 *
 * Pressure, per mille, is the largest of
 *   uncommitted bytes / max_uncommitted       (the consensus queue)
 *   log blocks in use / high watermark         (the log filling up)
 *   follower lag (map lag, from georepd) / the same budget as the queue
 * Below start_pm nothing happens. Above it a background write (no
 * REQ_SYNC) waits max_delay_us * (pressure - start_pm) / (1000 - start_pm),
 * times (1 + bytes / 128 KiB) so that large writes pay for their size, cut
 * to PRESSURE_MAX_DELAY_US; writers slow down smoothly long before the
 * hard watermark stops them, also where the commit point says nothing
 * (commit rule local: a follower's lag, the log's fill).
 *
 * Volumes its georepd has not named in the lag map (another daemon's, or
 * one in its first second) are left alone.
 *
 * A REQ_SYNC write waits a quarter of either; a FUA or PREFLUSH write
 * (fsync, a journal commit) is never delayed and, while the watermarks
 * throttle the volume, passes ahead of the background writes that wait.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <linux/georep_bpf.h>
#include "admit.h"

#define SIZE_UNIT		(128 << 10)
#define PRESSURE_MAX_DELAY_US	100000ULL
#define NSEC_PER_SEC		1000000000ULL
#define RATE_WINDOW_NS		(NSEC_PER_SEC / 5)
#define RATE_STALE_NS		(2 * NSEC_PER_SEC)
#define RATE_MOVED_NS		NSEC_PER_SEC
#define LEARN_NS		NSEC_PER_SEC
/* GEOREP_BLOCK_SIZE: linux/georep.h needs linux/types.h, not vmlinux.h */
#define RECORD_HEADER		4096

/* read-only data: a loader may set them before load; georepd keeps these */
const volatile __u32 start_pm = 250;
const volatile __u32 max_delay_us = 20000;
const volatile __u32 target_queue_ms = 500;

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

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, ADMIT_MAX_VOLUMES);
	__type(key, __u32);
	__type(value, struct admit_clock);
} clock SEC(".maps");

static __always_inline __u64 per_mille(__u64 val, __u64 of)
{
	if (!of)
		return 0;
	if (val >= of)
		return 1000;
	return val * 1000 / of;
}

/* the queue's budget: max_uncommitted, else the log up to the high watermark */
static __always_inline __u64 budget_of(const struct georep_admit_ctx *c)
{
	return c->max_uncommitted ?: c->log_area_blocks * c->high_wm / 100 * 4096;
}

static __always_inline __u64 pressure(const struct georep_admit_ctx *c)
{
	__u64 wm_blocks = c->log_area_blocks * c->high_wm / 100;
	__u64 budget = budget_of(c);
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

/* @map's value for @minor, inserted as zeroes if it has none yet */
static __always_inline void *value_of(void *map, __u32 minor, const void *zero)
{
	void *v = bpf_map_lookup_elem(map, &minor);

	if (v)
		return v;
	bpf_map_update_elem(map, &minor, zero, BPF_NOEXIST);
	return bpf_map_lookup_elem(map, &minor);
}

/*
 * The commit rate in bytes/s: the growth of committed_bytes over a window
 * that ends with a queue (the commit point had something to move over;
 * a window that ends without one starts again), averaged: new samples
 * weigh 1/4. A window lasts RATE_WINDOW_NS, a quarter of that while no
 * rate is known, so that a burst of writes into an idle volume meets a
 * rate soon. A window older than RATE_STALE_NS (no
 * writes came) starts the measurement over.
 *
 * 0 (the rule stands aside) unless the commit point moved in the last
 * RATE_MOVED_NS and in two windows since the measurement started: a queue
 * that does not drain (quorum lost) has no rate to hold it to, nor has one
 * committed by hand in jumps (a standalone volume: the first write after
 * a jump sees no queue, so the window restarts past it); the pressure rule
 * and the watermarks are for those. A window whose start held no queue
 * underestimates the rate (it moved as fast as writes came, not as fast
 * as it could): the first writes of a burst are held harder than they
 * need, for a window or two.
 *
 * Racy across CPUs, like every update here: a snapshot older than the
 * window (another CPU closed it) teaches nothing; a log reset that moves
 * committed_bytes back is seen once the window went stale.
 */
static __always_inline __u64 commit_rate(const struct georep_admit_ctx *c,
					 struct admit_clock *k, struct admit_stats *s,
					 __u64 now)
{
	__s64 dt = now - k->win_ns;
	__u64 rate = s->commit_bytes_s, sample;
	bool due;

	if (!k->win_ns || dt > (__s64)RATE_STALE_NS) {
		k->win_ns = now;
		k->start_ns = now;
		k->win_committed = c->committed_bytes;
		k->moved_ns = 0;
		k->moves = 0;
		s->commit_bytes_s = 0;
		return 0;
	}
	due = dt >= (__s64)(rate ? RATE_WINDOW_NS : RATE_WINDOW_NS / 4) &&
	      c->committed_bytes >= k->win_committed;
	if (due && c->uncommitted_bytes) {
		sample = (c->committed_bytes - k->win_committed) * 1000 /
			 ((__u64)dt / 1000000);
		if (sample) {
			rate = rate ? (rate * 3 + sample) / 4 : sample;
			k->moved_ns = now;
			if (k->moves < 2)
				k->moves++;
		} else {
			rate = rate * 3 / 4;
		}
		s->commit_bytes_s = rate;
	}
	/* without a queue there was nothing to learn: the window starts again */
	if (due) {
		k->win_ns = now;
		k->win_committed = c->committed_bytes;
	}
	return k->moves >= 2 && now - k->moved_ns < RATE_MOVED_NS ? rate : 0;
}

/*
 * The rate to hold the queue to while the commit rate is being measured:
 * in the first LEARN_NS since the measurement started and before two
 * windows saw the commit point move, the rate at which start_pm of the
 * budget is target_queue_ms of queue (32 MiB of max_uncommitted: 16 MB/s);
 * below start_pm the queue is shorter than the target, so nothing waits.
 * 0 afterwards: a commit point that has not moved in LEARN_NS (quorum
 * lost, a volume committed by hand) is left to the pressure rule.
 */
static __always_inline __u64 learn_rate(const struct georep_admit_ctx *c,
					const struct admit_clock *k, __u64 now)
{
	if (k->moves >= 2 || now - k->start_ns >= LEARN_NS || !target_queue_ms)
		return 0;
	return budget_of(c) * start_pm / target_queue_ms;
}

/*
 * The wait that holds the queue to target_queue_ms of the commit rate
 * (measured, else learn_rate()): 0 while it is shorter; else the write's
 * turn on a clock that admits rate * target / queue bytes per second (its
 * header block counted). The clock never runs further ahead than the
 * kernel's longest sleep, so a rate that collapses costs each write at
 * most that, and it stops while the rule does. *learning: the rate was
 * assumed.
 */
static __always_inline __u64 rate_delay_us(const struct georep_admit_ctx *c,
					   struct admit_clock *k, struct admit_stats *s,
					   __u64 now, bool *learning)
{
	__u64 rate = commit_rate(c, k, s, now), queue_ms, allowed, start, cap;

	*learning = false;
	if (!rate) {
		rate = learn_rate(c, k, now);
		*learning = rate != 0;
	}

	queue_ms = rate ? c->uncommitted_bytes * 1000 / rate : 0;
	s->queue_ms = queue_ms;
	if (!rate || !target_queue_ms || queue_ms <= target_queue_ms) {
		k->next_ns = 0;
		return 0;
	}
	allowed = rate * target_queue_ms / queue_ms ?: 1;
	cap = now + GEOREP_ADMIT_MAX_DELAY_US * 1000ULL;
	start = k->next_ns > now ? k->next_ns : now;
	if (start > cap)
		start = cap;
	k->next_ns = start + (c->bytes + RECORD_HEADER) * NSEC_PER_SEC / allowed;
	if (k->next_ns > cap)
		k->next_ns = cap;
	return (start - now) / 1000;
}

SEC("raw_tp.w/georep_admit")
int BPF_PROG(georep_admit, struct georep_admit_ctx *c)
{
	bool fua = c->flags & GEOREP_ADMIT_F_FUA;
	bool sync = c->flags & (GEOREP_ADMIT_F_SYNC | GEOREP_ADMIT_F_FUA);
	static const struct admit_stats stats_zero;
	static const struct admit_clock clock_zero;
	struct admit_stats *s;
	struct admit_clock *k;
	__u32 minor = c->minor;
	__u64 p, delay = 0, held;
	bool by_rate, learning;

	/*
	 * Only the volumes of this program's georepd, which names them in
	 * the lag map: every program attached to the tracepoint sees every
	 * volume of the kernel, and another daemon's (another cluster's, or
	 * another site's where sites share a kernel) are its program's.
	 */
	if (!bpf_map_lookup_elem(&lag, &minor))
		return 0;
	s = value_of(&stats, minor, &stats_zero);
	k = value_of(&clock, minor, &clock_zero);
	if (!s || !k)
		return 0;
	p = pressure(c);
	__sync_fetch_and_add(&s->calls, 1);
	if (sync)
		__sync_fetch_and_add(&s->sync, 1);
	s->pressure_pm = p;
	if (fua) {
		/* its bytes count in the queue, not on the clock: it never waits */
		commit_rate(c, k, s, bpf_ktime_get_ns());
		if (c->flags & GEOREP_ADMIT_F_THROTTLED) {
			c->verdict = GEOREP_ADMIT_PASS;
			__sync_fetch_and_add(&s->passed, 1);
		}
		return 0;
	}
	if (start_pm < 1000 && p > start_pm)
		delay = (__u64)max_delay_us * (p - start_pm) / (1000 - start_pm) *
			(SIZE_UNIT + c->bytes) / SIZE_UNIT;
	if (delay > PRESSURE_MAX_DELAY_US)
		delay = PRESSURE_MAX_DELAY_US;
	held = rate_delay_us(c, k, s, bpf_ktime_get_ns(), &learning);
	by_rate = held > delay;
	if (by_rate)
		delay = held;
	if (delay > GEOREP_ADMIT_MAX_DELAY_US)
		delay = GEOREP_ADMIT_MAX_DELAY_US;
	if (sync)
		delay /= 4;
	if (!delay)
		return 0;
	c->verdict = GEOREP_ADMIT_DELAY;
	c->delay_us = delay;
	__sync_fetch_and_add(&s->delayed, 1);
	if (sync)
		__sync_fetch_and_add(&s->delayed_sync, 1);
	if (by_rate)
		__sync_fetch_and_add(&s->rate_delayed, 1);
	if (by_rate && learning)
		__sync_fetch_and_add(&s->learn_delayed, 1);
	__sync_fetch_and_add(&s->delay_us, delay);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
