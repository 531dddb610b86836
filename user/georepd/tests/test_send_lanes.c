// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests of the send lanes (user/lib/send_lanes.c) and of a connection
 * using them (user/lib/transport.c): control frames go ahead of queued bulk
 * frames at frame boundaries, never inside one; each lane keeps its order;
 * the stream stays whole frames whatever the socket takes per write; each
 * lane has its own limit; a ping queued behind megabytes of bulk reaches a
 * real peer after at most the socket's bounded share of them. Split into
 * PART frames (protocol version 2), a bulk frame lets control frames go
 * between its pieces, is put back together whole at the peer, and a peer
 * that splits wrongly is refused with a reason.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "georep/send_lanes.h"
#include "georep/transport.h"
#include "georep/wire.h"
#include "ktap.h"

static uint8_t payload[1 << 20];

/* A bulk frame: RESYNC chunk @idx of @len bytes (a multiple of 4 KiB). */
static void bulk_frame(struct gr_frame *f, uint64_t idx, uint32_t len)
{
	memset(f, 0, sizeof(*f));
	f->hdr.type = GR_FT_RESYNC;
	f->hdr.volume = 7;
	f->resync.offset = idx * 4096;
	f->resync.length = len;
	f->resync.data = payload;
	gr_wire_sha256(payload, len, f->resync.sha256);
	f->resync.seal.epoch = 1;	/* a data seal (wire.h): its mac is not checked here */
}

/* A control frame: PING @nonce. */
static void ctl_frame(struct gr_frame *f, uint64_t nonce)
{
	memset(f, 0, sizeof(*f));
	f->hdr.type = GR_FT_PING;
	f->ping.nonce = nonce;
	f->ping.time_ns = 1;
}

static int queue(struct gr_lanes *l, const struct gr_frame *f)
{
	enum gr_lane lane = gr_frame_lane(f->hdr.type);
	size_t need = gr_wire_frame_size(f);
	uint8_t *dst;
	ssize_t n;
	int err = 0;

	dst = gr_lanes_reserve(l, lane, need, &err);
	if (!dst)
		return err;
	n = gr_wire_encode(dst, need, f);
	if (n < 0)
		return n;
	gr_lanes_commit(l, lane, n);
	return 0;
}

/* The byte stream a socket would see. */
struct wire {
	uint8_t *buf;
	size_t len, cap;
};

/* Move up to @max bytes from the lanes to @w, as a socket taking @max would. */
static size_t drain(struct gr_lanes *l, struct wire *w, size_t max)
{
	const uint8_t *p;
	size_t n = gr_lanes_peek(l, &p);

	if (!n)
		return 0;
	if (n > max)
		n = max;
	if (w->len + n > w->cap) {
		w->cap = (w->len + n) * 2;
		w->buf = realloc(w->buf, w->cap);
	}
	memcpy(w->buf + w->len, p, n);
	w->len += n;
	gr_lanes_consume(l, n);
	return n;
}

static void test_frame_lane(void)
{
	CHECK(gr_frame_lane(GR_FT_RECORDS) == GR_LANE_BULK);
	CHECK(gr_frame_lane(GR_FT_RESYNC) == GR_LANE_BULK);
	CHECK(gr_frame_lane(GR_FT_HEAL_REQ) == GR_LANE_BULK);
	CHECK(gr_frame_lane(GR_FT_HEAL) == GR_LANE_BULK);
	CHECK(gr_frame_lane(GR_FT_HELLO) == GR_LANE_CONTROL);
	CHECK(gr_frame_lane(GR_FT_ERROR) == GR_LANE_CONTROL);
	CHECK(gr_frame_lane(GR_FT_PING) == GR_LANE_CONTROL);
	CHECK(gr_frame_lane(GR_FT_PONG) == GR_LANE_CONTROL);
	CHECK(gr_frame_lane(GR_FT_CONSENSUS) == GR_LANE_CONTROL);
	CHECK(gr_frame_lane(GR_FT_ACK) == GR_LANE_CONTROL);
	CHECK(!strcmp(gr_lane_name(GR_LANE_BULK), "bulk"));
}

/* A ping queued while a bulk frame is half written goes right after it. */
static void test_priority_at_boundary(void)
{
	struct wire w = { 0 };
	struct gr_lanes l;
	struct gr_frame f, d;
	size_t first, used;
	char err[GR_WIRE_ERRLEN];
	const uint8_t *p;

	gr_lanes_init(&l, 1U << 30);
	bulk_frame(&f, 0, 8192);
	CHECK(queue(&l, &f) == 0);
	bulk_frame(&f, 1, 8192);
	CHECK(queue(&l, &f) == 0);
	first = gr_lanes_peek(&l, &p);
	CHECK(first == gr_wire_frame_size(&f));
	drain(&l, &w, first / 2);
	ctl_frame(&f, 42);
	CHECK(queue(&l, &f) == 0);
	/* the rest of the first bulk frame, not the ping, not the second */
	CHECK(gr_lanes_peek(&l, &p) == first - first / 2);
	drain(&l, &w, SIZE_MAX);
	drain(&l, &w, SIZE_MAX);	/* the ping */
	drain(&l, &w, SIZE_MAX);	/* the second bulk frame */
	CHECK(gr_lanes_total(&l) == 0);
	CHECK(l.overtakes == 1);
	CHECK(gr_wire_decode(w.buf, w.len, &d, &used, err) == 0 && d.hdr.type == GR_FT_RESYNC &&
	      d.resync.offset == 0);
	CHECK(gr_wire_decode(w.buf + used, w.len - used, &d, &first, err) == 0 &&
	      d.hdr.type == GR_FT_PING && d.ping.nonce == 42);
	used += first;
	CHECK(gr_wire_decode(w.buf + used, w.len - used, &d, &first, err) == 0 &&
	      d.hdr.type == GR_FT_RESYNC && d.resync.offset == 4096);
	gr_lanes_free(&l);
	free(w.buf);
}

/*
 * Parse one frame of @w at *@off; PART pieces are joined in @join first.
 * *@at: where the frame (its last piece) starts in the stream.
 */
static int next_frame(struct wire *w, size_t *off, struct wire *join, struct gr_frame *f,
		      size_t *parts, size_t *at)
{
	char err[GR_WIRE_ERRLEN];
	size_t used;

	for (;;) {
		*at = *off;
		if (gr_wire_decode(w->buf + *off, w->len - *off, f, &used, err)) {
			CHECK_MSG(0, "stream at %zu: %s", *off, err);
			return -1;
		}
		*off += used;
		if (f->hdr.type != GR_FT_PART)
			return 0;
		(*parts)++;
		if (join->len + f->part.len > join->cap) {
			join->cap = (join->len + f->part.len) * 2;
			join->buf = realloc(join->buf, join->cap);
		}
		memcpy(join->buf + join->len, f->part.data, f->part.len);
		join->len += f->part.len;
		if (f->part.more)
			continue;
		if (gr_wire_decode(join->buf, join->len, f, &used, err) || used != join->len) {
			CHECK_MSG(0, "joined frame: %s", err);
			return -1;
		}
		join->len = 0;
		return 0;
	}
}

/*
 * Split: a 256 KiB frame goes in four pieces (three of 64 KiB, then the rest,
 * a little longer: no small piece at the end); a ping queued while the
 * first piece's header is half written goes right after that piece.
 */
static void test_split_pieces(void)
{
	struct wire w = { 0 }, join = { 0 };
	struct gr_frame f;
	struct gr_lanes l;
	size_t off = 0, parts = 0, at, n;
	const uint8_t *p;

	gr_lanes_init(&l, 1U << 30);
	gr_lanes_split(&l, 64 << 10, GR_WIRE_VERSION_PART);
	bulk_frame(&f, 3, 256 << 10);
	CHECK(queue(&l, &f) == 0);
	bulk_frame(&f, 5, 8192);	/* short: goes whole */
	CHECK(queue(&l, &f) == 0);
	/* the piece's header and bytes, in one */
	CHECK(gr_lanes_peek(&l, &p) == GR_WIRE_HDR_SIZE + (64 << 10));
	drain(&l, &w, 10);
	ctl_frame(&f, 7);
	CHECK(queue(&l, &f) == 0);
	/* the rest of the header and the piece, not the ping */
	CHECK(gr_lanes_peek(&l, &p) == GR_WIRE_HDR_SIZE - 10 + (64 << 10));
	drain(&l, &w, 14);
	CHECK(gr_lanes_peek(&l, &p) == 64 << 10);
	drain(&l, &w, 1000);
	drain(&l, &w, SIZE_MAX);
	n = w.len;
	drain(&l, &w, SIZE_MAX);	/* the ping */
	CHECK(w.len - n == GR_WIRE_HDR_SIZE + GR_PING_SIZE);
	while (drain(&l, &w, SIZE_MAX))
		;
	CHECK(gr_lanes_total(&l) == 0 && l.parts == 4 && l.overtakes == 1);
	/* PART(64K) PING PART PART PART(last: 64K and the frame's headers) RESYNC */
	CHECK(next_frame(&w, &off, &join, &f, &parts, &at) == 0 && f.hdr.type == GR_FT_PING &&
	      parts == 1);
	CHECK(next_frame(&w, &off, &join, &f, &parts, &at) == 0 && f.hdr.type == GR_FT_RESYNC &&
	      f.resync.offset == 3 * 4096 && f.resync.length == 256 << 10 && parts == 4);
	CHECK(next_frame(&w, &off, &join, &f, &parts, &at) == 0 && f.hdr.type == GR_FT_RESYNC &&
	      f.resync.offset == 5 * 4096 && parts == 4);
	CHECK(off == w.len);
	gr_lanes_free(&l);
	free(w.buf);
	free(join.buf);
}

/*
 * A piece's header half taken when the lane moves its bytes to the front
 * (more frames queued than it has room for): the stream stays whole.
 */
static void test_split_compact(void)
{
	struct wire w = { 0 }, join = { 0 };
	size_t off = 0, parts = 0, at;
	struct gr_frame f;
	struct gr_lanes l;
	const uint8_t *p;
	int i, got = 0;

	gr_lanes_init(&l, 1U << 30);
	gr_lanes_split(&l, GR_PART_MIN, GR_WIRE_VERSION_PART);
	bulk_frame(&f, 0, 8192);	/* two pieces: 4096, then the rest (last) */
	CHECK(queue(&l, &f) == 0);
	drain(&l, &w, GR_WIRE_HDR_SIZE + GR_PART_MIN);	/* the first piece */
	drain(&l, &w, 5);	/* 5 bytes of the second's header: not its flags, length */
	CHECK(l.part_hdr_left == GR_WIRE_HDR_SIZE - 5);
	for (i = 1; i <= 40; i++) {
		bulk_frame(&f, i * 16, 65536);
		CHECK(queue(&l, &f) == 0);
	}
	CHECK(gr_lanes_peek(&l, &p) == GR_WIRE_HDR_SIZE - 5 + (8192 + GR_WIRE_HDR_SIZE +
								  GR_RESYNC_HDR_SIZE - GR_PART_MIN));
	while (drain(&l, &w, 1 + (size_t)random() % 9000))
		;
	while (off < w.len && !next_frame(&w, &off, &join, &f, &parts, &at))
		CHECK_MSG(f.hdr.type == GR_FT_RESYNC && f.resync.offset == (uint64_t)got++ * 16 * 4096,
			  "frame %d: type %u offset %llu", got - 1, f.hdr.type,
			  (unsigned long long)f.resync.offset);
	CHECK(got == 41 && off == w.len);
	gr_lanes_free(&l);
	free(w.buf);
	free(join.buf);
}

static void test_lane_limits(void)
{
	struct gr_lanes l;
	struct gr_frame f;

	gr_lanes_init(&l, 1U << 30);
	l.q[GR_LANE_BULK].limit = 50000;
	bulk_frame(&f, 0, 20480);
	CHECK(queue(&l, &f) == 0);
	CHECK(queue(&l, &f) == 0);
	CHECK(queue(&l, &f) == -ENOBUFS);	/* bulk full... */
	ctl_frame(&f, 1);
	CHECK(queue(&l, &f) == 0);		/* ...control still goes */
	CHECK(gr_lanes_queued(&l, GR_LANE_CONTROL) == gr_wire_frame_size(&f));
	gr_lanes_free(&l);
}

/*
 * Random frames and random write sizes: the stream parses into whole
 * frames, each lane in order, and no ping waits behind more bulk bytes
 * than the rest of the frame in progress when it was queued (split: of the
 * piece in progress).
 */
static void random_interleaving(bool split)
{
	uint64_t next_bulk = 0, next_ctl = 0, want_bulk = 0, want_ctl = 0;
	size_t off = 0, at, parts = 0, bulk_since, max_bulk = 0;
	size_t bulk_at_queue[4096], ping_at[4096];
	struct wire w = { 0 }, join = { 0 };
	uint32_t unit = split ? 16384 : 4096;
	struct gr_lanes l;
	struct gr_frame f;
	int i, j, bad = 0;

	srandom(1234);
	gr_lanes_init(&l, 1U << 30);
	if (split)
		gr_lanes_split(&l, GR_PART_MIN, GR_WIRE_VERSION_PART);
	for (i = 0; i < 20000; i++) {
		int r = random() % 10;

		if (r < 3 && next_bulk < 4096) {
			uint32_t len = (1 + random() % 4) * unit;

			bulk_frame(&f, next_bulk++, len);
			CHECK(queue(&l, &f) == 0);
			if (len + GR_WIRE_HDR_SIZE + 64 > max_bulk)
				max_bulk = len + GR_WIRE_HDR_SIZE + 64;
		} else if (r < 5 && next_ctl < 4096) {
			ctl_frame(&f, next_ctl);
			bulk_at_queue[next_ctl++] = w.len;
			CHECK(queue(&l, &f) == 0);
		} else {
			drain(&l, &w, 1 + random() % 70000);
		}
	}
	while (drain(&l, &w, 1 + random() % 70000))
		;
	CHECK(gr_lanes_total(&l) == 0);
	if (split)
		max_bulk = GR_PART_MIN + GR_PART_MIN / 4 + 2 * GR_WIRE_HDR_SIZE;
	while (off < w.len && !bad) {
		if (next_frame(&w, &off, &join, &f, &parts, &at))
			break;
		if (f.hdr.type == GR_FT_RESYNC) {
			bad |= f.resync.offset != 4096 * want_bulk++;
		} else {
			bad |= f.hdr.type != GR_FT_PING || f.ping.nonce != want_ctl;
			ping_at[want_ctl++] = at;
		}
	}
	CHECK(!bad && want_bulk == next_bulk && want_ctl == next_ctl);
	CHECK(split ? parts > next_bulk : parts == 0);
	/*
	 * Bulk bytes on the wire between a ping's queueing and the ping: the
	 * stream's bytes there less the pings before it (and the one that may
	 * have been half written when it was queued).
	 */
	for (i = 0; i < (int)next_ctl && !bad; i++) {
		bulk_since = ping_at[i] - bulk_at_queue[i];
		for (j = i - 1; j >= 0 && ping_at[j] >= bulk_at_queue[i]; j--)
			bulk_since -= GR_WIRE_HDR_SIZE + GR_PING_SIZE;
		CHECK_MSG(bulk_since <= max_bulk + GR_WIRE_HDR_SIZE + GR_PING_SIZE,
			  "ping %d waited behind %zu bytes (largest bulk unit %zu)", i,
			  bulk_since, max_bulk);
	}
	CHECK(l.overtakes > 100);
	gr_lanes_free(&l);
	free(w.buf);
	free(join.buf);
}

static void test_random_interleaving(void)
{
	random_interleaving(false);
}

static void test_random_split(void)
{
	random_interleaving(true);
}

/* ---- over a real socket ---- */

/*
 * A connection (dialer) to a plain socket on 127.0.0.1 that the test reads
 * and writes itself: *@fd, its listener *@lfd. Return: the open connection.
 */
static struct gr_conn *raw_peer(struct gr_loop *loop, struct gr_transport *t,
				const struct gr_conn_cbs *cbs, void *arg, int *lfd, int *fd)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t slen = sizeof(sin);
	struct gr_conn *c;
	int i;

	*lfd = socket(AF_INET, SOCK_STREAM, 0);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	CHECK(*lfd >= 0 && !bind(*lfd, (struct sockaddr *)&sin, sizeof(sin)) &&
	      !listen(*lfd, 1) && !getsockname(*lfd, (struct sockaddr *)&sin, &slen));
	c = gr_conn_connect(loop, t, (struct sockaddr *)&sin, sizeof(sin), cbs, arg);
	*fd = accept(*lfd, NULL, NULL);
	CHECK(c && *fd >= 0);
	for (i = 0; i < 50 && c && !gr_conn_is_open(c); i++)
		gr_loop_run_once(loop, 10);
	CHECK(c && gr_conn_is_open(c));
	return c;
}

/* close what raw_peer() opened */
static void raw_peer_close(struct gr_loop *loop, struct gr_conn *c, int lfd, int fd)
{
	gr_conn_close(c, 0, "test done");
	gr_loop_run_once(loop, 0);
	close(fd);
	close(lfd);
}

static int closed_err;

static void c_close(struct gr_conn *c, int err, const char *reason, void *arg)
{
	closed_err = err ? err : -1;
}

static void c_frame(struct gr_conn *c, const struct gr_frame *f, void *arg)
{
}

static const struct gr_conn_cbs c_cbs = { .on_frame = c_frame, .on_close = c_close };

/*
 * 16 MiB of bulk frames queued, then a ping: a peer that reads the stream
 * sees the ping after a bounded share of the bulk bytes (what the kernel
 * buffers already took, plus one frame), not after all of them.
 */
static void test_socket_ping_overtakes(void)
{
	struct gr_transport *t = gr_transport_tcp();
	size_t before_ping = 0, used, len = 0;
	static uint8_t in[1 << 20];
	char err[GR_WIRE_ERRLEN];
	struct gr_lane_stats st;
	struct gr_loop *loop;
	struct gr_conn *c;
	struct gr_frame f;
	int lfd, fd, i;
	bool seen = false;

	CHECK(t && gr_loop_new(&loop) == 0);
	c = raw_peer(loop, t, &c_cbs, NULL, &lfd, &fd);
	for (i = 0; i < 256; i++) {
		bulk_frame(&f, i, 64 << 10);
		CHECK(gr_conn_send(c, &f) == 0);
	}
	for (i = 0; i < 20; i++)
		gr_loop_run_once(loop, 5);
	gr_conn_lane_stats(c, &st);
	CHECK_MSG(st.socket_unsent <= GR_CONN_NOTSENT_LOWAT + (128U << 10),
		  "%zu unsent bytes in the socket", st.socket_unsent);
	CHECK(st.bulk_queued > (8U << 20));
	ctl_frame(&f, 99);
	CHECK(gr_conn_send(c, &f) == 0);
	/* read until the ping: frame by frame */
	while (!seen && !closed_err) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t n;

		gr_loop_run_once(loop, 1);
		if (poll(&p, 1, 10) != 1)
			continue;
		n = recv(fd, in + len, sizeof(in) - len, MSG_DONTWAIT);
		if (n <= 0)
			break;
		len += n;
		while (!gr_wire_decode(in, len, &f, &used, err)) {
			if (f.hdr.type == GR_FT_PING) {
				seen = true;
				break;
			}
			before_ping += used;
			memmove(in, in + used, len - used);
			len -= used;
		}
	}
	CHECK(seen);
	gr_conn_lane_stats(c, &st);
	CHECK(st.overtakes >= 1);
	CHECK_MSG(before_ping < (4U << 20), "ping after %zu of %u bulk bytes", before_ping,
		  256U << 16);
	printf("    # ping read after %zu bulk bytes of %u queued\n", before_ping, 256U << 16);
	/* the peer reads the rest: no bulk byte left unacknowledged */
	for (i = 0; i < 2000; i++) {
		struct pollfd p = { .fd = fd, .events = POLLIN };

		gr_loop_run_once(loop, 1);
		if (poll(&p, 1, 1) == 1 && recv(fd, in, sizeof(in), MSG_DONTWAIT) <= 0)
			break;
		gr_conn_lane_stats(c, &st);
		if (!st.bulk_queued && !st.bulk_unacked && !st.socket_unacked)
			break;
	}
	gr_conn_lane_stats(c, &st);
	CHECK_MSG(!st.bulk_queued && !st.bulk_unacked, "bulk %zu queued, %zu unacked",
		  st.bulk_queued, st.bulk_unacked);
	/* control bytes in flight are not bulk in flight */
	ctl_frame(&f, 100);
	CHECK(gr_conn_send(c, &f) == 0);
	gr_conn_lane_stats(c, &st);
	CHECK(!st.bulk_unacked);
	raw_peer_close(loop, c, lfd, fd);
	gr_loop_free(loop);
	gr_transport_free(t);
}

/* ---- split frames between two connections ---- */

struct got {
	int frames, resyncs, pings;
	int ping_after;		/* resync frames whole before the ping */
	uint64_t bytes_at_ping;	/* bytes received up to the ping */
	int err;
	char reason[256];
	struct gr_conn *server;
};

static void got_frame(struct gr_conn *c, const struct gr_frame *f, void *arg)
{
	struct got *g = arg;

	g->frames++;
	if (f->hdr.type == GR_FT_RESYNC)
		g->resyncs++;
	if (f->hdr.type == GR_FT_PING && !g->pings++) {
		g->ping_after = g->resyncs;
		g->bytes_at_ping = gr_conn_bytes_in(c);
	}
}

static void got_open(struct gr_conn *c, void *arg)
{
	struct got *g = arg;

	g->server = c;
	gr_conn_set_version(c, GR_WIRE_VERSION_PART);
}

static void got_close(struct gr_conn *c, int err, const char *reason, void *arg)
{
	struct got *g = arg;

	g->err = err ? err : -1;
	snprintf(g->reason, sizeof(g->reason), "%s", reason);
}

static const struct gr_conn_cbs got_cbs = {
	.on_open = got_open, .on_frame = got_frame, .on_close = got_close,
};

/*
 * Version 2 at both ends: eight 1 MiB frames then a ping; the ping arrives
 * after at most the frame whose piece was on the way (plus what the socket
 * buffers held), every frame arrives whole and checked (SHA-256 of the data).
 */
static void test_socket_split(void)
{
	struct gr_transport *t = gr_transport_tcp();
	struct gr_lane_stats st, rst;
	struct sockaddr_in sin = { .sin_family = AF_INET };
	struct gr_listener *lst;
	struct got g = { 0 }, dg = { 0 };
	struct gr_loop *loop;
	const char *why;
	struct gr_conn *c;
	struct gr_frame f;
	size_t n;
	int i;

	CHECK(t && gr_loop_new(&loop) == 0);
	lst = gr_listener_new(loop, t, "127.0.0.1", 0, &got_cbs, &g, &why);
	CHECK(lst != NULL);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons(gr_listener_port(lst));
	c = gr_conn_connect(loop, t, (struct sockaddr *)&sin, sizeof(sin), &got_cbs, &dg);
	CHECK(c != NULL);
	for (i = 0; i < 100 && !(gr_conn_is_open(c) && g.server); i++)
		gr_loop_run_once(loop, 10);
	CHECK(gr_conn_is_open(c) && g.server);
	gr_conn_set_version(c, GR_WIRE_VERSION_PART);
	for (i = 0; i < 8; i++) {
		bulk_frame(&f, i * 256, 1 << 20);
		CHECK(gr_conn_send(c, &f) == 0);
	}
	ctl_frame(&f, 1);
	CHECK(gr_conn_send(c, &f) == 0);
	for (i = 0; i < 2000 && g.frames < 9 && !g.err; i++)
		gr_loop_run_once(loop, 5);
	gr_conn_lane_stats(c, &st);
	gr_conn_lane_stats(g.server, &rst);
	CHECK_MSG(g.frames == 9 && g.resyncs == 8 && g.pings == 1 && !g.err,
		  "%d frames, %d resync, %d pings: %s", g.frames, g.resyncs, g.pings, g.reason);
	/* whole frames: the rest of the first 1 MiB frame at least */
	CHECK_MSG(g.ping_after == 0 && g.bytes_at_ping < (1U << 20),
		  "the ping came after %d of 8 frames, %llu bytes", g.ping_after,
		  (unsigned long long)g.bytes_at_ping);
	bulk_frame(&f, 0, 1 << 20);
	/* pieces of GR_PART_SIZE, the rest joins the last one if short */
	n = gr_wire_frame_size(&f) / GR_PART_SIZE +
	    (gr_wire_frame_size(&f) % GR_PART_SIZE > GR_PART_SIZE / 4);
	CHECK_MSG(st.parts_out == 8 * n && rst.parts_in == st.parts_out,
		  "%llu pieces sent, %llu received", (unsigned long long)st.parts_out,
		  (unsigned long long)rst.parts_in);
	printf("    # ping after %llu bytes (%d of 8 frames of 1 MiB), %llu pieces\n",
	       (unsigned long long)g.bytes_at_ping, g.ping_after,
	       (unsigned long long)st.parts_out);
	gr_conn_close(c, 0, "test done");
	gr_conn_close(g.server, 0, "test done");
	gr_loop_run_once(loop, 0);
	gr_listener_free(lst);
	gr_loop_free(loop);
	gr_transport_free(t);
}

/* Bytes of a frame @f framed with @version, appended to @w. */
static void put_frame(struct wire *w, struct gr_frame *f, uint16_t version)
{
	size_t need;

	f->hdr.version = version;
	need = gr_wire_frame_size(f);
	w->buf = realloc(w->buf, w->len + need);
	CHECK(gr_wire_encode(w->buf + w->len, need, f) == (ssize_t)need);
	w->len += need;
}

/* A PART frame carrying @len bytes of @inner from @off. */
static void put_part(struct wire *w, const struct wire *inner, size_t off, size_t len,
		     bool more, uint16_t version)
{
	struct gr_frame f = { .hdr.type = GR_FT_PART };

	f.part.data = inner->buf + off;
	f.part.len = len;
	f.part.more = more;
	put_frame(w, &f, version);
}

/*
 * Raw bytes at a connection of protocol @version: what it hands on, and
 * why it closed ("" if it did not).
 */
static void feed(uint16_t version, const struct wire *w, struct got *g)
{
	struct gr_transport *t = gr_transport_tcp();
	struct gr_loop *loop;
	struct gr_conn *c;
	int lfd, fd, i;

	memset(g, 0, sizeof(*g));
	CHECK(t && gr_loop_new(&loop) == 0);
	c = raw_peer(loop, t, &got_cbs, g, &lfd, &fd);
	gr_conn_set_version(c, version);
	CHECK(write(fd, w->buf, w->len) == (ssize_t)w->len);
	for (i = 0; i < 50 && !g->err; i++)
		gr_loop_run_once(loop, 10);
	if (!g->err) {
		gr_conn_close(c, 0, "test done");
		g->err = 0;	/* still open: its close was ours */
	}
	gr_loop_run_once(loop, 0);
	close(fd);
	close(lfd);
	gr_loop_free(loop);
	gr_transport_free(t);
}

/*
 * A frame whose layout changed with a version (KEY_ACK in 3) goes out laid
 * out in the connection's version, whatever the sender put in hdr.version:
 * a version 2 peer gets the 16-byte body it decodes, a version 3 or 4 one
 * 56.
 */
static void test_layout_follows_conn(void)
{
	struct gr_transport *t = gr_transport_tcp();
	struct gr_frame f = { .hdr.type = GR_FT_KEY_ACK, .hdr.volume = 3 }, g;
	char err[GR_WIRE_ERRLEN] = "";
	uint8_t in[256];
	struct gr_loop *loop;
	struct gr_conn *c;
	uint16_t v;
	size_t used;
	ssize_t n;
	int lfd, fd, i;

	f.key_ack = (struct gr_key_ack){ .term = 2, .epoch = 5, .sealing = 5, .nr_held = 1,
					 .held = { 5 } };
	CHECK(t && gr_loop_new(&loop) == 0);
	for (v = GR_WIRE_VERSION_PART; v <= GR_WIRE_VERSION; v++) {
		closed_err = 0;
		c = raw_peer(loop, t, &(struct gr_conn_cbs){ .on_frame = c_frame,
							     .on_close = c_close }, NULL, &lfd, &fd);
		gr_conn_set_version(c, v);
		CHECK(gr_conn_send(c, &f) == 0);
		for (i = 0; i < 50 && gr_conn_queued(c); i++)
			gr_loop_run_once(loop, 10);
		n = read(fd, in, sizeof(in));
		CHECK_MSG(n == GR_WIRE_HDR_SIZE + (v < 3 ? 16 : 56), "version %u: %zd bytes", v, n);
		CHECK_MSG(n > 0 && !gr_wire_decode(in, n, &g, &used, err) && g.hdr.version == v &&
			  g.key_ack.epoch == 5 && g.key_ack.nr_held == (v < 3 ? 0U : 1U),
			  "version %u: %s", v, err);
		raw_peer_close(loop, c, lfd, fd);
	}
	gr_loop_free(loop);
	gr_transport_free(t);
}

/* Pieces that do not make one bulk frame, exactly, are refused with a reason. */
static void test_split_refused(void)
{
	struct wire in = { 0 }, ping = { 0 }, w;
	size_t n;
	struct gr_frame f;
	struct got g;
	const struct {
		const char *name, *want;
	} want[] = {
		{ "whole", NULL },
		{ "version_1_connection", "part frame on a connection of protocol version 1" },
		{ "version_1_framing", "part frame: framed with version 1 (parts exist from version 2)" },
		{ "split_ping", "split frame: a ping frame is never split" },
		{ "bulk_inside", "a resync frame inside a split frame" },
		{ "short", "split frame: ends after 4096 bytes of 8320" },
		{ "long", "split frame: pieces carry" },
		{ "more_after_end", "split frame: complete, but its last piece says more follow" },
		{ "small_piece", "part: 100 bytes with more to follow (at least 4096)" },
	};
	unsigned int i;

	bulk_frame(&f, 1, 8192);
	put_frame(&in, &f, GR_WIRE_VERSION_PART);
	n = in.len;
	ctl_frame(&f, 5);
	put_frame(&ping, &f, GR_WIRE_VERSION_PART);
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		memset(&w, 0, sizeof(w));
		switch (i) {
		case 0:
		case 1:
			put_part(&w, &in, 0, 4096, true, 2);
			put_frame(&w, &f, 2);	/* a ping between pieces is fine */
			put_part(&w, &in, 4096, n - 4096, false, 2);
			break;
		case 2:
			put_part(&w, &in, 0, n, false, 2);
			w.buf[4] = 1;
			break;
		case 3:
			put_part(&w, &ping, 0, ping.len, false, 2);
			break;
		case 4:
			put_part(&w, &in, 0, 4096, true, 2);
			bulk_frame(&f, 9, 4096);
			put_frame(&w, &f, 2);
			break;
		case 5:
			put_part(&w, &in, 0, 4096, false, 2);
			break;
		case 6:
			in.buf = realloc(in.buf, n + 8192);
			memset(in.buf + n, 0, 8192);
			put_part(&w, &in, 0, 4096, true, 2);
			put_part(&w, &in, 4096, n, false, 2);
			break;
		case 7:
			put_part(&w, &in, 0, n, true, 2);
			break;
		case 8:
			put_part(&w, &in, 0, 4096, true, 2);
			put_part(&w, &in, 4096, 100, false, 2);
			w.buf[w.len - 100 - GR_WIRE_HDR_SIZE + 7] = GR_WF_MORE;
			break;
		}
		feed(i == 1 ? 1 : 2, &w, &g);
		if (!want[i].want)
			CHECK_MSG(!g.err && g.frames == 2 && g.resyncs == 1 && g.pings == 1,
				  "%s: %d frames: %s", want[i].name, g.frames, g.reason);
		else
			CHECK_MSG(g.err == -EPROTO && strstr(g.reason, want[i].want) &&
				  g.resyncs == 0, "%s: err %d, \"%s\"", want[i].name, g.err,
				  g.reason);
		free(w.buf);
	}
	free(in.buf);
	free(ping.buf);
}

static const struct ktap_case cases[] = {
	{ "lanes_frame_lane", test_frame_lane },
	{ "lanes_priority_at_boundary", test_priority_at_boundary },
	{ "lanes_limits", test_lane_limits },
	{ "lanes_random_interleaving", test_random_interleaving },
	{ "lanes_split_pieces", test_split_pieces },
	{ "lanes_split_compact", test_split_compact },
	{ "lanes_random_split", test_random_split },
	{ "lanes_socket_ping_overtakes", test_socket_ping_overtakes },
	{ "lanes_socket_split", test_socket_split },
	{ "lanes_split_refused", test_split_refused },
	{ "lanes_layout_follows_conn", test_layout_follows_conn },
};

int main(void)
{
	return ktap_run(cases, sizeof(cases) / sizeof(cases[0]));
}
