/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Deterministic fault-injecting simulator for the consensus core.
 * One run = one seed: every random choice comes from the seed.
 */
#ifndef _GEOREP_CONSENSUS_SIM_H
#define _GEOREP_CONSENSUS_SIM_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

struct sim_opts {
	uint32_t nsites;	/* 3, 5 or 7 */
	uint64_t seed;
	FILE *trace;		/* non-NULL: print every event */
	bool membership;	/* exercise learner add/promote/remove */
};

struct sim_result {
	bool failed;
	char why[512];		/* the invariant that broke */
	uint64_t fail_ns;	/* simulated time of the failure */
	uint64_t events, commits, elections, crashes, partitions;
	uint64_t truncations, resyncs, transfers, conf_changes, backpressure;
	/*
	 * crashes of a site that had sent entries its disk then lost (a
	 * leader ships before its own fsync, as georepd's sealed mode does),
	 * and those entries
	 */
	uint64_t shipped_lost_crashes, shipped_lost;
	uint64_t max_term;
	uint64_t converge_ns;	/* heal -> converged */
};

int sim_run(const struct sim_opts *o, struct sim_result *r);

#endif
