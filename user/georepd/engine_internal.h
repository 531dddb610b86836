/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Internal declarations shared by the files of the replication engine
 * (engine*.c); the rest of georepd sees engine.h only.
 */
#ifndef _GEOREPD_ENGINE_INTERNAL_H
#define _GEOREPD_ENGINE_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "georep/consensus.h"
#include "georep/record.h"
#include "georepd.h"
#include "engine.h"
#include "fork.h"
#include "ledger.h"
#include "mtree.h"
#include "reader.h"
#include "retain.h"
#include "shipbuf.h"
#include "stage.h"

#define ENG_TICK_MS		50		/* consensus tick */
#define ENG_ELECTION_TICKS	10		/* 0.5-1 s election timeout */
#define ENG_HEARTBEAT_TICKS	2
#define ENG_MAINT_MS		1000		/* commit save, compaction */
#define ENG_COMPACT_MIN		1024		/* records freed per compaction, at least */
#define ENG_NOTES_NS		1000000000ULL	/* a fork listing answers NOTE_REQs */
#define ENG_MAX_FORKS		16		/* listed in status */
/*
 * A bulk frame (APPEND's records, a resync chunk) holds up control frames
 * for its whole length on the wire (replication.rst, "Send lanes").
 */
#define ENG_BULK_FRAME		(64U << 10)
#define ENG_RESYNC_CHUNK	ENG_BULK_FRAME
#define ENG_RESYNC_PER_TICK	64		/* chunks sent per tick, at most */
#define ENG_RESYNC_MIN_CHUNKS	16		/* and at least (1 MiB), if the lane has room */
#define ENG_RESYNC_BUDGET_NS	10000000ULL	/* and for 10 ms of the loop at most */
#define ENG_RESYNC_READ		(4U << 20)	/* data bytes per read on the reader */
#define ENG_PUMP_BATCH		(2U << 20)	/* bytes read per batch (one record at least) */
/* records kept for APPENDs; a drop keeps 6 MiB, past a window (64 x 64 KiB) */
#define ENG_SHIPBUF_MAX		(16U << 20)
#define ENG_CATCHUP_READ	(4U << 20)	/* bytes per catch-up read */
#define ENG_DEFER_MAX		(GR_MAX_INFLIGHT + 8)	/* APPENDs waiting, per follower */
#define ENG_MEM_DATA_BYTES	(64ULL << 20)	/* data device of the mem ledger */
#define ENG_HEAL_RETRY_NS	1000000000ULL	/* a heal request unanswered: ask again */
#define ENG_HEAL_REPORT_NS	60000000000ULL	/* a heal this long says where it stands */
#define ENG_QLOSS_GRACE_MS	(ENG_ELECTION_TICKS * ENG_TICK_MS)	/* quorum-loss policy */

/*
 * Send lanes (Documentation/replication.rst): APPEND and RESYNC messages go
 * with the replicated data they announce, in order, on the bulk lane;
 * every other consensus message (votes, heartbeats, answers) on control.
 */
static inline enum gr_lane eng_msg_lane(uint8_t type)
{
	return type == GR_MSG_APPEND || type == GR_MSG_RESYNC ? GR_LANE_BULK :
	       GR_LANE_CONTROL;
}

/*
 * Heartbeats and elections (and their answers) go on the control connection
 * (georepd.h) when there is one: they carry no replicated data, and the
 * core takes them in any order with the rest.
 */
static inline bool eng_msg_urgent(uint8_t type)
{
	return type != GR_MSG_APPEND && type != GR_MSG_APPEND_RESP &&
	       type != GR_MSG_RESYNC;
}

/* Bulk bytes to one peer beyond which a resync waits for the next tick. */
#define ENG_RESYNC_QUEUE	(4U << 20)
/* a follower still resyncing this long after a pass ended gets another */
#define ENG_RESYNC_REPEAT_NS	(5000ULL * 1000000ULL)
/* a resync read that failed is tried again a tick later, twice that, ... */
#define ENG_RESYNC_RETRY_MAX_NS	(5000ULL * 1000000ULL)	/* ... up to this */
#define ENG_RESYNC_FAILS_LOUD	5		/* failures in a row: an error */
#define ENG_FOLLOWER_COMPACT_NS	100000000ULL	/* follower release, at most every */
#define ENG_LOG_FULL_STALL_NS	60000000000ULL	/* a full log, nothing applied: fail */
#define ENG_LOG_FULL_GAP_NS	10000000000ULL	/* ... counted while refusals follow */

/* leader side: a full copy of the data device to one follower */
struct resync_out {
	bool active;
	uint64_t seq, term;	/* the core's resync point */
	uint64_t off;		/* next byte to send */
	bool anchor_sent;
	uint64_t done_ns;	/* when the pass's last chunk left the lane */
	uint32_t passes;	/* copies of the device started */
};

/* follower side */
struct resync_in {
	bool active;
	uint32_t from;		/* site index */
	uint64_t seq, term;
	bool started;		/* a chunk arrived: @off and @copied count */
	uint64_t off;		/* the offset the next chunk continues at */
	uint64_t copied;	/* bytes received in a row, up to @off (wrapping) */
	bool have_anchor;
	uint8_t chain[GEOREP_HASH_LEN];
	uint8_t anchor[GEOREP_RECORD_HDR_SIZE];	/* the record at seq: its header */
};

/* leaves the tree lacks, fetched from another site (engine_mleaf.c) */
struct eng_mleaf {
	bool active;
	uint64_t to;		/* fetch up to this seq */
	uint64_t next;		/* first seq of the next request */
	uint64_t asked;		/* first seq of the request in flight, 0: none */
	uint64_t asked_ns, t0;
	unsigned int site;	/* asked of (at first: this site) */
	bool answered;		/* @site gave leaves to its last request */
	uint32_t asked_count;	/* leaves asked for in flight */
	uint64_t bad_sites;	/* sites that sent leaves that do not chain */
	uint64_t leaves;	/* fetched */
	uint64_t unavailable;	/* answers without them */
};

/* replica side of a fork heal (engine_heal.c): one 4 KiB block */
struct heal_blk {
	uint64_t block;
	uint64_t wait_seq;	/* HB_WAIT: healed once this record is applied */
	uint8_t state;		/* HB_PENDING, HB_ASKED, HB_WAIT, HB_DONE */
};

struct heal {
	bool active;
	uint64_t fork_seq;	/* the log was truncated after it */
	json_t *forks;		/* the fork files' paths */
	struct heal_blk *blk;	/* sorted by block */
	size_t nblk;
	uint64_t scanned;	/* own log checked for writes to blk up to here */
	uint32_t leader;	/* the leader asked */
	uint64_t asked_ns;
	uint64_t requests, written;
	/* the leader's answers: DATA, SUPERSEDED, UNAVAILABLE, not for us */
	uint64_t ans_data, ans_superseded, ans_unavailable, ans_ignored;
	uint64_t since_ns, reported_ns;	/* heal_report() */
};

#define HEAL_SERVE_QUEUE	4	/* leader: HEAL_REQs waiting, at most */

/* leader: a HEAL_REQ waiting (engine_heal_serve.c) */
struct heal_serve_req {
	unsigned int from;
	uint32_t count;
	uint64_t fork_seq;
	uint64_t scan_from;		/* first record the scan reads */
	uint64_t blocks[GR_HEAL_MAX_BLOCKS];
};

/*
 * leader: the HEAL_REQ being served (req): its blocks read into data
 * (step HS_BLOCKS), the barrier n, then the records up to n scanned into by
 * through rbuf (rcap bytes; HS_SCAN); reading: that step's read is posted
 */
struct heal_serve {
	enum { HS_IDLE, HS_BLOCKS, HS_SCAN } step;
	bool reading;
	struct heal_serve_req req;
	uint64_t n;
	uint64_t by[GR_HEAL_MAX_BLOCKS];
	uint8_t *data, *rbuf;
	size_t rcap;
};

#define ENG_ROOT_SLOTS	16		/* remote-root requests in flight */

struct engine {
	struct gr_replica r;
	struct georepd *d;
	struct gd_volume *vol;
	const char *name;
	struct gr_node *n;
	struct gr_config cfg;
	struct gd_ledger *lg;
	struct gr_timer *timer;
	struct gr_io *lio;
	/*
	 * EPOLLPRI when the ledger hands over records before they are
	 * durable (the kernel's sealed mode): it then reports durability
	 */
	uint32_t lio_pri;
	/* the records this site proposed as leader: term, last seq */
	uint64_t own_term, own_to;
	uint32_t self_id;
	uint32_t ids[GR_CFG_MAX_SITES];		/* site id by site index, 0: no replica */
	/* what the last ready said */
	enum gr_role role;
	uint64_t term;
	uint32_t leader;
	bool writable;
	uint64_t role_since_ns, writable_since_ns;
	uint32_t last_leader;			/* last known leader, 0: none */
	/* quorum-loss policy (engine_policy.c) */
	uint8_t io_state;			/* the ledger's, as last set */
	uint64_t noq_since_ns;			/* leader without a quorum since, 0: has one */
	/* per site (index): its ledger's seqs, from its last *_RESP (leader) */
	struct {
		bool valid;
		uint64_t written, commit, applied;
	} peer_seqs[GR_CFG_MAX_SITES];
	/* this site's ledger seqs sent in *_RESP, refreshed once per tick */
	uint64_t own_seqs_ns;
	uint64_t own_written, own_commit, own_applied;
	/* a switchover held until the device is closed (--wait) */
	bool sw_pending;
	unsigned int sw_to;			/* site index */
	uint64_t sw_deadline_ns;
	uint64_t core_last;			/* the core's last seq after the last ready */
	/* an APPEND whose RECORDS frame has not arrived yet, per site index */
	bool pending[GR_CFG_MAX_SITES];
	struct gr_msg pending_msg[GR_CFG_MAX_SITES];
	struct gr_entry *ents;
	uint8_t *buf;				/* record reads */
	size_t bufcap;
	uint8_t *fbuf;				/* frame encoding */
	uint8_t *xbuf;				/* an APPEND's records from both buffers */
	size_t xcap;
	/* durable state */
	uint64_t commit_saved;
	uint64_t last_maint_ns;
	uint64_t last_follower_compact_ns;	/* engine_process() */
	/* tests: partition */
	bool drop[GR_CFG_MAX_SITES];
	/* per site (index): when its match last equalled our last seq */
	uint64_t caught_up_ns[GR_CFG_MAX_SITES];
	struct resync_out rs_out[GR_CFG_MAX_SITES];
	/*
	 * MLEAF_REQs answered per site: a rate, with a burst; one past it
	 * held until its turn (engine_mleaf.c)
	 */
	uint64_t mleaf_tat[GR_CFG_MAX_SITES];
	struct gr_mleaf_req mleaf_held[GR_CFG_MAX_SITES];
	bool mleaf_holds[GR_CFG_MAX_SITES];
	uint64_t mleaf_answered, mleaf_dropped;
	struct resync_in rs_in;
	uint64_t rs_in_term;			/* our term when it started */
	bool resync_hold;			/* test-resync-hold: no chunks sent */
	struct heal heal;
	bool diverged_orphan;			/* diverged ledger, no heal state */
	uint64_t heals_done, heal_served;
	uint64_t heal_scan_reads;	/* a healing replica's reads of its own log */
	/* leader: HEAL_REQs in; left unanswered (one being served, queue full); UNAVAILABLE */
	uint64_t heal_req_in, heal_req_busy, heal_req_unavailable;
	struct heal_serve hs;			/* leader: engine_heal_serve.c */
	struct heal_serve_req hq[HEAL_SERVE_QUEUE];
	uint32_t hq_head, hq_n;
	struct gd_fork forks[ENG_MAX_FORKS];
	unsigned int nforks;
	uint64_t forks_total;
	/* counters */
	uint64_t proposed, appended, records_sent, bytes_sent, frames_dropped;
	uint64_t proposed_to;		/* leader: last seq proposed from the ledger, this term */
	uint64_t append_calls, append_ns;	/* ledger appends (write(2)s) for them, time in them */
	uint64_t records_refused;	/* by the ledger's checks, from a peer */
	/* appends a full log refused (follower), and the apply's progress meanwhile */
	uint64_t log_full, log_full_applied, log_full_since_ns, log_full_last_ns;
	uint64_t log_full_stall_ns;	/* ENG_LOG_FULL_STALL_NS, tests: less */
	struct gd_ratelimit rl_full;
	unsigned int recs_from;		/* the peer of the RECORDS being stepped */
	uint64_t ship_read;		/* bytes read from the ledger for APPENDs */
	uint64_t ship_buffered;		/* bytes shipped from e->sb */
	uint64_t ship_joined;		/* APPENDs joined from e->cb and e->sb */
	struct gd_shipbuf sb;		/* records proposed, for the APPENDs */
	/*
	 * The leader reads its new records on this thread (engine_pump()),
	 * into sb's room: of pump_len bytes held then, in pump_term, at most
	 * pump_lim bytes (doubled for a larger record); from the core's last
	 * entry when that is a new term's barrier (eng_pump_from()), unless
	 * that read failed in pump_nobarrier_term
	 */
	struct gd_reader rd;		/* the side reads (side_reads()) */
	struct gd_reader prd;		/* the pump's, never behind them */
	unsigned int rd_turn;		/* side_reads(): who goes first */
	uint64_t pump_term, pump_nobarrier_term;
	size_t pump_len, pump_lim;
	/*
	 * the tree lacks records the ledger holds (eng_mtree_catch_up()):
	 * read on rd into mt_rbuf (mt_rlen bytes), mt_rcap at a time, up to
	 * mt_rto; mt_reads of them done
	 */
	bool mt_behind;
	uint8_t *mt_rbuf;
	size_t mt_rlen, mt_rcap;
	uint64_t mt_rto, mt_reads;
	/*
	 * records a follower behind sb needs (engine_catchup.c), read on rd
	 * into cb's room in term cu.term (cu.len bytes held then), cu.lim at a
	 * time; cu.want: the seq to read once rd is free
	 */
	struct gd_shipbuf cb;
	struct {
		bool reading;
		uint64_t want, term, reads;
		size_t len, lim;
	} cu;
	/*
	 * per follower: APPENDs whose records neither buffer held, in order,
	 * sent as soon as a read brings them (engine_catchup.c); the APPENDs
	 * that follow one to that follower wait behind it
	 */
	struct eng_deferred {
		struct gr_msg *q;	/* ENG_DEFER_MAX, allocated at the first */
		uint32_t head, n;
	} dq[GR_CFG_MAX_SITES];
	uint64_t appends_deferred;	/* APPENDs that waited for a read */
	/*
	 * leader: what a full resync sends, read on rd (engine_resync.c):
	 * data bytes off to off + len - 1, or the anchor record (alen bytes
	 * at abuf), each for the resync point seq in term; a read of either
	 * waits for the reader while want is set, and a tick after one failed
	 * (failed_ns)
	 */
	struct eng_rsbuf {
		uint8_t *buf, *abuf;
		uint64_t seq, term, off, aseq, aterm, failed_ns;
		size_t len, alen;
		bool reading, want, anchor;
		uint64_t reads;
		/* reads that failed: all, and in a row (the retry backs off) */
		uint64_t read_errors;
		uint32_t fails;
		int err;			/* the last failure's -errno */
		bool err_anchor;		/* ... reading the anchor at err_at */
		uint64_t err_at, fail_since_ns;	/* its offset or seq; first of the row */
	} rsb;
	struct gd_stages stages;	/* where a write's time goes (stage.h) */
	uint64_t records_in_ns;		/* follower: the RECORDS being answered came in */
	uint64_t elections_won, resyncs_done;
	/* the ledger's Merkle tree (engine_mtree.c); NULL: stopped, mt_why says why */
	struct gd_mtree *mt;
	bool mt_follow;				/* it missed records: catch up from the ledger */
	char mt_why[256];
	struct eng_mleaf mf;			/* ... or from another site's tree */
	/* roots asked of other sites for georepctl verify --via (engine_root.c) */
	struct eng_root_slot {
		uint64_t nonce;			/* the asker's, 0: free */
		unsigned int site;
		uint16_t type;			/* GR_FT_ROOT_REQ or GR_FT_NOTE_REQ */
		/* ROOT_REQ: the size; NOTE_REQ: kind << 32 | index */
		uint64_t key;
		uint64_t asked_ns;		/* last asked, or answered once it is */
		bool answered;
		struct gr_root r;
		json_t *note;			/* NOTE: the control reply */
	} roots[ENG_ROOT_SLOTS];
	/* the fork listing NOTE_REQs are answered from, ENG_NOTES_NS at most */
	json_t *fork_notes;
	uint64_t fork_notes_ns;
	struct eng_ckpt *ck;			/* checkpoints, finality (engine_ckpt.c) */
	/* the log read back against the tree's leaves (engine_scrub.c) */
	struct {
		uint64_t next;			/* next record to check; 0: a new pass */
		uint64_t pass_ns;		/* when this pass began */
		uint64_t last_ns;		/* the last tick's budget ran to here */
		uint64_t io_seen;		/* proposed + appended at the last tick */
		int64_t credit;			/* bytes it may read (negative: overspent) */
		uint64_t bad;			/* first damaged record known, 0: none */
		uint64_t pass_bad;		/* ... found in this pass */
		uint64_t passes, checked, bytes, damaged;
		char why[200];			/* what is wrong with record @bad */
		/* the batch read on rd: from rseq, rcount records, rlim bytes */
		bool reading, want;		/* posted; waits for the pump's read */
		uint64_t rseq;
		uint32_t rcount;
		size_t rlim;
		uint8_t *rbuf;
		size_t rbuf_len;
	} scrub;
	/* seal-key rotation (engine_keys.c) */
	struct {
		uint32_t pending;		/* epoch waiting for a majority, 0: none */
		bool acked[GR_CFG_MAX_SITES];	/* have the pending epoch */
		uint32_t site_epoch[GR_CFG_MAX_SITES];	/* highest acked, per site */
		/* each site's ledger as of its last KEY_ACK: sealing, held */
		struct gr_key_ack site_ack[GR_CFG_MAX_SITES];
		uint32_t have;			/* follower: highest installed */
		uint32_t seen;			/* follower: highest epoch appended */
		uint64_t sent_ns, checked_ns, last_ns, rotations;
		uint64_t reinstalled;		/* follower: retired epochs installed again */
		uint64_t refused;		/* KEY frames not taken (key_refused()) */
		char why[160];			/* the last failure */
	} kr;
	bool restart_node;			/* rebuild the core from the ledger */
	bool failed;
	char fail_reason[160];
	struct gd_ratelimit rl;
};

extern const struct gr_replica_ops engine_ops;

/* engine.c: helpers, the ready loop, the core's (re)start */
const char *eng_role_name(enum gr_role r);
int eng_site_index(const struct engine *e, uint32_t id);
const char *eng_site_name(const struct engine *e, uint32_t id);
/* Stop replicating this volume: something that must never happen did. */
void engine_fail(struct engine *e, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
int eng_ensure_buf(struct engine *e, size_t need);
int engine_process(struct engine *e, const struct gr_records *recs);
/* how far eng_compact() releases */
enum eng_compact_mode {
	ENG_COMPACT_AUTO,	/* in batches, a follower keeps what it can */
	ENG_COMPACT_EAGER,	/* all it safely can: before a new seal key epoch */
	ENG_COMPACT_FORCE,	/* up to applied, whatever a replica needs (tests) */
};
void eng_compact(struct engine *e, enum eng_compact_mode mode);
int eng_node_start(struct engine *e);

/* engine_ship.c: leader side record shipping */
ssize_t eng_read_records(struct engine *e, uint64_t seq, uint32_t count, size_t hint);
#define ENG_READ_MIN	(64U << 10)	/* eng_read_upto(): bytes per read, at least */
#define ENG_READ_MAX	(256U << 20)	/* ... a record larger is refused */
ssize_t eng_read_upto(struct engine *e, uint64_t seq, size_t lim);
int eng_send_frame(struct engine *e, unsigned int site, struct gr_frame *f);
int eng_send_frame_lane(struct engine *e, unsigned int site, struct gr_frame *f,
			 enum gr_lane lane);
void eng_note_in_transit(struct engine *e, unsigned int site);
void eng_send_msg(struct engine *e, const struct gr_msg *m);
void engine_pump(struct engine *e);
int eng_pump_start(struct engine *e);
uint64_t eng_pump_from(struct engine *e, uint64_t last_seq);
ssize_t eng_read_now(void *arg, uint64_t seq, void *buf, size_t cap);

/* engine_catchup.c: a follower's records behind the ship buffer */
void eng_catchup_want(struct engine *e, uint64_t seq);
void eng_catchup_wanted(struct engine *e);
void eng_catchup_ahead(struct engine *e, uint64_t next);
void eng_defer(struct engine *e, unsigned int site, const struct gr_msg *m);
void eng_deferred_send(struct engine *e);
void eng_deferred_drop(struct engine *e);
int eng_send_now(struct engine *e, unsigned int site, const struct gr_msg *msg);
void eng_ledger_ready(struct gr_io *io, uint32_t events, void *arg);
void eng_own_proposed(struct engine *e, uint64_t seq, uint64_t term);
void eng_own_durable(struct engine *e);

/* engine_follow.c: follower appends, incoming frames */
int eng_follower_appends(struct engine *e, const struct gr_records *recs,
			 uint64_t from, uint64_t to, uint64_t *term);
int eng_on_frame(struct gr_replica *r, unsigned int from, const struct gr_frame *f);
const char *eng_refusal(int err);
int eng_peer_refused(struct engine *e, unsigned int from, const char *what,
		     unsigned long long at, const char *why);

/* engine_keys.c: seal-key rotation by the leader */
int eng_key_rotate(struct engine *e, char *err, size_t errlen);
int eng_key_frame(struct engine *e, unsigned int from, const struct gr_frame *f);
void eng_key_peer_up(struct engine *e, unsigned int site);
int eng_key_reinstall(struct engine *e, unsigned int leader, uint32_t epoch, uint64_t seq);
void eng_key_tick(struct engine *e, uint64_t now);
json_t *eng_key_status(struct engine *e);
void eng_key_load(struct engine *e);
struct engine *eng_lookup(struct georepd *d, json_t *req, char *err);

/* engine_role.c: role changes, fencing, barrier, truncation to a fork */
int eng_fork_and_truncate(struct engine *e, uint64_t from);
void eng_on_role(struct engine *e, const struct gr_ready *rd, uint64_t now);
int eng_leader_appends(struct engine *e, uint64_t from, uint64_t to);

/* engine_resync.c: full resync */
void eng_resync_send(struct engine *e);
void eng_resync_wanted(struct engine *e);
int eng_resync_recv(struct engine *e, unsigned int from, const struct gr_frame *f);
int eng_resync_anchor(struct engine *e, const struct georep_record *h,
		      const struct georep_rec *rec);

/* engine_heal.c: healing the blocks of a deposed primary's fork */
int eng_heal_add(struct engine *e, const char *path, uint64_t seq);
int eng_heal_load(struct engine *e);
void eng_heal_tick(struct engine *e, uint64_t now);
void eng_heal_appended(struct engine *e, const struct georep_rec *rec);
int eng_heal_frame(struct engine *e, unsigned int from, const struct gr_frame *f);
bool eng_rec_blocks(const struct georep_rec *rec, uint64_t *first, uint64_t *last);
/* engine_heal_serve.c: the leader's side */
int eng_heal_request(struct engine *e, unsigned int from, const struct gr_heal_req *r);
void eng_heal_serve_wanted(struct engine *e);
void eng_heal_resynced(struct engine *e);
void eng_heal_abandon(struct engine *e);
json_t *eng_heal_status(const struct engine *e);

/* engine_status.c: status, failover */
json_t *eng_status(struct gr_replica *r);
void eng_health(struct gr_replica *r, struct gd_vol_health *h);
int eng_failover(struct gr_replica *r, char *err);

/* engine_mtree.c: the Merkle tree over the ledger */
int eng_mtree_open(struct engine *e);
void eng_mtree_feed(struct engine *e, const struct georep_rec *rec, const void *hdr);
void eng_mtree_follow(struct engine *e);
void eng_mtree_catch_up(struct engine *e);
void eng_mtree_keep_up(struct engine *e);
void eng_mtree_truncated(struct engine *e, uint64_t seq);
void eng_mtree_reset(struct engine *e, uint64_t seq, const uint8_t chain[GEOREP_HASH_LEN]);
uint64_t eng_mtree_release_cap(struct engine *e, uint64_t seq);
void eng_mtree_maint(struct engine *e);
json_t *eng_mtree_status(struct engine *e);
void eng_mtree_stop(struct engine *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* engine_mleaf.c */
void eng_mleaf_start(struct engine *e, uint64_t to);
void eng_mleaf_tick(struct engine *e, uint64_t now);
void eng_mleaf_serve(struct engine *e, uint64_t now);
int eng_mleaf_frame(struct engine *e, unsigned int from, const struct gr_frame *f);
json_t *eng_mleaf_status(struct engine *e);
/* helpers of the proof request, shared with engine_audit.c */
json_t *eng_mtree_b64(const uint8_t *buf, size_t len);
json_t *eng_mtree_proof_json(gr_mhash *proof, unsigned int n);
/* the final checkpoint's size in *@max and its note in *@note, if this tree holds it */
int eng_mtree_final_cap(struct engine *e, uint64_t *max, json_t **note, char *err);
/* engine_audit.c: the audit and final-checkpoint control requests */
void eng_audit_register(struct georepd *d);
/* engine_root.c: other sites' tree roots (ROOT_REQ/ROOT, remote-root) */
int eng_root_frame(struct engine *e, unsigned int from, const struct gr_frame *f);
void eng_root_register(struct georepd *d);
/* requests to other sites for georepctl verify --via (engine_root.c) */
int eng_remote_site(struct engine *e, const char *name, unsigned int version, const char *what,
		    char *err);
int eng_remote_poll(struct engine *e, unsigned int site, uint64_t nonce, uint16_t type,
		    uint64_t key, struct eng_root_slot **done, json_t **resp, char *err);
struct eng_root_slot *eng_remote_waiting(struct engine *e, unsigned int from, uint64_t nonce,
					 uint16_t type, uint64_t key);
void eng_remote_answered(struct eng_root_slot *s);
void eng_remote_done(struct eng_root_slot *s);
void eng_remote_free(struct engine *e);
/* engine_note.c: stored signed checkpoints, NOTE_REQ/NOTE */
int eng_note_frame(struct engine *e, unsigned int from, const struct gr_frame *f);
int eng_note_remote(struct gr_ctl_client *cl, json_t *req, json_t **resp, char *err, void *arg);
json_t *eng_fork_notes(struct engine *e, char *err);
void eng_fork_notes_stale(struct engine *e);

/* engine_scrub.c: records in the log checked against their Merkle leaves */
int eng_scrub_record(struct engine *e, uint64_t seq, char *why, size_t cap);
void eng_scrub_tick(struct engine *e, uint64_t now);
void eng_scrub_wanted(struct engine *e);
const char *eng_scrub_damage(const struct engine *e, uint64_t size);
json_t *eng_scrub_status(const struct engine *e);

/* engine_ckpt.c: checkpoints signed by the leader, cosigned, final */
int eng_ckpt_open(struct engine *e);
void eng_ckpt_close(struct engine *e);
void eng_ckpt_tick(struct engine *e, uint64_t now);
void eng_ckpt_peer_up(struct engine *e, unsigned int site);
int eng_ckpt_frame(struct engine *e, unsigned int from, const struct gr_frame *f);
uint64_t eng_ckpt_final_seq(const struct engine *e);
const char *eng_ckpt_final(const struct engine *e, uint64_t *size);
uint64_t eng_ckpt_release_cap(const struct engine *e, uint64_t seq);
void eng_ckpt_sign_fork(struct engine *e, uint64_t size, const char *fork);
json_t *eng_ckpt_status(const struct engine *e, uint64_t commit);

/* engine_policy.c: quorum-loss policy (io state), switchover */
bool eng_have_quorum(const struct engine *e);
const char *eng_policy_state(const struct engine *e);
void eng_io_policy(struct engine *e, uint64_t now, bool demoting);
void eng_switchover_poll(struct engine *e, uint64_t now);
int eng_switchover(struct gr_replica *r, unsigned int to, unsigned int wait_s, char *err);

#endif /* _GEOREPD_ENGINE_INTERNAL_H */
