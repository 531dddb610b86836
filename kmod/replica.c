// SPDX-License-Identifier: GPL-2.0
/*
 * What a replication daemon running consensus over the ledger needs beyond
 * appends and reads: LOG_TRUNCATE and LOG_RESET on a secondary, LOG_NOOP on
 * a primary, and resync writes to a secondary's data device
 * (GEOREP_IOC_DATA_WRITE on the log stream).
 *
 * Locks, outermost first, as in volume.c: read_mutex, append_mutex,
 * apply_mutex, sb_mutex, order_mutex, lock.
 *
 * Resync writes and the apply worker (apply_mutex, see vol.h): a
 * DATA_WRITE first applies every committed record, then writes, both
 * under apply_mutex. Without it a committed record older than the resync
 * content could reach the data device after it (the worker was behind),
 * and a LOG_RESET after the resync would then take the block for
 * up to date. LOG_RESET holds apply_mutex while it moves applied_seq.
 *
 * Dropped records and recovery. Recovery walks forward from the tail the
 * superblock names and takes every record that verifies, so records that
 * were dropped but still sit on the log device after the new head would
 * come back after a crash, or, once other records were appended over part
 * of them, look like corruption. Truncate and reset therefore:
 *
 *  1. move the in-memory state first (written_seq back to the new head),
 *  2. write the superblock with PREFLUSH|FUA: its head hint is then at or
 *     below the new head, so a missing record after it is a torn tail and
 *     not corruption (reset also writes the new tail there),
 *  3. zero the header block of every dropped record, the first one with
 *     FUA before the others, then flush the log device,
 *  4. forget the dropped records in the index.
 *
 * sb_mutex is held from 1 to 4, so no periodic superblock write can put the
 * old head hint back in between. Documentation/on-disk-format.rst has the
 * details.
 */
#include <linux/netlink.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <crypto/algapi.h>

#include "vol.h"
#include "trace.h"

/*
 * Zero the header blocks of the records @from..@to still in the index: the
 * first with FUA, the others chained and followed by a flush. Context:
 * process context, the records cannot be appended over meanwhile.
 */
static int zero_headers(struct georep_volume *vol, u64 from, u64 to)
{
	struct bio *prev = NULL, *bio;
	u64 seq, lsn;
	u32 nb;
	int ret;

	if (from > to)
		return 0;
	if (!georep_index_lookup(vol, from, &lsn, &nb)) {
		ret = georep_log_rw(vol, vol->log_bdev,
				    georep_lsn_block(vol, lsn) *
				    GEOREP_SECTORS_PER_BLOCK,
				    page_address(ZERO_PAGE(0)), GEOREP_BLOCK_SIZE,
				    REQ_OP_WRITE | REQ_FUA | REQ_SYNC);
		if (ret)
			return ret;
	}
	for (seq = from + 1; seq <= to; seq++) {
		if (georep_index_lookup(vol, seq, &lsn, &nb))
			continue;
		bio = bio_alloc(vol->log_bdev, 1, REQ_OP_WRITE, GFP_NOIO);
		bio->bi_iter.bi_sector = georep_lsn_block(vol, lsn) *
					 GEOREP_SECTORS_PER_BLOCK;
		__bio_add_page(bio, ZERO_PAGE(0), GEOREP_BLOCK_SIZE, 0);
		if (prev) {
			bio_chain(prev, bio);
			submit_bio(prev);
		}
		prev = bio;
		cond_resched();
	}
	if (!prev)
		return 0;
	ret = submit_bio_wait(prev);
	bio_put(prev);
	return ret ?: blkdev_issue_flush(vol->log_bdev);
}

static void index_erase(struct georep_volume *vol, u64 from, u64 to)
{
	u64 seq;

	lockdep_assert_held(&vol->order_mutex);
	for (seq = from; seq <= to; seq++)
		xa_erase(&vol->index, seq);
}

/* a failed fence leaves records on disk that memory dropped: stop */
static void fence_failed(struct georep_volume *vol, int err)
{
	spin_lock_irq(&vol->lock);
	if (!vol->broken)
		vol->broken = err;
	spin_unlock_irq(&vol->lock);
	pr_err("%s: zeroing dropped records failed: %d\n", vol->name, err);
	georep_kick_notify(vol, GEOREP_NB_IO_ERROR);
}

static int check_secondary(struct georep_volume *vol,
			   struct netlink_ext_ack *extack)
{
	if (READ_ONCE(vol->dead)) {
		NL_SET_ERR_MSG(extack, "the volume is being deleted");
		return -ENODEV;
	}
	if (READ_ONCE(vol->role) != GEOREP_ROLE_SECONDARY) {
		NL_SET_ERR_MSG(extack, "secondary only: the volume is primary");
		return -EBUSY;
	}
	if (READ_ONCE(vol->broken)) {
		NL_SET_ERR_MSG(extack, "the volume had a log write error");
		return READ_ONCE(vol->broken);
	}
	return 0;
}

/* the last record whose write reached the data device; vol->lock held */
static u64 data_seq(struct georep_volume *vol)
{
	u64 seq = vol->applied_seq;

	lockdep_assert_held(&vol->lock);
	if (!list_empty(&vol->ios))
		seq = max(seq, list_last_entry(&vol->ios, struct georep_io,
					       node)->seq);
	return seq;
}

/*
 * Whether the log may be cut after @seq (commit <= @seq <= written, and
 * applied <= @seq unless @drop_applied); *@diverge when applied records go.
 * *@tail and *@written: as they were then.
 */
static int truncate_bounds(struct georep_volume *vol, u64 seq, bool drop_applied,
			   u64 *tail, u64 *written, bool *diverge,
			   struct netlink_ext_ack *extack)
{
	u64 commit, applied;

	mutex_lock(&vol->order_mutex);
	*tail = vol->tail_seq;
	spin_lock_irq(&vol->lock);
	commit = vol->commit_seq;
	applied = data_seq(vol);
	*written = vol->written_seq;
	spin_unlock_irq(&vol->lock);
	mutex_unlock(&vol->order_mutex);

	if (seq < commit) {
		georep_extack_fmt(extack, "seq %llu is below commit %llu",
				  seq, commit);
		return -EINVAL;
	}
	if (seq > *written) {
		georep_extack_fmt(extack, "seq %llu is past the last written record %llu",
				  seq, *written);
		return -EINVAL;
	}
	*diverge = seq < applied;
	if (*diverge && !drop_applied) {
		georep_extack_fmt(extack, "seq %llu is below applied %llu (TRUNCATE_APPLIED)",
				  seq, applied);
		return -EINVAL;
	}
	return 0;
}

/* The new head: record @seq, or the tail when it is not retained (< @tail). */
static int truncate_new_head(struct georep_volume *vol, u64 seq, u64 tail, u64 *head_lsn,
			     u8 chain[GEOREP_HASH_LEN], u64 *term,
			     struct netlink_ext_ack *extack)
{
	struct georep_record *rec = vol->read_buf;
	const char *why;
	u64 lsn;
	u32 nb;
	int ret;

	if (seq < tail) {
		mutex_lock(&vol->order_mutex);
		*head_lsn = vol->tail_lsn;
		memcpy(chain, vol->tail_prev_chain, GEOREP_HASH_LEN);
		mutex_unlock(&vol->order_mutex);
		*term = 0;	/* as recovery: the term before the tail is unknown */
		return 0;
	}
	ret = georep_index_lookup(vol, seq, &lsn, &nb) ?:
	      georep_log_load(vol, seq, lsn, nb, rec, 0, &why);
	if (ret == -EBADMSG) {
		georep_log_bad_record(vol, seq, why);
		ret = -EIO;
	}
	if (ret) {
		georep_extack_fmt(extack, "cannot read record %llu back", seq);
		return ret;
	}
	*head_lsn = lsn + nb;
	memcpy(chain, rec->chain_hash, GEOREP_HASH_LEN);
	*term = le64_to_cpu(rec->term);
	return 0;
}

/*
 * LOG_TRUNCATE. @drop_applied: TRUNCATE_APPLIED, @seq may be below the
 * records on the data device (a deposed primary's suffix): applied_seq
 * drops to @seq and the volume is diverged until VOLUME_SET DIVERGED=0.
 */
static int log_truncate(struct georep_volume *vol, u64 seq, bool drop_applied,
			struct netlink_ext_ack *extack)
{
	u64 written, tail, lsn, head_lsn, term;
	u8 chain[GEOREP_HASH_LEN];
	unsigned int failed;
	LIST_HEAD(dropped);
	bool diverge;
	int ret;

	mutex_lock(&vol->read_mutex);
	mutex_lock(&vol->append_mutex);
	ret = check_secondary(vol, extack);
	if (ret)
		goto out_unlock;
	/* no record above @seq is being applied, no write still in flight */
	flush_work(&vol->apply_work);
	ret = georep_ios_settle(vol);
	if (ret)
		goto out_unlock;

	ret = truncate_bounds(vol, seq, drop_applied, &tail, &written, &diverge, extack);
	if (ret || seq == written)
		goto out_unlock;
	ret = truncate_new_head(vol, seq, tail, &head_lsn, chain, &term, extack);
	if (ret)
		goto out_unlock;

	mutex_lock(&vol->sb_mutex);
	mutex_lock(&vol->order_mutex);
	/* VOLUME_SET COMMIT_SEQ takes order_mutex: check again under it */
	if (READ_ONCE(vol->commit_seq) > seq) {
		mutex_unlock(&vol->order_mutex);
		georep_extack_fmt(extack, "seq %llu is below commit %llu",
				  seq, READ_ONCE(vol->commit_seq));
		ret = -EINVAL;
		goto out_unlock_sb;
	}
	vol->next_seq = seq + 1;
	vol->log_gen++;
	vol->head_lsn = head_lsn;
	memcpy(vol->last_chain, chain, sizeof(chain));
	vol->last_term = term;
	spin_lock_irq(&vol->lock);
	vol->commit_lsn = min(vol->commit_lsn, head_lsn);
	vol->written_seq = seq;
	vol->written_lsn = head_lsn;
	memcpy(vol->written_chain, chain, sizeof(chain));
	georep_written_reset(vol);
	if (diverge) {
		vol->applied_seq = min(vol->applied_seq, seq);
		vol->diverged = true;
	}
	spin_unlock_irq(&vol->lock);
	georep_throttle_update(vol);
	/* under order_mutex: commit_seq cannot cover a dropped seq yet */
	failed = georep_ios_drop(vol, seq, &dropped);
	tail = vol->tail_seq;
	lsn = vol->tail_lsn;
	memcpy(chain, vol->tail_prev_chain, sizeof(chain));
	mutex_unlock(&vol->order_mutex);
	georep_ios_fail(vol, &dropped);

	/* with applied_seq and DIVERGED in it */
	ret = georep_sb_write_tail(vol, tail, lsn, chain);
	if (ret) {
		NL_SET_ERR_MSG(extack, "superblock write failed");
		fence_failed(vol, ret);
		goto out_unlock_sb;
	}
	ret = zero_headers(vol, seq + 1, written);
	if (ret) {
		NL_SET_ERR_MSG(extack, "zeroing the dropped records failed");
		fence_failed(vol, ret);
		goto out_unlock_sb;
	}
	mutex_lock(&vol->order_mutex);
	index_erase(vol, seq + 1, written);
	mutex_unlock(&vol->order_mutex);
	pr_info("%s: log truncated after %llu (records %llu..%llu dropped%s, %u writes failed)\n",
		vol->name, seq, seq + 1, written,
		diverge ? ", applied: diverged" : "", failed);

out_unlock_sb:
	mutex_unlock(&vol->sb_mutex);
	wake_up_all(&vol->waitq);
	georep_kick_notify(vol, GEOREP_NB_RECORDS);
out_unlock:
	mutex_unlock(&vol->append_mutex);
	mutex_unlock(&vol->read_mutex);
	return ret;
}

/**
 * georep_log_truncate() - drop the records after @seq on a secondary
 * @vol: the volume
 * @seq: the last record kept; commit_seq <= @seq, applied_seq <= @seq,
 *	 @seq <= written_seq
 * @extack: why it was refused
 *
 * The next appended record must be @seq + 1 and chain from record @seq.
 * Writes of a deposed primary still waiting for a dropped record's commit
 * complete with EIO. Return: 0, -EBUSY on a primary, -EINVAL for @seq out
 * of range, or an I/O error. Context: process context, sleeps.
 */
int georep_log_truncate(struct georep_volume *vol, u64 seq,
			struct netlink_ext_ack *extack)
{
	return log_truncate(vol, seq, false, extack);
}

/**
 * georep_log_truncate_applied() - LOG_TRUNCATE with TRUNCATE_APPLIED
 * @vol: the volume
 * @seq: the last record kept; commit_seq <= @seq <= written_seq
 * @extack: why it was refused
 *
 * As georep_log_truncate(), and @seq may be below the records on the data
 * device (a deposed primary's own suffix): applied_seq becomes @seq and
 * the volume is diverged (persisted; no promotion) until VOLUME_SET
 * DIVERGED=0 says the blocks of the dropped records were resynced.
 * Context: process context, sleeps.
 */
int georep_log_truncate_applied(struct georep_volume *vol, u64 seq,
				struct netlink_ext_ack *extack)
{
	return log_truncate(vol, seq, true, extack);
}

/* the anchor of a reset: a well-formed record of @vol, sealed by its key */
static int anchor_check(struct georep_volume *vol,
			const struct georep_record *anchor,
			struct netlink_ext_ack *extack)
{
	const char *why = georep_record_header_error(vol, anchor);
	int ret;

	if (why) {
		georep_extack_fmt(extack, "anchor record: %s", why);
		return -EINVAL;
	}
	if (le64_to_cpu(anchor->seq) == U64_MAX) {
		NL_SET_ERR_MSG(extack, "anchor record: seq out of range");
		return -EINVAL;
	}
	ret = georep_seal_check(vol, anchor);
	if (ret == -ENOKEY)
		georep_extack_fmt(extack, "anchor record: seal epoch %u is not installed",
				  le32_to_cpu(anchor->seal_epoch));
	else if (ret == -EBADMSG)
		NL_SET_ERR_MSG(extack, "anchor record: the seal does not match");
	else if (ret)
		NL_SET_ERR_MSG(extack, "anchor record: sealing failed");
	return ret;
}

/**
 * georep_log_reset() - restart a secondary's log, empty, after @anchor
 * @vol: the volume
 * @anchor: header of the record the data device is as of (after a resync):
 *	    checked like an appended record's header and by its seal
 * @extack: why it was refused
 *
 * Every retained record is forgotten; the next appended record must be the
 * anchor's seq + 1 and chain from its chain hash; applied_seq and
 * commit_seq become its seq, the volume's term at least its term. Writes
 * of a deposed primary still waiting for a commit complete with EIO. The
 * new state is durable (superblock with FUA) before returning.
 * Context: process context, sleeps.
 */
int georep_log_reset(struct georep_volume *vol,
		     const struct georep_record *anchor,
		     struct netlink_ext_ack *extack)
{
	u64 seq = le64_to_cpu(anchor->seq), term = le64_to_cpu(anchor->term);
	u64 old_tail, old_written, head_lsn;
	u8 chain[GEOREP_HASH_LEN];
	LIST_HEAD(dropped);
	int ret;

	ret = anchor_check(vol, anchor, extack);
	if (ret)
		return ret;
	memcpy(chain, anchor->chain_hash, sizeof(chain));
	mutex_lock(&vol->read_mutex);
	mutex_lock(&vol->append_mutex);
	ret = check_secondary(vol, extack);
	if (ret)
		goto out_unlock;
	/* the apply worker must not apply a record of the forgotten log */
	flush_work(&vol->apply_work);
	ret = georep_ios_settle(vol);
	if (ret)
		goto out_unlock;

	/* nor start one now (a COMMIT_SEQ may have queued it again) */
	mutex_lock(&vol->apply_mutex);
	mutex_lock(&vol->sb_mutex);
	mutex_lock(&vol->order_mutex);
	/*
	 * A deposed primary's writes still waiting for a commit: the commit_seq
	 * set below is the new log's, which may hold other records at their seqs.
	 */
	georep_ios_drop(vol, 0, &dropped);
	georep_epoch_use_reset(vol);
	old_tail = vol->tail_seq;
	head_lsn = vol->head_lsn;
	vol->tail_seq = seq + 1;
	vol->tail_lsn = head_lsn;
	memcpy(vol->tail_prev_chain, chain, sizeof(chain));
	vol->next_seq = seq + 1;
	vol->log_gen++;
	memcpy(vol->last_chain, chain, sizeof(chain));
	vol->last_term = term;
	vol->commit_lsn = head_lsn;
	spin_lock_irq(&vol->lock);
	old_written = vol->written_seq;
	vol->written_seq = seq;
	vol->written_lsn = head_lsn;
	memcpy(vol->written_chain, chain, sizeof(chain));
	georep_written_reset(vol);
	vol->commit_seq = seq;
	vol->applied_seq = seq;
	if (term > vol->term)
		WRITE_ONCE(vol->term, term);
	spin_unlock_irq(&vol->lock);
	georep_throttle_update(vol);
	mutex_unlock(&vol->order_mutex);
	georep_ios_fail(vol, &dropped);
	WRITE_ONCE(vol->apply_error, 0);

	ret = georep_sb_write_tail(vol, seq + 1, head_lsn, chain);
	if (ret) {
		NL_SET_ERR_MSG(extack, "superblock write failed");
		fence_failed(vol, ret);
		goto out_unlock_sb;
	}
	/* records of the old log that recovery could take for @seq + 1 on */
	ret = zero_headers(vol, max(old_tail, seq + 1), old_written);
	if (ret) {
		NL_SET_ERR_MSG(extack, "zeroing the forgotten records failed");
		fence_failed(vol, ret);
		goto out_unlock_sb;
	}
	mutex_lock(&vol->order_mutex);
	index_erase(vol, old_tail, old_written);
	mutex_unlock(&vol->order_mutex);
	pr_info("%s: log reset: empty at %llu, term %llu\n", vol->name, seq,
		READ_ONCE(vol->term));

out_unlock_sb:
	mutex_unlock(&vol->sb_mutex);
	mutex_unlock(&vol->apply_mutex);
	wake_up_all(&vol->waitq);
	wake_up_all(&vol->throttle_wq);
	georep_kick_notify(vol, GEOREP_NB_RECORDS);
out_unlock:
	mutex_unlock(&vol->append_mutex);
	mutex_unlock(&vol->read_mutex);
	return ret;
}

/* order_mutex held: every record ordered so far is written (or broken) */
static bool ios_written(struct georep_volume *vol)
{
	bool done;

	lockdep_assert_held(&vol->order_mutex);
	spin_lock_irq(&vol->lock);
	done = vol->written_seq + 1 == vol->next_seq || vol->broken;
	spin_unlock_irq(&vol->lock);
	return done;
}

static bool noop_space_ok(struct georep_volume *vol)
{
	return READ_ONCE(vol->dead) || READ_ONCE(vol->broken) ||
	       READ_ONCE(vol->role) != GEOREP_ROLE_PRIMARY ||
	       georep_lsn_place(vol, READ_ONCE(vol->head_lsn), 1) + 1 -
	       READ_ONCE(vol->tail_lsn) <= vol->area_blocks;
}

static void noop_header(struct georep_volume *vol, struct georep_record *rec)
{
	memset(rec, 0, GEOREP_BLOCK_SIZE);
	rec->magic = cpu_to_le32(GEOREP_RECORD_MAGIC);
	rec->version = cpu_to_le16(GEOREP_RECORD_VERSION);
	rec->op = cpu_to_le16(GEOREP_OP_NOOP);
	rec->timestamp_ns = cpu_to_le64(ktime_get_real_ns());
	rec->site_id = cpu_to_le32(vol->site_id);
	memcpy(rec->volume_uuid, vol->uuid, GEOREP_UUID_LEN);
}

/*
 * Order one no-op record and write it. Return: 0 with *@seq set, -EAGAIN
 * when the log has no block free (wait and retry), or an error.
 * Context: takes order_mutex and keeps it until the record is durable.
 */
static int noop_write(struct georep_volume *vol, struct georep_record *rec,
		      u64 *seq, struct netlink_ext_ack *extack)
{
	u64 lsn, s;
	int ret;

	mutex_lock(&vol->order_mutex);
	ret = -EROFS;
	if (READ_ONCE(vol->dead) || vol->role != GEOREP_ROLE_PRIMARY) {
		NL_SET_ERR_MSG(extack, "the volume is not primary");
		goto out_unlock;
	}
	lsn = georep_lsn_place(vol, vol->head_lsn, 1);
	ret = -EAGAIN;
	if (lsn + 1 - vol->tail_lsn > vol->area_blocks)
		goto out_unlock;
	/*
	 * Records ordered before this one complete without order_mutex; the
	 * no-op becomes written only after them (written_seq moves in seq
	 * order), so wait for them here. Writers queue behind order_mutex
	 * for that long.
	 */
	while (!ios_written(vol)) {
		if (fatal_signal_pending(current)) {
			ret = -EINTR;
			goto out_unlock;
		}
		wait_event_timeout(vol->waitq, ios_written(vol), HZ / 10);
	}
	ret = vol->broken;
	if (ret) {
		NL_SET_ERR_MSG(extack, "the volume had a log write error");
		goto out_unlock;
	}

	s = vol->next_seq;
	rec->seq = cpu_to_le64(s);
	rec->term = cpu_to_le64(vol->term);
	rec->seal_epoch = cpu_to_le32(georep_seal_epoch(vol));
	ret = georep_chain_hash(vol, vol->last_chain, rec, rec->chain_hash) ?:
	      georep_seal(vol, rec);
	if (ret) {
		NL_SET_ERR_MSG(extack, "cannot seal the record");
		goto out_unlock;
	}
	ret = georep_index_store(vol, s, lsn, 1);
	if (ret)
		goto out_unlock;
	georep_epoch_used(vol, le32_to_cpu(rec->seal_epoch), s);
	trace_georep_submit(vol, s, GEOREP_OP_NOOP, 0, 0, 0, 0);

	/* PREFLUSH: the records before it are durable with it */
	ret = georep_log_rw(vol, vol->log_bdev,
			    georep_lsn_block(vol, lsn) * GEOREP_SECTORS_PER_BLOCK,
			    rec, GEOREP_BLOCK_SIZE,
			    REQ_OP_WRITE | REQ_PREFLUSH | REQ_FUA | REQ_SYNC);
	if (ret) {
		xa_erase(&vol->index, s);
		spin_lock_irq(&vol->lock);
		if (!vol->broken)
			vol->broken = ret;
		spin_unlock_irq(&vol->lock);
		pr_err_ratelimited("%s: log write of record %llu failed: %d\n",
				   vol->name, s, ret);
		NL_SET_ERR_MSG(extack, "log write failed");
		georep_kick_notify(vol, GEOREP_NB_IO_ERROR);
		goto out_unlock;
	}

	vol->next_seq = s + 1;
	vol->head_lsn = lsn + 1;
	vol->last_term = vol->term;
	memcpy(vol->last_chain, rec->chain_hash, GEOREP_HASH_LEN);
	spin_lock_irq(&vol->lock);
	if (s <= vol->commit_seq)
		vol->commit_lsn = vol->head_lsn;
	vol->written_seq = s;
	vol->written_lsn = vol->head_lsn;
	memcpy(vol->written_chain, rec->chain_hash, GEOREP_HASH_LEN);
	georep_written_reset(vol);
	/*
	 * the no-op has no data, but the writes before it may still be on
	 * their way to the data device: applied_seq passes them only once
	 * they are done (collect() moves it on then)
	 */
	vol->applied_seq = georep_data_applied(vol);
	spin_unlock_irq(&vol->lock);
	georep_throttle_update(vol);
	*seq = s;
out_unlock:
	mutex_unlock(&vol->order_mutex);
	return ret;
}

/**
 * georep_log_noop() - append a no-op record on a primary
 * @vol: the volume
 * @seq: set to the record's seq
 * @extack: why it failed
 *
 * The record is ordered like a write (seq, chain, seal, log space, waiting
 * while the log is full) in the current term, and written with
 * PREFLUSH|FUA. Returns once it is durable in the local log, whatever the
 * commit rule: the caller, not the kernel, waits for the quorum.
 * Return: 0, -EROFS when not primary, or an error. Context: process
 * context, sleeps.
 */
int georep_log_noop(struct georep_volume *vol, u64 *seq,
		    struct netlink_ext_ack *extack)
{
	struct georep_record *rec;
	struct page *page;
	int ret;

	if (READ_ONCE(vol->role) != GEOREP_ROLE_PRIMARY) {
		NL_SET_ERR_MSG(extack, "the volume is not primary");
		return -EROFS;
	}
	page = alloc_page(GFP_KERNEL);
	if (!page)
		return -ENOMEM;
	rec = page_address(page);
	noop_header(vol, rec);
	ret = georep_payload_hash_buf(vol, NULL, 0, rec->payload_hash);
	if (ret)
		goto out_free_page;

	while ((ret = noop_write(vol, rec, seq, extack)) == -EAGAIN) {
		ret = wait_event_killable(vol->throttle_wq,
					  noop_space_ok(vol));
		if (ret)
			goto out_free_page;
	}
	if (ret)
		goto out_free_page;
	trace_georep_complete(vol, *seq, 0, le64_to_cpu(rec->timestamp_ns));
	wake_up_all(&vol->waitq);
	georep_kick_notify(vol, GEOREP_NB_RECORDS);
out_free_page:
	__free_page(page);
	return ret;
}

/* a data range of @vol: 4 KiB aligned, 1 B..1 MiB, inside the device */
static bool data_range_ok(struct georep_volume *vol,
			  const struct georep_data_write *dw)
{
	return dw->len && dw->len <= GEOREP_MAX_PAYLOAD &&
	       !(dw->len % GEOREP_BLOCK_SIZE) &&
	       !(dw->lba % GEOREP_SECTORS_PER_BLOCK) &&
	       dw->lba <= vol->data_sectors &&
	       (dw->len >> SECTOR_SHIFT) <= vol->data_sectors - dw->lba;
}

/* the data seal of @dw over @data (its copy in kernel memory) */
static int data_seal_check(struct georep_volume *vol,
			   const struct georep_data_write *dw, const void *data)
{
	u8 mac[GEOREP_HASH_LEN];
	u64 term = READ_ONCE(vol->term);
	int ret;

	if (dw->seal.term < term) {
		pr_warn_ratelimited("%s: resync write at %llu refused: sealed in term %llu, the volume is at %llu\n",
				    vol->name, dw->lba, dw->seal.term, term);
		return -ESTALE;
	}
	ret = georep_data_mac(vol, &dw->seal, dw->lba, data, dw->len, mac);
	if (!ret && crypto_memneq(mac, dw->seal.mac, GEOREP_HASH_LEN))
		ret = -EBADMSG;
	memzero_explicit(mac, sizeof(mac));
	if (ret)
		pr_warn_ratelimited("%s: resync write at %llu refused: %s (epoch %u)\n",
				    vol->name, dw->lba,
				    ret == -ENOKEY ? "seal epoch not installed" :
				    ret == -EBADMSG ? "data seal does not match" :
				    "sealing failed", dw->seal.epoch);
	return ret;
}

/**
 * georep_data_write() - resync: write a range of a secondary's data device
 * @vol: the volume
 * @dw: the request; @dw->buf is a user pointer
 *
 * The range is written only once its data seal checks (data_seal_check()).
 * Synchronous; with GEOREP_DW_FUA the range is durable on return. Every
 * record committed before the call is applied first (see the top of this
 * file), so none of them lands on the range after the write.
 * Return: 0, -EROFS on a primary, -EINVAL for a range that is not 4 KiB
 * aligned, empty, over 1 MiB or past the end of the volume, -ENOKEY,
 * -ESTALE or -EBADMSG for a seal that does not check, -EFAULT, the error
 * that stopped the apply worker, or an I/O error.
 * Context: process context, sleeps; serialized with appends and applies.
 */
int georep_data_write(struct georep_volume *vol,
		      const struct georep_data_write *dw)
{
	blk_opf_t opf = REQ_OP_WRITE | REQ_SYNC;
	int ret;

	if (dw->flags & ~GEOREP_DW_FUA || dw->seal.reserved ||
	    !data_range_ok(vol, dw))
		return -EINVAL;
	if (dw->flags & GEOREP_DW_FUA)
		opf |= REQ_FUA;

	if (mutex_lock_interruptible(&vol->append_mutex))
		return -ERESTARTSYS;
	ret = -ENODEV;
	if (READ_ONCE(vol->dead))
		goto out_unlock;
	ret = -EROFS;
	if (READ_ONCE(vol->role) != GEOREP_ROLE_SECONDARY)
		goto out_unlock;
	/* no data write of a deposed primary lands after this one */
	ret = georep_ios_settle(vol);
	if (ret)
		goto out_unlock;
	ret = -EFAULT;
	if (copy_from_user(vol->append_buf, u64_to_user_ptr(dw->buf), dw->len))
		goto out_unlock;
	ret = data_seal_check(vol, dw, vol->append_buf);
	if (ret)
		goto out_unlock;
	mutex_lock(&vol->apply_mutex);
	ret = georep_apply_committed(vol);
	if (ret) {
		pr_err_ratelimited("%s: resync write refused: applying the committed records failed: %d\n",
				   vol->name, ret);
		goto out_unlock_apply;
	}
	ret = georep_log_rw(vol, vol->data_bdev, dw->lba, vol->append_buf,
			    dw->len, opf);
	if (ret)
		pr_err_ratelimited("%s: resync write at %llu failed: %d\n",
				   vol->name, dw->lba, ret);
out_unlock_apply:
	mutex_unlock(&vol->apply_mutex);
out_unlock:
	mutex_unlock(&vol->append_mutex);
	return ret;
}

/**
 * georep_data_seal() - a primary seals blocks for a secondary's resync
 * @vol: the volume
 * @dw: in: lba, buf (user pointer), len, seal.seq, flags 0; out: seal.term
 *	(the volume's), seal.epoch (the one it seals records with), seal.mac
 *
 * Return: 0, -EINVAL for a bad range or flags, -EPERM when not the
 * primary, -ENOKEY without a key, -EFAULT, or a crypto error.
 * Context: process context, sleeps.
 */
int georep_data_seal(struct georep_volume *vol, struct georep_data_write *dw)
{
	void *buf;
	int ret;

	if (dw->flags || dw->seal.reserved || !data_range_ok(vol, dw))
		return -EINVAL;
	if (READ_ONCE(vol->role) != GEOREP_ROLE_PRIMARY)
		return -EPERM;
	buf = kvmalloc(dw->len, GFP_KERNEL);
	if (!buf)
		return -ENOMEM;
	ret = -EFAULT;
	if (copy_from_user(buf, u64_to_user_ptr(dw->buf), dw->len))
		goto out_free;
	dw->seal.term = READ_ONCE(vol->term);
	dw->seal.epoch = georep_seal_epoch(vol);
	ret = dw->seal.epoch ? georep_data_mac(vol, &dw->seal, dw->lba, buf,
					      dw->len, dw->seal.mac) : -ENOKEY;
out_free:
	kvfree(buf);
	return ret;
}

/**
 * georep_data_read() - read a range of the data device for the daemon
 * @vol: the volume
 * @dw: lba, buf (user pointer), len; flags and seal zero
 *
 * What a resync or a heal sends is read here, so that georepd never opens
 * the volume's block device: an opener that stays keeps a writer's close
 * from being the last one, the close that writes the writer's dirty pages
 * back, and would count as a user of the device (a switchover waits for
 * none). The bytes come from the data device as it is, as a read of the
 * block device would return them.
 * Return: 0, -EINVAL for a bad range, flags or seal, -ENOMEM, -EFAULT, or
 * an I/O error. Context: process context, sleeps.
 */
int georep_data_read(struct georep_volume *vol, const struct georep_data_write *dw)
{
	void *buf;
	int ret;

	if (dw->flags || memchr_inv(&dw->seal, 0, sizeof(dw->seal)) ||
	    !data_range_ok(vol, dw))
		return -EINVAL;
	/* whole pages, page aligned: georep_log_rw() maps them into bios */
	buf = vmalloc(dw->len);
	if (!buf)
		return -ENOMEM;
	ret = georep_log_rw(vol, vol->data_bdev, dw->lba, buf, dw->len,
			    REQ_OP_READ);
	if (ret)
		pr_err_ratelimited("%s: data read at %llu for the daemon failed: %d\n",
				   vol->name, dw->lba, ret);
	else if (copy_to_user(u64_to_user_ptr(dw->buf), buf, dw->len))
		ret = -EFAULT;
	vfree(buf);
	return ret;
}
