/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Types shared by admit.bpf.c and its loader in georepd (user/georepd/bpf.c).
 * The tracepoint's context is struct georep_admit_ctx of
 * include/uapi/linux/georep_bpf.h.
 */
#ifndef _GEOREP_EBPF_ADMIT_H
#define _GEOREP_EBPF_ADMIT_H

#define ADMIT_MAX_VOLUMES	1024

/* lag map value, written by georepd per volume minor */
struct admit_lag {
	__u64 lag_bytes;	/* the furthest follower's lag */
	__u64 lag_records;
};

/* stats map value, per volume minor; counted by the program */
struct admit_stats {
	__u64 calls;		/* writes the program saw */
	__u64 sync;		/* of them REQ_SYNC, FUA or PREFLUSH */
	__u64 passed;		/* let past the watermark wait (fsync/FUA) */
	__u64 delayed;		/* given a delay */
	__u64 delayed_sync;	/* of them sync writes */
	__u64 delay_us;		/* sum of the delays given */
	__u64 pressure_pm;	/* the last pressure seen, per mille */
	__u64 commit_bytes_s;	/* the commit rate, as the program measures it */
	__u64 queue_ms;		/* the last queue seen, in ms of that rate */
	__u64 rate_delayed;	/* of the delayed, held to the commit rate */
	__u64 learn_delayed;	/* of those, held while it was being measured */
};

/* clock map value, per volume minor: the program's own state */
struct admit_clock {
	__u64 win_ns;		/* start of the commit rate's window */
	__u64 win_committed;	/* committed_bytes then */
	__u64 next_ns;		/* when the next held write may go */
	__u64 moved_ns;		/* when a window last saw the commit point move */
	__u64 moves;		/* windows that saw it move since the start, up to 2 */
	__u64 start_ns;		/* when the measurement started */
};

#endif /* _GEOREP_EBPF_ADMIT_H */
