// SPDX-License-Identifier: GPL-2.0
/* Control socket: newline-delimited JSON over a UNIX stream socket. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "georep/ctlsock.h"

struct handler {
	char *cmd;
	gr_ctl_fn fn;
	void *arg;
	struct handler *next;
};

struct gr_ctl_client {
	struct gr_ctl *ctl;
	int fd;
	struct gr_io *io;
	bool subscribed;
	bool closed;
	char *in;
	size_t in_len, in_cap;
	char *out;
	size_t out_off, out_len, out_cap;
	struct gr_ctl_client *next;
};

struct gr_ctl {
	struct gr_loop *loop;
	int fd;
	struct gr_io *io;
	char *path;
	struct handler *handlers;
	struct gr_ctl_client *clients;
};

static void client_free(void *arg)
{
	struct gr_ctl_client *cl = arg;

	free(cl->in);
	free(cl->out);
	free(cl);
}

static void client_close(struct gr_ctl_client *cl)
{
	struct gr_ctl_client **pp;

	if (cl->closed)
		return;
	cl->closed = true;
	for (pp = &cl->ctl->clients; *pp; pp = &(*pp)->next) {
		if (*pp == cl) {
			*pp = cl->next;
			break;
		}
	}
	gr_io_del(cl->io);
	close(cl->fd);
	/* the client may be on the stack of the current callback */
	if (gr_loop_defer(cl->ctl->loop, client_free, cl))
		return;	/* leak rather than risk a use after free */
}

static void client_flush(struct gr_ctl_client *cl)
{
	ssize_t n;

	while (cl->out_off < cl->out_len) {
		n = send(cl->fd, cl->out + cl->out_off, cl->out_len - cl->out_off,
			 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n <= 0) {
			client_close(cl);
			return;
		}
		cl->out_off += n;
	}
	if (cl->out_off == cl->out_len)
		cl->out_off = cl->out_len = 0;
	gr_io_set_events(cl->io, EPOLLIN | (cl->out_len ? EPOLLOUT : 0));
}

/* Queue @msg as one line. */
static void client_send(struct gr_ctl_client *cl, json_t *msg)
{
	char *s;
	size_t len, cap;

	if (cl->closed)
		return;
	s = json_dumps(msg, JSON_COMPACT);
	if (!s) {
		client_close(cl);
		return;
	}
	len = strlen(s);
	if (cl->out_len - cl->out_off + len + 1 > GR_CTL_MAX_QUEUE) {
		free(s);
		client_close(cl);	/* not reading: drop rather than grow */
		return;
	}
	if (cl->out_len + len + 1 > cl->out_cap) {
		char *p;

		if (cl->out_off) {
			memmove(cl->out, cl->out + cl->out_off, cl->out_len - cl->out_off);
			cl->out_len -= cl->out_off;
			cl->out_off = 0;
		}
		cap = cl->out_cap ? cl->out_cap : 1024;
		while (cap < cl->out_len + len + 1)
			cap *= 2;
		p = realloc(cl->out, cap);
		if (!p) {
			free(s);
			client_close(cl);
			return;
		}
		cl->out = p;
		cl->out_cap = cap;
	}
	memcpy(cl->out + cl->out_len, s, len);
	cl->out[cl->out_len + len] = '\n';
	cl->out_len += len + 1;
	free(s);
	client_flush(cl);
}

static void reply_error(struct gr_ctl_client *cl, json_t *id, const char *msg)
{
	json_t *r = json_pack("{s:b, s:s}", "ok", 0, "error", msg);

	if (!r)
		return;
	if (id)
		json_object_set(r, "id", id);
	client_send(cl, r);
	json_decref(r);
}

static void handle_line(struct gr_ctl_client *cl, const char *line, size_t len)
{
	char err[GR_CTL_ERRLEN], msg[GR_CTL_ERRLEN + 64];
	json_t *req, *id, *resp = NULL, *r;
	struct handler *h;
	json_error_t jerr;
	const char *cmd;
	int ret;

	req = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!req) {
		snprintf(msg, sizeof(msg), "invalid JSON at column %d: %s",
			 jerr.column, jerr.text);
		reply_error(cl, NULL, msg);
		return;
	}
	id = json_object_get(req, "id");
	if (!json_is_object(req)) {
		reply_error(cl, NULL, "a request must be a JSON object");
		goto out;
	}
	cmd = json_string_value(json_object_get(req, "cmd"));
	if (!cmd) {
		reply_error(cl, id, "missing \"cmd\" (a string)");
		goto out;
	}
	for (h = cl->ctl->handlers; h; h = h->next)
		if (!strcmp(h->cmd, cmd))
			break;
	if (!h) {
		size_t n = snprintf(msg, sizeof(msg), "unknown command \"%.64s\"; known:", cmd);

		for (h = cl->ctl->handlers; h && n < sizeof(msg); h = h->next)
			n += snprintf(msg + n, sizeof(msg) - n, " %s", h->cmd);
		reply_error(cl, id, msg);
		goto out;
	}
	err[0] = '\0';
	ret = h->fn(cl, req, &resp, err, h->arg);
	if (ret) {
		if (!err[0])
			snprintf(err, sizeof(err), "%s: %s", cmd, strerror(-ret));
		json_decref(resp);
		reply_error(cl, id, err);
		goto out;
	}
	r = json_pack("{s:b}", "ok", 1);
	if (r && resp && json_is_object(resp))
		json_object_update(r, resp);
	if (r && id)
		json_object_set(r, "id", id);
	if (r)
		client_send(cl, r);
	json_decref(r);
	json_decref(resp);
out:
	json_decref(req);
}

static void client_read(struct gr_ctl_client *cl)
{
	char *nl, *p;
	size_t start;
	ssize_t n;

	if (cl->in_cap - cl->in_len < 4096) {
		size_t cap = cl->in_cap ? cl->in_cap * 2 : 8192;

		if (cap > GR_CTL_MAX_LINE + 8192)
			cap = GR_CTL_MAX_LINE + 8192;
		p = realloc(cl->in, cap);
		if (!p) {
			client_close(cl);
			return;
		}
		cl->in = p;
		cl->in_cap = cap;
	}
	n = recv(cl->fd, cl->in + cl->in_len, cl->in_cap - cl->in_len, MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		client_close(cl);
		return;
	}
	cl->in_len += n;
	start = 0;
	while (!cl->closed &&
	       (nl = memchr(cl->in + start, '\n', cl->in_len - start))) {
		size_t len = nl - (cl->in + start);

		if (len > GR_CTL_MAX_LINE)
			break;
		/* blank lines are keep-alives */
		if (len && !(len == 1 && cl->in[start] == '\r'))
			handle_line(cl, cl->in + start, len);
		start += len + 1;
	}
	if (cl->closed)
		return;
	memmove(cl->in, cl->in + start, cl->in_len - start);
	cl->in_len -= start;
	if (cl->in_len > GR_CTL_MAX_LINE) {
		reply_error(cl, NULL, "request line too long");
		client_flush(cl);
		client_close(cl);
	}
}

static void client_io(struct gr_io *io, uint32_t events, void *arg)
{
	struct gr_ctl_client *cl = arg;

	if (events & (EPOLLIN | EPOLLHUP | EPOLLERR))
		client_read(cl);
	if (!cl->closed && (events & EPOLLOUT))
		client_flush(cl);
}

static void ctl_accept(struct gr_io *io, uint32_t events, void *arg)
{
	struct gr_ctl *ctl = arg;
	struct gr_ctl_client *cl;
	int fd, i;

	for (i = 0; i < 16; i++) {
		fd = accept4(ctl->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return;
		cl = calloc(1, sizeof(*cl));
		if (!cl) {
			close(fd);
			continue;
		}
		cl->ctl = ctl;
		cl->fd = fd;
		cl->io = gr_io_add(ctl->loop, fd, EPOLLIN, client_io, cl);
		if (!cl->io) {
			close(fd);
			free(cl);
			continue;
		}
		cl->next = ctl->clients;
		ctl->clients = cl;
	}
}

static int fill_sun(struct sockaddr_un *sun, const char *path)
{
	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun->sun_path))
		return -ENAMETOOLONG;
	strcpy(sun->sun_path, path);
	return 0;
}

int gr_ctl_new(struct gr_loop *loop, const char *path, struct gr_ctl **out,
	       const char **why)
{
	struct sockaddr_un sun;
	struct gr_ctl *ctl;
	mode_t old_umask;
	int ret, probe;

	ret = fill_sun(&sun, path);
	if (ret) {
		*why = "socket path too long";
		return ret;
	}
	/* a socket file nobody answers on is left over from a crash */
	probe = gr_ctl_connect(path);
	if (probe >= 0) {
		close(probe);
		*why = "another process is serving this control socket";
		return -EADDRINUSE;
	}
	if (probe == -ECONNREFUSED) {
		struct stat st;

		/* only ever remove a socket: a typo must not delete a file */
		if (lstat(path, &st) == 0 && !S_ISSOCK(st.st_mode)) {
			*why = "path exists and is not a socket";
			return -EEXIST;
		}
		unlink(path);
	}

	ctl = calloc(1, sizeof(*ctl));
	if (!ctl) {
		*why = "out of memory";
		return -ENOMEM;
	}
	ctl->loop = loop;
	ctl->path = strdup(path);
	ctl->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (!ctl->path || ctl->fd < 0) {
		ret = ctl->path ? -errno : -ENOMEM;
		*why = "socket";
		goto out_free;
	}
	/* never a window where the socket is reachable by others */
	old_umask = umask(0177);
	ret = bind(ctl->fd, (struct sockaddr *)&sun, sizeof(sun));
	umask(old_umask);
	if (ret) {
		ret = -errno;
		*why = "bind";
		goto out_close;
	}
	if (chmod(path, 0600) || listen(ctl->fd, 16)) {
		ret = -errno;
		*why = "chmod/listen";
		goto out_unlink;
	}
	ctl->io = gr_io_add(loop, ctl->fd, EPOLLIN, ctl_accept, ctl);
	if (!ctl->io) {
		ret = -errno;
		*why = "epoll";
		goto out_unlink;
	}
	*out = ctl;
	return 0;

out_unlink:
	unlink(path);
out_close:
	close(ctl->fd);
out_free:
	free(ctl->path);
	free(ctl);
	return ret;
}

void gr_ctl_free(struct gr_ctl *ctl)
{
	struct handler *h;

	if (!ctl)
		return;
	while (ctl->clients)
		client_close(ctl->clients);
	gr_io_del(ctl->io);
	close(ctl->fd);
	unlink(ctl->path);
	while ((h = ctl->handlers)) {
		ctl->handlers = h->next;
		free(h->cmd);
		free(h);
	}
	free(ctl->path);
	free(ctl);
}

int gr_ctl_register(struct gr_ctl *ctl, const char *cmd, gr_ctl_fn fn, void *arg)
{
	struct handler *h, **pp;

	for (pp = &ctl->handlers; *pp; pp = &(*pp)->next)
		if (!strcmp((*pp)->cmd, cmd))
			return -EEXIST;
	h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	h->cmd = strdup(cmd);
	if (!h->cmd) {
		free(h);
		return -ENOMEM;
	}
	h->fn = fn;
	h->arg = arg;
	*pp = h;	/* registration order: listed that way in errors */
	return 0;
}

void gr_ctl_subscribe(struct gr_ctl_client *cl)
{
	cl->subscribed = true;
}

void gr_ctl_broadcast(struct gr_ctl *ctl, json_t *event)
{
	struct gr_ctl_client *cl, *next;

	for (cl = ctl->clients; cl; cl = next) {
		next = cl->next;	/* client_send() may drop cl */
		if (cl->subscribed)
			client_send(cl, event);
	}
}

size_t gr_ctl_clients(const struct gr_ctl *ctl)
{
	const struct gr_ctl_client *cl;
	size_t n = 0;

	for (cl = ctl->clients; cl; cl = cl->next)
		n++;
	return n;
}

size_t gr_ctl_subscribers(const struct gr_ctl *ctl)
{
	const struct gr_ctl_client *cl;
	size_t n = 0;

	for (cl = ctl->clients; cl; cl = cl->next)
		n += cl->subscribed;
	return n;
}

/* ---- blocking client ---- */

int gr_ctl_connect(const char *path)
{
	struct sockaddr_un sun;
	int fd, ret;

	ret = fill_sun(&sun, path);
	if (ret)
		return ret;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun))) {
		ret = -errno;
		close(fd);
		return ret;
	}
	return fd;
}

int gr_ctl_write(int fd, json_t *msg)
{
	char *s = json_dumps(msg, JSON_COMPACT);
	size_t len, off = 0;
	ssize_t n;

	if (!s)
		return -ENOMEM;
	len = strlen(s);
	s[len++] = '\n';	/* json_dumps leaves room: overwrite the NUL */
	while (off < len) {
		n = send(fd, s + off, len - off, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			n = -errno;
			free(s);
			return n;
		}
		off += n;
	}
	free(s);
	return 0;
}

/* Reads byte by byte: replies are small, and no bytes of the next line are lost. */
int gr_ctl_read(int fd, int timeout_ms, json_t **msg, char *err)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	size_t len = 0, cap = 4096;
	char *buf = malloc(cap), *nb;
	json_error_t jerr;
	ssize_t n;
	int ret;

	if (!buf)
		return -ENOMEM;
	for (;;) {
		ret = poll(&p, 1, timeout_ms);
		if (ret == 0) {
			snprintf(err, GR_CTL_ERRLEN, "no reply within %d ms", timeout_ms);
			free(buf);
			return -ETIMEDOUT;
		}
		if (ret < 0 && errno == EINTR)
			continue;
		n = ret < 0 ? -1 : read(fd, buf + len, 1);
		if (n <= 0) {
			snprintf(err, GR_CTL_ERRLEN, "connection closed by the daemon");
			free(buf);
			return n ? -errno : -ECONNRESET;
		}
		if (buf[len] == '\n')
			break;
		if (++len == cap) {
			if (cap >= 64 << 20) {
				snprintf(err, GR_CTL_ERRLEN, "reply too long");
				free(buf);
				return -EMSGSIZE;
			}
			cap *= 2;
			nb = realloc(buf, cap);
			if (!nb) {
				free(buf);
				return -ENOMEM;
			}
			buf = nb;
		}
	}
	*msg = json_loadb(buf, len, 0, &jerr);
	free(buf);
	if (!*msg) {
		snprintf(err, GR_CTL_ERRLEN, "bad reply from the daemon: %s", jerr.text);
		return -EBADMSG;
	}
	return 0;
}

int gr_ctl_call(const char *path, json_t *req, int timeout_ms, json_t **resp,
		char *err)
{
	int fd, ret;

	fd = gr_ctl_connect(path);
	if (fd < 0) {
		snprintf(err, GR_CTL_ERRLEN, "cannot connect to %s: %s", path,
			 strerror(-fd));
		return fd;
	}
	ret = gr_ctl_write(fd, req);
	if (ret)
		snprintf(err, GR_CTL_ERRLEN, "send to %s: %s", path, strerror(-ret));
	else
		ret = gr_ctl_read(fd, timeout_ms, resp, err);
	close(fd);
	return ret;
}
