/* SPDX-License-Identifier: GPL-2.0 */
/*
 * georep consensus core: a Raft-family state machine for one ledger volume.
 *
 * The core is pure: no clocks, no I/O, no threads, no allocation after
 * gr_node_new(). Every input is a function call (message, tick, durability
 * and apply notifications, proposals); every output accumulates in a
 * struct gr_ready that the caller takes with gr_ready_get() after EVERY
 * input and releases with gr_ready_done(). See Documentation/consensus.rst.
 *
 * Log entries are identified by (seq, term); seq starts at 1 without gaps
 * and equals the kernel ledger record seq. The core does not hold payloads:
 * it tracks each entry's term, kind and byte size (for flow control) and
 * tells the caller which ranges to write, truncate and send.
 *
 * Processing a ready, in this order:
 *   1. hs_changed (or hs.commit moved): write and fsync hs first: term and
 *      vote are durable before any record or reply that depends on them;
 *      hs.commit never exceeds the durable log, persist it lazily if wanted;
 *   2. trunc_from..trunc_to (if trunc_from != 0): move these records aside
 *      (they may hold locally acknowledged writes: never drop them), then
 *      remove them from the log;
 *   3. resync (if set): install the full state of site resync_from up to
 *      resync_seq/resync_term atomically, out of band; call gr_persisted()
 *      for it once it is durable;
 *   4. append_from..append_to (if append_from != 0): write these records;
 *      on a follower they are the entries[] of the message just stepped, on
 *      the leader they are the proposals (and barrier/membership entries,
 *      see gr_entry_get()) made since the last ready;
 *   5. send msgs[]; for GR_MSG_APPEND attach records seq+1..seq+n_entries
 *      from the local log (the receiver rebuilds entries[] from them, with
 *      their kind and membership fields). The leader may send before its own
 *      appends are durable;
 *   6. when records become durable call gr_persisted(seq, term) with the
 *      last durable record; apply up to commit_seq and call gr_applied();
 *      release retained log with gr_compact(); acknowledge writes up to
 *      ack_seq (leader); follow role/term/leader and writable.
 *
 * Writes are allowed only while writable is true: the core turns it off on
 * the gr_tick() that sees the lease expire (gr_status().lease_until_ns gives
 * the current expiry for a kernel-side deadline), on a transfer, on losing
 * leadership. check_quorum = false disables the lease and the vote promise
 * (tests only).
 */
#ifndef _GEOREP_CONSENSUS_H
#define _GEOREP_CONSENSUS_H

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>

#define GR_MAX_SITES	9	/* voters + learners of one volume */
#define GR_MAX_MSGS	256	/* messages per ready */
#define GR_MAX_INFLIGHT	64	/* upper bound of cfg.max_inflight_msgs */
#define GR_CONF_HIST	16	/* uncommitted configuration entries tracked */

/* returned (negated) by gr_propose() and friends on a non-leader */
#define GR_ENOTLEADER	ENOTCONN

enum gr_role {
	GR_FOLLOWER,
	GR_PRECANDIDATE,
	GR_CANDIDATE,
	GR_LEADER,
};

enum gr_commit_rule {
	GR_RULE_LOCAL,	/* ack = durable on the primary, replicate async */
	GR_RULE_QUORUM,	/* ack = durable on a majority of voters */
};

enum gr_entry_kind {
	GR_ENTRY_DATA,
	GR_ENTRY_NOOP,	/* barrier appended by every new leader */
	GR_ENTRY_CONF,	/* membership change: conf_op on conf_site */
};

/* absolute operations: replaying one twice gives the same configuration */
enum gr_conf_op {
	GR_CONF_ADD_LEARNER = 1,	/* site becomes a non-voting learner */
	GR_CONF_PROMOTE,		/* learner becomes a voter */
	GR_CONF_REMOVE,			/* site leaves */
};

/* what the core knows of one log entry */
struct gr_entry {
	uint64_t term;
	uint32_t bytes;		/* payload size, for flow control only */
	uint8_t kind;		/* enum gr_entry_kind */
	uint8_t conf_op;	/* GR_ENTRY_CONF only */
	uint32_t conf_site;	/* GR_ENTRY_CONF only */
};

struct gr_conf {
	uint32_t n;
	uint32_t site[GR_MAX_SITES];	/* site ids, non-zero */
	uint8_t voter[GR_MAX_SITES];	/* 0: learner */
};

struct gr_config {
	uint32_t self;			/* this site's id, non-zero */
	struct gr_conf conf;		/* initial membership (new volume) */
	enum gr_commit_rule rule;
	uint32_t election_ticks;	/* E: timeouts are random in [E, 2E) */
	uint32_t heartbeat_ticks;	/* < election_ticks */
	uint64_t tick_ns;		/* nominal tick period (local clock) */
	uint32_t max_drift_ppm;		/* bound on clock rate error, see lease */
	bool pre_vote;
	bool check_quorum;		/* also enables the leader lease */
	uint32_t max_inflight_msgs;	/* per follower, <= GR_MAX_INFLIGHT */
	uint64_t max_inflight_bytes;	/* per follower */
	uint32_t max_inflight_records;	/* per follower */
	uint32_t max_msg_entries;	/* per APPEND */
	uint64_t max_msg_bytes;		/* per APPEND */
	uint64_t max_uncommitted_bytes;	/* leader backpressure */
	uint32_t log_capacity;		/* retained entries tracked, power of 2 */
	uint64_t seed;			/* randomised election timeouts */
};

/* state the caller must keep durable; term/vote before sending */
struct gr_hard_state {
	uint64_t term;
	uint32_t vote;
	uint64_t commit;	/* always <= durable log end: safe to persist */
};

/* what a restarting site read back from its disks */
struct gr_persisted {
	struct gr_hard_state hs;
	uint64_t snap_seq;	/* log retained from snap_seq + 1 */
	uint64_t snap_term;
	bool have_conf;		/* else cfg.conf is used */
	struct gr_conf conf;	/* gr_conf_committed() saved at or after snap */
	uint64_t n_entries;	/* entries snap_seq+1 .. snap_seq+n_entries */
	const struct gr_entry *entries;
};

enum gr_msg_type {
	GR_MSG_PREVOTE = 1,	/* term: proposed term; seq/log_term: last entry */
	GR_MSG_PREVOTE_RESP,	/* reject; term: proposed term if granted */
	GR_MSG_VOTE,		/* seq/log_term: candidate's last entry; force */
	GR_MSG_VOTE_RESP,	/* reject */
	GR_MSG_APPEND,		/* seq/log_term: previous entry; n_entries
				 * records follow; commit; ctx */
	GR_MSG_APPEND_RESP,	/* ok: seq = durable match; reject: seq =
				 * rejected prev, hint_seq/hint_term; ctx */
	GR_MSG_HEARTBEAT,	/* commit; ctx */
	GR_MSG_HEARTBEAT_RESP,	/* ctx */
	GR_MSG_TIMEOUT_NOW,	/* leadership transfer: campaign now */
	GR_MSG_RESYNC,		/* follower is behind the retained log: the
				 * caller ships a full resync up to seq/log_term,
				 * conf is the configuration at that point */
};

struct gr_msg {
	uint8_t type;
	bool reject;
	bool force;		/* VOTE of a leadership transfer */
	uint32_t from, to;
	uint64_t term;
	uint64_t seq, log_term;
	uint64_t commit;
	uint64_t hint_seq, hint_term;
	uint64_t ctx;		/* leader's send time, echoed (lease) */
	uint32_t n_entries;
	uint64_t bytes;		/* sum of entry bytes (APPEND) */
	const struct gr_entry *entries;	/* receiver: n_entries, from records */
	struct gr_conf conf;	/* RESYNC only */
	/*
	 * APPEND_RESP and HEARTBEAT_RESP: the sender's own ledger, filled in
	 * by the engine for status (the core neither sets nor reads them).
	 */
	bool has_progress;
	uint64_t p_written, p_commit, p_applied;
};

struct gr_ready {
	bool hs_changed;
	struct gr_hard_state hs;
	uint64_t trunc_from, trunc_to;
	uint64_t append_from, append_to;
	bool resync;
	uint32_t resync_from;
	uint64_t resync_seq, resync_term;
	bool commit_changed;
	uint64_t commit_seq;	/* majority-durable: apply up to here */
	bool ack_changed;
	uint64_t ack_seq;	/* leader: writes up to here may complete
				 * under cfg.rule */
	bool role_changed;	/* role, term or known leader changed */
	enum gr_role role;
	uint64_t term;
	uint32_t leader;
	bool writable_changed;
	bool writable;		/* may accept writes (primary, lease held) */
	uint64_t writable_since_ns;
	uint32_t n_msgs;
	struct gr_msg msgs[GR_MAX_MSGS];
};

/* per-follower replication state (leader), for status and tests */
enum gr_pr_state { GR_PR_PROBE, GR_PR_REPLICATE, GR_PR_RESYNC };

struct gr_progress_info {
	uint32_t site;
	bool voter;
	uint8_t state;
	uint64_t match, next;
	uint32_t inflight_msgs;
	uint64_t inflight_bytes;
	uint64_t inflight_records;
};

struct gr_status {
	enum gr_role role;
	uint64_t term;
	uint32_t vote, leader;
	uint64_t last_seq, last_term, durable_seq, commit_seq, applied_seq;
	uint64_t snap_seq;
	uint64_t uncommitted_bytes;
	bool writable;
	uint64_t lease_until_ns;
	uint32_t transfer_to;
};

struct gr_node;

/* Allocates everything the node will use. now_ns: local monotonic time.
 * Returns NULL on bad config or no memory. */
struct gr_node *gr_node_new(const struct gr_config *cfg,
			    const struct gr_persisted *p, uint64_t now_ns);
void gr_node_free(struct gr_node *n);

/* inputs */
int gr_step(struct gr_node *n, const struct gr_msg *m, uint64_t now_ns);
void gr_tick(struct gr_node *n, uint64_t now_ns);
/* leader: returns the new entry's seq, -GR_ENOTLEADER, -EAGAIN (not
 * writable yet or backpressure: uncommitted bytes over the cap) or
 * -ENOSPC (retained log full: gr_compact() after applying) */
int64_t gr_propose(struct gr_node *n, uint32_t bytes, uint64_t now_ns);
/* the log is durable up to seq, whose entry has this term (stale
 * notifications are ignored) */
void gr_persisted(struct gr_node *n, uint64_t seq, uint64_t term);
void gr_applied(struct gr_node *n, uint64_t seq);
/*
 * A follower heard from @leader other than by a message: a chunk of the
 * full resync it sends (as Raft's InstallSnapshot, the copy is the
 * leader's traffic). While @leader is this follower's leader, the
 * election timer restarts as for a heartbeat; otherwise nothing happens.
 */
void gr_leader_alive(struct gr_node *n, uint32_t leader, uint64_t now_ns);
/* forget entries up to seq (<= applied); they leave the retained log */
int gr_compact(struct gr_node *n, uint64_t seq);
/* leader: planned switchover to site; writes stop at once */
int gr_transfer(struct gr_node *n, uint32_t site, uint64_t now_ns);
/* leader: one membership change at a time; -EBUSY while one is
 * uncommitted, -EAGAIN before the leader committed an entry of its term or
 * while a learner to promote is not caught up; returns the entry's seq */
int64_t gr_membership(struct gr_node *n, enum gr_conf_op op, uint32_t site,
		      uint64_t now_ns);

/* outputs */
struct gr_ready *gr_ready_get(struct gr_node *n);
void gr_ready_done(struct gr_node *n);

/* queries */
void gr_status(const struct gr_node *n, struct gr_status *st);
const struct gr_conf *gr_conf_active(const struct gr_node *n);
const struct gr_conf *gr_conf_committed(const struct gr_node *n);
/* term of entry seq: 0 for seq 0, -ENOENT outside snap_seq..last */
int gr_entry_get(const struct gr_node *n, uint64_t seq, struct gr_entry *e);
int gr_progress(const struct gr_node *n, uint32_t site,
		struct gr_progress_info *pi);
/*
 * The transport still holds bytes for @site that its peer has not
 * acknowledged (APPENDs on a slower lane than the heartbeats): a heartbeat
 * answer without progress is then no sign that an APPEND was lost, and
 * does not send the follower back to probing. 0 or -ENOENT.
 */
int gr_set_in_transit(struct gr_node *n, uint32_t site, bool busy);
/* lease length in local ns derived from cfg (see consensus.rst) */
uint64_t gr_lease_ns(const struct gr_config *cfg);
/* fills cfg with sane defaults for self and conf */
void gr_config_default(struct gr_config *cfg, uint32_t self,
		       const struct gr_conf *conf);

#endif /* _GEOREP_CONSENSUS_H */
