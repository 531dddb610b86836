/* SPDX-License-Identifier: GPL-2.0 */
/*
 * georep consensus core, private header shared by its parts (see
 * include/georep/consensus.h and Documentation/consensus.rst). Pure state
 * machine: no I/O, no clock, allocation only in gr_node_new().
 *
 * Deliberately broken variants for the simulator's self-test are compiled
 * from wrapper files that define one of:
 *   GR_BROKEN_MINORITY_COMMIT	commit once a minority holds an entry
 *   GR_BROKEN_NO_LEASE		no lease at all: the leader keeps writing after
 *				its lease expired and voters make no promise
 *   GR_BROKEN_VOTE_ANY_LOG	grant votes without the up-to-date check
 *   GR_BROKEN_FIG8		commit entries of older terms by counting
 *   GR_BROKEN_NO_VOTE_PROMISE	followers vote while a leader's lease holds
 *   GR_BROKEN_SELF_UNDURABLE	the leader counts its own entries before
 *				they are durable
 *   GR_BROKEN_VOTE_UNSAVED	a vote without a term change is not flagged
 *				in hs_changed (not persisted before the reply)
 *   GR_BROKEN_PERSIST_ANY_TERM	gr_persisted() ignores the term, so a
 *				truncation overtaken by a pending fsync counts
 *				the new entries durable
 *   GR_BROKEN_PROMISE_APPEND_ONLY	the vote promise runs from the last APPEND
 *				only, while heartbeat acks renew the lease
 *   GR_BROKEN_STALE_PREVOTE_TERM	a late granted pre-vote raises the term
 *				(the real bug the disruption check found)
 *   GR_BROKEN_CONF_TRUNCATE_KEPT	a truncated configuration entry stays
 *				in force
 *   GR_BROKEN_CONF_OVERLAP	a change is accepted while another one is
 *				uncommitted
 *   GR_BROKEN_PREVOTE_BUMPS_TERM	a pre-candidate raises its own term
 *   GR_BROKEN_HB_COMMIT_UNCAPPED	heartbeats carry the leader's commit, not
 *				capped at the follower's match
 *   GR_BROKEN_STALE_PROGRESS	a new leader keeps each follower's match
 *				from its previous leadership
 */
#ifndef GEOREP_CONSENSUS_CORE_H
#define GEOREP_CONSENSUS_CORE_H

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "georep/consensus.h"

struct progress {
	uint32_t site;
	bool voter;
	uint8_t state;
	bool probe_sent;
	bool active;		/* heard from since the last tick */
	uint64_t active_tick;	/* last tick it was heard from */
	bool granted, responded;
	uint64_t match, next;
	uint64_t hb_match;	/* match at the previous heartbeat reply */
	bool in_transit;	/* gr_set_in_transit(): APPENDs still on the way */
	uint64_t ack_ctx;	/* latest echoed leader send time */
	uint64_t resync_seq;
	uint32_t infl_head, infl_count;
	uint64_t infl_bytes;
	uint64_t infl_records;
	uint64_t infl_last[GR_MAX_INFLIGHT];
	uint64_t infl_size[GR_MAX_INFLIGHT];
	uint32_t infl_recs[GR_MAX_INFLIGHT];
};

struct conf_hist {
	uint64_t seq;
	struct gr_conf conf;
};

struct gr_node {
	struct gr_config cfg;
	uint32_t self;
	enum gr_role role;
	uint64_t term;
	uint32_t vote, leader;
	uint64_t commit, applied, durable, last, snap_seq, snap_term;
	uint64_t verified;	/* follower: matches the current leader */
	struct gr_entry *ring;
	uint64_t mask;

	struct gr_conf conf_base;	/* committed configuration */
	struct conf_hist hist[GR_CONF_HIST];
	uint32_t n_hist;
	struct gr_conf conf;		/* active: latest in the log */

	uint32_t election_elapsed, heartbeat_elapsed, rand_timeout;
	uint64_t ticks;
	uint64_t now;
	uint64_t last_heard;	/* vote promise: no other leader before
				 * last_heard + election_ns */
	uint64_t election_ns, lease_ns;
	uint64_t rng;

	struct progress pr[GR_MAX_SITES];
	uint32_t n_pr;

	uint64_t noop_seq;
	uint64_t lease_until;
	bool writable;
	uint32_t transfer_to, transfer_elapsed;
	bool timeout_now_sent;
	uint64_t uncommitted_bytes;
	uint64_t ack;
	bool need_bcast;
	uint64_t leader_ctx;	/* follower: ctx for a deferred reply */

	struct gr_ready rd;
	struct gr_hard_state hs_saved;
	enum gr_role rd_role;
	uint64_t rd_term;
	uint32_t rd_leader;
};
/* ---- helpers --------------------------------------------------------- */

static inline uint64_t rnd(struct gr_node *n)
{
	/* splitmix64 */
	uint64_t z = (n->rng += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static inline struct gr_entry *ent(const struct gr_node *n, uint64_t seq)
{
	return &n->ring[seq & n->mask];
}

/* term of seq; false when unknown (compacted or beyond last) */
static inline bool term_at(const struct gr_node *n, uint64_t seq, uint64_t *t)
{
	if (seq == n->snap_seq) {
		*t = n->snap_term;
		return true;
	}
	if (seq < n->snap_seq || seq > n->last)
		return false;
	*t = ent(n, seq)->term;
	return true;
}

static inline uint64_t last_term(const struct gr_node *n)
{
	uint64_t t = 0;

	term_at(n, n->last, &t);
	return t;
}

static inline int conf_find(const struct gr_conf *c, uint32_t site)
{
	uint32_t i;

	for (i = 0; i < c->n; i++)
		if (c->site[i] == site)
			return (int)i;
	return -1;
}

static inline void conf_apply(struct gr_conf *c, uint8_t op, uint32_t site)
{
	int i = conf_find(c, site);

	switch (op) {
	case GR_CONF_ADD_LEARNER:
	case GR_CONF_PROMOTE:
		if (i < 0) {
			if (c->n >= GR_MAX_SITES)
				return;
			i = (int)c->n++;
			c->site[i] = site;
		}
		c->voter[i] = op == GR_CONF_PROMOTE;
		break;
	case GR_CONF_REMOVE:
		if (i < 0)
			return;
		c->n--;
		c->site[i] = c->site[c->n];
		c->voter[i] = c->voter[c->n];
		break;
	}
}

static inline uint32_t n_voters(const struct gr_conf *c)
{
	uint32_t i, v = 0;

	for (i = 0; i < c->n; i++)
		v += c->voter[i] != 0;
	return v;
}

static inline uint32_t quorum(const struct gr_node *n)
{
	uint32_t v = n_voters(&n->conf);
#ifdef GR_BROKEN_MINORITY_COMMIT
	return v / 2 > 0 ? v / 2 : 1;
#else
	return v / 2 + 1;
#endif
}

static inline bool self_voter(const struct gr_node *n)
{
	int i = conf_find(&n->conf, n->self);

	return i >= 0 && n->conf.voter[i];
}

static inline struct progress *pr_get(struct gr_node *n, uint32_t site)
{
	uint32_t i;

	for (i = 0; i < n->n_pr; i++)
		if (n->pr[i].site == site)
			return &n->pr[i];
	return NULL;
}

static inline void infl_clear(struct progress *p)
{
	p->infl_head = p->infl_count = 0;
	p->infl_bytes = 0;
	p->infl_records = 0;
}

static inline void pr_reset(struct gr_node *n, struct progress *p)
{
	memset(p->infl_last, 0, sizeof(p->infl_last));
	p->state = GR_PR_PROBE;
	p->probe_sent = false;
	infl_clear(p);
	p->match = 0;
	p->next = n->last + 1;
	p->active = false;
	p->ack_ctx = 0;
	p->granted = p->responded = false;
}

/* rebuild the progress array for the active configuration, keeping state */
static inline void pr_sync_conf(struct gr_node *n)
{
	struct progress old[GR_MAX_SITES];
	uint32_t i, n_old = n->n_pr;

	memcpy(old, n->pr, sizeof(old));
	n->n_pr = 0;
	for (i = 0; i < n->conf.n; i++) {
		struct progress *p = &n->pr[n->n_pr++];
		uint32_t j;
		bool found = false;

		for (j = 0; j < n_old; j++) {
			if (old[j].site == n->conf.site[i]) {
				*p = old[j];
				found = true;
				break;
			}
		}
		if (!found) {
			memset(p, 0, sizeof(*p));
			p->site = n->conf.site[i];
			pr_reset(n, p);
			if (p->site == n->self)
				p->match = n->durable;
		}
		p->voter = n->conf.voter[i];
	}
}

static inline struct gr_msg *msg_new(struct gr_node *n, uint8_t type, uint32_t to)
{
	struct gr_msg *m;

	if (n->rd.n_msgs >= GR_MAX_MSGS)
		return NULL;
	m = &n->rd.msgs[n->rd.n_msgs++];
	memset(m, 0, sizeof(*m));
	m->type = type;
	m->from = n->self;
	m->to = to;
	m->term = n->term;
	return m;
}

static inline void rd_append(struct gr_node *n, uint64_t from, uint64_t to)
{
	if (!n->rd.append_from)
		n->rd.append_from = from;
	n->rd.append_to = to;
}

static inline void set_writable(struct gr_node *n)
{
	bool w = n->role == GR_LEADER && !n->transfer_to &&
		 n->commit >= n->noop_seq && self_voter(n);

#ifndef GR_BROKEN_NO_LEASE
	if (n->cfg.check_quorum && n->now >= n->lease_until)
		w = false;
#endif
	if (w == n->writable)
		return;
	n->writable = w;
	n->rd.writable_changed = true;
	n->rd.writable = w;
	n->rd.writable_since_ns = n->now;
}

static inline void reset_timeout(struct gr_node *n)
{
	uint32_t e = n->cfg.election_ticks;

	n->election_elapsed = 0;
	n->rand_timeout = e + (uint32_t)(rnd(n) % e);
}

static inline bool in_lease(const struct gr_node *n)
{
	if (!n->cfg.check_quorum)
		return false;
	if (n->role == GR_LEADER)
		return true;
#if defined(GR_BROKEN_NO_VOTE_PROMISE) || defined(GR_BROKEN_NO_LEASE)
	return false;
#endif
	return n->now < n->last_heard + n->election_ns;
}

/* ---- shared between the parts of the core ---------------------------- */

void gr_conf_on_commit(struct gr_node *n);
void gr_conf_recompute(struct gr_node *n);
void gr_log_append(struct gr_node *n, const struct gr_entry *e);
bool gr_log_full(const struct gr_node *n);
void gr_log_truncate(struct gr_node *n, uint64_t from);
void gr_bcast_append(struct gr_node *n);
void gr_become_follower(struct gr_node *n, uint64_t term, uint32_t leader);
void gr_campaign(struct gr_node *n, bool force);
void gr_on_vote_req(struct gr_node *n, const struct gr_msg *m);
void gr_on_vote_resp(struct gr_node *n, const struct gr_msg *m);
void gr_bcast_heartbeat(struct gr_node *n);
void gr_commit_to(struct gr_node *n, uint64_t c);
void gr_leader_on_resp(struct gr_node *n, const struct gr_msg *m);
void gr_maybe_commit(struct gr_node *n);
void gr_send_append(struct gr_node *n, struct progress *p);
void gr_send_timeout_now(struct gr_node *n, struct progress *p);
void gr_set_ack(struct gr_node *n);
void gr_update_lease(struct gr_node *n);
void gr_heard_leader(struct gr_node *n, uint32_t from);
void gr_on_append(struct gr_node *n, const struct gr_msg *m);
void gr_on_heartbeat(struct gr_node *n, const struct gr_msg *m);
void gr_on_resync(struct gr_node *n, const struct gr_msg *m);
void gr_send_append_resp(struct gr_node *n, uint64_t ctx);

#endif /* GEOREP_CONSENSUS_CORE_H */
