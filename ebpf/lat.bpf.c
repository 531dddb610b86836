// SPDX-License-Identifier: GPL-2.0
/*
 * lat: where a write's time goes, from georep.ko's tracepoints (georep-lat).
 *
 *   georep_submit    the record is sealed and goes to the log; carries when
 *                    the bio arrived and when admission let it in
 *   georep_durable   a log flush made every record up to seq durable
 *   georep_shipped   georepd read every record up to seq from the log
 *                    stream (and ships it)
 *   georep_commit    the commit rule accepted the record (quorum: durable
 *                    at a majority, commit_seq set by georepd)
 *   georep_complete  the bio completed
 *
 * At completion the write's stages go to user space through a ring buffer
 * (struct lat_event of lat.h). Read-only: nothing here changes what the
 * module does, and the tracepoints cost a static branch when unused.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include "lat.h"

/* set by georep-lat before load: one volume, or LAT_ALL_MINORS */
const volatile __u32 minor_filter = LAT_ALL_MINORS;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, LAT_MAX_PENDING);
	__type(key, struct lat_key);
	__type(value, struct lat_pending);
} pending SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, LAT_MAX_VOLUMES);
	__type(key, __u32);
	__type(value, struct lat_ring);
} rings SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, LAT_MAX_VOLUMES);
	__type(key, __u32);
	__type(value, struct lat_ring);
} ship_rings SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 22);
} events SEC(".maps");

/* writes seen whose event did not fit in the ring buffer */
__u64 lost;

static __always_inline bool wanted(__u32 minor)
{
	return minor_filter == LAT_ALL_MINORS || minor == minor_filter;
}

SEC("tp/georep/georep_submit")
int lat_submit(struct lat_tp_submit *tp)
{
	struct lat_key k = { .minor = tp->minor, .seq = tp->seq };
	struct lat_pending p = {};

	if (!wanted(tp->minor) || !tp->arrived_ns)	/* a no-op: no bio */
		return 0;
	p.arrived = tp->arrived_ns;
	p.admitted = tp->admitted_ns;
	p.submitted = bpf_ktime_get_ns();
	bpf_map_update_elem(&pending, &k, &p, BPF_ANY);
	return 0;
}

/* "every record up to @seq, now" into @minor's ring of @map */
static __always_inline void ring_put(void *map, __u32 minor, __u64 seq)
{
	static const struct lat_ring zero;
	struct lat_ring *r;
	__u32 i;

	r = bpf_map_lookup_elem(map, &minor);
	if (!r) {
		bpf_map_update_elem(map, &minor, &zero, BPF_NOEXIST);
		r = bpf_map_lookup_elem(map, &minor);
		if (!r)
			return;
	}
	i = r->next % LAT_RING;
	r->upto[i] = seq;
	r->at[i] = bpf_ktime_get_ns();
	r->next = i + 1;
}

SEC("tp/georep/georep_durable")
int lat_durable(struct lat_tp_durable *tp)
{
	if (wanted(tp->minor) && !tp->error)
		ring_put(&rings, tp->minor, tp->seq);
	return 0;
}

SEC("tp/georep/georep_shipped")
int lat_shipped(struct lat_tp_seq *tp)
{
	if (wanted(tp->minor))
		ring_put(&ship_rings, tp->minor, tp->seq);
	return 0;
}

SEC("tp/georep/georep_commit")
int lat_commit(struct lat_tp_seq *tp)
{
	struct lat_key k = { .minor = tp->minor, .seq = tp->seq };
	struct lat_pending *p;

	if (!wanted(tp->minor))
		return 0;
	p = bpf_map_lookup_elem(&pending, &k);
	if (p && !p->committed)
		p->committed = bpf_ktime_get_ns();
	return 0;
}

/* the first event of @map at or after @after that covered @seq, 0 if not kept */
static __always_inline __u64 ring_at(void *map, __u32 minor, __u64 seq, __u64 after)
{
	struct lat_ring *r = bpf_map_lookup_elem(map, &minor);
	__u64 best = 0;
	int i;

	if (!r)
		return 0;
	for (i = 0; i < LAT_RING; i++) {
		__u64 at = r->at[i];

		if (r->upto[i] >= seq && at >= after && (!best || at < best))
			best = at;
	}
	return best;
}

static __always_inline __u64 since(__u64 now, __u64 then)
{
	return then && now > then ? now - then : 0;
}

SEC("tp/georep/georep_complete")
int lat_complete(struct lat_tp_complete *tp)
{
	struct lat_key k = { .minor = tp->minor, .seq = tp->seq };
	__u64 now = bpf_ktime_get_ns(), dur, ship, last;
	struct lat_pending *p;
	struct lat_event *e;

	if (!wanted(tp->minor))
		return 0;
	p = bpf_map_lookup_elem(&pending, &k);
	if (!p)
		return 0;
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		__sync_fetch_and_add(&lost, 1);
		bpf_map_delete_elem(&pending, &k);
		return 0;
	}
	e->minor = tp->minor;
	e->error = tp->error;
	e->seq = tp->seq;
	e->flags = 0;
	e->pad = 0;
	e->admit = since(p->admitted, p->arrived);
	e->seal = since(p->submitted, p->admitted);
	dur = ring_at(&rings, tp->minor, tp->seq, p->submitted);
	if (!dur)
		e->flags |= LAT_F_NO_DURABLE;
	if (!p->committed)
		e->flags |= LAT_F_NO_COMMIT;
	e->durable = since(dur, p->submitted);
	last = dur > p->submitted ? dur : p->submitted;
	/*
	 * a stage only when on the way to the commit (quorum, not local);
	 * read before it was durable (sealed mode), it costs nothing after
	 */
	ship = ring_at(&ship_rings, tp->minor, tp->seq, p->submitted);
	e->shipped = 0;
	if (ship && (!p->committed || ship <= p->committed)) {
		e->shipped = since(ship, last);
		if (ship > last)
			last = ship;
	} else {
		e->flags |= LAT_F_NO_SHIP;
	}
	e->commit = since(p->committed, last);
	if (p->committed > last)
		last = p->committed;
	e->complete = since(now, last);
	e->total = since(now, p->arrived);
	bpf_ringbuf_submit(e, 0);
	bpf_map_delete_elem(&pending, &k);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
