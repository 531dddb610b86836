// SPDX-License-Identifier: GPL-2.0
/* Unit tests of the write stages georepd measures (user/georepd/stage.c). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../stage.h"
#include "ktap.h"

#define MS 1000000ULL

/* in microseconds */
static uint64_t pct(const struct gd_samples *s, unsigned int p)
{
	uint64_t ns = 0;

	return gd_samples_pct(s, p, &ns) ? UINT64_MAX : ns / 1000;
}

/* Nearest-rank percentiles over the samples held, whatever their order. */
static void test_percentiles(void)
{
	struct gd_samples *s = calloc(1, sizeof(*s));
	uint64_t ns;
	int i;

	CHECK(gd_samples_pct(s, 50, &ns) == -ENODATA);
	for (i = 100; i >= 1; i--)
		gd_sample(s, i * 1000ULL);	/* 100 .. 1 us */
	CHECK(s->n == 100 && s->count == 100);
	CHECK(pct(s, 50) == 50);
	CHECK(pct(s, 99) == 99);
	CHECK(pct(s, 100) == 100);
	CHECK(pct(s, 0) == 1);
	CHECK(gd_samples_pct(s, 101, &ns) == -ENODATA);
	free(s);
}

/* Only the last GD_STAGE_SAMPLES are held: older ones drop out. */
static void test_keeps_last(void)
{
	struct gd_samples *s = calloc(1, sizeof(*s));
	int i;

	for (i = 0; i < GD_STAGE_SAMPLES; i++)
		gd_sample(s, 1000 * MS);
	for (i = 0; i < GD_STAGE_SAMPLES; i++)
		gd_sample(s, 2 * MS);
	CHECK(s->n == GD_STAGE_SAMPLES && s->count == 2 * GD_STAGE_SAMPLES);
	CHECK(pct(s, 100) == 2000);
	free(s);
}

/*
 * A seq read at t, sent at t + 1 ms, committed at t + 5 ms: one sample of
 * 1 ms to send, one of 4 ms to a quorum. Sent twice (two followers): the
 * first send counts. Never sent, or read in an earlier leadership: no
 * sample; a new role starts the samples over.
 */
static void test_follows_seqs(void)
{
	struct gd_stages *st = calloc(1, sizeof(*st));

	gd_stage_restart(st, 9);
	gd_stage_read(st, 10, 100 * MS);
	gd_stage_read(st, 11, 100 * MS);
	gd_stage_read(st, 12, 100 * MS);
	gd_stage_sent(st, 10, 2, 101 * MS);
	gd_stage_sent(st, 10, 2, 103 * MS);
	gd_stage_committed(st, 12, 105 * MS);
	CHECK(st->send.count == 2 && st->quorum.count == 2);
	CHECK(pct(&st->send, 100) == 1000 && pct(&st->quorum, 100) == 4000);
	/* 12 was never sent: nothing; committing again adds nothing */
	gd_stage_committed(st, 12, 200 * MS);
	CHECK(st->quorum.count == 2 && st->committed == 12);
	/* read before a new leadership: not this term's */
	gd_stage_read(st, 13, 300 * MS);
	gd_stage_sent(st, 13, 1, 301 * MS);
	gd_stage_restart(st, 12);
	CHECK(st->quorum.count == 0 && st->quorum.n == 0 && st->send.n == 0);
	gd_stage_committed(st, 13, 302 * MS);
	CHECK(st->quorum.count == 0 && st->committed == 13);
	free(st);
}

/* A seq the ring reused for a later one is not sampled as the earlier. */
static void test_ring_reuse(void)
{
	struct gd_stages *st = calloc(1, sizeof(*st));
	uint64_t s;

	gd_stage_restart(st, 0);
	for (s = 1; s <= GD_STAGE_RING + 10; s++)
		gd_stage_read(st, s, s * MS);
	gd_stage_sent(st, 1, GD_STAGE_RING + 10, (GD_STAGE_RING + 20) * MS);
	/* seqs 1..10 were overwritten by GD_STAGE_RING + 1..10 */
	gd_stage_committed(st, 10, (GD_STAGE_RING + 30) * MS);
	CHECK(st->quorum.count == 0);
	gd_stage_committed(st, GD_STAGE_RING + 10, (GD_STAGE_RING + 30) * MS);
	CHECK(st->quorum.count == GD_STAGE_RING);
	CHECK(pct(&st->quorum, 100) == 10000);
	free(st);
}

static void test_json(void)
{
	struct gd_stages *st = calloc(1, sizeof(*st));
	json_t *o = gd_stages_json(st), *q;

	CHECK(o && json_object_size(o) == 0);
	json_decref(o);
	gd_sample(&st->set_commit, 3 * MS);
	o = gd_stages_json(st);
	q = json_object_get(o, "set_commit");
	CHECK(json_object_size(o) == 1 && q);
	CHECK(json_integer_value(json_object_get(q, "p50_us")) == 3000);
	CHECK(json_integer_value(json_object_get(q, "count")) == 1);
	json_decref(o);
	/* the CPU time of the call beside its wall time */
	gd_sample(&st->set_commit_cpu, 40000);
	o = gd_stages_json(st);
	q = json_object_get(o, "set_commit_cpu");
	CHECK(json_object_size(o) == 2 && q);
	CHECK(json_integer_value(json_object_get(q, "p50_us")) == 40);
	json_decref(o);
	free(st);
}

static const struct ktap_case cases[] = {
	{ "stage_percentiles", test_percentiles },
	{ "stage_keeps_last", test_keeps_last },
	{ "stage_follows_seqs", test_follows_seqs },
	{ "stage_ring_reuse", test_ring_reuse },
	{ "stage_json", test_json },
};

int main(void)
{
	return ktap_run(cases, sizeof(cases) / sizeof(cases[0]));
}
