// SPDX-License-Identifier: GPL-2.0
/*
 * Consensus simulator: faults (partitions) and the proposal and membership workload.
 */
#include "sim_internal.h"

/* ---- faults and workload ---------------------------------------------- */

struct site *pick_leader(struct sim *S)
{
	uint32_t i;

	for (i = 0; i < S->n; i++)
		if (S->s[i].up && S->s[i].role == GR_LEADER)
			return &S->s[i];
	return NULL;
}

void partition(struct sim *S)
{
	uint32_t i, j, kind = (uint32_t)rr(S, 0, 3);

	memset(S->blocked, 0, sizeof(S->blocked));
	if (kind == 0) {		/* full split into two sides */
		uint32_t side = (uint32_t)rnd(S);

		for (i = 0; i < S->n; i++)
			for (j = 0; j < S->n; j++)
				S->blocked[i][j] = ((side >> i) & 1) !=
						   ((side >> j) & 1);
	} else if (kind == 1) {		/* isolate one site */
		uint32_t v = (uint32_t)rr(S, 0, S->n - 1);

		for (i = 0; i < S->n; i++)
			S->blocked[i][v] = S->blocked[v][i] = i != v;
	} else if (kind == 3) {		/* one link down, often the leader's */
		struct site *l = pick_leader(S);
		uint32_t a = l && chance(S, 700) ? l->id - 1 :
			     (uint32_t)rr(S, 0, S->n - 1);
		uint32_t b = (a + (uint32_t)rr(S, 1, S->n - 1)) % S->n;

		S->blocked[a][b] = S->blocked[b][a] = true;
	} else {			/* random one-way links */
		for (i = 0; i < S->n; i++)
			for (j = 0; j < S->n; j++)
				S->blocked[i][j] = i != j && chance(S, 300);
	}
	trace(S, NULL, "PARTITION kind %u", kind);
	S->r->partitions++;
}

void propose(struct sim *S)
{
	struct site *st = pick_leader(S);
	uint32_t bytes = (uint32_t)rr(S, 64, 64 * 1024);
	uint64_t unc = 0, q;
	struct gr_status gs;
	int64_t seq;

	if (!st) {
		st = &S->s[rr(S, 0, S->n - 1)];
		if (!st->up)
			return;
	}
	gr_status(st->node, &gs);
	if (gs.last_seq + 8 >= MAX_LOG)
		return;
	if (st->role == GR_LEADER) {
		for (q = gs.commit_seq + 1; q <= st->vol_len; q++)
			unc += st->vol[q].bytes;
		if (unc != gs.uncommitted_bytes)
			fail(S, "site%u uncommitted bytes %llu, log holds %llu",
			     st->id, (unsigned long long)gs.uncommitted_bytes,
			     (unsigned long long)unc);
	}
	seq = gr_propose(st->node, bytes, local_ns(S, st));
	if (seq == -EAGAIN && st->role == GR_LEADER && st->writable)
		S->r->backpressure++;
	if (seq > 0) {
		if (unc && unc + bytes > S->cfg.max_uncommitted_bytes)
			fail(S, "flow: site%u accepted a proposal over the uncommitted cap",
			     st->id);
		if (!st->writable && st->role == GR_LEADER) {
			/* the core's own view must agree it was writable */
			gr_status(st->node, &gs);
			if (!gs.writable)
				fail(S, "site%u accepted a write while not writable",
				     st->id);
		}
		st->prop_id[seq] = ++S->next_id;
	}
	st->cur = NULL;
	process(S, st);
}

int conf_state(const struct gr_conf *c, uint32_t site)
{
	uint32_t i;

	for (i = 0; i < c->n; i++)
		if (c->site[i] == site)
			return c->voter[i] ? 2 : 1;
	return 0;
}

static uint32_t voters_of(const struct gr_conf *c)
{
	uint32_t i, v = 0;

	for (i = 0; i < c->n; i++)
		v += c->voter[i] != 0;
	return v;
}

/*
 * Overlapping change requests for random sites: one to three requests in a
 * row (the core must refuse all but one with -EBUSY until it commits),
 * adding, promoting and removing any site but the leader, keeping at least
 * a majority of the cluster's sites voters so that it stays live.
 */
void member(struct sim *S)
{
	struct site *st = pick_leader(S);
	uint32_t k, reqs = (uint32_t)rr(S, 1, 3);

	if (!st)
		return;
	for (k = 0; k < reqs; k++) {
		const struct gr_conf *c = gr_conf_active(st->node);
		uint32_t x = (uint32_t)rr(S, 1, S->n);
		enum gr_conf_op op;
		int64_t r;

		switch (conf_state(c, x)) {
		case 0:
			op = GR_CONF_ADD_LEARNER;
			break;
		case 1:
			op = chance(S, 700) ? GR_CONF_PROMOTE : GR_CONF_REMOVE;
			break;
		default:
			if (x == st->id || voters_of(c) <= S->n / 2 + 1)
				continue;
			op = GR_CONF_REMOVE;
			break;
		}
		r = gr_membership(st->node, op, x, local_ns(S, st));
		S->r->conf_changes += r > 0;
		trace(S, st, "membership op %d site%u: %lld", op, x,
		      (long long)r);
	}
	st->cur = NULL;
	process(S, st);
}
