// SPDX-License-Identifier: GPL-2.0
/*
 * georep consensus core: configuration, node creation and teardown.
 */
#include "core.h"

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
			gr_log_append(n, &ps->entries[i]);
		/* what we read back is durable */
		n->durable = n->last;
		n->commit = ps->hs.commit < n->last ? ps->hs.commit : n->last;
		if (n->commit < n->snap_seq)
			n->commit = n->snap_seq;
		gr_conf_on_commit(n);
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
