/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Types shared by lat.bpf.c and its tool, georep-lat (user/tools/lat.c):
 * the per-write latency breakdown from georep.ko's tracepoints.
 *
 * The programs read the tracepoints' records (tp/georep/...), whose layout
 * is the TRACE_EVENT definitions of kmod/trace.h: the mirrors below must
 * match /sys/kernel/tracing/events/georep/<event>/format, which georep-lat
 * checks before it attaches.
 */
#ifndef _GEOREP_EBPF_LAT_H
#define _GEOREP_EBPF_LAT_H

#define LAT_MAX_VOLUMES		256
#define LAT_MAX_PENDING		(64 * 1024)	/* writes in flight */
#define LAT_RING		64	/* durable events kept per volume */
#define LAT_ALL_MINORS		0xffffffffU

/* the tracepoints' records (8 bytes of struct trace_entry first) */
struct lat_tp_submit {
	__u64 common;
	__u32 minor;
	__u32 volume_loc;	/* __data_loc char[] volume */
	__u64 seq;
	__u16 op;
	__u64 lba;
	__u32 len;
	__u64 arrived_ns;
	__u64 admitted_ns;
};

struct lat_tp_seq {		/* georep_commit, and the head of the others */
	__u64 common;
	__u32 minor;
	__u32 volume_loc;
	__u64 seq;
};

struct lat_tp_durable {
	__u64 common;
	__u32 minor;
	__u32 volume_loc;
	__u64 seq;
	__s32 error;
};

struct lat_tp_complete {
	__u64 common;
	__u32 minor;
	__u32 volume_loc;
	__u64 seq;
	__s32 error;
	__u64 latency_ns;
};

struct lat_key {
	__u32 minor;
	__u32 pad;
	__u64 seq;
};

/* a write between its georep_submit and its georep_complete */
struct lat_pending {
	__u64 arrived, admitted, submitted, committed;	/* ktime_get_ns() */
};

/* the last LAT_RING georep_durable (or georep_shipped) events of a volume */
struct lat_ring {
	__u64 upto[LAT_RING];
	__u64 at[LAT_RING];
	__u32 next;
};

/* one completed write, through the ring buffer; stages in ns */
struct lat_event {
	__u32 minor;
	__s32 error;
	__u64 seq;
	__u64 admit;		/* bio arrived -> admitted (throttling) */
	__u64 seal;		/* admitted -> record sealed, queued to the log */
	__u64 durable;		/* -> the log flush made it durable locally */
	__u64 shipped;		/* -> read from the log stream by georepd, which
				 * ships it (0 when that came after the commit,
				 * or was not seen: LAT_F_NO_SHIP) */
	__u64 commit;		/* -> committed (quorum: followers durable, the
				 * acknowledgements back, commit_seq set) */
	__u64 complete;		/* -> the bio completed (data on the device) */
	__u64 total;		/* bio arrived -> completed */
	__u32 flags;		/* LAT_F_* */
	__u32 pad;
};

#define LAT_F_NO_DURABLE	(1U << 0)	/* durable time lost (ring wrapped) */
#define LAT_F_NO_COMMIT		(1U << 1)	/* no georep_commit seen */
#define LAT_F_NO_SHIP		(1U << 2)	/* not read from the stream before its commit */

#endif /* _GEOREP_EBPF_LAT_H */
