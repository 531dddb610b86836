// SPDX-License-Identifier: GPL-2.0
/*
 * route: georep's routing of clients to the primary site, and load
 * shedding, on the cgroup hooks connect4 and connect6 of the cgroup v2
 * directory a site names ("route_cgroup", Documentation/configuration.rst).
 *
 * A TCP connect() from that cgroup to a volume's service address (map
 * services) is decided here, from the health georepd writes (map health):
 *  - the volume degraded at this site, or without a majority reachable
 *    from here, or georepd's health older than stale_ms: refused with
 *    refuse_errno (ECONNREFUSED) - new work is shed, not queued;
 *  - else rewritten to the backend (map backends) of the site this site
 *    knows as the primary, when that site is reachable from here;
 *  - no such primary (an election is running): refused the same way.
 * Any other destination, and any non-TCP socket, is left alone. An IPv6
 * socket connecting to an IPv4-mapped address (::ffff:a.b.c.d, as dual-stack
 * runtimes such as Java do) is matched against the IPv4 services and sent
 * to the mapped IPv4 backend.
 */
#include "vmlinux.h"
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>
#include "route.h"

#define AF_INET		2
#define AF_INET6	10
#define SOCK_STREAM	1
#define ECONNREFUSED	111

/* set by georepd before load */
const volatile __u32 local_site = 0;
const volatile __u64 stale_ms = 5000;
const volatile __s32 refuse_errno = ECONNREFUSED;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, ROUTE_MAX_VOLUMES);
	__type(key, struct route_key);
	__type(value, struct route_service);
} services SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, ROUTE_MAX_SLOTS);
	__type(key, __u32);
	__type(value, struct route_backend);
} backends SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, ROUTE_MAX_SLOTS);
	__type(key, __u32);
	__type(value, struct route_health);
} health SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, ROUTE_MAX_VOLUMES);
	__type(key, __u32);
	__type(value, struct route_stats);
} stats SEC(".maps");

static __always_inline int refuse(struct route_stats *st, enum route_refusal why)
{
	if (st && why < ROUTE_REFUSE_NR)
		__sync_fetch_and_add(&st->refused[why], 1);
	bpf_set_retval(-refuse_errno);
	return 0;
}

/* The reachable primary of @vol, or -1 */
static __always_inline int primary_of(__u32 vol, __u32 nsites)
{
	struct route_health *h;
	__u32 i, slot;

	for (i = 0; i < ROUTE_MAX_SITES && i < nsites; i++) {
		slot = vol * ROUTE_MAX_SITES + i;
		h = bpf_map_lookup_elem(&health, &slot);
		if (h && (h->flags & ROUTE_F_PRIMARY) && (h->flags & ROUTE_F_REACHABLE))
			return i;
	}
	return -1;
}

/*
 * The backend @ctx's connect goes to, or NULL with the connect refused
 * (*@ret set); NULL and *@ret 1 when @key is no service.
 */
static __always_inline struct route_backend *
decide(struct route_key *key, int *ret, __u32 *site_out, struct route_stats **stp)
{
	struct route_service *svc = bpf_map_lookup_elem(&services, key);
	struct route_backend *b;
	struct route_health *me;
	struct route_stats *st;
	__u32 slot;
	int site;

	*ret = 1;
	if (!svc || svc->vol >= ROUTE_MAX_VOLUMES)
		return NULL;
	st = bpf_map_lookup_elem(&stats, &svc->vol);
	*stp = st;
	slot = svc->vol * ROUTE_MAX_SITES + local_site;
	me = bpf_map_lookup_elem(&health, &slot);
	if (!me || !me->updated_ns ||
	    bpf_ktime_get_ns() - me->updated_ns > stale_ms * 1000000ULL) {
		*ret = refuse(st, ROUTE_REFUSE_STALE);
		return NULL;
	}
	if (me->flags & ROUTE_F_DEGRADED) {
		*ret = refuse(st, ROUTE_REFUSE_DEGRADED);
		return NULL;
	}
	if (!(me->flags & ROUTE_F_QUORUM)) {
		*ret = refuse(st, ROUTE_REFUSE_NOQUORUM);
		return NULL;
	}
	site = primary_of(svc->vol, svc->nsites);
	if (site < 0 || site >= ROUTE_MAX_SITES) {
		*ret = refuse(st, ROUTE_REFUSE_NOPRIMARY);
		return NULL;
	}
	slot = svc->vol * ROUTE_MAX_SITES + site;
	b = bpf_map_lookup_elem(&backends, &slot);
	if (!b || !b->valid) {
		*ret = refuse(st, ROUTE_REFUSE_NOPRIMARY);
		return NULL;
	}
	*site_out = site;
	return b;
}

static __always_inline void count(struct route_stats *st, __u32 site)
{
	if (st && site < ROUTE_MAX_SITES)
		__sync_fetch_and_add(&st->redirected[site], 1);
}

SEC("cgroup/connect4")
int georep_route4(struct bpf_sock_addr *ctx)
{
	struct route_key key = { .family = AF_INET };
	struct route_stats *st = NULL;
	struct route_backend *b;
	__u32 site = 0;
	int ret;

	if (ctx->type != SOCK_STREAM)
		return 1;
	key.port = ctx->user_port;
	key.addr[0] = ctx->user_ip4;
	b = decide(&key, &ret, &site, &st);
	if (!b)
		return ret;
	ctx->user_ip4 = b->addr[0];
	ctx->user_port = b->port;
	count(st, site);
	return 1;
}

SEC("cgroup/connect6")
int georep_route6(struct bpf_sock_addr *ctx)
{
	struct route_key key = { .family = AF_INET6 };
	struct route_stats *st = NULL;
	struct route_backend *b;
	__u32 site = 0;
	int ret;

	if (ctx->type != SOCK_STREAM)
		return 1;
	key.port = ctx->user_port;
	key.addr[0] = ctx->user_ip6[0];
	key.addr[1] = ctx->user_ip6[1];
	key.addr[2] = ctx->user_ip6[2];
	key.addr[3] = ctx->user_ip6[3];
	if (!key.addr[0] && !key.addr[1] && key.addr[2] == bpf_htonl(0xffff)) {
		key.family = AF_INET;
		key.addr[0] = key.addr[3];
		key.addr[2] = 0;
		key.addr[3] = 0;
	}
	b = decide(&key, &ret, &site, &st);
	if (!b)
		return ret;
	if (key.family == AF_INET) {
		/* stays IPv4-mapped: the socket is AF_INET6 */
		ctx->user_ip6[3] = b->addr[0];
		ctx->user_port = b->port;
		count(st, site);
		return 1;
	}
	ctx->user_ip6[0] = b->addr[0];
	ctx->user_ip6[1] = b->addr[1];
	ctx->user_ip6[2] = b->addr[2];
	ctx->user_ip6[3] = b->addr[3];
	ctx->user_port = b->port;
	count(st, site);
	return 1;
}

char LICENSE[] SEC("license") = "GPL";
