// SPDX-License-Identifier: GPL-2.0
/*
 * Deterministic simulation of N georep sites running the consensus core:
 * simulated network (delay, loss, duplication, reordering, asymmetric and
 * full partitions, healing), simulated disks (fsync latency, crash losing
 * what was not fsynced, torn last write), drifting clocks within the bound
 * the lease relies on, restarts, and a proposal workload. Invariants are
 * checked after every event; see Documentation/consensus.rst.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "georep/consensus.h"
#include "sim.h"

#define MAXS		7
#define MAX_LOG		6144
#define MAX_TERMS	65536
#define MS		1000000ULL
#define TICK_NS		(10 * MS)
#define DRIFT_PPM	20000	/* stated bound used by the lease */

struct sent {
	uint64_t term;
	uint32_t bytes;
	uint8_t kind, conf_op;
	uint32_t conf_site;
	uint64_t id;		/* payload identity, 0 for barriers */
};

enum { OP_TRUNC, OP_APPEND, OP_RESET };

struct dop {
	uint8_t type;
	uint64_t seq;		/* TRUNC: new length; RESET: length */
	struct sent e;		/* APPEND: the record; RESET: e.term */
	struct gr_conf conf;	/* RESET: membership at seq */
};

struct smsg {
	struct gr_msg m;
	struct gr_entry ge[64];
	struct sent se[64];
};

struct site {
	uint32_t id;
	bool up;
	uint32_t epoch;
	struct gr_node *node;
	int64_t drift_ppm;
	uint64_t phase;
	uint64_t tickno;
	struct sent *vol, *dur;
	uint64_t vol_len, dur_len;
	struct gr_hard_state hs;
	uint64_t snap_seq, snap_term;
	struct gr_conf snap_conf;
	struct dop *ops;
	uint32_t nops, opcap;
	bool fsync_pending;
	uint32_t fsync_cover;
	uint64_t *prop_id;	/* payload id of proposals by seq */
	uint64_t commit_seen;
	bool writable;
	enum gr_role role;
	uint64_t term;
	uint64_t preserved;	/* truncated records kept aside */
	uint64_t *kept_ids;
	uint64_t n_kept, kept_cap;
	const struct smsg *cur;	/* message being stepped */
};

enum { EV_TICK, EV_MSG, EV_FSYNC, EV_CRASH, EV_RESTART, EV_PART, EV_HEAL,
       EV_PROPOSE, EV_TRANSFER, EV_MEMBER, EV_HEAL_ALL, EV_POLL };

struct ev {
	uint64_t t, order;
	uint8_t type;
	uint32_t site, epoch;
	struct smsg *msg;
};

struct sim {
	struct sim_opts o;
	struct sim_result *r;
	uint64_t rng;
	uint64_t now, order;
	struct ev *heap;
	uint32_t nheap, heapcap;
	uint32_t n;
	struct site s[MAXS];
	bool blocked[MAXS][MAXS];
	uint32_t loss_pm, dup_pm, dmin_us, dmax_us, disk_max_us;
	uint32_t crash_mid_pm;
	enum gr_commit_rule rule;
	struct gr_config cfg;
	struct sent *canon;
	uint64_t canon_len;
	uint32_t *leader_of;
	uint64_t next_id;
	uint64_t fault_end, heal_at, stop_props, deadline;
	bool faults;
	/* acknowledged under the local rule: seq/term/id */
	struct sent *acked;
	uint64_t n_acked, acked_cap;
	uint64_t acked_upto;
	bool failed;
	bool done;
	uint32_t nvoters;
};

static uint64_t rnd(struct sim *S)
{
	uint64_t z = (S->rng += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static uint64_t rr(struct sim *S, uint64_t lo, uint64_t hi)
{
	return lo + (hi > lo ? rnd(S) % (hi - lo + 1) : 0);
}

static bool chance(struct sim *S, uint32_t pm)
{
	return rnd(S) % 1000 < pm;
}

static void trace(struct sim *S, struct site *st, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void trace(struct sim *S, struct site *st, const char *fmt, ...)
{
	va_list ap;

	if (!S->o.trace)
		return;
	fprintf(S->o.trace, "%8llu.%03llu ", (unsigned long long)(S->now / MS),
		(unsigned long long)(S->now / 1000 % 1000));
	if (st)
		fprintf(S->o.trace, "site%u ", st->id);
	else
		fprintf(S->o.trace, "world ");
	va_start(ap, fmt);
	vfprintf(S->o.trace, fmt, ap);
	va_end(ap);
	fputc('\n', S->o.trace);
}

static void fail(struct sim *S, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void fail(struct sim *S, const char *fmt, ...)
{
	va_list ap;

	if (S->failed)
		return;
	S->failed = true;
	S->r->failed = true;
	S->r->fail_ns = S->now;
	va_start(ap, fmt);
	vsnprintf(S->r->why, sizeof(S->r->why), fmt, ap);
	va_end(ap);
	trace(S, NULL, "INVARIANT BROKEN: %s", S->r->why);
}

/* ---- event heap ------------------------------------------------------- */

static bool ev_less(const struct ev *a, const struct ev *b)
{
	return a->t < b->t || (a->t == b->t && a->order < b->order);
}

static void push(struct sim *S, uint64_t t, uint8_t type, uint32_t site,
		 struct smsg *m)
{
	struct ev e = { .t = t, .order = S->order++, .type = type,
			.site = site, .msg = m };
	uint32_t i;

	if (site < MAXS)
		e.epoch = S->s[site].epoch;
	if (S->nheap == S->heapcap) {
		S->heapcap = S->heapcap ? S->heapcap * 2 : 1024;
		S->heap = realloc(S->heap, S->heapcap * sizeof(*S->heap));
		if (!S->heap)
			abort();
	}
	i = S->nheap++;
	while (i && ev_less(&e, &S->heap[(i - 1) / 2])) {
		S->heap[i] = S->heap[(i - 1) / 2];
		i = (i - 1) / 2;
	}
	S->heap[i] = e;
}

static struct ev pop(struct sim *S)
{
	struct ev top = S->heap[0], x = S->heap[--S->nheap];
	uint32_t i = 0;

	for (;;) {
		uint32_t c = 2 * i + 1;

		if (c >= S->nheap)
			break;
		if (c + 1 < S->nheap && ev_less(&S->heap[c + 1], &S->heap[c]))
			c++;
		if (!ev_less(&S->heap[c], &x))
			break;
		S->heap[i] = S->heap[c];
		i = c;
	}
	if (S->nheap)
		S->heap[i] = x;
	return top;
}

/* ---- clocks ----------------------------------------------------------- */

static uint64_t local_ns(struct sim *S, struct site *st)
{
	return (uint64_t)((__int128)S->now * (1000000 + st->drift_ppm) /
			  1000000);
}

/* real time of the site's local tick k */
static uint64_t tick_real(struct site *st, uint64_t k)
{
	uint64_t l = k * TICK_NS + st->phase;

	return (uint64_t)((__int128)l * 1000000 / (1000000 + st->drift_ppm)) + 1;
}

/* ---- disk ------------------------------------------------------------- */

static void op_push(struct site *st, const struct dop *op)
{
	if (st->nops == st->opcap) {
		st->opcap = st->opcap ? st->opcap * 2 : 256;
		st->ops = realloc(st->ops, st->opcap * sizeof(*st->ops));
		if (!st->ops)
			abort();
	}
	st->ops[st->nops++] = *op;
}

static void op_apply(struct sim *S, struct site *st, const struct dop *op)
{
	switch (op->type) {
	case OP_TRUNC:
		if (st->dur_len > op->seq)
			st->dur_len = op->seq;
		break;
	case OP_APPEND:
		if (op->seq != st->dur_len + 1) {
			fail(S, "site%u disk: append of %llu after %llu",
			     st->id, (unsigned long long)op->seq,
			     (unsigned long long)st->dur_len);
			return;
		}
		st->dur[op->seq] = op->e;
		st->dur_len = op->seq;
		break;
	case OP_RESET:	/* atomic: log, snapshot point and membership */
		memcpy(&st->dur[1], &S->canon[1], op->seq * sizeof(struct sent));
		st->dur_len = op->seq;
		st->snap_seq = op->seq;
		st->snap_term = op->e.term;
		st->snap_conf = op->conf;
		break;
	}
}

static void keep(struct site *st, const struct sent *e)
{
	if (st->n_kept == st->kept_cap) {
		st->kept_cap = st->kept_cap ? st->kept_cap * 2 : 64;
		st->kept_ids = realloc(st->kept_ids,
				       st->kept_cap * sizeof(uint64_t));
		if (!st->kept_ids)
			abort();
	}
	st->kept_ids[st->n_kept++] = e->id;
	st->preserved++;
}

/* ---- invariants ------------------------------------------------------- */

static bool same(const struct sent *a, const struct sent *b)
{
	return a->term == b->term && a->id == b->id && a->kind == b->kind &&
	       a->conf_op == b->conf_op && a->conf_site == b->conf_site;
}

static void check_commit(struct sim *S, struct site *st, uint64_t commit)
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

static void check_writers(struct sim *S)
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

static void check_leader(struct sim *S, struct site *st)
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

static void check_flow(struct sim *S, struct site *st)
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
static void check_durable_quorum(struct sim *S)
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

/* ---- network ---------------------------------------------------------- */

static void net_send(struct sim *S, struct site *from, const struct smsg *sm)
{
	uint32_t to = sm->m.to - 1, k, copies = 1;

	if (to >= S->n)
		return;
	if (S->blocked[from->id - 1][to])
		return;
	if (S->faults && chance(S, S->loss_pm))
		return;
	if (S->faults && chance(S, S->dup_pm))
		copies = 2;
	for (k = 0; k < copies; k++) {
		struct smsg *c = malloc(sizeof(*c));
		uint64_t d = rr(S, S->dmin_us, S->dmax_us) * 1000;

		if (!c)
			abort();
		memcpy(c, sm, sizeof(*c));
		push(S, S->now + d, EV_MSG, to, c);
	}
}

static const char *mname(uint8_t t)
{
	static const char *const n[] = { "?", "PREVOTE", "PREVOTE_RESP",
		"VOTE", "VOTE_RESP", "APPEND", "APPEND_RESP", "HEARTBEAT",
		"HEARTBEAT_RESP", "TIMEOUT_NOW", "RESYNC" };

	return t <= GR_MSG_RESYNC ? n[t] : "?";
}

static const char *rname(enum gr_role r)
{
	static const char *const n[] = { "follower", "precandidate",
		"candidate", "leader" };

	return n[r];
}

/* ---- ready processing ------------------------------------------------- */

static void crash(struct sim *S, struct site *st);

static void schedule_fsync(struct sim *S, struct site *st)
{
	if (st->fsync_pending || !st->nops)
		return;
	st->fsync_pending = true;
	st->fsync_cover = st->nops;
	push(S, S->now + rr(S, 50, S->disk_max_us) * 1000, EV_FSYNC,
	     st->id - 1, NULL);
}

static void maybe_compact(struct sim *S, struct site *st)
{
	struct gr_status gs;
	uint64_t to;

	gr_status(st->node, &gs);
	if (gs.applied_seq < gs.snap_seq + 96)
		return;
	to = gs.applied_seq - 24;
	if (to > gs.durable_seq)
		return;
	if (gr_compact(st->node, to))
		return;
	st->snap_seq = to;
	st->snap_term = st->vol[to].term;
	st->snap_conf = *gr_conf_committed(st->node);
	trace(S, st, "compact to %llu", (unsigned long long)to);
}

static void process(struct sim *S, struct site *st)
{
	struct gr_ready *rd = gr_ready_get(st->node);
	int cut = -1;
	bool compact;
	uint64_t q;
	uint32_t i;

	if (S->faults && chance(S, S->crash_mid_pm))
		cut = (int)rr(S, 0, 2);
	if (cut == 0)
		goto crash;
	/* hard state first: written and fsynced before anything else */
	if (rd->hs_changed || rd->hs.commit != st->hs.commit)
		st->hs = rd->hs;

	if (rd->trunc_from) {
		trace(S, st, "truncate %llu..%llu (kept aside)",
		      (unsigned long long)rd->trunc_from,
		      (unsigned long long)rd->trunc_to);
		if (rd->trunc_from <= st->commit_seen)
			fail(S, "site%u truncates committed seq %llu",
			     st->id, (unsigned long long)rd->trunc_from);
		for (q = rd->trunc_from; q <= st->vol_len; q++)
			keep(st, &st->vol[q]);
		S->r->truncations++;
		if (rd->trunc_from <= st->vol_len) {
			struct dop op = { .type = OP_TRUNC,
					  .seq = rd->trunc_from - 1 };

			st->vol_len = rd->trunc_from - 1;
			op_push(st, &op);
		}
	}
	if (rd->resync) {
		struct dop op = { .type = OP_RESET, .seq = rd->resync_seq };

		trace(S, st, "resync from site%u to %llu/%llu",
		      rd->resync_from, (unsigned long long)rd->resync_seq,
		      (unsigned long long)rd->resync_term);
		if (rd->resync_seq > S->canon_len ||
		    S->canon[rd->resync_seq].term != rd->resync_term) {
			fail(S, "resync point %llu/%llu is not committed",
			     (unsigned long long)rd->resync_seq,
			     (unsigned long long)rd->resync_term);
		} else {
			S->r->resyncs++;
			memcpy(&st->vol[1], &S->canon[1],
			       rd->resync_seq * sizeof(struct sent));
			st->vol_len = rd->resync_seq;
			op.e.term = rd->resync_term;
			op.conf = *gr_conf_committed(st->node);
			op_push(st, &op);
		}
	}
	if (rd->append_from) {
		for (q = rd->append_from; q <= rd->append_to; q++) {
			struct gr_entry ge;
			struct sent e;
			struct dop op = { .type = OP_APPEND, .seq = q };

			if (q != st->vol_len + 1 || q >= MAX_LOG) {
				fail(S, "site%u asked to append %llu after %llu",
				     st->id, (unsigned long long)q,
				     (unsigned long long)st->vol_len);
				break;
			}
			if (st->cur && st->cur->m.type == GR_MSG_APPEND &&
			    q > st->cur->m.seq &&
			    q <= st->cur->m.seq + st->cur->m.n_entries) {
				e = st->cur->se[q - st->cur->m.seq - 1];
			} else {
				gr_entry_get(st->node, q, &ge);
				memset(&e, 0, sizeof(e));
				e.term = ge.term;
				e.bytes = ge.bytes;
				e.kind = ge.kind;
				e.conf_op = ge.conf_op;
				e.conf_site = ge.conf_site;
				e.id = ge.kind == GR_ENTRY_DATA ?
				       st->prop_id[q] : 0;
			}
			st->vol[q] = e;
			st->vol_len = q;
			op.e = e;
			op_push(st, &op);
		}
	}
	/* the caller's log must agree with the core's */
	{
		struct gr_status gs;

		gr_status(st->node, &gs);
		if (gs.last_seq != st->vol_len ||
		    (gs.last_seq > gs.snap_seq &&
		     gs.last_term != st->vol[st->vol_len].term))
			fail(S, "site%u core log end %llu/%llu != disk %llu",
			     st->id, (unsigned long long)gs.last_seq,
			     (unsigned long long)gs.last_term,
			     (unsigned long long)st->vol_len);
	}
	schedule_fsync(S, st);
	if (cut == 1)
		goto crash;
	for (i = 0; i < rd->n_msgs; i++) {
		struct gr_msg *m = &rd->msgs[i];
		struct smsg sm;
		uint32_t k;

		if (cut == 2 && i == rd->n_msgs / 2)
			goto crash;
		memset(&sm, 0, sizeof(sm));
		sm.m = *m;
		if (m->type == GR_MSG_APPEND) {
			if (m->n_entries > 64 || m->seq + m->n_entries > st->vol_len) {
				fail(S, "site%u sends %llu+%u beyond its log %llu",
				     st->id, (unsigned long long)m->seq,
				     m->n_entries,
				     (unsigned long long)st->vol_len);
				continue;
			}
			for (k = 0; k < m->n_entries; k++) {
				const struct sent *e = &st->vol[m->seq + 1 + k];

				sm.se[k] = *e;
				sm.ge[k].term = e->term;
				sm.ge[k].bytes = e->bytes;
				sm.ge[k].kind = e->kind;
				sm.ge[k].conf_op = e->conf_op;
				sm.ge[k].conf_site = e->conf_site;
			}
		}
		if (S->o.trace && m->type != GR_MSG_HEARTBEAT &&
		    m->type != GR_MSG_HEARTBEAT_RESP)
			trace(S, st, "send %s to site%u term %llu seq %llu/%llu n %u commit %llu%s",
			      mname(m->type), m->to,
			      (unsigned long long)m->term,
			      (unsigned long long)m->seq,
			      (unsigned long long)m->log_term, m->n_entries,
			      (unsigned long long)m->commit,
			      m->reject ? " reject" : "");
		net_send(S, st, &sm);
	}
	if (rd->role_changed) {
		trace(S, st, "role %s term %llu leader %u", rname(rd->role),
		      (unsigned long long)rd->term, rd->leader);
		st->role = rd->role;
		st->term = rd->term;
		check_leader(S, st);
	}
	if (rd->writable_changed) {
		trace(S, st, "%s writes (term %llu)",
		      rd->writable ? "ACCEPTS" : "stops", (unsigned long long)st->term);
		st->writable = rd->writable;
	}
	if (rd->commit_changed) {
		check_commit(S, st, rd->commit_seq);
		gr_applied(st->node, rd->commit_seq);
	}
	if (rd->ack_changed && S->rule == GR_RULE_LOCAL && st->role == GR_LEADER) {
		for (q = S->acked_upto + 1; q <= rd->ack_seq && q <= st->vol_len; q++) {
			if (st->vol[q].kind != GR_ENTRY_DATA)
				continue;
			if (S->n_acked == S->acked_cap) {
				S->acked_cap = S->acked_cap ? S->acked_cap * 2 : 256;
				S->acked = realloc(S->acked, S->acked_cap * sizeof(*S->acked));
				if (!S->acked)
					abort();
			}
			S->acked[S->n_acked++] = st->vol[q];
		}
		if (rd->ack_seq > S->acked_upto)
			S->acked_upto = rd->ack_seq;
	}
	compact = rd->commit_changed;
	gr_ready_done(st->node);
	if (compact)
		maybe_compact(S, st);
	check_flow(S, st);
	return;
crash:
	gr_ready_done(st->node);
	trace(S, st, "crash in the middle of a ready (stage %d)", cut);
	crash(S, st);
}

/* ---- site lifecycle --------------------------------------------------- */

static void crash(struct sim *S, struct site *st)
{
	uint32_t k, i;

	if (!st->up)
		return;
	k = (uint32_t)rr(S, 0, st->nops);	/* what reached the platter */
	trace(S, st, "CRASH (%u of %u unsynced writes survive)", k, st->nops);
	for (i = 0; i < k; i++)
		op_apply(S, st, &st->ops[i]);
	st->nops = 0;
	st->fsync_pending = false;
	st->up = false;
	st->epoch++;
	st->writable = false;
	st->role = GR_FOLLOWER;
	gr_node_free(st->node);
	st->node = NULL;
	S->r->crashes++;
	check_durable_quorum(S);
}

static void restart(struct sim *S, struct site *st)
{
	struct gr_persisted ps;
	struct gr_entry *ents;
	uint64_t q, n;

	if (st->up)
		return;
	n = st->dur_len > st->snap_seq ? st->dur_len - st->snap_seq : 0;
	ents = calloc(n + 1, sizeof(*ents));
	if (!ents)
		abort();
	for (q = 0; q < n; q++) {
		const struct sent *e = &st->dur[st->snap_seq + 1 + q];

		ents[q].term = e->term;
		ents[q].bytes = e->bytes;
		ents[q].kind = e->kind;
		ents[q].conf_op = e->conf_op;
		ents[q].conf_site = e->conf_site;
	}
	memset(&ps, 0, sizeof(ps));
	ps.hs = st->hs;
	ps.snap_seq = st->snap_seq;
	ps.snap_term = st->snap_term;
	ps.have_conf = st->snap_seq > 0;
	ps.conf = st->snap_conf;
	ps.n_entries = n;
	ps.entries = ents;
	S->cfg.self = st->id;
	S->cfg.seed = S->o.seed * 131 + st->id * 7 + st->epoch;
	st->node = gr_node_new(&S->cfg, &ps, local_ns(S, st));
	free(ents);
	if (!st->node) {
		fail(S, "site%u cannot restart", st->id);
		return;
	}
	memcpy(st->vol, st->dur, (st->dur_len + 1) * sizeof(struct sent));
	st->vol_len = st->dur_len;
	st->up = true;
	st->role = GR_FOLLOWER;
	st->term = st->hs.term;
	st->commit_seen = 0;
	{
		struct gr_status gs;

		gr_status(st->node, &gs);
		st->commit_seen = st->snap_seq;
		check_commit(S, st, gs.commit_seq);
		trace(S, st, "RESTART term %llu vote %u log %llu commit %llu",
		      (unsigned long long)gs.term, gs.vote,
		      (unsigned long long)gs.last_seq,
		      (unsigned long long)gs.commit_seq);
	}
	st->tickno = (local_ns(S, st) - st->phase) / TICK_NS + 1;
	push(S, tick_real(st, st->tickno), EV_TICK, st->id - 1, NULL);
}

/* ---- faults and workload ---------------------------------------------- */

static struct site *pick_leader(struct sim *S)
{
	uint32_t i;

	for (i = 0; i < S->n; i++)
		if (S->s[i].up && S->s[i].role == GR_LEADER)
			return &S->s[i];
	return NULL;
}

static void partition(struct sim *S)
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

static void propose(struct sim *S)
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

static int conf_state(const struct gr_conf *c, uint32_t site)
{
	uint32_t i;

	for (i = 0; i < c->n; i++)
		if (c->site[i] == site)
			return c->voter[i] ? 2 : 1;
	return 0;
}

/* cycle the last site through learner -> voter -> removed -> learner */
static void member(struct sim *S)
{
	struct site *st = pick_leader(S);
	uint32_t x = S->n;
	enum gr_conf_op op;
	int64_t r;

	if (!st)
		return;
	switch (conf_state(gr_conf_active(st->node), x)) {
	case 0:
		op = GR_CONF_ADD_LEARNER;
		break;
	case 1:
		op = GR_CONF_PROMOTE;
		break;
	default:
		if (st->id == x)
			return;
		op = GR_CONF_REMOVE;
		break;
	}
	r = gr_membership(st->node, op, x, local_ns(S, st));
	S->r->conf_changes += r > 0;
	trace(S, st, "membership op %d site%u: %lld", op, x, (long long)r);
	st->cur = NULL;
	process(S, st);
}

static bool converged(struct sim *S)
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

static void final_checks(struct sim *S)
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

/* ---- main loop -------------------------------------------------------- */

static void handle(struct sim *S, struct ev *e)
{
	struct site *st = e->site < MAXS ? &S->s[e->site] : NULL;

	switch (e->type) {
	case EV_TICK:
		if (!st->up || e->epoch != st->epoch)
			return;
		gr_tick(st->node, local_ns(S, st));
		st->cur = NULL;
		process(S, st);
		if (st->up) {
			st->tickno++;
			push(S, tick_real(st, st->tickno), EV_TICK, e->site,
			     NULL);
		}
		return;
	case EV_MSG:
		if (st->up && !(S->faults && S->blocked[e->msg->m.from - 1][e->site])) {
			if (S->o.trace && e->msg->m.type != GR_MSG_HEARTBEAT &&
			    e->msg->m.type != GR_MSG_HEARTBEAT_RESP)
				trace(S, st, "recv %s from site%u term %llu",
				      mname(e->msg->m.type), e->msg->m.from,
				      (unsigned long long)e->msg->m.term);
			e->msg->m.entries = e->msg->ge;
			gr_step(st->node, &e->msg->m, local_ns(S, st));
			st->cur = e->msg;
			process(S, st);
			if (st->up)
				st->cur = NULL;
		}
		free(e->msg);
		return;
	case EV_FSYNC: {
		uint32_t i;

		if (!st->up || e->epoch != st->epoch)
			return;
		for (i = 0; i < st->fsync_cover; i++)
			op_apply(S, st, &st->ops[i]);
		memmove(st->ops, st->ops + st->fsync_cover,
			(st->nops - st->fsync_cover) * sizeof(*st->ops));
		st->nops -= st->fsync_cover;
		st->fsync_pending = false;
		gr_persisted(st->node, st->dur_len, st->dur[st->dur_len].term);
		st->cur = NULL;
		process(S, st);
		if (st->up)
			schedule_fsync(S, st);
		return;
	}
	case EV_CRASH:
		if (S->faults) {
			crash(S, st);
			push(S, S->now + rr(S, 50, 3000) * MS, EV_RESTART,
			     e->site, NULL);
			push(S, S->now + rr(S, 300, 4000) * MS, EV_CRASH,
			     (uint32_t)rr(S, 0, S->n - 1), NULL);
		}
		return;
	case EV_RESTART:
		restart(S, st);
		return;
	case EV_PART:
		if (S->faults) {
			partition(S);
			push(S, S->now + rr(S, 100, 3000) * MS, EV_HEAL,
			     MAXS, NULL);
			push(S, S->now + rr(S, 500, 4000) * MS, EV_PART,
			     MAXS, NULL);
		}
		return;
	case EV_HEAL:
		memset(S->blocked, 0, sizeof(S->blocked));
		trace(S, NULL, "HEAL");
		return;
	case EV_HEAL_ALL: {
		uint32_t i;

		S->faults = false;
		memset(S->blocked, 0, sizeof(S->blocked));
		trace(S, NULL, "FAULTS STOP: heal all, restart all");
		for (i = 0; i < S->n; i++)
			restart(S, &S->s[i]);
		push(S, S->now + 100 * MS, EV_POLL, MAXS, NULL);
		return;
	}
	case EV_PROPOSE:
		if (S->now < S->stop_props) {
			propose(S);
			/* bursts and idle periods (an idle cluster has
			 * equally up-to-date logs: any site can win) */
			push(S, S->now + (chance(S, 50) ? rr(S, 50, 800) :
					  rr(S, 1, 15)) * MS, EV_PROPOSE,
			     MAXS, NULL);
		}
		return;
	case EV_TRANSFER: {
		struct site *l = pick_leader(S);

		if (l && S->now < S->stop_props) {
			const struct gr_conf *c = gr_conf_active(l->node);
			uint32_t to = c->site[rr(S, 0, c->n - 1)];
			int rc = gr_transfer(l->node, to, local_ns(S, l));

			trace(S, l, "transfer to site%u: %d", to, rc);
			S->r->transfers += rc == 0;
			l->cur = NULL;
			process(S, l);
		}
		if (S->faults)
			push(S, S->now + rr(S, 500, 5000) * MS, EV_TRANSFER,
			     MAXS, NULL);
		return;
	}
	case EV_MEMBER:
		if (S->now < S->stop_props) {
			member(S);
			push(S, S->now + rr(S, 200, 2000) * MS, EV_MEMBER,
			     MAXS, NULL);
		}
		return;
	case EV_POLL:
		if (S->now >= S->stop_props && converged(S)) {
			S->r->converge_ns = S->now - S->heal_at;
			final_checks(S);
			S->done = true;
			return;
		}
		if (S->now >= S->deadline) {
			uint32_t i;

			for (i = 0; i < S->n; i++) {
				struct gr_status gs;
				struct gr_progress_info pi;
				struct site *l = pick_leader(S);

				if (!S->s[i].up)
					continue;
				gr_status(S->s[i].node, &gs);
				trace(S, &S->s[i], "status %s term %llu last %llu commit %llu durable %llu snap %llu writable %d",
				      rname(gs.role), (unsigned long long)gs.term,
				      (unsigned long long)gs.last_seq,
				      (unsigned long long)gs.commit_seq,
				      (unsigned long long)gs.durable_seq,
				      (unsigned long long)gs.snap_seq, gs.writable);
				if (l && !gr_progress(l->node, S->s[i].id, &pi))
					trace(S, l, "progress of site%u: state %u match %llu next %llu inflight %u/%llu",
					      S->s[i].id, pi.state,
					      (unsigned long long)pi.match,
					      (unsigned long long)pi.next,
					      pi.inflight_msgs,
					      (unsigned long long)pi.inflight_bytes);
			}
			fail(S, "liveness: no convergence %llu ms after the faults stopped",
			     (unsigned long long)((S->now - S->heal_at) / MS));
			return;
		}
		push(S, S->now + 50 * MS, EV_POLL, MAXS, NULL);
		return;
	}
}

static int setup(struct sim *S)
{
	struct gr_conf conf;
	uint32_t i;

	memset(&conf, 0, sizeof(conf));
	S->nvoters = S->n;
	if (S->o.membership)
		S->nvoters = S->n - 1;	/* site n joins as a learner */
	for (i = 0; i < S->nvoters; i++) {
		conf.site[i] = i + 1;
		conf.voter[i] = 1;
	}
	conf.n = S->nvoters;
	gr_config_default(&S->cfg, 1, &conf);
	S->cfg.rule = S->rule;
	S->cfg.max_drift_ppm = DRIFT_PPM;
	S->cfg.tick_ns = TICK_NS;
	S->cfg.max_inflight_msgs = (uint32_t)rr(S, 1, 8);
	S->cfg.max_inflight_bytes = rr(S, 64, 512) * 1024;
	S->cfg.max_inflight_records = (uint32_t)rr(S, 4, 256);
	S->cfg.max_msg_entries = (uint32_t)rr(S, 1, 64);
	S->cfg.max_msg_bytes = rr(S, 32, 256) * 1024;
	S->cfg.max_uncommitted_bytes = rr(S, 256, 2048) * 1024;
	S->cfg.log_capacity = 512;
	S->cfg.pre_vote = chance(S, 800);
	S->canon = calloc(MAX_LOG + 1, sizeof(*S->canon));
	S->leader_of = calloc(MAX_TERMS, sizeof(*S->leader_of));
	if (!S->canon || !S->leader_of)
		return -1;
	for (i = 0; i < S->n; i++) {
		struct site *st = &S->s[i];

		st->id = i + 1;
		st->drift_ppm = (int64_t)rr(S, 0, 2 * DRIFT_PPM) - DRIFT_PPM;
		st->phase = rr(S, 0, TICK_NS - 1);
		st->vol = calloc(MAX_LOG + 1, sizeof(*st->vol));
		st->dur = calloc(MAX_LOG + 1, sizeof(*st->dur));
		st->prop_id = calloc(MAX_LOG + 1, sizeof(*st->prop_id));
		if (!st->vol || !st->dur || !st->prop_id)
			return -1;
		if (S->o.membership && i == S->n - 1) {
			/* joins later: boots with an empty configuration */
			st->snap_conf.n = 0;
		}
		restart(S, st);
		if (S->o.membership && i == S->n - 1) {
			/* a new site knows nothing: it must not campaign */
		}
	}
	return 0;
}

int sim_run(const struct sim_opts *o, struct sim_result *r)
{
	struct sim *S = calloc(1, sizeof(*S));
	uint32_t i;
	int ret = 0;

	if (!S)
		return -1;
	memset(r, 0, sizeof(*r));
	S->o = *o;
	S->r = r;
	S->n = o->nsites;
	S->rng = o->seed * 0x2545f4914f6cdd1dULL + o->nsites;
	if (S->n < 1 || S->n > MAXS)
		return -1;
	S->rule = chance(S, 300) ? GR_RULE_LOCAL : GR_RULE_QUORUM;
	S->loss_pm = (uint32_t)rr(S, 0, 100);
	S->dup_pm = (uint32_t)rr(S, 0, 50);
	S->dmin_us = (uint32_t)rr(S, 100, 2000);
	S->dmax_us = S->dmin_us + (uint32_t)rr(S, 0, 30000);
	S->disk_max_us = (uint32_t)rr(S, 100, 8000);
	S->crash_mid_pm = (uint32_t)rr(S, 0, 5);
	S->faults = true;
	if (setup(S)) {
		ret = -1;
		goto out;
	}
	trace(S, NULL, "seed %llu sites %u rule %s loss %u%% dup %u%% delay %u-%u us pre_vote %d inflight %u/%llu",
	      (unsigned long long)o->seed, S->n,
	      S->rule == GR_RULE_LOCAL ? "local" : "quorum", S->loss_pm / 10,
	      S->dup_pm / 10, S->dmin_us, S->dmax_us, S->cfg.pre_vote,
	      S->cfg.max_inflight_msgs,
	      (unsigned long long)S->cfg.max_inflight_bytes);
	S->fault_end = rr(S, 3000, 10000) * MS;
	S->heal_at = S->fault_end;
	S->stop_props = S->fault_end + 1000 * MS;
	S->deadline = S->stop_props + 10000 * MS;
	push(S, rr(S, 200, 2000) * MS, EV_CRASH, (uint32_t)rr(S, 0, S->n - 1),
	     NULL);
	push(S, rr(S, 200, 2000) * MS, EV_PART, MAXS, NULL);
	push(S, 300 * MS, EV_PROPOSE, MAXS, NULL);
	push(S, rr(S, 500, 3000) * MS, EV_TRANSFER, MAXS, NULL);
	if (o->membership)
		push(S, rr(S, 500, 2000) * MS, EV_MEMBER, MAXS, NULL);
	push(S, S->fault_end, EV_HEAL_ALL, MAXS, NULL);
	while (S->nheap && !S->failed && !S->done) {
		struct ev e = pop(S);

		S->now = e.t;
		r->events++;
		handle(S, &e);
		if (e.type != EV_MSG || !S->failed)
			check_writers(S);
	}
	if (!S->failed && !S->done)
		fail(S, "simulation ran out of events");
out:
	while (S->nheap) {
		struct ev e = pop(S);

		free(e.msg);
	}
	free(S->heap);
	for (i = 0; i < S->n; i++) {
		struct site *st = &S->s[i];

		gr_node_free(st->node);
		free(st->vol);
		free(st->dur);
		free(st->ops);
		free(st->prop_id);
		free(st->kept_ids);
	}
	free(S->canon);
	free(S->leader_of);
	free(S->acked);
	free(S);
	return ret ? ret : (r->failed ? 1 : 0);
}
