// SPDX-License-Identifier: GPL-2.0
/*
 * georep-shipfault: a write that completes while the kernel copies its
 * record to a sealed-mode reader (kmod/ship.c; selftests/kmod/63-ship-race.sh).
 *
 *   georep-shipfault <volume device> <dev.log> <block>
 *
 * A writer thread writes one 4 KiB block of 'A' with O_DIRECT at <block>
 * of the volume and, once the write has completed, fills its buffer with
 * 'X', as a writer reusing its buffer does. Meanwhile the main thread reads
 * the block's record from the log stream in sealed mode, while the write is
 * still in flight, into a buffer whose payload page is registered with
 * userfaultfd: the kernel's copy of the payload faults there and waits, and
 * the fault is resolved only after the writer has completed and refilled
 * its buffer. The kernel then copies from pages that no longer hold the
 * record; it must notice that the write completed during the copy and read
 * the record from the log device instead. So the payload read must be the
 * 'A' block.
 *
 * Prints what it saw. Exit status: 0 when the payload read is the block
 * written, 1 when it is not, 2 when the race could not be set up (the
 * record was durable before the read, the copy never faulted, an error).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/userfaultfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <linux/georep.h>

#define BLK		4096
#define HDR		GEOREP_RECORD_HDR_SIZE
#define WAIT_MS		30000

struct race {
	int vfd;		/* the volume, O_DIRECT */
	uint64_t block;
	void *wbuf;		/* the writer's buffer */
	int uffd;
	atomic_int written;	/* the write returned (1 ok, -1 failed) */
	atomic_int faults;	/* page faults the handler resolved */
	atomic_int done;	/* the read returned: the handler stops */
	int resolved_after_write;
};

static int setup_err(const char *what)
{
	fprintf(stderr, "georep-shipfault: %s: %s\n", what, strerror(errno));
	return 2;
}

static void *writer(void *arg)
{
	struct race *r = arg;
	ssize_t n;

	memset(r->wbuf, 'A', BLK);
	n = pwrite(r->vfd, r->wbuf, BLK, (off_t)(r->block * BLK));
	/* the write completed: the buffer is the writer's again */
	memset(r->wbuf, 'X', BLK);
	atomic_store(&r->written, n == BLK ? 1 : -1);
	return NULL;
}

/* wait for the write to return, at most WAIT_MS */
static bool wait_written(struct race *r)
{
	int i;

	for (i = 0; i < WAIT_MS && !atomic_load(&r->written); i++)
		usleep(1000);
	return atomic_load(&r->written);
}

/* resolve faults: the first only once the writer has refilled its buffer */
static void *handler(void *arg)
{
	struct race *r = arg;
	struct pollfd pfd = { .fd = r->uffd, .events = POLLIN };
	struct uffd_msg msg;
	long pg = sysconf(_SC_PAGESIZE);

	while (!atomic_load(&r->done)) {
		struct uffdio_zeropage zp = { 0 };

		if (poll(&pfd, 1, 100) != 1 || read(r->uffd, &msg, sizeof(msg)) != sizeof(msg) ||
		    msg.event != UFFD_EVENT_PAGEFAULT)
			continue;
		if (!atomic_load(&r->faults))
			r->resolved_after_write = wait_written(r);
		zp.range.start = msg.arg.pagefault.address & ~(uint64_t)(pg - 1);
		zp.range.len = pg;
		if (ioctl(r->uffd, UFFDIO_ZEROPAGE, &zp) && errno != EEXIST)
			break;
		atomic_fetch_add(&r->faults, 1);
	}
	return NULL;
}

/*
 * Three pages: the header goes at the end of the first (touched), the
 * payload into the second (registered, not touched: the copy faults).
 */
static char *fault_buffer(struct race *r)
{
	long pg = sysconf(_SC_PAGESIZE);
	struct uffdio_api api = { .api = UFFD_API };
	struct uffdio_register reg = { .mode = UFFDIO_REGISTER_MODE_MISSING };
	char *base;

	base = mmap(NULL, 3 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (base == MAP_FAILED)
		return NULL;
	memset(base, 0, pg);
	r->uffd = syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (r->uffd < 0 || ioctl(r->uffd, UFFDIO_API, &api))
		return NULL;
	reg.range.start = (uint64_t)(uintptr_t)(base + pg);
	reg.range.len = 2 * pg;
	if (ioctl(r->uffd, UFFDIO_REGISTER, &reg))
		return NULL;
	return base + pg - HDR;
}

/* the record of the next seq, readable (sealed) and not yet durable */
static int wait_in_flight(int lfd, uint64_t seq)
{
	struct pollfd pfd = { .fd = lfd, .events = POLLIN };
	__u64 durable;

	if (poll(&pfd, 1, WAIT_MS) != 1)
		return setup_err("the record never became readable");
	if (ioctl(lfd, GEOREP_IOC_DURABLE_SEQ, &durable))
		return setup_err("GEOREP_IOC_DURABLE_SEQ");
	if (durable >= seq) {
		fprintf(stderr, "georep-shipfault: record %" PRIu64
			" was durable before the read: nothing to race\n", seq);
		return 2;
	}
	return 0;
}

static int check(struct race *r, const char *rec, ssize_t n, uint64_t seq)
{
	size_t i, refilled = 0, other = 0;

	printf("seq=%" PRIu64 " read=%zd faults=%d resolved_after_write=%d written=%d\n",
	       seq, n, atomic_load(&r->faults), r->resolved_after_write,
	       atomic_load(&r->written));
	if (n != HDR + BLK || atomic_load(&r->written) != 1)
		return 2;
	if (!atomic_load(&r->faults) || !r->resolved_after_write) {
		fprintf(stderr, "georep-shipfault: the copy did not wait for the write\n");
		return 2;
	}
	for (i = 0; i < BLK; i++) {
		refilled += rec[HDR + i] == 'X';
		other += rec[HDR + i] != 'X' && rec[HDR + i] != 'A';
	}
	printf("payload: %zu bytes of the block written, %zu of the refilled buffer, %zu other\n",
	       BLK - refilled - other, refilled, other);
	return refilled || other;
}

static int run(struct race *r, int lfd)
{
	pthread_t wt, ht;
	__u64 durable;
	uint64_t seq;
	char *rec;
	ssize_t n;
	int ret;

	rec = fault_buffer(r);
	if (!rec)
		return setup_err("userfaultfd buffer");
	if (ioctl(lfd, GEOREP_IOC_SHIP_SEALED) || ioctl(lfd, GEOREP_IOC_DURABLE_SEQ, &durable))
		return setup_err("sealed mode");
	/* nothing else writes: the block's record is the next one */
	seq = durable + 1;
	if (lseek(lfd, (off_t)seq, SEEK_SET) < 0)
		return setup_err("lseek");
	if (pthread_create(&wt, NULL, writer, r))
		return setup_err("writer thread");
	ret = wait_in_flight(lfd, seq);
	if (!ret && pthread_create(&ht, NULL, handler, r))
		ret = setup_err("handler thread");
	if (ret) {
		pthread_join(wt, NULL);
		return ret;
	}
	n = read(lfd, rec, HDR + BLK);
	if (n < 0)
		ret = setup_err("read");
	atomic_store(&r->done, 1);
	pthread_join(wt, NULL);
	pthread_join(ht, NULL);
	close(r->uffd);
	return ret ? ret : check(r, rec, n, seq);
}

int main(int argc, char **argv)
{
	struct race r = { .uffd = -1 };
	char *end;
	int lfd, ret;

	if (argc != 4) {
		fprintf(stderr, "usage: georep-shipfault <volume device> <dev.log> <block>\n");
		return 2;
	}
	r.block = strtoull(argv[3], &end, 0);
	if (!*argv[3] || *end) {
		fprintf(stderr, "georep-shipfault: not a block number: %s\n", argv[3]);
		return 2;
	}
	if (posix_memalign(&r.wbuf, BLK, BLK))
		return setup_err("buffer");
	r.vfd = open(argv[1], O_WRONLY | O_DIRECT | O_CLOEXEC);
	if (r.vfd < 0)
		return setup_err(argv[1]);
	lfd = open(argv[2], O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (lfd < 0)
		return setup_err(argv[2]);
	ret = run(&r, lfd);
	close(lfd);
	close(r.vfd);
	free(r.wbuf);
	return ret;
}
