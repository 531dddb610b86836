/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Single-threaded event loop on epoll: file descriptors, timers (a binary
 * heap, millisecond resolution on CLOCK_MONOTONIC) and deferred callbacks.
 *
 * One iteration: wait for fds (up to the next timer), run the fd callbacks,
 * run expired timers, run the deferred callbacks queued so far, then free
 * what was deleted. Everything is level-triggered.
 *
 * Lifetimes: gr_io_del() may be called from any callback, including the
 * io's own; the loop will not call a deleted io again, and frees it at the
 * end of the iteration. gr_timer_free() may be called from any callback,
 * including the timer's own. Deferred callbacks run once, in queue order.
 */
#ifndef _GEOREP_EVLOOP_H
#define _GEOREP_EVLOOP_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/epoll.h>

struct gr_loop;
struct gr_io;
struct gr_timer;

typedef void (*gr_io_fn)(struct gr_io *io, uint32_t events, void *arg);
typedef void (*gr_timer_fn)(struct gr_timer *t, void *arg);
typedef void (*gr_defer_fn)(void *arg);

/* CLOCK_MONOTONIC, in ns and ms */
uint64_t gr_now_ns(void);
static inline uint64_t gr_now_ms(void)
{
	return gr_now_ns() / 1000000;
}

/* Return: 0 or -errno. */
int gr_loop_new(struct gr_loop **out);
/* Frees timers and ios still registered (does not close their fds). */
void gr_loop_free(struct gr_loop *loop);

/* Run iterations until gr_loop_stop(). Return: 0, or -errno of epoll_wait. */
int gr_loop_run(struct gr_loop *loop);
/* One iteration, waiting at most @timeout_ms (-1: until an event). */
int gr_loop_run_once(struct gr_loop *loop, int timeout_ms);
void gr_loop_stop(struct gr_loop *loop);

/*
 * A turn is the work of one iteration: from epoll_wait()'s return to the
 * end of the iteration. While a turn runs the loop answers nothing else
 * (peers, control socket, timers), so a long one is what makes a
 * single-threaded daemon look hung.
 */
#define GR_LOOP_SLOW_NS		1000000000ULL
struct gr_loop_stats {
	uint64_t turns;
	uint64_t busy_ns;		/* sum of the turns */
	uint64_t max_turn_ns;		/* the longest turn */
	uint64_t slow_turns;		/* turns of GR_LOOP_SLOW_NS or more */
	uint64_t last_slow_ns;		/* the latest of those */
	/* the longest callback of that turn: an fd's, else a timer's or a deferred one's */
	uint64_t last_slow_cb_ns;
	int last_slow_cb_fd;		/* -1: not an fd's */
	const char *last_slow_cb_name;	/* the timer's name (gr_timer_name()), or NULL */
};
void gr_loop_stats(const struct gr_loop *loop, struct gr_loop_stats *st);

/* Watch @fd for @events (EPOLLIN, EPOLLOUT...). Return: NULL with errno. */
struct gr_io *gr_io_add(struct gr_loop *loop, int fd, uint32_t events,
			gr_io_fn fn, void *arg);
int gr_io_set_events(struct gr_io *io, uint32_t events);
uint32_t gr_io_events(const struct gr_io *io);
int gr_io_fd(const struct gr_io *io);
/* Stop watching (the fd stays open: the caller closes it). */
void gr_io_del(struct gr_io *io);

struct gr_timer *gr_timer_new(struct gr_loop *loop, gr_timer_fn fn, void *arg);
/* what a slow turn's report calls it (a string that outlives the timer) */
void gr_timer_name(struct gr_timer *t, const char *name);
/* (Re)arm to fire once, @delay_ms from now. */
void gr_timer_arm(struct gr_timer *t, uint64_t delay_ms);
void gr_timer_disarm(struct gr_timer *t);
bool gr_timer_armed(const struct gr_timer *t);
void gr_timer_free(struct gr_timer *t);

/* Run @fn(@arg) at the end of this iteration. Return: 0 or -ENOMEM. */
int gr_loop_defer(struct gr_loop *loop, gr_defer_fn fn, void *arg);

#endif /* _GEOREP_EVLOOP_H */
