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
};

#endif /* _GEOREP_EBPF_ADMIT_H */
