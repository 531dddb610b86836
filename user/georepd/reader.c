// SPDX-License-Identifier: GPL-2.0
/*
 * A thread for the ledger reads that may wait for a disk (reader.h).
 */
#include <errno.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <georep/evloop.h>

#include "reader.h"

static void *reader_main(void *arg)
{
	struct gd_reader *r = arg;
	ssize_t n;

	pthread_mutex_lock(&r->lock);
	for (;;) {
		while (r->state != GD_RD_POSTED && !r->stop)
			pthread_cond_wait(&r->cond, &r->lock);
		if (r->stop)
			break;
		r->state = GD_RD_RUNNING;
		pthread_mutex_unlock(&r->lock);

		n = r->read(r->arg, r->seq, r->buf, r->cap);

		pthread_mutex_lock(&r->lock);
		r->result = n;
		r->state = GD_RD_DONE;
		/* a full counter cannot be: one write per read, read back each time */
		eventfd_write(r->efd, 1);
	}
	pthread_mutex_unlock(&r->lock);
	return NULL;
}

/* the eventfd: deliver the finished read on the loop */
static void reader_ready(struct gr_io *io, uint32_t events, void *arg)
{
	struct gd_reader *r = arg;
	bool finished = false;
	eventfd_t v;
	ssize_t n = 0;

	eventfd_read(r->efd, &v);
	pthread_mutex_lock(&r->lock);
	if (r->state == GD_RD_DONE) {
		n = r->result;
		r->state = GD_RD_IDLE;
		finished = true;
	}
	pthread_mutex_unlock(&r->lock);
	if (!finished)
		return;
	r->busy = false;
	r->done(r->arg, r->seq, r->buf, n);
}

int gd_reader_start(struct gd_reader *r, struct gr_loop *loop)
{
	sigset_t all, old;
	int ret;

	r->state = GD_RD_IDLE;
	r->stop = false;
	r->busy = false;
	r->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (r->efd < 0)
		return -errno;
	r->io = gr_io_add(loop, r->efd, EPOLLIN, reader_ready, r);
	if (!r->io) {
		ret = -errno;
		goto out_close;
	}
	pthread_mutex_init(&r->lock, NULL);
	pthread_cond_init(&r->cond, NULL);
	/* signals are the loop's (signalfd): the thread starts with all blocked */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	ret = -pthread_create(&r->thread, NULL, reader_main, r);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (ret)
		goto out_del;
	r->started = true;
	return 0;

out_del:
	pthread_cond_destroy(&r->cond);
	pthread_mutex_destroy(&r->lock);
	gr_io_del(r->io);
	r->io = NULL;
out_close:
	close(r->efd);
	r->efd = -1;
	return ret;
}

void gd_reader_stop(struct gd_reader *r)
{
	if (!r->started)
		return;
	pthread_mutex_lock(&r->lock);
	/* a read running finishes first: the thread looks at stop between reads */
	r->stop = true;
	pthread_cond_broadcast(&r->cond);
	pthread_mutex_unlock(&r->lock);
	pthread_join(r->thread, NULL);
	pthread_cond_destroy(&r->cond);
	pthread_mutex_destroy(&r->lock);
	gr_io_del(r->io);
	close(r->efd);
	r->io = NULL;
	r->efd = -1;
	r->started = false;
	r->busy = false;
}

int gd_reader_submit(struct gd_reader *r, gd_read_fn read, gd_read_done_fn done, void *arg,
		     uint64_t seq, void *buf, size_t cap)
{
	if (r->busy)
		return -EBUSY;
	pthread_mutex_lock(&r->lock);
	r->read = read;
	r->done = done;
	r->arg = arg;
	r->seq = seq;
	r->buf = buf;
	r->cap = cap;
	r->state = GD_RD_POSTED;
	pthread_cond_signal(&r->cond);
	pthread_mutex_unlock(&r->lock);
	r->busy = true;
	return 0;
}
