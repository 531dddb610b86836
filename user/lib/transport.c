// SPDX-License-Identifier: GPL-2.0
/*
 * Connections, listener and dialer on top of a struct gr_transport.
 *
 * Receive path: bytes are read into c->in (at most READ_BUDGET per wake-up,
 * and no more once the frames handed on took READ_TIME_BUDGET_NS: one busy
 * peer, or the work its frames cause, cannot starve the others and the
 * control socket; what is left waits in the socket, still readable, for
 * the next turn of the loop); as soon as 24 bytes are there
 * the header is checked, so garbage is refused before its length field is
 * trusted; the buffer then grows to hold exactly the announced frame, which
 * is decoded and handed to on_frame. PART frames (version 2) are put
 * together in c->part and the whole frame, checked like any other, is
 * handed to on_frame after its last piece.
 *
 * Send path: frames are encoded into their lane (georep/send_lanes.h:
 * control or bulk); the lanes are written at once, control first at every
 * frame boundary, and what the socket does not take waits for EPOLLOUT.
 * TCP_NOTSENT_LOWAT keeps the socket's own unsent bytes small, so that the
 * choice between the lanes is made here and not behind megabytes already
 * in the kernel (Documentation/replication.rst, "Send lanes").
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <sys/ioctl.h>
#include <linux/sockios.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "georep/transport.h"

#define READ_CHUNK	(64U << 10)
#define HANDSHAKE_TIMEOUT_MS	5000	/* a peer that stalls its handshake */
#define READ_BUDGET	(1U << 20)
#define READ_TIME_BUDGET_NS	20000000ULL	/* 20 ms, and one chunk at least */

enum conn_state {
	CONN_CONNECTING,	/* waiting for connect() to finish */
	CONN_HANDSHAKE,		/* transport handshake */
	CONN_OPEN,
	CONN_CLOSED,
};

struct gr_conn {
	struct gr_loop *loop;
	struct gr_transport *t;
	void *sess;
	int fd;
	struct gr_io *io;
	struct gr_timer *hs_timer;	/* until the handshake is done */
	bool hs_counted;		/* in t->handshaking */
	enum conn_state state;
	bool server;
	const struct gr_conn_cbs *cbs;
	void *arg;
	void *user;
	char peer[GR_ADDR_STRLEN];
	char peer_name[GR_PEER_NAME_MAX];	/* identity to demand, or "" */

	uint8_t *in;
	size_t in_len, in_cap;

	struct gr_lanes out;
	uint32_t max_body;	/* frames longer than this are refused */
	uint16_t version;	/* agreed in the hello (1 until then) */
	size_t part_size;	/* of the pieces sent from version 2; 0: GR_PART_SIZE */

	uint8_t *part;		/* the split frame being put together */
	size_t part_len, part_cap;
	size_t part_want;	/* its whole size, once its header is in; else 0 */
	uint64_t parts_in;

	uint64_t bytes_in, bytes_out;
	uint64_t bulk_end;	/* bytes_out after the last bulk byte written */
	bool in_send;		/* inside gr_conn_send(): close deferred */
	bool held;		/* gr_conn_hold(): queued, sent at gr_conn_push() */
	bool read_deferred;	/* read_again() queued */
	int send_err;		/* error to close with, deferred */
	char send_why[160];	/* the session's reason for send_err */
};

void gr_transport_free(struct gr_transport *t)
{
	if (t)
		t->ops->destroy(t);
}

void gr_addr_str(const struct sockaddr *sa, char *buf, size_t len)
{
	char host[INET6_ADDRSTRLEN];

	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *s4 = (const void *)sa;

		inet_ntop(AF_INET, &s4->sin_addr, host, sizeof(host));
		snprintf(buf, len, "%s:%u", host, ntohs(s4->sin_port));
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const void *)sa;

		inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof(host));
		snprintf(buf, len, "[%s]:%u", host, ntohs(s6->sin6_port));
	} else {
		snprintf(buf, len, "(family %d)", sa->sa_family);
	}
}

int gr_resolve(const char *host, uint16_t port, struct sockaddr_storage *ss,
	       socklen_t *len, const char **why)
{
	struct addrinfo hints = {
		.ai_socktype = SOCK_STREAM,
		.ai_flags = AI_NUMERICSERV | AI_ADDRCONFIG,
	};
	struct addrinfo *res;
	char service[8];
	int ret;

	snprintf(service, sizeof(service), "%u", port);
	ret = getaddrinfo(host, service, &hints, &res);
	if (ret == EAI_ADDRFAMILY || ret == EAI_NONAME) {
		/* AI_ADDRCONFIG hides loopback-only setups; retry without */
		hints.ai_flags = AI_NUMERICSERV;
		ret = getaddrinfo(host, service, &hints, &res);
	}
	if (ret) {
		*why = gai_strerror(ret);
		return -EHOSTUNREACH;
	}
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	*len = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

static int tune_lowat(int fd, int bytes)
{
	return setsockopt(fd, IPPROTO_TCP, TCP_NOTSENT_LOWAT, &bytes, sizeof(bytes)) ? -errno : 0;
}

static void tune_socket(int fd)
{
	int one = 1;

	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
	tune_lowat(fd, GR_CONN_NOTSENT_LOWAT);
}

static void conn_io(struct gr_io *io, uint32_t events, void *arg);

static struct gr_conn *conn_alloc(struct gr_loop *loop, struct gr_transport *t,
				  int fd, bool server, const struct gr_conn_cbs *cbs,
				  void *arg)
{
	struct gr_conn *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->loop = loop;
	c->t = t;
	c->fd = fd;
	c->server = server;
	c->cbs = cbs;
	c->arg = arg;
	gr_lanes_init(&c->out, GR_CONN_MAX_QUEUE);
	c->max_body = GR_WIRE_MAX_BODY;
	c->version = GR_WIRE_VERSION_MIN;
	return c;
}

static void handshake_done(struct gr_conn *c)
{
	gr_timer_free(c->hs_timer);
	c->hs_timer = NULL;
	if (c->hs_counted)
		c->t->handshaking--;
	c->hs_counted = false;
}

static void conn_free(void *arg)
{
	struct gr_conn *c = arg;

	free(c->in);
	free(c->part);
	gr_lanes_free(&c->out);
	free(c);
}

/* The socket took @n bytes of what gr_lanes_peek() gave. */
static void sent(struct gr_conn *c, size_t n)
{
	bool bulk = c->out.cur == GR_LANE_BULK;

	gr_lanes_consume(&c->out, n);
	c->bytes_out += n;
	if (bulk)
		c->bulk_end = c->bytes_out;
}

void gr_conn_close(struct gr_conn *c, int err, const char *fmt, ...)
{
	char reason[GR_WIRE_ERRLEN + 64];
	va_list ap;

	if (c->state == CONN_CLOSED)
		return;
	/* best effort: push out what is queued, e.g. an ERROR frame */
	if (c->state == CONN_OPEN) {
		const uint8_t *p;
		size_t len;

		while ((len = gr_lanes_peek(&c->out, &p))) {
			ssize_t n = c->t->ops->send(c->sess, c->fd, p, len);

			if (n <= 0)
				break;
			sent(c, n);
		}
	}
	c->state = CONN_CLOSED;
	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	gr_io_del(c->io);
	c->io = NULL;
	handshake_done(c);
	if (c->sess)
		c->t->ops->session_free(c->sess);
	c->sess = NULL;
	close(c->fd);
	c->fd = -1;
	if (c->cbs && c->cbs->on_close)
		c->cbs->on_close(c, err, reason, c->arg);
	/* frees c at the end of this iteration; on OOM leak rather than UAF */
	gr_loop_defer(c->loop, conn_free, c);
}

static void update_events(struct gr_conn *c)
{
	uint32_t ev = EPOLLIN;

	if (c->state == CONN_CLOSED)
		return;
	if (c->state == CONN_CONNECTING || gr_lanes_total(&c->out))
		ev |= EPOLLOUT;
	if (c->sess && c->t->ops->want)
		ev |= c->t->ops->want(c->sess);
	gr_io_set_events(c->io, ev);
}

static void close_send_error(struct gr_conn *c, int err)
{
	if (c->send_why[0])
		gr_conn_close(c, err, "send: %s", c->send_why);
	else
		gr_conn_close(c, err, "send: %s", strerror(-err));
}

static void deferred_close(void *arg)
{
	struct gr_conn *c = arg;

	close_send_error(c, c->send_err);
}

static void flush(struct gr_conn *c)
{
	const uint8_t *p;
	size_t len;
	ssize_t n;

	while ((len = gr_lanes_peek(&c->out, &p))) {
		n = c->t->ops->send(c->sess, c->fd, p, len);
		if (n == -EAGAIN)
			break;
		if (n <= 0) {
			n = n ? n : -EPIPE;
			if (c->t->ops->last_error && c->t->ops->last_error(c->sess))
				snprintf(c->send_why, sizeof(c->send_why), "%s",
					 c->t->ops->last_error(c->sess));
			/*
			 * Callers of gr_conn_send() must not see on_close
			 * run under their feet: close from the loop.
			 */
			if (c->in_send) {
				if (!c->send_err) {
					c->send_err = n;
					if (gr_loop_defer(c->loop, deferred_close, c))
						close_send_error(c, n);
				}
				return;
			}
			close_send_error(c, n);
			return;
		}
		sent(c, n);
	}
	update_events(c);
}

/* Room for @need more bytes at the end of @lane. */
static uint8_t *out_reserve(struct gr_conn *c, enum gr_lane lane, size_t need, int *err)
{
	if (c->state == CONN_CLOSED || c->send_err) {
		*err = -ENOTCONN;
		return NULL;
	}
	return gr_lanes_reserve(&c->out, lane, need, err);
}

/* flush() from a sender's call: a close it causes is deferred (in_send) */
static void send_now(struct gr_conn *c)
{
	c->in_send = true;
	flush(c);
	c->in_send = false;
}

static void queued(struct gr_conn *c, enum gr_lane lane, size_t n)
{
	gr_lanes_commit(&c->out, lane, n);
	if (c->state == CONN_OPEN && !c->send_err && !c->held)
		send_now(c);
}

void gr_conn_hold(struct gr_conn *c)
{
	c->held = true;
}

/* TCP_CORK on a socket that is not TCP (a test's socketpair) fails: no matter */
static void cork(struct gr_conn *c, int on)
{
	setsockopt(c->fd, IPPROTO_TCP, TCP_CORK, &on, sizeof(on));
}

void gr_conn_push(struct gr_conn *c)
{
	c->held = false;
	if (c->state != CONN_OPEN || c->send_err || !gr_lanes_total(&c->out))
		return;
	cork(c, 1);
	send_now(c);
	/* closed by flush(): the socket is gone; otherwise this sends */
	if (c->fd >= 0)
		cork(c, 0);
}

int gr_conn_send_lane(struct gr_conn *c, const struct gr_frame *f, enum gr_lane lane)
{
	/* everything after the hello is framed (and laid out) with the agreed version */
	uint16_t v = f->hdr.type == GR_FT_HELLO ? f->hdr.version : c->version;
	size_t need = gr_wire_frame_size_as(f, v);
	uint8_t *dst;
	ssize_t n;
	int ret;

	if (!need || lane >= GR_NR_LANES)
		return -EINVAL;
	/* a frame type the peer does not know (its version is older) */
	if (f->hdr.version > c->version && f->hdr.type != GR_FT_HELLO)
		return -EPROTONOSUPPORT;
	dst = out_reserve(c, lane, need, &ret);
	if (!dst)
		return ret;
	n = gr_wire_encode_as(dst, need, f, v);
	if (n < 0)
		return n;
	queued(c, lane, n);
	return 0;
}

int gr_conn_send(struct gr_conn *c, const struct gr_frame *f)
{
	return gr_conn_send_lane(c, f, gr_frame_lane(f->hdr.type));
}

int gr_conn_send_raw(struct gr_conn *c, const void *buf, size_t len)
{
	uint8_t *dst;
	int ret;

	dst = out_reserve(c, GR_LANE_CONTROL, len, &ret);
	if (!dst)
		return ret;
	memcpy(dst, buf, len);
	queued(c, GR_LANE_CONTROL, len);
	return 0;
}

/* Tell the peer why, in a frame any version can parse, then close. */
static void protocol_error(struct gr_conn *c, const char *msg)
{
	struct gr_frame e = { .hdr.type = GR_FT_ERROR };

	e.error.code = GR_WERR_PROTOCOL;
	snprintf(e.error.reason, sizeof(e.error.reason), "%s", msg);
	gr_conn_send(c, &e);
	gr_conn_close(c, -EPROTO, "%s", msg);
}

/* Append a PART frame's bytes to the split frame; check what is known of it. */
static int add_part(struct gr_conn *c, const struct gr_part *pt, char *err)
{
	struct gr_frame_hdr hdr;
	size_t room = GR_WIRE_HDR_SIZE + (size_t)c->max_body;
	uint8_t *p;

	if (c->version < GR_WIRE_VERSION_PART) {
		snprintf(err, GR_WIRE_ERRLEN, "part frame on a connection of protocol version %u",
			 c->version);
		return -EPROTO;
	}
	if (pt->len > room - c->part_len) {
		snprintf(err, GR_WIRE_ERRLEN, "split frame: more than the %zu bytes allowed", room);
		return -EPROTO;
	}
	if (c->part_len + pt->len > c->part_cap) {
		/* the whole frame once its size is known, else double */
		size_t cap = c->part_want ? c->part_want : 2 * c->part_cap;

		if (cap < c->part_len + pt->len)
			cap = c->part_len + pt->len;
		p = realloc(c->part, cap < room ? cap : room);
		if (!p) {
			snprintf(err, GR_WIRE_ERRLEN, "split frame: out of memory");
			return -ENOMEM;
		}
		c->part = p;
		c->part_cap = cap < room ? cap : room;
	}
	memcpy(c->part + c->part_len, pt->data, pt->len);
	c->part_len += pt->len;
	c->parts_in++;
	if (!c->part_want && c->part_len >= GR_WIRE_HDR_SIZE) {
		if (gr_wire_decode_hdr(c->part, &hdr, err))
			return -EPROTO;
		if (gr_frame_lane(hdr.type) != GR_LANE_BULK) {
			snprintf(err, GR_WIRE_ERRLEN, "split frame: a %s frame is never split",
				 gr_frame_type_name(hdr.type));
			return -EPROTO;
		}
		if (hdr.length > c->max_body) {
			snprintf(err, GR_WIRE_ERRLEN, "split %s frame: length %u exceeds the %u allowed",
				 gr_frame_type_name(hdr.type), hdr.length, c->max_body);
			return -EPROTO;
		}
		c->part_want = GR_WIRE_HDR_SIZE + (size_t)hdr.length;
	}
	if (c->part_want && c->part_len > c->part_want) {
		snprintf(err, GR_WIRE_ERRLEN, "split frame: pieces carry %zu bytes, the frame has %zu",
			 c->part_len, c->part_want);
		return -EPROTO;
	}
	if (pt->more == (c->part_want && c->part_len == c->part_want)) {
		snprintf(err, GR_WIRE_ERRLEN, pt->more ?
			 "split frame: complete, but its last piece says more follow" :
			 "split frame: ends after %zu bytes of %zu", c->part_len, c->part_want);
		return -EPROTO;
	}
	return 0;
}

/*
 * A frame from the stream: a PART frame joins the split frame, which is
 * handed on once whole; any other frame is handed on at once.
 */
static int take_frame(struct gr_conn *c, struct gr_frame *f, char *err)
{
	size_t used;
	int ret;

	if (f->hdr.type != GR_FT_PART) {
		if (c->part_len && gr_frame_lane(f->hdr.type) == GR_LANE_BULK) {
			snprintf(err, GR_WIRE_ERRLEN, "a %s frame inside a split frame",
				 gr_frame_type_name(f->hdr.type));
			return -EPROTO;
		}
		c->cbs->on_frame(c, f, c->arg);
		return 0;
	}
	ret = add_part(c, &f->part, err);
	if (ret || f->part.more)
		return ret;
	ret = gr_wire_decode(c->part, c->part_len, f, &used, err);
	c->part_len = 0;
	c->part_want = 0;
	if (ret)
		return ret;
	c->cbs->on_frame(c, f, c->arg);
	return 0;
}

/* Hand every whole frame in c->in to on_frame. */
static void process_input(struct gr_conn *c)
{
	char err[GR_WIRE_ERRLEN];
	struct gr_frame_hdr hdr;
	struct gr_frame f;
	size_t off = 0, used, need;
	int ret;

	while (c->state == CONN_OPEN && c->in_len - off >= GR_WIRE_HDR_SIZE) {
		if (gr_wire_decode_hdr(c->in + off, &hdr, err)) {
			protocol_error(c, err);
			return;
		}
		if (hdr.length > c->max_body) {
			snprintf(err, sizeof(err),
				 "%s frame: length %u exceeds the %u allowed at this point",
				 gr_frame_type_name(hdr.type), hdr.length, c->max_body);
			protocol_error(c, err);
			return;
		}
		need = GR_WIRE_HDR_SIZE + (size_t)hdr.length;
		if (c->in_len - off < need)
			break;
		ret = gr_wire_decode(c->in + off, c->in_len - off, &f, &used, err);
		if (!ret)
			ret = take_frame(c, &f, err);
		if (ret) {
			protocol_error(c, err);
			return;
		}
		off += used;
	}
	if (c->state == CONN_CLOSED)
		return;
	if (off) {
		memmove(c->in, c->in + off, c->in_len - off);
		c->in_len -= off;
	}
}

static void do_read(struct gr_conn *c);

/* More input is buffered in the session: continue after the others ran. */
static void read_again(void *arg)
{
	struct gr_conn *c = arg;

	c->read_deferred = false;
	if (c->state == CONN_OPEN)
		do_read(c);
}

static void do_read(struct gr_conn *c)
{
	uint64_t end = gr_now_ns() + READ_TIME_BUDGET_NS;
	size_t budget = READ_BUDGET, want;
	struct gr_frame_hdr hdr;
	char err[GR_WIRE_ERRLEN];
	ssize_t n;
	uint8_t *p;

	while (c->state == CONN_OPEN && budget) {
		/* room for the frame in progress, or at least a chunk */
		want = c->in_len + READ_CHUNK;
		if (c->in_len >= GR_WIRE_HDR_SIZE &&
		    !gr_wire_decode_hdr(c->in, &hdr, err) && hdr.length <= c->max_body &&
		    GR_WIRE_HDR_SIZE + (size_t)hdr.length > want)
			want = GR_WIRE_HDR_SIZE + (size_t)hdr.length;
		if (want > c->in_cap) {
			p = realloc(c->in, want);
			if (!p) {
				gr_conn_close(c, -ENOMEM, "out of memory");
				return;
			}
			c->in = p;
			c->in_cap = want;
		}
		n = c->t->ops->recv(c->sess, c->fd, c->in + c->in_len,
				    c->in_cap - c->in_len);
		if (n == -EAGAIN)
			return;
		if (n == 0) {
			gr_conn_close(c, -ECONNRESET, "peer closed the connection");
			return;
		}
		if (n < 0) {
			if (c->t->ops->last_error && c->t->ops->last_error(c->sess))
				gr_conn_close(c, n, "recv: %s", c->t->ops->last_error(c->sess));
			else
				gr_conn_close(c, n, "recv: %s", strerror(-n));
			return;
		}
		c->in_len += n;
		c->bytes_in += n;
		budget -= (size_t)n < budget ? (size_t)n : budget;
		process_input(c);
		if (gr_now_ns() >= end)
			budget = 0;
	}
	/*
	 * Out of budget: plain sockets stay readable (level-triggered), but a
	 * session may hold the rest where epoll cannot see it.
	 */
	if (c->state == CONN_OPEN && c->t->ops->pending && c->t->ops->pending(c->sess) &&
	    !c->read_deferred && !gr_loop_defer(c->loop, read_again, c))
		c->read_deferred = true;
}

static void conn_opened(struct gr_conn *c)
{
	handshake_done(c);
	c->state = CONN_OPEN;
	if (c->cbs->on_open)
		c->cbs->on_open(c, c->arg);
	if (c->state == CONN_OPEN)
		flush(c);
}

static void do_handshake(struct gr_conn *c)
{
	const char *why = "handshake failed";
	uint32_t want = EPOLLIN;
	int ret;

	ret = c->t->ops->handshake(c->sess, c->fd, &want, &why);
	if (ret == -EAGAIN) {
		gr_io_set_events(c->io, want);
		return;
	}
	if (ret) {
		gr_conn_close(c, ret, "%s handshake: %s", c->t->ops->name, why);
		return;
	}
	gr_io_set_events(c->io, EPOLLIN);
	conn_opened(c);
}

static void handshake_expired(struct gr_timer *t, void *arg)
{
	struct gr_conn *c = arg;

	gr_conn_close(c, -ETIMEDOUT, "%s handshake: not done within %d ms",
		      c->t->ops->name, HANDSHAKE_TIMEOUT_MS);
}

static void start_session(struct gr_conn *c)
{
	int ret;

	if (c->server && c->t->handshaking >= GR_MAX_HANDSHAKING) {
		gr_conn_close(c, -EBUSY, "%s handshake: %u connections already in theirs",
			      c->t->ops->name, c->t->handshaking);
		return;
	}
	if (c->server) {
		c->t->handshaking++;
		c->hs_counted = true;
	}
	ret = c->t->ops->session_new(c->t, c->fd, c->server, &c->sess);

	/* a stranger must not hold a socket by never finishing its handshake */
	if (!ret) {
		c->hs_timer = gr_timer_new(c->loop, handshake_expired, c);
		if (c->hs_timer)
			gr_timer_arm(c->hs_timer, HANDSHAKE_TIMEOUT_MS);
		else
			ret = -ENOMEM;
	}
	if (!ret && c->peer_name[0] && c->t->ops->set_peer_name)
		ret = c->t->ops->set_peer_name(c->sess, c->peer_name);
	if (ret) {
		gr_conn_close(c, ret, "%s session: %s", c->t->ops->name, strerror(-ret));
		return;
	}
	c->state = CONN_HANDSHAKE;
	do_handshake(c);
}

static void conn_io(struct gr_io *io, uint32_t events, void *arg)
{
	struct gr_conn *c = arg;
	socklen_t len = sizeof(int);
	uint32_t want;
	int soerr = 0;

	switch (c->state) {
	case CONN_CONNECTING:
		if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &soerr, &len))
			soerr = errno;
		if (soerr) {
			gr_conn_close(c, -soerr, "connect: %s", strerror(soerr));
			return;
		}
		start_session(c);
		return;
	case CONN_HANDSHAKE:
		do_handshake(c);
		return;
	case CONN_OPEN:
		/* a session that wanted the other direction gets both tries */
		want = c->t->ops->want ? c->t->ops->want(c->sess) : 0;
		if ((events & (EPOLLIN | EPOLLHUP | EPOLLERR)) || want)
			do_read(c);
		if (c->state == CONN_OPEN && ((events & EPOLLOUT) || want))
			flush(c);
		else if (c->state == CONN_OPEN)
			update_events(c);
		return;
	case CONN_CLOSED:
		return;
	}
}

struct gr_conn *gr_conn_connect(struct gr_loop *loop, struct gr_transport *t,
				const struct sockaddr *sa, socklen_t salen,
				const struct gr_conn_cbs *cbs, void *arg)
{
	struct gr_conn *c;
	int fd, err;

	fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return NULL;
	tune_socket(fd);
	c = conn_alloc(loop, t, fd, false, cbs, arg);
	if (!c) {
		close(fd);
		errno = ENOMEM;
		return NULL;
	}
	gr_addr_str(sa, c->peer, sizeof(c->peer));
	c->io = gr_io_add(loop, fd, EPOLLOUT, conn_io, c);
	if (!c->io) {
		err = errno;
		close(fd);
		conn_free(c);
		errno = err;
		return NULL;
	}
	c->state = CONN_CONNECTING;
	if (connect(fd, sa, salen) && errno != EINPROGRESS) {
		/* report through on_close like an asynchronous failure */
		err = errno;
		gr_conn_close(c, -err, "connect: %s", strerror(err));
	}
	return c;
}

void gr_conn_set_cbs(struct gr_conn *c, const struct gr_conn_cbs *cbs, void *arg)
{
	c->cbs = cbs;
	c->arg = arg;
}

const char *gr_conn_peer_addr(const struct gr_conn *c)
{
	return c->peer;
}

bool gr_conn_is_open(const struct gr_conn *c)
{
	return c->state == CONN_OPEN;
}

bool gr_conn_is_server(const struct gr_conn *c)
{
	return c->server;
}

size_t gr_conn_queued(const struct gr_conn *c)
{
	return gr_lanes_total(&c->out);
}

void gr_conn_set_queue_limit(struct gr_conn *c, size_t bytes)
{
	int i;

	for (i = 0; i < GR_NR_LANES; i++)
		c->out.q[i].limit = bytes;
}

void gr_conn_set_lane_limit(struct gr_conn *c, enum gr_lane lane, size_t bytes)
{
	c->out.q[lane].limit = bytes;
}

void gr_conn_lane_stats(const struct gr_conn *c, struct gr_lane_stats *st)
{
	int v = 0;

	memset(st, 0, sizeof(*st));
	st->control_queued = gr_lanes_queued(&c->out, GR_LANE_CONTROL);
	st->bulk_queued = gr_lanes_queued(&c->out, GR_LANE_BULK);
	st->bulk_limit = c->out.q[GR_LANE_BULK].limit;
	st->overtakes = c->out.overtakes;
	st->parts_out = c->out.parts;
	st->parts_in = c->parts_in;
	if (c->fd >= 0 && !ioctl(c->fd, SIOCOUTQNSD, &v) && v > 0)
		st->socket_unsent = v;
	v = 0;
	if (c->fd >= 0 && !ioctl(c->fd, SIOCOUTQ, &v) && v > 0)
		st->socket_unacked = v;
	/*
	 * Bulk bytes the peer's TCP has not acknowledged: the socket counts
	 * what it holds (TLS: ciphertext, a little more than bytes_out
	 * counts), so allow GR_CONN_UNACKED_SLACK of record overhead.
	 */
	if (c->bytes_out - c->bulk_end < st->socket_unacked &&
	    st->socket_unacked - (c->bytes_out - c->bulk_end) > GR_CONN_UNACKED_SLACK)
		st->bulk_unacked = st->socket_unacked - (c->bytes_out - c->bulk_end);
}

int gr_conn_set_notsent_lowat(struct gr_conn *c, size_t bytes)
{
	if (c->fd < 0)
		return -ENOTCONN;
	if (!bytes || bytes > GR_CONN_NOTSENT_LOWAT)
		bytes = GR_CONN_NOTSENT_LOWAT;
	return tune_lowat(c->fd, (int)bytes);
}

static void set_split(struct gr_conn *c)
{
	gr_lanes_split(&c->out, c->version < GR_WIRE_VERSION_PART ? 0 :
			c->part_size ? c->part_size : GR_PART_SIZE, c->version);
}

void gr_conn_set_version(struct gr_conn *c, uint16_t version)
{
	c->version = version;
	set_split(c);
}

void gr_conn_set_part_size(struct gr_conn *c, size_t bytes)
{
	c->part_size = bytes;
	set_split(c);
}

void gr_conn_set_max_body(struct gr_conn *c, uint32_t bytes)
{
	c->max_body = bytes < GR_WIRE_MAX_BODY ? bytes : GR_WIRE_MAX_BODY;
}

const char *gr_conn_peer_identity(const struct gr_conn *c)
{
	return c->sess ? c->t->ops->peer_identity(c->sess) : NULL;
}

int gr_conn_set_peer_name(struct gr_conn *c, const char *name)
{
	if (strlen(name) >= sizeof(c->peer_name))
		return -ENAMETOOLONG;
	strcpy(c->peer_name, name);
	return 0;
}

bool gr_conn_session_stats(const struct gr_conn *c, struct gr_session_stats *st)
{
	memset(st, 0, sizeof(*st));
	if (!c->sess || !c->t->ops->stats)
		return false;
	c->t->ops->stats(c->sess, st);
	return true;
}

uint64_t gr_conn_bytes_in(const struct gr_conn *c)
{
	return c->bytes_in;
}

uint64_t gr_conn_bytes_out(const struct gr_conn *c)
{
	return c->bytes_out;
}

uint64_t gr_conn_sock_cookie(const struct gr_conn *c)
{
	uint64_t cookie = 0;
	socklen_t len = sizeof(cookie);

	if (c->fd < 0 || c->state == CONN_CLOSED ||
	    getsockopt(c->fd, SOL_SOCKET, SO_COOKIE, &cookie, &len))
		return 0;
	return cookie;
}

void gr_conn_set_user(struct gr_conn *c, void *user)
{
	c->user = user;
}

void *gr_conn_user(const struct gr_conn *c)
{
	return c->user;
}

/* ---- listener ---- */

struct gr_listener {
	struct gr_loop *loop;
	struct gr_transport *t;
	int fd;
	struct gr_io *io;
	struct gr_timer *pause;		/* re-enables accept after EMFILE */
	uint16_t port;
	const struct gr_conn_cbs *cbs;
	void *arg;
};

static void listener_io(struct gr_io *io, uint32_t events, void *arg)
{
	struct gr_listener *l = arg;
	struct sockaddr_storage ss;
	struct gr_conn *c;
	socklen_t len;
	int fd, i;

	/* bounded, so that a connection storm cannot starve the loop */
	for (i = 0; i < 64; i++) {
		len = sizeof(ss);
		fd = accept4(l->fd, (struct sockaddr *)&ss, &len,
			     SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0 && (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
			       errno == ENOMEM)) {
			/* level-triggered: stop polling a while instead of spinning */
			gr_io_set_events(l->io, 0);
			gr_timer_arm(l->pause, 100);
			return;
		}
		if (fd < 0)
			return;	/* EAGAIN, or the client gave up (ECONNABORTED) */
		tune_socket(fd);
		c = conn_alloc(l->loop, l->t, fd, true, l->cbs, l->arg);
		if (!c) {
			close(fd);
			continue;
		}
		gr_addr_str((struct sockaddr *)&ss, c->peer, sizeof(c->peer));
		c->io = gr_io_add(l->loop, fd, EPOLLIN, conn_io, c);
		if (!c->io) {
			close(fd);
			conn_free(c);
			continue;
		}
		start_session(c);
	}
}

static void listener_resume(struct gr_timer *t, void *arg)
{
	struct gr_listener *l = arg;

	gr_io_set_events(l->io, EPOLLIN);
}

struct gr_listener *gr_listener_new(struct gr_loop *loop, struct gr_transport *t,
				    const char *host, uint16_t port,
				    const struct gr_conn_cbs *cbs, void *arg,
				    const char **why)
{
	struct sockaddr_storage ss;
	struct gr_listener *l;
	socklen_t len;
	int one = 1, err;

	err = gr_resolve(host, port, &ss, &len, why);
	if (err) {
		errno = -err;
		return NULL;
	}
	l = calloc(1, sizeof(*l));
	if (!l) {
		*why = "out of memory";
		errno = ENOMEM;
		return NULL;
	}
	l->loop = loop;
	l->t = t;
	l->cbs = cbs;
	l->arg = arg;
	l->fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (l->fd < 0) {
		*why = "socket";
		goto out_free;
	}
	setsockopt(l->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(l->fd, (struct sockaddr *)&ss, len)) {
		*why = "bind";
		goto out_close;
	}
	if (listen(l->fd, 128)) {
		*why = "listen";
		goto out_close;
	}
	len = sizeof(ss);
	if (getsockname(l->fd, (struct sockaddr *)&ss, &len)) {
		*why = "getsockname";
		goto out_close;
	}
	l->port = ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port :
			((struct sockaddr_in6 *)&ss)->sin6_port);
	l->pause = gr_timer_new(loop, listener_resume, l);
	if (!l->pause) {
		*why = "out of memory";
		errno = ENOMEM;
		goto out_close;
	}
	l->io = gr_io_add(loop, l->fd, EPOLLIN, listener_io, l);
	if (!l->io) {
		*why = "epoll";
		gr_timer_free(l->pause);
		goto out_close;
	}
	return l;

out_close:
	err = errno;
	close(l->fd);
	errno = err;
out_free:
	err = errno;
	free(l);
	errno = err;
	return NULL;
}

uint16_t gr_listener_port(const struct gr_listener *l)
{
	return l->port;
}

void gr_listener_free(struct gr_listener *l)
{
	if (!l)
		return;
	gr_io_del(l->io);
	gr_timer_free(l->pause);
	close(l->fd);
	free(l);
}

/* ---- dialer ---- */

struct gr_dialer {
	struct gr_loop *loop;
	struct gr_transport *t;
	struct sockaddr_storage sa;
	socklen_t salen;
	unsigned int min_ms, max_ms;
	unsigned int failures;		/* since the last reset */
	unsigned int attempts;		/* connections started */
	struct gr_conn *conn;
	struct gr_timer *timer;
	const struct gr_conn_cbs *cbs;
	void *arg;
	bool freeing;
	char peer_name[GR_PEER_NAME_MAX];
};

static void dialer_on_open(struct gr_conn *c, void *arg)
{
	struct gr_dialer *d = arg;

	if (d->cbs->on_open)
		d->cbs->on_open(c, d->arg);
}

static void dialer_on_frame(struct gr_conn *c, const struct gr_frame *f, void *arg)
{
	struct gr_dialer *d = arg;

	d->cbs->on_frame(c, f, d->arg);
}

static void dialer_on_close(struct gr_conn *c, int err, const char *reason, void *arg)
{
	struct gr_dialer *d = arg;
	uint64_t delay;
	unsigned int shift;

	d->conn = NULL;
	if (d->cbs->on_close)
		d->cbs->on_close(c, err, reason, d->arg);
	if (d->freeing)
		return;
	shift = d->failures < 16 ? d->failures : 16;
	delay = (uint64_t)d->min_ms << shift;
	if (delay > d->max_ms)
		delay = d->max_ms;
	/* +-25% jitter, so that sites restarted together do not stay in step */
	delay = delay * 3 / 4 + (delay ? (uint64_t)random() % (delay / 2 + 1) : 0);
	d->failures++;
	gr_timer_arm(d->timer, delay);
}

static const struct gr_conn_cbs dialer_cbs = {
	.on_open = dialer_on_open,
	.on_frame = dialer_on_frame,
	.on_close = dialer_on_close,
};

static void dialer_connect(struct gr_timer *t, void *arg)
{
	struct gr_dialer *d = arg;

	d->attempts++;
	d->conn = gr_conn_connect(d->loop, d->t, (struct sockaddr *)&d->sa, d->salen,
				  &dialer_cbs, d);
	if (d->conn && d->peer_name[0])
		gr_conn_set_peer_name(d->conn, d->peer_name);	/* fits: checked */
	if (!d->conn) {
		/* no socket at all (EMFILE...): try again later */
		d->failures++;
		gr_timer_arm(d->timer, d->max_ms);
	} else if (d->conn->state == CONN_CLOSED) {
		d->conn = NULL;	/* failed at once; on_close armed the timer */
	}
}

struct gr_dialer *gr_dialer_new(struct gr_loop *loop, struct gr_transport *t,
				const struct sockaddr *sa, socklen_t salen,
				unsigned int min_ms, unsigned int max_ms,
				const struct gr_conn_cbs *cbs, void *arg)
{
	struct gr_dialer *d = calloc(1, sizeof(*d));

	if (!d || salen > sizeof(d->sa))
		goto out_free;
	d->timer = gr_timer_new(loop, dialer_connect, d);
	if (!d->timer)
		goto out_free;
	d->loop = loop;
	d->t = t;
	memcpy(&d->sa, sa, salen);
	d->salen = salen;
	d->min_ms = min_ms ? min_ms : 1;
	d->max_ms = max_ms < d->min_ms ? d->min_ms : max_ms;
	d->cbs = cbs;
	d->arg = arg;
	gr_timer_arm(d->timer, 0);
	return d;

out_free:
	free(d);
	errno = ENOMEM;
	return NULL;
}

int gr_dialer_set_peer_name(struct gr_dialer *d, const char *name)
{
	if (strlen(name) >= sizeof(d->peer_name))
		return -ENAMETOOLONG;
	strcpy(d->peer_name, name);
	return 0;
}

struct gr_conn *gr_dialer_conn(const struct gr_dialer *d)
{
	return d->conn;
}

void gr_dialer_reset_backoff(struct gr_dialer *d)
{
	d->failures = 0;
}

unsigned int gr_dialer_attempts(const struct gr_dialer *d)
{
	return d->attempts;
}

void gr_dialer_free(struct gr_dialer *d)
{
	if (!d)
		return;
	d->freeing = true;
	if (d->conn)
		gr_conn_close(d->conn, -ECANCELED, "shutting down");
	gr_timer_free(d->timer);
	free(d);
}
