// SPDX-License-Identifier: GPL-2.0
/*
 * The georep.ko ledger backend: generic netlink (user/lib/nl.c) for status,
 * role and release; /dev/georepN-log for reading and appending records, the
 * commit index (GEOREP_IOC_COMMIT_SEQ) and resync data writes
 * (GEOREP_IOC_DATA_WRITE); /dev/georepN
 * for resync data reads on the primary (opened on first use).
 *
 * LOG_TRUNCATE, LOG_RESET and LOG_NOOP are sent with libnl-genl here
 * (user/lib/nl.c has no wrappers for them yet). Until the kernel implements
 * them it answers EOPNOTSUPP (unknown genl command), which is what these
 * ops return; GEOREP_IOC_DATA_WRITE likewise (ENOTTY from an unknown ioctl
 * is mapped to EOPNOTSUPP).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <netlink/netlink.h>
#include <netlink/attr.h>
#include <netlink/msg.h>
#include <netlink/genl/genl.h>
#include <netlink/genl/ctrl.h>

#include "georep/keys.h"
#include "georep/nl.h"
#include "georep/record.h"
#include "ledger.h"
#include "log.h"

struct kernel_ledger {
	struct gd_ledger l;
	char name[GEOREP_NAME_MAX];
	struct georep_nl *nl;
	struct nl_sock *sk;	/* the replication commands */
	int family;
	int rfd;		/* log stream, non-blocking: reads and poll */
	int wfd;		/* log stream, blocking: appends (durable on return) */
	int tfd;		/* log stream, non-blocking: the reader thread's (k_read_wait) */
	int pfd;		/* log stream, non-blocking: the pump thread's (k_pump_wait) */
	unsigned int minor;	/* /dev/georepN */
	/* dlock: the reader thread's reads (resync, heal) and the loop's test-read */
	pthread_mutex_t dlock;
	bool data_open;		/* no GEOREP_IOC_DATA_READ: data reads by dfd */
	int dfd;		/* the volume's block device, on such a module */
	void *dbuf;		/* O_DIRECT bounce buffer of those reads */
	size_t dbuf_len;
	bool truncate_applied;	/* the next LOG_TRUNCATE has TRUNCATE_APPLIED */
	bool one_per_write;	/* a module without group commit (k_append) */
	bool sealed;		/* rfd reads records once sealed (k_durable) */
	bool commit_nl;		/* commit index by VOLUME_SET, not the ioctl */
};

#define to_k(l) ((struct kernel_ledger *)(l))

/* GEOREP_IOC_DATA_READ's largest range (struct georep_data_write) */
#define DATA_READ_MAX	(1U << 20)

static int k_status(struct gd_ledger *l, struct gd_ledger_status *st)
{
	struct kernel_ledger *k = to_k(l);
	struct georep_vol_status vs;
	int ret = georep_nl_volume_get(k->nl, k->name, &vs);

	if (ret)
		return ret;
	memset(st, 0, sizeof(*st));
	st->role = vs.role;
	st->term = vs.term;
	st->written_seq = vs.written_seq;
	st->commit_seq = vs.commit_seq;
	st->applied_seq = vs.applied_seq;
	st->tail_seq = vs.tail_seq;
	if (vs.has_chain_hash)
		memcpy(st->chain_hash, vs.chain_hash, GEOREP_HASH_LEN);
	st->data_bytes = vs.data_bytes;
	st->log_used = vs.log_used;
	st->log_size = vs.log_size;
	st->io_state = vs.io_state;
	/* the other openers: resync reads keep the device open here too */
	st->open_count = vs.open_count - (k->dfd >= 0 && vs.open_count ? 1 : 0);
	st->diverged = vs.diverged;
	st->throttled = vs.throttled;
	st->seal_epoch = vs.seal_epoch;
	st->nr_epochs = vs.nr_key_epochs;
	memcpy(st->epochs, vs.key_epochs, sizeof(st->epochs));
	return 0;
}

static int k_set_role(struct gd_ledger *l, uint8_t role, uint64_t term)
{
	struct georep_vol_set req = { .name = to_k(l)->name, .has_role = true,
				      .role = role, .term = term };

	return georep_nl_volume_set(to_k(l)->nl, &req);
}

/* one ioctl on the log stream; VOLUME_SET on a module without it */
static int k_set_commit(struct gd_ledger *l, uint64_t seq)
{
	struct georep_vol_set req = { .name = to_k(l)->name, .has_commit_seq = true,
				      .commit_seq = seq };
	struct kernel_ledger *k = to_k(l);

	if (!k->commit_nl) {
		if (!ioctl(k->wfd, GEOREP_IOC_COMMIT_SEQ, &seq))
			return 0;
		if (errno != ENOTTY)
			return -errno;
		k->commit_nl = true;
	}
	return georep_nl_volume_set(k->nl, &req);
}

static int k_set_io_state(struct gd_ledger *l, uint8_t state)
{
	struct georep_vol_set req = { .name = to_k(l)->name, .has_io_state = true,
				      .io_state = state };

	return georep_nl_volume_set(to_k(l)->nl, &req);
}

static int k_release(struct gd_ledger *l, uint64_t seq)
{
	return georep_nl_log_release(to_k(l)->nl, to_k(l)->name, seq);
}

static int ack_cb(struct nl_msg *msg, void *arg)
{
	*(int *)arg = 0;
	return NL_STOP;
}

/* the reply (VOLUME_GET format): WRITTEN_SEQ, for LOG_NOOP the no-op's seq */
static int reply_cb(struct nl_msg *msg, void *arg)
{
	struct nlattr *tb[GEOREP_A_MAX + 1];

	if (!genlmsg_parse(nlmsg_hdr(msg), 0, tb, GEOREP_A_MAX, NULL) &&
	    tb[GEOREP_A_WRITTEN_SEQ])
		*(uint64_t *)arg = nla_get_u64(tb[GEOREP_A_WRITTEN_SEQ]);
	return NL_OK;
}

static int err_cb(struct sockaddr_nl *nla, struct nlmsgerr *e, void *arg)
{
	*(int *)arg = e->error;
	return NL_STOP;
}

/* One replication command (TRUNCATE, RESET, NOOP). Return: 0 or -errno. */
static int k_cmd(struct kernel_ledger *k, uint8_t cmd, int a1, uint64_t v1,
		 const void *anchor, uint64_t *written)
{
	uint64_t dummy;
	struct nl_msg *msg = nlmsg_alloc();
	struct nl_cb *cb = nl_cb_alloc(NL_CB_DEFAULT);
	int err = 1, ret = -ENOMEM;

	if (!msg || !cb)
		goto out_free;
	if (!genlmsg_put(msg, NL_AUTO_PORT, NL_AUTO_SEQ, k->family, 0, 0, cmd,
			 GEOREP_GENL_VERSION) ||
	    nla_put_string(msg, GEOREP_A_NAME, k->name) ||
	    (a1 && nla_put_u64(msg, a1, v1)) ||
	    (cmd == GEOREP_CMD_LOG_TRUNCATE && k->truncate_applied &&
	     nla_put_flag(msg, GEOREP_A_TRUNCATE_APPLIED)) ||
	    (anchor && nla_put(msg, GEOREP_A_RECORD, GEOREP_RECORD_HDR_SIZE, anchor)))
		goto out_free;
	nl_cb_err(cb, NL_CB_CUSTOM, err_cb, &err);
	nl_cb_set(cb, NL_CB_ACK, NL_CB_CUSTOM, ack_cb, &err);
	nl_cb_set(cb, NL_CB_VALID, NL_CB_CUSTOM, reply_cb, written ?: &dummy);
	ret = nl_send_auto(k->sk, msg);
	if (ret < 0) {
		ret = -EIO;
		goto out_free;
	}
	while (err > 0) {
		ret = nl_recvmsgs(k->sk, cb);
		if (ret < 0 && err > 0) {
			err = -EIO;
			break;
		}
	}
	ret = err;	/* EOPNOTSUPP: a genl command the kernel does not know yet */
out_free:
	nl_cb_put(cb);
	nlmsg_free(msg);
	return ret;
}

static int k_noop(struct gd_ledger *l, uint64_t *seq)
{
	*seq = 0;
	/* the reply's WRITTEN_SEQ is the no-op's seq, even if writes followed */
	return k_cmd(to_k(l), GEOREP_CMD_LOG_NOOP, 0, 0, NULL, seq) ?: (*seq ? 0 : -EPROTO);
}

static ssize_t k_read(struct gd_ledger *l, uint64_t seq, void *buf, size_t cap)
{
	struct kernel_ledger *k = to_k(l);
	ssize_t n;

	if (lseek(k->rfd, seq, SEEK_SET) < 0)
		return -errno;
	n = read(k->rfd, buf, cap);
	if (n < 0)
		return errno == EAGAIN ? 0 : -errno;
	return n;
}

/*
 * The reader thread's read, on a file of its own (its cursor, its sealed
 * mode, its lock in the kernel): waits up to @ms for record @seq, either
 * new or in flight and copyable only once durable (stream.c).
 */
static ssize_t read_wait_fd(int fd, uint64_t seq, void *buf, size_t cap, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	ssize_t n;

	if (lseek(fd, seq, SEEK_SET) < 0)
		return -errno;
	n = read(fd, buf, cap);
	if (n >= 0 || errno != EAGAIN)
		return n < 0 ? -errno : n;
	if (poll(&p, 1, ms) <= 0)
		return 0;
	n = read(fd, buf, cap);
	if (n < 0)
		return errno == EAGAIN ? 0 : -errno;
	return n;
}

static ssize_t k_read_wait(struct gd_ledger *l, uint64_t seq, void *buf, size_t cap,
			   int ms)
{
	return read_wait_fd(to_k(l)->tfd, seq, buf, cap, ms);
}

/*
 * The pump thread's: a file of its own as well, so that its reads of
 * records in flight (sealed mode) wait for neither the reader thread's
 * file lock nor, in a module with ship_mutex, a read of the log device.
 */
static ssize_t k_pump_wait(struct gd_ledger *l, uint64_t seq, void *buf, size_t cap,
			   int ms)
{
	return read_wait_fd(to_k(l)->pfd, seq, buf, cap, ms);
}

static int k_poll_fd(struct gd_ledger *l)
{
	return to_k(l)->rfd;
}

static int k_durable(struct gd_ledger *l, uint64_t *seq)
{
	struct kernel_ledger *k = to_k(l);
	__u64 v;

	if (!k->sealed)
		return -EOPNOTSUPP;
	if (ioctl(k->rfd, GEOREP_IOC_DURABLE_SEQ, &v) < 0)
		return -errno;
	*seq = v;
	return 0;
}

/*
 * One write(2) for the records: the module checks each, writes them and
 * flushes once (kmod/append.c). A module from before group commit takes
 * one record per write(2) and answers EINVAL to more: then one at a time.
 */
static ssize_t k_append(struct gd_ledger *l, const void *recs, size_t len)
{
	struct kernel_ledger *k = to_k(l);
	size_t one = georep_record_span(recs, len);
	ssize_t n;

	if (k->one_per_write && one)
		len = one;
	n = write(k->wfd, recs, len);
	if (n < 0 && errno == EINVAL && one && one < len && !k->one_per_write) {
		n = write(k->wfd, recs, one);
		if (n >= 0) {
			k->one_per_write = true;
			gd_info("volume %s: the module takes one record per write(2): "
				"appends without group commit", k->name);
		}
	}
	return n < 0 ? -errno : n;
}

static int k_truncate(struct gd_ledger *l, uint64_t seq)
{
	return k_cmd(to_k(l), GEOREP_CMD_LOG_TRUNCATE, GEOREP_A_TRUNCATE_SEQ, seq, NULL, NULL);
}

static int k_truncate_applied(struct gd_ledger *l, uint64_t seq)
{
	struct kernel_ledger *k = to_k(l);
	int ret;

	k->truncate_applied = true;
	ret = k_truncate(l, seq);
	k->truncate_applied = false;
	return ret;
}

static int k_clear_diverged(struct gd_ledger *l)
{
	struct georep_vol_set req = { .name = to_k(l)->name, .clear_diverged = true };

	return georep_nl_volume_set(to_k(l)->nl, &req);
}

static int k_reset(struct gd_ledger *l, const void *anchor)
{
	return k_cmd(to_k(l), GEOREP_CMD_LOG_RESET, 0, 0, anchor, NULL);
}

static int k_data_ioctl(int fd, unsigned long cmd, uint64_t off, const void *buf,
			size_t len, struct georep_data_seal *seal)
{
	struct georep_data_write dw = {
		.lba = off / 512, .buf = (uintptr_t)buf, .len = len, .seal = *seal,
	};

	if (ioctl(fd, cmd, &dw))
		return errno == ENOTTY ? -EOPNOTSUPP : -errno;
	*seal = dw.seal;
	return 0;
}

static int k_data_write(struct gd_ledger *l, uint64_t off, const void *buf, size_t len,
			const struct georep_data_seal *seal)
{
	struct georep_data_seal s = *seal;

	return k_data_ioctl(to_k(l)->wfd, GEOREP_IOC_DATA_WRITE, off, buf, len, &s);
}

static int k_data_seal(struct gd_ledger *l, uint64_t off, const void *buf, size_t len,
		       struct georep_data_seal *seal)
{
	return k_data_ioctl(to_k(l)->wfd, GEOREP_IOC_DATA_SEAL, off, buf, len, seal);
}

static int k_key_install(struct gd_ledger *l, uint32_t epoch,
			 const uint8_t key[GEOREP_KEY_LEN], uint32_t seal)
{
	struct kernel_ledger *k = to_k(l);
	struct georep_keyset ks = { .nr = 1 };
	int ret;

	ks.keys[0].epoch = epoch;
	memcpy(ks.keys[0].data, key, GEOREP_KEY_LEN);
	ret = georep_nl_key_set_seal(k->nl, k->name, &ks, seal);
	georep_keyset_clear(&ks);
	snprintf(l->why, sizeof(l->why), "%s", ret ? georep_nl_error(k->nl) : "");
	return ret;
}

/* under dlock: read @len bytes at @off through the bounce buffer */
static int data_read_locked(struct kernel_ledger *k, uint64_t off, void *buf, size_t len)
{
	char path[64];
	ssize_t n;

	/* opened on the first read only: an open device counts in open_count */
	if (k->dfd < 0) {
		snprintf(path, sizeof(path), "/dev/georep%u", k->minor);
		/* O_DIRECT: the data device as it is, never a stale page cache */
		k->dfd = open(path, O_RDONLY | O_DIRECT | O_CLOEXEC);
		if (k->dfd < 0)
			return -errno;
	}
	if (len > k->dbuf_len) {
		void *p;

		if (posix_memalign(&p, GEOREP_BLOCK_SIZE, len))
			return -ENOMEM;
		free(k->dbuf);
		k->dbuf = p;
		k->dbuf_len = len;
	}
	n = pread(k->dfd, k->dbuf, len, off);
	if (n < 0)
		return -errno;
	if ((size_t)n != len)
		return -EIO;
	memcpy(buf, k->dbuf, len);
	return 0;
}

/*
 * No netlink here: the reader thread calls it while the loop uses k->nl.
 * The kernel reads the data device (GEOREP_IOC_DATA_READ), so that this
 * daemon does not hold the volume's block device open: an opener that
 * stays keeps a writer's close from being the last one, which writes the
 * writer's dirty pages back. A module without the ioctl: the device is
 * opened on the first read and stays open, as before December 2026.
 */
static int k_data_read(struct gd_ledger *l, uint64_t off, void *buf, size_t len)
{
	struct kernel_ledger *k = to_k(l);
	struct georep_data_seal none = { };
	size_t done = 0, n;
	int ret;

	/* the kernel reads at most DATA_READ_MAX a call (a resync asks 4 MiB) */
	while (done < len && !__atomic_load_n(&k->data_open, __ATOMIC_RELAXED)) {
		n = len - done < DATA_READ_MAX ? len - done : DATA_READ_MAX;
		ret = k_data_ioctl(k->tfd, GEOREP_IOC_DATA_READ, off + done,
				   (char *)buf + done, n, &none);
		if (ret == -EOPNOTSUPP) {
			__atomic_store_n(&k->data_open, true, __ATOMIC_RELAXED);
			break;
		}
		if (ret)
			return ret;
		done += n;
	}
	if (done == len)
		return 0;
	pthread_mutex_lock(&k->dlock);
	ret = data_read_locked(k, off + done, (char *)buf + done, len - done);
	pthread_mutex_unlock(&k->dlock);
	return ret;
}

static void k_close(struct gd_ledger *l)
{
	struct kernel_ledger *k = to_k(l);

	if (k->rfd >= 0)
		close(k->rfd);
	if (k->wfd >= 0)
		close(k->wfd);
	if (k->tfd >= 0)
		close(k->tfd);
	if (k->pfd >= 0)
		close(k->pfd);
	if (k->dfd >= 0)
		close(k->dfd);
	free(k->dbuf);
	pthread_mutex_destroy(&k->dlock);
	if (k->sk)
		nl_socket_free(k->sk);
	georep_nl_close(k->nl);
	free(k);
}

static const struct gd_ledger_ops kernel_ops = {
	.name = "kernel",
	.status = k_status,
	.set_role = k_set_role,
	.set_io_state = k_set_io_state,
	.set_commit = k_set_commit,
	.release = k_release,
	.noop = k_noop,
	.read = k_read,
	.read_wait = k_read_wait,
	.pump_wait = k_pump_wait,
	.poll_fd = k_poll_fd,
	.durable = k_durable,
	.append = k_append,
	.truncate = k_truncate,
	.truncate_applied = k_truncate_applied,
	.clear_diverged = k_clear_diverged,
	.reset = k_reset,
	.data_write = k_data_write,
	.data_seal = k_data_seal,
	.key_install = k_key_install,
	.data_read = k_data_read,
	.close = k_close,
};

/* a lab switch: set, non-empty and not "0" */
static bool env_set(const char *name)
{
	const char *v = getenv(name);

	return v && *v && strcmp(v, "0");
}

int gd_ledger_kernel_open(const char *volume, enum georep_commit_rule rule,
			  struct gd_ledger **out, char *err)
{
	struct georep_vol_set set = { .name = volume, .has_commit_rule = true,
				      .commit_rule = rule };
	struct kernel_ledger *k = calloc(1, sizeof(*k));
	struct georep_vol_status vs;
	bool ship_durable;
	char path[64];
	int ret;

	if (!k)
		return -ENOMEM;
	k->l.ops = &kernel_ops;
	k->rfd = k->wfd = k->tfd = k->pfd = k->dfd = -1;
	pthread_mutex_init(&k->dlock, NULL);
	snprintf(k->name, sizeof(k->name), "%s", volume);
	ret = georep_nl_open(&k->nl, err, GD_LEDGER_ERRLEN);
	if (ret)
		goto out_free;
	ret = georep_nl_volume_get(k->nl, volume, &vs);
	if (ret) {
		snprintf(err, GD_LEDGER_ERRLEN, "volume %s is not attached in georep.ko: %s",
			 volume, georep_nl_error(k->nl));
		goto out_close;
	}
	if (vs.commit_rule != rule && georep_nl_volume_set(k->nl, &set)) {
		ret = -EIO;
		snprintf(err, GD_LEDGER_ERRLEN, "volume %s: cannot set the commit rule: %s",
			 volume, georep_nl_error(k->nl));
		goto out_close;
	}
	k->family = georep_nl_family(k->nl);
	k->sk = nl_socket_alloc();
	if (!k->sk || genl_connect(k->sk)) {
		ret = -ENOMEM;
		snprintf(err, GD_LEDGER_ERRLEN, "generic netlink socket");
		goto out_close;
	}
	k->minor = vs.minor;
	snprintf(path, sizeof(path), "/dev/georep%u-log", vs.minor);
	k->rfd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	k->wfd = open(path, O_RDWR | O_CLOEXEC);
	k->tfd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	k->pfd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (k->rfd < 0 || k->wfd < 0 || k->tfd < 0 || k->pfd < 0) {
		ret = -errno;
		snprintf(err, GD_LEDGER_ERRLEN, "%s: %s", path, strerror(errno));
		goto out_close;
	}
	/* ship records while their local writes run (write-path.rst) */
	ship_durable = env_set("GEOREPD_SHIP_DURABLE");
	/* the bench's comparison row: the commit index by netlink */
	k->commit_nl = env_set("GEOREPD_COMMIT_NETLINK");
	k->sealed = !ship_durable && !ioctl(k->rfd, GEOREP_IOC_SHIP_SEALED) &&
		    !ioctl(k->tfd, GEOREP_IOC_SHIP_SEALED) &&
		    !ioctl(k->pfd, GEOREP_IOC_SHIP_SEALED);
	if (!k->sealed)
		gd_info("volume %s: records are shipped once durable here (%s)", volume,
			ship_durable ? "GEOREPD_SHIP_DURABLE is set" :
			"the module has no sealed mode");
	*out = &k->l;
	return 0;

out_close:
	k_close(&k->l);
	return ret;
out_free:
	free(k);
	return ret;
}
