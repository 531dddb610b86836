/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Framed connections between sites, on the event loop.
 *
 * A transport (struct gr_transport) turns a connected non-blocking socket
 * into a session that can handshake, receive and send bytes: plain TCP
 * (gr_transport_tcp(), lab only) or mutual TLS 1.3 (gr_transport_tls() in
 * georep/tls.h), behind the same ops. On top of it, this file gives:
 *
 *  - gr_conn: one connection with its receive buffer (frame reassembly,
 *    every frame checked by gr_wire_decode() before on_frame sees it) and
 *    its send queue in two lanes, control and bulk (georep/send_lanes.h;
 *    control first at every frame boundary; partial writes resumed on
 *    EPOLLOUT; at most GR_CONN_NOTSENT_LOWAT unsent bytes in the socket);
 *  - gr_listener: accepts connections on host:port;
 *  - gr_dialer: keeps one outgoing connection to a peer, reconnecting with
 *    exponential backoff (with jitter) after every close.
 *
 * Callbacks: on_open once the transport handshake is done (a handshake not
 * done within 5 s closes the connection: "<name> handshake: not done within
 * 5000 ms"; over GR_MAX_HANDSHAKING accepted connections in their handshake,
 * a new one is closed at once); on_frame for each
 * valid frame, in order; on_close exactly once, with a negative errno and a
 * reason (a garbage frame closes with -EPROTO and the decoder's message).
 * The gr_conn stays valid until the end of the loop iteration in which it
 * was closed, so code running after gr_conn_close() on the same stack is
 * safe; it must not be used after on_close returned and the iteration ended.
 */
#ifndef _GEOREP_TRANSPORT_H
#define _GEOREP_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "georep/evloop.h"
#include "georep/send_lanes.h"
#include "georep/wire.h"

struct gr_transport;

/* What a session reports about itself (TLS; zeroes for plain TCP). */
struct gr_session_stats {
	const char *version;		/* "TLSv1.3", or NULL */
	const char *cipher;
	uint64_t key_updates_sent;	/* KeyUpdate messages, both kinds */
	uint64_t key_updates_received;
};

#define GR_PEER_NAME_MAX	64

struct gr_transport_ops {
	const char *name;
	/* Wrap connected socket @fd; @server: accepted side. 0 or -errno. */
	int (*session_new)(struct gr_transport *t, int fd, bool server, void **sess);
	/*
	 * Advance the handshake. Return: 0 when done, -EAGAIN with *@want set
	 * to EPOLLIN or EPOLLOUT, or another -errno (reason in @why).
	 */
	int (*handshake)(void *sess, int fd, uint32_t *want, const char **why);
	/* Return: bytes, 0 at end of stream, -EAGAIN, or -errno. */
	ssize_t (*recv)(void *sess, int fd, void *buf, size_t len);
	ssize_t (*send)(void *sess, int fd, const void *buf, size_t len);
	/*
	 * Optional (NULL for TCP). pending: bytes the session has buffered
	 * that the socket will not signal again (TLS: SSL_pending()). want:
	 * epoll events the session needs besides the obvious ones, e.g.
	 * EPOLLOUT after a receive that had to write (SSL_ERROR_WANT_WRITE);
	 * the connection then also tries the other direction on either event.
	 */
	size_t (*pending)(void *sess);
	uint32_t (*want)(void *sess);
	/* Identity the peer proved (TLS: its certificate), or NULL. */
	const char *(*peer_identity)(void *sess);
	/*
	 * Optional. set_peer_name: the identity the peer must prove, checked
	 * by the handshake (the dialer knows whom it dials); 0 or -errno.
	 * last_error: why the last recv/send failed (e.g. a TLS alert).
	 * stats: counters for status output.
	 */
	int (*set_peer_name)(void *sess, const char *name);
	const char *(*last_error)(void *sess);
	void (*stats)(void *sess, struct gr_session_stats *st);
	void (*session_free)(void *sess);
	void (*destroy)(struct gr_transport *t);
};

struct gr_transport {
	const struct gr_transport_ops *ops;
	void *priv;
	unsigned int handshaking;	/* accepted connections in their handshake */
};

/* Accepted connections beyond this many in their handshake are refused. */
#define GR_MAX_HANDSHAKING	64

/* Plain TCP. Return: NULL on ENOMEM. Free with gr_transport_free(). */
struct gr_transport *gr_transport_tcp(void);
void gr_transport_free(struct gr_transport *t);

struct gr_conn;

struct gr_conn_cbs {
	void (*on_open)(struct gr_conn *c, void *arg);
	void (*on_frame)(struct gr_conn *c, const struct gr_frame *f, void *arg);
	void (*on_close)(struct gr_conn *c, int err, const char *reason, void *arg);
};

#define GR_CONN_MAX_QUEUE	(64U << 20)	/* default limit of each lane */
/*
 * TCP_NOTSENT_LOWAT of every connection: the kernel takes more bytes only
 * while fewer than this are unsent, so a control frame waits behind at
 * most this much (plus one bulk frame's rest) before it is on the wire.
 */
#define GR_CONN_NOTSENT_LOWAT	(32U << 10)
/* TLS record overhead tolerated when telling bulk from control in SIOCOUTQ */
#define GR_CONN_UNACKED_SLACK	2048
#define GR_ADDR_STRLEN		64		/* "[v6]:port" */

/*
 * Resolve "host" + port (blocking getaddrinfo; call at start-up, not from
 * callbacks). Return: 0 or -errno, a message in @why.
 */
int gr_resolve(const char *host, uint16_t port, struct sockaddr_storage *ss,
	       socklen_t *len, const char **why);
void gr_addr_str(const struct sockaddr *sa, char *buf, size_t len);

/*
 * Start connecting to @sa. Return: NULL with errno when no socket could be
 * made; a connection that fails at once is returned already closed (its
 * on_close has run).
 */
struct gr_conn *gr_conn_connect(struct gr_loop *loop, struct gr_transport *t,
				const struct sockaddr *sa, socklen_t salen,
				const struct gr_conn_cbs *cbs, void *arg);

/*
 * Queue @f. Return: 0; -ENOBUFS when the send queue would pass its limit;
 * -ENOTCONN after close; -EINVAL from the encoder.
 */
int gr_conn_send(struct gr_conn *c, const struct gr_frame *f);
/* Queue @f in @lane instead of the frame type's (gr_frame_lane()). */
int gr_conn_send_lane(struct gr_conn *c, const struct gr_frame *f, enum gr_lane lane);
/* Queue raw bytes, control lane (tests, an error reply in a foreign version). */
int gr_conn_send_raw(struct gr_conn *c, const void *buf, size_t len);
/*
 * Hold what is queued from now on, then send it as one burst: frames that
 * go together (an APPEND and its RECORDS) leave in one TCP segment where
 * they fit, not one transmission (and one wake-up of the peer) each.
 * gr_conn_push() sends what was held, under TCP_CORK; a connection closed
 * meanwhile ignores both.
 */
void gr_conn_hold(struct gr_conn *c);
void gr_conn_push(struct gr_conn *c);
/*
 * Close: one non-blocking attempt to flush what is queued (e.g. an ERROR
 * frame), then close the socket and call on_close(@err, reason).
 */
void gr_conn_close(struct gr_conn *c, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Change who gets the callbacks (e.g. after hello, from listener to peer). */
void gr_conn_set_cbs(struct gr_conn *c, const struct gr_conn_cbs *cbs, void *arg);
const char *gr_conn_peer_addr(const struct gr_conn *c);
bool gr_conn_is_open(const struct gr_conn *c);
bool gr_conn_is_server(const struct gr_conn *c);
/* Bytes queued, both lanes. */
size_t gr_conn_queued(const struct gr_conn *c);
/* The limit of every lane; of one lane (-ENOBUFS past it). */
void gr_conn_set_queue_limit(struct gr_conn *c, size_t bytes);
void gr_conn_set_lane_limit(struct gr_conn *c, enum gr_lane lane, size_t bytes);

struct gr_lane_stats {
	size_t control_queued, bulk_queued;	/* in the lanes */
	size_t bulk_limit;
	size_t socket_unsent;		/* SIOCOUTQNSD: in the socket, not sent */
	size_t socket_unacked;		/* SIOCOUTQ: not yet acknowledged by the peer */
	size_t bulk_unacked;		/* of those, up to the last bulk byte (about) */
	uint64_t overtakes;		/* control units sent ahead of waiting bulk */
	uint64_t parts_out, parts_in;	/* PART frames sent, received */
};

void gr_conn_lane_stats(const struct gr_conn *c, struct gr_lane_stats *st);
/*
 * Refuse frames with a body over @bytes (default and ceiling
 * GR_WIRE_MAX_BODY), e.g. a small limit until hello is done, so that an
 * unauthenticated peer cannot make the receive buffer grow.
 */
void gr_conn_set_max_body(struct gr_conn *c, uint32_t bytes);
/*
 * The socket's TCP_NOTSENT_LOWAT: @bytes, or GR_CONN_NOTSENT_LOWAT for 0
 * (a paced connection drains slowly: its unsent share is made smaller, so
 * that a control frame waits behind fewer bytes). Return: 0, -errno.
 */
int gr_conn_set_notsent_lowat(struct gr_conn *c, size_t bytes);
/*
 * The size of the pieces bulk frames go in from protocol version 2:
 * @bytes (at least GR_PART_MIN), or GR_PART_SIZE for 0. A paced link gets
 * smaller ones: a control frame waits behind at most one piece.
 */
void gr_conn_set_part_size(struct gr_conn *c, size_t bytes);
/*
 * The protocol version agreed in the hello: frames sent from now on (but
 * HELLO) carry it; from GR_WIRE_VERSION_PART, bulk frames longer than
 * the piece size (gr_conn_set_part_size()) go out in PART frames and PART frames are taken in (a PART
 * frame on a version 1 connection is a protocol error).
 */
void gr_conn_set_version(struct gr_conn *c, uint16_t version);
const char *gr_conn_peer_identity(const struct gr_conn *c);
/*
 * The identity the peer must prove during the handshake (TLS: the DNS name
 * of its certificate). Set it before the connection's handshake starts,
 * i.e. right after gr_conn_connect(). Return: 0, -ENAMETOOLONG.
 */
int gr_conn_set_peer_name(struct gr_conn *c, const char *name);
/* Session counters; false when the transport keeps none. */
bool gr_conn_session_stats(const struct gr_conn *c, struct gr_session_stats *st);
uint64_t gr_conn_bytes_in(const struct gr_conn *c);
uint64_t gr_conn_bytes_out(const struct gr_conn *c);
/* The socket's SO_COOKIE (what BPF programs name it by); 0: closed, unknown. */
uint64_t gr_conn_sock_cookie(const struct gr_conn *c);
/* Opaque slot for the owner. */
void gr_conn_set_user(struct gr_conn *c, void *user);
void *gr_conn_user(const struct gr_conn *c);

struct gr_listener;

/*
 * Listen on @host:@port (@port 0: any, see gr_listener_port()). Accepted
 * connections report to @cbs/@arg. Return: NULL with errno, *@why set.
 */
struct gr_listener *gr_listener_new(struct gr_loop *loop, struct gr_transport *t,
				    const char *host, uint16_t port,
				    const struct gr_conn_cbs *cbs, void *arg,
				    const char **why);
uint16_t gr_listener_port(const struct gr_listener *l);
/* Stops accepting; accepted connections live on. */
void gr_listener_free(struct gr_listener *l);

struct gr_dialer;

/*
 * Keep a connection to @sa: connect now, and after every close wait
 * backoff = min(@max_ms, @min_ms * 2^failures) +- 25% before the next try.
 * on_close is called for every connection that ends, failed connects too.
 */
struct gr_dialer *gr_dialer_new(struct gr_loop *loop, struct gr_transport *t,
				const struct sockaddr *sa, socklen_t salen,
				unsigned int min_ms, unsigned int max_ms,
				const struct gr_conn_cbs *cbs, void *arg);
/* Every connection of @d must prove @name (see gr_conn_set_peer_name()). */
int gr_dialer_set_peer_name(struct gr_dialer *d, const char *name);
/* The live connection, or NULL while waiting to reconnect. */
struct gr_conn *gr_dialer_conn(const struct gr_dialer *d);
/* The peer proved healthy (e.g. hello accepted): next wait is @min_ms. */
void gr_dialer_reset_backoff(struct gr_dialer *d);
unsigned int gr_dialer_attempts(const struct gr_dialer *d);
/* Closes the live connection (on_close is called) and stops. */
void gr_dialer_free(struct gr_dialer *d);

#endif /* _GEOREP_TRANSPORT_H */
