// SPDX-License-Identifier: GPL-2.0
/*
 * georep consensus core: configuration history and the log ring.
 */
#include "core.h"

/* ---- configuration history ------------------------------------------- */

void gr_conf_recompute(struct gr_node *n)
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
	gr_conf_recompute(n);
}

static void conf_on_truncate(struct gr_node *n, uint64_t from)
{
	uint32_t k = n->n_hist;

#ifdef GR_BROKEN_CONF_TRUNCATE_KEPT
	return;
#endif
	while (n->n_hist && n->hist[n->n_hist - 1].seq >= from)
		n->n_hist--;
	if (k != n->n_hist)
		gr_conf_recompute(n);
}

void gr_conf_on_commit(struct gr_node *n)
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

bool gr_log_full(const struct gr_node *n)
{
	return n->last - n->snap_seq >= n->mask + 1;
}

void gr_log_append(struct gr_node *n, const struct gr_entry *e)
{
	uint64_t seq = ++n->last;

	*ent(n, seq) = *e;
	if (n->role == GR_LEADER)
		n->uncommitted_bytes += e->bytes;
	conf_on_append(n, seq, e);
}

void gr_log_truncate(struct gr_node *n, uint64_t from)
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
