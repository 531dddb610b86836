// SPDX-License-Identifier: GPL-2.0
/*
 * Volumes: create/attach, destroy, lookup, status, settings, keys,
 * retention. The control half calls these through kmod/georep.h.
 *
 * Lifetime: the registry (georep_volumes) holds one reference, every
 * georep_volume_get() another. georep_volume_destroy():
 *
 *  1. refuses with -EBUSY while /dev/georepN is open, else marks the volume
 *     dead under open_mutex, so no new opener gets in;
 *  2. removes the stream node (waits for log reads and appends running);
 *  3. deletes the disk and waits for the bios in flight;
 *  4. stops the workers and persists the superblock (head hint, applied);
 *  5. closes the lower devices and wipes the keys;
 *  6. drops the registry reference; the memory goes with the last put.
 */
#include <linux/idr.h>
#include <linux/module.h>
#include <linux/netlink.h>
#include <linux/slab.h>
#include <linux/uuid.h>
#include <linux/vmalloc.h>

#include "vol.h"

static LIST_HEAD(georep_volumes);
static DEFINE_MUTEX(georep_vol_mutex);	/* protects georep_volumes, dead */
static DEFINE_IDA(georep_minors);
static struct kmem_cache *georep_io_cache;

/*
 * The payload and chain hash implementation: "sha256" lets the crypto API
 * pick the fastest one the CPU has. A driver name (sha256-generic,
 * sha256-avx2, sha256-ni) pins one, e.g. under an emulator where the
 * vector code is slower than plain C.
 */
static char *sha256_driver = "sha256";
module_param(sha256_driver, charp, 0444);
MODULE_PARM_DESC(sha256_driver, "crypto API name of the SHA-256 to use (default: sha256)");

#define GEOREP_IO_POOL		64
#define GEOREP_BUF_SIZE		(GEOREP_MAX_RECORD_BLOCKS * GEOREP_BLOCK_SIZE)

/*
 * Extack messages must outlive the handler until the ack is built, which
 * happens after the handler returned and its locks are gone (the family is
 * parallel_ops): a ring of buffers, reused only after eight more messages.
 * The last byte of a buffer is never anything but NUL, so even a reused
 * one reads as a string.
 */
void georep_extack_fmt(struct netlink_ext_ack *extack, const char *fmt, ...)
{
	static char bufs[8][96];
	static atomic_t next = ATOMIC_INIT(0);
	char *buf;
	va_list ap;

	if (!extack)
		return;
	buf = bufs[(unsigned int)atomic_inc_return(&next) % ARRAY_SIZE(bufs)];
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(bufs[0]), fmt, ap);
	va_end(ap);
	extack->_msg = buf;
}

/* ---- simple accessors ---- */

wait_queue_head_t *georep_volume_waitq(struct georep_volume *vol)
{
	return &vol->waitq;
}

/* the last record durable in the log: what the stream and status offer */
u64 georep_volume_durable_seq(struct georep_volume *vol)
{
	return READ_ONCE(vol->durable_seq);
}

u32 georep_volume_minor(struct georep_volume *vol)
{
	return vol->minor;
}

const char *georep_volume_name(struct georep_volume *vol)
{
	return vol->name;
}

/* ---- references ---- */

static void vol_free(struct kref *kref)
{
	struct georep_volume *vol = container_of(kref, struct georep_volume,
						 kref);

	xa_destroy(&vol->index);
	georep_apply_cache_free(vol);
	vfree(vol->append_buf);
	vfree(vol->read_buf);
	kfree(vol->ship_bv);
	vfree(vol->apply_buf);
	if (vol->sb_page)
		__free_page(vol->sb_page);
	kfree(vol);
}

void georep_volume_put(struct georep_volume *vol)
{
	if (vol)
		kref_put(&vol->kref, vol_free);
}

struct georep_volume *georep_volume_get(const char *name)
{
	struct georep_volume *vol, *found = NULL;

	mutex_lock(&georep_vol_mutex);
	list_for_each_entry(vol, &georep_volumes, node) {
		if (!vol->dead && !strcmp(vol->name, name)) {
			kref_get(&vol->kref);
			found = vol;
			break;
		}
	}
	mutex_unlock(&georep_vol_mutex);
	return found;
}

/* the live volume with the lowest minor >= *minor; *minor moves past it */
struct georep_volume *georep_volume_next(u32 *minor)
{
	struct georep_volume *vol, *best = NULL;

	mutex_lock(&georep_vol_mutex);
	list_for_each_entry(vol, &georep_volumes, node) {
		if (vol->dead || vol->minor < *minor)
			continue;
		if (!best || vol->minor < best->minor)
			best = vol;
	}
	if (best) {
		kref_get(&best->kref);
		*minor = best->minor + 1;
	}
	mutex_unlock(&georep_vol_mutex);
	return best;
}

/* ---- status ---- */

void georep_volume_status(struct georep_volume *vol, struct georep_status *st)
{
	memset(st, 0, sizeof(*st));
	strscpy(st->name, vol->name, sizeof(st->name));
	memcpy(st->uuid, vol->uuid, GEOREP_UUID_LEN);
	st->minor = vol->minor;
	st->site_id = vol->site_id;
	st->data_bytes = vol->data_sectors << SECTOR_SHIFT;
	st->log_size = vol->area_blocks * GEOREP_BLOCK_SIZE;
	st->nr_key_epochs = georep_key_epochs(vol, st->key_epochs, &st->seal_epoch);
	st->open_count = READ_ONCE(vol->open_count);

	mutex_lock(&vol->order_mutex);
	st->tail_seq = vol->tail_seq;
	st->log_used = (vol->head_lsn - vol->tail_lsn) * GEOREP_BLOCK_SIZE;
	st->uncommitted_bytes = georep_uncommitted_blocks(vol) *
				GEOREP_BLOCK_SIZE;
	st->throttled = vol->throttled;
	st->io_state = vol->io_state;
	st->diverged = vol->diverged;
	st->standalone = vol->standalone;
	st->role = vol->role;
	st->term = vol->term;
	st->commit_rule = vol->commit_rule;
	st->high_wm = vol->high_wm;
	st->low_wm = vol->low_wm;
	st->max_uncommitted = vol->max_uncommitted;
	spin_lock_irq(&vol->lock);
	/*
	 * WRITTEN_SEQ is "the last record durable in the log" (uapi): a
	 * record whose log writes completed may still be in a volatile cache
	 * until the next flush (blk.c, georep_durable_work())
	 */
	st->written_seq = vol->durable_seq;
	st->commit_seq = vol->commit_seq;
	st->applied_seq = vol->applied_seq;
	memcpy(st->chain_hash, vol->durable_chain, GEOREP_HASH_LEN);
	spin_unlock_irq(&vol->lock);
	mutex_unlock(&vol->order_mutex);
}

/* ---- create ---- */

static int check_limits(u8 high, u8 low, struct netlink_ext_ack *extack)
{
	if (!high || high > 100 || low >= high) {
		NL_SET_ERR_MSG(extack, "watermarks: 1 <= high <= 100, low < high");
		return -EINVAL;
	}
	return 0;
}

static struct georep_volume *vol_alloc(const struct georep_volume_params *p)
{
	struct georep_volume *vol;

	vol = kzalloc(sizeof(*vol), GFP_KERNEL);
	if (!vol)
		return NULL;
	kref_init(&vol->kref);
	INIT_LIST_HEAD(&vol->node);
	strscpy(vol->name, p->name, sizeof(vol->name));
	mutex_init(&vol->keys_mutex);
	mutex_init(&vol->order_mutex);
	mutex_init(&vol->copy_mutex);
	xa_init(&vol->index);
	spin_lock_init(&vol->lock);
	INIT_LIST_HEAD(&vol->ios);
	init_waitqueue_head(&vol->waitq);
	init_waitqueue_head(&vol->throttle_wq);
	init_waitqueue_head(&vol->drain_wq);
	init_waitqueue_head(&vol->conflict_wq);
	init_waitqueue_head(&vol->readers_wq);
	mutex_init(&vol->open_mutex);
	mutex_init(&vol->append_mutex);
	mutex_init(&vol->read_mutex);
	mutex_init(&vol->ship_mutex);
	mutex_init(&vol->sb_mutex);
	mutex_init(&vol->apply_mutex);
	spin_lock_init(&vol->ac_lock);
	INIT_LIST_HEAD(&vol->ac_list);
	INIT_WORK(&vol->apply_work, georep_apply_work);
	INIT_WORK(&vol->durable_work, georep_durable_work);
	vol->data_hole = U64_MAX;
	INIT_WORK(&vol->release_work, georep_release_work);
	INIT_DELAYED_WORK(&vol->sb_work, georep_sb_work);
	INIT_DELAYED_WORK(&vol->notify_work, georep_notify_work);
	vol->tail_seq = 1;
	vol->next_seq = 1;
	vol->high_wm = GEOREP_DEFAULT_HIGH_WM;
	vol->low_wm = GEOREP_DEFAULT_LOW_WM;

	vol->sb_page = alloc_page(GFP_KERNEL | __GFP_ZERO);
	vol->append_buf = vmalloc(GEOREP_APPEND_BUF_BLOCKS * GEOREP_BLOCK_SIZE);
	vol->read_buf = vmalloc(GEOREP_BUF_SIZE);
	vol->ship_bv = kmalloc_array(GEOREP_SHIP_BVECS, sizeof(*vol->ship_bv),
				     GFP_KERNEL);
	vol->apply_buf = vmalloc(GEOREP_BUF_SIZE);
	if (!vol->sb_page || !vol->append_buf || !vol->read_buf ||
	    !vol->ship_bv || !vol->apply_buf) {
		georep_volume_put(vol);
		return NULL;
	}
	return vol;
}

/* one device, a disk and its partition, or two partitions that overlap */
static bool bdevs_overlap(struct block_device *a, struct block_device *b)
{
	return bdev_whole(a) == bdev_whole(b) &&
	       a->bd_start_sect < b->bd_start_sect + bdev_nr_sectors(b) &&
	       b->bd_start_sect < a->bd_start_sect + bdev_nr_sectors(a);
}

static int open_devices(struct georep_volume *vol,
			const struct georep_volume_params *p,
			struct netlink_ext_ack *extack)
{
	const fmode_t mode = FMODE_READ | FMODE_WRITE | FMODE_EXCL;

	vol->data_bdev = blkdev_get_by_path(p->data_path, mode, vol);
	if (IS_ERR(vol->data_bdev)) {
		int ret = PTR_ERR(vol->data_bdev);

		vol->data_bdev = NULL;
		NL_SET_ERR_MSG(extack, "cannot open the data device exclusively");
		return ret;
	}
	vol->log_bdev = blkdev_get_by_path(p->log_path, mode, vol);
	if (IS_ERR(vol->log_bdev)) {
		int ret = PTR_ERR(vol->log_bdev);

		vol->log_bdev = NULL;
		NL_SET_ERR_MSG(extack, "cannot open the log device exclusively");
		return ret;
	}
	/*
	 * The exclusive claims do not stop this: one holder may claim a
	 * device twice, or a disk and its partition (stacked devices over
	 * one disk, dm or loop, are not seen)
	 */
	if (bdevs_overlap(vol->data_bdev, vol->log_bdev)) {
		NL_SET_ERR_MSG(extack, "the data and log devices overlap");
		return -EINVAL;
	}
	if (bdev_logical_block_size(vol->data_bdev) > GEOREP_BLOCK_SIZE ||
	    bdev_logical_block_size(vol->log_bdev) > GEOREP_BLOCK_SIZE) {
		NL_SET_ERR_MSG(extack, "devices with blocks over 4 KiB are not supported");
		return -EINVAL;
	}
	return 0;
}

static void close_devices(struct georep_volume *vol)
{
	const fmode_t mode = FMODE_READ | FMODE_WRITE | FMODE_EXCL;

	if (vol->log_bdev)
		blkdev_put(vol->log_bdev, mode);
	if (vol->data_bdev)
		blkdev_put(vol->data_bdev, mode);
	vol->log_bdev = NULL;
	vol->data_bdev = NULL;
}

static int alloc_io_resources(struct georep_volume *vol)
{
	int ret;

	vol->sha = crypto_alloc_shash(sha256_driver, 0, 0);
	if (IS_ERR(vol->sha)) {
		ret = PTR_ERR(vol->sha);
		vol->sha = NULL;
		return ret;
	}
	ret = bioset_init(&vol->data_bs, BIO_POOL_SIZE, 0, BIOSET_NEED_BVECS);
	if (ret)
		return ret;
	ret = bioset_init(&vol->log_bs, BIO_POOL_SIZE, 0, BIOSET_NEED_BVECS);
	if (ret)
		return ret;
	ret = bioset_init(&vol->copy_bs, BIO_POOL_SIZE, 0, BIOSET_NEED_BVECS);
	if (ret)
		return ret;
	vol->io_pool = mempool_create_slab_pool(GEOREP_IO_POOL,
						georep_io_cache);
	vol->page_pool = mempool_create_page_pool(GEOREP_IO_POOL, 0);
	/* a write's worth: one writer at a time takes from it (blk.c) */
	vol->copy_pool = mempool_create_page_pool(GEOREP_MAX_PAYLOAD_BLOCKS *
						  (GEOREP_BLOCK_SIZE / PAGE_SIZE), 0);
	vol->wq = alloc_ordered_workqueue("georep%u", WQ_MEM_RECLAIM,
					  vol->minor);
	vol->submit_wq = alloc_workqueue("georep%u-w",
					 WQ_UNBOUND | WQ_MEM_RECLAIM | WQ_HIGHPRI,
					 0, vol->minor);
	if (!vol->io_pool || !vol->page_pool || !vol->copy_pool || !vol->wq ||
	    !vol->submit_wq)
		return -ENOMEM;
	return 0;
}

static void free_io_resources(struct georep_volume *vol)
{
	if (vol->submit_wq)
		destroy_workqueue(vol->submit_wq);
	if (vol->wq)
		destroy_workqueue(vol->wq);
	mempool_destroy(vol->page_pool);
	mempool_destroy(vol->copy_pool);
	mempool_destroy(vol->io_pool);
	bioset_exit(&vol->copy_bs);
	bioset_exit(&vol->log_bs);
	bioset_exit(&vol->data_bs);
	if (vol->sha)
		crypto_free_shash(vol->sha);
	vol->wq = NULL;
	vol->submit_wq = NULL;
	vol->page_pool = NULL;
	vol->copy_pool = NULL;
	vol->io_pool = NULL;
	vol->sha = NULL;
}

/* format: geometry from the devices, a fresh superblock */
static int vol_format(struct georep_volume *vol,
		      const struct georep_volume_params *p,
		      struct netlink_ext_ack *extack)
{
	u64 log_blocks = bdev_nr_sectors(vol->log_bdev) /
			 GEOREP_SECTORS_PER_BLOCK;

	vol->data_sectors = round_down(bdev_nr_sectors(vol->data_bdev),
				       GEOREP_SECTORS_PER_BLOCK);
	vol->area_start = 1;
	vol->area_blocks = log_blocks > 1 ? log_blocks - 1 : 0;
	if (!vol->data_sectors || vol->area_blocks < GEOREP_MIN_AREA_BLOCKS) {
		NL_SET_ERR_MSG(extack, "log device under 4.1 MiB or empty data device");
		return -EINVAL;
	}
	if (p->has_uuid)
		memcpy(vol->uuid, p->uuid, GEOREP_UUID_LEN);
	else
		generate_random_uuid(vol->uuid);
	vol->site_id = p->site_id;
	vol->standalone = p->standalone;
	vol->commit_rule = p->has_commit_rule ? p->commit_rule :
			   GEOREP_COMMIT_LOCAL;
	if (vol->standalone && vol->commit_rule != GEOREP_COMMIT_LOCAL) {
		NL_SET_ERR_MSG(extack, "standalone volume: commit rule local only");
		return -EINVAL;
	}
	if (p->has_role) {
		vol->role = p->role;
		vol->term = p->term;
	} else if (vol->standalone) {
		vol->role = GEOREP_ROLE_PRIMARY;
		vol->term = 1;
	} else {
		/* fenced until its control plane says otherwise */
		vol->role = GEOREP_ROLE_SECONDARY;
		vol->term = 0;
	}
	return georep_sb_format(vol, vol->term,
				vol->role == GEOREP_ROLE_PRIMARY);
}

/*
 * Attach: standalone or not, and the commit rule, from the superblock.
 * A version 1 superblock stored neither: it may become standalone once
 * (STANDALONE given), else it is not, and its rule is quorum unless
 * COMMIT_RULE says otherwise: writes wait rather than being acknowledged
 * at once by a volume that may have had a daemon.
 */
static int attach_settings(struct georep_volume *vol,
			   const struct georep_volume_params *p,
			   const struct georep_superblock *sb,
			   struct netlink_ext_ack *extack)
{
	bool v1 = le32_to_cpu(sb->version) == 1;
	u32 rule = le32_to_cpu(sb->commit_rule);

	vol->standalone = le32_to_cpu(sb->flags) & GEOREP_SB_F_STANDALONE;
	if (p->standalone && !vol->standalone) {
		if (!v1) {
			NL_SET_ERR_MSG(extack, "the volume was not created standalone");
			return -EINVAL;
		}
		vol->standalone = true;
		pr_info("%s: version 1 superblock: the volume becomes standalone\n",
			vol->name);
	}
	if (!v1 && rule >= __GEOREP_COMMIT_MAX) {
		georep_extack_fmt(extack, "unknown commit rule %u in the superblock",
				  rule);
		return -EUCLEAN;
	}
	if (p->has_commit_rule)
		vol->commit_rule = p->commit_rule;
	else if (vol->standalone)
		vol->commit_rule = GEOREP_COMMIT_LOCAL;
	else
		vol->commit_rule = v1 ? GEOREP_COMMIT_QUORUM : rule;
	if (vol->standalone && vol->commit_rule != GEOREP_COMMIT_LOCAL) {
		NL_SET_ERR_MSG(extack, "standalone volume: commit rule local only");
		return -EINVAL;
	}
	return 0;
}

/*
 * Attach: the role and term. A volume with a control plane attaches fenced,
 * as a secondary at the stored term, whatever role it had: a restarted
 * primary must not take (and acknowledge) a write before its daemon knows
 * whether it still leads. VOLUME_SET makes it primary. Only a standalone
 * volume takes its stored role, or ROLE+TERM from the request.
 */
static int attach_role(struct georep_volume *vol,
		       const struct georep_volume_params *p,
		       const struct georep_superblock *sb,
		       struct netlink_ext_ack *extack)
{
	u64 sb_term = le64_to_cpu(sb->term);

	if (p->has_role) {
		if (p->term < sb_term) {
			georep_extack_fmt(extack, "term %llu is below the stored term %llu",
					  p->term, sb_term);
			return -EINVAL;
		}
		if (p->role == GEOREP_ROLE_PRIMARY && !vol->standalone) {
			NL_SET_ERR_MSG(extack, "attach is fenced: VOLUME_SET makes it primary");
			return -EPERM;
		}
		vol->role = p->role;
		vol->term = p->term;
		return 0;
	}
	vol->term = sb_term;
	if (vol->standalone && le32_to_cpu(sb->flags) & GEOREP_SB_F_PRIMARY)
		vol->role = GEOREP_ROLE_PRIMARY;
	else
		vol->role = GEOREP_ROLE_SECONDARY;
	return 0;
}

/* attach: check the superblock, decide role and term, recover */
static int vol_attach(struct georep_volume *vol,
		      const struct georep_volume_params *p, u64 *bad_seq,
		      struct netlink_ext_ack *extack)
{
	struct georep_superblock sb;
	enum georep_role role;
	int ret;

	ret = georep_sb_read(vol, &sb);
	if (ret == -EUCLEAN) {
		NL_SET_ERR_MSG(extack, "no valid superblock on the log device");
		return ret;
	}
	if (ret == -EINVAL) {
		georep_extack_fmt(extack, "superblock geometry: %s",
				  georep_sb_check(vol, &sb) ?: "bad");
		return ret;
	}
	if (ret)
		return ret;
	if (p->has_uuid && memcmp(p->uuid, vol->uuid, GEOREP_UUID_LEN)) {
		NL_SET_ERR_MSG(extack, "the log belongs to another volume uuid");
		return -EINVAL;
	}
	vol->site_id = p->site_id ?: le32_to_cpu(sb.site_id);
	ret = attach_settings(vol, p, &sb, extack) ?:
	      attach_role(vol, p, &sb, extack);
	if (ret)
		return ret;
	vol->sb_head_seq = le64_to_cpu(sb.head_seq);
	vol->sb_applied_seq = le64_to_cpu(sb.applied_seq);
	vol->diverged = le32_to_cpu(sb.flags) & GEOREP_SB_F_DIVERGED;
	if (vol->diverged && vol->role == GEOREP_ROLE_PRIMARY) {
		NL_SET_ERR_MSG(extack, "diverged: attach as secondary, resync, clear DIVERGED");
		return -EUCLEAN;
	}
	/*
	 * A primary's data device may be ahead of applied_seq: recovery
	 * replays every record as for a primary, also when it attaches
	 * fenced; the volume is then a secondary with everything applied,
	 * as after a demotion.
	 */
	role = vol->role;
	if (le32_to_cpu(sb.flags) & GEOREP_SB_F_PRIMARY)
		vol->role = GEOREP_ROLE_PRIMARY;
	ret = georep_recover(vol, &sb, bad_seq, extack);
	if (!ret && vol->role != role) {
		/*
		 * Recovery took applied_seq for the commit point; a primary
		 * applies what it has not committed yet. Its daemon says what
		 * is committed; until then only the released records are, and
		 * it may drop the rest (LOG_TRUNCATE refuses below commit).
		 */
		vol->commit_seq = vol->tail_seq - 1;
		vol->commit_lsn = vol->tail_lsn;
	}
	vol->role = role;
	return ret;
}

static bool name_taken(const char *name)
{
	struct georep_volume *vol;

	list_for_each_entry(vol, &georep_volumes, node)
		if (!strcmp(vol->name, name))
			return true;
	return false;
}

/**
 * georep_volume_create() - create (format) or attach a volume
 *
 * Context: process context (netlink). Holds georep_vol_mutex throughout,
 * so lookups wait while an attach replays its log.
 * Return: the volume with a reference for the caller, or an ERR_PTR.
 */
struct georep_volume *georep_volume_create(const struct georep_volume_params *p,
					   u64 *bad_seq, u32 *bad_epoch,
					   struct netlink_ext_ack *extack)
{
	struct georep_volume *vol;
	int ret;

	if (!p->name[0]) {
		NL_SET_ERR_MSG(extack, "volume name is empty");
		return ERR_PTR(-EINVAL);
	}
	if (p->has_limits && check_limits(p->high_wm, p->low_wm, extack))
		return ERR_PTR(-EINVAL);
	if (p->has_commit_rule && p->commit_rule >= __GEOREP_COMMIT_MAX) {
		NL_SET_ERR_MSG(extack, "unknown commit rule");
		return ERR_PTR(-EINVAL);
	}
	if (p->has_role && p->role >= __GEOREP_ROLE_MAX) {
		NL_SET_ERR_MSG(extack, "unknown role");
		return ERR_PTR(-EINVAL);
	}

	vol = vol_alloc(p);
	if (!vol)
		return ERR_PTR(-ENOMEM);
	if (p->has_limits) {
		vol->high_wm = p->high_wm;
		vol->low_wm = p->low_wm;
		vol->max_uncommitted = p->max_uncommitted;
	}

	mutex_lock(&georep_vol_mutex);
	ret = -EEXIST;
	if (name_taken(p->name)) {
		NL_SET_ERR_MSG(extack, "a volume with this name exists");
		goto out_unlock;
	}
	ret = ida_alloc(&georep_minors, GFP_KERNEL);
	if (ret < 0)
		goto out_unlock;
	vol->minor = ret;

	ret = open_devices(vol, p, extack);
	if (ret)
		goto out_close_devices;
	ret = alloc_io_resources(vol);
	if (ret)
		goto out_free_io_resources;
	ret = georep_keys_install(vol, p->keys, p->nr_keys, 0, extack);
	if (ret)
		goto out_free_keys;

	if (p->format)
		ret = vol_format(vol, p, extack);
	else
		ret = vol_attach(vol, p, bad_seq, extack);
	if (ret)
		goto out_free_keys;
	/* the term and role decided above are durable before any I/O */
	ret = georep_sb_write(vol);
	if (ret)
		goto out_free_keys;

	ret = georep_disk_add(vol);
	if (ret)
		goto out_free_keys;
	vol->stream = georep_stream_add(vol);
	if (IS_ERR(vol->stream)) {
		ret = PTR_ERR(vol->stream);
		vol->stream = NULL;
		NL_SET_ERR_MSG(extack, "cannot create the log stream device");
		goto out_del_disk;
	}

	list_add_tail(&vol->node, &georep_volumes);
	kref_get(&vol->kref);		/* the caller's */
	queue_delayed_work(vol->wq, &vol->sb_work,
			   msecs_to_jiffies(GEOREP_SB_SYNC_MS));
	georep_apply_kick(vol);
	mutex_unlock(&georep_vol_mutex);
	pr_info("%s: georep%u created: %s%s, term %llu, %llu sectors, log %llu blocks\n",
		vol->name, vol->minor, vol->standalone ? "standalone " : "",
		vol->role == GEOREP_ROLE_PRIMARY ? "primary" : "secondary",
		vol->term, vol->data_sectors, vol->area_blocks);
	return vol;

out_del_disk:
	vol->dead = true;
	georep_disk_del(vol);
out_free_keys:
	georep_keys_free(vol);
out_free_io_resources:
	free_io_resources(vol);
out_close_devices:
	close_devices(vol);
	ida_free(&georep_minors, vol->minor);
out_unlock:
	mutex_unlock(&georep_vol_mutex);
	*bad_epoch = vol->missing_epoch;
	georep_volume_put(vol);
	return ERR_PTR(ret);
}

/* ---- destroy ---- */

static void vol_teardown(struct georep_volume *vol)
{
	georep_stream_remove(vol->stream);
	vol->stream = NULL;
	wake_up_all(&vol->throttle_wq);
	/* uncommitted writes of a dead volume fail (see collect() in blk.c) */
	georep_ios_progress(vol);
	georep_disk_del(vol);

	cancel_delayed_work_sync(&vol->sb_work);
	cancel_work_sync(&vol->apply_work);
	cancel_work_sync(&vol->durable_work);
	cancel_work_sync(&vol->release_work);
	/* the block device is gone: nothing else uses the lower devices */
	mutex_lock(&vol->read_mutex);
	mutex_lock(&vol->append_mutex);
	if (!vol->broken)
		georep_sb_write(vol);
	cancel_delayed_work_sync(&vol->notify_work);
	georep_keys_free(vol);
	free_io_resources(vol);
	close_devices(vol);
	mutex_unlock(&vol->append_mutex);
	mutex_unlock(&vol->read_mutex);
	ida_free(&georep_minors, vol->minor);
	pr_info("%s: georep%u destroyed\n", vol->name, vol->minor);
}

int georep_volume_destroy(const char *name, struct netlink_ext_ack *extack)
{
	struct georep_volume *vol, *found = NULL;

	mutex_lock(&georep_vol_mutex);
	list_for_each_entry(vol, &georep_volumes, node) {
		if (!vol->dead && !strcmp(vol->name, name)) {
			found = vol;
			break;
		}
	}
	if (!found) {
		mutex_unlock(&georep_vol_mutex);
		NL_SET_ERR_MSG(extack, "no such volume");
		return -ENOENT;
	}
	vol = found;
	mutex_lock(&vol->open_mutex);
	if (vol->open_count) {
		mutex_unlock(&vol->open_mutex);
		mutex_unlock(&georep_vol_mutex);
		NL_SET_ERR_MSG(extack, "the volume's block device is open");
		return -EBUSY;
	}
	WRITE_ONCE(vol->dead, true);
	mutex_unlock(&vol->open_mutex);
	list_del_init(&vol->node);
	mutex_unlock(&georep_vol_mutex);

	vol_teardown(vol);
	georep_volume_put(vol);
	return 0;
}

/* ---- settings ---- */

static int set_role(struct georep_volume *vol, enum georep_role role,
		    u64 term, struct netlink_ext_ack *extack)
{
	enum georep_role old;
	int ret = 0;

	if (role >= __GEOREP_ROLE_MAX) {
		NL_SET_ERR_MSG(extack, "unknown role");
		return -EINVAL;
	}
	/* no append in flight while the role moves */
	mutex_lock(&vol->append_mutex);
	if (term < READ_ONCE(vol->term)) {
		georep_extack_fmt(extack, "term %llu is below the current term %llu",
				  term, vol->term);
		ret = -EINVAL;
		goto out_unlock;
	}
	old = READ_ONCE(vol->role);
	if (role == GEOREP_ROLE_PRIMARY && READ_ONCE(vol->diverged)) {
		NL_SET_ERR_MSG(extack, "diverged: resync dropped records' blocks, then DIVERGED=0");
		ret = -EUCLEAN;
		goto out_unlock;
	}
	if (role == GEOREP_ROLE_PRIMARY && old != GEOREP_ROLE_PRIMARY) {
		/* the new primary's data device holds every record it has */
		flush_work(&vol->apply_work);
		ret = georep_apply_all(vol);
		if (ret) {
			NL_SET_ERR_MSG(extack, "applying the log before promotion failed");
			goto out_unlock;
		}
	}
	mutex_lock(&vol->order_mutex);
	spin_lock_irq(&vol->lock);
	WRITE_ONCE(vol->term, term);
	WRITE_ONCE(vol->role, role);
	/* records in flight are read once durable until the next seal */
	WRITE_ONCE(vol->sealed_seq, 0);
	if (role == GEOREP_ROLE_PRIMARY)
		vol->applied_seq = vol->written_seq;
	spin_unlock_irq(&vol->lock);
	georep_throttle_update(vol);
	mutex_unlock(&vol->order_mutex);
	set_disk_ro(vol->disk, role != GEOREP_ROLE_PRIMARY);
	/* fencing: the term is durable before the call returns */
	ret = georep_sb_write(vol);
	if (ret)
		NL_SET_ERR_MSG(extack, "superblock write failed");
	wake_up_all(&vol->throttle_wq);
out_unlock:
	mutex_unlock(&vol->append_mutex);
	return ret;
}

/* DIVERGED=0: the blocks of the dropped records were resynced; persisted */
static int clear_diverged(struct georep_volume *vol,
			  struct netlink_ext_ack *extack)
{
	int ret;

	mutex_lock(&vol->append_mutex);
	mutex_lock(&vol->order_mutex);
	spin_lock_irq(&vol->lock);
	vol->diverged = false;
	spin_unlock_irq(&vol->lock);
	mutex_unlock(&vol->order_mutex);
	ret = georep_sb_write(vol);
	if (ret)
		NL_SET_ERR_MSG(extack, "superblock write failed");
	else
		pr_info("%s: no longer diverged\n", vol->name);
	mutex_unlock(&vol->append_mutex);
	return ret;
}

static void commit_past_last(struct netlink_ext_ack *extack, u64 seq, u64 last)
{
	georep_extack_fmt(extack, "GEOREP_A_COMMIT_SEQ %llu is past the last record %llu",
			  seq, last);
}

/**
 * georep_volume_update() - VOLUME_SET
 *
 * ROLE+TERM: terms only move forward (-EINVAL below the current one); the
 * new term is persisted with FUA before returning. COMMIT_SEQ only moves
 * forward (a lower value is ignored) and never past the last record
 * (-EINVAL, before anything changes: a commit index beyond the log would
 * let the next writes meet the quorum at once); georep_volume_commit()
 * checks it again under order_mutex, after a ROLE in the same message.
 * COMMIT_RULE is persisted before returning; a standalone volume takes only
 * local. IO_STATE is not persisted (a volume attaches in RUN); a change
 * sends a ROLE event, as a role change does.
 * DIVERGED=0 is persisted before the role changes (and sends a ROLE event).
 * Context: process context.
 */
int georep_volume_update(struct georep_volume *vol,
			 const struct georep_volume_update *u,
			 struct netlink_ext_ack *extack)
{
	bool role_event = false, rule_changed = false;
	u64 written;
	int ret = 0;

	if (u->has_limits && check_limits(u->high_wm, u->low_wm, extack))
		return -EINVAL;
	/*
	 * a primary's followers may hold a record it has only sealed
	 * (ship.c); completion still waits for the local write
	 */
	written = georep_volume_ship_seq(vol);
	if (u->has_commit_seq && u->commit_seq > written) {
		commit_past_last(extack, u->commit_seq, written);
		return -EINVAL;
	}
	if (u->has_commit_rule && u->commit_rule >= __GEOREP_COMMIT_MAX) {
		NL_SET_ERR_MSG(extack, "unknown commit rule");
		return -EINVAL;
	}
	if (u->has_commit_rule && vol->standalone &&
	    u->commit_rule != GEOREP_COMMIT_LOCAL) {
		NL_SET_ERR_MSG(extack, "standalone volume: commit rule local only");
		return -EINVAL;
	}
	if (u->has_io_state && u->io_state >= __GEOREP_IO_MAX) {
		NL_SET_ERR_MSG(extack, "unknown io state");
		return -EINVAL;
	}
	/* before the role: DIVERGED=0 with ROLE=primary may promote */
	if (u->clear_diverged && READ_ONCE(vol->diverged)) {
		ret = clear_diverged(vol, extack);
		if (ret)
			return ret;
		role_event = true;
	}
	if (u->has_role) {
		ret = set_role(vol, u->role, u->term, extack);
		if (ret)
			return ret;
		role_event = true;
	}

	mutex_lock(&vol->order_mutex);
	if (u->has_limits) {
		vol->high_wm = u->high_wm;
		vol->low_wm = u->low_wm;
		vol->max_uncommitted = u->max_uncommitted;
	}
	spin_lock_irq(&vol->lock);
	if (u->has_commit_rule && u->commit_rule != vol->commit_rule) {
		WRITE_ONCE(vol->commit_rule, u->commit_rule);
		rule_changed = true;
	}
	if (u->has_io_state && u->io_state != vol->io_state) {
		WRITE_ONCE(vol->io_state, u->io_state);
		role_event = true;
	}
	spin_unlock_irq(&vol->lock);
	georep_throttle_update(vol);
	mutex_unlock(&vol->order_mutex);

	/* suspended writers recheck: they wait on, order, or fail */
	if (u->has_io_state)
		wake_up_all(&vol->throttle_wq);
	if (u->has_commit_seq) {
		/* a ROLE=secondary in this message may have lowered the last record */
		ret = georep_volume_commit(vol, u->commit_seq, &written);
		if (ret)
			commit_past_last(extack, u->commit_seq, written);
	} else {
		georep_ios_progress(vol);
		georep_apply_kick(vol);
	}
	if (role_event)
		georep_notify(vol, GEOREP_EVENT_ROLE, 0);
	/* the rule decides acknowledgment: it must hold after a restart */
	if (rule_changed && georep_sb_write(vol)) {
		NL_SET_ERR_MSG(extack, "superblock write failed");
		return -EIO;
	}
	return ret;
}

/**
 * georep_volume_commit() - move the commit index forward
 * @vol: the volume
 * @seq: the new commit index; a lower one than the current is ignored
 * @last: set to the last record when @seq is past it
 *
 * COMMIT_SEQ of VOLUME_SET and GEOREP_IOC_COMMIT_SEQ on the log stream.
 * Writes whose records are now covered complete. The bound is checked
 * under order_mutex: only its holders lower the last record (LOG_TRUNCATE,
 * LOG_RESET, a role change on a primary with records in flight), and the
 * ioctl is not serialised with them by netlink.
 * Context: process context; takes order_mutex.
 * Return: 0, or -EINVAL when @seq is past the last record (ship seq).
 */
int georep_volume_commit(struct georep_volume *vol, u64 seq, u64 *last)
{
	u64 lsn;
	u32 nb;

	mutex_lock(&vol->order_mutex);
	*last = georep_volume_ship_seq(vol);
	if (seq > *last) {
		mutex_unlock(&vol->order_mutex);
		return -EINVAL;
	}
	spin_lock_irq(&vol->lock);
	if (seq > vol->commit_seq) {
		vol->commit_seq = seq;
		if (seq >= vol->next_seq - 1)
			vol->commit_lsn = vol->head_lsn;
		else if (!georep_index_lookup(vol, seq, &lsn, &nb))
			vol->commit_lsn = lsn + nb;
	}
	spin_unlock_irq(&vol->lock);
	georep_throttle_update(vol);
	mutex_unlock(&vol->order_mutex);

	georep_ios_progress(vol);
	georep_apply_kick(vol);
	return 0;
}

int georep_volume_set_keys(struct georep_volume *vol,
			   const struct georep_key *keys, unsigned int nr,
			   u32 seal, struct netlink_ext_ack *extack)
{
	return georep_keys_install(vol, keys, nr, seal, extack);
}

/* ---- retention ---- */

/**
 * georep_volume_release() - let records up to @seq be reclaimed
 *
 * The tail moves to @seq + 1 (never past written_seq nor applied_seq);
 * the superblock with the new tail is written with FUA before the space
 * is handed to writers, so recovery never starts from a reused block.
 * Context: process context.
 */
int georep_volume_release(struct georep_volume *vol, u64 seq,
			  struct netlink_ext_ack *extack)
{
	struct georep_record *rec = vol->read_buf;
	u64 limit, old_tail, new_lsn, lsn, s, written, written_lsn;
	u8 prev[GEOREP_HASH_LEN];
	const char *why;
	u32 nb;
	int ret;

	mutex_lock(&vol->read_mutex);
	spin_lock_irq(&vol->lock);
	limit = min(vol->written_seq, vol->applied_seq);
	spin_unlock_irq(&vol->lock);
	ret = -EINVAL;
	if (seq > limit) {
		georep_extack_fmt(extack, "cannot release past seq %llu (written and applied)",
				  limit);
		goto out_unlock;
	}
	ret = 0;
	old_tail = READ_ONCE(vol->tail_seq);
	if (seq < old_tail)
		goto out_unlock;

	/* the chain hash before the new tail: the released record's own */
	ret = georep_index_lookup(vol, seq, &lsn, &nb) ?:
	      georep_log_load(vol, seq, lsn, nb, rec, 0, &why);
	if (ret == -EBADMSG) {
		georep_log_bad_record(vol, seq, why);
		georep_extack_fmt(extack, "record %llu on the log is damaged: %s",
				  seq, why);
		ret = -EIO;
	}
	if (ret)
		goto out_unlock;
	memcpy(prev, rec->chain_hash, sizeof(prev));

	/*
	 * sb_mutex across the superblock write and the move in memory: a
	 * periodic superblock write must not put the old tail back once the
	 * space is free.
	 */
	mutex_lock(&vol->sb_mutex);
	mutex_lock(&vol->order_mutex);
	spin_lock_irq(&vol->lock);
	written = vol->written_seq;
	written_lsn = vol->written_lsn;
	spin_unlock_irq(&vol->lock);
	/*
	 * the next record's place, unless it is still in flight (a group of
	 * appends not flushed yet may be undone, append.c): then the end of
	 * the written records
	 */
	if (seq >= written || georep_index_lookup(vol, seq + 1, &new_lsn, &nb))
		new_lsn = written_lsn;
	mutex_unlock(&vol->order_mutex);
	ret = georep_sb_write_tail(vol, seq + 1, new_lsn, prev);
	if (ret) {
		mutex_unlock(&vol->sb_mutex);
		NL_SET_ERR_MSG(extack, "superblock write failed");
		goto out_unlock;
	}
	mutex_lock(&vol->order_mutex);
	WRITE_ONCE(vol->tail_seq, seq + 1);
	WRITE_ONCE(vol->tail_lsn, new_lsn);
	memcpy(vol->tail_prev_chain, prev, sizeof(prev));
	for (s = old_tail; s <= seq; s++)
		xa_erase(&vol->index, s);
	georep_throttle_update(vol);
	mutex_unlock(&vol->order_mutex);
	mutex_unlock(&vol->sb_mutex);
	wake_up_all(&vol->throttle_wq);
out_unlock:
	mutex_unlock(&vol->read_mutex);
	return ret;
}

/*
 * Standalone volumes release their own log: nobody else would, and a log
 * past the high watermark throttles writers for good. Once more than
 * low_wm / 2 percent of the log is used, the oldest records (written and
 * applied) are released until low_wm / 4 percent is left: the newest
 * records stay for ledger dump and verify, and one superblock write
 * frees a quarter of the low watermark at a time.
 */
static bool release_due(struct georep_volume *vol)
{
	u64 used = READ_ONCE(vol->head_lsn) - READ_ONCE(vol->tail_lsn);

	return used * 200 > vol->area_blocks * READ_ONCE(vol->low_wm);
}

/* Context: any, vol->lock may be held (blk.c calls it on completion) */
void georep_release_kick(struct georep_volume *vol)
{
	if (vol->standalone && !READ_ONCE(vol->dead) && release_due(vol))
		queue_work(vol->wq, &vol->release_work);
}

/*
 * The last record to release (see above), 0 for none; never one whose
 * data write, or an earlier record's, is still in flight: recovery could
 * not replay it.
 */
static u64 release_point(struct georep_volume *vol)
{
	u64 keep, limit, seq, lsn, last = 0;
	struct georep_io *io;
	u32 nb;

	mutex_lock(&vol->order_mutex);
	spin_lock_irq(&vol->lock);
	limit = min(vol->written_seq, vol->applied_seq);
	list_for_each_entry(io, &vol->ios, node) {
		if (!io->data_done) {
			limit = min(limit, io->seq - 1);
			break;
		}
	}
	spin_unlock_irq(&vol->lock);
	keep = vol->area_blocks * vol->low_wm / 400;
	for (seq = vol->tail_seq; seq <= limit; seq++) {
		last = seq;
		if (georep_index_lookup(vol, seq + 1, &lsn, &nb))
			lsn = vol->head_lsn;
		if (vol->head_lsn - lsn <= keep)
			break;
	}
	mutex_unlock(&vol->order_mutex);
	return last;
}

void georep_release_work(struct work_struct *work)
{
	struct georep_volume *vol = container_of(work, struct georep_volume,
						 release_work);
	u64 seq;
	int ret;

	if (READ_ONCE(vol->dead) || !release_due(vol))
		return;
	seq = release_point(vol);
	if (!seq)
		return;
	ret = georep_volume_release(vol, seq, NULL);
	if (ret) {
		pr_err_ratelimited("%s: releasing the log up to %llu failed: %d\n",
				   vol->name, seq, ret);
		georep_kick_notify(vol, GEOREP_NB_IO_ERROR);
	}
}

int georep_volume_verify(struct georep_volume *vol, u64 *bad_seq,
			 struct netlink_ext_ack *extack)
{
	return georep_walk_verify(vol, bad_seq, extack);
}

/* ---- module ---- */

int georep_volumes_init(void)
{
	int ret;

	georep_io_cache = KMEM_CACHE(georep_io, 0);
	if (!georep_io_cache)
		return -ENOMEM;
	ret = georep_blk_init();
	if (ret)
		kmem_cache_destroy(georep_io_cache);
	return ret;
}

void georep_volumes_exit(void)
{
	struct georep_volume *vol;

	for (;;) {
		mutex_lock(&georep_vol_mutex);
		vol = list_first_entry_or_null(&georep_volumes,
					       struct georep_volume, node);
		if (vol) {
			WRITE_ONCE(vol->dead, true);
			list_del_init(&vol->node);
		}
		mutex_unlock(&georep_vol_mutex);
		if (!vol)
			break;
		vol_teardown(vol);
		georep_volume_put(vol);
	}
	georep_blk_exit();
	kmem_cache_destroy(georep_io_cache);
}
