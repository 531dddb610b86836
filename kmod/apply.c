// SPDX-License-Identifier: GPL-2.0
/*
 * Applying records to the data device: on a secondary once commit_seq
 * covers them, in seq order, by one worker per volume; on attach, the
 * replay of records the data device may lack (recover.c); on promotion to
 * primary, every record written so far.
 *
 * Records are read back from the log device and checked again before they
 * are applied (georep_log_load(): header, lengths, range against the
 * volume, payload hash, seal): the log device may have been written by
 * someone else since they were appended. A record that fails stops the
 * apply with -EBADMSG in apply_error and an IO_ERROR event.
 *
 * Write-zeroes is applied with blkdev_issue_zeroout() (zero pages when the
 * device cannot write zeroes); discard is advisory, as on the primary, and
 * passed on when the data device can discard.
 */
#include "vol.h"

int georep_apply_record(struct georep_volume *vol,
			const struct georep_record *rec, const void *payload)
{
	sector_t lba = le64_to_cpu(rec->lba);
	u32 len = le32_to_cpu(rec->len);

	switch (le16_to_cpu(rec->op)) {
	case GEOREP_OP_WRITE:
		return georep_log_rw(vol, vol->data_bdev, lba, (void *)payload,
				     len, REQ_OP_WRITE);
	case GEOREP_OP_DISCARD: {
		/* advisory, as on the primary */
		int ret = 0;

		if (bdev_max_discard_sectors(vol->data_bdev))
			ret = blkdev_issue_discard(vol->data_bdev, lba,
						   len >> SECTOR_SHIFT,
						   GFP_NOIO);
		return ret == -EOPNOTSUPP ? 0 : ret;
	}
	case GEOREP_OP_WRITE_ZEROES:
		return blkdev_issue_zeroout(vol->data_bdev, lba,
					    len >> SECTOR_SHIFT, GFP_NOIO, 0);
	default:
		return 0;
	}
}

/*
 * read record @seq back for applying: the log device is not trusted, so
 * its header, lengths, range, payload hash and seal are checked first
 */
static int apply_load(struct georep_volume *vol, u64 seq, void *buf)
{
	const char *why;
	u32 nblocks;
	u64 lsn;
	int ret;

	ret = georep_index_lookup(vol, seq, &lsn, &nblocks);
	if (ret) {
		pr_err_ratelimited("%s: record %llu to apply is not in the log\n",
				   vol->name, seq);
		return ret;
	}
	ret = georep_log_load(vol, seq, lsn, nblocks, buf,
			      GEOREP_LOAD_HASH | GEOREP_LOAD_SEAL, &why);
	if (ret == -EBADMSG)
		georep_log_bad_record(vol, seq, why);
	return ret;
}

/* apply records after applied_seq up to @limit; Context: apply_mutex held */
static int apply_upto(struct georep_volume *vol, u64 limit)
{
	struct georep_record *rec = vol->apply_buf;
	int ret = 0;

	lockdep_assert_held(&vol->apply_mutex);
	for (;;) {
		u64 seq;

		spin_lock_irq(&vol->lock);
		seq = vol->applied_seq + 1;
		spin_unlock_irq(&vol->lock);
		if (seq > limit || READ_ONCE(vol->dead))
			break;
		ret = apply_load(vol, seq, rec);
		if (ret == -ENOENT)
			break;
		if (!ret)
			ret = georep_apply_record(vol, rec,
						  (u8 *)rec + GEOREP_BLOCK_SIZE);
		if (ret) {
			pr_err_ratelimited("%s: applying record %llu failed: %d, apply stopped\n",
					   vol->name, seq, ret);
			break;
		}
		spin_lock_irq(&vol->lock);
		vol->applied_seq = seq;
		spin_unlock_irq(&vol->lock);
	}
	if (ret) {
		WRITE_ONCE(vol->apply_error, ret);
		georep_kick_notify(vol, GEOREP_NB_IO_ERROR);
	}
	return ret;
}

/**
 * georep_apply_committed() - apply every committed record not applied yet
 *
 * Return: 0, or the error that stopped the apply worker.
 * Context: process context, apply_mutex held.
 */
int georep_apply_committed(struct georep_volume *vol)
{
	u64 limit;

	lockdep_assert_held(&vol->apply_mutex);
	if (READ_ONCE(vol->apply_error))
		return READ_ONCE(vol->apply_error);
	spin_lock_irq(&vol->lock);
	limit = min(vol->commit_seq, vol->written_seq);
	spin_unlock_irq(&vol->lock);
	return apply_upto(vol, limit);
}

void georep_apply_work(struct work_struct *work)
{
	struct georep_volume *vol = container_of(work, struct georep_volume,
						 apply_work);

	mutex_lock(&vol->apply_mutex);
	if (READ_ONCE(vol->role) == GEOREP_ROLE_SECONDARY)
		georep_apply_committed(vol);
	mutex_unlock(&vol->apply_mutex);
}

void georep_apply_kick(struct georep_volume *vol)
{
	if (READ_ONCE(vol->role) == GEOREP_ROLE_SECONDARY)
		queue_work(vol->wq, &vol->apply_work);
}

/**
 * georep_apply_all() - apply every written record, on promotion
 *
 * Context: process context, the caller keeps appends and the worker out
 * (append_mutex held, role not yet primary, apply_work flushed).
 */
int georep_apply_all(struct georep_volume *vol)
{
	u64 limit;
	int ret;

	lockdep_assert_held(&vol->append_mutex);
	mutex_lock(&vol->apply_mutex);
	spin_lock_irq(&vol->lock);
	limit = vol->written_seq;
	spin_unlock_irq(&vol->lock);
	WRITE_ONCE(vol->apply_error, 0);
	ret = apply_upto(vol, limit);
	mutex_unlock(&vol->apply_mutex);
	return ret;
}
