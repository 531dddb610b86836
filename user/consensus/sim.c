// SPDX-License-Identifier: GPL-2.0
/*
 * Deterministic simulation of N georep sites running the consensus core:
 * simulated network (delay, loss, duplication, reordering, asymmetric and
 * full partitions, healing), simulated disks (fsync latency, crash losing
 * what was not fsynced, torn last write), drifting clocks within the bound
 * the lease relies on, restarts, and a proposal workload. Invariants are
 * checked after every event; see Documentation/consensus.rst.
 */
#include "sim_internal.h"

void trace(struct sim *S, struct site *st, const char *fmt, ...)
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

void fail(struct sim *S, const char *fmt, ...)
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

/* ---- main loop -------------------------------------------------------- */

static void on_msg(struct sim *S, struct site *st, struct ev *e)
{
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
}

static void on_fsync(struct sim *S, struct site *st, struct ev *e)
{
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
}

static void on_transfer(struct sim *S)
{
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
		push(S, S->now + rr(S, 500, 5000) * MS, EV_TRANSFER, MAXS, NULL);
}

/* no convergence by the deadline: every site's state in the trace */
static void trace_stuck(struct sim *S)
{
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
}

static void on_poll(struct sim *S)
{
	if (S->now >= S->stop_props && converged(S)) {
		S->r->converge_ns = S->now - S->heal_at;
		final_checks(S);
		S->done = true;
		return;
	}
	if (S->now >= S->deadline) {
		trace_stuck(S);
		fail(S, "liveness: no convergence %llu ms after the faults stopped",
		     (unsigned long long)((S->now - S->heal_at) / MS));
		return;
	}
	push(S, S->now + 50 * MS, EV_POLL, MAXS, NULL);
}

static void on_heal_all(struct sim *S)
{
	uint32_t i;

	S->faults = false;
	memset(S->blocked, 0, sizeof(S->blocked));
	trace(S, NULL, "FAULTS STOP: heal all, restart all");
	for (i = 0; i < S->n; i++)
		restart(S, &S->s[i]);
	push(S, S->now + 100 * MS, EV_POLL, MAXS, NULL);
}

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
		on_msg(S, st, e);
		return;
	case EV_FSYNC:
		on_fsync(S, st, e);
		return;
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
	case EV_HEAL_ALL:
		on_heal_all(S);
		return;
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
	case EV_TRANSFER:
		on_transfer(S);
		return;
	case EV_MEMBER:
		if (S->now < S->stop_props) {
			member(S);
			push(S, S->now + rr(S, 100, 1000) * MS, EV_MEMBER,
			     MAXS, NULL);
		}
		return;
	case EV_POLL:
		on_poll(S);
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
	for (i = 0; i < S->nvoters; i++)
		S->cs0[i + 1] = 2;
	memcpy(S->canon_cs, S->cs0, sizeof(S->cs0));
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
	S->campaigned = calloc(MAX_TERMS, 1);
	if (!S->canon || !S->leader_of || !S->campaigned)
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
	if (chance(S, 400)) {
		/* slow disk: some fsyncs take up to several election
		 * timeouts, so truncations overtake pending fsyncs */
		S->stall_pm = (uint32_t)rr(S, 50, 500);
		S->stall_max_ms = (uint32_t)rr(S, 200, 600);
		/* and one site's disk is slow on every fsync */
		S->slow_site = (uint32_t)rr(S, 1, S->n);
	}
	S->crash_mid_pm = (uint32_t)rr(S, 0, 5);
	S->faults = true;
	if (setup(S)) {
		ret = -1;
		goto out;
	}
	trace(S, NULL, "seed %llu sites %u rule %s loss %u%% dup %u%% delay %u-%u us pre_vote %d inflight %u/%llu fsync stalls %u%% up to %u ms, slow site%u",
	      (unsigned long long)o->seed, S->n,
	      S->rule == GR_RULE_LOCAL ? "local" : "quorum", S->loss_pm / 10,
	      S->dup_pm / 10, S->dmin_us, S->dmax_us, S->cfg.pre_vote,
	      S->cfg.max_inflight_msgs,
	      (unsigned long long)S->cfg.max_inflight_bytes,
	      S->stall_pm / 10, S->stall_max_ms, S->slow_site);
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
	free(S->campaigned);
	free(S->acked);
	free(S);
	return ret ? ret : (r->failed ? 1 : 0);
}
