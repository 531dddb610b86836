// SPDX-License-Identifier: GPL-2.0
/* Unit tests of the event loop (user/lib/evloop.c). */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <sys/epoll.h>

#include "georep/evloop.h"
#include "ktap.h"

static char order[64];
static size_t norder;

static void mark(struct gr_timer *t, void *arg)
{
	order[norder++] = *(char *)arg;
}

static void test_timer_order(void)
{
	static char a = 'a', b = 'b', c = 'c', d = 'd';
	struct gr_timer *ta, *tb, *tc, *td;
	struct gr_loop *loop;
	uint64_t start;

	CHECK(gr_loop_new(&loop) == 0);
	norder = 0;
	ta = gr_timer_new(loop, mark, &a);
	tb = gr_timer_new(loop, mark, &b);
	tc = gr_timer_new(loop, mark, &c);
	td = gr_timer_new(loop, mark, &d);
	start = gr_now_ms();
	gr_timer_arm(ta, 30);
	gr_timer_arm(tb, 10);
	gr_timer_arm(tc, 20);
	gr_timer_arm(td, 5);
	gr_timer_disarm(td);	/* never fires */
	CHECK(!gr_timer_armed(td) && gr_timer_armed(ta));
	gr_timer_arm(tc, 1);	/* re-arming moves it */
	while (norder < 3 && gr_now_ms() - start < 1000)
		gr_loop_run_once(loop, -1);
	order[norder] = '\0';
	CHECK_MSG(!strcmp(order, "cba"), "order %s", order);
	CHECK(gr_now_ms() - start >= 30);
	gr_timer_free(tb);
	gr_loop_free(loop);	/* frees the others */
}

static int periodic_runs;

static void periodic(struct gr_timer *t, void *arg)
{
	if (++periodic_runs < 5)
		gr_timer_arm(t, 1);
	else
		gr_timer_free(t);	/* freeing itself from its callback */
}

static void test_timer_rearm_and_free_in_callback(void)
{
	struct gr_loop *loop;
	int i;

	CHECK(gr_loop_new(&loop) == 0);
	periodic_runs = 0;
	gr_timer_arm(gr_timer_new(loop, periodic, NULL), 0);
	for (i = 0; i < 100 && periodic_runs < 5; i++)
		gr_loop_run_once(loop, 100);
	CHECK(periodic_runs == 5);
	gr_loop_run_once(loop, 5);
	CHECK(periodic_runs == 5);
	gr_loop_free(loop);
}

static int fired_delay[200], nfired;

static void record_delay(struct gr_timer *t, void *arg)
{
	fired_delay[nfired++] = (int)(long)arg;
}

static void test_many_timers(void)
{
	struct gr_timer *t[200];
	struct gr_loop *loop;
	uint64_t start;
	int i, sorted = 1;

	CHECK(gr_loop_new(&loop) == 0);
	nfired = 0;
	/* delays in a scrambled order, every third cancelled: heap stays sound */
	for (i = 0; i < 200; i++) {
		t[i] = gr_timer_new(loop, record_delay, (void *)(long)((i * 7) % 40));
		CHECK(t[i] != NULL);
	}
	for (i = 0; i < 200; i++)
		gr_timer_arm(t[i], (i * 7) % 40);
	for (i = 0; i < 200; i += 3)
		gr_timer_disarm(t[i]);
	start = gr_now_ms();
	while (nfired < 133 && gr_now_ms() - start < 2000)
		gr_loop_run_once(loop, -1);
	CHECK_MSG(nfired == 133, "%d timers fired", nfired);
	for (i = 1; i < nfired; i++)
		if (fired_delay[i] < fired_delay[i - 1])
			sorted = 0;
	CHECK(sorted);
	gr_loop_free(loop);
}

static int defer_log[8], ndefer;
static struct gr_loop *dloop;

static void deferred(void *arg)
{
	int v = (int)(long)arg;

	defer_log[ndefer++] = v;
	if (v == 1)
		gr_loop_defer(dloop, deferred, (void *)3L);	/* next round */
}

static void test_defer(void)
{
	CHECK(gr_loop_new(&dloop) == 0);
	ndefer = 0;
	gr_loop_defer(dloop, deferred, (void *)1L);
	gr_loop_defer(dloop, deferred, (void *)2L);
	gr_loop_run_once(dloop, 1000);	/* must not block: defers pending */
	CHECK(ndefer == 2 && defer_log[0] == 1 && defer_log[1] == 2);
	gr_loop_run_once(dloop, 1000);
	CHECK(ndefer == 3 && defer_log[2] == 3);
	gr_loop_free(dloop);
}

struct pipe_io {
	int fds[2];
	struct gr_io *io;
	int calls;
	struct pipe_io *victim;	/* deleted by this one's callback */
};

static void pipe_cb(struct gr_io *io, uint32_t events, void *arg)
{
	struct pipe_io *p = arg;
	char c;

	p->calls++;
	if (read(p->fds[0], &c, 1) != 1)
		return;
	if (p->victim && p->victim->io) {
		gr_io_del(p->victim->io);
		p->victim->io = NULL;
	}
}

static void test_io_delete_during_dispatch(void)
{
	struct pipe_io a = { 0 }, b = { 0 };
	struct gr_loop *loop;

	CHECK(gr_loop_new(&loop) == 0);
	CHECK(pipe(a.fds) == 0 && pipe(b.fds) == 0);
	a.io = gr_io_add(loop, a.fds[0], EPOLLIN, pipe_cb, &a);
	b.io = gr_io_add(loop, b.fds[0], EPOLLIN, pipe_cb, &b);
	CHECK(a.io && b.io);
	CHECK(gr_io_fd(a.io) == a.fds[0] && gr_io_events(a.io) == EPOLLIN);
	a.victim = &b;
	b.victim = &a;
	/* both readable in one epoll batch: the first deletes the second */
	CHECK(write(a.fds[1], "x", 1) == 1 && write(b.fds[1], "x", 1) == 1);
	gr_loop_run_once(loop, 100);
	CHECK(a.calls + b.calls == 1);
	CHECK(!a.io || !b.io);
	/* a duplicate fd cannot be added twice */
	CHECK(!gr_io_add(loop, a.io ? a.fds[0] : b.fds[0], EPOLLIN, pipe_cb, &a) &&
	      errno == EEXIST);
	gr_loop_free(loop);
	close(a.fds[0]);
	close(a.fds[1]);
	close(b.fds[0]);
	close(b.fds[1]);
}

static void stopper(struct gr_timer *t, void *arg)
{
	gr_loop_stop(arg);
}

static void test_run_stop(void)
{
	struct gr_loop *loop;
	uint64_t start = gr_now_ms();

	CHECK(gr_loop_new(&loop) == 0);
	gr_timer_arm(gr_timer_new(loop, stopper, loop), 20);
	CHECK(gr_loop_run(loop) == 0);
	CHECK(gr_now_ms() - start >= 20 && gr_now_ms() - start < 1000);
	gr_loop_free(loop);
}

static void sleeper(struct gr_timer *t, void *arg)
{
	usleep(*(unsigned int *)arg);
}

/* A turn is counted, timed, and called slow from GR_LOOP_SLOW_NS on. */
static void test_turn_stats(void)
{
	unsigned int quick = 1000, slow = GR_LOOP_SLOW_NS / 1000 + 50000;
	struct gr_loop_stats st;
	struct gr_loop *loop;
	struct gr_timer *t;

	CHECK(gr_loop_new(&loop) == 0);
	gr_loop_stats(loop, &st);
	CHECK(st.turns == 0 && st.busy_ns == 0 && st.max_turn_ns == 0 && st.slow_turns == 0);
	t = gr_timer_new(loop, sleeper, &quick);
	gr_timer_arm(t, 0);
	CHECK(gr_loop_run_once(loop, 100) == 0);
	gr_loop_stats(loop, &st);
	CHECK(st.turns == 1 && st.slow_turns == 0);
	CHECK(st.max_turn_ns >= quick * 1000ULL && st.max_turn_ns < GR_LOOP_SLOW_NS);
	CHECK(st.busy_ns == st.max_turn_ns);
	/* the wait is not work: a turn that only waited adds its own time */
	CHECK(gr_loop_run_once(loop, 50) == 0);
	gr_loop_stats(loop, &st);
	CHECK(st.turns == 2 && st.busy_ns < 50000000ULL);
	gr_timer_free(t);
	t = gr_timer_new(loop, sleeper, &slow);
	gr_timer_arm(t, 0);
	CHECK(gr_loop_run_once(loop, 100) == 0);
	gr_loop_stats(loop, &st);
	CHECK(st.turns == 3 && st.slow_turns == 1);
	CHECK(st.max_turn_ns >= slow * 1000ULL && st.last_slow_ns == st.max_turn_ns);
	/* an unnamed timer's slow turn: the report says "a timer" */
	CHECK(st.last_slow_cb_fd == -1 && !st.last_slow_cb_name);
	CHECK(st.last_slow_cb_ns >= slow * 1000ULL);
	gr_timer_free(t);
	gr_loop_free(loop);
}

static void slow_reader(struct gr_io *io, uint32_t events, void *arg)
{
	char c;

	if (read(gr_io_fd(io), &c, 1) == 1)
		usleep(*(unsigned int *)arg);
}

/* A slow turn names its longest callback: a named timer, or an fd. */
static void test_slow_turn_names_callback(void)
{
	unsigned int quick = 1000, slow = GR_LOOP_SLOW_NS / 1000 + 50000;
	struct gr_loop_stats st;
	struct gr_loop *loop;
	struct gr_timer *t;
	struct gr_io *io;
	int fds[2];

	CHECK(gr_loop_new(&loop) == 0 && pipe(fds) == 0);
	t = gr_timer_new(loop, sleeper, &slow);
	gr_timer_name(t, "the slow one");
	gr_timer_arm(t, 0);
	CHECK(gr_loop_run_once(loop, 100) == 0);
	gr_loop_stats(loop, &st);
	CHECK(st.slow_turns == 1 && st.last_slow_cb_fd == -1);
	CHECK(st.last_slow_cb_name && !strcmp(st.last_slow_cb_name, "the slow one"));
	/* the fd's callback, not the quick timer of the same turn */
	io = gr_io_add(loop, fds[0], EPOLLIN, slow_reader, &slow);
	CHECK(io != NULL);
	gr_timer_free(t);
	t = gr_timer_new(loop, sleeper, &quick);
	gr_timer_arm(t, 0);
	CHECK(write(fds[1], "x", 1) == 1);
	CHECK(gr_loop_run_once(loop, 100) == 0);
	gr_loop_stats(loop, &st);
	CHECK(st.slow_turns == 2 && st.last_slow_cb_fd == fds[0] && !st.last_slow_cb_name);
	CHECK(st.last_slow_cb_ns >= slow * 1000ULL && st.last_slow_cb_ns <= st.last_slow_ns);
	gr_io_del(io);
	gr_timer_free(t);
	gr_loop_free(loop);
	close(fds[0]);
	close(fds[1]);
}

static const struct ktap_case cases[] = {
	{ "evloop_timer_order", test_timer_order },
	{ "evloop_timer_rearm_and_free_in_callback", test_timer_rearm_and_free_in_callback },
	{ "evloop_many_timers", test_many_timers },
	{ "evloop_defer", test_defer },
	{ "evloop_io_delete_during_dispatch", test_io_delete_during_dispatch },
	{ "evloop_run_stop", test_run_stop },
	{ "evloop_slow_turn_names_callback", test_slow_turn_names_callback },
	{ "evloop_turn_stats", test_turn_stats },
};

int main(void)
{
	return ktap_run(cases, sizeof(cases) / sizeof(cases[0]));
}
