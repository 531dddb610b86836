// SPDX-License-Identifier: GPL-2.0
/*
 * Micro-benchmark of the consensus core: a 3-site cluster in one thread,
 * zero network delay, instant durability. Reports records committed per
 * second and simulated ticks per second, and counts heap allocations
 * during the measured steady state (must be 0).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "georep/consensus.h"

#define NS	3
#define QCAP	4096
#define BATCH	256

static unsigned long n_alloc;

#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_UNDEFINED__)
extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);

void *malloc(size_t n)
{
	n_alloc++;
	return __libc_malloc(n);
}

void *calloc(size_t a, size_t b)
{
	n_alloc++;
	return __libc_calloc(a, b);
}

void *realloc(void *p, size_t n)
{
	n_alloc++;
	return __libc_realloc(p, n);
}
#endif

struct qmsg {
	struct gr_msg m;
	struct gr_entry e[64];
};

static struct gr_node *node[NS];
static struct qmsg *q;
static unsigned int qhead, qlen;
static uint64_t now;

static void process(int i)
{
	struct gr_ready *rd = gr_ready_get(node[i]);
	struct gr_status st;
	uint32_t k, j;

	for (k = 0; k < rd->n_msgs; k++) {
		struct qmsg *qm;

		if (qlen == QCAP) {
			fprintf(stderr, "queue full\n");
			exit(1);
		}
		qm = &q[(qhead + qlen++) % QCAP];
		qm->m = rd->msgs[k];
		for (j = 0; j < qm->m.n_entries; j++)
			gr_entry_get(node[i], qm->m.seq + 1 + j, &qm->e[j]);
		qm->m.entries = qm->e;
	}
	gr_ready_done(node[i]);
	/* instant durability */
	gr_status(node[i], &st);
	if (st.durable_seq < st.last_seq) {
		gr_persisted(node[i], st.last_seq, st.last_term);
		process(i);
		return;
	}
	if (st.applied_seq < st.commit_seq) {
		gr_applied(node[i], st.commit_seq);
		if (st.commit_seq > st.snap_seq + 8192)
			gr_compact(node[i], st.commit_seq - 4096);
	}
}

static void pump(void)
{
	while (qlen) {
		struct qmsg *qm = &q[qhead];

		qhead = (qhead + 1) % QCAP;
		qlen--;
		gr_step(node[qm->m.to - 1], &qm->m, now);
		process((int)qm->m.to - 1);
	}
}

static double secs(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void tick_all(void)
{
	int i;

	now += 10000000;
	for (i = 0; i < NS; i++) {
		gr_tick(node[i], now);
		process(i);
	}
	pump();
}

int main(int argc, char **argv)
{
	uint64_t target = argc > 1 ? strtoull(argv[1], NULL, 0) : 5000000;
	uint64_t proposed = 0, c0, ticks = 0;
	unsigned long a0, setup_allocs;
	struct gr_conf conf = { .n = NS };
	struct gr_status st;
	double t0, t1;
	int i, leader = -1;

	q = calloc(QCAP, sizeof(*q));
	if (!q)
		return 1;
	for (i = 0; i < NS; i++) {
		conf.site[i] = i + 1;
		conf.voter[i] = 1;
	}
	for (i = 0; i < NS; i++) {
		struct gr_config cfg;

		gr_config_default(&cfg, i + 1, &conf);
		cfg.max_msg_entries = 64;
		cfg.max_inflight_msgs = 32;
		cfg.max_inflight_bytes = 64 << 20;
		cfg.max_uncommitted_bytes = 256 << 20;
		cfg.log_capacity = 1 << 15;
		node[i] = gr_node_new(&cfg, NULL, 0);
		if (!node[i])
			return 1;
	}
	while (leader < 0 && ticks < 1000) {
		tick_all();
		ticks++;
		for (i = 0; i < NS; i++) {
			gr_status(node[i], &st);
			if (st.writable)
				leader = i;
		}
	}
	if (leader < 0) {
		fprintf(stderr, "no leader\n");
		return 1;
	}
	gr_status(node[leader], &st);
	c0 = st.commit_seq;

	setup_allocs = n_alloc;
	a0 = n_alloc;
	t0 = secs();
	while (proposed < target) {
		int k;

		for (k = 0; k < BATCH; k++) {
			if (gr_propose(node[leader], 4096, now) < 0)
				break;
			proposed++;
		}
		process(leader);
		pump();
		if ((proposed & 0xffff) < BATCH)
			tick_all();
	}
	t1 = secs();
	a0 = n_alloc - a0;
	gr_status(node[leader], &st);
	printf("consensus_bench: 3 sites, zero delay: %llu records committed in %.3f s = %.0f records/s (heap allocations: %lu in setup, %lu in steady state)\n",
	       (unsigned long long)(st.commit_seq - c0), t1 - t0,
	       (st.commit_seq - c0) / (t1 - t0), setup_allocs, a0);

	ticks = 0;
	t0 = secs();
	while (secs() - t0 < 1.0) {
		int k;

		for (k = 0; k < 1000; k++)
			tick_all();
		ticks += 1000;
	}
	t1 = secs();
	printf("consensus_bench: 3 sites idle: %.0f cluster ticks/s (%.0f site ticks/s)\n",
	       ticks / (t1 - t0), NS * ticks / (t1 - t0));
	for (i = 0; i < NS; i++)
		gr_node_free(node[i]);
	free(q);
	return a0 ? 1 : 0;
}
