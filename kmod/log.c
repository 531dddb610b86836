// SPDX-License-Identifier: GPL-2.0
/*
 * The log device: superblock, circular record area, the seq index, and the
 * log stream reader (georep_log_read(); appends are in append.c).
 *
 * Layout (blocks of 4 KiB):
 *
 *   block 0                     superblock (struct georep_superblock)
 *   blocks 1 .. 1+area_blocks   circular area of records
 *
 * A record is a header block (struct georep_record, zero padded) followed
 * by its payload blocks, all contiguous. Wrap rule: a record is placed at
 * the next free block unless it would cross the end of the area; then it
 * starts at block 0 of the area and the blocks left at the end of the lap
 * stay unused (they count as used until the tail passes them). Recovery
 * follows the same rule: the record after one ending at area offset o is
 * looked for at o, and at area offset 0 when the record at o is not the
 * expected one (see recover.c).
 *
 * Documentation/on-disk-format.rst describes the format in full.
 */
#include <linux/crc32c.h>
#include <linux/highmem.h>
#include <linux/overflow.h>
#include <linux/uaccess.h>
#include <linux/uuid.h>
#include <linux/vmalloc.h>

#include "vol.h"

/* where a record of @nblocks goes when the next free block is @lsn */
u64 georep_lsn_place(struct georep_volume *vol, u64 lsn, u32 nblocks)
{
	u64 off = lsn % vol->area_blocks;

	if (off + nblocks > vol->area_blocks)
		return lsn + (vol->area_blocks - off);
	return lsn;
}

static struct page *buf_page(void *p)
{
	return is_vmalloc_addr(p) ? vmalloc_to_page(p) : virt_to_page(p);
}

/*
 * @len bytes of @buf at @sector as bios of up to BIO_MAX_VECS pages, all in
 * flight together (chained to the last, which is waited for)
 */
static int log_rw_chain(struct block_device *bdev, sector_t sector, void *buf,
			size_t len, blk_opf_t opf)
{
	struct bio *bio = NULL;
	unsigned int nr, i;
	int ret;

	while (len) {
		nr = min_t(size_t, len >> PAGE_SHIFT, BIO_MAX_VECS);
		bio = blk_next_bio(bio, bdev, nr, opf, GFP_NOIO);
		bio->bi_iter.bi_sector = sector;
		for (i = 0; i < nr; i++) {
			__bio_add_page(bio, buf_page(buf), PAGE_SIZE, 0);
			buf += PAGE_SIZE;
		}
		sector += nr << (PAGE_SHIFT - SECTOR_SHIFT);
		len -= (size_t)nr << PAGE_SHIFT;
	}
	ret = submit_bio_wait(bio);
	bio_put(bio);
	return ret;
}

/**
 * georep_log_rw() - synchronous block I/O on a kernel buffer
 * @vol: the volume (for messages)
 * @bdev: the device
 * @sector: where
 * @buf: page aligned buffer, vmalloc or linear mapping
 * @len: a multiple of PAGE_SIZE
 * @opf: REQ_OP_READ or REQ_OP_WRITE with flags
 *
 * A large buffer goes as several bios in flight together. REQ_PREFLUSH
 * goes on the first only, which completes before the others are sent (so
 * that the flush is before all of them); REQ_FUA on every one. Context:
 * process context, sleeps.
 */
int georep_log_rw(struct georep_volume *vol, struct block_device *bdev,
		  sector_t sector, void *buf, size_t len, blk_opf_t opf)
{
	bool vmalloced = is_vmalloc_addr(buf);
	size_t n;
	int ret;

	if (!len)
		return 0;
	/* whole pages only: a tail would leave the bio loop with nothing to add */
	if (WARN_ON_ONCE(!PAGE_ALIGNED(len)))
		return -EINVAL;
	if (vmalloced && op_is_write(opf))
		flush_kernel_vmap_range(buf, len);
	if (opf & REQ_PREFLUSH) {
		n = min_t(size_t, len, (size_t)BIO_MAX_VECS << PAGE_SHIFT);
		ret = log_rw_chain(bdev, sector, buf, n, opf);
		if (!ret && n < len)
			ret = log_rw_chain(bdev, sector + (n >> SECTOR_SHIFT),
					   buf + n, len - n,
					   opf & ~REQ_PREFLUSH);
	} else {
		ret = log_rw_chain(bdev, sector, buf, len, opf);
	}
	if (vmalloced && !op_is_write(opf))
		invalidate_kernel_vmap_range(buf, len);
	return ret;
}

/* read the record at @lsn, header block first, into @buf */
int georep_log_read_record(struct georep_volume *vol, u64 lsn, u32 nblocks,
			   void *buf)
{
	return georep_log_rw(vol, vol->log_bdev,
			     georep_lsn_block(vol, lsn) * GEOREP_SECTORS_PER_BLOCK,
			     buf, (size_t)nblocks * GEOREP_BLOCK_SIZE,
			     REQ_OP_READ);
}

/* what is wrong with the payload hash or the seal of @rec, or NULL */
static const char *load_verify(struct georep_volume *vol,
			       const struct georep_record *rec,
			       unsigned int flags)
{
	u8 hash[GEOREP_HASH_LEN];
	int ret;

	if (flags & GEOREP_LOAD_HASH) {
		ret = georep_payload_hash_buf(vol, (const u8 *)rec +
					      GEOREP_BLOCK_SIZE,
					      le32_to_cpu(rec->payload_len),
					      hash);
		if (ret || memcmp(hash, rec->payload_hash, GEOREP_HASH_LEN))
			return "payload hash does not match the payload";
	}
	if (flags & GEOREP_LOAD_SEAL) {
		ret = georep_seal_check(vol, rec);
		if (ret == -ENOKEY)
			return "seal_epoch not installed";
		if (ret)
			return "seal does not match the header";
	}
	return NULL;
}

/**
 * georep_log_load() - read record @seq back from the log device, checked
 * @vol: the volume
 * @seq: the seq the index maps to @lsn
 * @lsn: where the index says it is
 * @nblocks: its blocks, from the index
 * @buf: GEOREP_MAX_RECORD_BLOCKS blocks; gets the header block, and the
 *	 payload blocks with GEOREP_LOAD_PAYLOAD or GEOREP_LOAD_HASH
 * @flags: GEOREP_LOAD_*
 * @why: set to a phrase naming the bad field on -EBADMSG, else NULL
 *
 * The log device may have been written by someone else since the record
 * was checked (on 6.1 an exclusive open does not stop other writers), so
 * nothing read here is used before it passes: a well-formed header of this
 * volume (georep_record_header_error(): lengths, op and range included),
 * the expected seq, payload_len matching the blocks of the index, and with
 * the flags the payload hash and the seal. Logs nothing: the caller knows
 * whether a failure is damage (georep_log_bad_record()) or a race.
 *
 * Context: process context, sleeps.
 * Return: 0, -EBADMSG (damaged, *why set) or an I/O error.
 */
int georep_log_load(struct georep_volume *vol, u64 seq, u64 lsn, u32 nblocks,
		    void *buf, unsigned int flags, const char **why)
{
	struct georep_record *rec = buf;
	bool whole = flags & (GEOREP_LOAD_PAYLOAD | GEOREP_LOAD_HASH);
	int ret;

	*why = NULL;
	if (WARN_ON_ONCE(!nblocks || nblocks > GEOREP_MAX_RECORD_BLOCKS))
		return -EIO;
	ret = georep_log_read_record(vol, lsn, whole ? nblocks : 1, buf);
	if (ret)
		return ret;
	*why = georep_record_header_error(vol, rec);
	if (!*why && le64_to_cpu(rec->seq) != seq)
		*why = "seq is not the one expected here";
	if (!*why && georep_record_blocks(rec) != nblocks)
		*why = "payload_len does not match its blocks";
	if (!*why)
		*why = load_verify(vol, rec, flags);
	return *why ? -EBADMSG : 0;
}

/* a record read back from the log device failed georep_log_load() */
void georep_log_bad_record(struct georep_volume *vol, u64 seq,
			   const char *why)
{
	pr_err_ratelimited("%s: record %llu on the log device is damaged: %s\n",
			   vol->name, seq, why);
}

int georep_index_lookup(struct georep_volume *vol, u64 seq, u64 *lsn,
			u32 *nblocks)
{
	void *entry = xa_load(&vol->index, seq);
	unsigned long v;

	if (!entry)
		return -ENOENT;
	v = xa_to_value(entry);
	*lsn = v >> 9;
	*nblocks = (v & 511) + 1;
	return 0;
}

int georep_index_store(struct georep_volume *vol, u64 seq, u64 lsn,
		       u32 nblocks)
{
	void *entry = xa_mk_value(lsn << 9 | (nblocks - 1));

	return xa_err(xa_store(&vol->index, seq, entry, GFP_NOIO));
}

/* ---- superblock ---- */

static u32 sb_crc(const struct georep_superblock *sb)
{
	struct georep_superblock tmp = *sb;

	tmp.crc = 0;
	return crc32c(~0U, &tmp, sizeof(tmp));
}

/**
 * georep_sb_check() - is the geometry of @sb sane for the volume's devices?
 * Return: NULL, or a phrase naming the first bad field (for messages).
 */
const char *georep_sb_check(struct georep_volume *vol,
			    const struct georep_superblock *sb)
{
	u64 log_blocks = bdev_nr_sectors(vol->log_bdev) /
			 GEOREP_SECTORS_PER_BLOCK;
	u64 start = le64_to_cpu(sb->area_start);
	u64 blocks = le64_to_cpu(sb->area_blocks);
	u64 data = le64_to_cpu(sb->data_sectors);
	u64 end;

	if (le32_to_cpu(sb->block_size) != GEOREP_BLOCK_SIZE)
		return "block_size is not 4096";
	if (start < 1)
		return "area_start overlaps the superblock";
	if (blocks < GEOREP_MIN_AREA_BLOCKS)
		return "area_blocks below the minimum";
	if (check_add_overflow(start, blocks, &end) || end > log_blocks)
		return "area_start + area_blocks beyond the log device";
	if (!data || data % GEOREP_SECTORS_PER_BLOCK)
		return "data_sectors zero or not a multiple of 8";
	if (data > bdev_nr_sectors(vol->data_bdev))
		return "data_sectors beyond the data device";
	if (le64_to_cpu(sb->tail_block) >= blocks)
		return "tail_block beyond the area";
	if (le64_to_cpu(sb->head_block) >= blocks)
		return "head_block beyond the area";
	return NULL;
}

/**
 * georep_sb_read() - read and check the superblock against the devices
 * Return: 0, -EUCLEAN (not a georep log, bad crc), -EINVAL (geometry)
 * or an I/O error. Sets vol->uuid and the geometry.
 */
int georep_sb_read(struct georep_volume *vol, struct georep_superblock *sb)
{
	void *p = page_address(vol->sb_page);
	int ret;

	ret = georep_log_rw(vol, vol->log_bdev, 0, p, PAGE_SIZE, REQ_OP_READ);
	if (ret)
		return ret;
	memcpy(sb, p, sizeof(*sb));
	/* version 1 has the same layout (commit_rule was reserved, zero) */
	if (le64_to_cpu(sb->magic) != GEOREP_SB_MAGIC ||
	    le32_to_cpu(sb->version) < GEOREP_SB_VERSION_MIN ||
	    le32_to_cpu(sb->version) > GEOREP_SB_VERSION ||
	    le32_to_cpu(sb->crc) != sb_crc(sb))
		return -EUCLEAN;
	if (georep_sb_check(vol, sb))
		return -EINVAL;
	memcpy(vol->uuid, sb->volume_uuid, GEOREP_UUID_LEN);
	vol->data_sectors = le64_to_cpu(sb->data_sectors);
	vol->area_start = le64_to_cpu(sb->area_start);
	vol->area_blocks = le64_to_cpu(sb->area_blocks);
	return 0;
}

struct sb_tail {
	u64 seq;
	u64 lsn;
	u8 prev_chain[GEOREP_HASH_LEN];
};

/*
 * Write the superblock (always the current version: this is where a
 * version 1 superblock is upgraded): @tail, the head hint and applied_seq
 * from the volume, its term, role, commit rule and flags. The head hint
 * (written_seq) and the applied_seq candidate are taken first; the data
 * device is flushed when applied_seq moves, and the superblock goes out
 * with PREFLUSH|FUA, so every record up to the hint is durable before the
 * hint is.
 */
static int sb_write(struct georep_volume *vol, const struct sb_tail *tail)
{
	struct georep_superblock *sb = page_address(vol->sb_page);
	u64 head_seq, head_lsn = 0, applied;
	u32 nblocks;
	int ret;

	lockdep_assert_held(&vol->sb_mutex);
	spin_lock_irq(&vol->lock);
	head_seq = vol->written_seq;
	/* a primary's stops below its first pending data write (blk.c) */
	applied = vol->applied_seq;
	spin_unlock_irq(&vol->lock);
	if (head_seq < tail->seq || georep_index_lookup(vol, head_seq,
							&head_lsn, &nblocks)) {
		head_seq = tail->seq ? tail->seq - 1 : 0;
		head_lsn = tail->lsn;
	}

	if (applied > vol->sb_applied_seq) {
		ret = blkdev_issue_flush(vol->data_bdev);
		if (ret)
			return ret;
	}

	memset(sb, 0, PAGE_SIZE);
	sb->magic = cpu_to_le64(GEOREP_SB_MAGIC);
	sb->version = cpu_to_le32(GEOREP_SB_VERSION);
	sb->block_size = cpu_to_le32(GEOREP_BLOCK_SIZE);
	memcpy(sb->volume_uuid, vol->uuid, GEOREP_UUID_LEN);
	sb->data_sectors = cpu_to_le64(vol->data_sectors);
	sb->area_start = cpu_to_le64(vol->area_start);
	sb->area_blocks = cpu_to_le64(vol->area_blocks);
	sb->tail_seq = cpu_to_le64(tail->seq);
	sb->tail_block = cpu_to_le64(tail->lsn % vol->area_blocks);
	memcpy(sb->tail_prev_chain, tail->prev_chain, GEOREP_HASH_LEN);
	sb->head_seq = cpu_to_le64(head_seq);
	sb->head_block = cpu_to_le64(head_lsn % vol->area_blocks);
	sb->applied_seq = cpu_to_le64(applied);
	sb->term = cpu_to_le64(READ_ONCE(vol->term));
	sb->site_id = cpu_to_le32(vol->site_id);
	sb->flags = cpu_to_le32((READ_ONCE(vol->role) == GEOREP_ROLE_PRIMARY ?
				 GEOREP_SB_F_PRIMARY : 0) |
				(READ_ONCE(vol->diverged) ?
				 GEOREP_SB_F_DIVERGED : 0) |
				(vol->standalone ? GEOREP_SB_F_STANDALONE : 0));
	/* what decides when a write is acknowledged survives a restart */
	sb->commit_rule = cpu_to_le32(READ_ONCE(vol->commit_rule));
	sb->crc = cpu_to_le32(sb_crc(sb));
	ret = georep_log_rw(vol, vol->log_bdev, 0, sb, PAGE_SIZE,
			    REQ_OP_WRITE | REQ_PREFLUSH | REQ_FUA | REQ_SYNC);
	if (!ret) {
		vol->sb_head_seq = head_seq;
		vol->sb_applied_seq = applied;
	}
	return ret;
}

static void tail_snapshot(struct georep_volume *vol, struct sb_tail *t)
{
	mutex_lock(&vol->order_mutex);
	t->seq = vol->tail_seq;
	t->lsn = vol->tail_lsn;
	memcpy(t->prev_chain, vol->tail_prev_chain, GEOREP_HASH_LEN);
	mutex_unlock(&vol->order_mutex);
}

/* persist the current state; Context: process context */
int georep_sb_write(struct georep_volume *vol)
{
	struct sb_tail t;
	int ret;

	mutex_lock(&vol->sb_mutex);
	tail_snapshot(vol, &t);
	ret = sb_write(vol, &t);
	mutex_unlock(&vol->sb_mutex);
	if (ret)
		pr_err_ratelimited("%s: superblock write failed: %d\n",
				   vol->name, ret);
	return ret;
}

/* persist with a new tail; Context: sb_mutex held */
int georep_sb_write_tail(struct georep_volume *vol, u64 tail_seq,
			 u64 tail_lsn, const u8 *prev_chain)
{
	struct sb_tail t = { .seq = tail_seq, .lsn = tail_lsn };

	lockdep_assert_held(&vol->sb_mutex);
	memcpy(t.prev_chain, prev_chain, GEOREP_HASH_LEN);
	return sb_write(vol, &t);
}

/* periodic: persist the head hint and applied_seq when they moved */
void georep_sb_work(struct work_struct *work)
{
	struct georep_volume *vol = container_of(to_delayed_work(work),
						 struct georep_volume, sb_work);
	bool moved;

	spin_lock_irq(&vol->lock);
	moved = vol->written_seq != vol->sb_head_seq ||
		vol->applied_seq != vol->sb_applied_seq;
	spin_unlock_irq(&vol->lock);
	if (moved && georep_sb_write(vol))
		georep_kick_notify(vol, GEOREP_NB_IO_ERROR);
	queue_delayed_work(vol->wq, &vol->sb_work,
			   msecs_to_jiffies(GEOREP_SB_SYNC_MS));
}

/**
 * georep_sb_format() - write a fresh superblock for an empty log
 *
 * Zeroes the first block of the area so that no record of an earlier
 * ledger on the same device can be taken for record 1.
 */
int georep_sb_format(struct georep_volume *vol, u64 term, bool primary)
{
	struct sb_tail t = { .seq = 0, .lsn = 0 };
	int ret;

	ret = blkdev_issue_zeroout(vol->log_bdev,
				   vol->area_start * GEOREP_SECTORS_PER_BLOCK,
				   GEOREP_SECTORS_PER_BLOCK, GFP_KERNEL, 0);
	if (ret)
		return ret;
	mutex_lock(&vol->sb_mutex);
	ret = sb_write(vol, &t);
	mutex_unlock(&vol->sb_mutex);
	return ret;
}

/* ---- log stream ---- */

/*
 * Record @s, past the durable ones, from its io in flight (ship.c).
 * Return: bytes, 0 when it completed meanwhile (read it from the log
 * device), or -errno (-EAGAIN: wait until it is durable).
 */
static ssize_t read_in_flight(struct georep_volume *vol, u64 s,
			      char __user *buf, size_t len)
{
	ssize_t ret = georep_ship_read(vol, s, buf, len);

	if (ret != -ENOENT)
		return ret;
	/* completion comes after durability; a failure breaks the volume */
	if (s <= georep_volume_durable_seq(vol))
		return 0;
	return READ_ONCE(vol->broken) ? -EIO : -EAGAIN;
}

/* one durable record from the log device; bytes or -errno */
static ssize_t read_durable(struct georep_volume *vol, u64 s,
			    char __user *buf, size_t len)
{
	struct georep_record *rec = vol->read_buf;
	const char *why;
	u32 nblocks, plen;
	u64 lsn;
	int ret;

	if (s < READ_ONCE(vol->tail_seq) ||
	    georep_index_lookup(vol, s, &lsn, &nblocks))
		return -ERANGE;
	if (GEOREP_RECORD_HDR_SIZE +
	    (size_t)(nblocks - 1) * GEOREP_BLOCK_SIZE > len)
		return -EMSGSIZE;
	ret = georep_log_load(vol, s, lsn, nblocks, rec, GEOREP_LOAD_PAYLOAD,
			      &why);
	/* released while we read it: the blocks may be reused */
	smp_rmb();
	if (s < READ_ONCE(vol->tail_seq))
		return -ERANGE;
	if (ret == -EBADMSG) {
		georep_log_bad_record(vol, s, why);
		return -EIO;
	}
	if (ret)
		return ret;
	/* checked: a multiple of 4096, (nblocks - 1) blocks, fits */
	plen = le32_to_cpu(rec->payload_len);
	if (copy_to_user(buf, rec, GEOREP_RECORD_HDR_SIZE) ||
	    copy_to_user(buf + GEOREP_RECORD_HDR_SIZE,
			 (u8 *)rec + GEOREP_BLOCK_SIZE, plen))
		return -EFAULT;
	return GEOREP_RECORD_HDR_SIZE + plen;
}

/*
 * Records from *@seq on: durable ones from the log device under read_mutex
 * (a verify pass yields to the readers waiting for it), or, @in_flight,
 * ones in flight under ship_mutex only, so that a device read holding
 * read_mutex (for as long as a stalled log device takes) does not hold
 * shipping up. Return: bytes; 0 when an in-flight record completed
 * meanwhile (durable now); or -errno when none.
 */
static ssize_t read_run(struct georep_volume *vol, u64 *seq,
			char __user *buf, size_t len, bool in_flight)
{
	struct mutex *lock = in_flight ? &vol->ship_mutex : &vol->read_mutex;
	size_t done = 0;
	ssize_t ret = 0;
	u64 s = *seq;

	atomic_inc(&vol->log_readers);
	ret = mutex_lock_interruptible(lock);
	if (atomic_dec_and_test(&vol->log_readers))
		wake_up_all(&vol->readers_wq);
	if (ret)
		return -ERESTARTSYS;
	while (!READ_ONCE(vol->dead) &&
	       (in_flight ? s > georep_volume_durable_seq(vol) &&
			    s <= georep_volume_ship_seq(vol) :
			    s <= georep_volume_durable_seq(vol))) {
		ret = in_flight ? read_in_flight(vol, s, buf + done, len - done) :
				  read_durable(vol, s, buf + done, len - done);
		if (ret <= 0)
			break;
		done += ret;
		s++;
	}
	if (READ_ONCE(vol->dead) && !done)
		ret = -ENODEV;
	mutex_unlock(lock);
	*seq = s;
	return done ? done : ret;
}

/**
 * georep_log_read() - copy whole records from *@seq on to userspace
 *
 * A cursor of 0 means "from the tail". Durable records are read from the
 * log device; a record released (and perhaps overwritten) while it was
 * being read is detected by checking the tail again afterwards. With
 * @sealed, records past the durable ones are copied from their writes in
 * flight (read_in_flight()), under a mutex of their own.
 *
 * Context: process context, sleeps.
 */
ssize_t georep_log_read(struct georep_volume *vol, u64 *seq,
			char __user *buf, size_t len, bool sealed)
{
	size_t done = 0;
	ssize_t ret = 0;
	u64 s = *seq;

	if (READ_ONCE(vol->dead))
		return -ENODEV;
	if (!s)
		s = READ_ONCE(vol->tail_seq);
	for (;;) {
		if (s <= georep_volume_durable_seq(vol))
			ret = read_run(vol, &s, buf + done, len - done, false);
		else if (sealed && s <= georep_volume_ship_seq(vol))
			ret = read_run(vol, &s, buf + done, len - done, true);
		else
			break;
		if (ret < 0)
			break;
		done += ret;	/* 0: completed meanwhile, read it durable */
	}
	*seq = s;
	return done ? done : ret;
}
