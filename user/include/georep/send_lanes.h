/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The send queue of one connection, split into lanes by traffic class
 * (Documentation/replication.rst, "Send lanes").
 *
 * GR_LANE_CONTROL carries hello, ping/pong, errors and the consensus
 * messages that are no replicated data (votes, heartbeats, answers);
 * GR_LANE_BULK carries replicated data: APPEND and RESYNC messages with
 * their RECORDS, RESYNC chunks, HEAL_REQ/HEAL, MLEAF_REQ/MLEAF. Each lane keeps its own
 * bytes in order. The writer takes bytes with gr_lanes_peek() and
 * acknowledges what the socket took with gr_lanes_consume(); at every frame
 * boundary of the bulk lane control goes first (strict priority), so a
 * control frame never waits behind more than the rest of one bulk frame.
 * A bulk frame, once started, is finished before control bytes go out:
 * the stream stays a sequence of whole frames.
 *
 * With gr_lanes_split() (protocol version 2 and later), a bulk frame longer
 * than the piece size and a quarter goes out as PART frames instead, each a
 * header written just before the next bytes of the frame where they are
 * queued (over bytes already sent, or the lane's headroom: one write, no
 * copy): pieces of the piece size, the last up to a quarter longer.
 * Control frames go between the pieces, so a heartbeat waits behind at
 * most one piece, not a whole megabyte record.
 */
#ifndef _GEOREP_SEND_LANES_H
#define _GEOREP_SEND_LANES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "georep/wire.h"

enum gr_lane {
	GR_LANE_CONTROL,
	GR_LANE_BULK,
	GR_NR_LANES,
};

struct gr_lane_q {
	uint8_t *buf;
	size_t off, len, cap;	/* unsent bytes: buf[off..len) */
	size_t limit;		/* unsent bytes allowed */
	uint64_t frames;	/* queued, ever */
};

struct gr_lanes {
	struct gr_lane_q q[GR_NR_LANES];
	enum gr_lane cur;	/* lane of the unit being written */
	size_t unit_end;	/* bulk: end of the frame (or piece) being written */
	uint64_t overtakes;	/* control units sent while bulk bytes waited */

	/* splitting bulk frames into PART frames (gr_lanes_split()) */
	size_t part_size;	/* bytes per piece; 0: frames go whole */
	uint16_t part_version;	/* the version PART frames are framed with */
	size_t frame_end;	/* end of the frame being split, 0 when none */
	size_t part_hdr_left;	/* the piece's header before off: bytes not yet taken */
	uint64_t parts;		/* pieces sent, ever */
};

/*
 * From now on, split bulk frames longer than 5/4 of @part_size (at least
 * GR_PART_MIN) into PART frames framed with @version; 0 sends them whole.
 * Takes effect at the next frame.
 */
void gr_lanes_split(struct gr_lanes *l, size_t part_size, uint16_t version);

/* Default lane of a frame type (GR_FT_*): bulk for replicated data. */
enum gr_lane gr_frame_lane(uint8_t type);
const char *gr_lane_name(enum gr_lane lane);

/* Empty lanes, each with @limit bytes allowed. */
void gr_lanes_init(struct gr_lanes *l, size_t limit);
void gr_lanes_free(struct gr_lanes *l);
/*
 * Room for @need more bytes at the end of @lane. Return: a pointer to
 * write them at (then gr_lanes_commit()), or NULL with *@err set:
 * -ENOBUFS past the lane's limit, -ENOMEM.
 */
uint8_t *gr_lanes_reserve(struct gr_lanes *l, enum gr_lane lane, size_t need, int *err);
/* @n bytes written at the reserved place are a whole frame (bulk) or unit. */
void gr_lanes_commit(struct gr_lanes *l, enum gr_lane lane, size_t n);
/*
 * The next bytes to send: *@p and the length (0: nothing queued). The same
 * bytes come back until consumed, so a transport that must retry a write
 * with the same buffer (TLS) gets it.
 */
size_t gr_lanes_peek(struct gr_lanes *l, const uint8_t **p);
/* The socket took @n of the bytes gr_lanes_peek() returned. */
void gr_lanes_consume(struct gr_lanes *l, size_t n);
size_t gr_lanes_queued(const struct gr_lanes *l, enum gr_lane lane);
size_t gr_lanes_total(const struct gr_lanes *l);

#endif /* _GEOREP_SEND_LANES_H */
