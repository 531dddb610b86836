// SPDX-License-Identifier: GPL-2.0
/*
 * georep-pump: copy records from a primary's log stream into a secondary's.
 *
 *   georep-pump <from.log> <to.log> [--max N] [--follow] [--commit-to VOLUME]
 *               [--tamper seq|term|chain|seal|payload]
 *
 * Starts at the secondary's next seq (lseek(to, 0, SEEK_END)), reads whole
 * records from <from.log> and writes each one to <to.log>, where the kernel
 * checks and stores it. Stops at the primary's head (or after N records);
 * --follow keeps waiting for new records until interrupted. With
 * --commit-to, runs `georepctl volume set VOLUME --commit-seq S` for the
 * last seq copied, so the secondary applies what it received.
 *
 * --tamper damages the first record before writing it (seq + 1, term 0,
 * a flipped byte of chain_hash, of seal, or of the payload), for tests
 * that the secondary refuses it.
 *
 * Prints "copied N records, last seq S" and exits 0; 1 when a write is
 * refused (the kernel's errno is printed with the seq).
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
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
		"                   [--tamper seq|term|chain|seal|payload]\n");
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

int main(int argc, char *argv[])
{
	const char *volume = NULL, *how = NULL;
	uint64_t max = UINT64_MAX, copied = 0, last = 0;
	bool follow = false;
	uint8_t *buf;
	off_t next;
	int from, to, i, ret = 0;

	if (argc < 3)
		usage();
	for (i = 3; i < argc; i++) {
		if (!strcmp(argv[i], "--max") && i + 1 < argc)
			max = strtoull(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "--commit-to") && i + 1 < argc)
			volume = argv[++i];
		else if (!strcmp(argv[i], "--tamper") && i + 1 < argc)
			how = argv[++i];
		else if (!strcmp(argv[i], "--follow"))
			follow = true;
		else
			usage();
	}
	from = open(argv[1], O_RDONLY | O_NONBLOCK);
	if (from < 0) {
		fprintf(stderr, "georep-pump: cannot open %s: %s\n", argv[1],
			strerror(errno));
		return 1;
	}
	to = open(argv[2], O_RDWR);
	if (to < 0) {
		fprintf(stderr, "georep-pump: cannot open %s: %s\n", argv[2],
			strerror(errno));
		return 1;
	}
	next = lseek(to, 0, SEEK_END);
	if (next < 0 || lseek(from, next, SEEK_SET) != next) {
		fprintf(stderr, "georep-pump: cannot seek to seq %lld: %s\n",
			(long long)next, strerror(errno));
		return 1;
	}
	buf = malloc(BUF_SIZE);
	if (!buf)
		return 1;

	while (copied < max) {
		size_t off = 0;
		ssize_t n = read(from, buf, BUF_SIZE);

		if (n < 0 && errno == EAGAIN && follow) {
			struct pollfd pfd = { .fd = from, .events = POLLIN };

			poll(&pfd, 1, 1000);
			continue;
		}
		if (n == 0 || (n < 0 && errno == EAGAIN))
			break;
		if (n < 0) {
			fprintf(stderr, "georep-pump: read: %s\n",
				strerror(errno));
			ret = 1;
			break;
		}
		while (off < (size_t)n && copied < max) {
			const uint8_t *hdr, *payload;
			struct georep_rec rec;
			char err[128];
			size_t start = off;

			if (georep_record_next(buf, n, &off, &rec, &hdr,
					       &payload, err, sizeof(err))) {
				fprintf(stderr, "georep-pump: bad record in the stream: %s\n",
					err);
				ret = 1;
				goto out;
			}
			if (how && tamper((uint8_t *)hdr, off - start, how)) {
				fprintf(stderr, "georep-pump: cannot tamper with '%s' here\n",
					how);
				ret = 1;
				goto out;
			}
			how = NULL;
			if (write(to, hdr, off - start) != (ssize_t)(off - start)) {
				fprintf(stderr, "georep-pump: record %" PRIu64 " refused: %s\n",
					rec.seq, strerror(errno));
				ret = 1;
				goto out;
			}
			copied++;
			last = rec.seq;
		}
		/* records read past --max go back to the stream */
		if (off < (size_t)n)
			break;
	}
out:
	printf("copied %" PRIu64 " records, last seq %" PRIu64 "\n", copied,
	       last);
	if (!ret && volume && copied && commit_to(volume, last)) {
		fprintf(stderr, "georep-pump: setting the commit seq failed\n");
		ret = 1;
	}
	free(buf);
	close(to);
	close(from);
	return ret;
}
