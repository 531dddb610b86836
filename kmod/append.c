// SPDX-License-Identifier: GPL-2.0
/*
 * Appends on a secondary: whole records from userspace (the log stream's
 * write(2)), each checked before anything of it is stored, written as a
 * group with one cache flush (group commit).
 *
 * One write(2) holds one or more records back to back, laid out as
 * georep_log_read() hands them out (256-byte header, then the payload). Each
 * is copied, checked against the record before it (seq, term, payload hash,
 * chain hash, seal), placed and written without FUA; after the last, one
 * flush of the log device makes the group durable, and only then does
 * written_seq move to its last record. What a write(2) reports never covers
 * a record that sits in a volatile cache.
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
 * made durable and counted (a short write), and the next write(2), which
 * starts with the refused record, gets its error. So does a record whose
 * own log write fails: those before it are flushed and counted. A flush
 * that fails undoes the group in memory (nothing of it is acknowledged) and
 * marks the volume broken: its writes may still reach the disk, and only
 * recovery at the next attach can tell.
 */
#include <linux/uaccess.h>

#include "vol.h"

/* the state before a group, restored when the group cannot be made durable */
struct append_group {
	u64 first_seq;
	u64 head_lsn;
	u64 last_term;
	u8 last_chain[GEOREP_HASH_LEN];
	struct georep_epoch_use epoch_use[GEOREP_MAX_KEYS + 1];
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
 * Copy the record at the start of @buf (@left bytes from there) into
 * append_buf: header block then payload blocks. Its length in the user
 * buffer goes to *@len. The payload length is bounded here and checked
 * against everything else by append_check().
 */
static int append_copy(struct georep_volume *vol, const char __user *buf,
		       size_t left, size_t *len)
{
	struct georep_record *rec = vol->append_buf;
	u32 plen;

	if (left < GEOREP_RECORD_HDR_SIZE)
		return -EINVAL;
	memset(rec, 0, GEOREP_BLOCK_SIZE);
	if (copy_from_user(rec, buf, GEOREP_RECORD_HDR_SIZE))
		return -EFAULT;
	plen = le32_to_cpu(rec->payload_len);
	if (plen > GEOREP_MAX_PAYLOAD ||
	    GEOREP_RECORD_HDR_SIZE + (size_t)plen > left)
		return -EINVAL;
	if (copy_from_user((u8 *)rec + GEOREP_BLOCK_SIZE,
			   buf + GEOREP_RECORD_HDR_SIZE, plen))
		return -EFAULT;
	*len = GEOREP_RECORD_HDR_SIZE + plen;
	return 0;
}

/* check and place the record in append_buf; Context: order_mutex held */
static const char *append_place(struct georep_volume *vol, size_t len,
				u64 *lsn, u32 *nblocks, int *err)
{
	struct georep_record *rec = vol->append_buf;
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
	return NULL;
}

/*
 * Append the record at the start of @buf to the group: checked, placed and
 * written (not flushed). Returns its length in @buf or -errno; a refused
 * record leaves nothing behind.
 */
static ssize_t append_one(struct georep_volume *vol, const char __user *buf,
			  size_t left)
{
	struct georep_record *rec = vol->append_buf;
	const char *why;
	u32 nblocks = 0;
	struct georep_epoch_use use[GEOREP_MAX_KEYS + 1];
	u64 lsn = 0, seq, gen;
	size_t len;
	int ret;

	ret = append_copy(vol, buf, left, &len);
	if (ret == -EINVAL)
		pr_warn_ratelimited("%s: appended bytes end inside a record (%zu left, not a whole record)\n",
				    vol->name, left);
	if (ret)
		return ret;
	seq = le64_to_cpu(rec->seq);
	mutex_lock(&vol->order_mutex);
	memcpy(use, vol->epoch_use, sizeof(use));
	why = append_place(vol, len, &lsn, &nblocks, &ret);
	mutex_unlock(&vol->order_mutex);
	if (why) {
		pr_warn_ratelimited("%s: record %llu rejected: %s\n",
				    vol->name, seq, why);
		return ret;
	}

	ret = georep_log_rw(vol, vol->log_bdev,
			    georep_lsn_block(vol, lsn) * GEOREP_SECTORS_PER_BLOCK,
			    rec, (size_t)nblocks * GEOREP_BLOCK_SIZE,
			    REQ_OP_WRITE | REQ_SYNC);
	mutex_lock(&vol->order_mutex);
	if (ret) {
		xa_erase(&vol->index, seq);
		memcpy(vol->epoch_use, use, sizeof(use));
		mutex_unlock(&vol->order_mutex);
		pr_err_ratelimited("%s: log write of record %llu failed: %d\n",
				   vol->name, seq, ret);
		georep_kick_notify(vol, GEOREP_NB_IO_ERROR);
		return ret;
	}
	/* the next record of the group is checked against this one */
	vol->next_seq = seq + 1;
	vol->head_lsn = lsn + nblocks;
	memcpy(vol->last_chain, rec->chain_hash, GEOREP_HASH_LEN);
	vol->last_term = le64_to_cpu(rec->term);
	gen = vol->log_gen;
	mutex_unlock(&vol->order_mutex);
	/* applied from memory once committed (apply.c), not read back */
	georep_apply_cache_add(vol, rec, nblocks, gen);
	return len;
}

/* forget the group's records: its flush failed; Context: order_mutex held */
static void append_undo(struct georep_volume *vol,
			const struct append_group *g)
{
	u64 s;

	lockdep_assert_held(&vol->order_mutex);
	for (s = g->first_seq; s < vol->next_seq; s++)
		xa_erase(&vol->index, s);
	vol->next_seq = g->first_seq;
	vol->log_gen++;		/* the apply cache's copies of them are stale */
	vol->head_lsn = g->head_lsn;
	vol->last_term = g->last_term;
	memcpy(vol->last_chain, g->last_chain, GEOREP_HASH_LEN);
	/* no epoch stays retained for the group's records */
	memcpy(vol->epoch_use, g->epoch_use, sizeof(vol->epoch_use));
}

/* one flush for the group, then its records are written (and readable) */
static int append_publish(struct georep_volume *vol,
			  const struct append_group *g)
{
	int ret = blkdev_issue_flush(vol->log_bdev);

	mutex_lock(&vol->order_mutex);
	if (ret) {
		append_undo(vol, g);
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
	ssize_t n = 0;
	int ret;

	if (len < GEOREP_RECORD_HDR_SIZE)
		return -EINVAL;
	if (mutex_lock_interruptible(&vol->append_mutex))
		return -ERESTARTSYS;
	ret = append_allowed(vol);
	if (ret)
		goto out_unlock;

	/* no other appender, truncate or reset while append_mutex is held */
	mutex_lock(&vol->order_mutex);
	g.first_seq = vol->next_seq;
	g.head_lsn = vol->head_lsn;
	g.last_term = vol->last_term;
	memcpy(g.last_chain, vol->last_chain, GEOREP_HASH_LEN);
	memcpy(g.epoch_use, vol->epoch_use, sizeof(g.epoch_use));
	mutex_unlock(&vol->order_mutex);
	while (done < len) {
		n = append_one(vol, buf + done, len - done);
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
