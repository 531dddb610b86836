// SPDX-License-Identifier: GPL-2.0
/*
 * georep-ledgerop: the replication operations a consensus daemon uses on a
 * kernel ledger, one per run, for the kernel selftests.
 *
 *   georep-ledgerop truncate <volume> <seq> [--applied]
 *   georep-ledgerop reset <volume> <source.log> <seq> [--corrupt]
 *   georep-ledgerop noop <volume>            prints the no-op's seq
 *   georep-ledgerop head <volume>            prints "written_seq term chain"
 *   georep-ledgerop datawrite <dev.log> <lba> <file> <sealer.log> [--fua|--corrupt|--sealer-rdonly]
 *   georep-ledgerop resync <source> <dev.log> <sealer.log>
 *   georep-ledgerop dataread <dev.log> <lba> <len> <out>
 *   georep-ledgerop shipread <dev.log> <out> [<seq>]
 *   georep-ledgerop streamcopy <dev.log> <out> <seconds> [--sealed]
 *
 * truncate, reset and noop are the generic netlink commands LOG_TRUNCATE
 * (--applied: with TRUNCATE_APPLIED, a deposed primary's suffix),
 * LOG_RESET and LOG_NOOP (libnl-genl); reset's anchor is record <seq> as
 * the log stream <source.log> returns it. datawrite writes <file> (a
 * multiple of 4 KiB, at most 1 MiB) at sector <lba> of the volume behind
 * the log stream with GEOREP_IOC_DATA_WRITE, sealed by the primary behind
 * <sealer.log> (GEOREP_IOC_DATA_SEAL); resync copies all of <source> (a
 * file or block device) that way, 1 MiB at a time, each piece with FUA.
 * --corrupt flips one bit of the anchor or of the data after sealing;
 * --sealer-rdonly opens <sealer.log> read-only (the kernel then refuses to
 * seal: EBADF), where the sealer is otherwise opened for writing.
 * dataread writes <len> bytes of the data device from sector <lba> to
 * <out>, read by the kernel (GEOREP_IOC_DATA_READ, on a read-only file).
 * shipread puts the log stream in sealed mode (GEOREP_IOC_SHIP_SEALED),
 * reads once without blocking from <seq> (default: where the stream
 * starts) into <out>, then prints "bytes=N pri=P durable=D": P is 1 when
 * poll() reported EPOLLPRI before D was asked (GEOREP_IOC_DURABLE_SEQ).
 * streamcopy copies the stream from where it starts into <out>, reading on
 * as records come for <seconds> or until SIGTERM, then what is left, and
 * prints "next=S
 * bytes=B" (S: the seq after the last record read); --sealed reads in
 * sealed mode (and tells on stderr how many records it read before they
 * were durable), so that a copy made while writes run can be compared with
 * one made of the durable records afterwards.
 *
 * On failure prints the errno text and the kernel's extack message, and
 * exits with the errno value (e.g. 22 EINVAL, 16 EBUSY, 30 EROFS).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <linux/netlink.h>
#include <netlink/genl/genl.h>
#include <netlink/genl/ctrl.h>

#include <linux/georep.h>
#include "georep/evloop.h"
#include "georep/nl.h"

#define CHUNK	(1u << 20)

struct req {
	int err;		/* 1 while waiting */
	char msg[256];		/* extack */
	uint64_t written;	/* WRITTEN_SEQ of the reply */
};

/* truncate --applied: LOG_TRUNCATE carries the TRUNCATE_APPLIED flag */
static bool truncate_applied;

static void usage(void)
{
	fprintf(stderr,
		"usage: georep-ledgerop truncate <volume> <seq> [--applied]\n"
		"       georep-ledgerop reset <volume> <source.log> <seq> [--corrupt]\n"
		"       georep-ledgerop noop <volume>\n"
		"       georep-ledgerop head <volume>\n"
		"       georep-ledgerop shipread <dev.log> <out> [<seq>]\n"
		"       georep-ledgerop streamcopy <dev.log> <out> <seconds> [--sealed]\n"
		"       georep-ledgerop commit <dev.log> <seq> [--rdonly]\n"
		"       georep-ledgerop commitcost <volume> <dev.log> <count>\n"
		"       georep-ledgerop datawrite <dev.log> <lba> <file> <sealer.log>\n"
		"                                 [--fua|--corrupt|--sealer-rdonly]\n"
		"       georep-ledgerop resync <source> <dev.log> <sealer.log>\n"
		"       georep-ledgerop dataread <dev.log> <lba> <len> <out>\n");
	exit(2);
}

static uint64_t num(const char *s)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || !*s || *end) {
		fprintf(stderr, "georep-ledgerop: not a number: %s\n", s);
		exit(2);
	}
	return v;
}

static int fail(const char *what, int err, const char *msg)
{
	fprintf(stderr, "georep-ledgerop: %s: %s%s%s\n", what, strerror(err),
		msg && *msg ? ": " : "", msg ? msg : "");
	return err > 0 && err < 256 ? err : 1;
}

static int ack_cb(struct nl_msg *msg, void *arg)
{
	((struct req *)arg)->err = 0;
	return NL_STOP;
}

static int reply_cb(struct nl_msg *msg, void *arg)
{
	struct nlattr *tb[GEOREP_A_MAX + 1];

	if (!genlmsg_parse(nlmsg_hdr(msg), 0, tb, GEOREP_A_MAX, NULL) &&
	    tb[GEOREP_A_WRITTEN_SEQ])
		((struct req *)arg)->written = nla_get_u64(tb[GEOREP_A_WRITTEN_SEQ]);
	return NL_OK;
}

/* the error and, when the kernel sent one, its extack message */
static int err_cb(struct sockaddr_nl *nla, struct nlmsgerr *e, void *arg)
{
	struct req *r = arg;
	struct nlmsghdr *nlh = (struct nlmsghdr *)((char *)e - NLMSG_HDRLEN);
	struct nlattr *tb[NLMSGERR_ATTR_MAX + 1];
	size_t off = sizeof(*e);

	r->err = -e->error;
	if (!(nlh->nlmsg_flags & NLM_F_ACK_TLVS))
		return NL_STOP;
	if (!(nlh->nlmsg_flags & NLM_F_CAPPED))
		off += e->msg.nlmsg_len - NLMSG_HDRLEN;
	if (nlh->nlmsg_len < NLMSG_HDRLEN + off)
		return NL_STOP;
	if (!nla_parse(tb, NLMSGERR_ATTR_MAX, (struct nlattr *)((char *)e + off),
		       nlh->nlmsg_len - NLMSG_HDRLEN - off, NULL) &&
	    tb[NLMSGERR_ATTR_MSG])
		snprintf(r->msg, sizeof(r->msg), "%s",
			 (const char *)nla_data(tb[NLMSGERR_ATTR_MSG]));
	return NL_STOP;
}

/* one LOG_* command; returns 0 or an errno, r->msg has the extack */
static int nl_cmd(uint8_t cmd, const char *name, int a1, uint64_t v1,
		  const void *anchor, struct req *r)
{
	struct nl_sock *sk = nl_socket_alloc();
	struct nl_msg *msg = nlmsg_alloc();
	struct nl_cb *cb = nl_cb_alloc(NL_CB_DEFAULT);
	int one = 1, family, ret = ENOMEM;

	r->err = 1;
	r->msg[0] = 0;
	r->written = 0;
	if (!sk || !msg || !cb)
		goto out_free;
	ret = EIO;
	if (genl_connect(sk))
		goto out_free;
	setsockopt(nl_socket_get_fd(sk), SOL_NETLINK, NETLINK_EXT_ACK, &one,
		   sizeof(one));
	family = genl_ctrl_resolve(sk, GEOREP_GENL_NAME);
	if (family < 0) {
		ret = ENOENT;
		snprintf(r->msg, sizeof(r->msg), "family %s not found (module not loaded?)",
			 GEOREP_GENL_NAME);
		goto out_free;
	}
	if (!genlmsg_put(msg, NL_AUTO_PORT, NL_AUTO_SEQ, family, 0, 0, cmd,
			 GEOREP_GENL_VERSION) ||
	    nla_put_string(msg, GEOREP_A_NAME, name) ||
	    (a1 && nla_put_u64(msg, a1, v1)) ||
	    (cmd == GEOREP_CMD_LOG_TRUNCATE && truncate_applied &&
	     nla_put_flag(msg, GEOREP_A_TRUNCATE_APPLIED)) ||
	    (anchor && nla_put(msg, GEOREP_A_RECORD, GEOREP_RECORD_HDR_SIZE, anchor)))
		goto out_free;
	nl_cb_err(cb, NL_CB_CUSTOM, err_cb, r);
	nl_cb_set(cb, NL_CB_ACK, NL_CB_CUSTOM, ack_cb, r);
	nl_cb_set(cb, NL_CB_VALID, NL_CB_CUSTOM, reply_cb, r);
	if (nl_send_auto(sk, msg) < 0)
		goto out_free;
	while (r->err > 0 && r->err == 1) {
		if (nl_recvmsgs(sk, cb) < 0 && r->err == 1)
			r->err = EIO;
	}
	ret = r->err;
out_free:
	nl_cb_put(cb);
	nlmsg_free(msg);
	nl_socket_free(sk);
	return ret;
}

/* LOG_RESET after record @seq of the stream @src (its header) */
static int cmd_reset(const char *name, const char *src, uint64_t seq, bool corrupt)
{
	static uint8_t buf[CHUNK + GEOREP_RECORD_HDR_SIZE];
	struct req r;
	ssize_t n;
	int fd, ret;

	fd = open(src, O_RDONLY);
	if (fd < 0)
		return fail(src, errno, NULL);
	n = lseek(fd, seq, SEEK_SET) < 0 ? -1 : read(fd, buf, sizeof(buf));
	ret = errno;
	close(fd);
	if (n < 0)
		return fail(src, ret, "reading the anchor record");
	if (n < GEOREP_RECORD_HDR_SIZE)
		return fail(src, ENODATA, "no record at that seq");
	if (corrupt)
		buf[100] ^= 1;
	ret = nl_cmd(GEOREP_CMD_LOG_RESET, name, 0, 0, buf, &r);
	return ret ? fail("LOG_RESET", ret, r.msg) : 0;
}

static int cmd_head(const char *name)
{
	struct georep_vol_status st;
	struct georep_nl *nl;
	char err[256];
	unsigned int i;
	int ret;

	ret = georep_nl_open(&nl, err, sizeof(err));
	if (ret)
		return fail("head", -ret, err);
	ret = georep_nl_volume_get(nl, name, &st);
	if (ret) {
		ret = fail("head", -ret, georep_nl_error(nl));
		georep_nl_close(nl);
		return ret;
	}
	georep_nl_close(nl);
	printf("%" PRIu64 " %" PRIu64 " ", st.written_seq, st.term);
	for (i = 0; i < GEOREP_HASH_LEN; i++)
		printf("%02x", st.chain_hash[i]);
	printf("\n");
	return 0;
}

/*
 * flags: GEOREP_DW_FUA, or CORRUPT: flip a bit of the data once sealed, or
 * SEALER_RDONLY: open the sealer read-only
 */
#define CORRUPT		(1U << 31)
#define SEALER_RDONLY	(1U << 30)

/* seal with the primary behind @sealer, then write to the secondary's @fd */
static int data_write(int fd, int sealer, uint64_t lba, void *buf, uint32_t len,
		      unsigned int flags)
{
	struct georep_data_write dw = {
		.lba = lba,
		.buf = (uintptr_t)buf,
		.len = len,
	};

	if (ioctl(sealer, GEOREP_IOC_DATA_SEAL, &dw))
		return errno;
	dw.flags = flags & GEOREP_DW_FUA;
	if (flags & CORRUPT)
		((uint8_t *)buf)[len / 2] ^= 1;
	return ioctl(fd, GEOREP_IOC_DATA_WRITE, &dw) ? errno : 0;
}

static int cmd_datawrite(const char *log, uint64_t lba, const char *file,
			 const char *sealer, unsigned int flags)
{
	void *buf = NULL;
	ssize_t n;
	int fd, sfd, in, ret;

	in = open(file, O_RDONLY);
	if (in < 0)
		return fail(file, errno, NULL);
	if (posix_memalign(&buf, 4096, CHUNK + 4096)) {
		close(in);
		return fail("datawrite", ENOMEM, NULL);
	}
	/* up to one byte more than allowed, so the kernel sees a long one */
	n = read(in, buf, CHUNK + 4096);
	close(in);
	if (n < 0) {
		free(buf);
		return fail(file, errno, NULL);
	}
	fd = open(log, O_RDWR);
	sfd = open(sealer, flags & SEALER_RDONLY ? O_RDONLY : O_RDWR);
	if (fd < 0 || sfd < 0) {
		ret = fail(fd < 0 ? log : sealer, errno, NULL);
		goto out;
	}
	ret = data_write(fd, sfd, lba, buf, n, flags);
	if (ret)
		ret = fail("GEOREP_IOC_DATA_SEAL/DATA_WRITE", ret, NULL);
out:
	if (fd >= 0)
		close(fd);
	if (sfd >= 0)
		close(sfd);
	free(buf);
	return ret;
}

static int cmd_dataread(const char *log, uint64_t lba, uint64_t len, const char *out)
{
	struct georep_data_write dw = { .lba = lba, .len = (uint32_t)len };
	void *buf = NULL;
	int fd, ofd, ret = 0;

	if (len > CHUNK + 4096 || posix_memalign(&buf, 4096, len ? len : 4096))
		return fail("dataread", len > CHUNK + 4096 ? EINVAL : ENOMEM, NULL);
	dw.buf = (uintptr_t)buf;
	fd = open(log, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		ret = fail(log, errno, NULL);
		goto out_free;
	}
	if (ioctl(fd, GEOREP_IOC_DATA_READ, &dw)) {
		ret = fail("GEOREP_IOC_DATA_READ", errno, NULL);
		goto out_close;
	}
	ofd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (ofd < 0 || write(ofd, buf, len) != (ssize_t)len)
		ret = fail(out, ofd < 0 ? errno : EIO, NULL);
	if (ofd >= 0)
		close(ofd);
out_close:
	close(fd);
out_free:
	free(buf);
	return ret;
}

static int cmd_resync(const char *src, const char *log, const char *sealer)
{
	uint64_t lba = 0, total = 0;
	void *buf = NULL;
	int in, fd, sfd, ret = 0;
	ssize_t n;

	sfd = open(sealer, O_RDWR);
	if (sfd < 0)
		return fail(sealer, errno, NULL);
	in = open(src, O_RDONLY);
	if (in < 0) {
		close(sfd);
		return fail(src, errno, NULL);
	}
	fd = open(log, O_RDWR);
	if (fd < 0) {
		close(in);
		close(sfd);
		return fail(log, errno, NULL);
	}
	if (posix_memalign(&buf, 4096, CHUNK)) {
		ret = fail("resync", ENOMEM, NULL);
		goto out_close;
	}
	for (;;) {
		size_t got = 0;

		while (got < CHUNK) {
			n = read(in, (char *)buf + got, CHUNK - got);
			if (n < 0) {
				ret = fail(src, errno, NULL);
				goto out_free;
			}
			if (!n)
				break;
			got += n;
		}
		if (!got)
			break;
		ret = data_write(fd, sfd, lba, buf, got, GEOREP_DW_FUA);
		if (ret) {
			ret = fail("GEOREP_IOC_DATA_SEAL/DATA_WRITE", ret, NULL);
			goto out_free;
		}
		lba += got >> 9;
		total += got;
		if (got < CHUNK)
			break;
	}
	printf("resynced %" PRIu64 " bytes\n", total);
out_free:
	free(buf);
out_close:
	close(fd);
	close(in);
	close(sfd);
	return ret;
}

/*
 * shipread and streamcopy: the stream @log (non-blocking, in sealed mode
 * with @sealed), @out and a read buffer. Return: 0, or an exit status
 * (then *@fd, *@ofd and *@buf are what the caller closes and frees).
 */
static int open_copy(const char *log, const char *out, bool sealed, int *fd,
		     int *ofd, void **buf)
{
	*ofd = -1;
	*buf = NULL;
	*fd = open(log, O_RDONLY | O_NONBLOCK);
	if (*fd < 0)
		return fail(log, errno, NULL);
	*ofd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	*buf = malloc(2 * CHUNK);
	if (*ofd < 0 || !*buf)
		return fail(out, *ofd < 0 ? errno : ENOMEM, NULL);
	if (sealed && ioctl(*fd, GEOREP_IOC_SHIP_SEALED) < 0)
		return fail("GEOREP_IOC_SHIP_SEALED", errno, NULL);
	return 0;
}

static void close_copy(int fd, int ofd, void *buf)
{
	free(buf);
	if (ofd >= 0)
		close(ofd);
	if (fd >= 0)
		close(fd);
}

static int cmd_shipread(const char *log, const char *out, const char *seq)
{
	struct pollfd pfd = { .events = POLLPRI };
	__u64 durable = 0;
	ssize_t n, w;
	void *buf;
	int fd, ofd, ret;

	ret = open_copy(log, out, true, &fd, &ofd, &buf);
	if (ret)
		goto out_close;
	if (seq && lseek(fd, num(seq), SEEK_SET) < 0) {
		ret = fail("lseek", errno, NULL);
		goto out_close;
	}
	n = read(fd, buf, 2 * CHUNK);
	if (n < 0 && errno != EAGAIN) {
		ret = fail("read", errno, NULL);
		goto out_close;
	}
	n = n < 0 ? 0 : n;
	w = write(ofd, buf, n);
	pfd.fd = fd;
	if (w != n || poll(&pfd, 1, 0) < 0 ||
	    ioctl(fd, GEOREP_IOC_DURABLE_SEQ, &durable) < 0) {
		ret = fail("write, poll or GEOREP_IOC_DURABLE_SEQ", errno, NULL);
		goto out_close;
	}
	printf("bytes=%zd pri=%d durable=%llu\n", n, !!(pfd.revents & POLLPRI),
	       (unsigned long long)durable);
out_close:
	close_copy(fd, ofd, buf);
	return ret;
}

static volatile sig_atomic_t stop_copy;

static void on_stop(int sig)
{
	stop_copy = 1;
}

/*
 * read what is readable now into @ofd; bytes, or -errno. In sealed mode
 * (@ahead not NULL) add the records read past the durable seq as it was
 * right after the read: those were copied from writes in flight.
 */
static ssize_t copy_readable(int fd, int ofd, void *buf, uint64_t *ahead)
{
	ssize_t n, total = 0;
	off_t first, next;
	__u64 durable;

	for (;;) {
		first = lseek(fd, 0, SEEK_CUR);
		n = read(fd, buf, 2 * CHUNK);
		if (n < 0)
			return errno == EAGAIN ? total : -errno;
		if (!n)
			return total;
		/* this read's records first..next - 1, past durable */
		next = lseek(fd, 0, SEEK_CUR);
		if (ahead && first > 0 && next > first &&
		    !ioctl(fd, GEOREP_IOC_DURABLE_SEQ, &durable)) {
			if (durable < (uint64_t)first - 1)
				durable = first - 1;
			if ((uint64_t)next - 1 > durable)
				*ahead += (uint64_t)next - 1 - durable;
		}
		if (write(ofd, buf, n) != n)
			return -EIO;
		total += n;
	}
}

static int cmd_streamcopy(const char *log, const char *out, uint64_t secs,
			  bool sealed)
{
	struct pollfd pfd = { .events = POLLIN };
	uint64_t end = gr_now_ns() + secs * 1000000000ULL;
	bool last = false;
	uint64_t bytes = 0, ahead = 0;
	ssize_t n;
	off_t next;
	void *buf;
	int fd, ofd, ret;

	ret = open_copy(log, out, sealed, &fd, &ofd, &buf);
	if (ret)
		goto out_close;
	pfd.fd = fd;
	signal(SIGTERM, on_stop);
	/* once more after the end: what became readable meanwhile */
	for (;;) {
		n = copy_readable(fd, ofd, buf, sealed ? &ahead : NULL);
		if (n < 0) {
			ret = fail("read", (int)-n, NULL);
			goto out_close;
		}
		bytes += n;
		if (last)
			break;
		last = stop_copy || gr_now_ns() >= end ||
		       (poll(&pfd, 1, 100) < 0 && errno != EINTR);
	}
	next = lseek(fd, 0, SEEK_CUR);
	printf("next=%lld bytes=%llu\n", (long long)next, (unsigned long long)bytes);
	if (sealed)
		fprintf(stderr, "read before durable: %llu records\n",
			(unsigned long long)ahead);
out_close:
	close_copy(fd, ofd, buf);
	return ret;
}

/* GEOREP_IOC_COMMIT_SEQ; --rdonly opens the stream read-only (EBADF) */
static int cmd_commit(const char *log, uint64_t seq, bool rdonly)
{
	__u64 v = seq;
	int fd, ret = 0;

	fd = open(log, (rdonly ? O_RDONLY : O_RDWR) | O_CLOEXEC);
	if (fd < 0)
		return fail(log, errno, NULL);
	if (ioctl(fd, GEOREP_IOC_COMMIT_SEQ, &v))
		ret = fail("GEOREP_IOC_COMMIT_SEQ", errno, NULL);
	close(fd);
	return ret;
}

/* what one commit update costs: VOLUME_SET against the ioctl, @n of each */
static int cmd_commitcost(const char *name, const char *log, uint64_t n)
{
	struct georep_vol_set set = { .name = name, .has_commit_seq = true };
	struct georep_vol_status vs;
	struct georep_nl *nl;
	char err[256];
	uint64_t t0, t1, t2;
	uint64_t i;
	int fd, ret;

	ret = georep_nl_open(&nl, err, sizeof(err));
	if (ret)
		return fail("netlink", -ret, err);
	fd = open(log, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		ret = fail(log, errno, NULL);
		goto out_close;
	}
	ret = georep_nl_volume_get(nl, name, &vs);
	if (ret) {
		ret = fail("VOLUME_GET", -ret, georep_nl_error(nl));
		goto out_close;
	}
	/* the current index again: the whole path, nothing moves */
	set.commit_seq = vs.commit_seq;
	t0 = gr_now_ns();
	for (i = 0; i < n && !ret; i++)
		ret = georep_nl_volume_set(nl, &set);
	t1 = gr_now_ns();
	for (i = 0; i < n && !ret; i++)
		ret = ioctl(fd, GEOREP_IOC_COMMIT_SEQ, &set.commit_seq) ? -errno : 0;
	t2 = gr_now_ns();
	if (ret) {
		ret = fail("commit update", -ret, NULL);
		goto out_close;
	}
	printf("netlink_us=%.1f ioctl_us=%.1f\n", (t1 - t0) / 1e3 / n, (t2 - t1) / 1e3 / n);
out_close:
	if (fd >= 0)
		close(fd);
	georep_nl_close(nl);
	return ret;
}

int main(int argc, char **argv)
{
	struct req r;
	int ret;

	if (argc < 3)
		usage();
	if (!strcmp(argv[1], "truncate") && argc == 5 &&
	    !strcmp(argv[4], "--applied")) {
		truncate_applied = true;
		argc--;
	}
	if (!strcmp(argv[1], "truncate") && argc == 4) {
		ret = nl_cmd(GEOREP_CMD_LOG_TRUNCATE, argv[2],
			     GEOREP_A_TRUNCATE_SEQ, num(argv[3]), NULL, &r);
		return ret ? fail("LOG_TRUNCATE", ret, r.msg) : 0;
	}
	if (!strcmp(argv[1], "reset") && (argc == 5 || argc == 6)) {
		if (argc == 6 && strcmp(argv[5], "--corrupt"))
			usage();
		return cmd_reset(argv[2], argv[3], num(argv[4]), argc == 6);
	}
	if (!strcmp(argv[1], "noop") && argc == 3) {
		ret = nl_cmd(GEOREP_CMD_LOG_NOOP, argv[2], 0, 0, NULL, &r);
		if (ret)
			return fail("LOG_NOOP", ret, r.msg);
		printf("%" PRIu64 "\n", r.written);
		return 0;
	}
	if (!strcmp(argv[1], "head") && argc == 3)
		return cmd_head(argv[2]);
	if (!strcmp(argv[1], "datawrite") && (argc == 6 || argc == 7)) {
		unsigned int flags = 0;

		if (argc == 7 && !strcmp(argv[6], "--fua"))
			flags = GEOREP_DW_FUA;
		else if (argc == 7 && !strcmp(argv[6], "--corrupt"))
			flags = CORRUPT;
		else if (argc == 7 && !strcmp(argv[6], "--sealer-rdonly"))
			flags = SEALER_RDONLY;
		else if (argc == 7)
			usage();
		return cmd_datawrite(argv[2], num(argv[3]), argv[4], argv[5], flags);
	}
	if (!strcmp(argv[1], "dataread") && argc == 6)
		return cmd_dataread(argv[2], num(argv[3]), num(argv[4]), argv[5]);
	if (!strcmp(argv[1], "resync") && argc == 5)
		return cmd_resync(argv[2], argv[3], argv[4]);
	if (!strcmp(argv[1], "streamcopy") && (argc == 5 || argc == 6)) {
		if (argc == 6 && strcmp(argv[5], "--sealed"))
			usage();
		return cmd_streamcopy(argv[2], argv[3], num(argv[4]), argc == 6);
	}
	if (!strcmp(argv[1], "commit") && (argc == 4 || argc == 5)) {
		if (argc == 5 && strcmp(argv[4], "--rdonly"))
			usage();
		return cmd_commit(argv[2], num(argv[3]), argc == 5);
	}
	if (!strcmp(argv[1], "commitcost") && argc == 5 && num(argv[4]))
		return cmd_commitcost(argv[2], argv[3], num(argv[4]));
	if (!strcmp(argv[1], "shipread") && (argc == 4 || argc == 5))
		return cmd_shipread(argv[2], argv[3], argc == 5 ? argv[4] : NULL);
	usage();
	return 2;
}
