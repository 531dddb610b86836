// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests of the consensus core: log replication, commit and acknowledgement rules.
 */
#include "test_consensus.h"

/* ---- log replication (§5.3) ------------------------------------------- */

int t_noop_on_election(void)
{
	struct tc *t = tc_new(3, 3, NULL);
	struct gr_entry e;
	struct gr_status s;

	CHECK(tc_elect(t, 2));
	s = st(t, 2);
	CHECK(s.last_seq == 1);
	CHECK(gr_entry_get(t->nd[2], 1, &e) == 0);
	CHECK(e.kind == GR_ENTRY_NOOP && e.term == s.term);
	CHECK(s.commit_seq == 1 && st(t, 1).last_seq == 1);
out:
	tc_free(t);
	return test_failed;
}

int t_replicate_and_commit(void)
{
	struct tc *t = tc_new(5, 5, NULL);
	int i, k;

	CHECK(tc_elect(t, 1));
	for (k = 0; k < 100; k++)
		CHECK(propose(t, 1, 1000) == k + 2);
	tc_deliver(t);
	tc_run(t, 3);
	for (i = 1; i <= 5; i++) {
		CHECK(st(t, i).last_seq == 101);
		CHECK(st(t, i).commit_seq == 101);
	}
out:
	tc_free(t);
	return test_failed;
}

/* follower rejects an APPEND whose previous entry does not match, with a
 * hint that lets the leader skip a whole term in one round trip */
int t_conflict_hint(void)
{
	struct tc *t = tc_new(3, 3, NULL);
	const uint64_t l1[] = { 1, 1, 1, 4, 4, 5, 5, 6, 6, 6 };
	const uint64_t l2[] = { 1, 1, 1, 4, 4, 5, 5, 6, 6, 6 };
	const uint64_t l3[] = { 1, 1, 1, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3 };
	int probes;

	tc_replace(t, 1, 6, 3, l1, 10);
	tc_replace(t, 2, 6, 3, l2, 10);
	tc_replace(t, 3, 3, 3, l3, 13);
	t->now = 100 * TICK;
	CHECK(tc_elect(t, 1));
	tc_run(t, 5);
	probes = t->sent[3][GR_MSG_APPEND_RESP];
	CHECK(st(t, 3).last_seq == st(t, 1).last_seq);
	CHECK(st(t, 3).last_term == st(t, 1).term);
	/* follower 3 diverged at seq 4: one reject, then success */
	CHECK(probes <= 8);
	/* the conflicting suffix was reported for safekeeping */
	CHECK(t->trunc_from[3] == 4 && t->trunc_to[3] == 13);
out:
	tc_free(t);
	return test_failed;
}

int t_truncation_never_touches_committed(void)
{
	struct tc *t = tc_new(3, 3, NULL);
	struct gr_msg m = { .type = GR_MSG_APPEND, .from = 1, .to = 3,
			    .term = 5, .seq = 1, .log_term = 1, .n_entries = 1,
			    .commit = 3 };
	const uint64_t l3[] = { 1, 2, 2 };
	struct gr_entry e = { .term = 5 };
	struct gr_ready *rd;

	tc_replace(t, 3, 2, 3, l3, 3);	/* all three committed */
	m.entries = &e;
	gr_step(t->nd[3], &m, t->now);
	rd = gr_ready_get(t->nd[3]);
	CHECK(rd->trunc_from == 0);
	gr_ready_done(t->nd[3]);
	CHECK(st(t, 3).last_seq == 3 && st(t, 3).last_term == 2);
out:
	tc_free(t);
	return test_failed;
}

/* Figure 8: an entry of an older term is not committed by counting
 * replicas, only together with an entry of the leader's term */
static void one_entry_msgs(struct gr_config *c)
{
	c->max_msg_entries = 1;
	c->max_inflight_msgs = 1;
}

int t_figure8(void)
{
	struct tc *t = tc_new(5, 5, one_entry_msgs);
	const uint64_t s12[] = { 1, 2 }, s34[] = { 1 }, s5[] = { 1, 3 };
	struct gr_msg m = { .type = GR_MSG_APPEND, .from = 1, .to = 3,
			    .seq = 1, .log_term = 1, .n_entries = 1 };
	struct gr_entry e = { .term = 2, .bytes = 100 };
	int k;

	/* Figure 8 (c): S1 holds 2@t2 (as S2 does), S5 holds 2@t3; S1
	 * is elected again (term 4 here) with S3 and S4's votes */
	tc_replace(t, 1, 3, 1, s12, 2);
	tc_replace(t, 2, 3, 1, s12, 2);
	tc_replace(t, 3, 3, 1, s34, 1);
	tc_replace(t, 4, 3, 1, s34, 1);
	tc_replace(t, 5, 3, 1, s5, 2);
	t->now = 100 * TICK;
	isolate(t, 5, true);
	/* S3 and S4 vote but hear nothing else from S1 */
	t->drop_link[1][3] = t->drop_link[1][4] = LEADER_MSGS;
	for (k = 0; k < 200 && st(t, 1).role != GR_LEADER; k++) {
		t->now += TICK;
		tc_tick_one(t, 1);
		tc_deliver(t);
	}
	CHECK(st(t, 1).role == GR_LEADER);
	tc_run(t, 2);
	CHECK(st(t, 2).last_seq == 3);	/* S2 has 2@t2 and the barrier */
	/* 2@t2 reaches S3: now on S1, S2, S3, a majority */
	m.term = st(t, 1).term;
	m.entries = &e;
	gr_step(t->nd[3], &m, t->now);
	tc_process(t, 3);
	tc_deliver(t);
	CHECK(st(t, 3).last_seq == 2);
	/* yet not committed: S5 (last term 3) could still win with S3, S4
	 * and overwrite it; only entries of the leader's term count */
	CHECK(st(t, 1).commit_seq == 1);
	t->drop_link[1][3] = t->drop_link[1][4] = 0;
	tc_run(t, 5);
	CHECK(st(t, 1).commit_seq == 3);
out:
	tc_free(t);
	return test_failed;
}

/* quorum rule: the leader counts itself only once durable, but sends in
 * parallel with its own write */
int t_leader_counts_itself_after_durable(void)
{
	struct tc *t = tc_new(3, 3, NULL);
	struct gr_status s;
	int64_t seq;

	CHECK(tc_elect(t, 1));
	t->manual_persist[1] = true;
	t->cut[1][3] = true;
	seq = propose(t, 1, 100);
	CHECK(seq > 0);
	CHECK(t->qn > 0);	/* APPEND left before the leader's fsync */
	tc_deliver(t);
	s = st(t, 1);
	CHECK(s.commit_seq < (uint64_t)seq);	/* only site 2 is durable */
	gr_persisted(t->nd[1], (uint64_t)seq, s.term);
	tc_process(t, 1);
	CHECK(st(t, 1).commit_seq == (uint64_t)seq);
out:
	tc_free(t);
	return test_failed;
}

int t_follower_acks_after_durable(void)
{
	struct tc *t = tc_new(3, 3, NULL);
	int before;
	int64_t seq;

	CHECK(tc_elect(t, 1));
	t->manual_persist[2] = true;
	t->manual_persist[3] = true;
	before = t->sent[2][GR_MSG_APPEND_RESP];
	seq = propose(t, 1, 100);
	tc_deliver(t);
	CHECK(t->sent[2][GR_MSG_APPEND_RESP] == before);
	CHECK(st(t, 1).commit_seq < (uint64_t)seq);
	gr_persisted(t->nd[2], (uint64_t)seq, st(t, 2).last_term);
	tc_process(t, 2);
	CHECK(t->sent[2][GR_MSG_APPEND_RESP] == before + 1);
	tc_deliver(t);
	CHECK(st(t, 1).commit_seq == (uint64_t)seq);
out:
	tc_free(t);
	return test_failed;
}

static void local_rule(struct gr_config *c)
{
	c->rule = GR_RULE_LOCAL;
}

int t_local_rule_acks_on_local_durability(void)
{
	struct tc *t = tc_new(3, 3, local_rule);
	int64_t seq;

	CHECK(tc_elect(t, 1));
	isolate(t, 1, true);
	seq = propose(t, 1, 100);
	CHECK(seq > 0);
	CHECK(t->ack[1] == (uint64_t)seq);		/* acked */
	CHECK(st(t, 1).commit_seq < (uint64_t)seq);	/* not committed */
out:
	tc_free(t);
	return test_failed;
}

int t_quorum_rule_acks_on_commit(void)
{
	struct tc *t = tc_new(3, 3, NULL);
	int64_t seq;

	CHECK(tc_elect(t, 1));
	t->cut[1][2] = t->cut[1][3] = true;
	seq = propose(t, 1, 100);
	CHECK(t->ack[1] < (uint64_t)seq);
	t->cut[1][2] = false;
	tc_run(t, 3);
	CHECK(t->ack[1] >= (uint64_t)seq);
out:
	tc_free(t);
	return test_failed;
}

int t_catch_up_restarted_follower(void)
{
	struct tc *t = tc_new(3, 3, NULL);
	int k;

	CHECK(tc_elect(t, 1));
	t->down[3] = true;
	for (k = 0; k < 50; k++)
		propose(t, 1, 100);
	tc_run(t, 3);
	t->down[3] = false;
	{
		/* restart from what it had on disk */
		uint64_t terms[8];
		struct gr_entry e;
		struct gr_status s3 = st(t, 3);
		uint64_t q;

		CHECK(s3.last_seq < 8 && s3.last_seq >= 1);
		for (q = 1; q <= s3.last_seq; q++) {
			gr_entry_get(t->nd[3], q, &e);
			terms[q - 1] = e.term;
		}
		tc_replace(t, 3, s3.term, s3.commit_seq, terms,
			   (int)s3.last_seq);
	}
	tc_run(t, 10);
	CHECK(st(t, 3).last_seq == st(t, 1).last_seq);
	CHECK(st(t, 3).commit_seq == st(t, 1).commit_seq);
out:
	tc_free(t);
	return test_failed;
}

/* idle cluster: a follower restarted with an old commit index learns the
 * commit from heartbeats alone */
int t_heartbeat_carries_commit(void)
{
	struct tc *t = tc_new(3, 3, NULL);
	uint64_t terms[16];
	struct gr_entry e;
	struct gr_status s3;
	uint64_t q;
	int k;

	CHECK(tc_elect(t, 1));
	for (k = 0; k < 10; k++)
		propose(t, 1, 100);
	t->drop_link[1][3] = BIT(GR_MSG_HEARTBEAT);
	tc_run(t, 1);
	s3 = st(t, 3);
	CHECK(s3.last_seq == 11);
	for (q = 1; q <= s3.last_seq; q++) {
		gr_entry_get(t->nd[3], q, &e);
		terms[q - 1] = e.term;
	}
	tc_replace(t, 3, s3.term, 2, terms, (int)s3.last_seq);
	CHECK(st(t, 3).commit_seq == 2);
	t->drop_link[1][3] = 0;
	tc_run(t, 3);
	CHECK(st(t, 3).commit_seq == 11);
out:
	tc_free(t);
	return test_failed;
}

int t_append_validation(void)
{
	struct tc *t = tc_new(3, 3, NULL);
	struct gr_entry e[2] = { { .term = 3 }, { .term = 2 } };
	struct gr_msg m = { .type = GR_MSG_APPEND, .from = 1, .to = 2,
			    .term = 3, .n_entries = 2 };

	m.entries = e;
	CHECK(gr_step(t->nd[2], &m, t->now) == -EINVAL);	/* decreasing */
	e[1].term = 4;
	CHECK(gr_step(t->nd[2], &m, t->now) == -EINVAL);	/* future */
	e[1].term = 3;
	m.entries = NULL;
	CHECK(gr_step(t->nd[2], &m, t->now) == -EINVAL);
	m.entries = e;
	CHECK(gr_step(t->nd[2], &m, t->now) == 0);
	tc_process(t, 2);
	CHECK(st(t, 2).last_seq == 2);
out:
	tc_free(t);
	return test_failed;
}

/* a diverged follower (old-term suffix, nothing acked to this leader) gets
 * heartbeats whose commit is capped at its match: it never commits its
 * own conflicting entries */
int t_heartbeat_commit_capped_at_match(void)
{
	struct tc *t = tc_new(3, 3, NULL);
	const uint64_t good[] = { 1, 2, 2, 2, 2 };
	const uint64_t bad[] = { 1, 1, 1, 1, 1, 1 };
	struct gr_entry e;

	t->now = 50 * TICK;
	tc_replace(t, 1, 2, 0, good, 5);
	tc_replace(t, 2, 2, 0, good, 5);
	tc_replace(t, 3, 1, 0, bad, 6);
	t->now += 20 * TICK;
	t->drop_link[1][3] = BIT(GR_MSG_APPEND);	/* heartbeats only */
	CHECK(tc_elect(t, 1));
	tc_run(t, 6);
	CHECK(st(t, 1).commit_seq == 6);
	CHECK(t->sent[1][GR_MSG_HEARTBEAT] > 0);
	CHECK(st(t, 3).commit_seq == 0);
	t->drop_link[1][3] = 0;
	tc_run(t, 6);
	CHECK(st(t, 3).commit_seq == 6);
	CHECK(gr_entry_get(t->nd[3], 2, &e) == 0 && e.term == 2);
out:
	tc_free(t);
	return test_failed;
}

/* a truncation overtakes a pending fsync: the fsync's completion names an
 * entry that is gone and must not make the new entries count as durable */
int t_truncation_overtakes_pending_fsync(void)
{
	struct tc *t = tc_new(3, 3, NULL);
	struct gr_entry old[3] = { { .term = 1 }, { .term = 1 }, { .term = 1 } };
	struct gr_entry neu[3] = { { .term = 2 }, { .term = 2 }, { .term = 2 } };
	struct gr_msg m = { .type = GR_MSG_APPEND, .from = 1, .to = 3,
			    .term = 1, .n_entries = 3 };
	struct gr_ready *rd;
	uint32_t k;

	m.entries = old;
	gr_step(t->nd[3], &m, t->now);		/* 1..3 term 1, fsync pending */
	rd = gr_ready_get(t->nd[3]);
	CHECK(rd->append_from == 1 && rd->append_to == 3);
	gr_ready_done(t->nd[3]);
	m.from = 2;
	m.term = 2;
	m.seq = 1;
	m.log_term = 1;
	m.entries = neu;
	gr_step(t->nd[3], &m, t->now);		/* truncates 2..3, appends 2..4 */
	rd = gr_ready_get(t->nd[3]);
	CHECK(rd->trunc_from == 2 && rd->append_from == 2 && rd->append_to == 4);
	gr_ready_done(t->nd[3]);
	gr_persisted(t->nd[3], 3, 1);		/* the old fsync completes */
	rd = gr_ready_get(t->nd[3]);
	for (k = 0; k < rd->n_msgs; k++)
		CHECK(rd->msgs[k].type != GR_MSG_APPEND_RESP ||
		      rd->msgs[k].reject || rd->msgs[k].seq <= 1);
	gr_ready_done(t->nd[3]);
	CHECK(st(t, 3).durable_seq <= 1);
	gr_persisted(t->nd[3], 4, 2);		/* the new entries are durable */
	rd = gr_ready_get(t->nd[3]);
	CHECK(rd->n_msgs == 1 && rd->msgs[0].type == GR_MSG_APPEND_RESP &&
	      !rd->msgs[0].reject && rd->msgs[0].seq == 4 &&
	      rd->msgs[0].to == 2);
	gr_ready_done(t->nd[3]);
out:
	tc_free(t);
	return test_failed;
}

/* a site that leads again in a later term starts every peer afresh
 * (match 0, probing): what they held in its earlier term may be gone */
int t_leader_change_resets_progress(void)
{
	struct tc *t = tc_new(3, 3, NULL);
	struct gr_msg m = { .type = GR_MSG_APPEND_RESP, .from = 2, .to = 1,
			    .reject = true };
	struct gr_progress_info pi;
	uint64_t term;
	int k;

	CHECK(tc_elect(t, 1));
	for (k = 0; k < 5; k++)
		propose(t, 1, 100);
	tc_run(t, 3);
	CHECK(gr_progress(t->nd[1], 3, &pi) == 0 && pi.match == 6);
	term = st(t, 1).term;
	m.term = term + 1;			/* deposed */
	gr_step(t->nd[1], &m, t->now);
	tc_process(t, 1);
	CHECK(st(t, 1).role == GR_FOLLOWER);
	t->now += 30 * TICK;			/* past its own promise */
	for (k = 0; k < 40 && st(t, 1).role == GR_FOLLOWER; k++) {
		t->now += TICK;
		tc_tick_one(t, 1);		/* nothing delivered */
	}
	CHECK(st(t, 1).role == GR_PRECANDIDATE);
	m.type = GR_MSG_PREVOTE_RESP;
	m.reject = false;
	m.term = term + 2;
	gr_step(t->nd[1], &m, t->now);
	tc_process(t, 1);
	CHECK(st(t, 1).role == GR_CANDIDATE);
	m.type = GR_MSG_VOTE_RESP;
	gr_step(t->nd[1], &m, t->now);
	tc_process(t, 1);
	CHECK(st(t, 1).role == GR_LEADER);
	CHECK(gr_progress(t->nd[1], 3, &pi) == 0 && pi.match == 0 &&
	      pi.state == GR_PR_PROBE);
	CHECK(gr_progress(t->nd[1], 2, &pi) == 0 && pi.match == 0);
out:
	tc_free(t);
	return test_failed;
}
