// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests of the consensus core, one per rule of the Raft paper
 * (Ongaro & Ousterhout 2014, Figure 2/8) and dissertation (pre-vote,
 * check-quorum, leases, transfer, single-server membership), plus flow
 * control and resync. KTAP output.
 */
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

static int test_failed;

#define CHECK(c) do { \
	if (!(c)) { \
		printf("    # %s:%d: check failed: %s\n", __FILE__, __LINE__, #c); \
		test_failed = 1; \
		goto out; \
	} \
} while (0)

static struct gr_conf mkconf(int voters, int learners)
{
	struct gr_conf c = { 0 };
	int i;

	for (i = 0; i < voters + learners; i++) {
		c.site[i] = i + 1;
		c.voter[i] = i < voters;
	}
	c.n = voters + learners;
	return c;
}

static void tc_process(struct tc *t, int i);

static struct tc *tc_new(int n, int voters, void (*tweak)(struct gr_config *))
{
	struct tc *t = calloc(1, sizeof(*t));
	struct gr_conf c = mkconf(voters, n - voters);
	int i;

	t->q = calloc(QCAP, sizeof(*t->q));
	t->n = n;
	t->hs_before_vote_resp_ok = true;
	for (i = 1; i <= n; i++) {
		gr_config_default(&t->cfg[i], i, &c);
		t->cfg[i].seed = 1000 + i;
		if (tweak)
			tweak(&t->cfg[i]);
		t->nd[i] = gr_node_new(&t->cfg[i], NULL, 0);
	}
	return t;
}

static void tc_free(struct tc *t)
{
	int i;

	if (!t)
		return;
	for (i = 1; i <= t->n; i++)
		gr_node_free(t->nd[i]);
	free(t->q);
	free(t);
}

static struct gr_status st(struct tc *t, int i)
{
	struct gr_status s;

	gr_status(t->nd[i], &s);
	return s;
}

static void tc_process(struct tc *t, int i)
{
	struct gr_ready *rd = gr_ready_get(t->nd[i]);
	struct gr_status s;
	uint32_t k, j;

	if (rd->trunc_from) {
		t->trunc_from[i] = rd->trunc_from;
		t->trunc_to[i] = rd->trunc_to;
	}
	if (rd->resync) {
		t->resync[i] = true;
		t->resync_seq[i] = rd->resync_seq;
	}
	if (rd->writable_changed) {
		int j, w = 0;

		t->writable[i] = rd->writable;
		t->writable_since[i] = rd->writable_since_ns;
		for (j = 1; j <= t->n; j++)
			w += t->writable[j] && !t->down[j];
		if (w > 1)
			t->two_writers = true;
	}
	t->ack[i] = rd->ack_seq;
	for (k = 0; k < rd->n_msgs; k++) {
		struct tq *m;

		t->sent[i][rd->msgs[k].type]++;
		if (rd->msgs[k].type == GR_MSG_VOTE_RESP &&
		    !rd->msgs[k].reject &&
		    (!rd->hs.vote || rd->hs.term != rd->msgs[k].term))
			t->hs_before_vote_resp_ok = false;
		if (t->cut[i][rd->msgs[k].to] || t->qn == QCAP ||
		    (t->drop_from[i] >> rd->msgs[k].type & 1) ||
		    (t->drop_to[rd->msgs[k].to] >> rd->msgs[k].type & 1) ||
		    (t->drop_link[i][rd->msgs[k].to] >> rd->msgs[k].type & 1))
			continue;
		m = &t->q[(t->qh + t->qn++) % QCAP];
		m->m = rd->msgs[k];
		for (j = 0; j < m->m.n_entries; j++)
			gr_entry_get(t->nd[i], m->m.seq + 1 + j, &m->e[j]);
		m->m.entries = m->e;
	}
	gr_ready_done(t->nd[i]);
	s = st(t, i);
	if (!t->manual_persist[i] && s.durable_seq < s.last_seq) {
		gr_persisted(t->nd[i], s.last_seq, s.last_term);
		tc_process(t, i);
	}
	if (s.commit_seq > s.applied_seq)
		gr_applied(t->nd[i], s.commit_seq);
}

/* deliver queued messages (FIFO) until none is left */
static void tc_deliver(struct tc *t)
{
	int guard = 100000;

	while (t->qn && guard--) {
		struct tq m = t->q[t->qh];

		t->qh = (t->qh + 1) % QCAP;
		t->qn--;
		if (t->down[m.m.to] || t->cut[m.m.from][m.m.to])
			continue;
		m.m.entries = m.e;
		gr_step(t->nd[m.m.to], &m.m, t->now);
		tc_process(t, (int)m.m.to);
	}
}

static void tc_tick_one(struct tc *t, int i)
{
	gr_tick(t->nd[i], t->now);
	tc_process(t, i);
}

/* advance time by k ticks on every live site, delivering as we go */
static void tc_run(struct tc *t, int k)
{
	int i;

	while (k--) {
		t->now += TICK;
		for (i = 1; i <= t->n; i++)
			if (!t->down[i])
				tc_tick_one(t, i);
		tc_deliver(t);
	}
}

/* let site i time out alone until it leads (others do not tick) */
static bool tc_elect(struct tc *t, int i)
{
	int k;

	for (k = 0; k < 200; k++) {
		t->now += TICK;
		tc_tick_one(t, i);
		tc_deliver(t);
		if (st(t, i).role == GR_LEADER) {
			/* one heartbeat round for the lease */
			tc_run(t, 3);
			return st(t, i).role == GR_LEADER;
		}
	}
	return false;
}

static int leaders(struct tc *t)
{
	int i, c = 0;

	for (i = 1; i <= t->n; i++)
		c += !t->down[i] && st(t, i).role == GR_LEADER;
	return c;
}

static void isolate(struct tc *t, int i, bool on)
{
	int j;

	for (j = 1; j <= t->n; j++)
		t->cut[i][j] = t->cut[j][i] = on && i != j;
}

static int64_t propose(struct tc *t, int i, uint32_t bytes)
{
	int64_t r = gr_propose(t->nd[i], bytes, t->now);

	tc_process(t, i);
	return r;
}

/* a site restarted from a handmade disk state */
static struct gr_node *node_from(struct gr_config *cfg, uint64_t term,
				 uint32_t vote, uint64_t commit,
				 const uint64_t *terms, int n, uint64_t now)
{
	struct gr_entry e[64];
	struct gr_persisted p;
	int i;

	memset(&p, 0, sizeof(p));
	memset(e, 0, sizeof(e));
	for (i = 0; i < n; i++) {
		e[i].term = terms[i];
		e[i].bytes = 100;
	}
	p.hs.term = term;
	p.hs.vote = vote;
	p.hs.commit = commit;
	p.n_entries = (uint64_t)n;
	p.entries = e;
	return gr_node_new(cfg, &p, now);
}

static void tc_replace(struct tc *t, int i, uint64_t term, uint64_t commit,
		       const uint64_t *terms, int n)
{
	gr_node_free(t->nd[i]);
	t->nd[i] = node_from(&t->cfg[i], term, 0, commit, terms, n, t->now);
}

/* ---- election (Raft §5.2) -------------------------------------------- */

static int t_election_one_leader(void)
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

static int t_election_timeout_randomized(void)
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

static int t_vote_persisted_before_reply(void)
{
	struct tc *t = tc_new(3, 3, NULL);

	CHECK(tc_elect(t, 1));
	CHECK(t->sent[2][GR_MSG_VOTE_RESP] + t->sent[3][GR_MSG_VOTE_RESP] > 0);
	CHECK(t->hs_before_vote_resp_ok);
out:
	tc_free(t);
	return test_failed;
}

static int t_one_vote_per_term(void)
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
static int t_vote_requires_uptodate_log(void)
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

static int t_higher_term_steps_down(void)
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

static int t_single_site_cluster(void)
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

static int t_prevote_partitioned_no_term_bump(void)
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

static void no_prevote(struct gr_config *c)
{
	c->pre_vote = false;
}

/* without pre-vote a rejoining site has a higher term; check-quorum's
 * vote promise still keeps the healthy majority from electing it */
static int t_checkquorum_ignores_disruptive_votes(void)
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

static int t_checkquorum_leader_steps_down(void)
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

/* ---- lease ------------------------------------------------------------ */

static int t_lease_needs_majority_ack(void)
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
static int t_lease_expires_before_new_primary(void)
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
static int t_lease_partial_partition(void)
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

static int t_restart_keeps_vote_promise(void)
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

/* ---- log replication (§5.3) ------------------------------------------- */

static int t_noop_on_election(void)
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

static int t_replicate_and_commit(void)
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
static int t_conflict_hint(void)
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

static int t_truncation_never_touches_committed(void)
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

static int t_figure8(void)
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
static int t_leader_counts_itself_after_durable(void)
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

static int t_follower_acks_after_durable(void)
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

static int t_local_rule_acks_on_local_durability(void)
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

static int t_quorum_rule_acks_on_commit(void)
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

static int t_catch_up_restarted_follower(void)
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
static int t_heartbeat_carries_commit(void)
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

static int t_append_validation(void)
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

/* ---- flow control ----------------------------------------------------- */

static void small_window(struct gr_config *c)
{
	c->max_msg_entries = 4;
	c->max_inflight_msgs = 3;
	c->max_inflight_bytes = 1 << 20;
	c->max_uncommitted_bytes = 100000;
}

static int t_flow_inflight_window(void)
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

static void record_window(struct gr_config *c)
{
	c->max_msg_entries = 4;
	c->max_inflight_msgs = 10;
	c->max_inflight_records = 6;
}

static int t_flow_inflight_records(void)
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

static int t_flow_probe_after_reject(void)
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

static int t_backpressure_uncommitted_cap(void)
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

static int t_resync_when_behind_retained_log(void)
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
static int t_resync_when_divergence_below_retained_log(void)
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

/* ---- leadership transfer (dissertation §3.10) ------------------------- */

static int t_transfer(void)
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

static int t_transfer_timeout(void)
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
static int t_transfer_lost_timeout_now_steps_down(void)
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

static int t_membership_learner_promote_remove(void)
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
static int t_membership_waits_for_own_term_commit(void)
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
static int t_membership_truncated_conf_reverts(void)
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

static int t_learner_never_campaigns(void)
{
	struct tc *t = tc_new(3, 2, one_voter_learner);

	isolate(t, 3, true);
	tc_run(t, 200);
	CHECK(st(t, 3).role == GR_FOLLOWER && st(t, 3).term == 0);
out:
	tc_free(t);
	return test_failed;
}

struct test {
	const char *name;
	int (*fn)(void);
};

static const struct test tests[] = {
	{ "election_one_leader_per_term", t_election_one_leader },
	{ "election_timeout_randomized_in_E_2E", t_election_timeout_randomized },
	{ "vote_persisted_before_reply", t_vote_persisted_before_reply },
	{ "one_vote_per_term", t_one_vote_per_term },
	{ "vote_requires_uptodate_log", t_vote_requires_uptodate_log },
	{ "higher_term_steps_down", t_higher_term_steps_down },
	{ "single_site_cluster", t_single_site_cluster },
	{ "prevote_partitioned_site_no_term_bump", t_prevote_partitioned_no_term_bump },
	{ "checkquorum_ignores_disruptive_votes", t_checkquorum_ignores_disruptive_votes },
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
	{ "append_validation", t_append_validation },
	{ "flow_inflight_window", t_flow_inflight_window },
	{ "flow_inflight_records", t_flow_inflight_records },
	{ "flow_probe_after_reject", t_flow_probe_after_reject },
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
