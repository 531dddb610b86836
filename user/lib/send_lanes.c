// SPDX-License-Identifier: GPL-2.0
/*
 * Per-class send queues with strict priority at frame boundaries, bulk
 * frames split into pieces (PART frames) when the peer takes them.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "georep/send_lanes.h"
#include "georep/wire.h"

enum gr_lane gr_frame_lane(uint8_t type)
{
	switch (type) {
	case GR_FT_RECORDS:
	case GR_FT_RESYNC:
	case GR_FT_HEAL_REQ:
	case GR_FT_HEAL:
	case GR_FT_MLEAF_REQ:
	case GR_FT_MLEAF:
		return GR_LANE_BULK;
	default:
		return GR_LANE_CONTROL;
	}
}

const char *gr_lane_name(enum gr_lane lane)
{
	return lane == GR_LANE_BULK ? "bulk" : "control";
}

void gr_lanes_init(struct gr_lanes *l, size_t limit)
{
	int i;

	memset(l, 0, sizeof(*l));
	for (i = 0; i < GR_NR_LANES; i++)
		l->q[i].limit = limit;
}

void gr_lanes_free(struct gr_lanes *l)
{
	int i;

	for (i = 0; i < GR_NR_LANES; i++) {
		free(l->q[i].buf);
		l->q[i].buf = NULL;
		l->q[i].off = l->q[i].len = l->q[i].cap = 0;
	}
}

/*
 * Room kept in front of the unsent bytes of @lane: the bulk lane writes a
 * piece's PART header just before the piece (over bytes already sent, or
 * this room), so that header and piece go out in one write.
 */
static size_t headroom(enum gr_lane lane)
{
	return lane == GR_LANE_BULK ? GR_WIRE_HDR_SIZE : 0;
}

/* Move @lane's unsent bytes (and a piece header not yet taken) to the front. */
static void compact(struct gr_lanes *l, enum gr_lane lane)
{
	struct gr_lane_q *q = &l->q[lane];
	size_t keep = lane == GR_LANE_BULK ? l->part_hdr_left : 0;
	size_t to = headroom(lane) + keep, delta = q->off - to;

	memmove(q->buf + headroom(lane), q->buf + q->off - keep, q->len - q->off + keep);
	if (lane == GR_LANE_BULK && l->unit_end >= q->off)
		l->unit_end -= delta;
	if (lane == GR_LANE_BULK && l->frame_end)
		l->frame_end -= delta;
	q->len -= delta;
	q->off = to;
}

uint8_t *gr_lanes_reserve(struct gr_lanes *l, enum gr_lane lane, size_t need, int *err)
{
	struct gr_lane_q *q = &l->q[lane];
	size_t cap;
	uint8_t *p;

	if (q->len - q->off + need > q->limit) {
		*err = -ENOBUFS;
		return NULL;
	}
	if (q->off == q->len && q->off < headroom(lane))
		q->off = q->len = headroom(lane);	/* empty, never used */
	if (q->off > headroom(lane) + (lane == GR_LANE_BULK ? l->part_hdr_left : 0) &&
	    q->len + need > q->cap)
		compact(l, lane);
	if (q->len + need > q->cap) {
		cap = q->cap ? q->cap : 4096;
		while (cap < q->len + need)
			cap *= 2;
		p = realloc(q->buf, cap);
		if (!p) {
			*err = -ENOMEM;
			return NULL;
		}
		q->buf = p;
		q->cap = cap;
	}
	return q->buf + q->len;
}

void gr_lanes_commit(struct gr_lanes *l, enum gr_lane lane, size_t n)
{
	l->q[lane].len += n;
	l->q[lane].frames++;
}

/* Size of the bulk frame at the head of the bulk lane (whole, checked when queued). */
static size_t bulk_frame_end(const struct gr_lane_q *q)
{
	struct gr_frame_hdr hdr;
	char err[GR_WIRE_ERRLEN];
	size_t end;

	if (q->len - q->off < GR_WIRE_HDR_SIZE || gr_wire_decode_hdr(q->buf + q->off, &hdr, err))
		return q->len;	/* not a frame (cannot happen): send it as one unit */
	end = q->off + GR_WIRE_HDR_SIZE + (size_t)hdr.length;
	return end < q->len ? end : q->len;
}

void gr_lanes_split(struct gr_lanes *l, size_t part_size, uint16_t version)
{
	if (part_size && part_size < GR_PART_MIN)
		part_size = GR_PART_MIN;
	if (part_size > GR_WIRE_MAX_BODY)
		part_size = GR_WIRE_MAX_BODY;
	l->part_size = part_size;
	l->part_version = version;
}

/*
 * The next piece of the frame being split, its header written in the
 * headroom just before it: the bytes there were sent already.
 */
static size_t next_part(struct gr_lanes *l, const uint8_t **p)
{
	struct gr_lane_q *bulk = &l->q[GR_LANE_BULK];
	size_t max = l->part_size ? l->part_size : GR_PART_SIZE;
	size_t n = l->frame_end - bulk->off;
	bool more = n > max + max / 4;	/* no small piece at the end */
	uint8_t *hdr = bulk->buf + bulk->off - GR_WIRE_HDR_SIZE;

	if (more)
		n = max;
	gr_wire_part_hdr(hdr, n, more, l->part_version);
	*p = hdr;
	l->part_hdr_left = GR_WIRE_HDR_SIZE;
	l->unit_end = bulk->off + n;
	if (!more)
		l->frame_end = 0;
	l->parts++;
	return GR_WIRE_HDR_SIZE + n;
}

/* Start the bulk frame at the head of the bulk lane: whole, or its first piece. */
static size_t start_bulk(struct gr_lanes *l, const uint8_t **p)
{
	struct gr_lane_q *bulk = &l->q[GR_LANE_BULK];
	size_t end = l->frame_end ? l->frame_end : bulk_frame_end(bulk);

	l->cur = GR_LANE_BULK;
	if (l->frame_end || (l->part_size && end - bulk->off > l->part_size + l->part_size / 4)) {
		l->frame_end = end;
		return next_part(l, p);
	}
	l->unit_end = end;
	*p = bulk->buf + bulk->off;
	return l->unit_end - bulk->off;
}

size_t gr_lanes_peek(struct gr_lanes *l, const uint8_t **p)
{
	struct gr_lane_q *ctl = &l->q[GR_LANE_CONTROL], *bulk = &l->q[GR_LANE_BULK];

	/* a bulk unit in progress (a frame, or a piece's header and bytes) is finished first */
	if (l->cur == GR_LANE_BULK && (l->part_hdr_left || bulk->off < l->unit_end)) {
		*p = bulk->buf + bulk->off - l->part_hdr_left;
		return l->part_hdr_left + l->unit_end - bulk->off;
	}
	if (ctl->off < ctl->len) {
		if (l->cur != GR_LANE_CONTROL && bulk->off < bulk->len)
			l->overtakes++;
		l->cur = GR_LANE_CONTROL;
		*p = ctl->buf + ctl->off;
		return ctl->len - ctl->off;
	}
	if (bulk->off < bulk->len)
		return start_bulk(l, p);
	*p = NULL;
	return 0;
}

void gr_lanes_consume(struct gr_lanes *l, size_t n)
{
	struct gr_lane_q *q = &l->q[l->cur];

	size_t h;

	if (l->cur == GR_LANE_BULK && l->part_hdr_left) {
		h = n < l->part_hdr_left ? n : l->part_hdr_left;
		l->part_hdr_left -= h;
		n -= h;
	}
	q->off += n;
	if (q->off == q->len && !(l->cur == GR_LANE_BULK && l->part_hdr_left)) {
		q->off = q->len = headroom(l->cur);
		if (l->cur == GR_LANE_BULK)
			l->unit_end = 0;
	}
}

size_t gr_lanes_queued(const struct gr_lanes *l, enum gr_lane lane)
{
	return l->q[lane].len - l->q[lane].off;
}

size_t gr_lanes_total(const struct gr_lanes *l)
{
	return gr_lanes_queued(l, GR_LANE_CONTROL) + gr_lanes_queued(l, GR_LANE_BULK);
}
