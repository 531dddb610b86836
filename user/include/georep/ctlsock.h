/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Control socket: a UNIX stream socket (mode 0600) speaking newline-
 * delimited JSON.
 *
 *   request:  {"cmd": "<name>", "id": <any, optional>, <arguments>...}
 *   reply:    {"ok": true, "id": <echoed>, <result members>...}
 *             {"ok": false, "id": <echoed>, "error": "<message>"}
 *   events:   after a handler called gr_ctl_subscribe(), the client also
 *             receives {"event": "<name>", ...} lines from gr_ctl_broadcast().
 *
 * A malformed line gets an error reply and the connection stays usable; a
 * line longer than GR_CTL_MAX_LINE, or a client that does not read its
 * events, is disconnected.
 */
#ifndef _GEOREP_CTLSOCK_H
#define _GEOREP_CTLSOCK_H

#include <stddef.h>
#include <jansson.h>

#include "georep/evloop.h"

#define GR_CTL_MAX_LINE		(64 << 10)
#define GR_CTL_MAX_QUEUE	(4 << 20)	/* per client, then dropped */
#define GR_CTL_ERRLEN		256

struct gr_ctl;
struct gr_ctl_client;

/*
 * A command handler. On success return 0 and optionally set *@resp to a
 * new JSON object whose members are merged into the reply (the reference
 * is taken). On failure return a negative errno and write a message in
 * @err (GR_CTL_ERRLEN bytes).
 */
typedef int (*gr_ctl_fn)(struct gr_ctl_client *cl, json_t *req, json_t **resp,
			 char *err, void *arg);

/*
 * Listen on @path: a stale socket file is replaced, a live one (another
 * daemon answering) is an error. Return: 0 or -errno, *@why set.
 */
int gr_ctl_new(struct gr_loop *loop, const char *path, struct gr_ctl **out,
	       const char **why);
/* Stops listening, disconnects every client, unlinks the socket. */
void gr_ctl_free(struct gr_ctl *ctl);
/* Return: 0, -EEXIST for a name already registered, -ENOMEM. */
int gr_ctl_register(struct gr_ctl *ctl, const char *cmd, gr_ctl_fn fn, void *arg);
/* Make @cl receive broadcasts (the "events" command). */
void gr_ctl_subscribe(struct gr_ctl_client *cl);
/* Send @event (an object, not stolen) to every subscriber. */
void gr_ctl_broadcast(struct gr_ctl *ctl, json_t *event);
size_t gr_ctl_clients(const struct gr_ctl *ctl);
size_t gr_ctl_subscribers(const struct gr_ctl *ctl);

/*
 * Blocking client, for georepctl and tests: send @req, wait for the reply
 * line. Return: 0 (*@resp set; check its "ok"), or -errno with @err set.
 */
int gr_ctl_call(const char *path, json_t *req, int timeout_ms, json_t **resp,
		char *err);
/* Connect (blocking); Return: fd or -errno. */
int gr_ctl_connect(const char *path);
/* Read one line as JSON from @fd within @timeout_ms; same returns. */
int gr_ctl_read(int fd, int timeout_ms, json_t **msg, char *err);
/* Send @msg as one line. Return: 0 or -errno. */
int gr_ctl_write(int fd, json_t *msg);

#endif /* _GEOREP_CTLSOCK_H */
