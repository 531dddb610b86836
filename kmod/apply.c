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
 * Except from the apply cache: a record a secondary appended was checked
 * the same way then (append.c), from the same bytes it wrote to the log, so
 * a copy of it kept in memory is applied without reading it back and
 * hashing its payload a second time. An entry is only used for its seq in
 * the log generation it was appended in (log_gen: a truncate, a reset or
 * an undone group replaces records); the cache holds at most
 * GEOREP_APPLY_CACHE_MAX bytes, and a record it has no room for is read
 * back as before.
 *
 * Write-zeroes is applied with blkdev_issue_zeroout() (zero pages when the
 * device cannot write zeroes); discard is advisory, as on the primary, and
 * passed on when the data device can discard.
 */
#include <linux/sched/mm.h>

#include "vol.h"

#define GEOREP_APPLY_CACHE_MAX	(16U << 20)

/*
 * On by default since December 2026 (write-path.rst, "The apply cache":
 * off until then after a hang seen once with it on, in the CI of 72dbc6a,
 * not seen again since); N reads every record back from the log device.
 */
static bool apply_cache = true;
module_param(apply_cache, bool, 0644);
MODULE_PARM_DESC(apply_cache,
		 "apply a secondary's appended records from the copy checked at append (default: Y; N: each is read back from the log device and checked again)");

struct apply_entry {
	struct list_head node;
	u64 seq;
	u64 gen;
	size_t len;
	void *rec;			/* header block, then payload blocks */
};

/* an entry taken off the list: its bytes leave the cache's count */
static void apply_entry_put(struct georep_volume *vol, struct apply_entry *e)
{
	spin_lock_irq(&vol->ac_lock);
	vol->ac_bytes -= e->len;
	spin_unlock_irq(&vol->ac_lock);
	kvfree(e->rec);
	kfree(e);
}

/**
 * georep_apply_cache_add() - keep a copy of an appended record for the apply
 * @vol: the volume, a secondary
 * @rec: the record as written to the log, checked (append_check())
 * @nblocks: its blocks
 * @gen: vol->log_gen when it was placed
 *
 * Nothing happens without room or memory: the apply reads it back.
 * Context: process context, may sleep (no I/O for its allocation).
 */
void georep_apply_cache_add(struct georep_volume *vol, const void *rec, u32 nblocks,
			    u64 gen)
{
	size_t len = (size_t)nblocks * GEOREP_BLOCK_SIZE;
	const struct georep_record *r = rec;
	struct apply_entry *e;
	unsigned int noio;
	bool room;

	if (!READ_ONCE(apply_cache))
		return;
	spin_lock_irq(&vol->ac_lock);
	room = vol->ac_bytes + len <= GEOREP_APPLY_CACHE_MAX;
	spin_unlock_irq(&vol->ac_lock);
	if (!room)
		return;
	noio = memalloc_noio_save();
	e = kmalloc(sizeof(*e), GFP_KERNEL | __GFP_NOWARN);
	if (e)
		e->rec = kvmalloc(len, GFP_KERNEL | __GFP_NOWARN);
	memalloc_noio_restore(noio);
	if (!e || !e->rec) {
		kfree(e);
		return;
	}
	memcpy(e->rec, rec, len);
	e->seq = le64_to_cpu(r->seq);
	e->gen = gen;
	e->len = len;
	spin_lock_irq(&vol->ac_lock);
	list_add_tail(&e->node, &vol->ac_list);
	vol->ac_bytes += len;
	spin_unlock_irq(&vol->ac_lock);
}

/*
 * The cached copy of record @seq of the current log generation, taken off
 * the list (the caller frees it with apply_entry_put()), or NULL. Older
 * entries and those of another generation are dropped on the way.
 */
static struct apply_entry *apply_cache_take(struct georep_volume *vol, u64 seq)
{
	struct apply_entry *e, *next, *found = NULL;
	u64 gen;
	LIST_HEAD(stale);

	mutex_lock(&vol->order_mutex);
	gen = vol->log_gen;
	mutex_unlock(&vol->order_mutex);
	spin_lock_irq(&vol->ac_lock);
	list_for_each_entry_safe(e, next, &vol->ac_list, node) {
		if (e->gen == gen && e->seq > seq)
			break;
		list_del(&e->node);
		if (e->gen == gen && e->seq == seq && READ_ONCE(apply_cache)) {
			found = e;
			break;
		}
		list_add(&e->node, &stale);
	}
	spin_unlock_irq(&vol->ac_lock);
	list_for_each_entry_safe(e, next, &stale, node)
		apply_entry_put(vol, e);
	return found;
}

/* every entry; Context: the volume is going away, nothing appends or applies */
void georep_apply_cache_free(struct georep_volume *vol)
{
	struct apply_entry *e, *next;

	list_for_each_entry_safe(e, next, &vol->ac_list, node) {
		list_del(&e->node);
		apply_entry_put(vol, e);
	}
}

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
	struct apply_entry *e;
	int ret = 0;

	lockdep_assert_held(&vol->apply_mutex);
	for (;;) {
		u64 seq;

		spin_lock_irq(&vol->lock);
		seq = vol->applied_seq + 1;
		spin_unlock_irq(&vol->lock);
		if (seq > limit || READ_ONCE(vol->dead))
			break;
		e = apply_cache_take(vol, seq);
		if (e) {
			ret = georep_apply_record(vol, e->rec,
						  (u8 *)e->rec + GEOREP_BLOCK_SIZE);
			apply_entry_put(vol, e);
		} else {
			ret = apply_load(vol, seq, rec);
			if (ret == -ENOENT)
				break;
			if (!ret)
				ret = georep_apply_record(vol, rec,
							  (u8 *)rec + GEOREP_BLOCK_SIZE);
		}
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
