// SPDX-License-Identifier: GPL-2.0
/*
 * georep consensus core (see include/georep/consensus.h and
 * Documentation/consensus.rst). Pure state machine: no I/O, no clock,
 * allocation only in gr_node_new().
 *
 * Deliberately broken variants for the simulator's self-test are compiled
 * from wrapper files that define one of:
 *   GR_BROKEN_MINORITY_COMMIT	commit once a minority holds an entry
 *   GR_BROKEN_NO_LEASE		no lease at all: the leader keeps writing after
 *				its lease expired and voters make no promise
 *   GR_BROKEN_VOTE_ANY_LOG	grant votes without the up-to-date check
 *   GR_BROKEN_FIG8		commit entries of older terms by counting
 *   GR_BROKEN_NO_VOTE_PROMISE	followers vote while a leader's lease holds
 */
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

static uint64_t rnd(struct gr_node *n)
{
	/* splitmix64 */
	uint64_t z = (n->rng += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static struct gr_entry *ent(const struct gr_node *n, uint64_t seq)
{
	return &n->ring[seq & n->mask];
}

/* term of seq; false when unknown (compacted or beyond last) */
static bool term_at(const struct gr_node *n, uint64_t seq, uint64_t *t)
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

static uint64_t last_term(const struct gr_node *n)
{
	uint64_t t = 0;

	term_at(n, n->last, &t);
	return t;
}

static int conf_find(const struct gr_conf *c, uint32_t site)
{
	uint32_t i;

	for (i = 0; i < c->n; i++)
		if (c->site[i] == site)
			return (int)i;
	return -1;
}

static void conf_apply(struct gr_conf *c, uint8_t op, uint32_t site)
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

static uint32_t n_voters(const struct gr_conf *c)
{
	uint32_t i, v = 0;

	for (i = 0; i < c->n; i++)
		v += c->voter[i] != 0;
	return v;
}

static uint32_t quorum(const struct gr_node *n)
{
	uint32_t v = n_voters(&n->conf);
#ifdef GR_BROKEN_MINORITY_COMMIT
	return v / 2 > 0 ? v / 2 : 1;
#else
	return v / 2 + 1;
#endif
}

static bool self_voter(const struct gr_node *n)
{
	int i = conf_find(&n->conf, n->self);

	return i >= 0 && n->conf.voter[i];
}

static struct progress *pr_get(struct gr_node *n, uint32_t site)
{
	uint32_t i;

	for (i = 0; i < n->n_pr; i++)
		if (n->pr[i].site == site)
			return &n->pr[i];
	return NULL;
}

static void infl_clear(struct progress *p)
{
	p->infl_head = p->infl_count = 0;
	p->infl_bytes = 0;
	p->infl_records = 0;
}

static void pr_reset(struct gr_node *n, struct progress *p)
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
static void pr_sync_conf(struct gr_node *n)
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

static struct gr_msg *msg_new(struct gr_node *n, uint8_t type, uint32_t to)
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

static void rd_append(struct gr_node *n, uint64_t from, uint64_t to)
{
	if (!n->rd.append_from)
		n->rd.append_from = from;
	n->rd.append_to = to;
}

static void set_writable(struct gr_node *n)
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

static void reset_timeout(struct gr_node *n)
{
	uint32_t e = n->cfg.election_ticks;

	n->election_elapsed = 0;
	n->rand_timeout = e + (uint32_t)(rnd(n) % e);
}

static bool in_lease(const struct gr_node *n)
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

/* ---- configuration history ------------------------------------------- */

static void conf_recompute(struct gr_node *n)
{
	n->conf = n->n_hist ? n->hist[n->n_hist - 1].conf : n->conf_base;
	pr_sync_conf(n);
}

static void conf_on_append(struct gr_node *n, uint64_t seq,
			   const struct gr_entry *e)
{
	struct gr_conf c;

	if (e->kind != GR_ENTRY_CONF)
		return;
	c = n->n_hist ? n->hist[n->n_hist - 1].conf : n->conf_base;
	conf_apply(&c, e->conf_op, e->conf_site);
	if (n->n_hist == GR_CONF_HIST) {
		/* oldest must be committed by now: fold it */
		n->conf_base = n->hist[0].conf;
		memmove(&n->hist[0], &n->hist[1],
			sizeof(n->hist[0]) * (GR_CONF_HIST - 1));
		n->n_hist--;
	}
	n->hist[n->n_hist].seq = seq;
	n->hist[n->n_hist].conf = c;
	n->n_hist++;
	conf_recompute(n);
}

static void conf_on_truncate(struct gr_node *n, uint64_t from)
{
	uint32_t k = n->n_hist;

	while (n->n_hist && n->hist[n->n_hist - 1].seq >= from)
		n->n_hist--;
	if (k != n->n_hist)
		conf_recompute(n);
}

static void conf_on_commit(struct gr_node *n)
{
	uint32_t k = 0;

	while (k < n->n_hist && n->hist[k].seq <= n->commit)
		k++;
	if (!k)
		return;
	n->conf_base = n->hist[k - 1].conf;
	memmove(&n->hist[0], &n->hist[k], sizeof(n->hist[0]) * (n->n_hist - k));
	n->n_hist -= k;
}

/* ---- log ------------------------------------------------------------- */

static bool log_full(const struct gr_node *n)
{
	return n->last - n->snap_seq >= n->mask + 1;
}

static void log_append(struct gr_node *n, const struct gr_entry *e)
{
	uint64_t seq = ++n->last;

	*ent(n, seq) = *e;
	if (n->role == GR_LEADER)
		n->uncommitted_bytes += e->bytes;
	conf_on_append(n, seq, e);
}

static void log_truncate(struct gr_node *n, uint64_t from)
{
	uint64_t s;

	if (from > n->last)
		return;
	if (!n->rd.trunc_from || from < n->rd.trunc_from)
		n->rd.trunc_from = from;
	if (n->rd.trunc_to < n->last)
		n->rd.trunc_to = n->last;
	/* appends of this ready that are gone now are no longer to write */
	if (n->rd.append_from && n->rd.append_from >= from) {
		n->rd.append_from = n->rd.append_to = 0;
	} else if (n->rd.append_from && n->rd.append_to >= from) {
		n->rd.append_to = from - 1;
	}
	if (n->role == GR_LEADER)
		for (s = from; s <= n->last; s++)
			n->uncommitted_bytes -= ent(n, s)->bytes;
	n->last = from - 1;
	if (n->durable > n->last)
		n->durable = n->last;
	if (n->verified > n->last)
		n->verified = n->last;
	conf_on_truncate(n, from);
}

/* ---- role changes ---------------------------------------------------- */

static void become_follower(struct gr_node *n, uint64_t term, uint32_t leader)
{
	if (n->role == GR_LEADER)
		n->last_heard = n->now;	/* keep the lease promise */
	if (term != n->term) {
		n->term = term;
		n->vote = 0;
	}
	if (leader != n->leader)
		n->verified = 0;
	n->role = GR_FOLLOWER;
	n->leader = leader;
	n->transfer_to = 0;
	n->timeout_now_sent = false;
	n->uncommitted_bytes = 0;
	reset_timeout(n);
	set_writable(n);
}

static void count_self_vote(struct gr_node *n)
{
	uint32_t i;

	for (i = 0; i < n->n_pr; i++) {
		n->pr[i].granted = n->pr[i].site == n->self;
		n->pr[i].responded = n->pr[i].granted;
	}
}

static int poll_votes(struct gr_node *n)
{
	uint32_t i, yes = 0, no = 0, q = n_voters(&n->conf) / 2 + 1;

	for (i = 0; i < n->n_pr; i++) {
		if (!n->pr[i].voter || !n->pr[i].responded)
			continue;
		if (n->pr[i].granted)
			yes++;
		else
			no++;
	}
	if (yes >= q)
		return 1;
	if (no >= q)
		return -1;
	return 0;
}

static void become_leader(struct gr_node *n);

static void send_votes(struct gr_node *n, uint8_t type, uint64_t term,
		       bool force)
{
	uint32_t i;

	for (i = 0; i < n->n_pr; i++) {
		struct gr_msg *m;

		if (!n->pr[i].voter || n->pr[i].site == n->self)
			continue;
		m = msg_new(n, type, n->pr[i].site);
		if (!m)
			return;
		m->term = term;
		m->seq = n->last;
		m->log_term = last_term(n);
		m->force = force;
	}
}

static void become_candidate(struct gr_node *n, bool force)
{
	n->role = GR_CANDIDATE;
	n->term++;
	n->vote = n->self;
	n->leader = 0;
	n->verified = 0;
	reset_timeout(n);
	count_self_vote(n);
	if (poll_votes(n) > 0) {
		become_leader(n);
		return;
	}
	send_votes(n, GR_MSG_VOTE, n->term, force);
}

static void become_precandidate(struct gr_node *n)
{
	n->role = GR_PRECANDIDATE;
	n->leader = 0;
	n->verified = 0;
	reset_timeout(n);
	count_self_vote(n);
	if (poll_votes(n) > 0) {
		become_candidate(n, false);
		return;
	}
	send_votes(n, GR_MSG_PREVOTE, n->term + 1, false);
}

static void campaign(struct gr_node *n, bool force)
{
	if (!self_voter(n))
		return;
	if (!force && in_lease(n)) {
		reset_timeout(n);
		return;
	}
	if (n->cfg.pre_vote && !force)
		become_precandidate(n);
	else
		become_candidate(n, force);
}

static void send_append(struct gr_node *n, struct progress *p);

static void bcast_append(struct gr_node *n)
{
	uint32_t i;

	for (i = 0; i < n->n_pr; i++)
		if (n->pr[i].site != n->self)
			send_append(n, &n->pr[i]);
	n->need_bcast = false;
}

static void become_leader(struct gr_node *n)
{
	struct gr_entry noop = { .term = n->term, .kind = GR_ENTRY_NOOP };
	uint32_t i;
	uint64_t s;

	n->role = GR_LEADER;
	n->leader = n->self;
	n->heartbeat_elapsed = 0;
	n->election_elapsed = 0;
	n->lease_until = 0;
	n->transfer_to = 0;
	n->timeout_now_sent = false;
	for (i = 0; i < n->n_pr; i++) {
		pr_reset(n, &n->pr[i]);
		n->pr[i].active_tick = n->ticks;
		if (n->pr[i].site == n->self) {
			n->pr[i].match = n->durable;
			n->pr[i].active = true;
		}
	}
	n->uncommitted_bytes = 0;
	for (s = n->commit + 1; s <= n->last; s++)
		n->uncommitted_bytes += ent(n, s)->bytes;
	if (log_full(n)) {
		/* cannot even append the barrier: give up leadership */
		become_follower(n, n->term, 0);
		return;
	}
	log_append(n, &noop);
	n->noop_seq = n->last;
	rd_append(n, n->last, n->last);
	bcast_append(n);
}

/* ---- leader: replication --------------------------------------------- */

static void infl_free_to(struct progress *p, uint64_t seq)
{
	while (p->infl_count && p->infl_last[p->infl_head] <= seq) {
		p->infl_bytes -= p->infl_size[p->infl_head];
		p->infl_records -= p->infl_recs[p->infl_head];
		p->infl_head = (p->infl_head + 1) % GR_MAX_INFLIGHT;
		p->infl_count--;
	}
}

static void send_resync(struct gr_node *n, struct progress *p)
{
	struct gr_msg *m = msg_new(n, GR_MSG_RESYNC, p->site);

	if (!m)
		return;
	p->state = GR_PR_RESYNC;
	p->resync_seq = n->snap_seq;
	infl_clear(p);
	m->seq = n->snap_seq;
	m->log_term = n->snap_term;
	m->commit = n->commit;
	m->ctx = n->now;
	m->conf = n->conf_base;
}

static void send_append(struct gr_node *n, struct progress *p)
{
	for (;;) {
		uint64_t prev = p->next - 1, prev_term, bytes = 0, s;
		uint32_t cnt = 0;
		struct gr_msg *m;

		if (p->state == GR_PR_RESYNC)
			return;
		if (p->state == GR_PR_PROBE && p->probe_sent)
			return;
		if (p->state == GR_PR_REPLICATE &&
		    (p->infl_count >= n->cfg.max_inflight_msgs ||
		     p->infl_bytes >= n->cfg.max_inflight_bytes ||
		     p->infl_records >= n->cfg.max_inflight_records))
			return;
		if (!term_at(n, prev, &prev_term)) {
			if (prev < n->snap_seq)
				send_resync(n, p);
			return;
		}
		if (p->state == GR_PR_REPLICATE && p->next > n->last)
			return;
		for (s = p->next; s <= n->last; s++) {
			uint64_t b = ent(n, s)->bytes;

			if (cnt >= n->cfg.max_msg_entries)
				break;
			if (p->state == GR_PR_REPLICATE &&
			    p->infl_records + cnt >= n->cfg.max_inflight_records)
				break;
			if (cnt && bytes + b > n->cfg.max_msg_bytes)
				break;
			if (p->state == GR_PR_REPLICATE &&
			    (cnt || p->infl_count) &&
			    p->infl_bytes + bytes + b >
			    n->cfg.max_inflight_bytes)
				break;
			bytes += b;
			cnt++;
		}
		if (!cnt && p->state == GR_PR_REPLICATE)
			return;
		m = msg_new(n, GR_MSG_APPEND, p->site);
		if (!m)
			return;
		m->seq = prev;
		m->log_term = prev_term;
		m->commit = n->commit;
		m->ctx = n->now;
		m->n_entries = cnt;
		m->bytes = bytes;
		if (p->state == GR_PR_PROBE) {
			p->probe_sent = true;
			return;
		}
		p->next += cnt;
		p->infl_last[(p->infl_head + p->infl_count) % GR_MAX_INFLIGHT] =
			p->next - 1;
		p->infl_size[(p->infl_head + p->infl_count) % GR_MAX_INFLIGHT] =
			bytes;
		p->infl_recs[(p->infl_head + p->infl_count) % GR_MAX_INFLIGHT] =
			cnt;
		p->infl_records += cnt;
		p->infl_count++;
		p->infl_bytes += bytes;
	}
}

static void set_ack(struct gr_node *n)
{
	uint64_t a = 0;

	if (n->role == GR_LEADER)
		a = n->cfg.rule == GR_RULE_LOCAL ? n->durable : n->commit;
	if (a != n->ack) {
		n->ack = a;
		n->rd.ack_changed = true;
		n->rd.ack_seq = a;
	}
}

static void commit_to(struct gr_node *n, uint64_t c)
{
	uint64_t s;

	if (c <= n->commit)
		return;
	if (n->role == GR_LEADER)
		for (s = n->commit + 1; s <= c; s++)
			n->uncommitted_bytes -= ent(n, s)->bytes;
	n->commit = c;
	n->rd.commit_changed = true;
	n->rd.commit_seq = c;
	conf_on_commit(n);
	set_ack(n);
	set_writable(n);
}

static int cmp_desc(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? 1 : x > y ? -1 : 0;
}

/* q-th largest of a per-voter value */
static uint64_t voter_quantile(struct gr_node *n, bool ctx)
{
	uint64_t v[GR_MAX_SITES];
	uint32_t i, k = 0, q = quorum(n);

	for (i = 0; i < n->n_pr; i++) {
		struct progress *p = &n->pr[i];

		if (!p->voter)
			continue;
		if (p->site == n->self)
			v[k++] = ctx ? n->now : n->durable;
		else
			v[k++] = ctx ? p->ack_ctx : p->match;
	}
	if (k < q || !q)
		return 0;
	qsort(v, k, sizeof(v[0]), cmp_desc);
	return v[q - 1];
}

static void maybe_commit(struct gr_node *n)
{
	uint64_t c = voter_quantile(n, false), t;

	/* only entries of the current term commit by counting (Fig. 8) */
#ifdef GR_BROKEN_FIG8
	(void)t;
	if (c > n->commit && c <= n->last)
#else
	if (c > n->commit && term_at(n, c, &t) && t == n->term)
#endif
		commit_to(n, c);
}

static void update_lease(struct gr_node *n)
{
	uint64_t anchor;

	if (!n->cfg.check_quorum)
		return;
	anchor = voter_quantile(n, true);
	if (anchor && anchor + n->lease_ns > n->lease_until)
		n->lease_until = anchor + n->lease_ns;
	set_writable(n);
}

static void send_timeout_now(struct gr_node *n, struct progress *p)
{
	if (msg_new(n, GR_MSG_TIMEOUT_NOW, p->site))
		n->timeout_now_sent = true;
}

static void bcast_heartbeat(struct gr_node *n)
{
	uint32_t i;

	for (i = 0; i < n->n_pr; i++) {
		struct progress *p = &n->pr[i];
		struct gr_msg *m;

		if (p->site == n->self)
			continue;
		m = msg_new(n, GR_MSG_HEARTBEAT, p->site);
		if (!m)
			return;
		m->commit = p->match < n->commit ? p->match : n->commit;
		m->ctx = n->now;
	}
}

static void leader_on_resp(struct gr_node *n, const struct gr_msg *m)
{
	struct progress *p = pr_get(n, m->from);
	uint64_t t;

	if (!p || p->site == n->self)
		return;
	p->active = true;
	if (m->ctx > p->ack_ctx) {
		p->ack_ctx = m->ctx;
		update_lease(n);
	}
	if (m->type == GR_MSG_HEARTBEAT_RESP) {
		p->probe_sent = false;
		if (p->state == GR_PR_RESYNC) {
			send_resync(n, p);	/* idempotent at the follower */
			return;
		}
		/* no progress over a heartbeat round while behind: an APPEND
		 * was lost, probe again from the match point */
		if (p->state == GR_PR_REPLICATE && p->match < n->last &&
		    p->match == p->hb_match) {
			p->state = GR_PR_PROBE;
			p->next = p->match + 1;
			infl_clear(p);
		}
		p->hb_match = p->match;
		if (p->match < n->last || p->state == GR_PR_PROBE)
			send_append(n, p);
		return;
	}
	if (m->reject) {
		uint64_t next;

		if (p->state == GR_PR_REPLICATE && m->seq <= p->match)
			return;
		if (p->state == GR_PR_PROBE && m->seq != p->next - 1)
			return;
		if (p->state == GR_PR_RESYNC)
			return;
		/* largest seq <= hint_seq whose term is <= hint_term */
		next = m->hint_seq < n->last ? m->hint_seq : n->last;
		while (next > n->snap_seq && term_at(n, next, &t) &&
		       t > m->hint_term)
			next--;
		if (next == n->snap_seq && n->snap_seq &&
		    n->snap_term > m->hint_term) {
			/* the divergence is below what we retain */
			p->next = n->snap_seq;
			p->state = GR_PR_PROBE;
			p->probe_sent = false;
			send_append(n, p);	/* sends RESYNC */
			return;
		}
		next++;
		if (next <= p->match)
			next = p->match + 1;
		p->next = next;
		p->state = GR_PR_PROBE;
		p->probe_sent = false;
		infl_clear(p);
		send_append(n, p);
		return;
	}
	if (m->seq > n->last)
		return;	/* cannot happen in the same term */
	if (m->seq > p->match) {
		p->match = m->seq;
		maybe_commit(n);
	}
	if (p->next < p->match + 1)
		p->next = p->match + 1;
	infl_free_to(p, p->match);
	if (p->state == GR_PR_RESYNC && p->match >= p->resync_seq) {
		p->state = GR_PR_PROBE;
		p->next = p->match + 1;
	}
	if (p->state == GR_PR_PROBE && p->match + 1 >= p->next) {
		/* the probe found the match point: pipeline from here */
		p->state = GR_PR_REPLICATE;
		p->next = p->match + 1;
		infl_clear(p);
		p->probe_sent = false;
	}
	if (n->transfer_to == p->site && p->match == n->last &&
	    !n->timeout_now_sent)
		send_timeout_now(n, p);
	send_append(n, p);
}

/* ---- follower -------------------------------------------------------- */

static void send_append_resp(struct gr_node *n, uint64_t ctx)
{
	uint64_t match = n->verified < n->durable ? n->verified : n->durable;
	struct gr_msg *m;

	if (!n->leader || n->leader == n->self || !match)
		return;
	m = msg_new(n, GR_MSG_APPEND_RESP, n->leader);
	if (!m)
		return;
	m->seq = match;
	m->ctx = ctx;
}

static void heard_leader(struct gr_node *n, uint32_t from)
{
	if (n->role != GR_FOLLOWER || n->leader != from)
		become_follower(n, n->term, from);
	n->last_heard = n->now;
	n->election_elapsed = 0;
}

static void on_append(struct gr_node *n, const struct gr_msg *m)
{
	uint64_t prev = m->seq, prev_term = m->log_term, t, s;
	uint32_t skip = 0, i;
	struct gr_msg *r;

	heard_leader(n, m->from);
	if (prev < n->snap_seq) {
		/* the head is compacted here, hence committed: skip it */
		skip = (uint32_t)(n->snap_seq - prev);
		if (skip > m->n_entries) {
			skip = m->n_entries;
		}
		if (skip) {
			prev += skip;
			prev_term = m->entries[skip - 1].term;
		}
		if (prev < n->snap_seq) {
			send_append_resp(n, m->ctx);
			return;
		}
	}
	if (!term_at(n, prev, &t) || t != prev_term) {
		uint64_t h = prev < n->last ? prev : n->last, ht = 0;

		while (h > n->snap_seq && term_at(n, h, &ht) && ht > prev_term)
			h--;
		term_at(n, h, &ht);
		r = msg_new(n, GR_MSG_APPEND_RESP, m->from);
		if (!r)
			return;
		r->reject = true;
		r->seq = m->seq;
		r->hint_seq = h;
		r->hint_term = ht;
		r->ctx = m->ctx;
		return;
	}
	s = prev;
	for (i = skip; i < m->n_entries; i++) {
		const struct gr_entry *e = &m->entries[i];

		s++;
		if (s <= n->last) {
			if (term_at(n, s, &t) && t == e->term)
				continue;
			if (s <= n->commit)
				return;	/* impossible: committed entry differs */
			log_truncate(n, s);
		}
		if (log_full(n)) {
			s--;
			break;
		}
		log_append(n, e);
		rd_append(n, s, s);
	}
	if (s > n->verified)
		n->verified = s;
	commit_to(n, m->commit < s ? m->commit : s);
	/* a success reply promises durability: defer until persisted */
	n->leader_ctx = m->ctx;
	if (n->durable >= s)
		send_append_resp(n, m->ctx);
}

static void on_heartbeat(struct gr_node *n, const struct gr_msg *m)
{
	struct gr_msg *r;

	heard_leader(n, m->from);
	/* m->commit <= our match at the leader, which we acked durable and
	 * which no leader of this term truncates: safe even after a restart */
	commit_to(n, m->commit < n->last ? m->commit : n->last);
	r = msg_new(n, GR_MSG_HEARTBEAT_RESP, m->from);
	if (r)
		r->ctx = m->ctx;
}

static void on_resync(struct gr_node *n, const struct gr_msg *m)
{
	uint64_t t;

	heard_leader(n, m->from);
	if (term_at(n, m->seq, &t) && t == m->log_term) {
		/* we hold the resync point: it is committed, carry on */
		if (m->seq > n->verified)
			n->verified = m->seq;
		commit_to(n, m->seq);
		n->leader_ctx = m->ctx;
		send_append_resp(n, m->ctx);
		return;
	}
	if (m->seq <= n->commit)
		return;		/* stale */
	/* replace the whole log by the leader's state at m->seq */
	log_truncate(n, n->commit + 1);
	n->rd.append_from = n->rd.append_to = 0;
	n->rd.resync = true;
	n->rd.resync_from = m->from;
	n->rd.resync_seq = m->seq;
	n->rd.resync_term = m->log_term;
	n->snap_seq = m->seq;
	n->snap_term = m->log_term;
	n->last = m->seq;
	n->verified = m->seq;
	n->n_hist = 0;
	n->conf_base = m->conf;
	conf_recompute(n);
	n->leader_ctx = m->ctx;
	commit_to(n, m->seq);
	n->applied = n->applied < n->commit ? n->applied : n->commit;
}

static void on_vote_req(struct gr_node *n, const struct gr_msg *m)
{
	bool pre = m->type == GR_MSG_PREVOTE, grant;
	uint64_t lt = last_term(n);
	struct gr_msg *r;

#ifdef GR_BROKEN_VOTE_ANY_LOG
	bool uptodate = true;
	(void)lt;
#else
	bool uptodate = m->log_term > lt ||
			(m->log_term == lt && m->seq >= n->last);
#endif

	/* a voter that heard from a live leader within an election timeout
	 * ignores campaigns: this is what makes the leader lease safe */
	if (!m->force && in_lease(n) && m->term > n->term)
		return;
	if (!pre && m->term > n->term)
		become_follower(n, m->term, 0);
	if (pre)
		grant = m->term > n->term && uptodate;
	else
		grant = m->term == n->term && uptodate &&
			(n->vote == 0 || n->vote == m->from);
	r = msg_new(n, pre ? GR_MSG_PREVOTE_RESP : GR_MSG_VOTE_RESP, m->from);
	if (!r)
		return;
	r->reject = !grant;
	if (grant && pre)
		r->term = m->term;
	if (grant && !pre) {
		n->vote = m->from;
		reset_timeout(n);
	}
}

static void on_vote_resp(struct gr_node *n, const struct gr_msg *m)
{
	struct progress *p = pr_get(n, m->from);
	int res;

	if (!p)
		return;
	p->responded = true;
	p->granted = !m->reject;
	res = poll_votes(n);
	if (res > 0) {
		if (n->role == GR_PRECANDIDATE)
			become_candidate(n, false);
		else
			become_leader(n);
	} else if (res < 0) {
		become_follower(n, n->term, 0);
	}
}

/* ---- inputs ---------------------------------------------------------- */

int gr_step(struct gr_node *n, const struct gr_msg *m, uint64_t now_ns)
{
	if (now_ns > n->now)
		n->now = now_ns;
	if (m->to != n->self || m->from == n->self)
		return -EINVAL;
	if (m->type == GR_MSG_APPEND) {
		uint64_t t = m->log_term;
		uint32_t i;

		if (m->n_entries && !m->entries)
			return -EINVAL;
		/* terms never decrease along a log nor exceed the sender's */
		for (i = 0; i < m->n_entries; i++) {
			if (m->entries[i].term < t ||
			    m->entries[i].term > m->term)
				return -EINVAL;
			t = m->entries[i].term;
		}
	}

	if (m->type == GR_MSG_PREVOTE || m->type == GR_MSG_VOTE) {
		on_vote_req(n, m);
		goto out;
	}
	if (m->type == GR_MSG_PREVOTE_RESP) {
		if (n->role == GR_PRECANDIDATE && m->term == n->term + 1 &&
		    !m->reject)
			on_vote_resp(n, m);
		else if (m->term > n->term)
			become_follower(n, m->term, 0);
		else if (n->role == GR_PRECANDIDATE && m->reject)
			on_vote_resp(n, m);
		goto out;
	}
	if (m->term > n->term) {
		bool from_leader = m->type == GR_MSG_APPEND ||
				   m->type == GR_MSG_HEARTBEAT ||
				   m->type == GR_MSG_RESYNC ||
				   m->type == GR_MSG_TIMEOUT_NOW;

		become_follower(n, m->term, from_leader ? m->from : 0);
	} else if (m->term < n->term) {
		/* tell a stale leader (rejoining after a partition) */
		if (m->type == GR_MSG_APPEND || m->type == GR_MSG_HEARTBEAT) {
			struct gr_msg *r = msg_new(n, GR_MSG_APPEND_RESP,
						   m->from);

			if (r)
				r->reject = true;
		}
		goto out;
	}

	switch (m->type) {
	case GR_MSG_VOTE_RESP:
		if (n->role == GR_CANDIDATE)
			on_vote_resp(n, m);
		break;
	case GR_MSG_APPEND:
		if (n->role != GR_LEADER)
			on_append(n, m);
		break;
	case GR_MSG_HEARTBEAT:
		if (n->role != GR_LEADER)
			on_heartbeat(n, m);
		break;
	case GR_MSG_RESYNC:
		if (n->role != GR_LEADER)
			on_resync(n, m);
		break;
	case GR_MSG_APPEND_RESP:
	case GR_MSG_HEARTBEAT_RESP:
		if (n->role == GR_LEADER)
			leader_on_resp(n, m);
		break;
	case GR_MSG_TIMEOUT_NOW:
		if (n->role != GR_LEADER) {
			heard_leader(n, m->from);
			campaign(n, true);
		}
		break;
	default:
		return -EINVAL;
	}
out:
	set_writable(n);
	return 0;
}

/* step down once a majority has been silent for an election timeout */
static void check_quorum(struct gr_node *n)
{
	uint32_t i, act = 0;

	for (i = 0; i < n->n_pr; i++) {
		struct progress *p = &n->pr[i];

		if (p->active || p->site == n->self) {
			p->active = false;
			p->active_tick = n->ticks;
		}
		if (p->voter && n->ticks - p->active_tick < n->cfg.election_ticks)
			act++;
	}
	if (act < quorum(n))
		become_follower(n, n->term, 0);
}

void gr_tick(struct gr_node *n, uint64_t now_ns)
{
	if (now_ns > n->now)
		n->now = now_ns;
	n->ticks++;
	if (n->role == GR_LEADER) {
		update_lease(n);
		if (++n->heartbeat_elapsed >= n->cfg.heartbeat_ticks) {
			n->heartbeat_elapsed = 0;
			bcast_heartbeat(n);
		}
		if (n->transfer_to &&
		    ++n->transfer_elapsed >= n->cfg.election_ticks) {
			/* transfer failed; after TIMEOUT_NOW the target may
			 * have won with forced votes: never write again in
			 * this term */
			if (n->timeout_now_sent) {
				become_follower(n, n->term, 0);
				goto out;
			}
			n->transfer_to = 0;
		}
		if (n->cfg.check_quorum)
			check_quorum(n);
		if (n->need_bcast && n->role == GR_LEADER)
			bcast_append(n);
	} else if (++n->election_elapsed >= n->rand_timeout) {
		campaign(n, false);
	}
out:
	set_writable(n);
}

int64_t gr_propose(struct gr_node *n, uint32_t bytes, uint64_t now_ns)
{
	struct gr_entry e = { .term = n->term, .bytes = bytes,
			      .kind = GR_ENTRY_DATA };

	if (now_ns > n->now)
		n->now = now_ns;
	if (n->role != GR_LEADER)
		return -GR_ENOTLEADER;
	update_lease(n);
	set_writable(n);
	if (!n->writable)
		return -EAGAIN;
	if (n->uncommitted_bytes &&
	    n->uncommitted_bytes + bytes > n->cfg.max_uncommitted_bytes)
		return -EAGAIN;
	if (log_full(n))
		return -ENOSPC;
	log_append(n, &e);
	rd_append(n, n->last, n->last);
	n->need_bcast = true;
	return (int64_t)n->last;
}

void gr_persisted(struct gr_node *n, uint64_t seq, uint64_t term)
{
	uint64_t t;

	if (!term_at(n, seq, &t) || t != term || seq <= n->durable)
		return;
	n->durable = seq;
	if (n->role == GR_LEADER) {
		struct progress *p = pr_get(n, n->self);

		if (p)
			p->match = seq;
		maybe_commit(n);
		set_ack(n);
		if (n->transfer_to) {
			struct progress *tp = pr_get(n, n->transfer_to);

			if (tp && tp->match == n->last && !n->timeout_now_sent)
				send_timeout_now(n, tp);
		}
	} else if (n->role == GR_FOLLOWER && n->leader) {
		send_append_resp(n, n->leader_ctx);
	}
}

void gr_applied(struct gr_node *n, uint64_t seq)
{
	if (seq > n->commit)
		seq = n->commit;
	if (seq > n->applied)
		n->applied = seq;
}

int gr_compact(struct gr_node *n, uint64_t seq)
{
	uint64_t t;

	if (seq <= n->snap_seq)
		return 0;
	if (seq > n->applied || seq > n->durable)
		return -EINVAL;
	if (!term_at(n, seq, &t))
		return -EINVAL;
	n->snap_seq = seq;
	n->snap_term = t;
	return 0;
}

int gr_transfer(struct gr_node *n, uint32_t site, uint64_t now_ns)
{
	struct progress *p;

	if (now_ns > n->now)
		n->now = now_ns;
	if (n->role != GR_LEADER)
		return -GR_ENOTLEADER;
	p = pr_get(n, site);
	if (!p || !p->voter || site == n->self)
		return -EINVAL;
	if (n->transfer_to)
		return -EBUSY;
	n->transfer_to = site;
	n->transfer_elapsed = 0;
	n->timeout_now_sent = false;
	set_writable(n);
	if (p->match == n->last && n->durable == n->last)
		send_timeout_now(n, p);
	else
		send_append(n, p);
	return 0;
}

int64_t gr_membership(struct gr_node *n, enum gr_conf_op op, uint32_t site,
		      uint64_t now_ns)
{
	struct gr_entry e = { .term = n->term, .kind = GR_ENTRY_CONF,
			      .conf_op = (uint8_t)op, .conf_site = site };
	int i;

	if (now_ns > n->now)
		n->now = now_ns;
	if (n->role != GR_LEADER)
		return -GR_ENOTLEADER;
	if (!site || (op != GR_CONF_ADD_LEARNER && op != GR_CONF_PROMOTE &&
		      op != GR_CONF_REMOVE))
		return -EINVAL;
	/* a new leader first commits an entry of its own term */
	if (n->commit < n->noop_seq)
		return -EAGAIN;
	if (n->n_hist || n->transfer_to)
		return -EBUSY;
	i = conf_find(&n->conf, site);
	switch (op) {
	case GR_CONF_ADD_LEARNER:
		if (i >= 0)
			return -EEXIST;
		if (n->conf.n >= GR_MAX_SITES)
			return -ENOSPC;
		break;
	case GR_CONF_PROMOTE:
		if (i < 0 || n->conf.voter[i])
			return -EINVAL;
		if (pr_get(n, site)->match < n->commit)
			return -EAGAIN;	/* not caught up yet */
		break;
	case GR_CONF_REMOVE:
		if (i < 0)
			return -ENOENT;
		if (site == n->self)
			return -EINVAL;	/* transfer leadership first */
		break;
	}
	if (log_full(n))
		return -ENOSPC;
	log_append(n, &e);
	rd_append(n, n->last, n->last);
	n->need_bcast = true;
	/* a smaller quorum may already hold everything */
	maybe_commit(n);
	return (int64_t)n->last;
}

/* ---- outputs and queries --------------------------------------------- */

struct gr_ready *gr_ready_get(struct gr_node *n)
{
	struct gr_ready *rd = &n->rd;

	if (n->need_bcast && n->role == GR_LEADER)
		bcast_append(n);
	rd->hs.term = n->term;
	rd->hs.vote = n->vote;
	rd->hs.commit = n->commit < n->durable ? n->commit : n->durable;
	if (rd->hs.term != n->hs_saved.term || rd->hs.vote != n->hs_saved.vote)
		rd->hs_changed = true;
	if (n->role != n->rd_role || n->term != n->rd_term ||
	    n->leader != n->rd_leader) {
		rd->role_changed = true;
		n->rd_role = n->role;
		n->rd_term = n->term;
		n->rd_leader = n->leader;
	}
	rd->role = n->role;
	rd->term = n->term;
	rd->leader = n->leader;
	rd->writable = n->writable;
	rd->commit_seq = n->commit;
	rd->ack_seq = n->ack;
	return rd;
}

void gr_ready_done(struct gr_node *n)
{
	n->hs_saved = n->rd.hs;
	memset(&n->rd, 0, offsetof(struct gr_ready, msgs));
}

void gr_status(const struct gr_node *n, struct gr_status *st)
{
	memset(st, 0, sizeof(*st));
	st->role = n->role;
	st->term = n->term;
	st->vote = n->vote;
	st->leader = n->leader;
	st->last_seq = n->last;
	st->last_term = last_term(n);
	st->durable_seq = n->durable;
	st->commit_seq = n->commit;
	st->applied_seq = n->applied;
	st->snap_seq = n->snap_seq;
	st->uncommitted_bytes = n->uncommitted_bytes;
	st->writable = n->writable;
	st->lease_until_ns = n->lease_until;
	st->transfer_to = n->transfer_to;
}

const struct gr_conf *gr_conf_active(const struct gr_node *n)
{
	return &n->conf;
}

const struct gr_conf *gr_conf_committed(const struct gr_node *n)
{
	return &n->conf_base;
}

int gr_entry_get(const struct gr_node *n, uint64_t seq, struct gr_entry *e)
{
	if (seq == 0) {
		memset(e, 0, sizeof(*e));
		return 0;
	}
	if (seq <= n->snap_seq || seq > n->last)
		return -ENOENT;
	*e = *ent(n, seq);
	return 0;
}

int gr_progress(const struct gr_node *n, uint32_t site,
		struct gr_progress_info *pi)
{
	uint32_t i;

	for (i = 0; i < n->n_pr; i++) {
		const struct progress *p = &n->pr[i];

		if (p->site != site)
			continue;
		pi->site = site;
		pi->voter = p->voter;
		pi->state = p->state;
		pi->match = site == n->self ? n->durable : p->match;
		pi->next = p->next;
		pi->inflight_msgs = p->infl_count;
		pi->inflight_bytes = p->infl_bytes;
		pi->inflight_records = p->infl_records;
		return 0;
	}
	return -ENOENT;
}

uint64_t gr_lease_ns(const struct gr_config *cfg)
{
	uint64_t e = (uint64_t)cfg->election_ticks * cfg->tick_ns;
	uint64_t r = cfg->max_drift_ppm;
	uint64_t l = e / (1000000 + r) * (1000000 - r);

	/* one tick late to notice expiry, one tick of slack */
	return l > 2 * cfg->tick_ns ? l - 2 * cfg->tick_ns : 0;
}

void gr_config_default(struct gr_config *cfg, uint32_t self,
		       const struct gr_conf *conf)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->self = self;
	cfg->conf = *conf;
	cfg->rule = GR_RULE_QUORUM;
	cfg->election_ticks = 10;
	cfg->heartbeat_ticks = 2;
	cfg->tick_ns = 10000000;	/* 10 ms */
	cfg->max_drift_ppm = 1000;
	cfg->pre_vote = true;
	cfg->check_quorum = true;
	cfg->max_inflight_msgs = 16;
	cfg->max_inflight_bytes = 8 << 20;
	cfg->max_inflight_records = 4096;
	cfg->max_msg_entries = 64;
	cfg->max_msg_bytes = 1 << 20;
	cfg->max_uncommitted_bytes = 64 << 20;
	cfg->log_capacity = 1 << 16;
	cfg->seed = self;
}

static bool config_ok(const struct gr_config *c)
{
	if (!c->self || c->election_ticks < 2 ||
	    c->heartbeat_ticks >= c->election_ticks || !c->heartbeat_ticks)
		return false;
	if (!c->max_inflight_msgs || c->max_inflight_msgs > GR_MAX_INFLIGHT ||
	    !c->max_msg_entries || !c->max_inflight_bytes ||
	    !c->max_inflight_records)
		return false;
	if (c->log_capacity < 2 || (c->log_capacity & (c->log_capacity - 1)))
		return false;
	if (c->max_drift_ppm >= 1000000 || c->conf.n > GR_MAX_SITES)
		return false;
	return true;
}

struct gr_node *gr_node_new(const struct gr_config *cfg,
			    const struct gr_persisted *ps, uint64_t now_ns)
{
	struct gr_node *n;
	uint64_t i;

	if (!config_ok(cfg))
		return NULL;
	if (ps && ps->n_entries > cfg->log_capacity)
		return NULL;
	n = calloc(1, sizeof(*n));
	if (!n)
		return NULL;
	n->ring = calloc(cfg->log_capacity, sizeof(*n->ring));
	if (!n->ring) {
		free(n);
		return NULL;
	}
	n->cfg = *cfg;
	n->self = cfg->self;
	n->mask = cfg->log_capacity - 1;
	n->rng = cfg->seed ^ ((uint64_t)cfg->self << 32);
	n->now = now_ns;
	n->election_ns = (uint64_t)cfg->election_ticks * cfg->tick_ns;
	n->lease_ns = gr_lease_ns(cfg);
	/* a restarted site may have promised its vote before the crash */
	n->last_heard = now_ns;
	n->conf_base = ps && ps->have_conf ? ps->conf : cfg->conf;
	if (ps) {
		n->term = ps->hs.term;
		n->vote = ps->hs.vote;
		n->snap_seq = n->last = ps->snap_seq;
		n->snap_term = ps->snap_term;
	}
	n->conf = n->conf_base;
	pr_sync_conf(n);
	if (ps) {
		for (i = 0; i < ps->n_entries; i++)
			log_append(n, &ps->entries[i]);
		/* what we read back is durable */
		n->durable = n->last;
		n->commit = ps->hs.commit < n->last ? ps->hs.commit : n->last;
		if (n->commit < n->snap_seq)
			n->commit = n->snap_seq;
		conf_on_commit(n);
		n->applied = n->snap_seq;
	}
	n->hs_saved.term = n->term;
	n->hs_saved.vote = n->vote;
	n->rd_role = GR_FOLLOWER;
	n->rd_term = n->term;
	n->role = GR_FOLLOWER;
	reset_timeout(n);
	return n;
}

void gr_node_free(struct gr_node *n)
{
	if (!n)
		return;
	free(n->ring);
	free(n);
}
