/* SPDX-License-Identifier: GPL-2.0 */
/*
 * One ledger read at a time on a thread of its own, its result delivered on
 * the event loop (Documentation/replication.rst, "Reading the ledger off
 * the event loop").
 *
 * A read of durable records goes to the disk, and a disk under load may
 * take seconds for it. On the loop thread that is seconds without a
 * heartbeat: followers elect another leader and the writers get EIO. The
 * loop posts a read (gd_reader_submit()) and goes on; the thread runs it
 * and wakes the loop through an eventfd, which calls @done there.
 *
 * The buffer belongs to the reader from submit until @done is called or
 * gd_reader_cancel() returns: the loop must not move or free it meanwhile.
 */
#ifndef _GEOREPD_READER_H
#define _GEOREPD_READER_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct gr_loop;
struct gr_io;

/* a read as gd_ledger_ops.read_wait does it, on the reader's thread */
typedef ssize_t (*gd_read_fn)(void *ctx, uint64_t seq, void *buf, size_t cap);
/* on the loop: read @seq into @buf gave @n (bytes or -errno) */
typedef void (*gd_read_done_fn)(void *arg, uint64_t seq, void *buf, ssize_t n);

enum gd_reader_state { GD_RD_IDLE, GD_RD_POSTED, GD_RD_RUNNING, GD_RD_DONE };

struct gd_reader {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;		/* a read posted, or stop */
	enum gd_reader_state state;	/* under lock */
	bool stop;			/* under lock */
	bool started;
	int efd;			/* the thread finished a read */
	struct gr_io *io;
	/* the read posted: set by the loop, used by the thread */
	gd_read_fn read;
	gd_read_done_fn done;
	void *arg;			/* of both */
	uint64_t seq;
	void *buf;
	size_t cap;
	ssize_t result;			/* under lock, GD_RD_DONE */
	/* loop side: submitted, and neither delivered nor cancelled yet */
	bool busy;
};

/* Return: 0, or -errno (no thread, no eventfd). */
int gd_reader_start(struct gd_reader *r, struct gr_loop *loop);
/* Waits for the read in flight, if any; its result is dropped. */
void gd_reader_stop(struct gd_reader *r);

/*
 * Post @read(@arg, @seq, @buf, @cap) to the thread; @done(@arg, ...) gets
 * its result on the loop. Return: 0, -EBUSY (one read at a time).
 */
int gd_reader_submit(struct gd_reader *r, gd_read_fn read, gd_read_done_fn done, void *arg,
		     uint64_t seq, void *buf, size_t cap);

static inline bool gd_reader_busy(const struct gd_reader *r)
{
	return r->busy;
}

#endif /* _GEOREPD_READER_H */
