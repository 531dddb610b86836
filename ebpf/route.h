/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Types shared by route.bpf.c and its loader in georepd (user/georepd/
 * bpf_route.c). Addresses and ports are in network order, as in struct
 * bpf_sock_addr; an IPv4 address is addr[0].
 *
 * Maps (Documentation/ebpf.rst, "Routing"):
 *   services  route_key -> route_service: the service addresses, written
 *             once by georepd at start;
 *   backends  vol * ROUTE_MAX_SITES + site -> route_backend, the same;
 *   health    vol * ROUTE_MAX_SITES + site -> route_health, written by
 *             georepd whenever the volume's state changes and every second;
 *   stats     vol -> route_stats, counted by the program.
 */
#ifndef _GEOREP_EBPF_ROUTE_H
#define _GEOREP_EBPF_ROUTE_H

#define ROUTE_MAX_SITES		64	/* GR_CFG_MAX_SITES */
#define ROUTE_MAX_VOLUMES	256	/* routed volumes per daemon */
#define ROUTE_MAX_SLOTS		(ROUTE_MAX_SITES * ROUTE_MAX_VOLUMES)

struct route_key {
	__u32 family;		/* AF_INET, AF_INET6 */
	__u32 port;		/* network order, in the low 16 bits */
	__u32 addr[4];
};

struct route_service {
	__u32 vol;		/* the volume's slot: index into backends, health, stats */
	__u32 nsites;		/* sites 0..nsites-1 are looked at */
};

struct route_backend {
	__u32 valid;		/* the site has a backend for the volume */
	__u32 port;
	__u32 addr[4];
};

/* route_health.flags */
#define ROUTE_F_MEMBER		0x01	/* the site has a replica of the volume */
#define ROUTE_F_REACHABLE	0x02	/* this site, or connected to this site */
#define ROUTE_F_PRIMARY		0x04	/* the primary this site knows */
#define ROUTE_F_QUORUM		0x08	/* (this site's slot) a majority is reachable */
#define ROUTE_F_DEGRADED	0x10	/* (this site's slot) failed, or writes held */

struct route_health {
	__u32 flags;
	__u32 rtt_us;		/* smoothed RTT to the site, 0: unknown or self */
	__u64 lag_records;	/* behind the primary (known at the primary) */
	__u64 updated_ns;	/* bpf_ktime_get_ns() clock (CLOCK_MONOTONIC) */
};

/* why a connect was refused: index into route_stats.refused */
enum route_refusal {
	ROUTE_REFUSE_NOQUORUM = 0,	/* no majority reachable from this site */
	ROUTE_REFUSE_DEGRADED,		/* the volume is degraded at this site */
	ROUTE_REFUSE_NOPRIMARY,		/* no reachable primary with a backend */
	ROUTE_REFUSE_STALE,		/* georepd's health older than stale_ms */
	ROUTE_REFUSE_NR,
};

struct route_stats {
	__u64 redirected[ROUTE_MAX_SITES];	/* by the backend's site */
	__u64 refused[ROUTE_REFUSE_NR];
};

#endif /* _GEOREP_EBPF_ROUTE_H */
