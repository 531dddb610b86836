// SPDX-License-Identifier: GPL-2.0
/*
 * georep-nl-abi: the log stream of a live primary, a corrupted record, attach.
 */
#include "netlink_abi.h"

/* ---- the log stream of a live primary ---- */

#define REC_BYTES	(GEOREP_RECORD_HDR_SIZE + GEOREP_BLOCK_SIZE)

uint64_t written_seq(struct nl_sock *sk, const char *name, uint64_t *tail)
{
	struct nl_msg *msg = req(GEOREP_CMD_VOLUME_GET, 0);
	struct result r;

	nla_put_string(msg, GEOREP_A_NAME, name);
	xfer(sk, msg, &r);
	*tail = r.tail_seq;
	return r.written_seq;
}

/* one 4 KiB O_DIRECT write at block @blk of /dev/georepN */
static bool write_block(const char *bpath, int blk)
{
	void *buf;
	bool ok;
	int fd;

	if (posix_memalign(&buf, 4096, 4096))
		return false;
	memset(buf, blk & 0xff, 4096);
	fd = open(bpath, O_WRONLY | O_DIRECT);
	ok = fd >= 0 && pwrite(fd, buf, 4096, (off_t)blk * 4096) == 4096 &&
	     !fsync(fd);
	if (fd >= 0)
		close(fd);
	free(buf);
	return ok;
}

/*
 * Walk @len bytes of records: magic, consecutive seqs from @first, sizes.
 * Returns the number of records, -1 when malformed.
 */
static int check_records(const unsigned char *buf, size_t len, uint64_t first)
{
	const struct georep_record *rec;
	size_t off = 0;
	int nr = 0;

	while (off < len) {
		if (len - off < GEOREP_RECORD_HDR_SIZE)
			return -1;
		rec = (const void *)(buf + off);
		if (le32toh(rec->magic) != GEOREP_RECORD_MAGIC ||
		    le64toh(rec->seq) != first + nr) {
			diag("record at %zu: magic %#x seq %llu, want seq %llu",
			     off, le32toh(rec->magic),
			     (unsigned long long)le64toh(rec->seq),
			     (unsigned long long)(first + nr));
			return -1;
		}
		off += GEOREP_RECORD_HDR_SIZE + le32toh(rec->payload_len);
		nr++;
	}
	return off == len ? nr : -1;
}

void test_stream(struct nl_sock *sk, const char *path,
		 const char *bpath, const char *sec_path)
{
	static unsigned char buf[64 * REC_BYTES];
	uint64_t w, tail, first;
	struct pollfd pfd;
	int fd, nr, status, i;
	ssize_t n;
	pid_t pid;
	bool ok = true;

	for (i = 0; i < 4 && ok; i++)
		ok = write_block(bpath, i);
	ktap(ok, "stream: four 4 KiB writes to %s", bpath);
	w = written_seq(sk, "abi0", &tail);
	first = tail ? tail : 1;

	fd = open(path, O_RDONLY);
	n = fd >= 0 ? read(fd, buf, sizeof(buf)) : -1;
	nr = n > 0 ? check_records(buf, n, first) : -1;
	ktap(nr >= 4 && first + nr - 1 == w,
	     "stream: read from the tail returns records %llu..%llu whole (%d, %zd bytes)",
	     (unsigned long long)first, (unsigned long long)w, nr, n);

	ok = lseek(fd, (off_t)w - 1, SEEK_SET) == (off_t)w - 1 &&
	     read(fd, buf, REC_BYTES) == REC_BYTES &&
	     check_records(buf, REC_BYTES, w - 1) == 1 &&
	     lseek(fd, 0, SEEK_CUR) == (off_t)w;
	ktap(ok, "stream: SEEK_SET to seq %llu reads that record, cursor moves on",
	     (unsigned long long)w - 1);

	ok = lseek(fd, (off_t)w, SEEK_SET) == (off_t)w &&
	     read(fd, buf, 100) < 0 && errno == EMSGSIZE;
	ktap(ok, "stream: a buffer smaller than one record is EMSGSIZE");

	ok = lseek(fd, 0, SEEK_END) == (off_t)w + 1 &&
	     lseek(fd, -1, SEEK_SET) < 0 && errno == EINVAL &&
	     pread(fd, buf, REC_BYTES, 1) < 0 && errno == ESPIPE;
	ktap(ok, "stream: SEEK_END is written_seq+1, negative seek EINVAL, pread ESPIPE");

	/* at the head: no POLLIN; a blocked reader wakes on the next write */
	pfd = (struct pollfd){ .fd = fd, .events = POLLIN | POLLOUT };
	ok = poll(&pfd, 1, 0) == 0;
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		alarm(20);
		n = read(fd, buf, sizeof(buf));
		_exit(n == REC_BYTES && check_records(buf, n, w + 1) == 1 ? 0 : 1);
	}
	usleep(300 * 1000);
	ok = ok && write_block(bpath, 8);
	ok = ok && pid > 0 && waitpid(pid, &status, 0) == pid &&
	     WIFEXITED(status) && WEXITSTATUS(status) == 0;
	ktap(ok, "stream: no POLLIN/POLLOUT at the head of a primary; a blocked read returns the next record");
	pfd.revents = 0;
	ok = lseek(fd, (off_t)w + 1, SEEK_SET) == (off_t)w + 1 &&
	     poll(&pfd, 1, 0) == 1 && (pfd.revents & POLLIN);
	ktap(ok, "stream: POLLIN once a record is at the cursor");
	if (fd >= 0)
		close(fd);

	fd = open(path, O_WRONLY);
	memset(buf, 0, REC_BYTES);
	ok = fd >= 0 && write(fd, buf, REC_BYTES) < 0 && errno == EROFS;
	ktap(ok, "stream: write on a primary is EROFS");
	if (fd >= 0)
		close(fd);

	fd = sec_path ? open(sec_path, O_RDWR | O_NONBLOCK) : -1;
	pfd = (struct pollfd){ .fd = fd, .events = POLLOUT };
	ok = fd >= 0 && poll(&pfd, 1, 0) == 1 && (pfd.revents & POLLOUT);
	ktap(ok, "stream: POLLOUT on a secondary opened for writing");
	if (fd >= 0)
		close(fd);
}

/* ---- a corrupted record: EBADMSG with BAD_SEQ ---- */

/*
 * Flip one byte of the seal of record @seq on the log device (XOR: a
 * second call restores it). The volume holds the device exclusively, but
 * a plain open for writing is still allowed.
 */
static bool flip_seal(const char *logdev, uint64_t seq)
{
	struct georep_record *rec;
	bool done = false;
	off_t size, off;
	void *buf;
	int fd;

	if (posix_memalign(&buf, 4096, 4096))
		return false;
	rec = buf;
	fd = open(logdev, O_RDWR | O_DIRECT);
	size = fd >= 0 ? lseek(fd, 0, SEEK_END) : 0;
	for (off = 0; off + 4096 <= size && !done; off += 4096) {
		if (pread(fd, buf, 4096, off) != 4096)
			break;
		if (le32toh(rec->magic) != GEOREP_RECORD_MAGIC ||
		    le64toh(rec->seq) != seq)
			continue;
		rec->seal[5] ^= 0xff;
		done = pwrite(fd, buf, 4096, off) == 4096 && !fsync(fd);
	}
	if (fd >= 0)
		close(fd);
	free(buf);
	return done;
}

static bool bad_seq_reported(const struct result *r, uint64_t seq)
{
	bool ok = r->error == -EBADMSG && r->has_bad_seq && r->bad_seq == seq &&
		  r->has_cookie && r->cookie == seq && r->msg[0];

	if (!ok)
		diag("errno %d bad_seq %s%llu cookie %s%llu msg \"%s\"", -r->error,
		     r->has_bad_seq ? "" : "(none) ",
		     (unsigned long long)r->bad_seq, r->has_cookie ? "" : "(none) ",
		     (unsigned long long)r->cookie, r->msg);
	return ok;
}

void test_verify(struct nl_sock *sk, const char *logdev)
{
	struct nl_msg *msg;
	struct result r;
	bool ok;

	ok = flip_seal(logdev, 2);
	msg = req(GEOREP_CMD_LEDGER_VERIFY, 0);
	nla_put_string(msg, GEOREP_A_NAME, "abi0");
	xfer(sk, msg, &r);
	ok = ok && bad_seq_reported(&r, 2) && r.replies == 1 &&
	     !strcmp(r.name, "abi0");
	ktap(ok, "verify: a broken seal at seq 2 is EBADMSG, reply and extack cookie name seq 2");

	ok = flip_seal(logdev, 2);
	msg = req(GEOREP_CMD_LEDGER_VERIFY, 0);
	nla_put_string(msg, GEOREP_A_NAME, "abi0");
	xfer(sk, msg, &r);
	ok = ok && !r.error && !r.has_bad_seq;
	ktap(ok, "verify: passes again once the seal is restored (errno %d)", -r.error);
}

static struct nl_msg *attach_req(const char *name, char **dev)
{
	struct nl_msg *msg = req(GEOREP_CMD_VOLUME_NEW, 0);

	nla_put_string(msg, GEOREP_A_NAME, name);
	nla_put_string(msg, GEOREP_A_DATA_PATH, dev[0]);
	nla_put_string(msg, GEOREP_A_LOG_PATH, dev[1]);
	put_keys(msg, 2);
	return msg;
}

/* abi0 was deleted: attach it again from its devices, first broken */
void test_attach(struct nl_sock *sk, char **dev, uint64_t written)
{
	struct nl_msg *msg;
	struct result r;
	bool ok;

	ok = flip_seal(dev[1], 2);
	xfer(sk, attach_req("abi0", dev), &r);
	ok = ok && bad_seq_reported(&r, 2) && r.replies == 1 &&
	     !strcmp(r.name, "abi0");
	ktap(ok, "attach: a broken seal at seq 2 is EBADMSG, reply and extack cookie name seq 2");

	/* MAX_UNCOMMITTED alone: the watermarks take their defaults */
	ok = flip_seal(dev[1], 2);
	msg = attach_req("abi0", dev);
	nla_put_u64(msg, GEOREP_A_MAX_UNCOMMITTED, 3 << 20);
	xfer(sk, msg, &r);
	ok = ok && !r.error && r.replies == 1 && r.written_seq == written;
	if (!ok)
		diag("attach: errno %d \"%s\" written_seq %llu, want %llu", -r.error,
		     r.msg, (unsigned long long)r.written_seq,
		     (unsigned long long)written);
	ktap(ok, "attach: the repaired log attaches with written_seq %llu",
	     (unsigned long long)written);
	ktap(!r.error && r.high_wm == 90 && r.low_wm == 70 &&
	     r.max_uncommitted == 3 << 20,
	     "attach: MAX_UNCOMMITTED alone gets watermarks 90/70 (got %u/%u %llu)",
	     r.high_wm, r.low_wm, (unsigned long long)r.max_uncommitted);
	if (!r.error)
		del_volume(sk, "abi0", &r);
}
