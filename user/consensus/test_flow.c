// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests of the consensus core: flow control, backpressure and resync.
 */
#include "test_consensus.h"

/* ---- flow control ----------------------------------------------------- */

static void small_window(struct gr_config *c)
{
	c->max_msg_entries = 4;
	c->max_inflight_msgs = 3;
	c->max_inflight_bytes = 1 << 20;
	c->max_uncommitted_bytes = 100000;
}

int t_flow_inflight_window(void)
{
	struct tc *t = tc_new(3, 3, small_window);
	struct gr_progress_info pi;
	int k, before;

	CHECK(tc_elect(t, 1));
	t->cut[1][3] = true;	/* 3 never answers */
	t->cut[3][1] = true;
	before = t->sent[1][GR_MSG_APPEND];
	for (k = 0; k < 40; k++)
		propose(t, 1, 100);
	CHECK(gr_progress(t->nd[1], 3, &pi) == 0);
	CHECK(pi.state == GR_PR_REPLICATE);
	CHECK(pi.inflight_msgs == 3);
	/* to site 3: at most 3 messages of 4 entries went out */
	CHECK(pi.next - pi.match - 1 <= 12);
	CHECK(t->sent[1][GR_MSG_APPEND] - before <= 40 / 4 * 2 + 6);
out:
	tc_free(t);
	return test_failed;
}

/*
 * Heartbeat answers overtake APPENDs on a slower lane: while the engine
 * says APPENDs are in transit, no progress over a heartbeat round does not
 * send the follower back to probing (no resend); without the hint it does.
 */
int t_flow_in_transit_no_probe(void)
{
	struct tc *t = tc_new(3, 3, small_window);
	struct gr_progress_info pi, p0;
	int k;

	CHECK(tc_elect(t, 1));
	tc_run(t, 2);
	t->manual_persist[3] = true;	/* 3 holds the records: no APPEND answer */
	for (k = 0; k < 8; k++)
		propose(t, 1, 100);
	CHECK(gr_set_in_transit(t->nd[1], 3, true) == 0);
	CHECK(gr_set_in_transit(t->nd[1], 99, true) == -ENOENT);
	CHECK(gr_progress(t->nd[1], 3, &p0) == 0);
	CHECK(p0.state == GR_PR_REPLICATE && p0.inflight_msgs > 0);
	tc_run(t, 20);
	CHECK(gr_progress(t->nd[1], 3, &pi) == 0);
	/* the window as it was: nothing cleared, nothing sent again */
	CHECK(pi.state == GR_PR_REPLICATE && pi.next == p0.next &&
	      pi.inflight_msgs == p0.inflight_msgs);
	CHECK(t->sent[3][GR_MSG_HEARTBEAT_RESP] > 0);
	/* the link went idle and still no progress: an APPEND was lost */
	CHECK(gr_set_in_transit(t->nd[1], 3, false) == 0);
	tc_run(t, 20);
	CHECK(gr_progress(t->nd[1], 3, &pi) == 0);
	CHECK(pi.state == GR_PR_PROBE);
out:
	tc_free(t);
	return test_failed;
}

static void record_window(struct gr_config *c)
{
	c->max_msg_entries = 4;
	c->max_inflight_msgs = 10;
	c->max_inflight_records = 6;
}

int t_flow_inflight_records(void)
{
	struct tc *t = tc_new(3, 3, record_window);
	struct gr_progress_info pi;
	int k;

	CHECK(tc_elect(t, 1));
	t->cut[3][1] = true;	/* 3 never answers */
	for (k = 0; k < 40; k++)
		propose(t, 1, 100);
	CHECK(gr_progress(t->nd[1], 3, &pi) == 0);
	CHECK(pi.state == GR_PR_REPLICATE);
	CHECK(pi.inflight_records == 6 && pi.inflight_msgs <= 6);
	t->cut[3][1] = false;
	tc_run(t, 4);
	CHECK(st(t, 3).last_seq == st(t, 1).last_seq);
out:
	tc_free(t);
	return test_failed;
}

int t_flow_probe_after_reject(void)
{
	struct tc *t = tc_new(3, 3, small_window);
	const uint64_t l3[] = { 1, 2, 2, 2, 2, 2 };
	struct gr_progress_info pi;

	CHECK(tc_elect(t, 1));
	tc_replace(t, 3, st(t, 1).term, 0, l3, 6);
	t->now += 20 * TICK;
	tc_run(t, 1);
	CHECK(gr_progress(t->nd[1], 3, &pi) == 0);
	tc_run(t, 5);
	CHECK(gr_progress(t->nd[1], 3, &pi) == 0);
	CHECK(pi.state == GR_PR_REPLICATE && pi.match == st(t, 1).last_seq);
out:
	tc_free(t);
	return test_failed;
}

int t_backpressure_uncommitted_cap(void)
{
	struct tc *t = tc_new(3, 3, small_window);
	int64_t r = 0;
	int k;

	CHECK(tc_elect(t, 1));
	isolate(t, 1, true);
	for (k = 0; k < 100; k++) {
		r = propose(t, 1, 30000);
		if (r < 0)
			break;
	}
	CHECK(r == -EAGAIN);
	CHECK(k == 3);	/* 3 x 30000 <= 100000 < 4 x 30000 */
	CHECK(st(t, 1).uncommitted_bytes <= 100000);
	isolate(t, 1, false);
	tc_run(t, 2);
	CHECK(propose(t, 1, 30000) > 0);
out:
	tc_free(t);
	return test_failed;
}

static void tiny_log(struct gr_config *c)
{
	c->log_capacity = 64;
}

int t_resync_when_behind_retained_log(void)
{
	struct tc *t = tc_new(3, 3, tiny_log);
	int k;

	CHECK(tc_elect(t, 1));
	t->down[3] = true;
	for (k = 0; k < 200; k++) {
		struct gr_status s;

		if (propose(t, 1, 100) == -ENOSPC) {
			s = st(t, 1);
			CHECK(gr_compact(t->nd[1], s.applied_seq) == 0);
			CHECK(gr_compact(t->nd[2], st(t, 2).applied_seq) == 0);
		}
		tc_deliver(t);
	}
	CHECK(st(t, 1).snap_seq > 1);
	t->down[3] = false;
	tc_run(t, 3);
	CHECK(t->resync[3]);
	CHECK(t->resync_seq[3] == st(t, 1).snap_seq);
	/* install done: the caller reports it durable */
	t->manual_persist[3] = false;
	tc_run(t, 10);
	CHECK(st(t, 3).last_seq == st(t, 1).last_seq);
	CHECK(st(t, 3).commit_seq == st(t, 1).commit_seq);
out:
	tc_free(t);
	return test_failed;
}

/* the follower diverges below the leader's retained log: probing cannot
 * go there, the leader asks for a resync */
int t_resync_when_divergence_below_retained_log(void)
{
	struct tc *t = tc_new(3, 3, NULL);
	const uint64_t good[] = { 1, 1, 1, 1, 1, 3, 3, 3, 3, 3, 3, 3 };
	const uint64_t bad[] = { 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 2 };

	tc_replace(t, 1, 3, 12, good, 12);
	tc_replace(t, 2, 3, 12, good, 12);
	tc_replace(t, 3, 3, 5, bad, 14);
	gr_applied(t->nd[1], 12);
	CHECK(gr_compact(t->nd[1], 12) == 0);
	t->now = 100 * TICK;
	CHECK(tc_elect(t, 1));
	tc_run(t, 5);
	CHECK(t->resync[3] && t->resync_seq[3] == 12);
	CHECK(t->trunc_from[3] == 6 && t->trunc_to[3] == 14);
	CHECK(st(t, 3).last_seq == 13 && st(t, 3).last_term == st(t, 1).term);
	CHECK(st(t, 3).commit_seq == 13);
out:
	tc_free(t);
	return test_failed;
}
