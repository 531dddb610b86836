// SPDX-License-Identifier: GPL-2.0
/*
 * georep consensus core: role changes, elections and votes.
 */
#include "core.h"

/* ---- role changes ---------------------------------------------------- */

void gr_become_follower(struct gr_node *n, uint64_t term, uint32_t leader)
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
#ifdef GR_BROKEN_PREVOTE_BUMPS_TERM
	n->term++;
	n->vote = 0;
#endif
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

void gr_campaign(struct gr_node *n, bool force)
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

void gr_bcast_append(struct gr_node *n)
{
	uint32_t i;

	for (i = 0; i < n->n_pr; i++)
		if (n->pr[i].site != n->self)
			gr_send_append(n, &n->pr[i]);
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
#ifdef GR_BROKEN_STALE_PROGRESS
		uint64_t keep = n->pr[i].match;

		pr_reset(n, &n->pr[i]);
		n->pr[i].match = keep;
#else
		pr_reset(n, &n->pr[i]);
#endif
		n->pr[i].active_tick = n->ticks;
		if (n->pr[i].site == n->self) {
			n->pr[i].match = n->durable;
			n->pr[i].active = true;
		}
	}
	n->uncommitted_bytes = 0;
	for (s = n->commit + 1; s <= n->last; s++)
		n->uncommitted_bytes += ent(n, s)->bytes;
	if (gr_log_full(n)) {
		/* cannot even append the barrier: give up leadership */
		gr_become_follower(n, n->term, 0);
		return;
	}
	gr_log_append(n, &noop);
	n->noop_seq = n->last;
	rd_append(n, n->last, n->last);
	gr_bcast_append(n);
}

void gr_on_vote_req(struct gr_node *n, const struct gr_msg *m)
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
		gr_become_follower(n, m->term, 0);
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

void gr_on_vote_resp(struct gr_node *n, const struct gr_msg *m)
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
		gr_become_follower(n, n->term, 0);
	}
}
