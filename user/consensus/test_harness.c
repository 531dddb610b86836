// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests of the consensus core: the in-memory cluster the tests drive.
 */
#include "test_consensus.h"

int test_failed;

struct gr_conf mkconf(int voters, int learners)
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

struct tc *tc_new(int n, int voters, void (*tweak)(struct gr_config *))
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

void tc_free(struct tc *t)
{
	int i;

	if (!t)
		return;
	for (i = 1; i <= t->n; i++)
		gr_node_free(t->nd[i]);
	free(t->q);
	free(t);
}

struct gr_status st(struct tc *t, int i)
{
	struct gr_status s;

	gr_status(t->nd[i], &s);
	return s;
}

void tc_process(struct tc *t, int i)
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
void tc_deliver(struct tc *t)
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

void tc_tick_one(struct tc *t, int i)
{
	gr_tick(t->nd[i], t->now);
	tc_process(t, i);
}

/* advance time by k ticks on every live site, delivering as we go */
void tc_run(struct tc *t, int k)
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
bool tc_elect(struct tc *t, int i)
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

int leaders(struct tc *t)
{
	int i, c = 0;

	for (i = 1; i <= t->n; i++)
		c += !t->down[i] && st(t, i).role == GR_LEADER;
	return c;
}

void isolate(struct tc *t, int i, bool on)
{
	int j;

	for (j = 1; j <= t->n; j++)
		t->cut[i][j] = t->cut[j][i] = on && i != j;
}

int64_t propose(struct tc *t, int i, uint32_t bytes)
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

void tc_replace(struct tc *t, int i, uint64_t term, uint64_t commit,
		const uint64_t *terms, int n)
{
	gr_node_free(t->nd[i]);
	t->nd[i] = node_from(&t->cfg[i], term, 0, commit, terms, n, t->now);
}
