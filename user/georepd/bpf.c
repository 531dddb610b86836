// SPDX-License-Identifier: GPL-2.0
/*
 * georepd's BPF programs: open, configure, load and attach the skeletons of
 * ebpf/ (libbpf), keep their maps current, report them. See bpf.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/georep_bpf.h>

#include "georep/nl.h"
#include "georepd.h"
#include "bpf.h"
#include "admit.h"
#include "admit.skel.h"

#define LAG_PERIOD_MS	1000
#define RETRY_PERIOD_MS	5000	/* attach again: georep.ko loaded later */
#define REASON_LEN	256

struct bpf_vol {
	uint32_t minor;
	const char *name;
	struct admit_lag lag;
};

struct gd_bpf {
	enum gd_bpf_mode mode;
	struct georep_admit *admit;
	bool admit_loaded;
	bool admit_attached;
	bool admit_held;		/* detached on request: no retry */
	char admit_error[2 * REASON_LEN];
	uint64_t retry_ms;
	struct georep_nl *nl;
	struct bpf_vol *vols;		/* d->nvols; minor UINT32_MAX: unknown */
	uint64_t lag_ms;
	struct gd_route *route;		/* bpf_route.c; NULL: no route_cgroup */
	struct gd_pace *pace;		/* bpf_pace.c; NULL: no pace_mbit */
};

static const char *const mode_names[] = { "off", "auto", "on" };

/* libbpf's last warning: the reason a load or attach failed */
static char libbpf_reason[REASON_LEN];

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	char line[REASON_LEN];
	size_t n;

	vsnprintf(line, sizeof(line), fmt, ap);
	n = strlen(line);
	while (n && line[n - 1] == '\n')
		line[--n] = '\0';
	if (!strncmp(line, "libbpf: ", 8))
		memmove(line, line + 8, n - 8 + 1);
	if (level == LIBBPF_WARN) {
		/* the first warning says why; the next ones that it failed */
		if (!libbpf_reason[0])
			snprintf(libbpf_reason, sizeof(libbpf_reason), "%s", line);
		gd_warn("libbpf: %s", line);
	} else {
		gd_dbg("libbpf: %s", line);
	}
	return 0;
}

const char *gd_bpf_reason(void)
{
	return libbpf_reason;
}

void gd_bpf_reason_reset(void)
{
	libbpf_reason[0] = '\0';
}

int gd_bpf_attach_cgroup(const char *path, struct bpf_program *const progs[],
			 struct bpf_link **const links[], size_t n, char *why, size_t len)
{
	int cg, ret = 0;
	size_t i;

	cg = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (cg < 0) {
		ret = -errno;
		snprintf(why, len, "open cgroup %.300s: %s", path, strerror(-ret));
		return ret;
	}
	for (i = 0; i < n && !ret; i++) {
		*links[i] = bpf_program__attach_cgroup(progs[i], cg);
		if (!*links[i])
			ret = -errno;
	}
	close(cg);
	if (ret)
		snprintf(why, len, "attach to cgroup %.200s: %.60s; libbpf: %.200s", path,
			 strerror(-ret), libbpf_reason);
	return ret;
}

int gd_bpf_parse_mode(const char *s, enum gd_bpf_mode *mode)
{
	unsigned int i;

	for (i = 0; i < sizeof(mode_names) / sizeof(mode_names[0]); i++)
		if (!strcmp(s, mode_names[i])) {
			*mode = i;
			return 0;
		}
	return -EINVAL;
}

static void admit_failed(struct gd_bpf *b, const char *step, int err)
{
	snprintf(b->admit_error, sizeof(b->admit_error), "%.120s: %.60s%s%.200s", step,
		 strerror(-err), libbpf_reason[0] ? "; libbpf: " : "", libbpf_reason);
	gd_warn("bpf: admit not attached (%s), the kernel's watermark rules apply",
		b->admit_error);
}

static int admit_start(struct gd_bpf *b)
{
	int ret;

	libbpf_reason[0] = '\0';
	b->admit = georep_admit__open();
	if (!b->admit) {
		ret = -errno;
		admit_failed(b, "open", ret);
		return ret;
	}
	ret = georep_admit__load(b->admit);
	if (ret) {
		admit_failed(b, "load", ret);
		return ret;
	}
	b->admit_loaded = true;
	ret = georep_admit__attach(b->admit);
	if (ret) {
		admit_failed(b, ret == -ENOENT ?
			     "attach to georep:georep_admit (is georep.ko loaded?)" :
			     "attach to georep:georep_admit", ret);
		return ret;
	}
	b->admit_attached = true;
	b->admit_error[0] = '\0';
	gd_info("bpf: admit attached to georep:georep_admit (queue held to %u ms of the commit rate; pressure from %u permille, max delay %u us)",
		b->admit->rodata->target_queue_ms, b->admit->rodata->start_pm,
		b->admit->rodata->max_delay_us);
	return 0;
}

int gd_bpf_start(struct georepd *d, enum gd_bpf_mode mode, struct gd_bpf **out)
{
	struct gd_bpf *b;
	size_t i;
	int ret;

	*out = NULL;
	if (mode == GD_BPF_OFF && d->me->route_cgroup)
		gd_warn("bpf: route_cgroup %s is configured but georepd runs with --bpf off: connects are not steered",
			d->me->route_cgroup);
	if (mode == GD_BPF_OFF && d->me->pace_mbit)
		gd_warn("bpf: pace_mbit %u is configured but georepd runs with --bpf off: replication is not paced",
			d->me->pace_mbit);
	if (mode == GD_BPF_OFF)
		return 0;
	b = calloc(1, sizeof(*b));
	if (b)
		b->vols = calloc(d->nvols ?: 1, sizeof(*b->vols));
	if (!b || !b->vols) {
		free(b);
		return -ENOMEM;
	}
	b->mode = mode;
	for (i = 0; i < d->nvols; i++) {
		b->vols[i].minor = UINT32_MAX;
		b->vols[i].name = d->vols[i].cfg->name;
	}
	libbpf_set_print(libbpf_print);
	ret = admit_start(b);
	if (ret && mode == GD_BPF_ON) {
		gd_err("bpf: --bpf on and the admit program failed: %s", b->admit_error);
		gd_bpf_stop(b);
		return ret;
	}
	ret = gd_route_start(d, &b->route);
	if (ret && mode == GD_BPF_ON) {
		gd_err("bpf: --bpf on and the route program failed: %s", strerror(-ret));
		gd_bpf_stop(b);
		return ret;
	}
	ret = gd_pace_start(d, &b->pace);
	if (ret && mode == GD_BPF_ON) {
		gd_err("bpf: --bpf on and the pace program failed: %s", strerror(-ret));
		gd_bpf_stop(b);
		return ret;
	}
	*out = b;
	return 0;
}

/* the largest lag_bytes / lag_records among the sites of a status object */
static void lag_from_status(json_t *st, struct admit_lag *lag)
{
	json_t *sites = json_object_get(st, "sites"), *s;
	size_t i;

	memset(lag, 0, sizeof(*lag));
	json_array_foreach(sites, i, s) {
		json_int_t bytes = json_integer_value(json_object_get(s, "lag_bytes"));
		json_int_t recs = json_integer_value(json_object_get(s, "lag_records"));

		if (bytes > 0 && (uint64_t)bytes > lag->lag_bytes)
			lag->lag_bytes = bytes;
		if (recs > 0 && (uint64_t)recs > lag->lag_records)
			lag->lag_records = recs;
	}
}

/*
 * The kernel volume of @name, by the engine's rule (engine.c, kernel_open()):
 * "<site>.<volume>" when it exists (sites sharing one kernel), else "<volume>".
 */
static int kernel_volume(struct georepd *d, struct gd_bpf *b, const char *name,
			 struct georep_vol_status *vs)
{
	char kname[GEOREP_NAME_MAX];
	int n = snprintf(kname, sizeof(kname), "%s.%s", d->me->name, name);

	if (n < (int)sizeof(kname) && !georep_nl_volume_get(b->nl, kname, vs))
		return 0;
	return georep_nl_volume_get(b->nl, name, vs);
}

/* forget @minor: a volume of ours that was deleted or re-created under another */
static void admit_forget(struct gd_bpf *b, struct bpf_vol *v)
{
	struct bpf_map *maps[] = { b->admit->maps.lag, b->admit->maps.stats,
				   b->admit->maps.clock };
	size_t i;

	for (i = 0; i < sizeof(maps) / sizeof(maps[0]); i++)
		bpf_map__delete_elem(maps[i], &v->minor, sizeof(v->minor), 0);
	gd_info("bpf: volume %s is no longer minor %u: its admit entries are dropped",
		v->name, v->minor);
	v->minor = UINT32_MAX;
}

/*
 * Looked up on every pass, not once: a volume deleted and created again
 * (by an operator, or another daemon) may come back under another minor,
 * and its old minor may go to a volume this daemon does not serve.
 */
static void lag_update_one(struct georepd *d, struct gd_bpf *b, size_t i)
{
	struct gr_replica *r = d->vols[i].replica;
	struct bpf_vol *v = &b->vols[i];
	struct georep_vol_status vs;
	json_t *st;
	int ret;

	ret = kernel_volume(d, b, v->name, &vs);
	if (ret) {
		if (ret == -ENOENT && v->minor != UINT32_MAX)
			admit_forget(b, v);
		return;
	}
	if (v->minor != UINT32_MAX && v->minor != vs.minor)
		admit_forget(b, v);
	v->minor = vs.minor;
	/* an entry even without a replica's view (lag 0): it names the minor */
	if (r && r->ops->status_json) {
		st = r->ops->status_json(r);
		lag_from_status(st, &v->lag);
		json_decref(st);
	}
	if (bpf_map__update_elem(b->admit->maps.lag, &v->minor, sizeof(v->minor),
				 &v->lag, sizeof(v->lag), BPF_ANY))
		gd_dbg("bpf: lag map update for %s: %s", v->name, strerror(errno));
}

void gd_bpf_tick(struct georepd *d, struct gd_bpf *b)
{
	char err[256];
	uint64_t now = gr_now_ms();
	size_t i;

	if (!b)
		return;
	gd_route_tick(d, b->route);
	gd_pace_tick(d, b->pace);
	if (b->admit_loaded && !b->admit_attached && !b->admit_held &&
	    now - b->retry_ms >= RETRY_PERIOD_MS) {
		b->retry_ms = now;
		libbpf_set_print(NULL);
		if (!georep_admit__attach(b->admit)) {
			b->admit_attached = true;
			b->admit_error[0] = '\0';
			gd_info("bpf: admit attached to georep:georep_admit");
		}
		libbpf_set_print(libbpf_print);
	}
	if (!b->admit_attached || now - b->lag_ms < LAG_PERIOD_MS)
		return;
	b->lag_ms = now;
	if (!b->nl && georep_nl_open(&b->nl, err, sizeof(err))) {
		gd_dbg("bpf: no georep netlink for the lag map: %s", err);
		return;
	}
	for (i = 0; i < d->nvols; i++)
		lag_update_one(d, b, i);
}

static const char *minor_name(struct georepd *d, struct gd_bpf *b, uint32_t minor)
{
	size_t i;

	for (i = 0; i < d->nvols; i++)
		if (b->vols[i].minor == minor)
			return b->vols[i].name;
	return NULL;
}

static json_t *admit_volumes_json(struct georepd *d, struct gd_bpf *b)
{
	struct bpf_map *map = b->admit->maps.stats;
	json_t *arr = json_array();
	struct admit_stats s;
	uint32_t key, next;
	struct admit_lag lag;
	void *prev = NULL;

	while (arr && !bpf_map__get_next_key(map, prev, &next, sizeof(next))) {
		key = next;
		prev = &key;
		if (bpf_map__lookup_elem(map, &key, sizeof(key), &s, sizeof(s), 0))
			continue;
		if (bpf_map__lookup_elem(b->admit->maps.lag, &key, sizeof(key), &lag,
					 sizeof(lag), 0))
			memset(&lag, 0, sizeof(lag));
		json_array_append_new(arr, json_pack(
			"{s:I, s:s?, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
			"minor", (json_int_t)key, "volume", minor_name(d, b, key),
			"calls", (json_int_t)s.calls, "sync", (json_int_t)s.sync,
			"passed", (json_int_t)s.passed, "delayed", (json_int_t)s.delayed,
			"delayed_sync", (json_int_t)s.delayed_sync,
			"rate_delayed", (json_int_t)s.rate_delayed,
			"learn_delayed", (json_int_t)s.learn_delayed,
			"commit_bytes_s", (json_int_t)s.commit_bytes_s,
			"queue_ms", (json_int_t)s.queue_ms,
			"delay_us_total", (json_int_t)s.delay_us,
			"pressure_permille", (json_int_t)s.pressure_pm,
			"lag_bytes", (json_int_t)lag.lag_bytes,
			"lag_records", (json_int_t)lag.lag_records));
	}
	return arr;
}

static json_t *admit_json(struct georepd *d, struct gd_bpf *b)
{
	struct bpf_prog_info info = { 0 };
	__u32 len = sizeof(info);
	json_t *o;

	o = json_pack("{s:s, s:s, s:b, s:b}", "name", "admit",
		      "hook", "raw_tp.w/georep_admit",
		      "loaded", b->admit_loaded,
		      "attached", b->admit_attached);
	if (!o)
		return NULL;
	if (b->admit_error[0])
		json_object_set_new(o, "error", json_string(b->admit_error));
	if (!b->admit_attached)
		return o;
	if (!bpf_obj_get_info_by_fd(bpf_program__fd(b->admit->progs.georep_admit),
				    &info, &len))
		json_object_set_new(o, "prog_id", json_integer(info.id));
	json_object_set_new(o, "target_queue_ms",
			    json_integer(b->admit->rodata->target_queue_ms));
	json_object_set_new(o, "start_permille", json_integer(b->admit->rodata->start_pm));
	json_object_set_new(o, "max_delay_us", json_integer(b->admit->rodata->max_delay_us));
	json_object_set_new(o, "volumes", admit_volumes_json(d, b));
	return o;
}

int gd_bpf_set_attached(struct gd_bpf *b, bool on, char *err, size_t errlen)
{
	int ret;

	if (!b || !b->admit_loaded) {
		snprintf(err, errlen, "the admit program is not loaded (%s)",
			 !b ? "georepd --bpf off" : b->admit_error);
		return -EOPNOTSUPP;
	}
	b->admit_held = !on;
	if (on && !b->admit_attached) {
		libbpf_reason[0] = '\0';
		ret = georep_admit__attach(b->admit);
		if (ret) {
			snprintf(err, errlen, "attach to georep:georep_admit: %.60s; libbpf: %.200s",
				 strerror(-ret), libbpf_reason);
			return ret;
		}
		b->admit_attached = true;
		b->admit_error[0] = '\0';
		gd_info("bpf: admit attached on request");
	} else if (!on && b->admit_attached) {
		bpf_link__destroy(b->admit->links.georep_admit);
		b->admit->links.georep_admit = NULL;
		b->admit_attached = false;
		snprintf(b->admit_error, sizeof(b->admit_error), "detached on request");
		gd_info("bpf: admit detached on request");
	}
	return 0;
}

int gd_bpf_set_pace_attached(struct georepd *d, struct gd_bpf *b, bool on, char *err,
			     size_t errlen)
{
	if (!b || !b->pace) {
		snprintf(err, errlen, "the pace program is not loaded (%s)",
			 !b ? "georepd --bpf off" : "no \"pace_mbit\" for this site");
		return -EOPNOTSUPP;
	}
	return gd_pace_set_attached(d, b->pace, on, err, errlen);
}

json_t *gd_bpf_status_json(struct georepd *d, struct gd_bpf *b)
{
	json_t *progs = json_array();

	if (b && progs)
		json_array_append_new(progs, admit_json(d, b));
	if (b && progs && b->route)
		json_array_append_new(progs, gd_route_json(d, b->route));
	if (b && progs && b->pace)
		json_array_append_new(progs, gd_pace_json(d, b->pace));
	return json_pack("{s:s, s:o}", "mode", mode_names[b ? b->mode : GD_BPF_OFF],
			 "programs", progs);
}

void gd_bpf_stop(struct gd_bpf *b)
{
	if (!b)
		return;
	georep_admit__destroy(b->admit);
	gd_route_stop(b->route);
	gd_pace_stop(b->pace);
	if (b->nl)
		georep_nl_close(b->nl);
	free(b->vols);
	free(b);
}
