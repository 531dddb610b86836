// SPDX-License-Identifier: GPL-2.0
/*
 * georep-scribble: O_DIRECT writes from a buffer that another thread keeps
 * changing while the writes run, as a careless (or hostile) writer on a
 * volume's file system could (selftests/kmod/10-volume-blk.sh).
 *
 *   georep-scribble DEV SECONDS [BLOCKS]
 *
 * Writes BLOCKS 4 KiB blocks (default 16) at a time, at offsets that go
 * round the first 4 MiB of DEV, for SECONDS seconds, while a second thread
 * rewrites the whole buffer with a counter, over and over (the writer runs
 * on CPU 0 and the scribbler on CPU 1, when there are two). What lands on
 * DEV is whatever the buffer held when the device took it: the test is
 * that the volume's ledger still verifies (every record's payload matches
 * its hash) and that its data device holds what its log says. Prints
 * "writes N, scribbles M" and exits 0; 1 on a failed write, 2 on a usage
 * error.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define PROG		"georep-scribble"
#define BLOCK		4096
#define SPAN		(4u << 20)

struct scribbler {
	uint64_t *buf;
	size_t words;
	atomic_bool stop;
	uint64_t passes;
};

/* run the calling thread on CPU @cpu only, if there is one */
static void pin(int cpu)
{
	cpu_set_t set;

	if (sysconf(_SC_NPROCESSORS_ONLN) <= cpu)
		return;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	sched_setaffinity(0, sizeof(set), &set);
}

static void *scribble(void *arg)
{
	struct scribbler *s = arg;
	uint64_t n = 0;
	size_t i;

	pin(1);

	while (!atomic_load_explicit(&s->stop, memory_order_relaxed)) {
		for (i = 0; i < s->words; i++)
			((volatile uint64_t *)s->buf)[i] = ++n;
		s->passes++;
	}
	return NULL;
}

static unsigned long arg_num(const char *s, const char *what)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || !*s || *end || !v) {
		fprintf(stderr, PROG ": bad %s: '%s'\n", what, s);
		exit(2);
	}
	return v;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	struct scribbler s = { 0 };
	unsigned long seconds, blocks = 16, writes = 0;
	size_t len;
	off_t off = 0;
	pthread_t t;
	double end;
	int fd, ret = 0;

	if (argc < 3 || argc > 4) {
		fprintf(stderr, "usage: " PROG " DEV SECONDS [BLOCKS]\n");
		return 2;
	}
	seconds = arg_num(argv[2], "SECONDS");
	if (argc == 4)
		blocks = arg_num(argv[3], "BLOCKS");
	len = blocks * BLOCK;
	if (len > SPAN) {
		fprintf(stderr, PROG ": BLOCKS over %u\n", SPAN / BLOCK);
		return 2;
	}
	fd = open(argv[1], O_WRONLY | O_DIRECT);
	if (fd < 0) {
		fprintf(stderr, PROG ": %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	if (posix_memalign((void **)&s.buf, BLOCK, len)) {
		fprintf(stderr, PROG ": no memory\n");
		close(fd);
		return 1;
	}
	memset(s.buf, 0, len);
	s.words = len / sizeof(uint64_t);
	/*
	 * the writer on CPU 0, the scribbler on CPU 1: left to the scheduler,
	 * both may share one CPU, where a kernel without preemption hashes
	 * and copies the buffer while the scribbler waits
	 */
	pin(0);
	if (pthread_create(&t, NULL, scribble, &s)) {
		fprintf(stderr, PROG ": cannot start the scribbler\n");
		free(s.buf);
		close(fd);
		return 1;
	}
	end = now_s() + seconds;
	while (now_s() < end) {
		if (pwrite(fd, s.buf, len, off) != (ssize_t)len) {
			fprintf(stderr, PROG ": write at %lld: %s\n", (long long)off,
				strerror(errno));
			ret = 1;
			break;
		}
		writes++;
		off = (off + len) % (SPAN - SPAN % len);
	}
	atomic_store(&s.stop, true);
	pthread_join(t, NULL);
	printf("writes %lu, scribbles %llu\n", writes, (unsigned long long)s.passes);
	free(s.buf);
	close(fd);
	return ret;
}
