// SPDX-License-Identifier: GPL-2.0
/*
 * Appends on a secondary: whole records from userspace (the log stream's
 * write(2)), each checked before anything of it is stored, written as a
 * group with one cache flush (group commit).
 *
 * One write(2) holds one or more records back to back, laid out as
 * georep_log_read() hands them out (256-byte header, then the payload). Each
 * is copied, checked against the record before it (seq, term, payload hash,
 * chain hash, seal) and placed; the records whose places in the log follow
 * each other go to the log device as one run, a single write without FUA
 * from append_buf (up to GEOREP_APPEND_BUF_BLOCKS; a run also ends where
 * the log wraps). After the last run, one flush of the log device makes the
 * group durable, and only then does written_seq move to its last record.
 * What a write(2) reports never covers a record that sits in a volatile
 * cache.
 *
 * A power cut before the flush may leave any subset of the group on the
 * disk, in any order. Recovery (recover.c) takes a record that is missing
 * or torn past the persisted head hint for the torn tail, as it does for
 * the primary's concurrent writes; the head hint never passes written_seq,
 * which was at the group before. Records of the group that reached the
 * disk behind a lost one stay there, and once the next history wrote over
 * the lost one's place recovery ends the log at them by their seal (a
 * record of another history, recover.c walk_stop()), not at corruption.
 *
 * commit_seq never passes the durable records (volume.c refuses it), so
 * neither it nor commit_lsn covers a record of a group in flight: placing
 * or undoing one leaves them alone.
 *
 * A record that fails a check ends the group: the records before it are
 * written, made durable and counted (a short write), and the next write(2),
 * which starts with the refused record, gets its error. A run whose write
 * fails is forgotten whole, and ends the group the same way: the runs
 * before it are flushed and counted. A flush that fails undoes the group in
 * memory (nothing of it is acknowledged) and marks the volume broken: its
 * writes may still reach the disk, and only recovery at the next attach can
 * tell.
 */
#include <linux/uaccess.h>

#include "vol.h"

/* the state before a group or a run, restored when it cannot be kept */
struct append_group {
	u64 first_seq;
	u64 head_lsn;
	u64 last_term;
	u8 last_chain[GEOREP_HASH_LEN];
	struct georep_epoch_use epoch_use[GEOREP_MAX_KEYS + 1];
};

/* records placed back to back in append_buf, written with one I/O */
struct append_run {
	struct append_group before;
	u64 lsn;		/* of its first record */
	u32 blocks;		/* in append_buf, from its start */
	size_t bytes;		/* of the user buffer they came from */
};

static const char *append_check(struct georep_volume *vol,
				struct georep_record *rec, size_t len,
				int *err)
{
	u8 hash[GEOREP_HASH_LEN];
	u64 seq = le64_to_cpu(rec->seq);
	u64 term = le64_to_cpu(rec->term);
	u32 plen = le32_to_cpu(rec->payload_len);
	int ret;

	*err = -EINVAL;
	if (len != GEOREP_RECORD_HDR_SIZE + (size_t)plen)
		return "length does not match payload_len";
	if (georep_record_check_header(vol, rec))
		return "malformed header";
	*err = -EILSEQ;
	if (seq != vol->next_seq)
		return "not the next seq";
	*err = -ESTALE;
	if (term < vol->last_term || term > READ_ONCE(vol->term))
		return "term out of range";
	*err = -EBADMSG;
	ret = georep_payload_hash_buf(vol, (u8 *)rec + GEOREP_BLOCK_SIZE,
				      plen, hash);
	if (ret || memcmp(hash, rec->payload_hash, GEOREP_HASH_LEN))
		return "payload hash mismatch";
	ret = georep_chain_hash(vol, vol->last_chain, rec, hash);
	if (ret || memcmp(hash, rec->chain_hash, GEOREP_HASH_LEN))
		return "chain hash mismatch";
	ret = georep_seal_check(vol, rec);
	if (ret == -ENOKEY) {
		/* not this record's fault: georepd installs the epoch, sends again */
		*err = -ENOKEY;
		return "sealed with a key epoch not installed here";
	}
	if (ret)
		return "bad seal";
	return NULL;
}

/*
 * Copy the record at the start of @buf (@left bytes from there) to @rec:
 * header block, then payload blocks. Its length in the user buffer goes to
 * *@len, 0 when its blocks would not fit in the @room blocks at @rec. The
 * payload length is bounded here and checked against everything else by
 * append_check().
 */
static int append_copy(struct georep_record *rec, u32 room,
		       const char __user *buf, size_t left, size_t *len)
{
	u32 plen;

	*len = 0;
	if (left < GEOREP_RECORD_HDR_SIZE)
		return -EINVAL;
	if (!room)
		return 0;
	memset(rec, 0, GEOREP_BLOCK_SIZE);
	if (copy_from_user(rec, buf, GEOREP_RECORD_HDR_SIZE))
		return -EFAULT;
	plen = le32_to_cpu(rec->payload_len);
	if (plen > GEOREP_MAX_PAYLOAD ||
	    GEOREP_RECORD_HDR_SIZE + (size_t)plen > left)
		return -EINVAL;
	if (1 + DIV_ROUND_UP(plen, GEOREP_BLOCK_SIZE) > room)
		return 0;
	if (copy_from_user((u8 *)rec + GEOREP_BLOCK_SIZE,
			   buf + GEOREP_RECORD_HDR_SIZE, plen))
		return -EFAULT;
	*len = GEOREP_RECORD_HDR_SIZE + plen;
	return 0;
}

/* Context: order_mutex held */
static void append_save(struct georep_volume *vol, struct append_group *g)
{
	lockdep_assert_held(&vol->order_mutex);
	g->first_seq = vol->next_seq;
	g->head_lsn = vol->head_lsn;
	g->last_term = vol->last_term;
	memcpy(g->last_chain, vol->last_chain, GEOREP_HASH_LEN);
	memcpy(g->epoch_use, vol->epoch_use, sizeof(g->epoch_use));
}

/* check and place @rec; Context: order_mutex held */
static const char *append_place(struct georep_volume *vol,
				struct georep_record *rec, size_t len,
				u64 *lsn, u32 *nblocks, int *err)
{
	u64 seq = le64_to_cpu(rec->seq);
	const char *why;

	lockdep_assert_held(&vol->order_mutex);
	why = append_check(vol, rec, len, err);
	if (why)
		return why;
	*nblocks = georep_record_blocks(rec);
	*lsn = georep_lsn_place(vol, vol->head_lsn, *nblocks);
	*err = -ENOSPC;
	if (*lsn + *nblocks - vol->tail_lsn > vol->area_blocks)
		return "log full";
	*err = georep_index_store(vol, seq, *lsn, *nblocks);
	if (*err)
		return "no memory for the seq index";
	georep_epoch_used(vol, le32_to_cpu(rec->seal_epoch), seq);
	/* the next record is checked against this one */
	vol->next_seq = seq + 1;
	vol->head_lsn = *lsn + *nblocks;
	memcpy(vol->last_chain, rec->chain_hash, GEOREP_HASH_LEN);
	vol->last_term = le64_to_cpu(rec->term);
	return NULL;
}

/*
 * forget the records placed since @g was saved: their write or flush
 * failed. A failed run's records have no copy in the apply cache yet, so
 * log_gen stays. Context: order_mutex held.
 */
static void append_undo(struct georep_volume *vol,
			const struct append_group *g)
{
	u64 s;

	lockdep_assert_held(&vol->order_mutex);
	for (s = g->first_seq; s < vol->next_seq; s++)
		xa_erase(&vol->index, s);
	vol->next_seq = g->first_seq;
	vol->head_lsn = g->head_lsn;
	vol->last_term = g->last_term;
	memcpy(vol->last_chain, g->last_chain, GEOREP_HASH_LEN);
	/* no epoch stays retained for the group's records */
	memcpy(vol->epoch_use, g->epoch_use, sizeof(vol->epoch_use));
}

/* is @rec's place in the log right after the run's? order_mutex held */
static bool append_follows(struct georep_volume *vol,
			   const struct append_run *run,
			   const struct georep_record *rec)
{
	u64 lsn = georep_lsn_place(vol, vol->head_lsn,
				   georep_record_blocks(rec));

	lockdep_assert_held(&vol->order_mutex);
	return georep_lsn_block(vol, lsn) ==
	       georep_lsn_block(vol, run->lsn) + run->blocks;
}

/*
 * Copy, check and place the record at the start of @buf after the run's
 * records in append_buf. Returns its length in @buf; 0 when it belongs to
 * the next run (no room left in append_buf, or the log wraps before its
 * place); -errno when it is refused.
 */
static ssize_t append_fill(struct georep_volume *vol, struct append_run *run,
			   const char __user *buf, size_t left)
{
	struct georep_record *rec = vol->append_buf +
				    (size_t)run->blocks * GEOREP_BLOCK_SIZE;
	u64 seq, lsn = 0;
	u32 nblocks = 0;
	const char *why;
	size_t len;
	int ret;

	ret = append_copy(rec, GEOREP_APPEND_BUF_BLOCKS - run->blocks, buf,
			  left, &len);
	if (ret == -EINVAL)
		pr_warn_ratelimited("%s: appended bytes end inside a record (%zu left, not a whole record)\n",
				    vol->name, left);
	if (ret || !len)
		return ret;
	seq = le64_to_cpu(rec->seq);
	mutex_lock(&vol->order_mutex);
	if (run->blocks && !append_follows(vol, run, rec)) {
		mutex_unlock(&vol->order_mutex);
		return 0;
	}
	why = append_place(vol, rec, len, &lsn, &nblocks, &ret);
	mutex_unlock(&vol->order_mutex);
	if (why) {
		pr_warn_ratelimited("%s: record %llu rejected: %s\n",
				    vol->name, seq, why);
		return ret;
	}
	if (!run->blocks)
		run->lsn = lsn;
	run->blocks += nblocks;
	return len;
}

/*
 * the run's records, checked and written: applied from memory (apply.c).
 * Context: append_mutex held, so log_gen stays as it was at their placing.
 */
static void append_cache_run(struct georep_volume *vol,
			     const struct append_run *run)
{
	const struct georep_record *rec;
	u32 off, nblocks;

	lockdep_assert_held(&vol->append_mutex);
	for (off = 0; off < run->blocks; off += nblocks) {
		rec = vol->append_buf + (size_t)off * GEOREP_BLOCK_SIZE;
		nblocks = georep_record_blocks(rec);
		georep_apply_cache_add(vol, rec, nblocks, vol->log_gen);
	}
}

/*
 * Fill a run from @buf and write it to the log with one I/O (not flushed).
 * Returns the bytes of @buf it took; -errno when its first record was
 * refused or its write failed, and then nothing of it stays. *@stop: the
 * group ends after this run (a record was refused, or the write failed).
 */
static ssize_t append_one_run(struct georep_volume *vol,
			      const char __user *buf, size_t left, bool *stop)
{
	struct append_run run = { };
	ssize_t n = 0;
	u64 last;
	int ret;

	mutex_lock(&vol->order_mutex);
	append_save(vol, &run.before);
	mutex_unlock(&vol->order_mutex);
	while (run.bytes < left) {
		n = append_fill(vol, &run, buf + run.bytes, left - run.bytes);
		if (n <= 0)
			break;
		run.bytes += n;
	}
	*stop = n < 0;
	if (!run.blocks)
		return n < 0 ? n : -EINVAL;

	ret = georep_log_rw(vol, vol->log_bdev,
			    georep_lsn_block(vol, run.lsn) * GEOREP_SECTORS_PER_BLOCK,
			    vol->append_buf, (size_t)run.blocks * GEOREP_BLOCK_SIZE,
			    REQ_OP_WRITE | REQ_SYNC);
	if (ret) {
		mutex_lock(&vol->order_mutex);
		last = vol->next_seq - 1;
		append_undo(vol, &run.before);
		mutex_unlock(&vol->order_mutex);
		pr_err_ratelimited("%s: log write of records %llu..%llu failed: %d\n",
				   vol->name, run.before.first_seq, last, ret);
		georep_kick_notify(vol, GEOREP_NB_IO_ERROR);
		*stop = true;
		return ret;
	}
	append_cache_run(vol, &run);
	return run.bytes;
}

/* one flush for the group, then its records are written (and readable) */
static int append_publish(struct georep_volume *vol,
			  const struct append_group *g)
{
	int ret = blkdev_issue_flush(vol->log_bdev);

	mutex_lock(&vol->order_mutex);
	if (ret) {
		append_undo(vol, g);
		vol->log_gen++;	/* the apply cache's copies of them are stale */
		/*
		 * The group may still reach the disk: no more appends until
		 * the volume is attached again and recovery decides (as for a
		 * primary whose flush failed, blk.c)
		 */
		vol->broken = ret;
		mutex_unlock(&vol->order_mutex);
		pr_err_ratelimited("%s: log flush after records %llu.. failed: %d\n",
				   vol->name, g->first_seq, ret);
		georep_kick_notify(vol, GEOREP_NB_IO_ERROR);
		return ret;
	}
	spin_lock_irq(&vol->lock);
	vol->written_seq = vol->next_seq - 1;
	vol->written_lsn = vol->head_lsn;
	memcpy(vol->written_chain, vol->last_chain, GEOREP_HASH_LEN);
	georep_written_reset(vol);
	spin_unlock_irq(&vol->lock);
	mutex_unlock(&vol->order_mutex);

	wake_up_all(&vol->waitq);
	georep_kick_notify(vol, GEOREP_NB_RECORDS);
	georep_apply_kick(vol);
	return 0;
}

static int append_allowed(struct georep_volume *vol)
{
	if (READ_ONCE(vol->dead))
		return -ENODEV;
	if (READ_ONCE(vol->role) != GEOREP_ROLE_SECONDARY)
		return -EROFS;
	return vol->broken;
}

/**
 * georep_log_append() - append whole records from userspace on a secondary
 *
 * Returns the bytes of the records appended once all of them are durable:
 * @len, or fewer when a record after the first was refused; the first
 * record's error when it was refused.
 *
 * Context: process context, sleeps; appends are serialized.
 */
ssize_t georep_log_append(struct georep_volume *vol,
			  const char __user *buf, size_t len)
{
	struct append_group g;
	size_t done = 0;
	bool stop = false;
	ssize_t n = 0;
	int ret;

	if (len < GEOREP_RECORD_HDR_SIZE)
		return -EINVAL;
	if (mutex_lock_interruptible(&vol->append_mutex))
		return -ERESTARTSYS;
	/* a deposed primary's own writes in flight land first */
	ret = append_allowed(vol) ?: georep_ios_settle(vol) ?: append_allowed(vol);
	if (ret)
		goto out_unlock;

	/* no other appender, truncate or reset while append_mutex is held */
	mutex_lock(&vol->order_mutex);
	append_save(vol, &g);
	mutex_unlock(&vol->order_mutex);
	while (done < len && !stop) {
		n = append_one_run(vol, buf + done, len - done, &stop);
		if (n < 0)
			break;
		done += n;
	}
	if (!done) {
		ret = n;
		goto out_unlock;
	}
	ret = append_publish(vol, &g);
	if (!ret)
		ret = done;
out_unlock:
	mutex_unlock(&vol->append_mutex);
	return ret;
}
