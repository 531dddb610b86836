// SPDX-License-Identifier: GPL-2.0
/*
 * georep consensus core: leadership transfer and membership changes.
 */
#include "core.h"

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
		gr_send_timeout_now(n, p);
	else
		gr_send_append(n, p);
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
#ifdef GR_BROKEN_CONF_OVERLAP
	if (n->transfer_to)
#else
	if (n->n_hist || n->transfer_to)
#endif
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
	if (gr_log_full(n))
		return -ENOSPC;
	gr_log_append(n, &e);
	rd_append(n, n->last, n->last);
	n->need_bcast = true;
	/* a smaller quorum may already hold everything */
	gr_maybe_commit(n);
	return (int64_t)n->last;
}
