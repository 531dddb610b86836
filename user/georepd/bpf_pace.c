// SPDX-License-Identifier: GPL-2.0
/*
 * The pace program (ebpf/pace.bpf.c): attach it to georepd's own cgroup v2
 * directory (cgroup_skb/egress, a bpf_link: gone with the process), keep
 * its rates map to one entry per established peer connection, named by the
 * socket's cookie, at the rate this site's "pace_mbit" gives (a share of it,
 * "pace_resync_percent", while a full resync runs to that peer), and report
 * its counters. The departure times it sets are kept by an fq qdisc only:
 * a peer whose bytes leave faster than paced is reported as not enforced.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "georep/transport.h"
#include "georepd.h"
#include "bpf.h"
#include "replica.h"
#include "pace.h"
#include "pace.skel.h"

#define PACE_PERIOD_MS		500	/* rates and the observed rate */
#define PACE_HORIZON_NS		20000000ULL	/* backlog before TCP is told to slow */
#define PACE_MAX_AHEAD_NS	1000000000ULL	/* never scheduled further ahead */
#define PACE_UNENFORCED_PCT	150	/* observed above this share of the rate */
#define PACE_UNENFORCED_N	2	/* ... this many periods running, and */
#define PACE_UNENFORCED_AHEAD_NS (PACE_MAX_AHEAD_NS / 2)	/* ... scheduled this far ahead */
#define PACE_RETRY_MS		60000	/* unenforced: counted only, this long */
#define PACE_UNIT_MS		10	/* a paced link's unsent bytes and pieces: this long */
#define PACE_UNIT_MIN		4096	/* ... at its rate, at least this */

struct pace_peer {
	uint64_t cookie;		/* in the maps; 0: none */
	uint64_t rate;			/* bytes/s it should get */
	bool written;			/* rates[cookie] holds it (else absent or 0) */
	bool resync;			/* the rate is the resync share */
	uint64_t seen_bytes;		/* flows[cookie].bytes at the last period */
	uint64_t observed;		/* bytes/s over the last period */
	unsigned int over;		/* periods running above the rate */
	bool unenforced;		/* counted only, until retry_ms */
	uint64_t retry_ms;
	bool warned;
	size_t unit;			/* its TCP_NOTSENT_LOWAT and piece size; 0: defaults */
};

struct gd_pace {
	struct georep_pace *skel;
	char cgroup[PATH_MAX];
	bool attached;
	char error[512];
	uint64_t period_ms;
	struct pace_peer peer[GR_CFG_MAX_SITES];
};

/* The cgroup v2 directory of this process: mount point + "0::" path. */
static int own_cgroup(char *buf, size_t len)
{
	char line[PATH_MAX + 64], mnt[PATH_MAX] = "", path[PATH_MAX] = "";
	char dev[64], dir[PATH_MAX], type[64];
	FILE *f = fopen("/proc/self/mounts", "re");

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "%63s %4095s %63s", dev, dir, type) == 3 &&
		    !strcmp(type, "cgroup2")) {
			snprintf(mnt, sizeof(mnt), "%s", dir);
			break;
		}
	if (f)
		fclose(f);
	f = fopen("/proc/self/cgroup", "re");
	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, "0::", 3)) {
			line[strcspn(line, "\n")] = '\0';
			if (strlen(line + 3) < sizeof(path))
				memcpy(path, line + 3, strlen(line + 3) + 1);
			break;
		}
	if (f)
		fclose(f);
	if (!mnt[0] || !path[0])
		return -ENOENT;
	if (snprintf(buf, len, "%s%s", mnt, strcmp(path, "/") ? path : "") >= (int)len)
		return -ENAMETOOLONG;
	return 0;
}

static int attach(struct gd_pace *p)
{
	int ret = own_cgroup(p->cgroup, sizeof(p->cgroup));

	if (ret) {
		snprintf(p->error, sizeof(p->error),
			 "georepd's cgroup v2 directory not found (no cgroup2 in /proc/self/mounts, or no 0:: line in /proc/self/cgroup; `ip netns exec` mounts a new /sys: nsenter --net keeps it): %s",
			 strerror(-ret));
		return ret;
	}
	return gd_bpf_attach_cgroup(p->cgroup, &p->skel->progs.georep_pace,
				    (struct bpf_link **const[]){ &p->skel->links.georep_pace }, 1,
				    p->error, sizeof(p->error));
}

static int load(struct georepd *d, struct gd_pace *p)
{
	int ret;

	gd_bpf_reason_reset();
	p->skel = georep_pace__open();
	if (!p->skel) {
		ret = -errno;
		snprintf(p->error, sizeof(p->error), "open: %.60s; libbpf: %.200s",
			 strerror(-ret), gd_bpf_reason());
		return ret;
	}
	p->skel->rodata->horizon_ns = PACE_HORIZON_NS;
	p->skel->rodata->max_ahead_ns = PACE_MAX_AHEAD_NS;
	ret = georep_pace__load(p->skel);
	if (ret) {
		snprintf(p->error, sizeof(p->error), "load: %.60s; libbpf: %.200s",
			 strerror(-ret), gd_bpf_reason());
		return ret;
	}
	ret = attach(p);
	if (ret)
		return ret;
	p->attached = true;
	gd_info("bpf: pace attached to %s (cgroup_skb/egress): %u Mbit/s per peer link, %u%% during a full resync; the egress devices need the fq qdisc",
		p->cgroup, d->me->pace_mbit, d->me->pace_resync_pct);
	return 0;
}

int gd_pace_start(struct georepd *d, struct gd_pace **out)
{
	struct gd_pace *p;
	int ret;

	*out = NULL;
	if (!d->me->pace_mbit)
		return 0;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	*out = p;
	ret = load(d, p);
	if (ret)
		gd_warn("bpf: pace not attached (%s): replication is not paced", p->error);
	return ret;
}

static void forget(struct gd_pace *p, struct pace_peer *pp)
{
	if (pp->cookie) {
		bpf_map__delete_elem(p->skel->maps.rates, &pp->cookie, sizeof(pp->cookie), 0);
		bpf_map__delete_elem(p->skel->maps.flows, &pp->cookie, sizeof(pp->cookie), 0);
	}
	memset(pp, 0, sizeof(*pp));
}

/* The sites this site sends a full resync to, of any volume: they get the resync share. */
static void resyncing(struct georepd *d, bool out[GR_CFG_MAX_SITES])
{
	struct gd_vol_health h;
	size_t i, j;

	memset(out, 0, GR_CFG_MAX_SITES * sizeof(out[0]));
	for (i = 0; i < d->nvols; i++) {
		struct gr_replica *r = d->vols[i].replica;

		if (!r || !r->ops->health)
			continue;
		r->ops->health(r, &h);
		for (j = 0; j < GR_CFG_MAX_SITES; j++)
			out[j] |= h.site[j].resync_out;
	}
}

/* bpf_ktime_get_ns()'s clock */
static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

/*
 * Once a period: the bytes that left for @pp against its rate. Departure
 * times nobody keeps (no fq) would only make TCP back off for nothing
 * (pace.bpf.c signals congestion past the horizon): such a peer is counted
 * only, and paced again after PACE_RETRY_MS.
 */
static void observe(struct georepd *d, struct gd_pace *p, struct pace_peer *pp,
		    unsigned int site, uint64_t now, uint64_t dt_ms)
{
	struct pace_flow f;

	if (bpf_map__lookup_elem(p->skel->maps.flows, &pp->cookie, sizeof(pp->cookie), &f,
				 sizeof(f), 0))
		return;
	pp->observed = (f.bytes - pp->seen_bytes) * 1000 / (dt_ms ?: 1);
	pp->seen_bytes = f.bytes;
	/*
	 * The program counts a packet when it is scheduled, fq sends it at
	 * that time: with fq the count runs ahead of the departures by the
	 * backlog, which TCP keeps near the horizon. Without fq nothing holds
	 * the packets, TCP sends on and the schedule runs away towards
	 * max_ahead_ns.
	 */
	if (pp->unenforced || !pp->written || !f.delayed ||
	    pp->observed * 100 <= pp->rate * PACE_UNENFORCED_PCT ||
	    f.next_ns < mono_ns() + PACE_UNENFORCED_AHEAD_NS) {
		pp->over = 0;
		return;
	}
	if (++pp->over < PACE_UNENFORCED_N)
		return;
	pp->unenforced = true;
	pp->retry_ms = now + PACE_RETRY_MS;
	if (!pp->warned)
		gd_warn("bpf: pace: %llu B/s left for %s, paced to %llu B/s: departure times are not kept, counting only; is fq the root qdisc of the device towards it (tc qdisc replace dev DEV root fq)?",
			(unsigned long long)pp->observed, d->cfg->sites[site].name,
			(unsigned long long)pp->rate);
	pp->warned = true;
}

/*
 * A paced link drains at its rate: what a control frame waits behind, the
 * socket's unsent bytes (TCP_NOTSENT_LOWAT) and one piece of a bulk frame,
 * is cut to PACE_UNIT_MS of it (4 KiB each at 3 Mbit/s, not 32 and 64 KiB).
 */
static size_t pace_unit(uint64_t rate)
{
	uint64_t b = rate * PACE_UNIT_MS / 1000;

	return b < PACE_UNIT_MIN ? PACE_UNIT_MIN : b >= GR_CONN_NOTSENT_LOWAT ? 0 : b;
}

static void set_unit(struct pace_peer *pp, struct gr_conn *c, size_t unit)
{
	if (!c || unit == pp->unit)
		return;
	if (gr_conn_set_notsent_lowat(c, unit))
		return;
	gr_conn_set_part_size(c, unit);
	pp->unit = unit;
}

static void peer_tick(struct georepd *d, struct gd_pace *p, unsigned int i, uint64_t now,
		      bool period, uint64_t dt_ms, bool resync)
{
	struct pace_peer *pp = &p->peer[i];
	struct gr_conn *c = d->peers[i].conn;
	uint64_t cookie = c && gr_conn_is_open(c) ? gr_conn_sock_cookie(c) : 0;
	uint64_t budget = (uint64_t)d->me->pace_mbit * 1000000 / 8;
	struct pace_rate r = { .peer = i };
	bool warned = pp->warned;

	if (cookie != pp->cookie) {
		forget(p, pp);
		pp->cookie = cookie;
		pp->warned = warned;
		period = true;		/* its rate now */
	}
	if (!cookie || !period)
		return;
	observe(d, p, pp, i, now, dt_ms);
	if (pp->unenforced && now >= pp->retry_ms) {
		pp->unenforced = false;
		pp->written = false;
	}
	pp->resync = resync;
	r.bytes_per_s = pp->resync ? budget * d->me->pace_resync_pct / 100 : budget;
	if (pp->written && r.bytes_per_s == pp->rate && !pp->unenforced)
		return;
	pp->rate = r.bytes_per_s;
	if (pp->unenforced)
		r.bytes_per_s = 0;	/* count only */
	if (bpf_map__update_elem(p->skel->maps.rates, &cookie, sizeof(cookie), &r, sizeof(r),
				 BPF_ANY)) {
		gd_dbg("bpf: pace rates map update for %s: %s", d->cfg->sites[i].name,
		       strerror(errno));
		return;
	}
	pp->written = !pp->unenforced;
	pp->over = 0;
	set_unit(pp, c, pp->written ? pace_unit(pp->rate) : 0);
}

void gd_pace_tick(struct georepd *d, struct gd_pace *p)
{
	uint64_t now = gr_now_ms(), dt;
	bool period, resync[GR_CFG_MAX_SITES];
	unsigned int i;

	if (!p || !p->attached)
		return;
	dt = now - p->period_ms;
	period = dt >= PACE_PERIOD_MS;
	if (period)
		p->period_ms = now;
	resyncing(d, resync);
	for (i = 0; i < d->cfg->nsites && i < GR_CFG_MAX_SITES; i++)
		if (i != d->self)
			peer_tick(d, p, i, now, period, dt, resync[i]);
}

static json_t *peer_json(struct georepd *d, struct gd_pace *p, unsigned int i)
{
	struct pace_peer *pp = &p->peer[i];
	struct pace_flow f = { 0 };

	if (pp->cookie)
		bpf_map__lookup_elem(p->skel->maps.flows, &pp->cookie, sizeof(pp->cookie), &f,
				     sizeof(f), 0);
	return json_pack("{s:s, s:b, s:I, s:b, s:b, s:I, s:I, s:I, s:I, s:I, s:f, s:f, s:I, s:b, s:I, s:I}",
			 "site", d->cfg->sites[i].name, "connected", pp->cookie != 0,
			 "rate_bytes_s", (json_int_t)pp->rate, "paced", pp->written,
			 "resync", pp->resync,
			 "observed_bytes_s", (json_int_t)pp->observed,
			 "bytes", (json_int_t)f.bytes, "packets", (json_int_t)f.packets,
			 "acks", (json_int_t)f.acks, "delayed", (json_int_t)f.delayed,
			 "delay_avg_ms", f.delayed ? f.delay_ns / 1e6 / f.delayed : 0.0,
			 "delay_max_ms", f.delay_max_ns / 1e6,
			 "congested", (json_int_t)f.congested, "enforced", !pp->unenforced,
			 "notsent_lowat", (json_int_t)(pp->unit ? pp->unit : GR_CONN_NOTSENT_LOWAT),
			 "part_size", (json_int_t)(pp->unit ? pp->unit : GR_PART_SIZE));
}

json_t *gd_pace_json(struct georepd *d, struct gd_pace *p)
{
	json_t *o, *peers;
	unsigned int i;

	o = json_pack("{s:s, s:s, s:s, s:b, s:b, s:i, s:i, s:f}", "name", "pace",
		      "hook", "cgroup_skb/egress", "cgroup", p->cgroup,
		      "loaded", p->skel != NULL, "attached", p->attached,
		      "mbit", (int)d->me->pace_mbit, "resync_percent", (int)d->me->pace_resync_pct,
		      "horizon_ms", PACE_HORIZON_NS / 1e6);
	if (!o)
		return NULL;
	if (p->error[0])
		json_object_set_new(o, "error", json_string(p->error));
	peers = json_array();
	for (i = 0; p->attached && peers && i < d->cfg->nsites && i < GR_CFG_MAX_SITES; i++)
		if (i != d->self)
			json_array_append_new(peers, peer_json(d, p, i));
	json_object_set_new(o, "peers", peers);
	return o;
}

int gd_pace_set_attached(struct georepd *d, struct gd_pace *p, bool on, char *err,
			 size_t errlen)
{
	unsigned int i;
	int ret;

	if (!p->skel || bpf_program__fd(p->skel->progs.georep_pace) < 0) {
		snprintf(err, errlen, "the pace program is not loaded (%s)", p->error);
		return -EOPNOTSUPP;
	}
	if (on && !p->attached) {
		p->error[0] = '\0';
		ret = attach(p);
		if (ret) {
			snprintf(err, errlen, "%s", p->error);
			return ret;
		}
		p->attached = true;
		gd_info("bpf: pace attached on request");
	} else if (!on && p->attached) {
		bpf_link__destroy(p->skel->links.georep_pace);
		p->skel->links.georep_pace = NULL;
		p->attached = false;
		for (i = 0; i < GR_CFG_MAX_SITES; i++) {
			set_unit(&p->peer[i], i < d->cfg->nsites ? d->peers[i].conn : NULL, 0);
			forget(p, &p->peer[i]);
		}
		snprintf(p->error, sizeof(p->error), "detached on request");
		gd_info("bpf: pace detached on request: replication is not paced");
	}
	return 0;
}

void gd_pace_stop(struct gd_pace *p)
{
	if (!p)
		return;
	georep_pace__destroy(p->skel);
	free(p);
}
