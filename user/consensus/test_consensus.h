/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Shared by the unit tests of the consensus core (test_*.c): the in-memory
 * cluster harness and the test functions main() runs.
 */
#ifndef _GEOREP_CONSENSUS_TEST_CONSENSUS_H
#define _GEOREP_CONSENSUS_TEST_CONSENSUS_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "georep/consensus.h"

/* set when linked with a deliberately broken core (broken_*.c) */
extern const char *gr_broken_variant __attribute__((weak));

#define NMAX	7
#define QCAP	8192
#define TICK	10000000ULL
#define BIT(x)	(1u << (x))
#define REPLIES	(BIT(GR_MSG_APPEND_RESP) | BIT(GR_MSG_HEARTBEAT_RESP))
#define LEADER_MSGS (BIT(GR_MSG_APPEND) | BIT(GR_MSG_HEARTBEAT))

struct tq {
	struct gr_msg m;
	struct gr_entry e[64];
};

struct tc {
	int n;
	struct gr_node *nd[NMAX + 1];
	struct gr_config cfg[NMAX + 1];
	struct tq *q;
	int qh, qn;
	bool cut[NMAX + 1][NMAX + 1];
	bool down[NMAX + 1];
	bool manual_persist[NMAX + 1];
	uint32_t drop_from[NMAX + 1];	/* message type bits dropped */
	uint32_t drop_to[NMAX + 1];
	uint32_t drop_link[NMAX + 1][NMAX + 1];
	uint64_t now;
	/* observations from readies */
	bool writable[NMAX + 1];
	uint64_t writable_since[NMAX + 1];
	uint64_t trunc_from[NMAX + 1], trunc_to[NMAX + 1];
	bool resync[NMAX + 1];
	uint64_t resync_seq[NMAX + 1];
	uint64_t ack[NMAX + 1];
	int sent[NMAX + 1][16];
	bool hs_before_vote_resp_ok;
	bool two_writers;
};

extern int test_failed;

#define CHECK(c) do { \
	if (!(c)) { \
		printf("    # %s:%d: check failed: %s\n", __FILE__, __LINE__, #c); \
		test_failed = 1; \
		goto out; \
	} \
} while (0)

void isolate(struct tc *t, int i, bool on);
int leaders(struct tc *t);
struct gr_conf mkconf(int voters, int learners);
int64_t propose(struct tc *t, int i, uint32_t bytes);
struct gr_status st(struct tc *t, int i);
void tc_deliver(struct tc *t);
bool tc_elect(struct tc *t, int i);
void tc_free(struct tc *t);
struct tc *tc_new(int n, int voters, void (*tweak)(struct gr_config *));
void tc_process(struct tc *t, int i);
void tc_replace(struct tc *t, int i, uint64_t term, uint64_t commit,
		const uint64_t *terms, int n);
void tc_run(struct tc *t, int k);
void tc_tick_one(struct tc *t, int i);
int t_checkquorum_ignores_disruptive_votes(void);
int t_leader_alive_defers_election(void);
int t_checkquorum_leader_steps_down(void);
int t_election_one_leader(void);
int t_election_timeout_randomized(void);
int t_higher_term_steps_down(void);
int t_one_vote_per_term(void);
int t_prevote_partitioned_no_term_bump(void);
int t_single_site_cluster(void);
int t_stale_prevote_grant_keeps_term(void);
int t_vote_only_change_persisted(void);
int t_vote_persisted_before_reply(void);
int t_vote_requires_uptodate_log(void);
int t_lease_expires_before_new_primary(void);
int t_lease_needs_majority_ack(void);
int t_lease_partial_partition(void);
int t_restart_keeps_vote_promise(void);
int t_append_validation(void);
int t_catch_up_restarted_follower(void);
int t_conflict_hint(void);
int t_figure8(void);
int t_follower_acks_after_durable(void);
int t_heartbeat_carries_commit(void);
int t_heartbeat_commit_capped_at_match(void);
int t_truncation_overtakes_pending_fsync(void);
int t_leader_change_resets_progress(void);
int t_leader_counts_itself_after_durable(void);
int t_local_rule_acks_on_local_durability(void);
int t_noop_on_election(void);
int t_quorum_rule_acks_on_commit(void);
int t_replicate_and_commit(void);
int t_truncation_never_touches_committed(void);
int t_backpressure_uncommitted_cap(void);
int t_flow_inflight_records(void);
int t_flow_inflight_window(void);
int t_flow_probe_after_reject(void);
int t_flow_in_transit_no_probe(void);
int t_resync_when_behind_retained_log(void);
int t_resync_when_divergence_below_retained_log(void);
int t_learner_never_campaigns(void);
int t_membership_learner_promote_remove(void);
int t_membership_truncated_conf_reverts(void);
int t_membership_waits_for_own_term_commit(void);
int t_transfer(void);
int t_transfer_lost_timeout_now_steps_down(void);
int t_transfer_timeout(void);

#endif /* _GEOREP_CONSENSUS_TEST_CONSENSUS_H */
