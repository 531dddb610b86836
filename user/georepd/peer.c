// SPDX-License-Identifier: GPL-2.0
/* Site-to-site connections: hello exchange, liveness, RTT, frame dispatch. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "georepd.h"

#define GD_RENEW_GAP_MS	1000

static void peer_frame(struct gr_conn *c, const struct gr_frame *f, void *arg);
static void peer_close(struct gr_conn *c, int err, const char *reason, void *arg);
static void ctl_in_frame(struct gr_conn *c, const struct gr_frame *f, void *arg);
static void ctl_in_close(struct gr_conn *c, int err, const char *reason, void *arg);
static const struct gr_conn_cbs ctl_dial_cbs;

/* accepted connections after their hello */
static const struct gr_conn_cbs peer_in_cbs = {
	.on_frame = peer_frame,
	.on_close = peer_close,
};

/* accepted control connections after their hello */
static const struct gr_conn_cbs ctl_in_cbs = {
	.on_frame = ctl_in_frame,
	.on_close = ctl_in_close,
};

static void send_hello(struct georepd *d, struct gr_conn *c, bool control)
{
	struct gr_frame f = { .hdr.type = GR_FT_HELLO };

	f.hello.control = control;
	f.hello.min_version = GR_WIRE_VERSION_MIN;
	f.hello.max_version = GR_WIRE_VERSION;
	f.hello.site_id = d->me->site_id;
	strcpy(f.hello.site, d->me->name);
	snprintf(f.hello.cluster, sizeof(f.hello.cluster), "%s", d->cfg->cluster);
	gr_conn_send(c, &f);
}

/* Send an ERROR frame, then close. */
static void reject(struct gr_conn *c, uint32_t code, const char *why)
{
	struct gr_frame f = { .hdr.type = GR_FT_ERROR };

	f.error.code = code;
	snprintf(f.error.reason, sizeof(f.error.reason), "%s", why);
	gr_conn_send(c, &f);
	gr_conn_close(c, -EPERM, "%s", why);
}

/*
 * Check a hello against the configuration. @expect: the site we dialed,
 * or -1. Return: the site index, or -1 with @why and @code set.
 */
static int check_hello(struct georepd *d, const struct gr_hello *h, int expect,
		       uint16_t *version, char *why, size_t len, uint32_t *code)
{
	unsigned int lo, hi;
	int site;

	if (strcmp(h->cluster, d->cfg->cluster)) {
		snprintf(why, len, "cluster mismatch: peer \"%s\" is in cluster \"%s\", this site in \"%s\"",
			 h->site, h->cluster, d->cfg->cluster);
		*code = GR_WERR_CLUSTER;
		return -1;
	}
	site = gr_cluster_site_index(d->cfg, h->site);
	if (site < 0) {
		snprintf(why, len, "unknown site \"%s\" (not in the configuration)", h->site);
		*code = GR_WERR_UNKNOWN_SITE;
		return -1;
	}
	if ((unsigned int)site == d->self) {
		snprintf(why, len, "peer claims to be this site (\"%s\")", h->site);
		*code = GR_WERR_UNKNOWN_SITE;
		return -1;
	}
	if (expect >= 0 && site != expect) {
		snprintf(why, len, "dialed site \"%s\" but \"%s\" answered",
			 d->cfg->sites[expect].name, h->site);
		*code = GR_WERR_UNKNOWN_SITE;
		return -1;
	}
	if (h->site_id != d->cfg->sites[site].site_id) {
		snprintf(why, len, "site \"%s\" says site_id %u, the configuration says %u",
			 h->site, h->site_id, d->cfg->sites[site].site_id);
		*code = GR_WERR_UNKNOWN_SITE;
		return -1;
	}
	lo = h->min_version > GR_WIRE_VERSION_MIN ? h->min_version : GR_WIRE_VERSION_MIN;
	hi = h->max_version < GR_WIRE_VERSION ? h->max_version : GR_WIRE_VERSION;
	if (lo > hi) {
		snprintf(why, len, "no common protocol version: site \"%s\" speaks %u..%u, this site %u..%u",
			 h->site, h->min_version, h->max_version,
			 GR_WIRE_VERSION_MIN, GR_WIRE_VERSION);
		*code = GR_WERR_VERSION;
		return -1;
	}
	if (expect < 0 && d->peers[site].dial) {
		snprintf(why, len, "site \"%s\" must not dial: \"%s\" dials it", h->site,
			 d->me->name);
		*code = GR_WERR_DUPLICATE;
		return -1;
	}
	*version = hi;
	return site;
}

/* ---- liveness of one connection ---- */

static void live_reset(struct gd_live *l)
{
	memset(l, 0, sizeof(*l));
	l->last_rx_ms = gr_now_ms();
}

/* A PONG: the round trip of its ping. */
static void live_pong(struct gd_live *l, const struct gr_ping *pg)
{
	uint64_t now = gr_now_ns();

	/*
	 * A late answer to an older ping still measures its round trip: a
	 * ping stuck behind data must show, not be skipped.
	 */
	if (pg->nonce <= l->pong_nonce || pg->nonce > l->ping_nonce || pg->time_ns > now)
		return;
	l->pong_nonce = pg->nonce;
	l->rtt_ms = (now - pg->time_ns) / 1e6;
	l->srtt_ms = l->have_rtt ? l->srtt_ms * 7 / 8 + l->rtt_ms / 8 : l->rtt_ms;
	l->have_rtt = true;
}

/* Once a tick. Return: false when @c was silent too long and is closed. */
static bool live_tick(struct gd_live *l, struct gr_conn *c, uint64_t now)
{
	struct gr_frame f = { .hdr.type = GR_FT_PING };

	if (now - l->last_rx_ms > GD_PEER_TIMEOUT_MS) {
		reject(c, GR_WERR_PROTOCOL, "nothing received for 5 s");
		return false;
	}
	if (now - l->last_ping_ms >= GD_PING_MS) {
		f.ping.nonce = ++l->ping_nonce;
		f.ping.time_ns = gr_now_ns();
		l->last_ping_ms = now;
		gr_conn_send(c, &f);
	}
	return true;
}

/* ---- the control connection ---- */

static void ctl_up(struct gd_peer *p, struct gr_conn *c)
{
	if (p->ctl && p->ctl != c) {
		struct gr_conn *old = p->ctl;

		p->ctl = NULL;
		reject(old, GR_WERR_DUPLICATE, "replaced by a newer connection");
	}
	p->ctl = c;
	gr_conn_set_version(c, p->version);
	gr_conn_set_max_body(c, GR_WIRE_MAX_BODY);
	live_reset(&p->ctl_live);
	p->ctl_ups++;
	gd_info("peer %s: control connection up (%s %s)", p->cfg->name,
		gr_conn_is_server(c) ? "from" : "to", gr_conn_peer_addr(c));
}

static void ctl_down(struct gd_peer *p, const char *reason)
{
	p->ctl = NULL;
	if (p->conn)
		gd_info("peer %s: control connection down (%s): heartbeats go with the data",
			p->cfg->name, reason);
}

/* The main connection went (@why): its control connection goes with it. */
static void ctl_stop(struct gd_peer *p, const char *why)
{
	if (p->ctl_dialer) {
		gr_dialer_free(p->ctl_dialer);	/* closes p->ctl */
		p->ctl_dialer = NULL;
	}
	if (p->ctl)
		reject(p->ctl, GR_WERR_SHUTDOWN, why);
	p->ctl = NULL;
	p->ctl_dial_open_ms = 0;
}

/* The main connection is up: dial its control connection, if it is ours to. */
static void ctl_start(struct gd_peer *p)
{
	struct georepd *d = p->d;

	if (!p->dial || p->version < GR_WIRE_VERSION_CTLCONN || p->ctl_dialer)
		return;
	p->ctl_dialer = gr_dialer_new(d->loop, d->tp, (struct sockaddr *)&p->sa, p->salen,
				      GD_BACKOFF_MIN_MS, GD_BACKOFF_MAX_MS, &ctl_dial_cbs, p);
	if (!p->ctl_dialer) {
		gd_warn("peer %s: no control connection: out of memory", p->cfg->name);
		return;
	}
	/* fits: the main dialer took it */
	gr_dialer_set_peer_name(p->ctl_dialer, p->cfg->name);
}

static void peer_up(struct gd_peer *p, struct gr_conn *c, uint16_t version)
{
	struct georepd *d = p->d;
	size_t i;

	if (p->conn && p->conn != c) {
		/* the newer connection wins: the old one may be half dead */
		struct gr_conn *old = p->conn;

		p->conn = NULL;
		ctl_stop(p, "main connection replaced");
		reject(old, GR_WERR_DUPLICATE, "replaced by a newer connection");
	}
	p->conn = c;
	p->version = version;
	gr_conn_set_version(c, version);
	gr_conn_set_max_body(c, GR_WIRE_MAX_BODY);
	gr_conn_set_lane_limit(c, GR_LANE_BULK, GD_BULK_LIMIT);
	live_reset(&p->live);
	p->up_since_ms = p->live.last_rx_ms;
	p->ups++;
	p->key_updates_logged = 0;
	p->last_error[0] = '\0';
	gd_info("peer %s up (%s %s, protocol %u)", p->cfg->name,
		gr_conn_is_server(c) ? "from" : "to", gr_conn_peer_addr(c), version);
	gd_event(d, "peer-up", json_pack("{s:s, s:s}", "site", p->cfg->name,
					 "direction", gr_conn_is_server(c) ? "in" : "out"));
	for (i = 0; i < d->nvols; i++)
		if (d->vols[i].replica && d->vols[i].replica->ops->on_peer)
			d->vols[i].replica->ops->on_peer(d->vols[i].replica, p->idx, true);
	ctl_start(p);
}

static void peer_down(struct gd_peer *p, const char *reason)
{
	struct georepd *d = p->d;
	size_t i;

	p->conn = NULL;
	ctl_stop(p, "main connection closed");
	p->downs++;
	snprintf(p->last_error, sizeof(p->last_error), "%s", reason);
	gd_warn("peer %s down: %s", p->cfg->name, reason);
	gd_event(d, "peer-down", json_pack("{s:s, s:s}", "site", p->cfg->name,
					   "reason", reason));
	for (i = 0; i < d->nvols; i++)
		if (d->vols[i].replica && d->vols[i].replica->ops->on_peer)
			d->vols[i].replica->ops->on_peer(d->vols[i].replica, p->idx, false);
}

static void volume_frame(struct gd_peer *p, struct gr_conn *c, const struct gr_frame *f)
{
	struct georepd *d = p->d;
	struct gd_volume *v = NULL;
	size_t i;
	int ret;

	for (i = 0; i < d->nvols; i++)
		if (d->vols[i].cfg->wire_id == f->hdr.volume)
			v = &d->vols[i];
	if (!v) {
		if (gd_ratelimit(&p->rl))
			gd_warn("peer %s: %s frame for volume id %016llx, which has no replica here",
				p->cfg->name, gr_frame_type_name(f->hdr.type),
				(unsigned long long)f->hdr.volume);
		return;
	}
	v->frames_in++;
	if (!v->replica) {
		v->frames_dropped++;
		return;
	}
	/*
	 * Only a replica site of the volume talks about it: one that is not
	 * (a valid site of the cluster) would otherwise get its seal keys,
	 * plant keys, or read its blocks through a heal
	 */
	if (!gr_volume_replica(v->cfg, p->idx)) {
		v->frames_dropped++;
		v->frames_foreign++;
		if (gd_ratelimit(&p->rl))
			gd_warn("peer %s: %s frame for volume %s dropped: %s holds no replica of it",
				p->cfg->name, gr_frame_type_name(f->hdr.type), v->cfg->name,
				p->cfg->name);
		return;
	}
	ret = v->replica->ops->on_frame(v->replica, p->idx, f);
	if (ret < 0)
		reject(c, GR_WERR_PROTOCOL, "volume frame refused");
}

/* A frame on an established connection watched by @l; true once handled. */
static bool link_frame(struct gr_conn *c, struct gd_live *l, const struct gr_frame *f)
{
	struct gr_frame r;

	l->last_rx_ms = gr_now_ms();
	switch (f->hdr.type) {
	case GR_FT_PING:
		r = *f;
		r.hdr.type = GR_FT_PONG;
		gr_conn_send(c, &r);
		return true;
	case GR_FT_PONG:
		live_pong(l, &f->ping);
		return true;
	case GR_FT_ERROR:
		gr_conn_close(c, -ECONNABORTED, "peer sent error %u: %s", f->error.code,
			      f->error.reason);
		return true;
	case GR_FT_HELLO:
		reject(c, GR_WERR_PROTOCOL, "hello after the connection was established");
		return true;
	default:
		return false;
	}
}

static void established_frame(struct gd_peer *p, struct gr_conn *c,
			      const struct gr_frame *f)
{
	if (!link_frame(c, &p->live, f))
		volume_frame(p, c, f);
}

/* The control connection carries consensus messages, never data. */
static void ctl_frame(struct gd_peer *p, struct gr_conn *c, const struct gr_frame *f)
{
	char why[96];

	if (link_frame(c, &p->ctl_live, f))
		return;
	if (f->hdr.type != GR_FT_CONSENSUS) {
		snprintf(why, sizeof(why), "%s frame on the control connection",
			 gr_frame_type_name(f->hdr.type));
		reject(c, GR_WERR_PROTOCOL, why);
		return;
	}
	volume_frame(p, c, f);
}

/* ---- outgoing connections (this site dials) ---- */

/* A connection we dialed is open: our hello, and its answer awaited since @open_ms. */
static void dial_opened(struct gd_peer *p, struct gr_conn *c, uint64_t *open_ms, bool control)
{
	*open_ms = gr_now_ms();
	gr_conn_set_max_body(c, GD_PRE_HELLO_MAX_BODY);
	send_hello(p->d, c, control);
}

/*
 * The connection of @dl not answered (not @up) since @open_ms: closed once
 * GD_HELLO_TIMEOUT_MS passed. Return: true when it was closed.
 */
static bool dial_overdue(struct gr_dialer *dl, const struct gr_conn *up, uint64_t open_ms,
			 uint64_t now, const char *what)
{
	struct gr_conn *dc = dl ? gr_dialer_conn(dl) : NULL;

	if (!dc || dc == up || !open_ms || now - open_ms <= GD_HELLO_TIMEOUT_MS)
		return false;
	gr_conn_close(dc, -ETIMEDOUT, "no %s within %d ms", what, GD_HELLO_TIMEOUT_MS);
	return true;
}

static void dial_open(struct gr_conn *c, void *arg)
{
	struct gd_peer *p = arg;

	dial_opened(p, c, &p->dial_open_ms, false);
}

/*
 * The answer to our hello on a connection we dialed (@control: a control
 * connection's). Return: true when it is the hello of the site we dialed,
 * with @version; else @c is closed.
 */
static bool dial_answer(struct gd_peer *p, struct gr_conn *c, const struct gr_frame *f,
			bool control, uint16_t *version)
{
	const char *what = control ? "control connection" : "connection";
	char why[256];
	uint32_t code;

	if (f->hdr.type == GR_FT_ERROR) {
		gr_conn_close(c, -ECONNREFUSED, "%s refused by %s: %s", what, p->cfg->name,
			      f->error.reason);
		return false;
	}
	if (f->hdr.type != GR_FT_HELLO || f->hello.control != control) {
		snprintf(why, sizeof(why), "expected the hello of a %s", what);
		reject(c, GR_WERR_PROTOCOL, why);
		return false;
	}
	if (check_hello(p->d, &f->hello, p->idx, version, why, sizeof(why), &code) < 0) {
		if (gd_ratelimit(&p->rl))
			gd_warn("rejecting hello from %s: %s", gr_conn_peer_addr(c), why);
		reject(c, code, why);
		return false;
	}
	return true;
}

static void dial_frame(struct gr_conn *c, const struct gr_frame *f, void *arg)
{
	struct gd_peer *p = arg;
	uint16_t version;

	if (p->conn == c) {
		established_frame(p, c, f);
		return;
	}
	/* waiting for the peer's hello */
	if (!dial_answer(p, c, f, false, &version))
		return;
	p->dial_open_ms = 0;
	gr_dialer_reset_backoff(p->dialer);
	peer_up(p, c, version);
}

static void dial_close(struct gr_conn *c, int err, const char *reason, void *arg)
{
	struct gd_peer *p = arg;

	p->dial_open_ms = 0;
	if (p->conn == c) {
		peer_down(p, reason);
		return;
	}
	/*
	 * A site that does not prove who it is, or that refuses our
	 * certificate, is worth a warning: one line per attempt, rate
	 * limited. Plain failures to connect are frequent while a site is
	 * down: debug, once a while.
	 */
	if (err == -ECONNREFUSED && strstr(reason, "refused by")) {
		gd_warn("%s", reason);
	} else if (strstr(reason, "tls handshake:") || strstr(reason, "refused by the peer")) {
		if (gd_ratelimit(&p->rl))
			gd_warn("refusing connection to site %s at %s: %s", p->cfg->name,
				gr_conn_peer_addr(c), reason);
	} else if (strcmp(p->last_error, reason) || gd_ratelimit(&p->rl)) {
		gd_dbg("connect to %s (%s): %s", p->cfg->name, gr_conn_peer_addr(c), reason);
	}
	snprintf(p->last_error, sizeof(p->last_error), "%s", reason);
}

static const struct gr_conn_cbs dial_cbs = {
	.on_open = dial_open,
	.on_frame = dial_frame,
	.on_close = dial_close,
};

static void ctl_dial_open(struct gr_conn *c, void *arg)
{
	struct gd_peer *p = arg;

	dial_opened(p, c, &p->ctl_dial_open_ms, true);
}

static void ctl_dial_frame(struct gr_conn *c, const struct gr_frame *f, void *arg)
{
	struct gd_peer *p = arg;
	uint16_t version;

	if (p->ctl == c) {
		ctl_frame(p, c, f);
		return;
	}
	if (!dial_answer(p, c, f, true, &version))
		return;
	p->ctl_dial_open_ms = 0;
	gr_dialer_reset_backoff(p->ctl_dialer);
	ctl_up(p, c);
}

static void ctl_dial_close(struct gr_conn *c, int err, const char *reason, void *arg)
{
	struct gd_peer *p = arg;

	p->ctl_dial_open_ms = 0;
	if (p->ctl == c)
		ctl_down(p, reason);
	else if (p->conn && gd_ratelimit(&p->rl))
		gd_warn("peer %s: control connection: %s", p->cfg->name, reason);
}

static const struct gr_conn_cbs ctl_dial_cbs = {
	.on_open = ctl_dial_open,
	.on_frame = ctl_dial_frame,
	.on_close = ctl_dial_close,
};

/* ---- incoming connections ---- */

static struct gd_pending *find_pending(struct georepd *d, struct gr_conn *c,
				       struct gd_pending ***link)
{
	struct gd_pending **pp;

	for (pp = &d->pending; *pp; pp = &(*pp)->next) {
		if ((*pp)->conn == c) {
			if (link)
				*link = pp;
			return *pp;
		}
	}
	return NULL;
}

static void drop_pending(struct georepd *d, struct gr_conn *c)
{
	struct gd_pending **link, *pd = find_pending(d, c, &link);

	if (pd) {
		*link = pd->next;
		d->npending--;
		free(pd);
	}
}

static void rejected_frame(struct gr_conn *c, const struct gr_frame *f, void *arg)
{
}

/* a connection refused and logged already: its close says nothing more */
static const struct gr_conn_cbs rejected_cbs = {
	.on_frame = rejected_frame,
};

static void in_open(struct gr_conn *c, void *arg)
{
	struct georepd *d = arg;
	struct gd_pending *pd;

	/* strangers cannot hold more than a bounded set of sockets and buffers */
	if (d->npending >= GD_MAX_PENDING) {
		d->rejected++;
		if (gd_ratelimit(&d->rl))
			gd_warn("refusing connection from %s: %d connections already await their hello",
				gr_conn_peer_addr(c), GD_MAX_PENDING);
		gr_conn_set_cbs(c, &rejected_cbs, NULL);
		gr_conn_close(c, -EBUSY, "too many connections awaiting hello");
		return;
	}
	pd = calloc(1, sizeof(*pd));
	if (!pd) {
		gd_warn("refusing connection from %s: out of memory", gr_conn_peer_addr(c));
		gr_conn_set_cbs(c, &rejected_cbs, NULL);
		gr_conn_close(c, -ENOMEM, "out of memory");
		return;
	}
	gr_conn_set_max_body(c, GD_PRE_HELLO_MAX_BODY);
	pd->d = d;
	pd->conn = c;
	pd->since_ms = gr_now_ms();
	pd->next = d->pending;
	d->pending = pd;
	d->npending++;
}

static void in_reject(struct georepd *d, struct gr_conn *c, uint32_t code, const char *why)
{
	d->rejected++;
	gd_warn("rejecting connection from %s: %s", gr_conn_peer_addr(c), why);
	gd_event(d, "peer-rejected", json_pack("{s:s, s:s}", "address",
					       gr_conn_peer_addr(c), "reason", why));
	drop_pending(d, c);
	gr_conn_set_cbs(c, &rejected_cbs, NULL);
	reject(c, code, why);
}

/*
 * With TLS, the hello must come from the site the certificate names.
 * Return: true when it does (or without TLS), false with @why set.
 */
static bool hello_matches_cert(struct georepd *d, struct gr_conn *c,
			       const struct gr_hello *h, char *why, size_t len)
{
	const char *id = gr_conn_peer_identity(c);

	if (!d->cfg->tls.enabled)
		return true;
	if (!id) {
		snprintf(why, len, "no certificate: hello claims site \"%s\"", h->site);
		return false;
	}
	if (strcmp(id, h->site)) {
		snprintf(why, len, "wrong name: hello claims site \"%s\" but the certificate is for \"%s\"",
			 h->site, id);
		return false;
	}
	return true;
}

/* A control connection belongs to the site's main connection, up already. */
static void in_ctl(struct georepd *d, struct gd_peer *p, struct gr_conn *c)
{
	char why[160];

	if (!p->conn || p->version < GR_WIRE_VERSION_CTLCONN) {
		snprintf(why, sizeof(why),
			 "control connection from site \"%s\", which has no connection of protocol %u or later here",
			 p->cfg->name, GR_WIRE_VERSION_CTLCONN);
		in_reject(d, c, GR_WERR_PROTOCOL, why);
		return;
	}
	drop_pending(d, c);
	send_hello(d, c, true);
	gr_conn_set_cbs(c, &ctl_in_cbs, p);
	ctl_up(p, c);
}

static void in_frame(struct gr_conn *c, const struct gr_frame *f, void *arg)
{
	struct georepd *d = arg;
	struct gd_peer *p;
	char why[256];
	uint32_t code;
	uint16_t version;
	int site;

	if (f->hdr.type != GR_FT_HELLO) {
		snprintf(why, sizeof(why), "expected hello, got a %s frame",
			 gr_frame_type_name(f->hdr.type));
		in_reject(d, c, GR_WERR_PROTOCOL, why);
		return;
	}
	if (!hello_matches_cert(d, c, &f->hello, why, sizeof(why))) {
		in_reject(d, c, GR_WERR_UNKNOWN_SITE, why);
		return;
	}
	site = check_hello(d, &f->hello, -1, &version, why, sizeof(why), &code);
	if (site < 0) {
		in_reject(d, c, code, why);
		return;
	}
	p = &d->peers[site];
	if (f->hello.control) {
		in_ctl(d, p, c);
		return;
	}
	drop_pending(d, c);
	send_hello(d, c, false);
	gr_conn_set_cbs(c, &peer_in_cbs, p);
	peer_up(p, c, version);
}

static void in_close(struct gr_conn *c, int err, const char *reason, void *arg)
{
	struct georepd *d = arg;

	/* closed before a valid hello: garbage, old versions, port scans */
	if (find_pending(d, c, NULL)) {
		d->rejected++;
		if (gd_ratelimit(&d->rl))
			gd_warn("connection from %s closed before hello: %s",
				gr_conn_peer_addr(c), reason);
		if (err == -EPROTO)
			gd_event(d, "peer-rejected", json_pack("{s:s, s:s}", "address",
						gr_conn_peer_addr(c), "reason", reason));
		drop_pending(d, c);
		return;
	}
	/* never opened: the TLS handshake failed (bad certificate...) */
	d->rejected++;
	if (gd_ratelimit(&d->rl))
		gd_warn("refusing connection from %s: %s", gr_conn_peer_addr(c), reason);
	gd_event(d, "peer-rejected", json_pack("{s:s, s:s}", "address",
					       gr_conn_peer_addr(c), "reason", reason));
}

static const struct gr_conn_cbs in_cbs = {
	.on_open = in_open,
	.on_frame = in_frame,
	.on_close = in_close,
};

static void peer_frame(struct gr_conn *c, const struct gr_frame *f, void *arg)
{
	established_frame(arg, c, f);
}

static void peer_close(struct gr_conn *c, int err, const char *reason, void *arg)
{
	struct gd_peer *p = arg;

	if (p->conn == c)
		peer_down(p, reason);
}

static void ctl_in_frame(struct gr_conn *c, const struct gr_frame *f, void *arg)
{
	ctl_frame(arg, c, f);
}

static void ctl_in_close(struct gr_conn *c, int err, const char *reason, void *arg)
{
	struct gd_peer *p = arg;

	if (p->ctl == c)
		ctl_down(p, reason);
}

/* ---- start, stop, tick ---- */

int gd_peers_start(struct georepd *d)
{
	const char *why = "";
	unsigned int i;
	int ret;

	d->peers = calloc(d->cfg->nsites, sizeof(*d->peers));
	if (!d->peers)
		return -ENOMEM;
	for (i = 0; i < d->cfg->nsites; i++) {
		struct gd_peer *p = &d->peers[i];

		p->d = d;
		p->idx = i;
		p->cfg = &d->cfg->sites[i];
		p->rl = (struct gd_ratelimit)GD_RATELIMIT_INIT;
		if (i == d->self)
			continue;
		p->dial = strcmp(d->me->name, p->cfg->name) < 0;
		if (!p->dial)
			continue;
		ret = gr_resolve(p->cfg->host, p->cfg->port, &p->sa, &p->salen, &why);
		if (ret) {
			gd_err("cannot resolve %s of site %s: %s", p->cfg->host,
			       p->cfg->name, why);
			return ret;
		}
	}

	d->listener = gr_listener_new(d->loop, d->tp, d->me->host, d->me->port,
				      &in_cbs, d, &why);
	if (!d->listener) {
		ret = -errno;
		gd_err("cannot listen on %s:%u: %s: %s", d->me->host, d->me->port, why,
		       strerror(errno));
		return ret;
	}
	for (i = 0; i < d->cfg->nsites; i++) {
		struct gd_peer *p = &d->peers[i];

		if (i == d->self || !p->dial)
			continue;
		p->dialer = gr_dialer_new(d->loop, d->tp, (struct sockaddr *)&p->sa,
					  p->salen, GD_BACKOFF_MIN_MS, GD_BACKOFF_MAX_MS,
					  &dial_cbs, p);
		if (!p->dialer)
			return -ENOMEM;
		/* with TLS, its certificate must name the site we dial */
		ret = gr_dialer_set_peer_name(p->dialer, p->cfg->name);
		if (ret)
			return ret;
	}
	return 0;
}

void gd_peers_stop(struct georepd *d)
{
	unsigned int i;

	if (!d->peers)
		return;
	for (i = 0; i < d->cfg->nsites; i++) {
		struct gd_peer *p = &d->peers[i];

		ctl_stop(p, "site shutting down");
		if (p->dialer) {
			gr_dialer_free(p->dialer);	/* closes its connection */
			p->dialer = NULL;
		}
		if (p->conn) {
			struct gr_frame f = { .hdr.type = GR_FT_ERROR };

			f.error.code = GR_WERR_SHUTDOWN;
			strcpy(f.error.reason, "site shutting down");
			gr_conn_send(p->conn, &f);
			gr_conn_close(p->conn, -ESHUTDOWN, "shutting down");
		}
	}
	while (d->pending)
		gr_conn_close(d->pending->conn, -ESHUTDOWN, "shutting down");
	gr_listener_free(d->listener);
	d->listener = NULL;
}

/* One line whenever the session's keys changed since the last tick. */
static void log_key_updates(struct gd_peer *p)
{
	struct gr_session_stats st;
	uint64_t n;

	if (!gr_conn_session_stats(p->conn, &st))
		return;
	n = st.key_updates_sent + st.key_updates_received;
	if (n == p->key_updates_logged)
		return;
	p->key_updates_logged = n;
	gd_info("peer %s: TLS key update (this connection: %llu sent, %llu received, %llu bytes out)",
		p->cfg->name, (unsigned long long)st.key_updates_sent,
		(unsigned long long)st.key_updates_received,
		(unsigned long long)gr_conn_bytes_out(p->conn));
}

/* "tls": version, cipher, peer certificate name, KeyUpdate counters */
static json_t *session_json(const struct gr_conn *c)
{
	struct gr_session_stats st;

	if (!gr_conn_session_stats(c, &st) || !st.version)
		return json_null();
	return json_pack("{s:s, s:s, s:s?, s:I, s:I}", "version", st.version,
			 "cipher", st.cipher ? st.cipher : "",
			 "peer_certificate", gr_conn_peer_identity(c),
			 "key_updates_sent", (json_int_t)st.key_updates_sent,
			 "key_updates_received", (json_int_t)st.key_updates_received);
}

void gd_peers_renew(struct georepd *d)
{
	unsigned int i;

	for (i = 0; i < d->cfg->nsites; i++)
		d->peers[i].renew = i != d->self;
}

/* one connection renewed a second: the others keep the quorum meanwhile */
static void renew_one(struct georepd *d, uint64_t now)
{
	unsigned int i;

	if (now < d->renew_next_ms)
		return;
	for (i = 0; i < d->cfg->nsites; i++) {
		struct gd_peer *p = &d->peers[i];

		if (!p->renew)
			continue;
		p->renew = false;
		if (p->conn) {
			reject(p->conn, GR_WERR_SHUTDOWN,
			       "TLS credentials reloaded: reconnecting");
			d->renew_next_ms = now + GD_RENEW_GAP_MS;
			return;
		}
	}
}

/* "lanes": what waits where on the way to the peer (send_lanes.h) */
static json_t *lanes_json(const struct gr_conn *c)
{
	struct gr_lane_stats st;

	gr_conn_lane_stats(c, &st);
	return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
			 "control_queued", (json_int_t)st.control_queued,
			 "bulk_queued", (json_int_t)st.bulk_queued,
			 "bulk_limit", (json_int_t)st.bulk_limit,
			 "socket_unsent", (json_int_t)st.socket_unsent,
			 "socket_unacked", (json_int_t)st.socket_unacked,
			 "bulk_unacked", (json_int_t)st.bulk_unacked,
			 "overtakes", (json_int_t)st.overtakes,
			 "parts_out", (json_int_t)st.parts_out,
			 "parts_in", (json_int_t)st.parts_in);
}

void gd_peers_tick(struct georepd *d)
{
	uint64_t now = gr_now_ms();
	struct gd_pending *pd, *next;
	unsigned int i;

	renew_one(d, now);
	for (i = 0; i < d->cfg->nsites; i++) {
		struct gd_peer *p = &d->peers[i];

		if (i == d->self)
			continue;
		if (dial_overdue(p->dialer, p->conn, p->dial_open_ms, now, "hello") ||
		    !p->conn)
			continue;
		log_key_updates(p);
		if (!live_tick(&p->live, p->conn, now))
			continue;	/* closed, and its control connection */
		if (!dial_overdue(p->ctl_dialer, p->ctl, p->ctl_dial_open_ms, now,
				  "control hello") && p->ctl)
			live_tick(&p->ctl_live, p->ctl, now);
	}
	for (pd = d->pending; pd; pd = next) {
		next = pd->next;	/* closing frees pd */
		if (now - pd->since_ms > GD_HELLO_TIMEOUT_MS)
			gr_conn_close(pd->conn, -ETIMEDOUT, "no hello within %d ms",
				      GD_HELLO_TIMEOUT_MS);
	}
}

const struct gd_live *gd_peer_hb_live(const struct gd_peer *p)
{
	return p->ctl && p->ctl_live.have_rtt ? &p->ctl_live : &p->live;
}

/* "<prefix>rtt_ms" (null until measured) and "<prefix>srtt_ms" */
static void rtt_json(json_t *o, const char *prefix, const struct gd_live *l)
{
	char k[32];

	snprintf(k, sizeof(k), "%srtt_ms", prefix);
	json_object_set_new(o, k, l->have_rtt ? json_real(l->rtt_ms) : json_null());
	if (!l->have_rtt)
		return;
	snprintf(k, sizeof(k), "%ssrtt_ms", prefix);
	json_object_set_new(o, k, json_real(l->srtt_ms));
}

/* "control": the control connection (georepd.h) */
static json_t *ctl_json(const struct gd_peer *p)
{
	const char *state = "down";
	json_t *o;

	if (p->ctl)
		state = "up";
	else if (p->ctl_dialer && gr_dialer_conn(p->ctl_dialer))
		state = "connecting";
	else if (p->version < GR_WIRE_VERSION_CTLCONN)
		state = "unsupported";
	o = json_pack("{s:s, s:I}", "state", state, "ups", (json_int_t)p->ctl_ups);
	if (!o || !p->ctl)
		return o;
	json_object_set_new(o, "bytes_in", json_integer(gr_conn_bytes_in(p->ctl)));
	json_object_set_new(o, "bytes_out", json_integer(gr_conn_bytes_out(p->ctl)));
	json_object_set_new(o, "queued", json_integer(gr_conn_queued(p->ctl)));
	rtt_json(o, "", &p->ctl_live);
	return o;
}

json_t *gd_peer_json(const struct gd_peer *p)
{
	uint64_t now = gr_now_ms();
	const char *state;
	json_t *o;
	char addr[GR_HOST_MAX + 8];

	if (p->conn)
		state = "up";
	else if (p->dialer && gr_dialer_conn(p->dialer))
		state = "connecting";
	else
		state = "down";
	snprintf(addr, sizeof(addr), strchr(p->cfg->host, ':') ? "[%s]:%u" : "%s:%u",
		 p->cfg->host, p->cfg->port);
	o = json_pack("{s:s, s:I, s:s, s:s, s:s, s:b, s:s, s:I, s:I}",
		      "name", p->cfg->name, "site_id", (json_int_t)p->cfg->site_id,
		      "region", p->cfg->region, "address", addr, "state", state,
		      "connected", p->conn != NULL, "dials", p->dial ? "out" : "in",
		      "ups", (json_int_t)p->ups, "downs", (json_int_t)p->downs);
	if (!o)
		return NULL;
	if (p->conn) {
		json_object_set_new(o, "direction",
				    json_string(gr_conn_is_server(p->conn) ? "in" : "out"));
		json_object_set_new(o, "peer_address", json_string(gr_conn_peer_addr(p->conn)));
		json_object_set_new(o, "protocol_version", json_integer(p->version));
		json_object_set_new(o, "up_for_s", json_real((now - p->up_since_ms) / 1e3));
		json_object_set_new(o, "last_rx_ms_ago", json_integer(now - p->live.last_rx_ms));
		json_object_set_new(o, "bytes_in", json_integer(gr_conn_bytes_in(p->conn)));
		json_object_set_new(o, "bytes_out", json_integer(gr_conn_bytes_out(p->conn)));
		json_object_set_new(o, "queued", json_integer(gr_conn_queued(p->conn)));
		json_object_set_new(o, "lanes", lanes_json(p->conn));
		json_object_set_new(o, "tls", session_json(p->conn));
		rtt_json(o, "", gd_peer_hb_live(p));
		rtt_json(o, "data_", &p->live);
		json_object_set_new(o, "control", ctl_json(p));
	}
	if (p->last_error[0])
		json_object_set_new(o, "last_error", json_string(p->last_error));
	return o;
}

int gd_send(struct georepd *d, unsigned int site, const struct gr_frame *f)
{
	return gd_send_lane(d, site, f, gr_frame_lane(f->hdr.type));
}

int gd_send_lane(struct georepd *d, unsigned int site, const struct gr_frame *f,
		 enum gr_lane lane)
{
	const struct gd_peer *p = &d->peers[site];

	if (!gd_peer_up(d, site))
		return -ENOTCONN;
	if (lane == GD_LANE_URGENT)
		return gr_conn_send_lane(p->ctl ?: p->conn, f, GR_LANE_CONTROL);
	return gr_conn_send_lane(p->conn, f, lane);
}

void gd_send_hold(struct georepd *d, unsigned int site)
{
	if (gd_peer_up(d, site))
		gr_conn_hold(d->peers[site].conn);
}

void gd_send_push(struct georepd *d, unsigned int site)
{
	if (gd_peer_up(d, site))
		gr_conn_push(d->peers[site].conn);
}

bool gd_bulk_in_transit(const struct georepd *d, unsigned int site)
{
	struct gr_lane_stats st;

	if (!gd_peer_up(d, site))
		return false;
	gr_conn_lane_stats(d->peers[site].conn, &st);
	return st.bulk_queued || st.bulk_unacked;
}

size_t gd_bulk_queued(const struct georepd *d, unsigned int site)
{
	struct gr_lane_stats st;

	if (!gd_peer_up(d, site))
		return 0;
	gr_conn_lane_stats(d->peers[site].conn, &st);
	return st.bulk_queued;
}

bool gd_peer_up(const struct georepd *d, unsigned int site)
{
	return d->peers && site < d->cfg->nsites && site != d->self && d->peers[site].conn;
}

unsigned int gd_peer_version(const struct georepd *d, unsigned int site)
{
	return gd_peer_up(d, site) ? d->peers[site].version : 0;
}
