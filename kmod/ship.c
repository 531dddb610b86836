// SPDX-License-Identifier: GPL-2.0
/*
 * Shipping a record while its local writes run (Documentation/
 * write-path.rst, "Shipping before the local write is durable").
 *
 * A primary's record is whole as soon as order() has sealed it: its header
 * is in io->hdr_page, its payload in the pages of its copy (io->copy,
 * blk.c's io_copy(): only a write has a payload, and every write a copy).
 * A log stream file in sealed mode (GEOREP_IOC_SHIP_SEALED) reads it from there
 * instead of waiting for the log write and its flush and then reading the
 * log device back, so georepd sends it to the followers while the local
 * writes run.
 *
 * The pages are the io's: they hold still while the write is in flight,
 * and an io leaves vol->ios (collect()) before its bio completes and its
 * copy's pages are freed; the references taken keep them. So the copy
 * is optimistic, like a seqlock reader's: under vol->lock the io is found
 * on the list and its pages referenced; they are copied with no lock held;
 * the copy counts only if the io is still on the list afterwards. If it is
 * not, the write completed meanwhile, which it only does once its record
 * is durable (or the volume broke): the caller reads the log device.
 */
#include <linux/highmem.h>
#include <linux/uaccess.h>

#include "vol.h"

/* the io of record @seq, or NULL; vol->ios is in seq order */
static struct georep_io *io_find(struct georep_volume *vol, u64 seq)
{
	struct georep_io *io;

	lockdep_assert_held(&vol->lock);
	list_for_each_entry(io, &vol->ios, node) {
		if (io->seq == seq)
			return io;
		if (io->seq > seq)
			break;
	}
	return NULL;
}

/*
 * Take record @seq's header (into vol->ship_hdr) and a reference to each
 * of its payload pages (vol->ship_bv). Return: the number of pages, or
 * -ENOENT (not in flight), -EMSGSIZE (the record is larger than @len),
 * -E2BIG (more segments than GEOREP_SHIP_BVECS).
 */
static int ship_grab(struct georep_volume *vol, u64 seq, size_t len,
		     struct georep_io **iop)
{
	struct georep_record *rec = &vol->ship_hdr;
	struct bvec_iter iter;
	struct georep_io *io;
	struct bio_vec bv;
	int n = 0, i;

	spin_lock_irq(&vol->lock);
	io = io_find(vol, seq);
	if (!io) {
		n = -ENOENT;
		goto out_unlock;
	}
	memcpy(rec, georep_io_hdr(io), GEOREP_RECORD_HDR_SIZE);
	if (GEOREP_RECORD_HDR_SIZE + (size_t)le32_to_cpu(rec->payload_len) >
	    len) {
		n = -EMSGSIZE;
		goto out_unlock;
	}
	if (!rec->payload_len)
		goto out_unlock;
	bio_for_each_segment(bv, io->copy, iter) {
		if (n == GEOREP_SHIP_BVECS) {
			for (i = 0; i < n; i++)
				put_page(vol->ship_bv[i].bv_page);
			n = -E2BIG;
			goto out_unlock;
		}
		get_page(bv.bv_page);
		vol->ship_bv[n++] = bv;
	}
out_unlock:
	*iop = io;
	spin_unlock_irq(&vol->lock);
	return n;
}

/* copy what ship_grab() took to @buf; 0 or -EFAULT, -EIO */
static int ship_copy(struct georep_volume *vol, int nr, char __user *buf)
{
	const struct georep_record *rec = &vol->ship_hdr;
	size_t done = GEOREP_RECORD_HDR_SIZE;
	int i;

	if (copy_to_user(buf, rec, GEOREP_RECORD_HDR_SIZE))
		return -EFAULT;
	for (i = 0; i < nr; i++) {
		const struct bio_vec *bv = &vol->ship_bv[i];
		void *p = kmap_local_page(bv->bv_page);
		unsigned long left;

		left = copy_to_user(buf + done, p + bv->bv_offset, bv->bv_len);
		kunmap_local(p);
		if (left)
			return -EFAULT;
		done += bv->bv_len;
	}
	if (WARN_ON_ONCE(done != GEOREP_RECORD_HDR_SIZE +
				 le32_to_cpu(rec->payload_len)))
		return -EIO;
	return 0;
}

/**
 * georep_ship_read() - copy record @seq, still in flight on a primary
 * @vol: the volume
 * @seq: the record
 * @buf: where it goes, header then payload, as georep_log_read() puts it
 * @len: room at @buf
 *
 * Context: process context, ship_mutex held (ship_hdr and ship_bv), not
 * read_mutex: a read of the log device (a scrub's, a catch-up's) may hold
 * that one for as long as the device takes.
 * Return: the bytes copied; -ENOENT when the record is not (or no longer)
 * in flight: it completed, so it is durable, or it failed; -EAGAIN when
 * it cannot be copied here (-E2BIG above): wait until it is durable;
 * -EMSGSIZE when it does not fit in @len; -EFAULT.
 */
ssize_t georep_ship_read(struct georep_volume *vol, u64 seq,
			 char __user *buf, size_t len)
{
	struct georep_io *io, *still;
	int nr, ret, i;

	lockdep_assert_held(&vol->ship_mutex);
	nr = ship_grab(vol, seq, len, &io);
	if (nr == -E2BIG)
		return -EAGAIN;
	if (nr < 0)
		return nr;
	ret = ship_copy(vol, nr, buf);
	/* still in flight: its pages were the record's all along */
	spin_lock_irq(&vol->lock);
	still = io_find(vol, seq);
	spin_unlock_irq(&vol->lock);
	for (i = 0; i < nr; i++)
		put_page(vol->ship_bv[i].bv_page);
	if (ret)
		return ret;
	if (still != io)
		return -ENOENT;
	return GEOREP_RECORD_HDR_SIZE +
	       le32_to_cpu(vol->ship_hdr.payload_len);
}

/**
 * georep_volume_ship_seq() - the last record a sealed-mode reader may read
 * @vol: the volume
 *
 * On a primary the last record sealed (in flight or not), else the last
 * durable one. Context: any; lockless.
 */
u64 georep_volume_ship_seq(struct georep_volume *vol)
{
	u64 durable = READ_ONCE(vol->durable_seq);
	u64 sealed = READ_ONCE(vol->sealed_seq);

	if (READ_ONCE(vol->role) != GEOREP_ROLE_PRIMARY)
		return durable;
	return max(durable, sealed);
}
