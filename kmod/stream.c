// SPDX-License-Identifier: GPL-2.0
/*
 * georep log stream: one character device per volume, /dev/georepN-log.
 *
 * The file position is a record sequence number (see the uapi header):
 * lseek(SEEK_SET) moves the cursor to a seq, SEEK_END to the seq after the
 * last readable record; read() returns whole records from the cursor and
 * blocks (unless O_NONBLOCK) until the record at the cursor is readable;
 * write() appends replicated records on a secondary; poll() reports
 * EPOLLIN while a readable record at or past the cursor exists and
 * EPOLLOUT on a secondary opened for writing.
 *
 * Readable means durable, unless the file is in sealed mode
 * (GEOREP_IOC_SHIP_SEALED): then a primary's records are readable once
 * sealed, while their local writes still run (ship.c), and poll() reports
 * EPOLLPRI when the durable seq moved past what GEOREP_IOC_DURABLE_SEQ
 * last returned on this file.
 *
 * Lifetime. One char device region (dynamic major, minor = volume minor)
 * and one cdev cover every volume; open() finds the volume's stream by
 * minor. A struct georep_stream lives while its node exists or a file
 * refers to it (kref). Each open file also holds a volume reference, so
 * the volume outlives its open files. georep_stream_remove() deletes the
 * node, marks the stream removed and waits, under the write side of
 * ops_sem, for reads and writes already running; every later call on a
 * file still open fails with -ENODEV and blocked readers are woken. Open
 * files pin the module through the fops owner, so rmmod succeeds once the
 * last one is closed.
 */
#include <linux/cdev.h>
#include <linux/device.h>
#include <linux/fs.h>
#include <linux/kdev_t.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/poll.h>
#include <linux/uaccess.h>
#include <linux/rwsem.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/xarray.h>

#include "georep.h"
#include "trace.h"

#define GEOREP_STREAM_MINORS	(MINORMASK + 1)

struct georep_stream {
	struct kref kref;
	struct rcu_head rcu;
	/* not referenced: valid until georep_stream_remove() returns */
	struct georep_volume *vol;
	struct device *dev;
	u32 minor;
	char name[GEOREP_NAME_MAX];
	/* read side held by file operations, write side by remove */
	struct rw_semaphore ops_sem;
	bool removed;			/* protected by ops_sem, read locklessly */
};

/* one per open file */
struct georep_stream_file {
	struct georep_stream *stream;	/* referenced */
	struct georep_volume *vol;	/* referenced (georep_volume_get) */
	struct mutex lock;		/* protects cursor, serialises reads */
	u64 cursor;			/* seq of the next record to read */
	bool sealed;			/* GEOREP_IOC_SHIP_SEALED; under lock */
	/*
	 * sealed mode: the record at this seq was in flight and could not
	 * be copied (georep_log_read() -EAGAIN): readable once durable
	 */
	u64 stalled_at;
	u64 durable_seen;		/* GEOREP_IOC_DURABLE_SEQ's last answer */
};

/* the last record this file may read now (lockless) */
static u64 stream_limit(struct georep_stream_file *sf, u64 cursor)
{
	u64 durable = georep_volume_durable_seq(sf->vol);

	if (!READ_ONCE(sf->sealed) || READ_ONCE(sf->stalled_at) == cursor)
		return durable;
	return georep_volume_ship_seq(sf->vol);
}

static dev_t georep_stream_devt;
static struct cdev georep_stream_cdev;
static struct class *georep_stream_class;
/* minor -> live stream; RCU for georep_volume_dead() */
static DEFINE_XARRAY(georep_streams);
static DEFINE_MUTEX(georep_streams_lock);	/* add, remove, open lookup */

static void georep_stream_free(struct kref *kref)
{
	struct georep_stream *stream = container_of(kref, struct georep_stream,
						    kref);

	kfree_rcu(stream, rcu);
}

static void georep_stream_put(struct georep_stream *stream)
{
	kref_put(&stream->kref, georep_stream_free);
}

/* take the read side of ops_sem unless the stream is gone */
static int georep_stream_enter(struct georep_stream *stream)
{
	if (down_read_interruptible(&stream->ops_sem))
		return -ERESTARTSYS;
	if (stream->removed) {
		up_read(&stream->ops_sem);
		return -ENODEV;
	}
	return 0;
}

static void georep_stream_leave(struct georep_stream *stream)
{
	up_read(&stream->ops_sem);
}

static int georep_stream_open(struct inode *inode, struct file *file)
{
	struct georep_stream_file *sf;
	struct georep_stream *stream;
	struct georep_volume *vol;
	struct georep_status *st;
	int ret;

	mutex_lock(&georep_streams_lock);
	stream = xa_load(&georep_streams, iminor(inode));
	if (stream && !READ_ONCE(stream->removed))
		kref_get(&stream->kref);
	else
		stream = NULL;
	mutex_unlock(&georep_streams_lock);
	if (!stream)
		return -ENODEV;

	ret = -ENODEV;
	vol = georep_volume_get(stream->name);
	if (IS_ERR_OR_NULL(vol))
		goto out_put_stream;
	/* the name may already belong to a volume created after ours died */
	if (vol != stream->vol || READ_ONCE(stream->removed))
		goto out_put_vol;

	ret = -ENOMEM;
	sf = kzalloc(sizeof(*sf), GFP_KERNEL);
	if (!sf)
		goto out_put_vol;
	st = kmalloc(sizeof(*st), GFP_KERNEL);
	if (!st)
		goto out_free_sf;

	/* start at the first retained record, or the next one to come */
	georep_volume_status(vol, st);
	sf->cursor = st->tail_seq ? st->tail_seq : st->written_seq + 1;
	kfree(st);

	mutex_init(&sf->lock);
	sf->stream = stream;
	sf->vol = vol;
	file->private_data = sf;
	file->f_pos = sf->cursor;
	/* the cursor belongs to the file: no pread/pwrite at other seqs */
	file->f_mode &= ~(FMODE_PREAD | FMODE_PWRITE);
	return 0;

out_free_sf:
	kfree(sf);
out_put_vol:
	georep_volume_put(vol);
out_put_stream:
	georep_stream_put(stream);
	return ret;
}

static int georep_stream_release(struct inode *inode, struct file *file)
{
	struct georep_stream_file *sf = file->private_data;

	georep_volume_put(sf->vol);
	georep_stream_put(sf->stream);
	mutex_destroy(&sf->lock);
	kfree(sf);
	return 0;
}

static loff_t georep_stream_llseek(struct file *file, loff_t offset,
				   int whence)
{
	struct georep_stream_file *sf = file->private_data;
	loff_t base, pos;
	int ret;

	ret = georep_stream_enter(sf->stream);
	if (ret)
		return ret;
	mutex_lock(&sf->lock);
	switch (whence) {
	case SEEK_SET:
		base = 0;
		break;
	case SEEK_CUR:
		base = sf->cursor;
		break;
	case SEEK_END:
		base = stream_limit(sf, 0) + 1;
		break;
	default:
		pos = -EINVAL;
		goto out_unlock;
	}
	if (check_add_overflow(base, offset, &pos) || pos < 0) {
		pos = -EINVAL;
		goto out_unlock;
	}
	sf->cursor = pos;
	file->f_pos = pos;
out_unlock:
	mutex_unlock(&sf->lock);
	georep_stream_leave(sf->stream);
	return pos;
}

/* the record at the cursor is readable, or the stream went away */
static bool georep_stream_readable(struct georep_stream_file *sf, u64 cursor)
{
	return READ_ONCE(sf->stream->removed) ||
	       stream_limit(sf, cursor) >= cursor;
}

static ssize_t georep_stream_read(struct file *file, char __user *buf,
				  size_t len, loff_t *ppos)
{
	struct georep_stream_file *sf = file->private_data;
	struct georep_stream *stream = sf->stream;
	ssize_t ret;
	u64 cursor;

	if (!len)
		return 0;

	for (;;) {
		ret = georep_stream_enter(stream);
		if (ret)
			return ret;
		if (mutex_lock_interruptible(&sf->lock)) {
			georep_stream_leave(stream);
			return -ERESTARTSYS;
		}
		cursor = sf->cursor;
		if (stream_limit(sf, cursor) >= cursor) {
			/* 0 here means past the head after all: report it */
			ret = georep_log_read(sf->vol, &sf->cursor, buf, len,
					      sf->sealed);
			if (ret > 0)
				trace_georep_shipped(sf->vol, sf->cursor - 1);
			if (ret != -EAGAIN) {
				*ppos = sf->cursor;
				mutex_unlock(&sf->lock);
				georep_stream_leave(stream);
				return ret;
			}
			/* in flight and not copyable: wait until durable */
			WRITE_ONCE(sf->stalled_at, cursor);
		}
		mutex_unlock(&sf->lock);
		georep_stream_leave(stream);

		if (file->f_flags & O_NONBLOCK)
			return -EAGAIN;
		ret = wait_event_interruptible(*georep_volume_waitq(sf->vol),
					       georep_stream_readable(sf, cursor));
		if (ret)
			return ret;
	}
}

static ssize_t georep_stream_write(struct file *file, const char __user *buf,
				   size_t len, loff_t *ppos)
{
	struct georep_stream_file *sf = file->private_data;
	ssize_t ret;

	ret = georep_stream_enter(sf->stream);
	if (ret)
		return ret;
	ret = georep_log_append(sf->vol, buf, len);
	georep_stream_leave(sf->stream);
	return ret;
}

/*
 * GEOREP_IOC_SHIP_SEALED: this file reads a primary's records once sealed.
 * GEOREP_IOC_DURABLE_SEQ: the last durable record; clears EPOLLPRI.
 */
static long georep_stream_mode_ioctl(struct georep_stream_file *sf,
				     unsigned int cmd, u64 __user *uarg)
{
	u64 durable;
	long ret;

	ret = georep_stream_enter(sf->stream);
	if (ret)
		return ret;
	mutex_lock(&sf->lock);
	if (cmd == GEOREP_IOC_SHIP_SEALED) {
		WRITE_ONCE(sf->sealed, true);
	} else {
		durable = georep_volume_durable_seq(sf->vol);
		WRITE_ONCE(sf->durable_seen, durable);
		if (put_user(durable, uarg))
			ret = -EFAULT;
	}
	mutex_unlock(&sf->lock);
	georep_stream_leave(sf->stream);
	/* a sleeping reader may read further now */
	if (cmd == GEOREP_IOC_SHIP_SEALED)
		wake_up_all(georep_volume_waitq(sf->vol));
	return ret;
}

/*
 * GEOREP_IOC_COMMIT_SEQ: VOLUME_SET's COMMIT_SEQ without a netlink round
 * trip or georep_nl_mutex, which every other volume's commands share; the
 * file must be open for writing, as for appends.
 */
static long georep_stream_commit(struct file *file, u64 __user *uarg)
{
	struct georep_stream_file *sf = file->private_data;
	u64 seq, last;
	long ret;

	if (!(file->f_mode & FMODE_WRITE))
		return -EBADF;
	if (get_user(seq, uarg))
		return -EFAULT;
	ret = georep_stream_enter(sf->stream);
	if (ret)
		return ret;
	ret = georep_volume_commit(sf->vol, seq, &last);
	georep_stream_leave(sf->stream);
	return ret;
}

/*
 * GEOREP_IOC_DATA_WRITE: a sealed resync write to a secondary's data device;
 * GEOREP_IOC_DATA_SEAL: a primary seals blocks for a secondary. Both need
 * the file open for writing, as for appends: a seal is what makes a
 * secondary write a block, so a reader must not be able to get one.
 * GEOREP_IOC_DATA_READ: a range of the data device, for a resync or heal.
 */
static long georep_stream_ioctl(struct file *file, unsigned int cmd,
				unsigned long arg)
{
	struct georep_stream_file *sf = file->private_data;
	void __user *uarg = (void __user *)arg;
	struct georep_data_write dw;
	long ret;

	if (cmd == GEOREP_IOC_SHIP_SEALED || cmd == GEOREP_IOC_DURABLE_SEQ)
		return georep_stream_mode_ioctl(sf, cmd, uarg);
	if (cmd == GEOREP_IOC_COMMIT_SEQ)
		return georep_stream_commit(file, uarg);
	if (cmd != GEOREP_IOC_DATA_WRITE && cmd != GEOREP_IOC_DATA_SEAL &&
	    cmd != GEOREP_IOC_DATA_READ)
		return -ENOTTY;
	if (cmd != GEOREP_IOC_DATA_READ && !(file->f_mode & FMODE_WRITE))
		return -EBADF;
	if (copy_from_user(&dw, uarg, sizeof(dw)))
		return -EFAULT;
	ret = georep_stream_enter(sf->stream);
	if (ret)
		return ret;
	if (cmd == GEOREP_IOC_DATA_WRITE) {
		ret = georep_data_write(sf->vol, &dw);
	} else if (cmd == GEOREP_IOC_DATA_READ) {
		ret = georep_data_read(sf->vol, &dw);
	} else {
		ret = georep_data_seal(sf->vol, &dw);
		if (!ret && copy_to_user(uarg, &dw, sizeof(dw)))
			ret = -EFAULT;
	}
	georep_stream_leave(sf->stream);
	return ret;
}

static __poll_t georep_stream_poll(struct file *file, poll_table *wait)
{
	struct georep_stream_file *sf = file->private_data;
	struct georep_status *st;
	__poll_t mask = 0;

	poll_wait(file, georep_volume_waitq(sf->vol), wait);
	if (READ_ONCE(sf->stream->removed))
		return EPOLLERR | EPOLLHUP;

	if (georep_stream_readable(sf, READ_ONCE(sf->cursor)))
		mask |= EPOLLIN | EPOLLRDNORM;
	if (READ_ONCE(sf->sealed) &&
	    georep_volume_durable_seq(sf->vol) > READ_ONCE(sf->durable_seen))
		mask |= EPOLLPRI;

	if (file->f_mode & FMODE_WRITE) {
		st = kmalloc(sizeof(*st), GFP_KERNEL);
		if (!st)
			return mask | EPOLLERR;
		georep_volume_status(sf->vol, st);
		if (st->role == GEOREP_ROLE_SECONDARY)
			mask |= EPOLLOUT | EPOLLWRNORM;
		kfree(st);
	}
	return mask;
}

static const struct file_operations georep_stream_fops = {
	.owner		= THIS_MODULE,
	.open		= georep_stream_open,
	.release	= georep_stream_release,
	.llseek		= georep_stream_llseek,
	.read		= georep_stream_read,
	.write		= georep_stream_write,
	.poll		= georep_stream_poll,
	.unlocked_ioctl	= georep_stream_ioctl,
	.compat_ioctl	= compat_ptr_ioctl,
};

/**
 * georep_stream_add() - create /dev/georepN-log for a volume
 * @vol: the volume; its minor and name must be set
 *
 * Context: process context; takes georep_streams_lock.
 * Return: the stream, ERR_PTR(-ERANGE) for a minor beyond the region,
 * ERR_PTR(-EBUSY) when the minor already has a stream, or another
 * ERR_PTR on failure.
 */
struct georep_stream *georep_stream_add(struct georep_volume *vol)
{
	struct georep_stream *stream;
	u32 minor = georep_volume_minor(vol);
	int ret;

	if (minor >= GEOREP_STREAM_MINORS)
		return ERR_PTR(-ERANGE);

	stream = kzalloc(sizeof(*stream), GFP_KERNEL);
	if (!stream)
		return ERR_PTR(-ENOMEM);
	kref_init(&stream->kref);
	init_rwsem(&stream->ops_sem);
	stream->vol = vol;
	stream->minor = minor;
	strscpy(stream->name, georep_volume_name(vol), sizeof(stream->name));

	mutex_lock(&georep_streams_lock);
	ret = xa_insert(&georep_streams, minor, stream, GFP_KERNEL);
	if (ret)
		goto out_unlock;
	stream->dev = device_create(georep_stream_class, NULL,
				    MKDEV(MAJOR(georep_stream_devt), minor),
				    NULL, "georep%u-log", minor);
	if (IS_ERR(stream->dev)) {
		ret = PTR_ERR(stream->dev);
		xa_erase(&georep_streams, minor);
		goto out_unlock;
	}
	mutex_unlock(&georep_streams_lock);
	pr_debug("%s: stream georep%u-log created\n", stream->name, minor);
	return stream;

out_unlock:
	mutex_unlock(&georep_streams_lock);
	kfree(stream);
	return ERR_PTR(ret);
}

/**
 * georep_stream_remove() - remove a volume's stream node
 * @stream: what georep_stream_add() returned (NULL or an ERR_PTR is a no-op)
 *
 * After it returns no stream file touches the volume again: reads,
 * writes and seeks fail with -ENODEV, blocked readers are woken.
 *
 * Context: process context. Waits for georep_log_read() and
 * georep_log_append() calls in progress on this stream, so the caller must
 * not hold locks those take.
 */
void georep_stream_remove(struct georep_stream *stream)
{
	if (IS_ERR_OR_NULL(stream))
		return;

	mutex_lock(&georep_streams_lock);
	xa_erase(&georep_streams, stream->minor);
	WRITE_ONCE(stream->removed, true);
	mutex_unlock(&georep_streams_lock);

	/* wake readers first: they drop ops_sem before sleeping anyway */
	wake_up_all(georep_volume_waitq(stream->vol));
	down_write(&stream->ops_sem);
	up_write(&stream->ops_sem);

	device_destroy(georep_stream_class,
		       MKDEV(MAJOR(georep_stream_devt), stream->minor));
	pr_debug("%s: stream georep%u-log destroyed\n", stream->name,
		 stream->minor);
	georep_stream_put(stream);
}

/**
 * georep_volume_dead() - has the volume's teardown begun?
 * @vol: the volume
 *
 * True once georep_stream_remove() has run for the volume's stream (the
 * first step of georep_volume_destroy()), and for a volume that has no
 * stream yet (still being created).
 *
 * Context: any; lockless (RCU).
 */
bool georep_volume_dead(struct georep_volume *vol)
{
	struct georep_stream *stream;
	bool dead;

	rcu_read_lock();
	stream = xa_load(&georep_streams, georep_volume_minor(vol));
	dead = !stream || stream->vol != vol || READ_ONCE(stream->removed);
	rcu_read_unlock();
	return dead;
}

int georep_stream_init(void)
{
	int ret;

	ret = alloc_chrdev_region(&georep_stream_devt, 0, GEOREP_STREAM_MINORS,
				  "georep-log");
	if (ret)
		return ret;

	georep_stream_class = class_create(THIS_MODULE, "georep");
	if (IS_ERR(georep_stream_class)) {
		ret = PTR_ERR(georep_stream_class);
		goto out_unregister_region;
	}

	cdev_init(&georep_stream_cdev, &georep_stream_fops);
	georep_stream_cdev.owner = THIS_MODULE;
	ret = cdev_add(&georep_stream_cdev, georep_stream_devt,
		       GEOREP_STREAM_MINORS);
	if (ret)
		goto out_destroy_class;
	return 0;

out_destroy_class:
	class_destroy(georep_stream_class);
out_unregister_region:
	unregister_chrdev_region(georep_stream_devt, GEOREP_STREAM_MINORS);
	return ret;
}

void georep_stream_exit(void)
{
	/* every volume, hence every stream, is gone by now */
	WARN_ON(!xa_empty(&georep_streams));
	cdev_del(&georep_stream_cdev);
	class_destroy(georep_stream_class);
	unregister_chrdev_region(georep_stream_devt, GEOREP_STREAM_MINORS);
	/* streams still referenced by nothing wait in kfree_rcu() */
	rcu_barrier();
}
