/* SPDX-License-Identifier: GPL-2.0 */
/*
 * georep.ko volume half: what volume.c, blk.c, log.c, record.c, recover.c
 * and apply.c share. Nothing outside the volume half includes this file;
 * the control half sees struct georep_volume only through kmod/georep.h.
 *
 * Positions in the log are counted in LSNs: a 64-bit block counter that
 * only grows. The block of LSN l in the circular area is l % area_blocks;
 * a record never straddles the end of the area (see log.c for the wrap
 * rule), so the blocks it skips at the end of a lap are counted as used.
 */
#ifndef _GEOREP_VOL_H
#define _GEOREP_VOL_H

#include <linux/bio.h>
#include <linux/blkdev.h>
#include <linux/mutex.h>
#include <linux/mempool.h>
#include <linux/rwsem.h>
#include <linux/spinlock.h>
#include <linux/workqueue.h>
#include <linux/xarray.h>
#include <crypto/hash.h>

#include "georep.h"

#define GEOREP_SECTORS_PER_BLOCK	(GEOREP_BLOCK_SIZE >> SECTOR_SHIFT)
/* largest payload of one record; bigger bios are split */
#define GEOREP_MAX_PAYLOAD		BIT(20)
#define GEOREP_MAX_PAYLOAD_BLOCKS	(GEOREP_MAX_PAYLOAD / GEOREP_BLOCK_SIZE)
#define GEOREP_MAX_RECORD_BLOCKS	(1 + GEOREP_MAX_PAYLOAD_BLOCKS)
/* a secondary's append buffer: a run of records written with one I/O */
#define GEOREP_APPEND_BUF_BLOCKS	(2 * GEOREP_MAX_RECORD_BLOCKS)
/* discard and write-zeroes records: len is a __le32 of bytes */
#define GEOREP_MAX_NODATA_SECTORS	BIT(21)		/* 1 GiB */
/* payload segments of a record copied while in flight (ship.c) */
#define GEOREP_SHIP_BVECS		(2 * GEOREP_MAX_PAYLOAD_BLOCKS)
/* a log smaller than this cannot hold two of the largest records */
#define GEOREP_MIN_AREA_BLOCKS		(4 * GEOREP_MAX_RECORD_BLOCKS)
/* superblock flags */
#define GEOREP_SB_F_PRIMARY		BIT(0)
/* data device may hold blocks of records a truncate dropped (replica.c) */
#define GEOREP_SB_F_DIVERGED		BIT(1)
/* v2: created standalone, no control plane (volume.c) */
#define GEOREP_SB_F_STANDALONE		BIT(2)
/* how long new durable records may wait for their RECORDS event */
#define GEOREP_NOTIFY_DELAY_MS		5
/* how often the superblock head hint and applied_seq are persisted */
#define GEOREP_SB_SYNC_MS		1000

/* the seal keys installed at one time, sorted by epoch; RCU */
struct georep_keyring {
	struct rcu_head rcu;
	unsigned int nr;
	u32 seal;	/* the epoch sealing new records; 0: the highest */
	struct {
		u32 epoch;
		struct crypto_shash *tfm;	/* hmac(sha256) keyed */
	} slot[GEOREP_MAX_KEYS];
};

/* the slot of @epoch in @ring, or -1 */
static inline int georep_ring_find(const struct georep_keyring *ring,
				   u32 epoch)
{
	unsigned int i;

	for (i = 0; i < ring->nr; i++)
		if (ring->slot[i].epoch == epoch)
			return i;
	return -1;
}

/*
 * The last record sealed with one epoch that entered the log: sealed here,
 * appended, or found by recovery (keys.c, "Retiring epochs"). One more
 * entry than the ring has slots: an epoch is in use only while installed.
 */
struct georep_epoch_use {
	u32 epoch;		/* 0: a free entry */
	u64 last_seq;
};

/* notify_bits */
#define GEOREP_NB_RECORDS		0
#define GEOREP_NB_WATERMARK		1
#define GEOREP_NB_IO_ERROR		2

struct georep_volume {
	struct kref kref;
	struct list_head node;		/* georep_volumes, under georep_vol_mutex */
	char name[GEOREP_NAME_MAX];
	u32 minor;
	bool dead;			/* destroy began; under georep_vol_mutex */

	struct block_device *data_bdev;
	struct block_device *log_bdev;
	struct gendisk *disk;
	struct georep_stream *stream;
	struct workqueue_struct *wq;	/* apply and superblock work, ordered */
	struct workqueue_struct *submit_wq;	/* hashing of queued writes */
	struct bio_set data_bs;		/* clones to the data device */
	struct bio_set log_bs;		/* header and payload bios to the log */
	struct bio_set copy_bs;		/* writes' payloads, copied (io->copy) */
	mempool_t *copy_pool;		/* their pages when the allocator has none */
	struct mutex copy_mutex;	/* one writer at a time takes from it */
	mempool_t *io_pool;		/* struct georep_io */
	mempool_t *page_pool;		/* header blocks */
	struct crypto_shash *sha;	/* sha256: payload and chain hashes */
	struct georep_keyring __rcu *keys;
	struct mutex keys_mutex;	/* serializes keyring replacement */

	/* identity and geometry, fixed after create */
	u8 uuid[GEOREP_UUID_LEN];
	u32 site_id;
	u64 data_sectors;
	u64 area_start;			/* first block of the area */
	u64 area_blocks;
	/*
	 * created standalone (GEOREP_SB_F_STANDALONE): no control plane, so
	 * it attaches in its stored role, commits locally and releases its
	 * own log (release_work); fixed after create
	 */
	bool standalone;

	/*
	 * order_mutex protects the ordering state: next_seq, head_lsn,
	 * last_chain, last_term, tail_seq, tail_lsn, commit_lsn, the index
	 * and epoch_use; the key ring is replaced under it too (keys.c).
	 * Writers hold it for a few microseconds: seq, chain, seal, space.
	 */
	struct mutex order_mutex;
	u64 next_seq;			/* seq of the next record */
	u64 head_lsn;			/* first free lsn */
	u8 last_chain[GEOREP_HASH_LEN];	/* chain hash of next_seq - 1 */
	u64 last_term;			/* term of next_seq - 1 */
	u64 tail_seq;			/* first retained record, >= 1 */
	u64 tail_lsn;
	u8 tail_prev_chain[GEOREP_HASH_LEN];
	u64 commit_lsn;			/* end of the last committed record */
	struct xarray index;		/* seq -> lsn << 9 | (blocks - 1) */
	/*
	 * bumped when a truncate, a reset or a failed group flush replaces
	 * records (walk_verify, the apply cache); written under append_mutex
	 * and order_mutex, so either one keeps it still
	 */
	u64 log_gen;
	/* the epochs retained records are sealed with (keys.c) */
	struct georep_epoch_use epoch_use[GEOREP_MAX_KEYS + 1];
	/* attach: the epoch of a retained record that is not installed */
	u32 missing_epoch;

	/*
	 * lock protects the completion state, every field from ios to
	 * inflight below (written_*, durable_seq, durable_flush,
	 * written_resets, commit_seq, applied_seq, broken); taken from bio
	 * completion (any context, irqsave there) and nested inside
	 * order_mutex. Lock-free readers use READ_ONCE().
	 */
	spinlock_t lock;
	struct list_head ios;		/* georep_io in flight, seq order */
	u64 written_seq;		/* every record <= it is in the log */
	u8 written_chain[GEOREP_HASH_LEN];
	u64 written_lsn;		/* end of written_seq */
	/*
	 * every record <= durable_seq is on the log device's media, not only
	 * in its volatile cache: written with FUA, or written before a flush
	 * of the log device that completed (blk.c, "Durability")
	 */
	u64 durable_seq;		/* under lock */
	/*
	 * a primary's last record sealed by order(); its io is on ios until
	 * it completes, so a sealed-mode stream reader copies it from there
	 * (ship.c). Under lock; zeroed by every role change.
	 */
	u64 sealed_seq;
	u8 durable_chain[GEOREP_HASH_LEN];	/* of durable_seq; lock */
	bool durable_flush;		/* durable_work queued or running; lock */
	u64 written_resets;		/* georep_written_reset() calls; lock */
	/* a broken volume's first written record whose data never went out */
	u64 data_hole;			/* U64_MAX if none; under lock */
	u64 commit_seq;
	u64 applied_seq;
	int broken;			/* -errno once a log write failed */
	u64 inflight;			/* ios on the list */
	/*
	 * log blocks of writes admitted and not yet given their place in the
	 * log (hashing on submit_wq): the queue a burst builds before
	 * head_lsn shows it, counted in the admission context (admit.c)
	 */
	atomic64_t unsealed_blocks;

	/* settings; written under order_mutex and lock, read with READ_ONCE */
	enum georep_role role;
	u64 term;
	enum georep_commit_rule commit_rule;
	u8 high_wm;
	u8 low_wm;
	u64 max_uncommitted;
	bool throttled;			/* under order_mutex */
	enum georep_io_state io_state;	/* blk.c: what writes do */
	/*
	 * LOG_TRUNCATE with TRUNCATE_APPLIED dropped records already on the
	 * data device; cleared by VOLUME_SET DIVERGED=0; persisted in the
	 * superblock flags. Written under order_mutex and lock.
	 */
	bool diverged;

	wait_queue_head_t waitq;	/* stream readers: new durable records */
	wait_queue_head_t throttle_wq;	/* writers: throttle and log space */
	wait_queue_head_t drain_wq;	/* destroy: ios drained */
	/* writers: an overlapping write's data is still in flight (blk.c) */
	wait_queue_head_t conflict_wq;

	struct mutex open_mutex;	/* protects open_count vs destroy */
	unsigned int open_count;

	/*
	 * append_mutex: secondary appends, one at a time, and every change
	 * of the log behind them (truncate, reset, role change, resync
	 * write); taken inside read_mutex, outside apply_mutex.
	 */
	struct mutex append_mutex;
	void *append_buf;		/* under append_mutex; vmalloc */
	/* read_mutex: log readers, verify, release, truncate and reset */
	struct mutex read_mutex;
	/* stream readers waiting for read_mutex (or ship_mutex): a verify pass yields */
	atomic_t log_readers;
	wait_queue_head_t readers_wq;	/* woken when log_readers drops */
	void *read_buf;			/* under read_mutex; vmalloc */
	/*
	 * ship_mutex: sealed-mode reads of records in flight (ship.c), which
	 * never wait behind a read of the log device under read_mutex
	 */
	struct mutex ship_mutex;
	struct georep_record ship_hdr;	/* under ship_mutex */
	struct bio_vec *ship_bv;	/* under ship_mutex */
	/*
	 * apply_mutex: held while records are applied to the data device (the
	 * worker, georep_apply_all()) and across a resync write
	 * (georep_data_write()), so that the two never interleave. The rule:
	 * a resync write applies every committed record first, under the
	 * lock, then writes; a record committed before it never lands on the
	 * data device after it (a LOG_RESET may then skip the records it
	 * superseded). Taken outside sb_mutex, order_mutex and lock, inside
	 * append_mutex; the worker takes nothing else that sleeps.
	 */
	struct mutex apply_mutex;
	void *apply_buf;		/* under apply_mutex */
	/*
	 * Records a secondary appended, checked, kept in memory for the apply
	 * (apply.c, "apply cache"): oldest first, at most
	 * GEOREP_APPLY_CACHE_MAX bytes; under ac_lock.
	 */
	spinlock_t ac_lock;
	struct list_head ac_list;
	size_t ac_bytes;
	/* sb_mutex: superblock writes; inside apply_mutex, outside order_mutex */
	struct mutex sb_mutex;
	struct page *sb_page;		/* under sb_mutex */
	u64 sb_head_seq;		/* last persisted hint, under sb_mutex */
	u64 sb_applied_seq;		/* under sb_mutex */

	/*
	 * The works take the locks themselves, none is queued with one held
	 * that it takes; destroy cancels them after the disk is gone.
	 * apply_work and release_work (standalone: release the log) run on
	 * vol->wq: apply_work takes apply_mutex, release_work read_mutex,
	 * sb_mutex and order_mutex (georep_volume_release()). durable_work
	 * runs on system_wq and takes lock only.
	 */
	struct work_struct apply_work;
	/* blk.c: log flush, then the data writes of the durable records */
	struct work_struct durable_work;
	int apply_error;		/* WRITE_ONCE/READ_ONCE, no lock */
	struct work_struct release_work;
	struct delayed_work sb_work;	/* takes sb_mutex, then order_mutex */
	struct delayed_work notify_work;
	unsigned long notify_bits;	/* atomic bitops, no lock */
};

/* one upper write, discard or write-zeroes in flight */
struct georep_io {
	struct list_head node;		/* vol->ios */
	struct georep_volume *vol;
	struct bio *bio;
	/* the payload, in the volume's pages (blk.c, io_copy()); or NULL */
	struct bio *copy;
	struct page *hdr_page;		/* the header block */
	unsigned long start;		/* io accounting */
	u64 arrived_ns, admitted_ns;	/* ktime_get_ns(): georep_submit trace */
	u64 seq;
	u64 lsn;
	u32 nblocks;
	sector_t sector;		/* the range it writes on the data device */
	u32 nr_sectors;
	atomic_t log_pending;
	blk_status_t status;
	bool log_done;			/* under vol->lock */
	/* data bio submitted: only once the record is durable; under lock */
	bool data_sent;
	bool data_done;
	struct list_head data_node;	/* georep_durable_work()'s batch */
	bool committed;		/* georep_commit traced; under vol->lock */
	bool fua;			/* durable (with all before it) to complete */
	/* PREFLUSH: records <= it were written before the flush was issued */
	u64 flushed_upto;
	u8 flushed_chain[GEOREP_HASH_LEN];
	u8 chain[GEOREP_HASH_LEN];
	struct work_struct work;	/* hashing offload, write-zeroes fallback */
};

static inline struct georep_record *georep_io_hdr(struct georep_io *io)
{
	return page_address(io->hdr_page);
}

/* volume.c */
__printf(2, 3)
void georep_extack_fmt(struct netlink_ext_ack *extack, const char *fmt, ...);
int georep_blk_init(void);
void georep_blk_exit(void);
int georep_apply_all(struct georep_volume *vol);
/* standalone: release applied records once the log passes low_wm / 2 */
void georep_release_kick(struct georep_volume *vol);
void georep_release_work(struct work_struct *work);

/* ship.c: record @seq in flight on a primary (ship_mutex held) */
ssize_t georep_ship_read(struct georep_volume *vol, u64 seq,
			 char __user *buf, size_t len);

/* record.c */
int georep_payload_hash_bio(struct georep_volume *vol, struct bio *bio,
			    u8 *out);
int georep_payload_hash_buf(struct georep_volume *vol, const void *buf,
			    size_t len, u8 *out);
int georep_chain_hash(struct georep_volume *vol, const u8 *prev,
		      const struct georep_record *rec, u8 *out);
int georep_seal(struct georep_volume *vol, struct georep_record *rec);
int georep_seal_check(struct georep_volume *vol,
		      const struct georep_record *rec);
int georep_data_mac(struct georep_volume *vol,
		    const struct georep_data_seal *seal, u64 lba,
		    const void *data, u32 len, u8 *mac);
u32 georep_record_blocks(const struct georep_record *rec);
int georep_record_check_header(struct georep_volume *vol,
			       const struct georep_record *rec);
const char *georep_record_header_error(struct georep_volume *vol,
				       const struct georep_record *rec);

/* keys.c */
u32 georep_seal_epoch(struct georep_volume *vol);
u32 georep_key_epochs(struct georep_volume *vol, u32 *epochs, u32 *seal);
int georep_keys_install(struct georep_volume *vol,
			const struct georep_key *keys, unsigned int nr,
			u32 seal, struct netlink_ext_ack *extack);
void georep_keys_free(struct georep_volume *vol);
void georep_epoch_used(struct georep_volume *vol, u32 epoch, u64 seq);
void georep_epoch_use_reset(struct georep_volume *vol);

/* log.c */
static inline u64 georep_lsn_block(struct georep_volume *vol, u64 lsn)
{
	return vol->area_start + lsn % vol->area_blocks;
}

u64 georep_lsn_place(struct georep_volume *vol, u64 lsn, u32 nblocks);
int georep_log_rw(struct georep_volume *vol, struct block_device *bdev,
		  sector_t sector, void *buf, size_t len, blk_opf_t opf);
int georep_log_read_record(struct georep_volume *vol, u64 lsn, u32 nblocks,
			   void *buf);
/* georep_log_load() flags; header, seq and length checks always apply */
#define GEOREP_LOAD_PAYLOAD	BIT(0)	/* read the payload blocks too */
#define GEOREP_LOAD_HASH	BIT(1)	/* and check the payload hash */
#define GEOREP_LOAD_SEAL	BIT(2)	/* check the seal (-ENOKEY: damage) */
int georep_log_load(struct georep_volume *vol, u64 seq, u64 lsn, u32 nblocks,
		    void *buf, unsigned int flags, const char **why);
void georep_log_bad_record(struct georep_volume *vol, u64 seq,
			   const char *why);
int georep_index_lookup(struct georep_volume *vol, u64 seq, u64 *lsn,
			u32 *nblocks);
int georep_index_store(struct georep_volume *vol, u64 seq, u64 lsn,
		       u32 nblocks);
const char *georep_sb_check(struct georep_volume *vol,
			    const struct georep_superblock *sb);
int georep_sb_read(struct georep_volume *vol, struct georep_superblock *sb);
int georep_sb_format(struct georep_volume *vol, u64 term, bool primary);
int georep_sb_write(struct georep_volume *vol);
int georep_sb_write_tail(struct georep_volume *vol, u64 tail_seq,
			 u64 tail_lsn, const u8 *prev_chain);
void georep_sb_work(struct work_struct *work);

/* blk.c */
int georep_disk_add(struct georep_volume *vol);
void georep_disk_del(struct georep_volume *vol);
void georep_ios_progress(struct georep_volume *vol);
/* every io on vol->ios has its log and data writes done (replica.c) */
bool georep_ios_settled(struct georep_volume *vol);
u64 georep_data_applied(struct georep_volume *vol);
int georep_ios_settle(struct georep_volume *vol);
/*
 * take the ios of records after @seq off vol->ios (a truncate dropped
 * them; order_mutex held), then complete them with EIO outside the locks
 */
unsigned int georep_ios_drop(struct georep_volume *vol, u64 seq,
			     struct list_head *done);
void georep_ios_fail(struct georep_volume *vol, struct list_head *done);
void georep_throttle_update(struct georep_volume *vol);
u64 georep_uncommitted_blocks(struct georep_volume *vol);
void georep_kick_notify(struct georep_volume *vol, int bit);
void georep_notify_work(struct work_struct *work);
void georep_durable_work(struct work_struct *work);
void georep_written_reset(struct georep_volume *vol);

/* admit.c */
bool georep_admit_bpf(struct georep_volume *vol, struct bio *bio);

/* recover.c */
int georep_recover(struct georep_volume *vol, const struct georep_superblock *sb,
		   u64 *bad_seq, struct netlink_ext_ack *extack);
int georep_walk_verify(struct georep_volume *vol, u64 *bad_seq,
		       struct netlink_ext_ack *extack);

/* apply.c */
void georep_apply_work(struct work_struct *work);
int georep_apply_committed(struct georep_volume *vol);
int georep_apply_record(struct georep_volume *vol,
			const struct georep_record *rec, const void *payload);
void georep_apply_kick(struct georep_volume *vol);
void georep_apply_cache_add(struct georep_volume *vol, const void *rec, u32 nblocks,
			    u64 gen);
void georep_apply_cache_free(struct georep_volume *vol);

#endif /* _GEOREP_VOL_H */
