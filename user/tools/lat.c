// SPDX-License-Identifier: GPL-2.0
/*
 * georep-lat: where each write's time goes, from georep.ko's tracepoints,
 * in the style of libbpf-tools (ebpf/lat.bpf.c, skeleton by bpftool).
 *
 *   georep-lat [--volume NAME] [--duration SEC] [--json]
 *
 * Runs until --duration seconds passed (default: until SIGINT or SIGTERM),
 * then prints, for the writes that completed meanwhile, the percentiles of
 * each stage: admission (throttling), seal (hashing, ordering, log space),
 * local durable (log write and flush), commit (what the commit rule waits
 * for beyond the local copy: under quorum, shipping, the followers' durable
 * appends and the commit index coming back), complete (the data write and
 * the bio's completion), and the total.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <bpf/libbpf.h>
#include <jansson.h>

#include "georep/nl.h"
#include "georep/pctl.h"
#include "lat.h"
#include "lat.skel.h"

#define TRACEFS		"/sys/kernel/tracing/events/georep"

enum { ST_ADMIT, ST_SEAL, ST_DURABLE, ST_SHIPPED, ST_COMMIT, ST_COMPLETE, ST_TOTAL,
       NR_STAGES };

static const char *const stage_names[NR_STAGES] = {
	"admission", "seal", "durable", "shipped", "commit", "complete", "total",
};

struct samples {
	uint64_t *v[NR_STAGES];
	size_t n, cap;
	uint64_t no_durable, no_commit, no_ship, errors;
};

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	stop = 1;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: georep-lat [--volume NAME] [--duration SEC] [--json]\n"
		"  Per-write latency breakdown of georep volumes from georep.ko's\n"
		"  tracepoints: admission, seal, durable, commit, complete, total\n"
		"  (percentiles in microseconds). Needs root and georep.ko loaded.\n"
		"  -v, --volume NAME   only this volume (default: every volume)\n"
		"  -d, --duration SEC  stop after SEC seconds (default: SIGINT/SIGTERM)\n"
		"  -j, --json          one JSON object instead of the table\n");
}

/* the offset tracefs gives @field of @event, or -1 */
static long tp_offset(const char *event, const char *field)
{
	char path[256], line[256], want[64];
	long off = -1;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s/format", TRACEFS, event);
	f = fopen(path, "r");
	if (!f)
		return -2;
	snprintf(want, sizeof(want), " %s;", field);
	while (fgets(line, sizeof(line), f)) {
		char *p = strstr(line, want), *o = strstr(line, "offset:");

		if (p && o && strstr(line, "field:") && p < o) {
			off = strtol(o + 7, NULL, 10);
			break;
		}
	}
	fclose(f);
	return off;
}

/* the records' layout must be lat.h's: same build of module and tool */
static int check_formats(void)
{
	static const struct {
		const char *event, *field;
		long off;
	} f[] = {
		{ "georep_submit", "seq", offsetof(struct lat_tp_submit, seq) },
		{ "georep_submit", "arrived_ns", offsetof(struct lat_tp_submit, arrived_ns) },
		{ "georep_submit", "admitted_ns", offsetof(struct lat_tp_submit, admitted_ns) },
		{ "georep_durable", "error", offsetof(struct lat_tp_durable, error) },
		{ "georep_commit", "seq", offsetof(struct lat_tp_seq, seq) },
		{ "georep_shipped", "seq", offsetof(struct lat_tp_seq, seq) },
		{ "georep_complete", "error", offsetof(struct lat_tp_complete, error) },
		{ "georep_complete", "minor", offsetof(struct lat_tp_complete, minor) },
	};
	size_t i;

	for (i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
		long off = tp_offset(f[i].event, f[i].field);

		if (off == -2) {
			fprintf(stderr, "georep-lat: no tracepoint georep:%s (%s/%s): is georep.ko loaded and tracefs mounted?\n",
				f[i].event, TRACEFS, f[i].event);
			return -ENOENT;
		}
		if (off != f[i].off) {
			fprintf(stderr, "georep-lat: tracepoint georep:%s: field %s at offset %ld, this georep-lat expects %ld (module and tool of different builds)\n",
				f[i].event, f[i].field, off, f[i].off);
			return -EPROTO;
		}
	}
	return 0;
}

static int add_sample(struct samples *s, const struct lat_event *e)
{
	const uint64_t v[NR_STAGES] = { e->admit, e->seal, e->durable, e->shipped,
					e->commit, e->complete, e->total };
	int i;

	if (s->n == s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 4096;

		for (i = 0; i < NR_STAGES; i++) {
			uint64_t *p = realloc(s->v[i], cap * sizeof(*p));

			if (!p)
				return -ENOMEM;
			s->v[i] = p;
		}
		s->cap = cap;
	}
	for (i = 0; i < NR_STAGES; i++)
		s->v[i][s->n] = v[i];
	s->n++;
	s->no_durable += !!(e->flags & LAT_F_NO_DURABLE);
	s->no_commit += !!(e->flags & LAT_F_NO_COMMIT);
	s->no_ship += !!(e->flags & LAT_F_NO_SHIP);
	s->errors += !!e->error;
	return 0;
}

static int on_event(void *ctx, void *data, size_t len)
{
	if (len < sizeof(struct lat_event))
		return 0;
	return add_sample(ctx, data);
}

/* nearest-rank percentile of the sorted @v, in microseconds */
static double pct(const uint64_t *v, size_t n, unsigned int p)
{
	return n ? (double)georep_nearest_rank(v, n, p) / 1000.0 : 0;
}

static json_t *stage_json(uint64_t *v, size_t n)
{
	double sum = 0;
	size_t i;

	georep_sort_u64(v, n);
	for (i = 0; i < n; i++)
		sum += (double)v[i];
	return json_pack("{s:f, s:f, s:f, s:f, s:f}", "p50_us", pct(v, n, 50),
			 "p90_us", pct(v, n, 90), "p99_us", pct(v, n, 99),
			 "max_us", n ? (double)v[n - 1] / 1000.0 : 0.0,
			 "mean_us", n ? sum / (double)n / 1000.0 : 0.0);
}

static json_t *report(struct samples *s, uint64_t lost, double secs, const char *volume)
{
	json_t *stages = json_object(), *r;
	int i;

	for (i = 0; i < NR_STAGES; i++)
		json_object_set_new(stages, stage_names[i], stage_json(s->v[i], s->n));
	r = json_pack("{s:s, s:f, s:I, s:I, s:I, s:I, s:I, s:I, s:o}",
		      "volume", volume ? volume : "*", "seconds", secs,
		      "writes", (json_int_t)s->n, "lost", (json_int_t)lost,
		      "errors", (json_int_t)s->errors,
		      "no_durable", (json_int_t)s->no_durable,
		      "no_commit", (json_int_t)s->no_commit,
		      "not_shipped_before_commit", (json_int_t)s->no_ship, "stages", stages);
	return r;
}

static void print_table(json_t *r)
{
	json_t *st = json_object_get(r, "stages");
	int i;

	printf("georep-lat: %" JSON_INTEGER_FORMAT " writes on %s in %.1f s (%" JSON_INTEGER_FORMAT
	       " lost, %" JSON_INTEGER_FORMAT " failed, %" JSON_INTEGER_FORMAT
	       " without a durable time, %" JSON_INTEGER_FORMAT " without a commit, %"
	       JSON_INTEGER_FORMAT " not shipped before it)\n",
	       json_integer_value(json_object_get(r, "writes")),
	       json_string_value(json_object_get(r, "volume")),
	       json_real_value(json_object_get(r, "seconds")),
	       json_integer_value(json_object_get(r, "lost")),
	       json_integer_value(json_object_get(r, "errors")),
	       json_integer_value(json_object_get(r, "no_durable")),
	       json_integer_value(json_object_get(r, "no_commit")),
	       json_integer_value(json_object_get(r, "not_shipped_before_commit")));
	printf("%-10s %10s %10s %10s %10s %10s\n", "stage", "p50 us", "p90 us", "p99 us",
	       "max us", "mean us");
	for (i = 0; i < NR_STAGES; i++) {
		json_t *o = json_object_get(st, stage_names[i]);

		printf("%-10s %10.1f %10.1f %10.1f %10.1f %10.1f\n", stage_names[i],
		       json_real_value(json_object_get(o, "p50_us")),
		       json_real_value(json_object_get(o, "p90_us")),
		       json_real_value(json_object_get(o, "p99_us")),
		       json_real_value(json_object_get(o, "max_us")),
		       json_real_value(json_object_get(o, "mean_us")));
	}
}

static int volume_minor(const char *name, uint32_t *minor)
{
	struct georep_vol_status vs;
	struct georep_nl *nl;
	char err[256];
	int ret;

	ret = georep_nl_open(&nl, err, sizeof(err));
	if (ret) {
		fprintf(stderr, "georep-lat: %s\n", err);
		return ret;
	}
	ret = georep_nl_volume_get(nl, name, &vs);
	if (ret)
		fprintf(stderr, "georep-lat: volume %s: %s\n", name, georep_nl_error(nl));
	else
		*minor = vs.minor;
	georep_nl_close(nl);
	return ret;
}

static int parse_args(int argc, char **argv, const char **volume, double *duration,
		      bool *json)
{
	static const struct option opts[] = {
		{ "volume", required_argument, NULL, 'v' },
		{ "duration", required_argument, NULL, 'd' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	char *end;
	int c;

	while ((c = getopt_long(argc, argv, "v:d:jh", opts, NULL)) != -1) {
		switch (c) {
		case 'v':
			*volume = optarg;
			break;
		case 'd':
			*duration = strtod(optarg, &end);
			if (*end || !(*duration > 0) || *duration > 86400) {
				fprintf(stderr, "georep-lat: --duration: not a number of seconds in (0, 86400]: %s\n",
					optarg);
				return 2;
			}
			break;
		case 'j':
			*json = true;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "georep-lat: unexpected argument %s\n", argv[optind]);
		usage(stderr);
		return 2;
	}
	return 0;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* attach, gather until the deadline or a signal; the report in *out */
static int run(struct georep_lat *skel, double duration, const char *volume, json_t **out)
{
	struct samples s = { 0 };
	struct ring_buffer *rb;
	double t0;
	int ret, i;

	ret = georep_lat__attach(skel);
	if (ret) {
		fprintf(stderr, "georep-lat: cannot attach to the tracepoints: %s\n",
			strerror(-ret));
		return ret;
	}
	rb = ring_buffer__new(bpf_map__fd(skel->maps.events), on_event, &s, NULL);
	if (!rb) {
		fprintf(stderr, "georep-lat: ring buffer: %s\n", strerror(errno));
		return -errno;
	}
	t0 = now_s();
	while (!stop && (!duration || now_s() - t0 < duration)) {
		ret = ring_buffer__poll(rb, 100);
		if (ret < 0 && ret != -EINTR) {
			fprintf(stderr, "georep-lat: ring buffer: %s\n", strerror(-ret));
			break;
		}
		ret = 0;
	}
	georep_lat__detach(skel);
	ring_buffer__consume(rb);
	ring_buffer__free(rb);
	*out = report(&s, skel->bss->lost, now_s() - t0, volume);
	for (i = 0; i < NR_STAGES; i++)
		free(s.v[i]);
	return ret;
}

int main(int argc, char **argv)
{
	const char *volume = NULL;
	struct georep_lat *skel;
	double duration = 0;
	bool json = false;
	uint32_t minor = LAT_ALL_MINORS;
	json_t *r = NULL;
	int ret;

	ret = parse_args(argc, argv, &volume, &duration, &json);
	if (ret)
		return ret;
	if (check_formats() || (volume && volume_minor(volume, &minor)))
		return 1;
	skel = georep_lat__open();
	if (!skel) {
		fprintf(stderr, "georep-lat: cannot open the BPF object: %s\n", strerror(errno));
		return 1;
	}
	skel->rodata->minor_filter = minor;
	ret = georep_lat__load(skel);
	if (ret) {
		fprintf(stderr, "georep-lat: cannot load the BPF programs: %s\n", strerror(-ret));
		goto out;
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	ret = run(skel, duration, volume, &r);
	if (r) {
		if (json) {
			json_dumpf(r, stdout, JSON_COMPACT | JSON_REAL_PRECISION(9));
			putchar('\n');
		} else {
			print_table(r);
		}
		json_decref(r);
	}
out:
	georep_lat__destroy(skel);
	return ret ? 1 : 0;
}
