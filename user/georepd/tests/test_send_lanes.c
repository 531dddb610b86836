// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests of the send lanes (user/lib/send_lanes.c) and of a connection
 * using them (user/lib/transport.c): control frames go ahead of queued bulk
 * frames at frame boundaries, never inside one; each lane keeps its order;
 * the stream stays whole frames whatever the socket takes per write; each
 * lane has its own limit; a ping queued behind megabytes of bulk reaches a
 * real peer after at most the socket's bounded share of them.
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

static uint8_t payload[256 << 10];

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
 * than the rest of the frame in progress when it was queued.
 */
static void test_random_interleaving(void)
{
	uint64_t next_bulk = 0, next_ctl = 0, want_bulk = 0, want_ctl = 0;
	size_t off = 0, used, bulk_since[4096] = { 0 }, max_bulk = 0;
	size_t bulk_at_queue[4096];
	char err[GR_WIRE_ERRLEN];
	struct wire w = { 0 };
	struct gr_lanes l;
	struct gr_frame f;
	int i, bad = 0;

	srandom(1234);
	gr_lanes_init(&l, 1U << 30);
	for (i = 0; i < 20000; i++) {
		int r = random() % 10;

		if (r < 3 && next_bulk < 4096) {
			uint32_t len = (1 + random() % 4) * 4096;

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
	while (off < w.len && !bad) {
		if (gr_wire_decode(w.buf + off, w.len - off, &f, &used, err)) {
			CHECK_MSG(0, "stream at %zu: %s", off, err);
			break;
		}
		if (f.hdr.type == GR_FT_RESYNC) {
			bad |= f.resync.offset != 4096 * want_bulk++;
		} else {
			bad |= f.hdr.type != GR_FT_PING || f.ping.nonce != want_ctl;
			/* bulk bytes on the wire since the ping was queued */
			bulk_since[want_ctl] = off - bulk_at_queue[want_ctl];
			want_ctl++;
		}
		off += used;
	}
	CHECK(!bad && want_bulk == next_bulk && want_ctl == next_ctl);
	for (i = 0; i < (int)next_ctl; i++)
		CHECK_MSG(bulk_since[i] <= max_bulk + 64 * next_ctl,
			  "ping %d waited behind %zu bytes (largest bulk frame %zu)", i,
			  bulk_since[i], max_bulk);
	CHECK(l.overtakes > 100);
	gr_lanes_free(&l);
	free(w.buf);
}

/* ---- over a real socket ---- */

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
	struct sockaddr_in sin = { .sin_family = AF_INET };
	static uint8_t in[1 << 20];
	char err[GR_WIRE_ERRLEN];
	struct gr_lane_stats st;
	socklen_t slen = sizeof(sin);
	struct gr_loop *loop;
	struct gr_conn *c;
	struct gr_frame f;
	int lfd, fd, i;
	bool seen = false;

	CHECK(t && gr_loop_new(&loop) == 0);
	lfd = socket(AF_INET, SOCK_STREAM, 0);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	CHECK(lfd >= 0 && !bind(lfd, (struct sockaddr *)&sin, sizeof(sin)) && !listen(lfd, 1) &&
	      !getsockname(lfd, (struct sockaddr *)&sin, &slen));
	c = gr_conn_connect(loop, t, (struct sockaddr *)&sin, sizeof(sin), &c_cbs, NULL);
	CHECK(c != NULL);
	fd = accept(lfd, NULL, NULL);
	CHECK(fd >= 0);
	for (i = 0; i < 50 && !gr_conn_is_open(c); i++)
		gr_loop_run_once(loop, 10);
	CHECK(gr_conn_is_open(c));
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
	gr_conn_close(c, 0, "test done");
	gr_loop_run_once(loop, 0);
	close(fd);
	close(lfd);
	gr_loop_free(loop);
	gr_transport_free(t);
}

static const struct ktap_case cases[] = {
	{ "lanes_frame_lane", test_frame_lane },
	{ "lanes_priority_at_boundary", test_priority_at_boundary },
	{ "lanes_limits", test_lane_limits },
	{ "lanes_random_interleaving", test_random_interleaving },
	{ "lanes_socket_ping_overtakes", test_socket_ping_overtakes },
};

int main(void)
{
	return ktap_run(cases, sizeof(cases) / sizeof(cases[0]));
}
