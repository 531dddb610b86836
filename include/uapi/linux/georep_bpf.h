/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * georep: the contract between georep.ko, its BPF programs and georepd.
 *
 * Write admission
 * ---------------
 * Before a write (or discard, write-zeroes) bio on a primary gets its seq,
 * the module fires the writable raw tracepoint georep:georep_admit with one
 * argument, a struct georep_admit_ctx on the submitter's stack. A program of
 * type BPF_PROG_TYPE_RAW_TRACEPOINT_WRITABLE (libbpf:
 * SEC("raw_tp.w/georep_admit")) reads the inputs and may write verdict and
 * delay_us; everything else it writes is ignored.
 *
 *   GEOREP_ADMIT_DEFAULT  (0, nothing written) today's watermark rules
 *   GEOREP_ADMIT_PASS     past the watermark wait at once (a sync write
 *                         ahead of background writeback)
 *   GEOREP_ADMIT_DELAY    sleep delay_us (clamped to GEOREP_ADMIT_MAX_DELAY_US),
 *                         then today's watermark rules
 *
 * A verdict the module does not know counts as GEOREP_ADMIT_DEFAULT. No
 * verdict lets a write past io-state suspend or fail, a secondary's refusal
 * or the log's space reservation (which waits while the log is full): a
 * program can only shape admission, never break the volume's rules.
 * Admission runs in the submitter's task context (submit_bio), where the
 * module already sleeps while the volume is throttled, so the delay sleeps.
 *
 * The context is a plain struct so that a program needs no BTF of the
 * module; its size is part of the ABI (the verifier checks every access
 * against it when the program is attached).
 */
#ifndef _UAPI_LINUX_GEOREP_BPF_H
#define _UAPI_LINUX_GEOREP_BPF_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

/* the write carries REQ_SYNC (O_DIRECT, fsync's writeback, O_DSYNC) */
#define GEOREP_ADMIT_F_SYNC		(1U << 0)
/* the write carries REQ_FUA or REQ_PREFLUSH */
#define GEOREP_ADMIT_F_FUA		(1U << 1)
/* the volume is throttled by the watermarks right now */
#define GEOREP_ADMIT_F_THROTTLED	(1U << 2)

enum georep_admit_verdict {
	GEOREP_ADMIT_DEFAULT = 0,
	GEOREP_ADMIT_PASS = 1,
	GEOREP_ADMIT_DELAY = 2,
};

/*
 * a delay above this is cut to it (1 s): a rate policy holds a serial
 * writer of 1 MiB bios to a commit rate of 1 MB/s with it (balance_dirty_
 * pages() pauses a dirtier up to 200 ms per call, for a few pages)
 */
#define GEOREP_ADMIT_MAX_DELAY_US	1000000U

/**
 * struct georep_admit_ctx - the georep_admit tracepoint's argument
 * @minor: the volume's minor (/dev/georepN)
 * @flags: GEOREP_ADMIT_F_*
 * @bytes: the data the write's record carries, in bytes (0 for a discard
 *	or write-zeroes, whose record is one header block)
 * @uncommitted_bytes: log bytes after the commit point, and those the
 *	writes admitted but not yet placed in the log will take (racy
 *	snapshot)
 * @max_uncommitted: the volume's uncommitted-bytes limit (0: none)
 * @log_used_blocks: log blocks in use (racy snapshot)
 * @log_area_blocks: the log's record area in blocks
 * @high_wm: high watermark, percent of the area
 * @low_wm: low watermark, percent of the area
 * @verdict: written by the program, enum georep_admit_verdict
 * @delay_us: written by the program with GEOREP_ADMIT_DELAY
 * @committed_bytes: log bytes up to the commit point since the volume was
 *	created (monotonic but for a log reset; racy snapshot): its rate of
 *	change is the rate at which the consensus queue drains
 */
struct georep_admit_ctx {
	__u32 minor;
	__u32 flags;
	__u64 bytes;
	__u64 uncommitted_bytes;
	__u64 max_uncommitted;
	__u64 log_used_blocks;
	__u64 log_area_blocks;
	__u32 high_wm;
	__u32 low_wm;
	__u32 verdict;
	__u32 delay_us;
	__u64 committed_bytes;
};

#endif /* _UAPI_LINUX_GEOREP_BPF_H */
