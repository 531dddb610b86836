// SPDX-License-Identifier: GPL-2.0
/*
 * pace: departure times (EDT) for georepd's replication connections, on
 * the cgroup_skb egress hook of georepd's own cgroup v2 directory.
 *
 * A packet of a socket georepd listed in the rates map, with TCP payload,
 * leaves no earlier than the flow's next departure time: skb->tstamp is
 * set to it and the next one moves on by len / rate. The fq qdisc on the
 * way out (which georepd checks and reports) holds the packet until then;
 * without fq the time stamp is ignored and only the counters run.
 * Packets without payload (ACKs) keep their time: the reverse direction's
 * clock is never held. Once the flow is more than horizon_ns ahead of now,
 * the packet still goes (at its time) but TCP is told of congestion (3:
 * keep, cwr), so the socket slows down instead of filling the qdisc; the
 * control frames that follow bulk ones in the same stream thus wait behind
 * at most horizon_ns of paced bytes plus TCP_NOTSENT_LOWAT in the socket.
 * A flow is never scheduled more than max_ahead_ns ahead (without fq
 * nothing drains it; fq drops what lies past its horizon). Any other
 * socket, and any packet of a socket not in rates, passes untouched (1).
 */
#include "vmlinux.h"
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>
#include "pace.h"

#define ETH_P_IP	0x0800
#define ETH_P_IPV6	0x86DD
#define IPPROTO_TCP	6
#define NSEC_PER_SEC	1000000000ULL

#define PASS		1
#define PASS_CWR	3

/* set by georepd before load */
const volatile __u64 horizon_ns = 20000000;
/* a flow is never scheduled further ahead (fq drops past its own horizon) */
const volatile __u64 max_ahead_ns = 1000000000;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, PACE_MAX_FLOWS);
	__type(key, __u64);
	__type(value, struct pace_rate);
} rates SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, PACE_MAX_FLOWS);
	__type(key, __u64);
	__type(value, struct pace_flow);
} flows SEC(".maps");

/* Bytes of TCP payload in @skb (its network header first), -1: not TCP. */
static __always_inline long tcp_payload(struct __sk_buff *skb)
{
	__u32 l3;
	__u8 b;

	if (skb->protocol == bpf_htons(ETH_P_IP)) {
		if (bpf_skb_load_bytes(skb, 9, &b, 1) || b != IPPROTO_TCP)
			return -1;
		if (bpf_skb_load_bytes(skb, 0, &b, 1))
			return -1;
		l3 = (b & 0x0f) * 4;
	} else if (skb->protocol == bpf_htons(ETH_P_IPV6)) {
		/* extension headers: not TCP as far as pacing is concerned */
		if (bpf_skb_load_bytes(skb, 6, &b, 1) || b != IPPROTO_TCP)
			return -1;
		l3 = 40;
	} else {
		return -1;
	}
	if (l3 < 20 || l3 > 60 || bpf_skb_load_bytes(skb, l3 + 12, &b, 1))
		return -1;
	return (long)skb->len - l3 - (b >> 4) * 4;
}

static __always_inline struct pace_flow *flow_of(__u64 cookie)
{
	struct pace_flow *f = bpf_map_lookup_elem(&flows, &cookie);
	struct pace_flow zero = {};

	if (f)
		return f;
	bpf_map_update_elem(&flows, &cookie, &zero, BPF_NOEXIST);
	return bpf_map_lookup_elem(&flows, &cookie);
}

SEC("cgroup_skb/egress")
int georep_pace(struct __sk_buff *skb)
{
	__u64 cookie = bpf_get_socket_cookie(skb), now, ts, next, delay;
	struct pace_rate *r = bpf_map_lookup_elem(&rates, &cookie);
	struct pace_flow *f;
	long payload;

	if (!r)
		return PASS;
	f = flow_of(cookie);
	if (!f)
		return PASS;
	payload = tcp_payload(skb);
	if (payload <= 0) {
		__sync_fetch_and_add(&f->acks, 1);
		return PASS;
	}
	__sync_fetch_and_add(&f->packets, 1);
	__sync_fetch_and_add(&f->bytes, skb->len);
	if (!r->bytes_per_s)
		return PASS;
	now = bpf_ktime_get_ns();
	ts = skb->tstamp > now ? skb->tstamp : now;
	next = f->next_ns;
	if (next > now + max_ahead_ns)
		next = now + max_ahead_ns;
	/* races between CPUs on one socket cost a packet's accuracy only */
	f->next_ns = (next > ts ? next : ts) + skb->len * NSEC_PER_SEC / r->bytes_per_s;
	if (next <= ts)
		return PASS;
	delay = next - now;
	skb->tstamp = next;
	__sync_fetch_and_add(&f->delayed, 1);
	__sync_fetch_and_add(&f->delay_ns, delay);
	if (delay > f->delay_max_ns)
		f->delay_max_ns = delay;
	if (delay <= horizon_ns)
		return PASS;
	__sync_fetch_and_add(&f->congested, 1);
	return PASS_CWR;
}

char LICENSE[] SEC("license") = "GPL";
