// SPDX-License-Identifier: GPL-2.0
/*
 * Simulator driver: runs seeds across cluster sizes and prints KTAP.
 *
 *   consensus_sim [--seeds N] [--from S] [--sites 3,5,7] [--trace SEED]
 *                 [--sites-of-trace N] [--expect-fail NAME]
 *
 * Seeds of one size are one KTAP test line; a failing seed prints its
 * trace tail and the broken invariant. --trace SEED prints the full event
 * trace of one seed (with --sites-of-trace). --expect-fail turns the run
 * into a check that a deliberately broken core is caught.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sim.h"

/* set by the deliberately broken builds (broken_*.c); a variant made for
 * one invariant names it in gr_broken_check: only that one counts */
extern const char *gr_broken_variant __attribute__((weak));
extern const char *gr_broken_check __attribute__((weak));

static int run_one(uint32_t n, uint64_t seed, struct sim_result *r,
		   FILE *trace)
{
	struct sim_opts o = { .nsites = n, .seed = seed, .trace = trace,
			      .membership = seed % 5 == 4 };

	return sim_run(&o, r);
}

/* re-run a failing seed with tracing and print the last lines */
static void show_trace(uint32_t n, uint64_t seed)
{
	struct sim_result r;
	char *buf = NULL;
	size_t len = 0, i, lines = 0;
	FILE *f = open_memstream(&buf, &len);

	if (!f)
		return;
	run_one(n, seed, &r, f);
	fclose(f);
	for (i = len; i > 0; i--)
		if (buf[i - 1] == '\n' && ++lines > 60)
			break;
	printf("# trace tail (sites=%u seed=%llu; full: consensus_sim --trace %llu --sites-of-trace %u):\n",
	       n, (unsigned long long)seed, (unsigned long long)seed, n);
	fwrite(buf + i, 1, len - i, stdout);
	free(buf);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* a broken core: some seed must fail (by its check, if it names one) */
static int catch_broken(const char *expect, const char *check, uint64_t from,
			uint64_t seeds, const uint32_t *sizes, uint32_t nsizes)
{
	uint32_t other = 0, i;
	uint64_t s;

	for (s = from; s < from + seeds; s++) {
		for (i = 0; i < nsizes; i++) {
			struct sim_result r;

			if (run_one(sizes[i], s, &r, NULL) != 1)
				continue;
			if (check && strncmp(r.why, check, strlen(check))) {
				if (!other++)
					printf("# '%s' also breaks another invariant: sites=%u seed=%llu: %s\n",
					       expect, sizes[i],
					       (unsigned long long)s, r.why);
				continue;
			}
			printf("# broken variant '%s' caught: sites=%u seed=%llu: %s\n",
			       expect, sizes[i],
			       (unsigned long long)s, r.why);
			printf("ok 1 sim_catches_%s\n", expect);
			return 0;
		}
	}
	printf("not ok 1 sim_catches_%s # not caught%s%s in %llu seeds (%u seeds broke other invariants)\n",
	       expect, check ? " by " : "", check ? check : "",
	       (unsigned long long)seeds, other);
	return 1;
}

struct cli_opts {
	uint64_t seeds, from, tseed;
	uint32_t sizes[8], nsizes, tsites;
	const char *expect;
};

static int parse_args(int argc, char **argv, struct cli_opts *o)
{
	int k;

	for (k = 1; k < argc; k++) {
		if (!strcmp(argv[k], "--seeds") && k + 1 < argc) {
			o->seeds = strtoull(argv[++k], NULL, 0);
		} else if (!strcmp(argv[k], "--from") && k + 1 < argc) {
			o->from = strtoull(argv[++k], NULL, 0);
		} else if (!strcmp(argv[k], "--sites") && k + 1 < argc) {
			char *p = argv[++k];

			for (o->nsizes = 0; *p && o->nsizes < 8; o->nsizes++) {
				o->sizes[o->nsizes] = (uint32_t)strtoul(p, &p, 10);
				if (*p == ',')
					p++;
			}
		} else if (!strcmp(argv[k], "--trace") && k + 1 < argc) {
			o->tseed = strtoull(argv[++k], NULL, 0);
		} else if (!strcmp(argv[k], "--sites-of-trace") && k + 1 < argc) {
			o->tsites = (uint32_t)strtoul(argv[++k], NULL, 0);
		} else if (!strcmp(argv[k], "--expect-fail") && k + 1 < argc) {
			o->expect = argv[++k];
		} else {
			fprintf(stderr, "usage: %s [--seeds N] [--from S] [--sites 3,5,7] [--trace SEED [--sites-of-trace N]] [--expect-fail NAME]\n",
				argv[0]);
			return -1;
		}
	}
	return 0;
}

/* @seeds seeds of @size sites from @from, KTAP line @num: failed seeds */
static int run_size(uint32_t size, uint64_t from, uint64_t seeds, uint32_t num)
{
	struct sim_result sum = { 0 };
	double t0 = now_s();
	uint64_t s, conv = 0;
	int bad = 0;

	for (s = from; s < from + seeds; s++) {
		struct sim_result r;
		int rc = run_one(size, s, &r, NULL);

		if (rc) {
			printf("# FAIL sites=%u seed=%llu at %llu ms: %s\n", size,
			       (unsigned long long)s, (unsigned long long)(r.fail_ns / 1000000),
			       rc < 0 ? "setup error" : r.why);
			if (bad++ < 2)
				show_trace(size, s);
			continue;
		}
		if (seeds > 2000 && (s - from + 1) % 2000 == 0) {
			printf("# sites=%u: %llu of %llu seeds done, %d failed, %.0f s\n", size,
			       (unsigned long long)(s - from + 1), (unsigned long long)seeds, bad,
			       now_s() - t0);
			fflush(stdout);
		}
		sum.events += r.events;
		sum.commits += r.commits;
		sum.elections += r.elections;
		sum.crashes += r.crashes;
		sum.partitions += r.partitions;
		sum.truncations += r.truncations;
		sum.resyncs += r.resyncs;
		sum.transfers += r.transfers;
		sum.conf_changes += r.conf_changes;
		sum.backpressure += r.backpressure;
		sum.shipped_lost_crashes += r.shipped_lost_crashes;
		sum.shipped_lost += r.shipped_lost;
		if (r.converge_ns > conv)
			conv = r.converge_ns;
	}
	printf("# sites=%u seeds=%llu..%llu: %llu events, %llu commits, %llu leaders, %llu crashes, %llu partitions, worst convergence %llu ms, %.1f s\n",
	       size, (unsigned long long)from, (unsigned long long)(from + seeds - 1),
	       (unsigned long long)sum.events, (unsigned long long)sum.commits,
	       (unsigned long long)sum.elections, (unsigned long long)sum.crashes,
	       (unsigned long long)sum.partitions, (unsigned long long)(conv / 1000000),
	       now_s() - t0);
	printf("# sites=%u: %llu truncations, %llu resyncs, %llu transfers, %llu membership changes, %llu backpressured proposals\n",
	       size, (unsigned long long)sum.truncations, (unsigned long long)sum.resyncs,
	       (unsigned long long)sum.transfers, (unsigned long long)sum.conf_changes,
	       (unsigned long long)sum.backpressure);
	printf("# sites=%u: %llu crashes lost %llu entries their site had already sent\n",
	       size, (unsigned long long)sum.shipped_lost_crashes,
	       (unsigned long long)sum.shipped_lost);
	/* a leader ships before its fsync (replication.rst): that case must be run */
	if (seeds >= 100 && !sum.shipped_lost_crashes) {
		printf("# sites=%u: no crash lost an entry its site had sent: the seeds miss that case\n",
		       size);
		bad++;
	}
	printf("%sok %u sim_%u_sites_%llu_seeds\n", bad ? "not " : "", num, size,
	       (unsigned long long)seeds);
	fflush(stdout);
	return bad;
}

/* same seed, same schedule: two full traces of 5 seeds compared byte for byte */
static bool reproducible(uint64_t from)
{
	bool same = true;
	uint64_t s;

	for (s = from; s < from + 5; s++) {
		char *a = NULL, *b = NULL;
		size_t la = 0, lb = 0;
		struct sim_result r;
		FILE *fa = open_memstream(&a, &la);
		FILE *fb = open_memstream(&b, &lb);

		if (!fa || !fb)
			return false;
		run_one(5, s, &r, fa);
		run_one(5, s, &r, fb);
		fclose(fa);
		fclose(fb);
		if (la != lb || memcmp(a, b, la) || la < 1000)
			same = false;
		free(a);
		free(b);
	}
	return same;
}

int main(int argc, char **argv)
{
	struct cli_opts o = { .seeds = 700, .from = 1, .sizes = { 3, 5, 7 }, .nsizes = 3,
			      .tsites = 3 };
	const char *check = NULL;
	int failures = 0;
	uint32_t i;
	bool same;

	if (parse_args(argc, argv, &o))
		return 2;
	if (&gr_broken_variant && gr_broken_variant)
		o.expect = gr_broken_variant;
	if (&gr_broken_check && gr_broken_check)
		check = gr_broken_check;
	if (o.tseed) {
		struct sim_result r;
		int rc = run_one(o.tsites, o.tseed, &r, stdout);

		printf("result: %s%s\n", rc ? "FAIL " : "pass", rc ? r.why : "");
		return rc ? 1 : 0;
	}

	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("KTAP version 1\n1..%u\n", o.expect ? 1 : o.nsizes + 1);
	if (o.expect)
		return catch_broken(o.expect, check, o.from, o.seeds, o.sizes, o.nsizes);
	for (i = 0; i < o.nsizes; i++)
		failures += run_size(o.sizes[i], o.from, o.seeds, i + 1);
	same = reproducible(o.from);
	printf("%sok %u sim_seed_reproducible\n", same ? "" : "not ", o.nsizes + 1);
	failures += !same;
	return failures ? 1 : 0;
}
