/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The plug-in point for a volume's replication engine (consensus core +
 * kernel ledger). georepd owns sites, connections, the control socket and
 * the durable hard state; a replica owns one volume's protocol.
 *
 * georepd -> replica (all on the event loop thread):
 *   on_frame     a CONSENSUS, RECORDS, ACK or RESYNC frame for this volume
 *                from site index @from (already checked by gr_wire_decode);
 *                return a negative errno to have the connection closed
 *                (the peer broke the protocol), 0 otherwise;
 *   on_tick      every GD_TICK_MS;
 *   on_peer      a site came up (hello accepted) or went down;
 *   status_json  a new JSON object for `status` (reference passed to the
 *                caller);
 *   switchover   planned transfer of the primary role to site index @to;
 *                @wait_s 0: refused (-EBUSY) while the device is in use,
 *                else held up to @wait_s s until it is closed (returns 1);
 *   failover     forced promotion of this site (operator's decision);
 *   health       optional: fill a struct gd_vol_health (routing, pacing);
 *                cheap enough for every tick;
 *   destroy      at shutdown.
 *
 * replica -> georepd: gd_send(), gd_peer_up(), gd_volume_save_state(),
 * gd_event() below.
 *
 * A replica is created by gd_replica_factory (NULL: no engine, volumes are
 * configured and their hard state kept, but no replication runs).
 */
#ifndef _GEOREPD_REPLICA_H
#define _GEOREPD_REPLICA_H

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>

#include "georep/config.h"
#include "georep/evloop.h"
#include "georep/wire.h"
#include "state.h"

struct georepd;
struct gd_volume;
struct gr_replica;

/* A volume's health at this site, as routing (bpf.c, ebpf/route.bpf.c) sees it. */
struct gd_vol_health {
	int leader;			/* site index of the primary known here, -1: none */
	bool quorum;			/* a majority of its voters reachable from here */
	bool degraded;			/* failed, or the quorum-loss policy holds writes */
	struct {
		bool member;		/* the site has a replica of the volume */
		bool reachable;		/* this site, or connected to it */
		uint64_t lag_records;	/* behind the primary (known at the primary) */
		bool resync_out;	/* this site sends it a full resync (pacing) */
	} site[GR_CFG_MAX_SITES];
};

struct gr_replica_ops {
	int (*on_frame)(struct gr_replica *r, unsigned int from, const struct gr_frame *f);
	void (*on_tick)(struct gr_replica *r, uint64_t now_ns);
	void (*on_peer)(struct gr_replica *r, unsigned int site, bool up);
	json_t *(*status_json)(struct gr_replica *r);
	int (*switchover)(struct gr_replica *r, unsigned int to, unsigned int wait_s,
			  char *err);
	int (*failover)(struct gr_replica *r, char *err);
	void (*health)(struct gr_replica *r, struct gd_vol_health *h);
	void (*destroy)(struct gr_replica *r);
};

struct gr_replica {
	const struct gr_replica_ops *ops;
	struct georepd *d;
	struct gd_volume *vol;
};

/* One configured volume that has a replica at this site. */
struct gd_volume {
	const struct gr_volume_cfg *cfg;
	struct gd_vstate state;		/* as last saved */
	struct gr_replica *replica;	/* NULL without an engine */
	uint64_t frames_in;		/* volume frames received */
	uint64_t frames_dropped;	/* received with no engine to take them, or foreign */
	uint64_t frames_foreign;	/* from a site that holds no replica of it */
};

/* Creates the engine of @vol; 0 or -errno. Set before gd_run(). */
extern int (*gd_replica_factory)(struct georepd *d, struct gd_volume *vol,
				 struct gr_replica **out);

/* Send @f to site index @site. Return: 0, -ENOTCONN (not up), -ENOBUFS. */
int gd_send(struct georepd *d, unsigned int site, const struct gr_frame *f);
/*
 * The same in @lane (georep/send_lanes.h) instead of the frame type's; or,
 * with GD_LANE_URGENT, on the site's control connection when it has one
 * (georepd.h), else in the control lane.
 */
#define GD_LANE_URGENT	GR_NR_LANES
int gd_send_lane(struct georepd *d, unsigned int site, const struct gr_frame *f,
		 enum gr_lane lane);
/* Bytes to @site in its bulk lane, or bulk bytes its TCP has not acknowledged. */
/* what is sent to @site between the two leaves in one burst (gr_conn_hold()) */
void gd_send_hold(struct georepd *d, unsigned int site);
void gd_send_push(struct georepd *d, unsigned int site);
bool gd_bulk_in_transit(const struct georepd *d, unsigned int site);
/* Bytes queued in @site's bulk lane (0 when it is down). */
size_t gd_bulk_queued(const struct georepd *d, unsigned int site);
bool gd_peer_up(const struct georepd *d, unsigned int site);
/* The protocol version agreed with @site (georep/wire.h), 0 when it is down. */
unsigned int gd_peer_version(const struct georepd *d, unsigned int site);
/* Persist @st for @vol (durable on return). Return: 0 or -errno. */
int gd_volume_save_state(struct georepd *d, struct gd_volume *vol,
			 const struct gd_vstate *st);
/* Broadcast {"event": @name, ...@fields} to `events` subscribers (steals @fields). */
void gd_event(struct georepd *d, const char *name, json_t *fields);
const struct gr_cluster *gd_cluster(const struct georepd *d);
unsigned int gd_self(const struct georepd *d);
/* The daemon's event loop: for the engine's own fds (log stream, netlink) and timers. */
struct gr_loop *gd_loop(const struct georepd *d);

#endif /* _GEOREPD_REPLICA_H */
