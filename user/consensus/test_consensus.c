// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests of the consensus core, one per rule of the Raft paper
 * (Ongaro & Ousterhout 2014, Figure 2/8) and dissertation (pre-vote,
 * check-quorum, leases, transfer, single-server membership), plus flow
 * control and resync. KTAP output.
 */
#include "test_consensus.h"

struct test {
	const char *name;
	int (*fn)(void);
};

static const struct test tests[] = {
	{ "election_one_leader_per_term", t_election_one_leader },
	{ "election_timeout_randomized_in_E_2E", t_election_timeout_randomized },
	{ "vote_persisted_before_reply", t_vote_persisted_before_reply },
	{ "vote_only_change_persisted_before_reply", t_vote_only_change_persisted },
	{ "one_vote_per_term", t_one_vote_per_term },
	{ "vote_requires_uptodate_log", t_vote_requires_uptodate_log },
	{ "higher_term_steps_down", t_higher_term_steps_down },
	{ "single_site_cluster", t_single_site_cluster },
	{ "prevote_partitioned_site_no_term_bump", t_prevote_partitioned_no_term_bump },
	{ "checkquorum_ignores_disruptive_votes", t_checkquorum_ignores_disruptive_votes },
	{ "leader_alive_defers_election", t_leader_alive_defers_election },
	{ "stale_prevote_grant_keeps_term", t_stale_prevote_grant_keeps_term },
	{ "checkquorum_leader_steps_down", t_checkquorum_leader_steps_down },
	{ "lease_needs_majority_ack", t_lease_needs_majority_ack },
	{ "lease_expires_before_new_primary_writes", t_lease_expires_before_new_primary },
	{ "lease_partial_partition_no_second_writer", t_lease_partial_partition },
	{ "restart_keeps_vote_promise", t_restart_keeps_vote_promise },
	{ "noop_barrier_on_election", t_noop_on_election },
	{ "replicate_and_commit", t_replicate_and_commit },
	{ "log_matching_conflict_hint_and_truncation", t_conflict_hint },
	{ "truncation_never_touches_committed", t_truncation_never_touches_committed },
	{ "figure8_old_term_not_committed_by_counting", t_figure8 },
	{ "leader_counts_itself_after_durable", t_leader_counts_itself_after_durable },
	{ "follower_acks_after_durable", t_follower_acks_after_durable },
	{ "local_rule_acks_on_local_durability", t_local_rule_acks_on_local_durability },
	{ "quorum_rule_acks_on_commit", t_quorum_rule_acks_on_commit },
	{ "catch_up_restarted_follower", t_catch_up_restarted_follower },
	{ "heartbeat_carries_commit", t_heartbeat_carries_commit },
	{ "heartbeat_commit_capped_at_diverged_match", t_heartbeat_commit_capped_at_match },
	{ "truncation_overtakes_pending_fsync", t_truncation_overtakes_pending_fsync },
	{ "leader_change_resets_peer_progress", t_leader_change_resets_progress },
	{ "append_validation", t_append_validation },
	{ "flow_inflight_window", t_flow_inflight_window },
	{ "flow_inflight_records", t_flow_inflight_records },
	{ "flow_probe_after_reject", t_flow_probe_after_reject },
	{ "flow_in_transit_no_probe", t_flow_in_transit_no_probe },
	{ "backpressure_uncommitted_cap", t_backpressure_uncommitted_cap },
	{ "resync_when_behind_retained_log", t_resync_when_behind_retained_log },
	{ "resync_when_divergence_below_retained_log", t_resync_when_divergence_below_retained_log },
	{ "transfer_to_named_site", t_transfer },
	{ "transfer_timeout_resumes", t_transfer_timeout },
	{ "transfer_lost_timeout_now_steps_down", t_transfer_lost_timeout_now_steps_down },
	{ "membership_learner_promote_remove", t_membership_learner_promote_remove },
	{ "membership_waits_for_own_term_commit", t_membership_waits_for_own_term_commit },
	{ "membership_truncated_conf_reverts", t_membership_truncated_conf_reverts },
	{ "learner_never_campaigns", t_learner_never_campaigns },
};

int main(void)
{
	size_t i, n = sizeof(tests) / sizeof(tests[0]);
	int bad = 0;

	if (&gr_broken_variant && gr_broken_variant) {
		/* the unit tests must notice the broken core */
		printf("KTAP version 1\n1..1\n");
		for (i = 0; i < n; i++) {
			test_failed = 0;
			tests[i].fn();
			if (test_failed)
				printf("# broken core '%s' fails test %s\n",
				       gr_broken_variant, tests[i].name);
			bad += test_failed;
		}
		printf("%sok 1 unit_tests_catch_%s\n", bad ? "" : "not ",
		       gr_broken_variant);
		return bad ? 0 : 1;
	}
	printf("KTAP version 1\n1..%zu\n", n);
	for (i = 0; i < n; i++) {
		test_failed = 0;
		tests[i].fn();
		printf("%sok %zu %s\n", test_failed ? "not " : "", i + 1,
		       tests[i].name);
		bad += test_failed;
	}
	return bad ? 1 : 0;
}
