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
			continue;
		}
		if (!same(&S->canon[q], &st->vol[q])) {
			fail(S, "log matching: site%u committed seq %llu term %llu id %llu but seq %llu was committed as term %llu id %llu",
			     st->id, (unsigned long long)q,
			     (unsigned long long)st->vol[q].term,
			     (unsigned long long)st->vol[q].id,
			     (unsigned long long)q,
			     (unsigned long long)S->canon[q].term,
			     (unsigned long long)S->canon[q].id);
			return;
		}
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
	if (!S->leader_of[st->term])
		S->r->elections++;
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

/* durable copies of every committed record on a majority (no membership) */
void check_durable_quorum(struct sim *S)
{
	uint64_t q;
	uint32_t i, need = S->nvoters / 2 + 1;

	if (S->o.membership)
		return;
	for (q = 1; q <= S->canon_len; q++) {
		uint32_t c = 0;

		for (i = 0; i < S->n; i++) {
			struct site *st = &S->s[i];

			if (q <= st->dur_len && same(&st->dur[q], &S->canon[q]))
				c++;
		}
		if (c < need) {
			fail(S, "committed seq %llu is durable on %u sites only",
			     (unsigned long long)q, c);
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
	/* local rule: an acknowledged record is committed or was kept */
	for (a = 0; a < S->n_acked; a++) {
		const struct sent *e = &S->acked[a];
		bool found = false;

		for (q = 1; q <= S->canon_len && !found; q++)
			found = S->canon[q].id == e->id;
		for (i = 0; i < S->n && !found; i++)
			for (j = 0; j < S->s[i].n_kept && !found; j++)
				found = S->s[i].kept_ids[j] == e->id;
		if (!found) {
			fail(S, "acknowledged record id %llu term %llu lost without being kept",
			     (unsigned long long)e->id,
			     (unsigned long long)e->term);
			return;
		}
	}
}
