/* SPDX-License-Identifier: GPL-2.0 */
/*
 * georepd internals: the daemon object, its peers (one per other site of
 * the cluster) and the connection handling around them.
 *
 * Connections: of each pair of sites, the one whose name sorts first dials
 * (gr_dialer, reconnecting with backoff); the other accepts. The dialer
 * sends HELLO first, the acceptor checks it against the configuration and
 * answers with its own HELLO or with an ERROR frame and a close. Until
 * hello is done no other frame is accepted. Established peers exchange
 * PING/PONG every GD_PING_MS (RTT), and a peer silent for
 * GD_PEER_TIMEOUT_MS is disconnected.
 *
 * From protocol version 6 the dialer opens a second connection once the
 * first is up, its control connection (HELLO with GR_WF_CONTROL): it
 * carries heartbeats, votes and pings, never replicated data, so that no
 * heartbeat waits behind bytes that are paced or queued at a bottleneck.
 * It lives only while the main connection does; without it (an older
 * peer, or while it reconnects) those frames go on the main connection's
 * control lane, as before.
 *
 * With TLS (the "tls" section of the configuration) the dialer's handshake
 * demands a certificate naming the site it dials, and the acceptor refuses
 * a hello whose site is not the name in the peer's certificate.
 */
#ifndef _GEOREPD_H
#define _GEOREPD_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "georep/config.h"
#include "georep/ctlsock.h"
#include "georep/evloop.h"
#include "georep/transport.h"
#include "log.h"
#include "replica.h"
#include "state.h"

#define GD_TICK_MS		100
#define GD_PING_MS		1000
#define GD_PEER_TIMEOUT_MS	5000
#define GD_HELLO_TIMEOUT_MS	5000
#define GD_BACKOFF_MIN_MS	100
#define GD_BACKOFF_MAX_MS	5000
#define GD_PRE_HELLO_MAX_BODY	1024	/* hello and error frames only */
#define GD_MAX_PENDING		64	/* accepted connections awaiting hello */
/*
 * Bulk lane of a peer (replicated data): bytes queued at most. The
 * consensus window (8 MiB of unacknowledged APPENDs) fits; past it a frame
 * is refused (-ENOBUFS), the peer falls behind and is caught up later.
 */
#define GD_BULK_LIMIT		(16U << 20)

/* One connection's liveness: its pings, their round trips, its silence. */
struct gd_live {
	uint64_t last_rx_ms, last_ping_ms;
	uint64_t ping_nonce;			/* last ping sent */
	uint64_t pong_nonce;			/* last ping answered */
	double rtt_ms, srtt_ms;			/* last, smoothed (1/8) */
	bool have_rtt;
};

struct gd_peer {
	struct georepd *d;
	unsigned int idx;			/* in cfg->sites */
	const struct gr_site_cfg *cfg;
	struct sockaddr_storage sa;
	socklen_t salen;
	bool dial;				/* this site connects to it */
	struct gr_dialer *dialer;
	uint64_t dial_open_ms;			/* outgoing TCP up, hello pending */
	struct gr_conn *conn;			/* established (hello done) */
	uint16_t version;			/* negotiated */
	uint64_t up_since_ms;
	struct gd_live live;			/* of conn */
	/* the control connection (protocol 6): see the top of this file */
	struct gr_conn *ctl;			/* established, or NULL */
	struct gr_dialer *ctl_dialer;		/* while conn is up, if we dial */
	uint64_t ctl_dial_open_ms;
	struct gd_live ctl_live;
	uint64_t ctl_ups;
	uint64_t ups, downs;
	uint64_t key_updates_logged;		/* TLS KeyUpdates seen on conn */
	bool renew;				/* close conn at a tick (SIGHUP) */
	char last_error[GR_WIRE_ERRLEN + 64];
	struct gd_ratelimit rl;
};

/* An accepted connection waiting for its hello. */
struct gd_pending {
	struct georepd *d;
	struct gr_conn *conn;
	uint64_t since_ms;
	struct gd_pending *next;
};

struct georepd {
	struct gr_cluster *cfg;
	unsigned int self;
	const struct gr_site_cfg *me;
	char ctl_path[108];
	struct gr_loop *loop;
	struct gr_transport *tp;
	uint64_t renew_next_ms;		/* gd_peers_renew(): next one then */
	struct gr_listener *listener;
	struct gr_ctl *ctl;
	struct gd_statedir *sd;
	struct gd_peer *peers;			/* cfg->nsites; peers[self] unused */
	struct gd_volume *vols;
	size_t nvols;
	struct gd_pending *pending;
	unsigned int npending;
	struct gr_timer *tick;
	int sigfd;
	struct gr_io *sigio;
	uint64_t start_ms;
	uint64_t rejected;			/* connections refused at hello */
	struct gd_ratelimit rl;			/* for anything a stranger triggers */
	struct gd_bpf *bpf;			/* bpf.c; NULL with --bpf off */
	uint64_t slow_seen;			/* loop's slow turns already logged */
};

/* peer.c */
int gd_peers_start(struct georepd *d);
void gd_peers_stop(struct georepd *d);
void gd_peers_tick(struct georepd *d);
/* close every established peer connection, one per tick: they reconnect */
void gd_peers_renew(struct georepd *d);
json_t *gd_peer_json(const struct gd_peer *p);
/* The round trip heartbeats see: the control connection's while it is up. */
const struct gd_live *gd_peer_hb_live(const struct gd_peer *p);

/* control.c */
int gd_control_start(struct georepd *d);

#endif /* _GEOREPD_H */
