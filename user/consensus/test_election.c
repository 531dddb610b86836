// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests of the consensus core: elections, votes, pre-vote and check-quorum.
 */
#include "test_consensus.h"

/* ---- election (Raft §5.2) -------------------------------------------- */

int t_election_one_leader(void)
{
	struct tc *t = tc_new(5, 5, NULL);
	int i;

	tc_run(t, 60);
	CHECK(leaders(t) == 1);
	for (i = 1; i <= 5; i++)
		CHECK(st(t, i).term == st(t, 1).term);
out:
	tc_free(t);
	return test_failed;
}

int t_election_timeout_randomized(void)
{
	struct tc *t = NULL;
	int s, k, lo = 1000, hi = 0;

	for (s = 0; s < 50; s++) {
		t = tc_new(1, 1, NULL);
		gr_node_free(t->nd[1]);
		t->cfg[1].seed = (uint64_t)s * 7919;
		t->cfg[1].pre_vote = false;
		t->nd[1] = gr_node_new(&t->cfg[1], NULL, 0);
		for (k = 1; k < 100; k++) {
			t->now += TICK;
			tc_tick_one(t, 1);
			if (st(t, 1).role != GR_FOLLOWER)
				break;
		}
		lo = k < lo ? k : lo;
		hi = k > hi ? k : hi;
		tc_free(t);
		t = NULL;
	}
	/* timeouts are drawn from [E, 2E) and do vary */
	CHECK(lo >= 10 && hi < 20 && lo < hi);
out:
	tc_free(t);
	return test_failed;
}

int t_vote_persisted_before_reply(void)
{
	struct tc *t = tc_new(3, 3, NULL);

	CHECK(tc_elect(t, 1));
	CHECK(t->sent[2][GR_MSG_VOTE_RESP] + t->sent[3][GR_MSG_VOTE_RESP] > 0);
	CHECK(t->hs_before_vote_resp_ok);
out:
	tc_free(t);
	return test_failed;
}

int t_one_vote_per_term(void)
{
	struct tc *t = tc_new(3, 3, NULL);
	struct gr_msg m = { .type = GR_MSG_VOTE, .to = 3, .term = 1 };
	struct gr_ready *rd;

	t->now = 50 * TICK;	/* past the boot promise */
	m.from = 1;
	gr_step(t->nd[3], &m, t->now);
	rd = gr_ready_get(t->nd[3]);
	CHECK(rd->n_msgs == 1 && !rd->msgs[0].reject && rd->hs.vote == 1);
	gr_ready_done(t->nd[3]);
	m.from = 2;
	gr_step(t->nd[3], &m, t->now);
	rd = gr_ready_get(t->nd[3]);
	CHECK(rd->n_msgs == 1 && rd->msgs[0].reject);
	gr_ready_done(t->nd[3]);
	/* the same candidate asking again gets the same answer */
	m.from = 1;
	gr_step(t->nd[3], &m, t->now);
	rd = gr_ready_get(t->nd[3]);
	CHECK(rd->n_msgs == 1 && !rd->msgs[0].reject);
	gr_ready_done(t->nd[3]);
out:
	tc_free(t);
	return test_failed;
}

/* §5.4.1: votes only for logs at least as up to date */
int t_vote_requires_uptodate_log(void)
{
	struct tc *t = tc_new(3, 3, NULL);
	const uint64_t mine[] = { 1, 2, 2 };
	struct gr_msg m = { .type = GR_MSG_VOTE, .from = 1, .to = 3 };
	struct gr_ready *rd;

	tc_replace(t, 3, 2, 0, mine, 3);
	t->now = 50 * TICK;
	/* higher last term but shorter: granted */
	m.term = 3; m.seq = 1; m.log_term = 3;
	gr_step(t->nd[3], &m, t->now);
	rd = gr_ready_get(t->nd[3]);
	CHECK(rd->n_msgs == 1 && !rd->msgs[0].reject);
	gr_ready_done(t->nd[3]);
	/* same last term, shorter log: rejected */
	m.from = 2; m.term = 4; m.seq = 2; m.log_term = 2;
	gr_step(t->nd[3], &m, t->now);
	rd = gr_ready_get(t->nd[3]);
	CHECK(rd->n_msgs == 1 && rd->msgs[0].reject);
	gr_ready_done(t->nd[3]);
	/* lower last term, longer log: rejected */
	m.term = 5; m.seq = 9; m.log_term = 1;
	gr_step(t->nd[3], &m, t->now);
	rd = gr_ready_get(t->nd[3]);
	CHECK(rd->n_msgs == 1 && rd->msgs[0].reject);
	gr_ready_done(t->nd[3]);
out:
	tc_free(t);
	return test_failed;
}

int t_higher_term_steps_down(void)
{
	struct tc *t = tc_new(3, 3, NULL);
	struct gr_msg m = { .type = GR_MSG_APPEND_RESP, .from = 2, .to = 1,
			    .reject = true };

	CHECK(tc_elect(t, 1));
	m.term = st(t, 1).term + 5;
	gr_step(t->nd[1], &m, t->now);
	tc_process(t, 1);
	CHECK(st(t, 1).role == GR_FOLLOWER && st(t, 1).term == m.term);
	CHECK(!t->writable[1]);
out:
	tc_free(t);
	return test_failed;
}

int t_single_site_cluster(void)
{
	struct tc *t = tc_new(1, 1, NULL);
	int64_t seq;

	tc_run(t, 40);
	CHECK(st(t, 1).role == GR_LEADER && t->writable[1]);
	seq = propose(t, 1, 100);
	CHECK(seq == 2 && st(t, 1).commit_seq == 2 && t->ack[1] == 2);
	tc_run(t, 40);
	CHECK(t->writable[1]);
out:
	tc_free(t);
	return test_failed;
}

/* ---- pre-vote and check-quorum (dissertation §9.6) -------------------- */

int t_prevote_partitioned_no_term_bump(void)
{
	struct tc *t = tc_new(3, 3, NULL);
	uint64_t term;

	CHECK(tc_elect(t, 1));
	term = st(t, 1).term;
	isolate(t, 3, true);
	tc_run(t, 200);
	CHECK(st(t, 3).term == term);	/* pre-votes never won */
	isolate(t, 3, false);
	tc_run(t, 30);
	CHECK(st(t, 1).role == GR_LEADER && st(t, 1).term == term);
	CHECK(st(t, 3).leader == 1);
out:
	tc_free(t);
	return test_failed;
}

/*
 * A follower whose leader's heartbeats are late but whose resync chunks
 * arrive (gr_leader_alive()) does not campaign; once nothing arrives at
 * all, it does.
 */
int t_leader_alive_defers_election(void)
{
	struct tc *t = tc_new(3, 3, NULL);
	uint64_t term;
	int k;

	CHECK(tc_elect(t, 1));
	term = st(t, 1).term;
	t->drop_link[1][3] = ~0U;	/* no message of the leader reaches 3 */
	for (k = 0; k < 200; k++) {
		t->now += TICK;
		gr_leader_alive(t->nd[3], 1, t->now);
		tc_tick_one(t, 3);
		tc_deliver(t);
	}
	CHECK(st(t, 3).role == GR_FOLLOWER && st(t, 3).leader == 1);
	CHECK(st(t, 3).term == term);
	/* another site's "chunks" do not count */
	for (k = 0; k < 200 && st(t, 3).role == GR_FOLLOWER; k++) {
		t->now += TICK;
		gr_leader_alive(t->nd[3], 2, t->now);
		tc_tick_one(t, 3);
		tc_deliver(t);
	}
	CHECK(st(t, 3).role != GR_FOLLOWER);
out:
	tc_free(t);
	return test_failed;
}

static void no_prevote(struct gr_config *c)
{
	c->pre_vote = false;
}

/* without pre-vote a rejoining site has a higher term; check-quorum's
 * vote promise still keeps the healthy majority from electing it */
int t_checkquorum_ignores_disruptive_votes(void)
{
	struct tc *t = tc_new(3, 3, no_prevote);
	int k;

	CHECK(tc_elect(t, 1));
	isolate(t, 3, true);
	tc_run(t, 100);
	CHECK(st(t, 3).term > st(t, 1).term);
	isolate(t, 3, false);
	/* its VOTE requests are ignored by 1 and 2 while 1 leads */
	for (k = 0; k < 5; k++) {
		t->now += TICK;
		tc_tick_one(t, 3);
		tc_deliver(t);
	}
	CHECK(st(t, 2).leader == 1);
out:
	tc_free(t);
	return test_failed;
}

int t_checkquorum_leader_steps_down(void)
{
	struct tc *t = tc_new(5, 5, NULL);
	int k;

	CHECK(tc_elect(t, 1));
	tc_run(t, 5);
	isolate(t, 1, true);
	for (k = 1; k <= 30; k++) {
		t->now += TICK;
		tc_tick_one(t, 1);
		if (st(t, 1).role != GR_LEADER)
			break;
	}
	/* within an election timeout (+1 tick of observation) */
	CHECK(k <= 11);
	CHECK(!t->writable[1]);
out:
	tc_free(t);
	return test_failed;
}

/* a granted pre-vote carries the proposed term, not the voter's: one that
 * arrives after its campaign ended (the site follows a leader again) must
 * not raise the term, or the site rejects the healthy leader's appends at
 * that term and deposes it (found by the simulator's disruption check) */
int t_stale_prevote_grant_keeps_term(void)
{
	struct tc *t = tc_new(3, 3, NULL);
	struct gr_msg m = { .type = GR_MSG_PREVOTE_RESP, .from = 2, .to = 3 };
	uint64_t term;

	CHECK(tc_elect(t, 1));
	term = st(t, 1).term;
	CHECK(st(t, 3).role == GR_FOLLOWER && st(t, 3).leader == 1);
	m.term = term + 1;
	gr_step(t->nd[3], &m, t->now);
	tc_process(t, 3);
	CHECK(st(t, 3).term == term && st(t, 3).leader == 1);
	tc_run(t, 5);
	CHECK(st(t, 1).role == GR_LEADER && st(t, 1).term == term);
out:
	tc_free(t);
	return test_failed;
}

/* a site that already took the term (rejecting one candidate) and then
 * grants its vote changes only hs.vote: that change is flagged and in hs
 * before the VOTE_RESP leaves */
int t_vote_only_change_persisted(void)
{
	struct tc *t = tc_new(3, 3, NULL);
	const uint64_t mine[] = { 1 };
	struct gr_msg m = { .type = GR_MSG_VOTE, .to = 3, .term = 2 };
	struct gr_ready *rd;

	t->now = 50 * TICK;
	tc_replace(t, 3, 1, 0, mine, 1);
	t->now += 20 * TICK;		/* past the boot promise */
	m.from = 2;			/* stale log: rejected, term taken */
	gr_step(t->nd[3], &m, t->now);
	rd = gr_ready_get(t->nd[3]);
	CHECK(rd->n_msgs == 1 && rd->msgs[0].reject);
	CHECK(rd->hs_changed && rd->hs.term == 2 && rd->hs.vote == 0);
	gr_ready_done(t->nd[3]);
	m.from = 1;			/* up to date: granted */
	m.seq = 1;
	m.log_term = 1;
	gr_step(t->nd[3], &m, t->now);
	rd = gr_ready_get(t->nd[3]);
	CHECK(rd->n_msgs == 1 && !rd->msgs[0].reject);
	CHECK(rd->hs_changed && rd->hs.term == 2 && rd->hs.vote == 1);
	gr_ready_done(t->nd[3]);
out:
	tc_free(t);
	return test_failed;
}
