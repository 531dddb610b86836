// SPDX-License-Identifier: GPL-2.0
/*
 * /dev/georepN: the bio-based block device and its write path.
 *
 * A write (or discard, write-zeroes) bio on a primary goes through:
 *
 *  1. admission: refused on a secondary (see below) or a broken volume;
 *     waits while the volume is throttled (log past the high watermark or
 *     too many uncommitted bytes) until it drops below the low watermark;
 *     waits while the io state is suspend and fails at once while it is
 *     fail (Documentation/write-path.rst, "Io state and demotion");
 *  2. the payload hash, outside any lock: in the submitter's context for a
 *     lone write, on an unbound workqueue when others are in flight, so
 *     hashing runs on every CPU (write_bio());
 *  3. ordering, under order_mutex (a few microseconds): the log space is
 *     reserved (waiting, never dropping, when the log is full), the seq
 *     assigned, the chain hash and the seal computed, the record indexed;
 *     A sealed record is readable at once by a log stream file in sealed
 *     mode (ship.c): georepd ships it while the local writes run;
 *  4. two log bios at once: the header block and the payload; REQ_PREFLUSH
 *     goes to the header, REQ_FUA to both. The data bio goes out once the
 *     record is durable (georep_durable_work(): write-ahead order);
 *  5. completion, in seq order: written_seq only moves over records whose
 *     log writes are all done, and an upper bio completes once its record
 *     is durable, its data write is done, and the commit rule is met
 *     (local: at once; quorum: commit_seq >= seq). After a
 *     demotion every write still in flight waits for commit_seq >= seq,
 *     whatever the rule; io-state fail completes the waiting ones with EIO.
 *
 * Completing in seq order matters: a flush that follows a completed write
 * must find every record below it in the log too, or a power cut could
 * leave a hole in the ledger behind an acknowledged write.
 *
 * Example, two writers, quorum:
 *
 *   A: seq 7 log issued          B: seq 8 log issued
 *   B: log done (written_seq still 6: 7 pending)
 *   A: log done -> written_seq 8 -> one log flush -> data of 7 and 8
 *   data done -> A and B wait for the commit
 *   daemon: commit_seq 8 -> A and B complete
 *
 * A secondary refuses writes: the disk is read-only (set_disk_ro(), so
 * write(2) gets EPERM and ext4 mounts read-only), and a write bio that
 * reaches the driver anyway fails with BLK_STS_IOERR (-EIO), the only
 * status the block layer has for "refused"; the log says why.
 */
#include <linux/blkdev.h>
#include <linux/highmem.h>
#include <linux/sched.h>

#include "vol.h"
#include "trace.h"

static int georep_open(struct block_device *bdev, fmode_t mode)
{
	struct georep_volume *vol = bdev->bd_disk->private_data;
	int ret = 0;

	mutex_lock(&vol->open_mutex);
	if (READ_ONCE(vol->dead))
		ret = -ENXIO;
	else
		vol->open_count++;
	mutex_unlock(&vol->open_mutex);
	return ret;
}

static void georep_release(struct gendisk *disk, fmode_t mode)
{
	struct georep_volume *vol = disk->private_data;

	mutex_lock(&vol->open_mutex);
	vol->open_count--;
	mutex_unlock(&vol->open_mutex);
}

/* ---- events ---- */

void georep_kick_notify(struct georep_volume *vol, int bit)
{
	set_bit(bit, &vol->notify_bits);
	queue_delayed_work(system_wq, &vol->notify_work,
			   msecs_to_jiffies(GEOREP_NOTIFY_DELAY_MS));
}

void georep_notify_work(struct work_struct *work)
{
	struct georep_volume *vol = container_of(to_delayed_work(work),
						 struct georep_volume,
						 notify_work);

	if (test_and_clear_bit(GEOREP_NB_IO_ERROR, &vol->notify_bits))
		georep_notify(vol, GEOREP_EVENT_IO_ERROR,
			      READ_ONCE(vol->broken) ?: -EIO);
	if (test_and_clear_bit(GEOREP_NB_WATERMARK, &vol->notify_bits))
		georep_notify(vol, GEOREP_EVENT_WATERMARK, 0);
	if (test_and_clear_bit(GEOREP_NB_RECORDS, &vol->notify_bits))
		georep_notify(vol, GEOREP_EVENT_RECORDS, 0);
}

/* ---- throttling ---- */

/* blocks of records after commit_seq; Context: order_mutex held */
u64 georep_uncommitted_blocks(struct georep_volume *vol)
{
	u64 from;

	lockdep_assert_held(&vol->order_mutex);
	from = max(vol->commit_lsn, vol->tail_lsn);
	return vol->head_lsn > from ? vol->head_lsn - from : 0;
}

/**
 * georep_throttle_update() - throttle or release writers
 *
 * Throttled once the log holds more than high_wm percent of the area, or
 * more than max_uncommitted bytes are uncommitted; released once both are
 * back under the low watermark (low_wm percent of the area, and
 * max_uncommitted * low_wm / high_wm bytes).
 *
 * Context: order_mutex held.
 */
void georep_throttle_update(struct georep_volume *vol)
{
	u64 used = vol->head_lsn - vol->tail_lsn;
	u64 unc = georep_uncommitted_blocks(vol) * GEOREP_BLOCK_SIZE;
	u64 area = vol->area_blocks, maxu = vol->max_uncommitted;
	bool was = vol->throttled, now = was;

	lockdep_assert_held(&vol->order_mutex);
	if (vol->role != GEOREP_ROLE_PRIMARY) {
		now = false;
	} else if (!was) {
		now = used * 100 > area * vol->high_wm ||
		      (maxu && unc > maxu);
	} else {
		now = !(used * 100 <= area * vol->low_wm &&
			(!maxu || unc * vol->high_wm <= maxu * vol->low_wm));
	}
	if (now == was)
		return;
	WRITE_ONCE(vol->throttled, now);
	if (!now)
		wake_up_all(&vol->throttle_wq);
	georep_kick_notify(vol, GEOREP_NB_WATERMARK);
}

/* @pass: the admission program let this write skip the watermarks */
static bool admit_ok(struct georep_volume *vol, bool pass)
{
	if (READ_ONCE(vol->dead) || READ_ONCE(vol->broken))
		return true;
	if (READ_ONCE(vol->io_state) == GEOREP_IO_SUSPEND)
		return false;
	return pass || !READ_ONCE(vol->throttled) ||
	       READ_ONCE(vol->role) != GEOREP_ROLE_PRIMARY;
}

/* ---- completion ---- */

/*
 * A record written (<= written_seq) whose data bio is not yet sent: it
 * waits for georep_durable_work(). Context: vol->lock held.
 */
static bool data_waiting(struct georep_volume *vol)
{
	struct georep_io *io;

	lockdep_assert_held(&vol->lock);
	list_for_each_entry(io, &vol->ios, node) {
		if (io->seq > vol->written_seq)
			break;
		if (!io->data_sent)
			return true;
	}
	return false;
}

/*
 * A primary's applied_seq: the records whose data writes are all done,
 * never past one whose data never went out (data_skip()), so that neither
 * a release nor the superblock passes a record the data device lacks.
 * Context: vol->lock held.
 */
u64 georep_data_applied(struct georep_volume *vol)
{
	u64 applied = min(vol->written_seq, vol->data_hole - 1);
	struct georep_io *io;

	lockdep_assert_held(&vol->lock);
	list_for_each_entry(io, &vol->ios, node) {
		if (io->seq > applied)
			break;
		if (!io->data_done)
			return io->seq - 1;
	}
	return applied;
}

/* every record up to @seq, chained to @chain, is on media; lock held */
static void durable_set(struct georep_volume *vol, u64 seq, const u8 *chain)
{
	lockdep_assert_held(&vol->lock);
	vol->durable_seq = seq;
	memcpy(vol->durable_chain, chain, GEOREP_HASH_LEN);
}

/*
 * A failed write whose data never went out: nothing to wait for. Its
 * record may be in the log (a broken volume's), so applied_seq stays
 * below it and recovery replays it. Context: vol->lock held.
 */
static void data_skip(struct georep_volume *vol, struct georep_io *io)
{
	lockdep_assert_held(&vol->lock);
	io->data_sent = true;
	io->data_done = true;
	if (io->seq <= vol->written_seq)
		vol->data_hole = min(vol->data_hole, io->seq);
}

/*
 * Move written_seq over the records whose log writes are done, in order,
 * and collect the ios that may complete. Context: vol->lock held.
 */
static void collect(struct georep_volume *vol, struct list_head *done)
{
	struct georep_io *io, *next;
	bool fail_waiting, need_flush = false;
	u64 limit;

	lockdep_assert_held(&vol->lock);
	list_for_each_entry(io, &vol->ios, node) {
		if (io->seq <= vol->written_seq)
			continue;
		if (!io->log_done || vol->broken)
			break;
		if (io->status) {
			vol->broken = blk_status_to_errno(io->status);
			set_bit(GEOREP_NB_IO_ERROR, &vol->notify_bits);
			break;
		}
		vol->written_seq = io->seq;
		vol->written_lsn = io->lsn + io->nblocks;
		memcpy(vol->written_chain, io->chain, GEOREP_HASH_LEN);
		set_bit(GEOREP_NB_RECORDS, &vol->notify_bits);
		/* its PREFLUSH made the records written before it durable */
		if (io->flushed_upto > vol->durable_seq)
			durable_set(vol, io->flushed_upto, io->flushed_chain);
		if (io->fua && vol->durable_seq == io->seq - 1)
			durable_set(vol, io->seq, io->chain);
	}

	/*
	 * A demoted primary's writes wait for a commit_seq that covers them,
	 * whatever the rule: the new primary may never commit their records.
	 */
	limit = vol->written_seq;
	if (vol->commit_rule == GEOREP_COMMIT_QUORUM ||
	    vol->role != GEOREP_ROLE_PRIMARY)
		limit = min(limit, vol->commit_seq);
	/* io-state fail (or a dead volume): writes waiting for a commit fail */
	fail_waiting = vol->io_state == GEOREP_IO_FAIL || READ_ONCE(vol->dead);
	list_for_each_entry_safe(io, next, &vol->ios, node) {
		bool failed = io->status ||
			      (vol->broken && (io->seq > vol->written_seq ||
					       !io->data_sent)) ||
			      (fail_waiting && io->seq > limit &&
			       io->seq <= vol->written_seq);

		if (!failed && io->seq > limit)
			break;
		if (!failed && io->fua && io->seq > vol->durable_seq) {
			need_flush = true;
			continue;
		}
		if (!failed && !io->committed) {
			io->committed = true;
			trace_georep_commit(vol, io->seq);
		}
		if (failed && !io->data_sent &&
		    (vol->broken || io->seq > vol->written_seq))
			data_skip(vol, io);
		if (!io->log_done || !io->data_done)
			continue;
		if (failed && !io->status)
			io->status = BLK_STS_IOERR;
		list_move_tail(&io->node, done);	/* finish() counts it out */
	}
	if (vol->role == GEOREP_ROLE_PRIMARY) {
		vol->applied_seq = georep_data_applied(vol);
		georep_release_kick(vol);
	}
	if ((need_flush || data_waiting(vol)) && !vol->durable_flush &&
	    !vol->broken) {
		vol->durable_flush = true;
		queue_work(system_wq, &vol->durable_work);
	}
}

/* the largest piece of a copy taken from the allocator at once: 64 KiB */
#define COPY_ORDER	4

/*
 * A copy's pieces, one per bvec of its table: compound pages of the
 * allocator (order > 0), or single pages of the allocator or of the pool,
 * which mempool_free() takes back (and frees past the pool's reserve).
 */
static void io_copy_free(struct georep_volume *vol, struct bio *copy)
{
	struct bio_vec *bv;
	int i;

	if (!copy)
		return;
	bio_for_each_bvec_all(bv, copy, i) {
		/* a sealed-mode reader may still hold a reference (ship.c) */
		if (PageCompound(bv->bv_page))
			put_page(bv->bv_page);
		else
			mempool_free(bv->bv_page, vol->copy_pool);
	}
	bio_put(copy);
}

/*
 * A piece of up to @size bytes from the allocator, neither waiting nor
 * retrying: as large as COPY_ORDER allows, smaller when that fails (a
 * 1 MiB write takes 16 allocations, not 256). *@len: its length.
 */
static struct page *copy_piece(unsigned int size, unsigned int *len)
{
	const gfp_t gfp = GFP_NOIO | __GFP_NORETRY | __GFP_NOWARN;
	unsigned int order = min_t(unsigned int, COPY_ORDER,
				   ilog2(max_t(unsigned int, size >> PAGE_SHIFT, 1)));
	struct page *page;

	for (; order; order--) {
		page = alloc_pages(gfp | __GFP_COMP, order);
		if (page) {
			*len = min_t(unsigned int, size, PAGE_SIZE << order);
			return page;
		}
	}
	*len = min_t(unsigned int, size, PAGE_SIZE);
	return alloc_page(gfp);
}

/*
 * @size bytes of pages into @copy. Without @pool: from the page allocator
 * (copy_piece()); with it, from vol->copy_pool (one writer at a time, under
 * copy_mutex, so that two never wait for each other's pages; a pool holds
 * a write's worth of single pages, refilled as writes complete). False: a
 * page was missing, @copy holds what was taken.
 */
static bool copy_pages(struct georep_volume *vol, struct bio *copy,
		       unsigned int size, bool pool)
{
	unsigned int len;
	struct page *page;

	for (; size; size -= len) {
		if (pool) {
			len = min_t(unsigned int, size, PAGE_SIZE);
			page = mempool_alloc(vol->copy_pool, GFP_NOIO);
		} else {
			page = copy_piece(size, &len);
		}
		if (!page)
			return false;
		__bio_add_page(copy, page, len, 0);
	}
	return true;
}

/*
 * The payload of a write, copied into pages of the volume's own
 * (io->copy): its hash, its log write, its data write and the peers all
 * take these bytes, whatever the writer does with its own pages while the
 * write runs. An O_DIRECT writer may change its buffer meanwhile; the log
 * would then hold a payload that does not match its hash, which every
 * secondary refuses, so that replication stops at that record. The pages
 * come from the allocator, or, when it has none at once, from the
 * volume's page pool, as dm-crypt does: a write never fails for memory.
 */
static void io_copy(struct georep_volume *vol, struct georep_io *io)
{
	unsigned int size = io->bio->bi_iter.bi_size;
	unsigned short nr = DIV_ROUND_UP(size, PAGE_SIZE);
	struct bio *copy;

	copy = bio_alloc_bioset(NULL, nr, REQ_OP_WRITE, GFP_NOIO, &vol->copy_bs);
	if (!copy_pages(vol, copy, size, false)) {
		io_copy_free(vol, copy);
		copy = bio_alloc_bioset(NULL, nr, REQ_OP_WRITE, GFP_NOIO,
					&vol->copy_bs);
		mutex_lock(&vol->copy_mutex);
		copy_pages(vol, copy, size, true);
		mutex_unlock(&vol->copy_mutex);
	}
	bio_copy_data(copy, io->bio);
	io->copy = copy;
}

/* a clone to @bdev of what the write puts there: its copy, at its sector */
static struct bio *io_clone(struct georep_io *io, struct block_device *bdev,
			    struct bio_set *bs)
{
	struct bio *clone;

	if (!io->copy)
		return bio_alloc_clone(bdev, io->bio, GFP_NOIO, bs);
	clone = bio_alloc_clone(bdev, io->copy, GFP_NOIO, bs);
	clone->bi_opf = io->bio->bi_opf;
	clone->bi_ioprio = io->bio->bi_ioprio;
	clone->bi_iter.bi_sector = io->bio->bi_iter.bi_sector;
	bio_clone_blkg_association(clone, io->bio);
	return clone;
}

/*
 * Complete the ios on @done, then take them off vol->inflight. Only then:
 * a volume being deleted waits for inflight to reach 0 (georep_disk_del())
 * and then frees the pools used here; the wake-up is under vol->lock, which
 * the deleter takes once more before it goes on.
 */
static void finish(struct georep_volume *vol, struct list_head *done)
{
	struct georep_io *io, *next;
	unsigned long flags;
	unsigned int n = 0;

	list_for_each_entry_safe(io, next, done, node) {
		struct bio *bio = io->bio;

		bio->bi_status = io->status;
		bio_end_io_acct(bio, io->start);
		trace_georep_complete(vol, io->seq, blk_status_to_errno(io->status),
				      le64_to_cpu(georep_io_hdr(io)->timestamp_ns));
		mempool_free(io->hdr_page, vol->page_pool);
		io_copy_free(vol, io->copy);
		mempool_free(io, vol->io_pool);
		bio_endio(bio);
		n++;
	}
	if (!n)
		return;
	spin_lock_irqsave(&vol->lock, flags);
	vol->inflight -= n;
	if (!vol->inflight)
		wake_up_all(&vol->drain_wq);
	spin_unlock_irqrestore(&vol->lock, flags);
}

static void data_endio(struct bio *bio);

/* the data bios of the records georep_durable_work() found durable */
static void submit_data(struct georep_volume *vol, struct list_head *batch)
{
	struct georep_io *io, *next;
	struct blk_plug plug;

	blk_start_plug(&plug);
	list_for_each_entry_safe(io, next, batch, data_node) {
		struct bio *data;

		list_del(&io->data_node);
		data = io_clone(io, vol->data_bdev, &vol->data_bs);
		/*
		 * zeroes, as a replica applies them (blkdev_issue_zeroout()
		 * without NOUNMAP): the record keeps no NOUNMAP either, and a
		 * device that can only unmap (a loop file on tmpfs) refuses
		 * NOUNMAP with an error in the kernel log for each one
		 */
		if (bio_op(data) == REQ_OP_WRITE_ZEROES)
			data->bi_opf &= ~REQ_NOUNMAP;
		data->bi_private = io;
		data->bi_end_io = data_endio;
		submit_bio_noacct(data);
	}
	blk_finish_plug(&plug);
}

/**
 * georep_durable_work() - make the written records durable, then send
 * their data writes
 *
 * Every record up to the written_seq taken before the flush had its log
 * writes completed, so once the flush of the log device is done they are
 * durable (on a device without a volatile cache the flush is a no-op).
 * Then the data bios of every durable record go out: the data device
 * never holds a block whose record a power cut may still take away
 * (write-path.rst, "Write-ahead order"). Writes that arrive meanwhile wait
 * for the next run, which collect() queues: one flush in flight per
 * volume, covering every write behind it (group commit).
 */
void georep_durable_work(struct work_struct *work)
{
	struct georep_volume *vol = container_of(work, struct georep_volume,
						 durable_work);
	u8 chain[GEOREP_HASH_LEN];
	struct georep_io *io;
	u64 upto, resets, was;
	LIST_HEAD(batch);
	int ret = 0;

	spin_lock_irq(&vol->lock);
	upto = vol->written_seq;
	memcpy(chain, vol->written_chain, GEOREP_HASH_LEN);
	resets = vol->written_resets;
	was = vol->durable_seq;
	spin_unlock_irq(&vol->lock);

	if (upto > READ_ONCE(vol->durable_seq))
		ret = blkdev_issue_flush(vol->log_bdev);

	spin_lock_irq(&vol->lock);
	if (ret) {
		pr_err_ratelimited("%s: log flush failed: %d\n", vol->name, ret);
		if (!vol->broken)
			vol->broken = ret;
		set_bit(GEOREP_NB_IO_ERROR, &vol->notify_bits);
	} else if (resets == vol->written_resets && upto > vol->durable_seq) {
		durable_set(vol, upto, chain);
	}
	list_for_each_entry(io, &vol->ios, node) {
		if (io->seq > vol->durable_seq || vol->broken)
			break;
		if (io->data_sent)
			continue;
		io->data_sent = true;
		list_add_tail(&io->data_node, &batch);
	}
	vol->durable_flush = false;
	if (vol->durable_seq != was)
		set_bit(GEOREP_NB_RECORDS, &vol->notify_bits);
	spin_unlock_irq(&vol->lock);
	trace_georep_durable(vol, upto, ret);
	submit_data(vol, &batch);
	/* log stream readers see records once durable */
	if (READ_ONCE(vol->durable_seq) != was)
		wake_up_all(&vol->waitq);
	georep_ios_progress(vol);
}

/**
 * georep_written_reset() - written_seq was set outside the write path
 *
 * Recovery, an append, a truncate, a reset or a no-op set written_seq to
 * records that are durable (recovered, written with FUA, or flushed); a flush in
 * flight no longer speaks for what written_seq names now.
 * Context: vol->lock held.
 */
void georep_written_reset(struct georep_volume *vol)
{
	lockdep_assert_held(&vol->lock);
	durable_set(vol, vol->written_seq, vol->written_chain);
	vol->written_resets++;
}

/* after written_seq, commit_seq or the rule changed */
void georep_ios_progress(struct georep_volume *vol)
{
	unsigned long flags;
	u64 durable;
	LIST_HEAD(done);

	spin_lock_irqsave(&vol->lock, flags);
	durable = vol->durable_seq;
	collect(vol, &done);
	/* log stream readers: records are readable once durable */
	if (vol->durable_seq != durable)
		wake_up_all(&vol->waitq);
	/* a demoted volume settling its writes (georep_ios_settle()) */
	if (wq_has_sleeper(&vol->drain_wq))
		wake_up_all(&vol->drain_wq);
	spin_unlock_irqrestore(&vol->lock, flags);
	if (vol->notify_bits)
		queue_delayed_work(system_wq, &vol->notify_work,
				   msecs_to_jiffies(GEOREP_NOTIFY_DELAY_MS));
	finish(vol, &done);
}

bool georep_ios_settled(struct georep_volume *vol)
{
	struct georep_io *io;
	bool settled = true;

	spin_lock_irq(&vol->lock);
	list_for_each_entry(io, &vol->ios, node) {
		if (!io->log_done || !io->data_done) {
			settled = false;
			break;
		}
	}
	spin_unlock_irq(&vol->lock);
	return settled;
}

/**
 * georep_ios_settle() - wait for a deposed primary's writes in flight
 * @vol: the volume, secondary
 *
 * Wait until the log and data writes of every io still on vol->ios are
 * done: a deposed primary's records whose writes were in flight at the
 * demotion. A truncate must not zero a header that a late log write puts
 * back, nor leave a data write to land after a resync write of the block;
 * an append must not make written_seq name a record whose log write is
 * still in flight (append_publish() marks every record up to it durable,
 * and the data write of such a record would no longer wait for its log
 * write), nor a resync write land under such a data write.
 * Return: 0, the error that broke the volume, or -EINTR on a fatal signal.
 * Context: append_mutex held (no record is ordered on a secondary).
 */
int georep_ios_settle(struct georep_volume *vol)
{
	lockdep_assert_held(&vol->append_mutex);
	while (!georep_ios_settled(vol)) {
		if (fatal_signal_pending(current))
			return -EINTR;
		/* its data writes may never go out now (durable_work) */
		if (READ_ONCE(vol->broken))
			return READ_ONCE(vol->broken);
		wait_event_timeout(vol->drain_wq, georep_ios_settled(vol),
				   HZ / 20);
	}
	return 0;
}

/**
 * georep_ios_drop() - take the writes of records a truncate dropped
 * @vol: the volume, secondary, its ios settled (georep_ios_settled())
 * @seq: the last record kept
 * @done: where they go; georep_ios_fail() completes them
 *
 * A deposed primary's writes still waiting for their commit complete with
 * EIO when their records leave the log: a later commit_seq covers another
 * record with the same seq, never theirs. Context: the caller holds
 * order_mutex, so commit_seq cannot move past @seq meanwhile.
 * Return: how many writes were taken.
 */
unsigned int georep_ios_drop(struct georep_volume *vol, u64 seq,
			     struct list_head *done)
{
	struct georep_io *io, *next;
	unsigned int n = 0;

	lockdep_assert_held(&vol->order_mutex);
	spin_lock_irq(&vol->lock);
	list_for_each_entry_safe(io, next, &vol->ios, node) {
		if (io->seq <= seq || !io->log_done || !io->data_done)
			continue;
		if (!io->status)
			io->status = BLK_STS_IOERR;
		list_move_tail(&io->node, done);	/* finish() counts it out */
		n++;
	}
	spin_unlock_irq(&vol->lock);
	return n;
}

/*
 * complete what georep_ios_drop() took; Context: neither order_mutex nor
 * lock held (the bios' end_io may take them)
 */
void georep_ios_fail(struct georep_volume *vol, struct list_head *done)
{
	lockdep_assert_not_held(&vol->lock);
	finish(vol, done);
}

static void io_set_status(struct georep_io *io, blk_status_t status)
{
	if (status)
		cmpxchg(&io->status, 0, status);
}

static void io_done(struct georep_io *io, bool log)
{
	struct georep_volume *vol = io->vol;
	unsigned long flags;

	spin_lock_irqsave(&vol->lock, flags);
	if (log)
		io->log_done = true;
	else
		io->data_done = true;
	spin_unlock_irqrestore(&vol->lock, flags);
	/* a write waiting for this one's data (conflicting()) may go */
	if (!log && wq_has_sleeper(&vol->conflict_wq))
		wake_up_all(&vol->conflict_wq);
	georep_ios_progress(vol);
}

static void log_endio(struct bio *bio)
{
	struct georep_io *io = bio->bi_private;

	if (bio->bi_status)
		pr_err_ratelimited("%s: log write of record %llu failed: %d\n",
				   io->vol->name, io->seq,
				   blk_status_to_errno(bio->bi_status));
	io_set_status(io, bio->bi_status);
	bio_put(bio);
	if (atomic_dec_and_test(&io->log_pending))
		io_done(io, true);
}

/* the data device cannot write zeroes after all: write zero pages */
static void zeroout_work(struct work_struct *work)
{
	struct georep_io *io = container_of(work, struct georep_io, work);
	struct georep_volume *vol = io->vol;
	int ret;

	ret = blkdev_issue_zeroout(vol->data_bdev, io->bio->bi_iter.bi_sector,
				   bio_sectors(io->bio), GFP_NOIO, 0);
	if (ret) {
		pr_err_ratelimited("%s: zeroing for record %llu failed: %d\n",
				   vol->name, io->seq, ret);
		io_set_status(io, errno_to_blk_status(ret));
		georep_kick_notify(vol, GEOREP_NB_IO_ERROR);
	}
	io_done(io, false);
}

static void data_endio(struct bio *bio)
{
	struct georep_io *io = bio->bi_private;
	blk_status_t status = bio->bi_status;

	bio_put(bio);
	/*
	 * A discard is advisory; a write-zeroes the device turns down is
	 * done with zero pages, so the data matches the record either way.
	 */
	if (status == BLK_STS_NOTSUPP) {
		if (bio_op(io->bio) == REQ_OP_WRITE_ZEROES) {
			INIT_WORK(&io->work, zeroout_work);
			queue_work(system_wq, &io->work);
			return;
		}
		if (bio_op(io->bio) == REQ_OP_DISCARD)
			status = BLK_STS_OK;
	}
	if (status) {
		pr_err_ratelimited("%s: data write of record %llu failed: %d\n",
				   io->vol->name, io->seq,
				   blk_status_to_errno(status));
		georep_kick_notify(io->vol, GEOREP_NB_IO_ERROR);
	}
	io_set_status(io, status);
	io_done(io, false);
}

/* ---- submission ---- */

static void fill_header(struct georep_volume *vol, struct georep_io *io,
			struct bio *bio)
{
	struct georep_record *rec = georep_io_hdr(io);
	u32 flags = 0;
	u16 op;

	switch (bio_op(bio)) {
	case REQ_OP_DISCARD:
		op = GEOREP_OP_DISCARD;
		break;
	case REQ_OP_WRITE_ZEROES:
		op = GEOREP_OP_WRITE_ZEROES;
		break;
	default:
		op = GEOREP_OP_WRITE;
		break;
	}
	if (bio->bi_opf & REQ_PREFLUSH)
		flags |= GEOREP_RF_PREFLUSH;
	if (bio->bi_opf & REQ_FUA)
		flags |= GEOREP_RF_FUA;
	clear_page(rec);
	rec->magic = cpu_to_le32(GEOREP_RECORD_MAGIC);
	rec->version = cpu_to_le16(GEOREP_RECORD_VERSION);
	rec->op = cpu_to_le16(op);
	rec->lba = cpu_to_le64(bio->bi_iter.bi_sector);
	rec->len = cpu_to_le32(bio->bi_iter.bi_size);
	rec->payload_len = cpu_to_le32(op == GEOREP_OP_WRITE ?
				       bio->bi_iter.bi_size : 0);
	rec->timestamp_ns = cpu_to_le64(ktime_get_real_ns());
	rec->site_id = cpu_to_le32(vol->site_id);
	rec->flags = cpu_to_le32(flags);
	memcpy(rec->volume_uuid, vol->uuid, GEOREP_UUID_LEN);
}

/*
 * Overlapping writes. The block layer does not order writes in flight at
 * once, but the ledger does: of two overlapping records, the later seq is
 * what every replica ends with, applying in seq order. So a write whose
 * range overlaps a write whose data is not yet on the data device gets
 * its seq only once that data is there (as DRBD waits for conflicting
 * local writes); otherwise the data device could end with the older data,
 * silently unlike its own ledger and every replica. Rare in practice
 * (filesystems do not overlap writes in flight), so a plain scan of the
 * in-flight list: true when @io must wait. Context: any, takes vol->lock.
 */
static bool conflicting(struct georep_volume *vol, struct georep_io *io)
{
	struct georep_io *x;
	unsigned long flags;
	bool busy = false;

	spin_lock_irqsave(&vol->lock, flags);
	list_for_each_entry(x, &vol->ios, node) {
		if (!x->data_done && x->sector < io->sector + io->nr_sectors &&
		    io->sector < x->sector + x->nr_sectors) {
			busy = true;
			break;
		}
	}
	spin_unlock_irqrestore(&vol->lock, flags);
	return busy && !READ_ONCE(vol->dead);
}

/*
 * Reserve log space and give the record its place in the ledger.
 * Return: 0, -EAGAIN when the log is full or the io state is suspend (wait
 * and retry), -EBUSY when an overlapping write's data is in flight (wait
 * on conflict_wq and retry), or an error for which the bio fails without
 * having consumed a seq.
 */
static int order(struct georep_volume *vol, struct georep_io *io)
{
	struct georep_record *rec = georep_io_hdr(io);
	u64 lsn, seq;
	int ret;

	mutex_lock(&vol->order_mutex);
	ret = vol->broken;
	if (ret)
		goto out_unlock;
	/* a dead volume takes no record, full log or not (order_ok()) */
	ret = -ENODEV;
	if (READ_ONCE(vol->dead))
		goto out_unlock;
	/* suspended: no seq is taken until the io state changes */
	if (vol->io_state == GEOREP_IO_SUSPEND) {
		ret = READ_ONCE(vol->dead) ? -ENODEV : -EAGAIN;
		goto out_unlock;
	}
	ret = -EROFS;
	if (vol->role != GEOREP_ROLE_PRIMARY)
		goto out_unlock;
	ret = -EIO;
	if (vol->io_state == GEOREP_IO_FAIL)
		goto out_unlock;
	/* under order_mutex: no overlapping record is ordered meanwhile */
	ret = -EBUSY;
	if (conflicting(vol, io))
		goto out_unlock;
	lsn = georep_lsn_place(vol, vol->head_lsn, io->nblocks);
	if (lsn + io->nblocks - vol->tail_lsn > vol->area_blocks) {
		if (!vol->throttled) {
			WRITE_ONCE(vol->throttled, true);
			georep_kick_notify(vol, GEOREP_NB_WATERMARK);
		}
		ret = -EAGAIN;
		goto out_unlock;
	}
	seq = vol->next_seq;
	rec->seq = cpu_to_le64(seq);
	rec->term = cpu_to_le64(vol->term);
	rec->seal_epoch = cpu_to_le32(georep_seal_epoch(vol));
	ret = georep_chain_hash(vol, vol->last_chain, rec, rec->chain_hash) ?:
	      georep_seal(vol, rec);
	if (ret)
		goto out_unlock;
	ret = georep_index_store(vol, seq, lsn, io->nblocks);
	if (ret)
		goto out_unlock;
	georep_epoch_used(vol, le32_to_cpu(rec->seal_epoch), seq);

	io->seq = seq;
	trace_georep_submit(vol, seq, le16_to_cpu(rec->op),
			    le64_to_cpu(rec->lba), le32_to_cpu(rec->len),
			    io->arrived_ns, io->admitted_ns);
	io->lsn = lsn;
	memcpy(io->chain, rec->chain_hash, GEOREP_HASH_LEN);
	vol->next_seq = seq + 1;
	vol->head_lsn = lsn + io->nblocks;
	vol->last_term = vol->term;
	memcpy(vol->last_chain, rec->chain_hash, GEOREP_HASH_LEN);
	spin_lock_irq(&vol->lock);
	if (seq <= vol->commit_seq)
		vol->commit_lsn = vol->head_lsn;
	/* each one has completed: the header's PREFLUSH covers them */
	if (io->bio->bi_opf & REQ_PREFLUSH) {
		io->flushed_upto = vol->written_seq;
		memcpy(io->flushed_chain, vol->written_chain, GEOREP_HASH_LEN);
	}
	list_add_tail(&io->node, &vol->ios);
	vol->inflight++;
	/* on the list first: a sealed-mode reader copies it from there */
	WRITE_ONCE(vol->sealed_seq, seq);
	spin_unlock_irq(&vol->lock);
	georep_throttle_update(vol);
	if (wq_has_sleeper(&vol->waitq))
		wake_up_all(&vol->waitq);
out_unlock:
	mutex_unlock(&vol->order_mutex);
	return ret;
}

/* the wait condition of an order() that returned -EAGAIN */
static bool order_ok(struct georep_volume *vol, u32 nblocks)
{
	/* lockless: a wait condition must not sleep; order() decides */
	if (READ_ONCE(vol->dead) || READ_ONCE(vol->broken))
		return true;
	if (READ_ONCE(vol->io_state) == GEOREP_IO_SUSPEND)
		return false;
	if (READ_ONCE(vol->role) != GEOREP_ROLE_PRIMARY)
		return true;
	return georep_lsn_place(vol, READ_ONCE(vol->head_lsn), nblocks) +
	       nblocks - READ_ONCE(vol->tail_lsn) <= vol->area_blocks;
}

static void submit_lower(struct georep_volume *vol, struct georep_io *io)
{
	struct bio *bio = io->bio;
	sector_t log_sector = georep_lsn_block(vol, io->lsn) *
			      GEOREP_SECTORS_PER_BLOCK;
	blk_opf_t fua = bio->bi_opf & REQ_FUA;
	blk_opf_t pre = bio->bi_opf & REQ_PREFLUSH;
	struct bio *hdr, *pay = NULL;
	struct blk_plug plug;

	hdr = bio_alloc_bioset(vol->log_bdev, 1,
			       REQ_OP_WRITE | REQ_SYNC | pre | fua, GFP_NOIO,
			       &vol->log_bs);
	hdr->bi_iter.bi_sector = log_sector;
	__bio_add_page(hdr, io->hdr_page, GEOREP_BLOCK_SIZE, 0);
	hdr->bi_private = io;
	hdr->bi_end_io = log_endio;

	if (bio_op(bio) == REQ_OP_WRITE) {
		pay = io_clone(io, vol->log_bdev, &vol->log_bs);
		pay->bi_opf = REQ_OP_WRITE | REQ_SYNC | fua;
		pay->bi_iter.bi_sector = log_sector + GEOREP_SECTORS_PER_BLOCK;
		pay->bi_private = io;
		pay->bi_end_io = log_endio;
	}
	atomic_set(&io->log_pending, pay ? 2 : 1);

	/* the data bio waits for the record to be durable (durable_work) */
	blk_start_plug(&plug);
	submit_bio_noacct(hdr);
	if (pay)
		submit_bio_noacct(pay);
	blk_finish_plug(&plug);
}

/* hash, order, submit; the bio fails if the record cannot be made */
static void write_finish(struct georep_io *io)
{
	struct georep_volume *vol = io->vol;
	struct bio *bio = io->bio;
	struct georep_record *rec = georep_io_hdr(io);
	int ret;

	if (bio_op(bio) == REQ_OP_WRITE) {
		io_copy(vol, io);
		ret = georep_payload_hash_bio(vol, io->copy, rec->payload_hash);
	} else {
		ret = georep_payload_hash_buf(vol, NULL, 0, rec->payload_hash);
	}
	if (ret)
		goto out_unsealed;

	for (;;) {
		ret = order(vol, io);
		if (ret == -EAGAIN)
			io_wait_event(vol->throttle_wq, order_ok(vol, io->nblocks));
		else if (ret == -EBUSY)
			io_wait_event(vol->conflict_wq, !conflicting(vol, io));
		else
			break;
	}
	/* in head_lsn now, or refused */
	atomic64_sub(io->nblocks, &vol->unsealed_blocks);
	if (ret) {
		pr_warn_ratelimited("%s: write refused: %d\n", vol->name, ret);
		goto out_free_io;
	}
	io->start = bio_start_io_acct(bio);
	submit_lower(vol, io);
	return;

out_unsealed:
	atomic64_sub(io->nblocks, &vol->unsealed_blocks);
out_free_io:
	mempool_free(io->hdr_page, vol->page_pool);
	io_copy_free(vol, io->copy);
	mempool_free(io, vol->io_pool);
	bio_io_error(bio);
}

static void write_work(struct work_struct *work)
{
	write_finish(container_of(work, struct georep_io, work));
}

/*
 * Admission, then the record. A write that arrives while others are in
 * flight is hashed on the volume's unbound workqueue, so that one
 * submitter with a deep queue still hashes on every CPU; a lone write is
 * hashed right here, which is faster for it.
 */
static void write_bio(struct georep_volume *vol, struct bio *bio)
{
	u64 arrived_ns = ktime_get_ns();
	bool pass = georep_admit_bpf(vol, bio);
	struct georep_io *io;

	if (!admit_ok(vol, pass))
		io_wait_event(vol->throttle_wq, admit_ok(vol, pass));
	if (READ_ONCE(vol->io_state) == GEOREP_IO_FAIL) {
		pr_warn_ratelimited("%s: write refused: io-state fail\n",
				    vol->name);
		bio_io_error(bio);
		return;
	}
	if (READ_ONCE(vol->role) != GEOREP_ROLE_PRIMARY) {
		pr_warn_ratelimited("%s: write refused: not primary\n",
				    vol->name);
		bio_io_error(bio);
		return;
	}

	io = mempool_alloc(vol->io_pool, GFP_NOIO);
	memset(io, 0, sizeof(*io));
	io->vol = vol;
	io->bio = bio;
	io->arrived_ns = arrived_ns;
	io->admitted_ns = ktime_get_ns();
	io->fua = bio->bi_opf & REQ_FUA;
	io->sector = bio->bi_iter.bi_sector;
	io->nr_sectors = bio_sectors(bio);
	io->hdr_page = mempool_alloc(vol->page_pool, GFP_NOIO);
	fill_header(vol, io, bio);
	io->nblocks = georep_record_blocks(georep_io_hdr(io));
	atomic64_add(io->nblocks, &vol->unsealed_blocks);

	if (READ_ONCE(vol->inflight) && vol->submit_wq) {
		INIT_WORK(&io->work, write_work);
		queue_work(vol->submit_wq, &io->work);
		return;
	}
	write_finish(io);
}

/*
 * An empty flush: every write that completed before it has its record
 * durable already (data goes out only after that, completion waits for
 * the data), so only the log device is flushed, for what a caller may
 * expect of a flush beyond that; the data device is flushed before the
 * superblock's applied_seq moves past a record (log.c), and recovery
 * replays the records after it.
 */
static void flush_bio(struct georep_volume *vol, struct bio *bio)
{
	struct bio *f;

	f = bio_alloc_bioset(vol->log_bdev, 0, REQ_OP_WRITE | REQ_PREFLUSH,
			     GFP_NOIO, &vol->log_bs);
	bio_chain(f, bio);
	submit_bio_noacct(f);
	bio_endio(bio);
}

static void georep_submit_bio(struct bio *bio)
{
	struct georep_volume *vol = bio->bi_bdev->bd_disk->private_data;

	switch (bio_op(bio)) {
	case REQ_OP_READ:
		bio_set_dev(bio, vol->data_bdev);
		submit_bio_noacct(bio);
		return;
	case REQ_OP_WRITE:
		if (!bio_sectors(bio)) {
			flush_bio(vol, bio);
			return;
		}
		fallthrough;
	case REQ_OP_DISCARD:
	case REQ_OP_WRITE_ZEROES:
		bio = bio_split_to_limits(bio);
		if (!bio)
			return;
		write_bio(vol, bio);
		return;
	default:
		bio->bi_status = BLK_STS_NOTSUPP;
		bio_endio(bio);
		return;
	}
}

static const struct block_device_operations georep_fops = {
	.owner		= THIS_MODULE,
	.submit_bio	= georep_submit_bio,
	.open		= georep_open,
	.release	= georep_release,
};

static int georep_major;

static void set_limits(struct georep_volume *vol, struct request_queue *q)
{
	struct request_queue *dq = bdev_get_queue(vol->data_bdev);
	struct queue_limits lim;
	unsigned int max;

	blk_set_stacking_limits(&lim);
	blk_stack_limits(&lim, &dq->limits,
			 get_start_sect(vol->data_bdev));
	lim.logical_block_size = GEOREP_BLOCK_SIZE;
	lim.physical_block_size = max_t(unsigned int, GEOREP_BLOCK_SIZE,
					lim.physical_block_size);
	lim.io_min = max_t(unsigned int, GEOREP_BLOCK_SIZE, lim.io_min);
	lim.max_hw_sectors = min_t(unsigned int, lim.max_hw_sectors,
				   GEOREP_MAX_PAYLOAD >> SECTOR_SHIFT);
	lim.max_sectors = min(lim.max_sectors, lim.max_hw_sectors);
	lim.max_dev_sectors = 0;
	/* clones share the bvecs; the lower devices split what they must */
	lim.max_segments = BIO_MAX_VECS;
	lim.max_segment_size = UINT_MAX;
	lim.seg_boundary_mask = BLK_SEG_BOUNDARY_MASK;
	lim.virt_boundary_mask = 0;
	lim.max_zone_append_sectors = 0;
	lim.zoned = BLK_ZONED_NONE;
	q->limits = lim;

	max = bdev_max_discard_sectors(vol->data_bdev) ?
	      GEOREP_MAX_NODATA_SECTORS : 0;
	blk_queue_max_discard_sectors(q, max);
	q->limits.discard_granularity =
		max_t(unsigned int, GEOREP_BLOCK_SIZE,
		      bdev_discard_granularity(vol->data_bdev));
	max = bdev_write_zeroes_sectors(vol->data_bdev) ?
	      GEOREP_MAX_NODATA_SECTORS : 0;
	blk_queue_max_write_zeroes_sectors(q, max);
	blk_queue_write_cache(q, true, true);
	if (bdev_nonrot(vol->data_bdev))
		blk_queue_flag_set(QUEUE_FLAG_NONROT, q);
	blk_queue_flag_set(QUEUE_FLAG_IO_STAT, q);
}

/* allocate and register /dev/georepN; Context: process context */
int georep_disk_add(struct georep_volume *vol)
{
	struct gendisk *disk;
	int ret;

	disk = blk_alloc_disk(NUMA_NO_NODE);
	if (!disk)
		return -ENOMEM;
	disk->major = georep_major;
	disk->first_minor = vol->minor;
	disk->minors = 1;
	disk->fops = &georep_fops;
	disk->private_data = vol;
	disk->flags |= GENHD_FL_NO_PART;
	snprintf(disk->disk_name, sizeof(disk->disk_name), "georep%u",
		 vol->minor);
	set_limits(vol, disk->queue);
	set_capacity(disk, vol->data_sectors);
	set_disk_ro(disk, vol->role != GEOREP_ROLE_PRIMARY);
	vol->disk = disk;
	ret = add_disk(disk);
	if (ret) {
		vol->disk = NULL;
		put_disk(disk);
	}
	return ret;
}

void georep_disk_del(struct georep_volume *vol)
{
	if (!vol->disk)
		return;
	del_gendisk(vol->disk);
	/* no bio can come in now; wait for the ones being hashed, in flight */
	if (vol->submit_wq)
		flush_workqueue(vol->submit_wq);
	wait_event(vol->drain_wq, !READ_ONCE(vol->inflight));
	/* the last finish() woke us under the lock: it is done with vol */
	spin_lock_irq(&vol->lock);
	spin_unlock_irq(&vol->lock);
	put_disk(vol->disk);
	vol->disk = NULL;
}

int georep_blk_init(void)
{
	georep_major = register_blkdev(0, "georep");
	return georep_major < 0 ? georep_major : 0;
}

void georep_blk_exit(void)
{
	unregister_blkdev(georep_major, "georep");
}
