/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Types shared by pace.bpf.c and its loader in georepd (user/georepd/
 * bpf_pace.c). Sockets are named by their cookie (SO_COOKIE in user space,
 * bpf_get_socket_cookie() in the program).
 *
 * Maps (Documentation/ebpf.rst, "Pacing"):
 *   rates  cookie -> pace_rate: the replication connections georepd paces
 *          and their rate, written by georepd (every tick a socket or a
 *          rate changed); a socket not in it is never touched;
 *   flows  cookie -> pace_flow: the program's state and counters, read by
 *          georepd for `bpf status`, deleted with the socket's rate.
 */
#ifndef _GEOREP_EBPF_PACE_H
#define _GEOREP_EBPF_PACE_H

#define PACE_MAX_FLOWS		256	/* peer connections per daemon */

struct pace_rate {
	__u64 bytes_per_s;	/* 0: count, do not pace */
	__u32 peer;		/* the site's index, for georepd's report */
	__u32 pad;
};

struct pace_flow {
	__u64 next_ns;		/* departure time of the next paced byte */
	__u64 bytes;		/* data packets seen, bytes (IP length) */
	__u64 packets;		/* ... and packets */
	__u64 acks;		/* packets without TCP payload: never paced */
	__u64 delayed;		/* packets given a later departure */
	__u64 delay_ns;		/* ... the sum of their delays */
	__u64 delay_max_ns;	/* ... the largest */
	__u64 congested;	/* sent with a congestion notification */
};

#endif /* _GEOREP_EBPF_PACE_H */
