/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Private to the consensus simulator (sim*.c): the simulated world and
 * the functions its parts share. The public interface is sim.h.
 */
#ifndef _GEOREP_CONSENSUS_SIM_INTERNAL_H
#define _GEOREP_CONSENSUS_SIM_INTERNAL_H

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
	uint64_t conf_seq;	/* RESET: conf holds the log up to here */
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
	uint64_t sent_upto;	/* last entry sent in an APPEND since restart */
	struct gr_hard_state hs;
	uint64_t snap_seq, snap_term;
	struct gr_conf snap_conf;
	uint64_t conf_seq;	/* snap_conf holds the log up to here */
	uint64_t conf_live;	/* the core's conf holds the log up to here */
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
	uint32_t xfer;		/* transfer target after the last ready */
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
	uint32_t stall_pm, stall_max_ms;	/* slow/stalling fsyncs */
	uint32_t slow_site;			/* stalls on every fsync */
	uint32_t crash_mid_pm;
	enum gr_commit_rule rule;
	struct gr_config cfg;
	struct sent *canon;
	uint64_t canon_len;
	uint32_t *leader_of;
	uint8_t *campaigned;	/* some site was a candidate in this term */
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
	/* membership per site id (0 none, 1 learner, 2 voter): at boot, and
	 * after the conf entries of canon (the committed configuration) */
	uint8_t cs0[MAXS + 1], canon_cs[MAXS + 1];
};

static inline uint64_t rnd(struct sim *S)
{
	uint64_t z = (S->rng += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static inline uint64_t rr(struct sim *S, uint64_t lo, uint64_t hi)
{
	return lo + (hi > lo ? rnd(S) % (hi - lo + 1) : 0);
}

static inline bool chance(struct sim *S, uint32_t pm)
{
	return rnd(S) % 1000 < pm;
}

uint64_t local_ns(struct sim *S, struct site *st);
struct ev pop(struct sim *S);
void push(struct sim *S, uint64_t t, uint8_t type, uint32_t site,
	  struct smsg *m);
uint64_t tick_real(struct site *st, uint64_t k);
void keep(struct site *st, const struct sent *e);
void op_apply(struct sim *S, struct site *st, const struct dop *op);
void op_push(struct site *st, const struct dop *op);
void check_commit(struct sim *S, struct site *st, uint64_t commit);
void check_durable_quorum(struct sim *S);
void check_flow(struct sim *S, struct site *st);
void check_leader(struct sim *S, struct site *st);
void check_writers(struct sim *S);
void check_reply(struct sim *S, struct site *st, const struct gr_msg *m);
void check_lease_margin(struct sim *S, struct site *st);
void check_disruption(struct sim *S, struct site *st,
		      const struct gr_ready *rd);
void check_conf_log(struct sim *S, struct site *st);
bool converged(struct sim *S);
void final_checks(struct sim *S);
const char *mname(uint8_t t);
void net_send(struct sim *S, struct site *from, const struct smsg *sm);
const char *rname(enum gr_role r);
void crash(struct sim *S, struct site *st);
void process(struct sim *S, struct site *st);
void restart(struct sim *S, struct site *st);
void schedule_fsync(struct sim *S, struct site *st);
int conf_state(const struct gr_conf *c, uint32_t site);
void member(struct sim *S);
void partition(struct sim *S);
struct site *pick_leader(struct sim *S);
void propose(struct sim *S);
void fail(struct sim *S, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void trace(struct sim *S, struct site *st, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif /* _GEOREP_CONSENSUS_SIM_INTERNAL_H */
