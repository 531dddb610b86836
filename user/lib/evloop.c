// SPDX-License-Identifier: GPL-2.0
/* Event loop: epoll for fds, a binary min-heap for timers, a defer queue. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "georep/evloop.h"

#define MAX_EVENTS	64

struct gr_io {
	struct gr_loop *loop;
	int fd;
	uint32_t events;
	bool dead;		/* deleted; freed at the end of the iteration */
	gr_io_fn fn;
	void *arg;
	struct gr_io *next;	/* all ios, or the dead list */
};

struct gr_timer {
	struct gr_loop *loop;
	uint64_t deadline;	/* ns */
	uint64_t order;		/* FIFO among equal deadlines */
	long idx;		/* in the heap, -1 when disarmed */
	gr_timer_fn fn;
	void *arg;
	const char *name;	/* NULL: "a timer" */
	struct gr_timer *next;	/* all timers */
};

struct gr_defer {
	gr_defer_fn fn;
	void *arg;
	struct gr_defer *next;
};

struct gr_loop {
	int epfd;
	bool stop;
	struct gr_io *ios;		/* live ios */
	struct gr_io *dead;		/* deleted ios to free */
	struct gr_timer *timers;	/* every timer, armed or not */
	struct gr_timer **heap;
	size_t nheap, capheap;
	size_t ntimers;
	uint64_t order;
	struct gr_defer *dhead, *dtail;
	struct gr_loop_stats st;
	/* this turn's longest callback so far */
	uint64_t cb_ns;
	int cb_fd;
	const char *cb_name;
};

uint64_t gr_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

int gr_loop_new(struct gr_loop **out)
{
	struct gr_loop *loop = calloc(1, sizeof(*loop));

	if (!loop)
		return -ENOMEM;
	loop->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (loop->epfd < 0) {
		int err = -errno;

		free(loop);
		return err;
	}
	*out = loop;
	return 0;
}

static void free_dead(struct gr_loop *loop)
{
	struct gr_io *io;

	while ((io = loop->dead)) {
		loop->dead = io->next;
		free(io);
	}
}

/* the callback that began at @t0 has returned: the turn's longest? */
static void cb_note(struct gr_loop *loop, uint64_t t0, int fd, const char *name)
{
	uint64_t ns = gr_now_ns() - t0;

	if (ns > loop->cb_ns) {
		loop->cb_ns = ns;
		loop->cb_fd = fd;
		loop->cb_name = name;
	}
}

static void run_defers(struct gr_loop *loop)
{
	struct gr_defer *d, *list = loop->dhead;

	/* callbacks queued while these run wait for the next iteration */
	loop->dhead = loop->dtail = NULL;
	while ((d = list)) {
		uint64_t t0 = gr_now_ns();

		list = d->next;
		d->fn(d->arg);
		free(d);
		cb_note(loop, t0, -1, "a deferred call");
	}
}

void gr_loop_free(struct gr_loop *loop)
{
	struct gr_timer *t;
	struct gr_io *io;

	if (!loop)
		return;
	/* pending deferred work (typically frees) still has to happen */
	while (loop->dhead)
		run_defers(loop);
	while ((io = loop->ios)) {
		loop->ios = io->next;
		free(io);
	}
	free_dead(loop);
	while ((t = loop->timers)) {
		loop->timers = t->next;
		free(t);
	}
	free(loop->heap);
	close(loop->epfd);
	free(loop);
}

void gr_loop_stop(struct gr_loop *loop)
{
	loop->stop = true;
}

/* ---- timers ---- */

static bool before(const struct gr_timer *a, const struct gr_timer *b)
{
	return a->deadline < b->deadline ||
	       (a->deadline == b->deadline && a->order < b->order);
}

static void heap_set(struct gr_loop *loop, size_t i, struct gr_timer *t)
{
	loop->heap[i] = t;
	t->idx = i;
}

static void sift_up(struct gr_loop *loop, size_t i)
{
	struct gr_timer *t = loop->heap[i];

	while (i > 0) {
		size_t parent = (i - 1) / 2;

		if (!before(t, loop->heap[parent]))
			break;
		heap_set(loop, i, loop->heap[parent]);
		i = parent;
	}
	heap_set(loop, i, t);
}

static void sift_down(struct gr_loop *loop, size_t i)
{
	struct gr_timer *t = loop->heap[i];

	for (;;) {
		size_t c = 2 * i + 1;

		if (c >= loop->nheap)
			break;
		if (c + 1 < loop->nheap && before(loop->heap[c + 1], loop->heap[c]))
			c++;
		if (!before(loop->heap[c], t))
			break;
		heap_set(loop, i, loop->heap[c]);
		i = c;
	}
	heap_set(loop, i, t);
}

static void heap_remove(struct gr_loop *loop, struct gr_timer *t)
{
	size_t i = t->idx;
	struct gr_timer *last;

	t->idx = -1;
	last = loop->heap[--loop->nheap];
	if (last == t)
		return;
	heap_set(loop, i, last);
	sift_up(loop, i);
	sift_down(loop, last->idx);
}

struct gr_timer *gr_timer_new(struct gr_loop *loop, gr_timer_fn fn, void *arg)
{
	struct gr_timer *t;

	/* the heap holds every timer at once: arming never allocates */
	if (loop->ntimers == loop->capheap) {
		size_t cap = loop->capheap ? loop->capheap * 2 : 16;
		struct gr_timer **h = realloc(loop->heap, cap * sizeof(*h));

		if (!h)
			return NULL;
		loop->heap = h;
		loop->capheap = cap;
	}
	t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	loop->ntimers++;
	t->loop = loop;
	t->fn = fn;
	t->arg = arg;
	t->idx = -1;
	t->next = loop->timers;
	loop->timers = t;
	return t;
}

void gr_timer_name(struct gr_timer *t, const char *name)
{
	t->name = name;
}

void gr_timer_disarm(struct gr_timer *t)
{
	if (t->idx >= 0)
		heap_remove(t->loop, t);
}

bool gr_timer_armed(const struct gr_timer *t)
{
	return t->idx >= 0;
}

void gr_timer_arm(struct gr_timer *t, uint64_t delay_ms)
{
	struct gr_loop *loop = t->loop;

	gr_timer_disarm(t);
	t->deadline = gr_now_ns() + delay_ms * 1000000ULL;
	t->order = loop->order++;
	heap_set(loop, loop->nheap++, t);
	sift_up(loop, t->idx);
}

void gr_timer_free(struct gr_timer *t)
{
	struct gr_timer **pp;

	if (!t)
		return;
	gr_timer_disarm(t);
	for (pp = &t->loop->timers; *pp; pp = &(*pp)->next) {
		if (*pp == t) {
			*pp = t->next;
			t->loop->ntimers--;
			break;
		}
	}
	free(t);
}

static void run_timers(struct gr_loop *loop)
{
	uint64_t now = gr_now_ns();

	while (loop->nheap && loop->heap[0]->deadline <= now) {
		struct gr_timer *t = loop->heap[0];
		const char *name = t->name;
		uint64_t t0 = gr_now_ns();

		heap_remove(loop, t);
		t->fn(t, t->arg);	/* may re-arm or free t */
		cb_note(loop, t0, -1, name);
	}
}

/* ---- deferred callbacks ---- */

int gr_loop_defer(struct gr_loop *loop, gr_defer_fn fn, void *arg)
{
	struct gr_defer *d = malloc(sizeof(*d));

	if (!d)
		return -ENOMEM;
	d->fn = fn;
	d->arg = arg;
	d->next = NULL;
	if (loop->dtail)
		loop->dtail->next = d;
	else
		loop->dhead = d;
	loop->dtail = d;
	return 0;
}

/* ---- fds ---- */

struct gr_io *gr_io_add(struct gr_loop *loop, int fd, uint32_t events,
			gr_io_fn fn, void *arg)
{
	struct epoll_event ev = { .events = events };
	struct gr_io *io = calloc(1, sizeof(*io));

	if (!io) {
		errno = ENOMEM;
		return NULL;
	}
	io->loop = loop;
	io->fd = fd;
	io->events = events;
	io->fn = fn;
	io->arg = arg;
	ev.data.ptr = io;
	if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, fd, &ev)) {
		int err = errno;

		free(io);
		errno = err;
		return NULL;
	}
	io->next = loop->ios;
	loop->ios = io;
	return io;
}

int gr_io_set_events(struct gr_io *io, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = io };

	if (io->dead)
		return -EBADF;
	if (events == io->events)
		return 0;
	if (epoll_ctl(io->loop->epfd, EPOLL_CTL_MOD, io->fd, &ev))
		return -errno;
	io->events = events;
	return 0;
}

uint32_t gr_io_events(const struct gr_io *io)
{
	return io->events;
}

int gr_io_fd(const struct gr_io *io)
{
	return io->fd;
}

void gr_io_del(struct gr_io *io)
{
	struct gr_loop *loop;
	struct gr_io **pp;

	if (!io || io->dead)
		return;
	loop = io->loop;
	epoll_ctl(loop->epfd, EPOLL_CTL_DEL, io->fd, NULL);
	io->dead = true;
	for (pp = &loop->ios; *pp; pp = &(*pp)->next) {
		if (*pp == io) {
			*pp = io->next;
			break;
		}
	}
	io->next = loop->dead;
	loop->dead = io;
}

int gr_loop_run_once(struct gr_loop *loop, int timeout_ms)
{
	struct epoll_event evs[MAX_EVENTS];
	uint64_t start, turn;
	int n, i;

	if (loop->dhead) {
		timeout_ms = 0;
	} else if (loop->nheap) {
		uint64_t now = gr_now_ns(), dl = loop->heap[0]->deadline;
		/* round up, so that a timer is never polled for early */
		int64_t ms = dl > now ? (int64_t)((dl - now + 999999) / 1000000) : 0;

		if (timeout_ms < 0 || ms < timeout_ms)
			timeout_ms = ms > 1 << 30 ? 1 << 30 : (int)ms;
	}
	n = epoll_wait(loop->epfd, evs, MAX_EVENTS, timeout_ms);
	if (n < 0) {
		if (errno != EINTR)
			return -errno;
		n = 0;
	}
	start = gr_now_ns();
	loop->cb_ns = 0;
	for (i = 0; i < n; i++) {
		struct gr_io *io = evs[i].data.ptr;
		uint64_t t0 = gr_now_ns();
		int fd = io->fd;	/* the callback may delete the io */

		if (io->dead)
			continue;
		io->fn(io, evs[i].events, io->arg);
		cb_note(loop, t0, fd, NULL);
	}
	run_timers(loop);
	run_defers(loop);
	free_dead(loop);
	turn = gr_now_ns() - start;
	loop->st.turns++;
	loop->st.busy_ns += turn;
	if (turn > loop->st.max_turn_ns)
		loop->st.max_turn_ns = turn;
	if (turn >= GR_LOOP_SLOW_NS) {
		loop->st.slow_turns++;
		loop->st.last_slow_ns = turn;
		loop->st.last_slow_cb_ns = loop->cb_ns;
		loop->st.last_slow_cb_fd = loop->cb_fd;
		loop->st.last_slow_cb_name = loop->cb_name;
	}
	return 0;
}

void gr_loop_stats(const struct gr_loop *loop, struct gr_loop_stats *st)
{
	*st = loop->st;
}

int gr_loop_run(struct gr_loop *loop)
{
	int ret = 0;

	loop->stop = false;
	while (!loop->stop && !ret)
		ret = gr_loop_run_once(loop, -1);
	return ret;
}
