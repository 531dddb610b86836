// SPDX-License-Identifier: GPL-2.0
/*
 * The route program (ebpf/route.bpf.c): attach it to this site's
 * "route_cgroup" with one bpf_link per hook (connect4, connect6), fill its
 * services and backends maps from the configuration, keep its health map
 * current from the replication engines, report it. See bpf.h.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "georepd.h"
#include "bpf.h"
#include "route.h"
#include "route.skel.h"

#define HEALTH_PERIOD_MS	1000	/* written at least this often */
#define STALE_MS		5000	/* the program refuses older health */

struct route_vol {
	struct gd_volume *v;
	uint32_t slot;			/* key base in the program's maps */
	struct route_health h[ROUTE_MAX_SITES];	/* as last written */
	int leader;			/* as last logged */
	uint32_t self_flags;
};

struct gd_route {
	struct georep_route *skel;
	const char *cgroup;
	bool loaded, attached;
	char error[512];
	struct route_vol *vols;
	size_t nvols;
	uint64_t written_ms;
};

static const char *const refusal_names[ROUTE_REFUSE_NR] = {
	[ROUTE_REFUSE_NOQUORUM] = "no_quorum",
	[ROUTE_REFUSE_DEGRADED] = "degraded",
	[ROUTE_REFUSE_NOPRIMARY] = "no_primary",
	[ROUTE_REFUSE_STALE] = "stale",
};

static void addr_key(const struct gr_route_addr *a, uint32_t *family, uint32_t *port,
		     uint32_t addr[4])
{
	*family = a->family;
	*port = htons(a->port);
	memset(addr, 0, 16);
	memcpy(addr, a->addr, a->family == AF_INET ? 4 : 16);
}

static void addr_str(const struct gr_route_addr *a, char *buf, size_t len)
{
	char ip[INET6_ADDRSTRLEN];

	if (!inet_ntop(a->family, a->addr, ip, sizeof(ip)))
		snprintf(ip, sizeof(ip), "?");
	snprintf(buf, len, a->family == AF_INET6 ? "[%s]:%u" : "%s:%u", ip, a->port);
}

/* services and backends: what the configuration says, written once */
static int fill_static_maps(struct georepd *d, struct gd_route *r)
{
	size_t i, j;

	for (i = 0; i < r->nvols; i++) {
		const struct gr_volume_cfg *vc = r->vols[i].v->cfg;
		struct route_service svc = { .vol = r->vols[i].slot, .nsites = d->cfg->nsites };
		struct route_key key;

		addr_key(&vc->service, &key.family, &key.port, key.addr);
		if (bpf_map__update_elem(r->skel->maps.services, &key, sizeof(key), &svc,
					 sizeof(svc), BPF_ANY))
			return -errno;
		for (j = 0; j < vc->nreplicas; j++) {
			const struct gr_replica_cfg *rc = &vc->replicas[j];
			uint32_t slot = svc.vol * ROUTE_MAX_SITES + rc->site;
			struct route_backend b = { .valid = 1 };
			uint32_t family;

			addr_key(&rc->backend, &family, &b.port, b.addr);
			if (bpf_map__update_elem(r->skel->maps.backends, &slot, sizeof(slot), &b,
						 sizeof(b), BPF_ANY))
				return -errno;
		}
	}
	return 0;
}

static int attach(struct gd_route *r)
{
	struct georep_route *s = r->skel;
	struct bpf_program *const progs[] = { s->progs.georep_route4, s->progs.georep_route6 };
	struct bpf_link **const links[] = { &s->links.georep_route4, &s->links.georep_route6 };
	int ret;

	ret = gd_bpf_attach_cgroup(r->cgroup, progs, links, 2, r->error, sizeof(r->error));
	if (ret)
		return ret;
	r->attached = true;
	gd_info("bpf: route attached to %s (connect4, connect6), %zu volumes routed",
		r->cgroup, r->nvols);
	return 0;
}

static int load(struct georepd *d, struct gd_route *r)
{
	int ret;

	gd_bpf_reason_reset();
	r->skel = georep_route__open();
	if (!r->skel) {
		ret = -errno;
		snprintf(r->error, sizeof(r->error), "open: %s; libbpf: %.200s",
			 strerror(-ret), gd_bpf_reason());
		return ret;
	}
	r->skel->rodata->local_site = d->self;
	r->skel->rodata->stale_ms = STALE_MS;
	ret = georep_route__load(r->skel);
	if (ret) {
		snprintf(r->error, sizeof(r->error), "load: %s; libbpf: %.200s",
			 strerror(-ret), gd_bpf_reason());
		return ret;
	}
	r->loaded = true;
	ret = fill_static_maps(d, r);
	if (ret) {
		snprintf(r->error, sizeof(r->error), "filling the services map: %s",
			 strerror(-ret));
		return ret;
	}
	gd_route_tick(d, r);		/* health before the first connect */
	return attach(r);
}

int gd_route_start(struct georepd *d, struct gd_route **out)
{
	struct gd_route *r;
	size_t i;
	int ret;

	*out = NULL;
	if (!d->me->route_cgroup)
		return 0;
	r = calloc(1, sizeof(*r));
	if (r)
		r->vols = calloc(d->nvols ?: 1, sizeof(*r->vols));
	if (!r || !r->vols) {
		free(r);
		return -ENOMEM;
	}
	r->cgroup = d->me->route_cgroup;
	for (i = 0; i < d->nvols; i++) {
		if (!d->vols[i].cfg->service.family)
			continue;
		if (r->nvols == ROUTE_MAX_VOLUMES) {
			gd_warn("bpf: route: volume %s and later ones not routed: at most %d volumes",
				d->vols[i].cfg->name, ROUTE_MAX_VOLUMES);
			break;
		}
		r->vols[r->nvols].v = &d->vols[i];
		r->vols[r->nvols].slot = r->nvols;
		r->vols[r->nvols].leader = -2;
		r->nvols++;
	}
	*out = r;
	if (!r->nvols) {
		snprintf(r->error, sizeof(r->error),
			 "not loaded: no volume of site %s has a \"service\" address", d->me->name);
		gd_warn("bpf: route: %s", r->error);
		return 0;
	}
	ret = load(d, r);
	if (ret)
		gd_warn("bpf: route not attached (%s): connections are not steered", r->error);
	return ret;
}

/* The health of each site of @rv now, as this site's engine sees it. */
static void health_now(struct georepd *d, struct route_vol *rv,
		       struct route_health *h, int *leader)
{
	struct gr_replica *rep = rv->v->replica;
	struct gd_vol_health vh = { .leader = -1, .degraded = true };
	size_t i;

	if (rep && rep->ops->health)
		rep->ops->health(rep, &vh);
	*leader = vh.leader;
	memset(h, 0, ROUTE_MAX_SITES * sizeof(*h));
	for (i = 0; i < d->cfg->nsites && i < ROUTE_MAX_SITES; i++) {
		struct route_health *x = &h[i];

		if (vh.site[i].member)
			x->flags |= ROUTE_F_MEMBER;
		if (vh.site[i].reachable)
			x->flags |= ROUTE_F_REACHABLE;
		if ((int)i == vh.leader)
			x->flags |= ROUTE_F_PRIMARY;
		if (i == d->self) {
			if (vh.quorum)
				x->flags |= ROUTE_F_QUORUM;
			if (vh.degraded)
				x->flags |= ROUTE_F_DEGRADED;
		} else if (vh.site[i].reachable && d->peers) {
			const struct gd_live *l = gd_peer_hb_live(&d->peers[i]);

			if (l->have_rtt)
				x->rtt_us = l->srtt_ms * 1000;
		}
		x->lag_records = vh.site[i].lag_records;
	}
}

static bool health_changed(const struct route_health *a, const struct route_health *b)
{
	size_t i;

	for (i = 0; i < ROUTE_MAX_SITES; i++)
		if (a[i].flags != b[i].flags || a[i].lag_records != b[i].lag_records)
			return true;
	return false;
}

static void health_write(struct georepd *d, struct gd_route *r, struct route_vol *rv,
			 struct route_health *h, uint64_t now_ns)
{
	size_t i;

	for (i = 0; i < d->cfg->nsites && i < ROUTE_MAX_SITES; i++) {
		uint32_t slot = rv->slot * ROUTE_MAX_SITES + i;

		h[i].updated_ns = now_ns;
		if (bpf_map__update_elem(r->skel->maps.health, &slot, sizeof(slot), &h[i],
					 sizeof(h[i]), BPF_ANY))
			gd_dbg("bpf: route health map update: %s", strerror(errno));
	}
	memcpy(rv->h, h, sizeof(rv->h));
}

void gd_route_tick(struct georepd *d, struct gd_route *r)
{
	struct route_health h[ROUTE_MAX_SITES];
	uint64_t now = gr_now_ns();
	bool period;
	size_t i;
	int leader;

	if (!r || !r->loaded)
		return;
	period = now / 1000000 - r->written_ms >= HEALTH_PERIOD_MS;
	if (period)
		r->written_ms = now / 1000000;
	for (i = 0; i < r->nvols; i++) {
		struct route_vol *rv = &r->vols[i];
		uint32_t self_flags;

		health_now(d, rv, h, &leader);
		if (!period && !health_changed(h, rv->h))
			continue;
		health_write(d, r, rv, h, now);
		self_flags = h[d->self].flags & (ROUTE_F_QUORUM | ROUTE_F_DEGRADED);
		if (leader != rv->leader || self_flags != rv->self_flags)
			gd_info("bpf: route: volume %s: primary %s, here %s%s",
				rv->v->cfg->name, leader >= 0 ? d->cfg->sites[leader].name : "none",
				self_flags & ROUTE_F_QUORUM ? "quorum" : "no quorum",
				self_flags & ROUTE_F_DEGRADED ? ", degraded" : "");
		rv->leader = leader;
		rv->self_flags = self_flags;
	}
}

static json_t *site_json(struct georepd *d, struct gd_route *r, struct route_vol *rv,
			 unsigned int site, const struct route_stats *st)
{
	const struct gr_replica_cfg *rc = gr_volume_replica(rv->v->cfg, site);
	uint32_t slot = rv->slot * ROUTE_MAX_SITES + site;
	struct route_health h = { 0 };
	char addr[64];
	json_t *o;

	bpf_map__lookup_elem(r->skel->maps.health, &slot, sizeof(slot), &h, sizeof(h), 0);
	addr_str(&rc->backend, addr, sizeof(addr));
	o = json_pack("{s:s, s:s, s:b, s:b, s:I, s:I}", "site", d->cfg->sites[site].name,
		      "backend", addr, "reachable", !!(h.flags & ROUTE_F_REACHABLE),
		      "primary", !!(h.flags & ROUTE_F_PRIMARY),
		      "lag_records", (json_int_t)h.lag_records,
		      "redirected", (json_int_t)st->redirected[site]);
	if (o && h.rtt_us)
		json_object_set_new(o, "rtt_ms", json_real(h.rtt_us / 1000.0));
	return o;
}

static json_t *volume_json(struct georepd *d, struct gd_route *r, struct route_vol *rv,
			   uint64_t *redirected, uint64_t *refused)
{
	const struct gr_volume_cfg *vc = rv->v->cfg;
	uint32_t slot = rv->slot * ROUTE_MAX_SITES + d->self;
	json_t *o, *sites = json_array(), *why = json_object();
	struct route_stats st = { 0 };
	struct route_health me = { 0 };
	uint64_t total = 0;
	char addr[64];
	size_t i;

	bpf_map__lookup_elem(r->skel->maps.stats, &rv->slot, sizeof(rv->slot), &st,
			     sizeof(st), 0);
	bpf_map__lookup_elem(r->skel->maps.health, &slot, sizeof(slot), &me, sizeof(me), 0);
	for (i = 0; i < vc->nreplicas; i++)
		json_array_append_new(sites, site_json(d, r, rv, vc->replicas[i].site, &st));
	for (i = 0; i < ROUTE_MAX_SITES; i++)
		total += st.redirected[i];
	*redirected += total;
	for (i = 0; i < ROUTE_REFUSE_NR; i++) {
		json_object_set_new(why, refusal_names[i], json_integer(st.refused[i]));
		*refused += st.refused[i];
	}
	addr_str(&vc->service, addr, sizeof(addr));
	o = json_pack("{s:s, s:s, s:s?, s:b, s:b, s:I, s:o, s:o}", "volume", vc->name,
		      "service", addr,
		      "primary", rv->leader >= 0 ? d->cfg->sites[rv->leader].name : NULL,
		      "quorum", !!(me.flags & ROUTE_F_QUORUM),
		      "degraded", !!(me.flags & ROUTE_F_DEGRADED),
		      "redirected", (json_int_t)total, "refused", why, "sites", sites);
	return o;
}

static void prog_id(json_t *arr, struct bpf_program *p)
{
	struct bpf_prog_info info = { 0 };
	__u32 len = sizeof(info);

	if (!bpf_obj_get_info_by_fd(bpf_program__fd(p), &info, &len))
		json_array_append_new(arr, json_integer(info.id));
}

json_t *gd_route_json(struct georepd *d, struct gd_route *r)
{
	uint64_t redirected = 0, refused = 0;
	json_t *o, *vols, *ids;
	size_t i;

	o = json_pack("{s:s, s:s, s:s, s:b, s:b}", "name", "route",
		      "hook", "cgroup/connect4,connect6", "cgroup", r->cgroup,
		      "loaded", r->loaded, "attached", r->attached);
	if (!o)
		return NULL;
	if (r->error[0])
		json_object_set_new(o, "error", json_string(r->error));
	if (!r->loaded)
		return o;
	ids = json_array();
	prog_id(ids, r->skel->progs.georep_route4);
	prog_id(ids, r->skel->progs.georep_route6);
	json_object_set_new(o, "prog_ids", ids);
	vols = json_array();
	for (i = 0; i < r->nvols; i++)
		json_array_append_new(vols, volume_json(d, r, &r->vols[i], &redirected,
							&refused));
	json_object_set_new(o, "volumes", vols);
	json_object_set_new(o, "redirected", json_integer(redirected));
	json_object_set_new(o, "refused", json_integer(refused));
	return o;
}

void gd_route_stop(struct gd_route *r)
{
	if (!r)
		return;
	georep_route__destroy(r->skel);
	free(r->vols);
	free(r);
}
