/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Where a replicated write's time goes inside georepd: the part of
 * georep-lat's *commit* stage (Documentation/ebpf.rst) that the kernel
 * cannot see, split at the points georepd passes (Documentation/bench.rst,
 * "Inside the commit stage").
 *
 * The leader notes, per seq, when it read the record from the ledger's
 * stream and when it first sent the record to a follower; once the commit
 * index passes the seq, it takes a sample of each stage, and of each
 * set_commit two: its wall time, and the CPU time georepd's thread spent
 * in it (the rest is the CPU running someone else, on one vCPU the writer
 * whose bio the call completed). A follower takes one sample per RECORDS frame it answered:
 * from its arrival to the answer sent. The last GD_STAGE_SAMPLES samples of
 * each stage are kept, for percentiles, until the role changes.
 */
#ifndef _GEOREPD_STAGE_H
#define _GEOREPD_STAGE_H

#include <stdint.h>
#include <jansson.h>

#define GD_STAGE_SAMPLES	512
#define GD_STAGE_RING		1024	/* seqs in flight followed, at most */

struct gd_samples {
	uint64_t ns[GD_STAGE_SAMPLES];	/* the last ones */
	uint32_t n;			/* held */
	uint32_t next;			/* where the next one goes */
	uint64_t count;			/* taken since the start */
};

struct gd_stage_rec {
	uint64_t seq;			/* 0: none */
	uint64_t read_ns;
	uint64_t sent_ns;		/* 0: not sent yet */
};

struct gd_stages {
	struct gd_stage_rec ring[GD_STAGE_RING];	/* by seq % GD_STAGE_RING */
	uint64_t committed;		/* the commit index last seen */
	struct gd_samples send;		/* read from the stream -> RECORDS sent */
	struct gd_samples quorum;	/* sent -> the commit index passes it */
	struct gd_samples set_commit;	/* the commit index into the ledger */
	struct gd_samples set_commit_cpu;	/* of it, georepd's CPU time */
	struct gd_samples follower;	/* follower: RECORDS in -> answered */
};

void gd_sample(struct gd_samples *s, uint64_t ns);
/* the @pct-th percentile (nearest rank) of the samples held; -ENODATA if none */
int gd_samples_pct(const struct gd_samples *s, unsigned int pct, uint64_t *ns);

/*
 * A new role (a leader's: a new term): the seqs followed and the samples
 * taken belong to the old one; @commit: the commit index now
 */
void gd_stage_restart(struct gd_stages *st, uint64_t commit);
void gd_stage_read(struct gd_stages *st, uint64_t seq, uint64_t now);
void gd_stage_sent(struct gd_stages *st, uint64_t first, uint32_t n, uint64_t now);
void gd_stage_committed(struct gd_stages *st, uint64_t commit, uint64_t now);
/* {"stage": {"count", "n", "p50_us", "p99_us", "max_us"}, ...}, stages with samples */
json_t *gd_stages_json(const struct gd_stages *st);

#endif
