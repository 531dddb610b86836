// SPDX-License-Identifier: GPL-2.0
/*
 * A replica engine for tests, linked into georepd-probe: it exercises the
 * plug-in interface of replica.h end to end without consensus or kernel.
 * Every 500 ms it sends each connected replica site of its volume a
 * CONSENSUS frame (generic gr_cmsg layout, index = a counter); a receiver
 * checks from/to against the sender and answers with an ACK of that index.
 * status_json counts what was sent, received and acknowledged per site;
 * switchover and failover are recorded and reported.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../georepd.h"

struct probe {
	struct gr_replica r;
	uint64_t last_ns;
	uint64_t sent;
	uint64_t received[GR_CFG_MAX_SITES];
	uint64_t acked[GR_CFG_MAX_SITES];
	uint64_t ups, downs;
	char last_request[64];
};

static int probe_on_frame(struct gr_replica *r, unsigned int from, const struct gr_frame *f)
{
	struct probe *p = (struct probe *)r;
	const struct gr_cluster *cfg = gd_cluster(r->d);
	char err[GR_WIRE_ERRLEN];
	struct gr_frame ack = { .hdr.type = GR_FT_ACK, .hdr.volume = r->vol->cfg->wire_id };
	struct gr_cmsg m;

	switch (f->hdr.type) {
	case GR_FT_CONSENSUS:
		if (gr_cmsg_decode(f->consensus.data, f->consensus.len, &m, err))
			return -EPROTO;
		if (m.from != cfg->sites[from].site_id ||
		    m.to != cfg->sites[gd_self(r->d)].site_id)
			return -EPROTO;
		p->received[from]++;
		ack.ack.persisted_seq = m.index;
		gd_send(r->d, from, &ack);
		return 0;
	case GR_FT_ACK:
		p->acked[from]++;
		return 0;
	default:
		return -EPROTO;
	}
}

static void probe_on_tick(struct gr_replica *r, uint64_t now_ns)
{
	struct probe *p = (struct probe *)r;
	const struct gr_cluster *cfg = gd_cluster(r->d);
	const struct gr_volume_cfg *vc = r->vol->cfg;
	struct gr_frame f = { .hdr.type = GR_FT_CONSENSUS, .hdr.volume = vc->wire_id };
	uint8_t body[GR_CMSG_SIZE];
	struct gr_cmsg m = { .type = 1 };
	size_t i;

	if (now_ns - p->last_ns < 500000000ULL)
		return;
	p->last_ns = now_ns;
	m.from = cfg->sites[gd_self(r->d)].site_id;
	for (i = 0; i < vc->nreplicas; i++) {
		unsigned int site = vc->replicas[i].site;

		if (site == gd_self(r->d) || !gd_peer_up(r->d, site))
			continue;
		m.to = cfg->sites[site].site_id;
		m.index = ++p->sent;
		f.consensus.data = body;
		f.consensus.len = gr_cmsg_encode(body, sizeof(body), &m);
		gd_send(r->d, site, &f);
	}
}

static void probe_on_peer(struct gr_replica *r, unsigned int site, bool up)
{
	struct probe *p = (struct probe *)r;

	if (up)
		p->ups++;
	else
		p->downs++;
}

static json_t *probe_status(struct gr_replica *r)
{
	struct probe *p = (struct probe *)r;
	const struct gr_cluster *cfg = gd_cluster(r->d);
	json_t *rx = json_object(), *ack = json_object();
	size_t i;

	for (i = 0; i < cfg->nsites; i++) {
		if (i == gd_self(r->d))
			continue;
		json_object_set_new(rx, cfg->sites[i].name, json_integer(p->received[i]));
		json_object_set_new(ack, cfg->sites[i].name, json_integer(p->acked[i]));
	}
	return json_pack("{s:s, s:I, s:o, s:o, s:I, s:I, s:s}", "engine", "probe",
			 "sent", (json_int_t)p->sent, "received", rx, "acked", ack,
			 "peer_ups", (json_int_t)p->ups, "peer_downs", (json_int_t)p->downs,
			 "last_request", p->last_request);
}

static int probe_switchover(struct gr_replica *r, unsigned int to, unsigned int wait_s,
			    char *err)
{
	struct probe *p = (struct probe *)r;

	snprintf(p->last_request, sizeof(p->last_request), "switchover to %s",
		 gd_cluster(r->d)->sites[to].name);
	return 0;
}

static int probe_failover(struct gr_replica *r, char *err)
{
	struct probe *p = (struct probe *)r;

	snprintf(p->last_request, sizeof(p->last_request), "failover");
	return 0;
}

static void probe_destroy(struct gr_replica *r)
{
	free(r);
}

static const struct gr_replica_ops probe_ops = {
	.on_frame = probe_on_frame,
	.on_tick = probe_on_tick,
	.on_peer = probe_on_peer,
	.status_json = probe_status,
	.switchover = probe_switchover,
	.failover = probe_failover,
	.destroy = probe_destroy,
};

static int probe_new(struct georepd *d, struct gd_volume *vol, struct gr_replica **out)
{
	struct probe *p = calloc(1, sizeof(*p));

	if (!p)
		return -ENOMEM;
	p->r.ops = &probe_ops;
	p->r.d = d;
	p->r.vol = vol;
	*out = &p->r;
	return 0;
}

__attribute__((constructor)) static void probe_register(void)
{
	gd_replica_factory = probe_new;
}
