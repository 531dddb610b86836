// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests of the consensus core: leadership transfer and membership changes.
 */
#include "test_consensus.h"

/* ---- leadership transfer (dissertation §3.10) ------------------------- */

int t_transfer(void)
{
	struct tc *t = tc_new(3, 3, NULL);
	uint64_t term;
	int k;

	CHECK(tc_elect(t, 1));
	term = st(t, 1).term;
	for (k = 0; k < 5; k++)
		propose(t, 1, 100);
	t->cut[1][3] = true;	/* the target lags */
	propose(t, 1, 100);
	t->cut[1][3] = false;
	CHECK(gr_transfer(t->nd[1], 3, t->now) == 0);
	tc_process(t, 1);
	CHECK(!t->writable[1]);	/* writes stop at once */
	CHECK(propose(t, 1, 100) == -EAGAIN);
	tc_run(t, 5);
	CHECK(st(t, 3).role == GR_LEADER && st(t, 3).term == term + 1);
	CHECK(st(t, 1).role == GR_FOLLOWER);
	CHECK(t->writable[3] && !t->writable[1]);
out:
	tc_free(t);
	return test_failed;
}

int t_transfer_timeout(void)
{
	struct tc *t = tc_new(3, 3, NULL);

	CHECK(tc_elect(t, 1));
	isolate(t, 3, true);
	propose(t, 1, 100);	/* 3 lags: no TIMEOUT_NOW yet */
	CHECK(gr_transfer(t->nd[1], 3, t->now) == 0);
	tc_process(t, 1);
	CHECK(!t->writable[1]);
	tc_run(t, 12);
	/* target never caught up: transfer aborted, writes resume */
	CHECK(st(t, 1).role == GR_LEADER && st(t, 1).transfer_to == 0);
	CHECK(t->writable[1]);
out:
	tc_free(t);
	return test_failed;
}

/* once TIMEOUT_NOW left, the target may win with forced votes: the old
 * leader never writes again in that term */
int t_transfer_lost_timeout_now_steps_down(void)
{
	struct tc *t = tc_new(3, 3, NULL);

	CHECK(tc_elect(t, 1));
	t->drop_from[1] = BIT(GR_MSG_TIMEOUT_NOW);
	CHECK(gr_transfer(t->nd[1], 3, t->now) == 0);
	tc_process(t, 1);
	CHECK(t->sent[1][GR_MSG_TIMEOUT_NOW] == 1);
	tc_run(t, 11);
	CHECK(st(t, 1).role != GR_LEADER || st(t, 1).term > 1);
	CHECK(!t->writable[1] || st(t, 1).term > 1);
out:
	tc_free(t);
	return test_failed;
}

/* ---- membership (dissertation §4) ------------------------------------- */

static void three_voters(struct gr_config *c)
{
	c->conf = mkconf(3, 0);
}

int t_membership_learner_promote_remove(void)
{
	/* site 4 runs but is not a member yet */
	struct tc *t = tc_new(4, 3, three_voters);
	int64_t r;
	int k;

	CHECK(tc_elect(t, 1));
	for (k = 0; k < 20; k++)
		propose(t, 1, 100);
	t->down[4] = true;
	r = gr_membership(t->nd[1], GR_CONF_ADD_LEARNER, 4, t->now);
	CHECK(r > 0);
	tc_process(t, 1);
	CHECK(gr_membership(t->nd[1], GR_CONF_REMOVE, 2, t->now) == -EBUSY);
	tc_run(t, 3);
	/* the learner does not count: committed without it */
	CHECK(st(t, 1).commit_seq >= (uint64_t)r);
	/* not caught up: promotion refused */
	CHECK(gr_membership(t->nd[1], GR_CONF_PROMOTE, 4, t->now) == -EAGAIN);
	t->down[4] = false;
	tc_run(t, 10);
	CHECK(st(t, 4).last_seq == st(t, 1).last_seq);
	CHECK(st(t, 4).role == GR_FOLLOWER);
	r = gr_membership(t->nd[1], GR_CONF_PROMOTE, 4, t->now);
	CHECK(r > 0);
	tc_process(t, 1);
	tc_run(t, 3);
	CHECK(gr_conf_committed(t->nd[1])->n == 4);
	/* now 4 voters: quorum 3; remove site 2 */
	r = gr_membership(t->nd[1], GR_CONF_REMOVE, 2, t->now);
	CHECK(r > 0);
	tc_process(t, 1);
	tc_run(t, 3);
	CHECK(gr_conf_committed(t->nd[1])->n == 3);
	CHECK(gr_conf_committed(t->nd[4])->n == 3);
	/* and the leader itself cannot be removed */
	CHECK(gr_membership(t->nd[1], GR_CONF_REMOVE, 1, t->now) == -EINVAL);
out:
	tc_free(t);
	return test_failed;
}

/* a new leader first commits an entry of its own term */
int t_membership_waits_for_own_term_commit(void)
{
	struct tc *t = tc_new(3, 3, NULL);
	int k;

	t->drop_from[1] = LEADER_MSGS;
	for (k = 0; k < 200 && st(t, 1).role != GR_LEADER; k++) {
		t->now += TICK;
		tc_tick_one(t, 1);
		tc_deliver(t);
	}
	CHECK(st(t, 1).role == GR_LEADER);
	CHECK(st(t, 1).commit_seq == 0);
	CHECK(gr_membership(t->nd[1], GR_CONF_ADD_LEARNER, 4, t->now) ==
	      -EAGAIN);
	t->drop_from[1] = 0;
	tc_run(t, 2);
	CHECK(st(t, 1).commit_seq >= 1);
	CHECK(gr_membership(t->nd[1], GR_CONF_ADD_LEARNER, 4, t->now) > 0);
out:
	tc_free(t);
	return test_failed;
}

/* a configuration entry takes effect when appended and is undone when
 * truncated */
int t_membership_truncated_conf_reverts(void)
{
	struct tc *t = tc_new(3, 3, NULL);
	struct gr_msg m = { .type = GR_MSG_APPEND, .from = 1, .to = 3,
			    .term = 2, .seq = 0, .n_entries = 1 };
	struct gr_entry e = { .term = 2, .kind = GR_ENTRY_CONF,
			      .conf_op = GR_CONF_REMOVE, .conf_site = 2 };
	struct gr_entry f = { .term = 3 };

	m.entries = &e;
	gr_step(t->nd[3], &m, t->now);
	tc_process(t, 3);
	CHECK(gr_conf_active(t->nd[3])->n == 2);
	CHECK(gr_conf_committed(t->nd[3])->n == 3);
	m.from = 2;
	m.term = 3;
	m.entries = &f;
	gr_step(t->nd[3], &m, t->now);
	tc_process(t, 3);
	CHECK(t->trunc_from[3] == 1);
	CHECK(gr_conf_active(t->nd[3])->n == 3);
out:
	tc_free(t);
	return test_failed;
}

static void one_voter_learner(struct gr_config *c)
{
	c->pre_vote = true;
}

int t_learner_never_campaigns(void)
{
	struct tc *t = tc_new(3, 2, one_voter_learner);

	isolate(t, 3, true);
	tc_run(t, 200);
	CHECK(st(t, 3).role == GR_FOLLOWER && st(t, 3).term == 0);
out:
	tc_free(t);
	return test_failed;
}
