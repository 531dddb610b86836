// SPDX-License-Identifier: GPL-2.0
/*
 * georep-pump: copy records from a primary's log stream into a secondary's.
 *
 *   georep-pump <from.log> <to.log> [--max N] [--follow] [--commit-to VOLUME]
 *               [--batch N] [--tamper seq|term|chain|seal|payload [--tamper-nth K]]
 *
 * Starts at the secondary's next seq (lseek(to, 0, SEEK_END)), reads whole
 * records from <from.log> and writes them to <to.log>, where the kernel
 * checks and stores them: one record per write(2), or up to N with --batch
 * (one group, one flush; a short write is followed by the rest, so a
 * refused record still reports its errno). Stops at the primary's head (or
 * after N records);
 * --follow keeps waiting for new records until interrupted. With
 * --commit-to, runs `georepctl volume set VOLUME --commit-seq S` for the
 * last seq copied, so the secondary applies what it received.
 *
 * --tamper damages the first record (or the K-th of those copied, with
 * --tamper-nth) before writing it (seq + 1, term 0, a flipped byte of
 * chain_hash, of seal, or of the payload), for tests that the secondary
 * refuses it.
 *
 * Prints "copied N records, last seq S, W writes" and exits 0; 1 when a
 * write is refused (the kernel's errno is printed with the seq).
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "georep/record.h"

#define BUF_SIZE	(4u << 20)

static void usage(void)
{
	fprintf(stderr,
		"usage: georep-pump <from.log> <to.log> [--max N] [--follow] [--commit-to VOLUME]\n"
		"                   [--batch N] [--tamper seq|term|chain|seal|payload [--tamper-nth K]]\n");
	exit(2);
}

/* damage the record at @rec (header + payload in a private copy) */
static int tamper(uint8_t *rec, size_t len, const char *how)
{
	struct georep_record *h = (struct georep_record *)rec;

	if (!strcmp(how, "seq"))
		h->seq = htole64(le64toh(h->seq) + 1);
	else if (!strcmp(how, "term"))
		h->term = 0;
	else if (!strcmp(how, "chain"))
		h->chain_hash[0] ^= 0x01;
	else if (!strcmp(how, "seal"))
		h->seal[0] ^= 0x01;
	else if (!strcmp(how, "payload") && len > GEOREP_RECORD_HDR_SIZE)
		rec[GEOREP_RECORD_HDR_SIZE] ^= 0x01;
	else
		return -1;
	return 0;
}

static int commit_to(const char *volume, uint64_t seq)
{
	char num[32];
	pid_t pid;
	int status;

	snprintf(num, sizeof(num), "%" PRIu64, seq);
	pid = fork();
	if (pid < 0)
		return -errno;
	if (!pid) {
		execlp("georepctl", "georepctl", "volume", "set", volume,
		       "--commit-seq", num, (char *)NULL);
		perror("georep-pump: exec georepctl");
		_exit(127);
	}
	if (waitpid(pid, &status, 0) < 0)
		return -errno;
	return WIFEXITED(status) && !WEXITSTATUS(status) ? 0 : -EIO;
}

struct pump {
	int from, to;
	uint64_t max, copied, last, writes;
	uint64_t batch;			/* records per write(2) */
	const char *how;		/* --tamper */
	uint64_t nth;			/* the record it damages, from 1 */
};

/* the seq of the record at @p (a header read from the stream) */
static uint64_t seq_at(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p + offsetof(struct georep_record, seq), sizeof(v));
	return le64toh(v);
}

/* write the records of @len bytes at @p, in as few write(2)s as the kernel takes */
static int write_group(struct pump *pp, const uint8_t *p, size_t len)
{
	while (len) {
		ssize_t w = write(pp->to, p, len);
		size_t one;

		pp->writes++;
		if (w <= 0) {
			fprintf(stderr, "georep-pump: record %" PRIu64 " refused: %s\n", seq_at(p),
				w ? strerror(errno) : "nothing written");
			return -1;
		}
		/* a short write: whole records, those before the refused one */
		for (len -= w; w > 0; w -= one, p += one) {
			one = georep_record_span(p, w);
			if (!one) {
				fprintf(stderr, "georep-pump: write returned %zd, not whole records\n", w);
				return -1;
			}
			pp->last = seq_at(p);
			pp->copied++;
		}
	}
	return 0;
}

/* the records of @buf (@n bytes) from *@off: tamper, group, write; stops at --max */
static int pump_buf(struct pump *pp, uint8_t *buf, size_t n, size_t *off)
{
	size_t start = *off;
	uint64_t in_group = 0;

	while (*off < n && pp->copied + in_group < pp->max) {
		const uint8_t *hdr, *payload;
		struct georep_rec rec;
		char err[128];
		size_t at = *off;

		if (georep_record_next(buf, n, off, &rec, &hdr, &payload, err, sizeof(err))) {
			fprintf(stderr, "georep-pump: bad record in the stream: %s\n", err);
			return -1;
		}
		if (pp->how && pp->copied + in_group + 1 == pp->nth) {
			if (tamper((uint8_t *)hdr, *off - at, pp->how)) {
				fprintf(stderr, "georep-pump: cannot tamper with '%s' here\n",
					pp->how);
				return -1;
			}
		}
		if (++in_group < pp->batch && *off < n && pp->copied + in_group < pp->max)
			continue;
		if (write_group(pp, buf + start, *off - start))
			return -1;
		start = *off;
		in_group = 0;
	}
	return 0;
}

static int open_streams(struct pump *pp, const char *from, const char *to)
{
	off_t next;

	pp->from = open(from, O_RDONLY | O_NONBLOCK);
	if (pp->from < 0) {
		fprintf(stderr, "georep-pump: cannot open %s: %s\n", from, strerror(errno));
		return -1;
	}
	pp->to = open(to, O_RDWR);
	if (pp->to < 0) {
		fprintf(stderr, "georep-pump: cannot open %s: %s\n", to, strerror(errno));
		return -1;
	}
	next = lseek(pp->to, 0, SEEK_END);
	if (next < 0 || lseek(pp->from, next, SEEK_SET) != next) {
		fprintf(stderr, "georep-pump: cannot seek to seq %lld: %s\n",
			(long long)next, strerror(errno));
		return -1;
	}
	return 0;
}

static int pump(struct pump *pp, bool follow)
{
	uint8_t *buf = malloc(BUF_SIZE);
	int ret = 0;

	if (!buf)
		return -1;
	while (pp->copied < pp->max) {
		size_t off = 0;
		ssize_t n = read(pp->from, buf, BUF_SIZE);

		if (n < 0 && errno == EAGAIN && follow) {
			struct pollfd pfd = { .fd = pp->from, .events = POLLIN };

			poll(&pfd, 1, 1000);
			continue;
		}
		if (n == 0 || (n < 0 && errno == EAGAIN))
			break;
		if (n < 0) {
			fprintf(stderr, "georep-pump: read: %s\n", strerror(errno));
			ret = -1;
			break;
		}
		ret = pump_buf(pp, buf, n, &off);
		/* records read past --max go back to the stream */
		if (ret || off < (size_t)n)
			break;
	}
	free(buf);
	return ret;
}

int main(int argc, char *argv[])
{
	struct pump pp = { .max = UINT64_MAX, .batch = 1, .nth = 1 };
	const char *volume = NULL;
	bool follow = false;
	int i, ret;

	if (argc < 3)
		usage();
	for (i = 3; i < argc; i++) {
		if (!strcmp(argv[i], "--max") && i + 1 < argc)
			pp.max = strtoull(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "--commit-to") && i + 1 < argc)
			volume = argv[++i];
		else if (!strcmp(argv[i], "--tamper") && i + 1 < argc)
			pp.how = argv[++i];
		else if (!strcmp(argv[i], "--tamper-nth") && i + 1 < argc)
			pp.nth = strtoull(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "--batch") && i + 1 < argc)
			pp.batch = strtoull(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "--follow"))
			follow = true;
		else
			usage();
	}
	if (!pp.batch || !pp.nth)
		usage();
	if (open_streams(&pp, argv[1], argv[2]))
		return 1;
	ret = pump(&pp, follow) ? 1 : 0;
	printf("copied %" PRIu64 " records, last seq %" PRIu64 ", %" PRIu64 " writes\n",
	       pp.copied, pp.last, pp.writes);
	if (!ret && volume && pp.copied && commit_to(volume, pp.last)) {
		fprintf(stderr, "georep-pump: setting the commit seq failed\n");
		ret = 1;
	}
	close(pp.to);
	close(pp.from);
	return ret;
}
