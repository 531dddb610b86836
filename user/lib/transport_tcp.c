// SPDX-License-Identifier: GPL-2.0
/* Plain TCP transport: no handshake, bytes straight to the socket. */
#include <errno.h>
#include <stdlib.h>
#include <sys/socket.h>

#include "georep/transport.h"

static int tcp_session_new(struct gr_transport *t, int fd, bool server, void **sess)
{
	*sess = NULL;
	return 0;
}

static int tcp_handshake(void *sess, int fd, uint32_t *want, const char **why)
{
	return 0;
}

static ssize_t tcp_recv(void *sess, int fd, void *buf, size_t len)
{
	ssize_t n;

	do {
		n = recv(fd, buf, len, 0);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	return n;
}

static ssize_t tcp_send(void *sess, int fd, const void *buf, size_t len)
{
	ssize_t n;

	do {
		n = send(fd, buf, len, MSG_NOSIGNAL);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	return n;
}

static const char *tcp_peer_identity(void *sess)
{
	return NULL;
}

static void tcp_session_free(void *sess)
{
}

static void tcp_destroy(struct gr_transport *t)
{
	free(t);
}

static const struct gr_transport_ops tcp_ops = {
	.name = "tcp",
	.session_new = tcp_session_new,
	.handshake = tcp_handshake,
	.recv = tcp_recv,
	.send = tcp_send,
	.peer_identity = tcp_peer_identity,
	.session_free = tcp_session_free,
	.destroy = tcp_destroy,
};

struct gr_transport *gr_transport_tcp(void)
{
	struct gr_transport *t = calloc(1, sizeof(*t));

	if (t)
		t->ops = &tcp_ops;
	return t;
}
