// SPDX-License-Identifier: GPL-2.0
/*
 * georep consensus core: leader: replication, flow control, commit and lease.
 */
#include "core.h"

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

void gr_send_append(struct gr_node *n, struct progress *p)
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

void gr_set_ack(struct gr_node *n)
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

void gr_commit_to(struct gr_node *n, uint64_t c)
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
	gr_conf_on_commit(n);
	gr_set_ack(n);
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
#ifdef GR_BROKEN_SELF_UNDURABLE
			v[k++] = ctx ? n->now : n->last;
#else
			v[k++] = ctx ? n->now : n->durable;
#endif
		else
			v[k++] = ctx ? p->ack_ctx : p->match;
	}
	if (k < q || !q)
		return 0;
	qsort(v, k, sizeof(v[0]), cmp_desc);
	return v[q - 1];
}

void gr_maybe_commit(struct gr_node *n)
{
	uint64_t c = voter_quantile(n, false), t;

	/* only entries of the current term commit by counting (Fig. 8) */
#ifdef GR_BROKEN_FIG8
	(void)t;
	if (c > n->commit && c <= n->last)
#else
	if (c > n->commit && term_at(n, c, &t) && t == n->term)
#endif
		gr_commit_to(n, c);
}

void gr_update_lease(struct gr_node *n)
{
	uint64_t anchor;

	if (!n->cfg.check_quorum)
		return;
	anchor = voter_quantile(n, true);
	if (anchor && anchor + n->lease_ns > n->lease_until)
		n->lease_until = anchor + n->lease_ns;
	set_writable(n);
}

void gr_send_timeout_now(struct gr_node *n, struct progress *p)
{
	if (msg_new(n, GR_MSG_TIMEOUT_NOW, p->site))
		n->timeout_now_sent = true;
}

void gr_bcast_heartbeat(struct gr_node *n)
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
#ifdef GR_BROKEN_HB_COMMIT_UNCAPPED
		m->commit = n->commit;
#else
		m->commit = p->match < n->commit ? p->match : n->commit;
#endif
		m->ctx = n->now;
	}
}

void gr_leader_on_resp(struct gr_node *n, const struct gr_msg *m)
{
	struct progress *p = pr_get(n, m->from);
	uint64_t t;

	if (!p || p->site == n->self)
		return;
	p->active = true;
	if (m->ctx > p->ack_ctx) {
		p->ack_ctx = m->ctx;
		gr_update_lease(n);
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
		    p->match == p->hb_match && !p->in_transit) {
			p->state = GR_PR_PROBE;
			p->next = p->match + 1;
			infl_clear(p);
		}
		p->hb_match = p->match;
		if (p->match < n->last || p->state == GR_PR_PROBE)
			gr_send_append(n, p);
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
			gr_send_append(n, p);	/* sends RESYNC */
			return;
		}
		next++;
		if (next <= p->match)
			next = p->match + 1;
		p->next = next;
		p->state = GR_PR_PROBE;
		p->probe_sent = false;
		infl_clear(p);
		gr_send_append(n, p);
		return;
	}
	if (m->seq > n->last)
		return;	/* cannot happen in the same term */
	if (m->seq > p->match) {
		p->match = m->seq;
		gr_maybe_commit(n);
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
		gr_send_timeout_now(n, p);
	gr_send_append(n, p);
}
