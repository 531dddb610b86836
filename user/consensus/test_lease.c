// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests of the consensus core: the lease and the vote promise.
 */
#include "test_consensus.h"

/* ---- lease ------------------------------------------------------------ */

int t_lease_needs_majority_ack(void)
{
	struct tc *t = tc_new(3, 3, NULL);

	t->drop_to[1] = REPLIES;	/* the leader hears no acks */
	CHECK(tc_elect(t, 1) || st(t, 1).role == GR_LEADER);
	CHECK(!t->writable[1]);
	CHECK(propose(t, 1, 10) == -EAGAIN);
	t->drop_to[1] = 0;
	tc_run(t, 3);
	CHECK(t->writable[1]);
	CHECK(propose(t, 1, 10) > 0);
out:
	tc_free(t);
	return test_failed;
}

/* a new primary writes only after the old primary's lease expired */
int t_lease_expires_before_new_primary(void)
{
	struct tc *t = tc_new(3, 3, NULL);
	uint64_t old_stop = 0, new_start = 0;
	int k, nl = 0;

	CHECK(tc_elect(t, 1));
	CHECK(t->writable[1]);
	isolate(t, 1, true);
	for (k = 0; k < 100; k++) {
		tc_run(t, 1);
		if (!old_stop && !t->writable[1])
			old_stop = t->now;
		if (t->writable[2] || t->writable[3]) {
			nl = t->writable[2] ? 2 : 3;
			new_start = t->writable_since[nl];
			break;
		}
		CHECK(!(t->writable[1] && (t->writable[2] || t->writable[3])));
	}
	CHECK(nl && old_stop && old_stop <= new_start);
	/* the bound: lease = E(1-r)/(1+r) - 2 ticks */
	CHECK(gr_lease_ns(&t->cfg[1]) < 10 * TICK);
	CHECK(gr_lease_ns(&t->cfg[1]) > 7 * TICK);
out:
	tc_free(t);
	return test_failed;
}

/* a site that cannot hear the primary (one link down) campaigns; the
 * others, still hearing the primary, keep their promise and refuse */
int t_lease_partial_partition(void)
{
	struct tc *t = tc_new(3, 3, NULL);
	int k;

	CHECK(tc_elect(t, 1));
	t->cut[1][3] = t->cut[3][1] = true;
	/* idle: 3's log is as up to date as anyone's */
	for (k = 0; k < 100; k++) {
		tc_run(t, 1);
		CHECK(!t->two_writers);
	}
	CHECK(st(t, 1).role == GR_LEADER && t->writable[1]);
	CHECK(st(t, 2).leader == 1);
out:
	tc_free(t);
	return test_failed;
}

int t_restart_keeps_vote_promise(void)
{
	struct tc *t = tc_new(3, 3, NULL);
	struct gr_msg m = { .type = GR_MSG_VOTE, .from = 1, .to = 3,
			    .term = 7 };
	struct gr_ready *rd;

	t->now = 1000 * TICK;
	tc_replace(t, 3, 1, 0, NULL, 0);
	gr_step(t->nd[3], &m, t->now + TICK);
	rd = gr_ready_get(t->nd[3]);
	CHECK(rd->n_msgs == 0);		/* ignored just after boot */
	gr_ready_done(t->nd[3]);
	gr_step(t->nd[3], &m, t->now + 11 * TICK);
	rd = gr_ready_get(t->nd[3]);
	CHECK(rd->n_msgs == 1 && !rd->msgs[0].reject);
	gr_ready_done(t->nd[3]);
out:
	tc_free(t);
	return test_failed;
}
