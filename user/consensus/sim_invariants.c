// SPDX-License-Identifier: GPL-2.0
/*
 * Consensus simulator: invariants checked after every event and at the end.
 */
#include "sim_internal.h"

/* ---- invariants ------------------------------------------------------- */

static bool same(const struct sent *a, const struct sent *b)
{
	return a->term == b->term && a->id == b->id && a->kind == b->kind &&
	       a->conf_op == b->conf_op && a->conf_site == b->conf_site;
}

/* ---- durability of promises, lease margin, disruption, membership ----- */

static void cs_apply(uint8_t *cs, const struct sent *e)
{
	if (e->kind != GR_ENTRY_CONF || !e->conf_site || e->conf_site > MAXS)
		return;
	cs[e->conf_site] = e->conf_op == GR_CONF_ADD_LEARNER ? 1 :
			   e->conf_op == GR_CONF_PROMOTE ? 2 : 0;
}

/* sites that are voters in cs and hold canon record q fsynced */
static void durable_count(struct sim *S, const uint8_t *cs, uint64_t q,
			  uint32_t *holders, uint32_t *voters)
{
	uint32_t i;

	*holders = *voters = 0;
	for (i = 0; i < S->n; i++) {
		struct site *st = &S->s[i];

		if (cs[st->id] != 2)
			continue;
		(*voters)++;
		if (q <= st->dur_len && same(&st->dur[q], &S->canon[q]))
			(*holders)++;
	}
}

static void check_commit_durable(struct sim *S, struct site *st, uint64_t q);

void check_commit(struct sim *S, struct site *st, uint64_t commit)
{
	uint64_t q;

	if (commit > st->vol_len) {
		fail(S, "site%u commit %llu beyond its log %llu", st->id,
		     (unsigned long long)commit,
		     (unsigned long long)st->vol_len);
		return;
	}
	for (q = st->commit_seen + 1; q <= commit; q++) {
		if (q <= st->snap_seq)
			continue;
		if (q > S->canon_len) {
			if (q != S->canon_len + 1) {
				fail(S, "canon gap at %llu",
				     (unsigned long long)q);
				return;
			}
			S->canon[q] = st->vol[q];
			S->canon_len = q;
			S->r->commits++;
			cs_apply(S->canon_cs, &S->canon[q]);
		} else if (!same(&S->canon[q], &st->vol[q])) {
			fail(S, "log matching: site%u committed seq %llu term %llu id %llu but seq %llu was committed as term %llu id %llu",
			     st->id, (unsigned long long)q,
			     (unsigned long long)st->vol[q].term,
			     (unsigned long long)st->vol[q].id,
			     (unsigned long long)q,
			     (unsigned long long)S->canon[q].term,
			     (unsigned long long)S->canon[q].id);
			return;
		}
		if (st->role == GR_LEADER && st->node)
			check_commit_durable(S, st, q);
	}
	if (commit > st->commit_seen)
		st->commit_seen = commit;
}

void check_writers(struct sim *S)
{
	uint32_t i, w = 0, a = 0, b = 0;

	for (i = 0; i < S->n; i++) {
		if (S->s[i].up && S->s[i].writable) {
			if (!w++)
				a = S->s[i].id;
			else
				b = S->s[i].id;
		}
	}
	if (w > 1)
		fail(S, "two primaries accept writes at once: site%u and site%u",
		     a, b);
}

void check_leader(struct sim *S, struct site *st)
{
	if (st->role != GR_LEADER)
		return;
	if (st->term >= MAX_TERMS) {
		fail(S, "term %llu out of simulator range",
		     (unsigned long long)st->term);
		return;
	}
	if (S->leader_of[st->term] && S->leader_of[st->term] != st->id)
		fail(S, "two leaders in term %llu: site%u and site%u",
		     (unsigned long long)st->term, S->leader_of[st->term],
		     st->id);
	if (!S->leader_of[st->term]) {
		S->r->elections++;
		check_lease_margin(S, st);
	}
	S->leader_of[st->term] = st->id;
	if (st->term > S->r->max_term)
		S->r->max_term = st->term;
}

void check_flow(struct sim *S, struct site *st)
{
	struct gr_progress_info pi;
	uint32_t i;

	if (st->role != GR_LEADER)
		return;
	for (i = 0; i < S->n; i++) {
		if (gr_progress(st->node, S->s[i].id, &pi) || S->s[i].id == st->id)
			continue;
		if (pi.inflight_msgs > S->cfg.max_inflight_msgs)
			fail(S, "flow: site%u has %u messages in flight to site%u",
			     st->id, pi.inflight_msgs, S->s[i].id);
		if (pi.inflight_records > S->cfg.max_inflight_records)
			fail(S, "flow: site%u has %llu records in flight to site%u",
			     st->id, (unsigned long long)pi.inflight_records,
			     S->s[i].id);
		if (pi.inflight_bytes > S->cfg.max_inflight_bytes &&
		    pi.inflight_msgs > 1)
			fail(S, "flow: site%u has %llu bytes in flight to site%u",
			     st->id, (unsigned long long)pi.inflight_bytes,
			     S->s[i].id);
	}
}

/* after a crash: no majority of the committed configuration's voters
 * lacks a committed record (a leader may have counted it in a configuration
 * one site larger or smaller, whose majorities all meet this one's) */
void check_durable_quorum(struct sim *S)
{
	uint64_t q;
	uint32_t h, v;

	for (q = 1; q <= S->canon_len; q++) {
		durable_count(S, S->canon_cs, q, &h, &v);
		if (h < v - v / 2) {
			fail(S, "committed seq %llu is fsynced on %u of %u voters only: a majority lacks it",
			     (unsigned long long)q, h, v);
			return;
		}
	}
}

bool converged(struct sim *S)
{
	struct site *l = pick_leader(S);
	struct gr_status ls, gs;
	uint32_t i;

	if (!l || !l->writable)
		return false;
	gr_status(l->node, &ls);
	if (ls.commit_seq != ls.last_seq)
		return false;
	for (i = 0; i < S->n; i++) {
		struct site *st = &S->s[i];

		if (!conf_state(gr_conf_active(l->node), st->id))
			continue;
		if (!st->up)
			return false;
		gr_status(st->node, &gs);
		if (gs.last_seq != ls.last_seq || gs.commit_seq != ls.last_seq ||
		    gs.term != ls.term)
			return false;
	}
	return true;
}

void final_checks(struct sim *S)
{
	uint64_t a, q;
	uint32_t i, j;

	/* every committed record of every site is in the canon log */
	for (i = 0; i < S->n; i++) {
		struct site *st = &S->s[i];

		if (!st->up)
			continue;
		for (q = st->snap_seq + 1; q <= st->commit_seen; q++)
			if (!same(&st->vol[q], &S->canon[q])) {
				fail(S, "site%u final log differs at %llu",
				     st->id, (unsigned long long)q);
				return;
			}
	}
	/* local rule: an acknowledged record is committed, was kept, or is
	 * still in a site's log (a site removed from the configuration is
	 * never truncated) */
	for (a = 0; a < S->n_acked; a++) {
		const struct sent *e = &S->acked[a];
		bool found = false;

		for (q = 1; q <= S->canon_len && !found; q++)
			found = S->canon[q].id == e->id;
		for (i = 0; i < S->n && !found; i++)
			for (j = 0; j < S->s[i].n_kept && !found; j++)
				found = S->s[i].kept_ids[j] == e->id;
		for (i = 0; i < S->n && !found; i++)
			for (q = 1; q <= S->s[i].dur_len && !found; q++)
				found = S->s[i].dur[q].id == e->id;
		if (!found) {
			fail(S, "acknowledged record id %llu term %llu lost without being kept",
			     (unsigned long long)e->id,
			     (unsigned long long)e->term);
			return;
		}
	}
}

/* a leader's commit advance: q is fsynced on a majority of its voters */
static void check_commit_durable(struct sim *S, struct site *st, uint64_t q)
{
	const struct gr_conf *c = gr_conf_active(st->node);
	uint8_t cs[MAXS + 1] = { 0 };
	uint32_t i, h, v;

	for (i = 0; i < c->n; i++)
		if (c->site[i] <= MAXS)
			cs[c->site[i]] = c->voter[i] ? 2 : 1;
	durable_count(S, cs, q, &h, &v);
	if (h < v / 2 + 1)
		fail(S, "commit durability: leader site%u commits seq %llu while it is fsynced on %u of %u voters",
		     st->id, (unsigned long long)q, h, v);
}

/* what a message promises is on disk when it leaves */
void check_reply(struct sim *S, struct site *st, const struct gr_msg *m)
{
	bool pre = m->type == GR_MSG_PREVOTE || m->type == GR_MSG_PREVOTE_RESP;
	uint64_t q, lo;

	if (!pre && m->term > st->hs.term) {
		fail(S, "reply durability: site%u sends %s in term %llu, its disk holds term %llu",
		     st->id, mname(m->type), (unsigned long long)m->term,
		     (unsigned long long)st->hs.term);
		return;
	}
	if (m->type == GR_MSG_VOTE_RESP && !m->reject &&
	    (st->hs.term != m->term || st->hs.vote != m->to)) {
		fail(S, "reply durability: site%u grants its vote to site%u in term %llu, its disk holds term %llu vote %u",
		     st->id, m->to, (unsigned long long)m->term,
		     (unsigned long long)st->hs.term, st->hs.vote);
		return;
	}
	if (m->type != GR_MSG_APPEND_RESP || m->reject)
		return;
	if (m->seq > st->dur_len) {
		fail(S, "reply durability: site%u acks seq %llu in term %llu, only %llu is fsynced",
		     st->id, (unsigned long long)m->seq,
		     (unsigned long long)m->term,
		     (unsigned long long)st->dur_len);
		return;
	}
	lo = m->seq > 64 ? m->seq - 64 : 0;
	for (q = m->seq; q > lo; q--) {
		if (same(&st->dur[q], &st->vol[q]))
			continue;
		fail(S, "reply durability: site%u acks seq %llu in term %llu, but fsynced seq %llu has term %llu and its log term %llu",
		     st->id, (unsigned long long)m->seq,
		     (unsigned long long)m->term, (unsigned long long)q,
		     (unsigned long long)st->dur[q].term,
		     (unsigned long long)st->vol[q].term);
		return;
	}
}

/* a new leader: no other site may still hold a lease by its own clock,
 * plus the tick it may take to notice expiry, unless it is transferring */
void check_lease_margin(struct sim *S, struct site *nl)
{
	struct gr_status gs;
	uint32_t i;

	for (i = 0; i < S->n; i++) {
		struct site *o = &S->s[i];
		uint64_t now;

		if (o == nl || !o->up || o->role != GR_LEADER)
			continue;
		gr_status(o->node, &gs);
		now = local_ns(S, o);
		if (gs.transfer_to || gs.lease_until_ns + TICK_NS <= now)
			continue;
		fail(S, "lease margin: site%u elected in term %llu while site%u (term %llu) holds its lease %llu us more (plus one tick)",
		     nl->id, (unsigned long long)nl->term, o->id,
		     (unsigned long long)o->term,
		     (unsigned long long)((gs.lease_until_ns + TICK_NS - now) / 1000));
		return;
	}
}

static bool isolated(struct sim *S, struct site *st)
{
	uint32_t i;

	for (i = 0; i < S->n; i++)
		if (i != st->id - 1 && (!S->blocked[i][st->id - 1] ||
					!S->blocked[st->id - 1][i]))
			return false;
	return true;
}

/* with pre-vote: a site raises its term only through messages (a
 * pre-vote majority or TIMEOUT_NOW), and a leader holding its lease is
 * never deposed by a term nobody campaigned for (a rejoining site that
 * raised its term on its own); a concurrent candidate that won its
 * pre-votes before the lease began may depose it */
void check_disruption(struct sim *S, struct site *st,
		      const struct gr_ready *rd)
{
	const struct gr_conf *c = gr_conf_active(st->node);
	struct gr_status gs;
	uint32_t i, v = 0;

	if (!S->cfg.pre_vote)
		return;
	for (i = 0; i < c->n; i++)
		v += c->voter[i] != 0;
	if (rd->term > st->term && !st->cur && v > 1) {
		fail(S, "term disruption: site%u raises its term %llu -> %llu without a message (pre-vote on, %s)",
		     st->id, (unsigned long long)st->term,
		     (unsigned long long)rd->term,
		     isolated(S, st) ? "isolated" : "connected");
		return;
	}
	if (st->role != GR_LEADER || rd->role == GR_LEADER || !st->cur ||
	    st->cur->m.term <= st->term || st->xfer ||
	    st->cur->m.term >= MAX_TERMS || S->campaigned[st->cur->m.term])
		return;
	gr_status(st->node, &gs);
	if (gs.lease_until_ns > local_ns(S, st))
		fail(S, "leader disruption: leader site%u (term %llu, lease held %llu us more) deposed by %s from site%u in term %llu",
		     st->id, (unsigned long long)st->term,
		     (unsigned long long)((gs.lease_until_ns - local_ns(S, st)) / 1000),
		     mname(st->cur->m.type), st->cur->m.from,
		     (unsigned long long)st->cur->m.term);
}

/* membership: a site's active configuration is the one its own log
 * gives, and a leader's log holds at most one uncommitted change */
void check_conf_log(struct sim *S, struct site *st)
{
	const struct gr_conf *c = gr_conf_active(st->node);
	uint8_t cs[MAXS + 1];
	struct gr_status gs;
	uint32_t i, pending = 0;
	uint64_t q;

	gr_status(st->node, &gs);
	if (gs.role == GR_LEADER) {
		for (q = gs.commit_seq + 1; q <= st->vol_len; q++)
			pending += st->vol[q].kind == GR_ENTRY_CONF;
		if (pending > 1) {
			fail(S, "membership overlap: leader site%u has %u uncommitted configuration changes",
			     st->id, pending);
			return;
		}
	}
	/* after a resync or a restart the core may hold the configuration
	 * committed beyond the end of its log: compare once caught up */
	if (st->vol_len < st->conf_live)
		return;
	memcpy(cs, S->cs0, sizeof(cs));
	for (q = 1; q <= st->vol_len; q++)
		cs_apply(cs, &st->vol[q]);
	for (i = 1; i <= S->n; i++) {
		if (conf_state(c, i) == cs[i])
			continue;
		fail(S, "membership log: site%u's active configuration has site%u as %d, its log up to %llu says %d",
		     st->id, i, conf_state(c, i),
		     (unsigned long long)st->vol_len, cs[i]);
		return;
	}
}
