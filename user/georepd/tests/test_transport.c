// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests of the TCP transport (user/lib/transport*.c): two endpoints on
 * 127.0.0.1 exchanging frames, partial reads and writes, garbage and
 * old-version peers disconnected while the loop keeps serving the others,
 * the dialer's reconnect with backoff.
 */
#include <arpa/inet.h>
#include <endian.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <linux/sockios.h>
#include <unistd.h>

#include "georep/transport.h"
#include "ktap.h"

struct endpoint {
	const char *name;
	int opened, closed, frames;
	int last_err;
	char last_reason[256];
	uint64_t last_nonce;
	uint64_t seq_sum;		/* of records received */
	uint32_t records;
	struct gr_conn *conn;		/* last opened */
	struct gr_conn *all[8];		/* every one opened, for teardown */
	bool echo;			/* answer pings with pongs */
	unsigned int frame_us;		/* work per frame received, slept */
};

static void ep_open(struct gr_conn *c, void *arg)
{
	struct endpoint *e = arg;

	if (e->opened < 8)
		e->all[e->opened] = c;
	e->opened++;
	e->conn = c;
}

static void ep_frame(struct gr_conn *c, const struct gr_frame *f, void *arg)
{
	struct endpoint *e = arg;
	const struct georep_record *r;
	const uint8_t *payload;
	size_t pos = 0;

	e->frames++;
	e->conn = c;
	if (e->frame_us)
		usleep(e->frame_us);
	switch (f->hdr.type) {
	case GR_FT_PING:
		e->last_nonce = f->ping.nonce;
		if (e->echo) {
			struct gr_frame p = { .hdr.type = GR_FT_PONG, .ping = f->ping };

			gr_conn_send(c, &p);
		}
		break;
	case GR_FT_PONG:
		e->last_nonce = f->ping.nonce;
		break;
	case GR_FT_RECORDS:
		while (gr_records_next(&f->records, &pos, &r, &payload)) {
			e->records++;
			e->seq_sum += le64toh(r->seq);
			if (payload[0] != (uint8_t)le64toh(r->seq) ||
			    payload[le32toh(r->payload_len) - 1] != (uint8_t)le64toh(r->seq))
				e->last_err = -EBADMSG;
		}
		break;
	}
}

static void ep_close(struct gr_conn *c, int err, const char *reason, void *arg)
{
	struct endpoint *e = arg;

	e->closed++;
	e->last_err = err;
	snprintf(e->last_reason, sizeof(e->last_reason), "%s", reason);
	if (e->conn == c)
		e->conn = NULL;
	for (int i = 0; i < 8; i++)
		if (e->all[i] == c)
			e->all[i] = NULL;
}

static const struct gr_conn_cbs ep_cbs = {
	.on_open = ep_open, .on_frame = ep_frame, .on_close = ep_close,
};

/* Run the loop until *@cond is true or @ms pass. */
#define PUMP_UNTIL(loop, cond, ms) do {					\
	uint64_t __end = gr_now_ms() + (ms);				\
	while (!(cond) && gr_now_ms() < __end)				\
		gr_loop_run_once((loop), 10);				\
} while (0)

static void loopback(uint16_t port, struct sockaddr_in *sin)
{
	memset(sin, 0, sizeof(*sin));
	sin->sin_family = AF_INET;
	sin->sin_port = htons(port);
	sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
}

/* A plain blocking socket, for speaking raw bytes at a listener. */
static int raw_connect(uint16_t port)
{
	struct sockaddr_in sin;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	loopback(port, &sin);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&sin, sizeof(sin))) {
		close(fd);
		return -1;
	}
	return fd;
}

/* True when the peer closed @fd (EOF after draining what it sent). */
static bool raw_closed(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	char buf[4096];

	while (poll(&p, 1, 0) == 1) {
		ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);

		if (n == 0)
			return true;
		if (n < 0)
			return errno != EAGAIN;
	}
	return false;
}

struct setup {
	struct gr_loop *loop;
	struct gr_transport *t;
	struct gr_listener *l;
	struct endpoint srv, cli;
	struct gr_conn *c;
};

static int setup(struct setup *s)
{
	struct sockaddr_in sin;
	const char *why = "";

	memset(s, 0, sizeof(*s));
	s->srv.name = "server";
	s->srv.echo = true;
	s->cli.name = "client";
	if (gr_loop_new(&s->loop))
		return -1;
	s->t = gr_transport_tcp();
	s->l = gr_listener_new(s->loop, s->t, "127.0.0.1", 0, &ep_cbs, &s->srv, &why);
	if (!s->l) {
		printf("    # listen: %s: %s\n", why, strerror(errno));
		return -1;
	}
	loopback(gr_listener_port(s->l), &sin);
	s->c = gr_conn_connect(s->loop, s->t, (struct sockaddr *)&sin, sizeof(sin),
			       &ep_cbs, &s->cli);
	PUMP_UNTIL(s->loop, s->cli.opened && s->srv.opened, 2000);
	return s->cli.opened && s->srv.opened ? 0 : -1;
}

static void teardown(struct setup *s)
{
	for (int i = 0; i < 8; i++) {
		if (s->cli.all[i])
			gr_conn_close(s->cli.all[i], 0, "test done");
		if (s->srv.all[i])
			gr_conn_close(s->srv.all[i], 0, "test done");
	}
	gr_listener_free(s->l);
	gr_loop_free(s->loop);
	gr_transport_free(s->t);
}

static void test_ping_pong(void)
{
	struct gr_frame f = { .hdr.type = GR_FT_PING };
	struct setup s;
	int i;

	if (setup(&s)) {
		CHECK(0);
		return;
	}
	CHECK(!gr_conn_is_server(s.c) && gr_conn_is_server(s.srv.conn));
	CHECK(!strncmp(gr_conn_peer_addr(s.c), "127.0.0.1:", 10));
	CHECK(gr_conn_peer_identity(s.c) == NULL);
	for (i = 1; i <= 100; i++) {
		f.ping.nonce = i;
		CHECK(gr_conn_send(s.c, &f) == 0);
	}
	PUMP_UNTIL(s.loop, s.cli.frames == 100, 2000);
	CHECK(s.srv.frames == 100 && s.cli.frames == 100);
	CHECK(s.cli.last_nonce == 100);
	CHECK(gr_conn_bytes_out(s.c) == 100 * (GR_WIRE_HDR_SIZE + GR_PING_SIZE));
	CHECK(gr_conn_bytes_in(s.c) == gr_conn_bytes_out(s.c));
	teardown(&s);
}

static void test_partial_reads(void)
{
	struct gr_frame f = { .hdr.type = GR_FT_PING, .ping.nonce = 77 };
	uint8_t buf[2 * (GR_WIRE_HDR_SIZE + GR_PING_SIZE)];
	struct setup s;
	ssize_t n;
	int fd, i;

	if (setup(&s)) {
		CHECK(0);
		return;
	}
	n = gr_wire_encode(buf, sizeof(buf), &f);
	f.ping.nonce = 78;
	n += gr_wire_encode(buf + n, sizeof(buf) - n, &f);
	fd = raw_connect(gr_listener_port(s.l));
	CHECK(fd >= 0);
	s.srv.frames = 0;
	/* one byte at a time, the loop running between bytes */
	for (i = 0; i < n; i++) {
		CHECK(write(fd, buf + i, 1) == 1);
		gr_loop_run_once(s.loop, 5);
		if (i < n / 2 - 1)
			CHECK_MSG(s.srv.frames == 0, "frame seen after %d bytes", i + 1);
	}
	PUMP_UNTIL(s.loop, s.srv.frames == 2, 1000);
	CHECK(s.srv.frames == 2 && s.srv.last_nonce == 78);
	/* and the pongs come back whole */
	close(fd);
	PUMP_UNTIL(s.loop, s.srv.closed == 1, 1000);
	CHECK(s.srv.closed == 1 && s.srv.last_err == -ECONNRESET);
	teardown(&s);
}

static size_t make_record(uint8_t *p, uint64_t seq, uint32_t plen)
{
	struct georep_record r;

	memset(&r, 0, sizeof(r));
	r.magic = htole32(GEOREP_RECORD_MAGIC);
	r.version = htole16(GEOREP_RECORD_VERSION);
	r.op = htole16(GEOREP_OP_WRITE);
	r.seq = htole64(seq);
	r.len = htole32(plen);
	r.payload_len = htole32(plen);
	memcpy(p, &r, sizeof(r));
	memset(p + sizeof(r), (uint8_t)seq, plen);
	return sizeof(r) + plen;
}

static void test_large_frames_partial_writes(void)
{
	const uint32_t plen = 64 * 1024, per = 60;
	struct gr_frame f = { .hdr.type = GR_FT_RECORDS, .hdr.volume = 9 };
	uint8_t *recs = malloc(per * (256 + plen));
	uint64_t seq = 1, want = 0;
	int batch;
	struct setup s;
	size_t len;
	uint32_t i;

	if (setup(&s)) {
		CHECK(0);
		free(recs);
		return;
	}
	for (batch = 0; batch < 5; batch++) {
		len = 0;
		f.records.first_seq = seq;
		for (i = 0; i < per; i++, seq++) {
			len += make_record(recs + len, seq, plen);
			want += seq;
		}
		f.records.count = per;
		f.records.data = recs;
		f.records.len = len;
		CHECK(gr_conn_send(s.srv.conn, &f) == 0);
	}
	/* ~20 MiB queued: more than the socket takes at once */
	CHECK(gr_conn_queued(s.srv.conn) > 0);
	PUMP_UNTIL(s.loop, s.cli.records == 5 * per, 10000);
	CHECK_MSG(s.cli.records == 5 * per, "%u records", s.cli.records);
	CHECK(s.cli.seq_sum == want && s.cli.last_err == 0);
	CHECK(gr_conn_queued(s.srv.conn) == 0);
	teardown(&s);
	free(recs);
}

/*
 * Held frames (an APPEND and its RECORDS) stay queued until pushed, then
 * leave together, in order and intact; a frame sent after the push goes
 * at once again.
 */
static void test_hold_push(void)
{
	struct gr_frame p = { .hdr.type = GR_FT_PING, .ping.nonce = 7 };
	struct gr_frame f = { .hdr.type = GR_FT_RECORDS, .hdr.volume = 9 };
	uint8_t recs[2 * (256 + 4096)];
	struct setup s;
	size_t len;

	if (setup(&s)) {
		CHECK(0);
		return;
	}
	s.srv.echo = false;
	len = make_record(recs, 5, 4096);
	len += make_record(recs + len, 6, 4096);
	f.records.first_seq = 5;
	f.records.count = 2;
	f.records.data = recs;
	f.records.len = len;
	gr_conn_hold(s.c);
	CHECK(gr_conn_send(s.c, &p) == 0 && gr_conn_send(s.c, &f) == 0);
	CHECK(gr_conn_bytes_out(s.c) == 0 && gr_conn_queued(s.c) > len);
	PUMP_UNTIL(s.loop, s.srv.frames, 100);
	CHECK(s.srv.frames == 0);
	gr_conn_push(s.c);
	CHECK(gr_conn_queued(s.c) == 0);
	PUMP_UNTIL(s.loop, s.srv.frames == 2, 2000);
	CHECK(s.srv.frames == 2 && s.srv.last_nonce == 7 && s.srv.records == 2);
	CHECK(s.srv.seq_sum == 11 && s.srv.last_err == 0);
	p.ping.nonce = 8;
	CHECK(gr_conn_send(s.c, &p) == 0 && gr_conn_queued(s.c) == 0);
	PUMP_UNTIL(s.loop, s.srv.frames == 3, 2000);
	CHECK(s.srv.frames == 3 && s.srv.last_nonce == 8);
	/* nothing held: a push sends nothing and holds nothing */
	gr_conn_push(s.c);
	CHECK(gr_conn_send(s.c, &p) == 0 && gr_conn_queued(s.c) == 0);
	teardown(&s);
}

/*
 * Peers speaking garbage or an old protocol version are disconnected with a
 * reason naming the problem; the good connection keeps being served.
 */
static void test_bad_peers(void)
{
	static const char garbage[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
	struct gr_frame f = { .hdr.type = GR_FT_PING };
	uint8_t old[GR_WIRE_HDR_SIZE + GR_PING_SIZE];
	struct setup s;
	int fd, fd2, fd3;

	if (setup(&s)) {
		CHECK(0);
		return;
	}
	fd = raw_connect(gr_listener_port(s.l));
	CHECK(fd >= 0 && write(fd, garbage, sizeof(garbage) - 1) > 0);
	PUMP_UNTIL(s.loop, s.srv.closed == 1, 2000);
	CHECK(s.srv.closed == 1 && s.srv.last_err == -EPROTO);
	CHECK_MSG(strstr(s.srv.last_reason, "bad frame magic"), "%s", s.srv.last_reason);
	CHECK(raw_closed(fd));

	/* an old speaker: version 0 in an otherwise fine frame */
	gr_wire_encode(old, sizeof(old), &f);
	old[4] = 0;
	fd2 = raw_connect(gr_listener_port(s.l));
	CHECK(fd2 >= 0 && write(fd2, old, sizeof(old)) == sizeof(old));
	PUMP_UNTIL(s.loop, s.srv.closed == 2, 2000);
	CHECK_MSG(strstr(s.srv.last_reason, "unsupported protocol version 0"), "%s",
		  s.srv.last_reason);
	CHECK(raw_closed(fd2));

	/* a header announcing 1 GiB is refused before 1 GiB is awaited */
	gr_wire_encode(old, sizeof(old), &f);
	old[11] = 0x40;
	fd3 = raw_connect(gr_listener_port(s.l));
	CHECK(fd3 >= 0 && write(fd3, old, GR_WIRE_HDR_SIZE) == GR_WIRE_HDR_SIZE);
	PUMP_UNTIL(s.loop, s.srv.closed == 3, 2000);
	CHECK_MSG(strstr(s.srv.last_reason, "exceeds the limit"), "%s", s.srv.last_reason);

	/* a per-connection limit below the protocol's (e.g. before hello) */
	gr_conn_set_max_body(s.c, 8);
	f.ping.nonce = 1;
	CHECK(s.srv.all[0] && gr_conn_send(s.srv.all[0], &f) == 0);
	PUMP_UNTIL(s.loop, s.cli.closed == 1, 2000);
	CHECK_MSG(s.cli.closed == 1 && strstr(s.cli.last_reason,
		  "ping frame: length 16 exceeds the 8 allowed at this point"), "%s",
		  s.cli.last_reason);
	PUMP_UNTIL(s.loop, s.srv.closed == 4, 2000);
	CHECK(s.srv.closed == 4);

	/* a fresh client: the server still answers */
	{
		struct sockaddr_in sin;

		loopback(gr_listener_port(s.l), &sin);
		s.cli.closed = 0;
		s.c = gr_conn_connect(s.loop, s.t, (struct sockaddr *)&sin, sizeof(sin),
				      &ep_cbs, &s.cli);
		PUMP_UNTIL(s.loop, s.cli.opened == 2, 2000);
	}
	s.cli.frames = 0;
	f.ping.nonce = 4242;
	CHECK(gr_conn_send(s.c, &f) == 0);
	PUMP_UNTIL(s.loop, s.cli.frames == 1, 2000);
	CHECK(s.cli.frames == 1 && s.cli.last_nonce == 4242);
	CHECK(s.cli.closed == 0 && s.cli.opened == 2);
	close(fd);
	close(fd2);
	close(fd3);
	teardown(&s);
}

static void test_queue_limit_and_close(void)
{
	struct gr_frame f = { .hdr.type = GR_FT_PING };
	struct setup s;
	struct gr_conn *c;
	int i, ret = 0;

	if (setup(&s)) {
		CHECK(0);
		return;
	}
	c = s.c;
	gr_conn_set_queue_limit(c, 10 * (GR_WIRE_HDR_SIZE + GR_PING_SIZE));
	/* the peer is not read (no loop run): the queue fills up eventually */
	for (i = 0; i < 1000000 && !ret; i++)
		ret = gr_conn_send(c, &f);
	CHECK(ret == -ENOBUFS);
	CHECK(gr_conn_queued(c) <= 10 * (GR_WIRE_HDR_SIZE + GR_PING_SIZE));
	gr_conn_close(c, -ECANCELED, "closed by test %d", 1);
	CHECK(s.cli.closed == 1 && !strcmp(s.cli.last_reason, "closed by test 1"));
	CHECK(!gr_conn_is_open(c));
	CHECK(gr_conn_send(c, &f) == -ENOTCONN);
	gr_conn_close(c, 0, "twice");	/* no second on_close */
	CHECK(s.cli.closed == 1);
	PUMP_UNTIL(s.loop, s.srv.closed == 1, 2000);
	CHECK(s.srv.closed == 1);
	teardown(&s);
}

static void test_dialer_reconnect(void)
{
	struct gr_loop *loop;
	struct gr_transport *t = gr_transport_tcp();
	struct endpoint srv = { .name = "server" }, cli = { .name = "dialer" };
	struct gr_listener *l;
	struct gr_dialer *d;
	struct sockaddr_in sin;
	const char *why;
	uint16_t port;
	unsigned int tries;
	uint64_t start;

	CHECK(gr_loop_new(&loop) == 0);
	/* find a free port, then leave it closed */
	l = gr_listener_new(loop, t, "127.0.0.1", 0, &ep_cbs, &srv, &why);
	CHECK(l != NULL);
	port = gr_listener_port(l);
	gr_listener_free(l);
	loopback(port, &sin);

	d = gr_dialer_new(loop, t, (struct sockaddr *)&sin, sizeof(sin), 20, 160,
			  &ep_cbs, &cli);
	CHECK(d != NULL);
	start = gr_now_ms();
	PUMP_UNTIL(loop, cli.closed >= 4, 3000);
	/* backoff 20, 40, 80 (+-25%): at least ~105 ms for 4 attempts */
	CHECK_MSG(cli.closed >= 4 && gr_now_ms() - start >= 100,
		  "%d failures in %llu ms", cli.closed,
		  (unsigned long long)(gr_now_ms() - start));
	CHECK(cli.last_err == -ECONNREFUSED && strstr(cli.last_reason, "connect"));
	CHECK(!gr_dialer_conn(d));

	/* the peer comes up: the dialer gets there by itself */
	l = gr_listener_new(loop, t, "127.0.0.1", port, &ep_cbs, &srv, &why);
	CHECK(l != NULL);
	PUMP_UNTIL(loop, cli.opened == 1 && srv.opened == 1, 3000);
	CHECK(cli.opened == 1 && srv.opened == 1 && gr_dialer_conn(d));
	gr_dialer_reset_backoff(d);

	/* the peer drops the connection: reconnected quickly */
	tries = gr_dialer_attempts(d);
	gr_conn_close(srv.conn, 0, "kick");
	PUMP_UNTIL(loop, cli.opened == 2, 3000);
	CHECK(cli.opened == 2 && gr_dialer_attempts(d) == tries + 1);

	gr_dialer_free(d);
	CHECK(cli.last_err == -ECANCELED);
	PUMP_UNTIL(loop, srv.closed == 2, 2000);
	CHECK(srv.closed == 2);
	for (int i = 0; i < 8; i++)
		if (srv.all[i])
			gr_conn_close(srv.all[i], 0, "test done");
	gr_listener_free(l);
	gr_loop_free(loop);
	gr_transport_free(t);
}

static void test_resolve(void)
{
	struct sockaddr_storage ss;
	char buf[GR_ADDR_STRLEN];
	const char *why = NULL;
	socklen_t len;

	CHECK(gr_resolve("127.0.0.1", 7000, &ss, &len, &why) == 0);
	gr_addr_str((struct sockaddr *)&ss, buf, sizeof(buf));
	CHECK(!strcmp(buf, "127.0.0.1:7000"));
	CHECK(gr_resolve("::1", 7001, &ss, &len, &why) == 0);
	gr_addr_str((struct sockaddr *)&ss, buf, sizeof(buf));
	CHECK(!strcmp(buf, "[::1]:7001"));
	/* "localhost" comes from /etc/hosts: no DNS needed */
	CHECK(gr_resolve("localhost", 7002, &ss, &len, &why) == 0);
	gr_addr_str((struct sockaddr *)&ss, buf, sizeof(buf));
	CHECK_MSG(strstr(buf, ":7002") != NULL, "%s", buf);
}

/*
 * A transport whose session holds data the socket no longer signals, as a
 * TLS session buffering decrypted records does: once a 1-byte kick arrives,
 * it serves prepared frames 64 KiB per receive. More than one read budget
 * is buffered, so delivery depends on the pending() hook.
 */
struct buffered {
	uint8_t *data;
	size_t len, off;
	unsigned int pending_calls;
};

static struct buffered *the_session;
static uint8_t *prepared;
static size_t prepared_len;

static int buf_session_new(struct gr_transport *t, int fd, bool server, void **sess)
{
	struct buffered *b = calloc(1, sizeof(*b));

	if (!b)
		return -ENOMEM;
	b->data = prepared;
	b->len = prepared_len;
	the_session = b;
	*sess = b;
	return 0;
}

static int buf_handshake(void *sess, int fd, uint32_t *want, const char **why)
{
	return 0;
}

static ssize_t buf_recv(void *sess, int fd, void *out, size_t len)
{
	struct buffered *b = sess;
	char junk[16];
	size_t n;

	while (recv(fd, junk, sizeof(junk), MSG_DONTWAIT) > 0)
		;
	if (b->off == b->len)
		return -EAGAIN;
	n = b->len - b->off;
	if (n > 65536)
		n = 65536;
	if (n > len)
		n = len;
	memcpy(out, b->data + b->off, n);
	b->off += n;
	return n;
}

static ssize_t buf_send(void *sess, int fd, const void *data, size_t len)
{
	ssize_t n = send(fd, data, len, MSG_NOSIGNAL | MSG_DONTWAIT);

	return n < 0 ? (errno == EAGAIN ? -EAGAIN : -errno) : n;
}

static size_t buf_pending(void *sess)
{
	struct buffered *b = sess;

	b->pending_calls++;
	return b->len - b->off;
}

static const char *buf_identity(void *sess)
{
	return "buffered-peer";
}

static void buf_session_free(void *sess)
{
	free(sess);
	the_session = NULL;
}

static void buf_destroy(struct gr_transport *t)
{
}

static const struct gr_transport_ops buffered_ops = {
	.name = "buffered",
	.session_new = buf_session_new,
	.handshake = buf_handshake,
	.recv = buf_recv,
	.send = buf_send,
	.pending = buf_pending,
	.peer_identity = buf_identity,
	.session_free = buf_session_free,
	.destroy = buf_destroy,
};

static void test_session_buffered_input(void)
{
	struct gr_transport t = { .ops = &buffered_ops };
	struct endpoint srv = { .name = "server" };
	struct gr_frame f = { .hdr.type = GR_FT_RECORDS, .hdr.volume = 3 };
	const uint32_t plen = 64 * 1024, per = 16;
	uint8_t *recs = malloc(per * (256 + plen));
	struct gr_listener *l;
	struct gr_loop *loop;
	const char *why;
	uint64_t seq = 1;
	size_t len, i;
	ssize_t n;
	int fd, batch;

	prepared_len = 0;
	prepared = malloc(3 * (GR_WIRE_HDR_SIZE + GR_RECORDS_HDR_SIZE + per * (256 + plen)));
	for (batch = 0; batch < 3; batch++) {
		len = 0;
		f.records.first_seq = seq;
		for (i = 0; i < per; i++)
			len += make_record(recs + len, seq++, plen);
		f.records.count = per;
		f.records.data = recs;
		f.records.len = len;
		n = gr_wire_encode(prepared + prepared_len, SIZE_MAX, &f);
		CHECK(n > 0);
		prepared_len += n;
	}
	CHECK(prepared_len > 3 << 20);	/* three read budgets' worth */

	CHECK(gr_loop_new(&loop) == 0);
	l = gr_listener_new(loop, &t, "127.0.0.1", 0, &ep_cbs, &srv, &why);
	CHECK(l != NULL);
	fd = raw_connect(gr_listener_port(l));
	PUMP_UNTIL(loop, srv.opened == 1, 2000);
	CHECK(srv.opened == 1 && !strcmp(gr_conn_peer_identity(srv.conn), "buffered-peer"));
	CHECK(write(fd, "k", 1) == 1);	/* the only time the socket turns readable */
	PUMP_UNTIL(loop, srv.records == 3 * per, 3000);
	CHECK_MSG(srv.records == 3 * per, "%u records delivered", srv.records);
	CHECK(the_session && the_session->pending_calls >= 2);
	if (srv.conn)
		gr_conn_close(srv.conn, 0, "test done");
	close(fd);
	gr_listener_free(l);
	gr_loop_free(loop);
	free(prepared);
	free(recs);
}

/*
 * Frames whose handling takes time: one turn of the loop reads and hands on
 * about 20 ms of them (a 64 KiB chunk at least), not all a peer sent; the
 * rest waits in the socket for the next turns, and nothing is lost.
 */
static void test_read_time_budget(void)
{
	struct gr_frame f = { .hdr.type = GR_FT_PING };
	const size_t one = GR_WIRE_HDR_SIZE + GR_PING_SIZE;
	const int total = (96U << 10) / one;
	uint8_t *buf;
	struct setup s;
	int fd, i, after, unsent = 1;
	size_t n = 0;
	uint64_t end;

	buf = malloc(total * one);
	if (!buf || setup(&s)) {
		CHECK(0);
		free(buf);
		return;
	}
	s.srv.echo = false;
	fd = raw_connect(gr_listener_port(s.l));
	CHECK(fd >= 0);
	PUMP_UNTIL(s.loop, s.srv.opened == 2, 1000);
	for (i = 1; i <= total; i++) {
		f.ping.nonce = i;
		n += gr_wire_encode(buf + n, total * one - n, &f);
	}
	CHECK(n == total * one && write(fd, buf, n) == (ssize_t)n);
	/* all of it in the server's socket before the loop turns */
	for (end = gr_now_ms() + 2000; unsent && gr_now_ms() < end; usleep(1000))
		CHECK(ioctl(fd, SIOCOUTQ, &unsent) == 0);
	CHECK(unsent == 0);
	s.srv.frames = 0;
	s.srv.frame_us = 30;	/* a 64 KiB chunk: 1365 frames, 40 ms or more */
	gr_loop_run_once(s.loop, 100);
	after = s.srv.frames;
	CHECK_MSG(after > 0 && after < total, "%d of %d frames in one turn", after, total);
	s.srv.frame_us = 0;
	PUMP_UNTIL(s.loop, s.srv.frames == total, 2000);
	CHECK(s.srv.frames == total && s.srv.last_nonce == (uint64_t)total);
	printf("    # %d of %d frames handed on in the first turn\n", after, total);
	close(fd);
	teardown(&s);
	free(buf);
}

static const struct ktap_case cases[] = {
	{ "transport_ping_pong", test_ping_pong },
	{ "transport_partial_reads", test_partial_reads },
	{ "transport_large_frames_partial_writes", test_large_frames_partial_writes },
	{ "transport_bad_peers", test_bad_peers },
	{ "transport_queue_limit_and_close", test_queue_limit_and_close },
	{ "transport_dialer_reconnect", test_dialer_reconnect },
	{ "transport_resolve", test_resolve },
	{ "transport_session_buffered_input", test_session_buffered_input },
	{ "transport_read_time_budget", test_read_time_budget },
	{ "transport_hold_push", test_hold_push },
};

int main(void)
{
	return ktap_run(cases, sizeof(cases) / sizeof(cases[0]));
}
