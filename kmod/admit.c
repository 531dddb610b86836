// SPDX-License-Identifier: GPL-2.0
/*
 * Write admission decided by a BPF program, through the writable raw
 * tracepoint georep:georep_admit (include/uapi/linux/georep_bpf.h,
 * Documentation/ebpf.rst). With no program attached the tracepoint is off
 * and this costs one static branch; the watermark rules of blk.c apply
 * unchanged.
 */
#include <linux/delay.h>
#include <linux/minmax.h>

#include "vol.h"
#include "trace.h"

static void admit_ctx_fill(struct georep_volume *vol, struct bio *bio,
			   struct georep_admit_ctx *ctx)
{
	/* a racy snapshot: the program shapes a rate, it needs no lock */
	u64 head = READ_ONCE(vol->head_lsn), tail = READ_ONCE(vol->tail_lsn);
	u64 commit = READ_ONCE(vol->commit_lsn), from = max(commit, tail);

	memset(ctx, 0, sizeof(*ctx));
	ctx->minor = vol->minor;
	if (bio->bi_opf & REQ_SYNC)
		ctx->flags |= GEOREP_ADMIT_F_SYNC;
	if (bio->bi_opf & (REQ_FUA | REQ_PREFLUSH))
		ctx->flags |= GEOREP_ADMIT_F_FUA;
	if (READ_ONCE(vol->throttled))
		ctx->flags |= GEOREP_ADMIT_F_THROTTLED;
	/* a discard's or write-zeroes' record carries no data */
	if (bio_op(bio) == REQ_OP_WRITE)
		ctx->bytes = bio->bi_iter.bi_size;
	ctx->uncommitted_bytes = ((head > from ? head - from : 0) +
				  atomic64_read(&vol->unsealed_blocks)) *
				 GEOREP_BLOCK_SIZE;
	ctx->max_uncommitted = READ_ONCE(vol->max_uncommitted);
	ctx->log_used_blocks = head > tail ? head - tail : 0;
	ctx->log_area_blocks = vol->area_blocks;
	ctx->high_wm = READ_ONCE(vol->high_wm);
	ctx->low_wm = READ_ONCE(vol->low_wm);
	ctx->committed_bytes = commit * GEOREP_BLOCK_SIZE;
}

/**
 * georep_admit_bpf() - ask the attached BPF program about a write
 * @vol: the volume
 * @bio: the write, discard or write-zeroes bio being admitted
 *
 * The verdict is checked here, after the program ran: a delay is cut to
 * GEOREP_ADMIT_MAX_DELAY_US and an unknown verdict counts as the default.
 *
 * Context: the submitter's task context (submit_bio), no locks held; sleeps
 * for a GEOREP_ADMIT_DELAY verdict.
 * Return: true when the write may skip the watermark wait.
 */
bool georep_admit_bpf(struct georep_volume *vol, struct bio *bio)
{
	struct georep_admit_ctx ctx;

	if (!trace_georep_admit_enabled())
		return false;
	might_sleep();
	admit_ctx_fill(vol, bio, &ctx);
	trace_georep_admit(&ctx);
	switch (ctx.verdict) {
	case GEOREP_ADMIT_PASS:
		return true;
	case GEOREP_ADMIT_DELAY:
		if (ctx.delay_us)
			fsleep(min(ctx.delay_us, GEOREP_ADMIT_MAX_DELAY_US));
		return false;
	case GEOREP_ADMIT_DEFAULT:
		return false;
	default:
		pr_warn_ratelimited("%s: admission program gave verdict %u, using the watermarks\n",
				    vol->name, ctx.verdict);
		return false;
	}
}
