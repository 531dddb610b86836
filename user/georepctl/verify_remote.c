// SPDX-License-Identifier: GPL-2.0
/*
 * georepctl verify --via: another site's tree root, final checkpoint and
 * fork files' checkpoints through the georepd of the site at hand (control
 * requests "remote-root", engine_root.c, and "remote-note", engine_note.c),
 * which asks it over the replication link (ROOT_REQ/ROOT, NOTE_REQ/NOTE).
 * Each request is repeated with its nonce until the answer is there.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <openssl/rand.h>

#include "georepctl.h"
#include "cmd_audit.h"
#include "cmd_cluster.h"

#define REMOTE_TIMEOUT_MS	10000
#define REMOTE_POLL_MS		20

static void sleep_ms(long ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/*
 * @req (a "remote-*" control request, consumed) with a fresh nonce, to
 * @via, repeated until it is no longer pending: the answer in *resp.
 * @what names what was asked, for the error.
 */
static int remote_poll(const char *via, json_t *req, const char *what, const char *site,
		       json_t **resp)
{
	uint64_t nonce = 0;
	int ret = 0, waited;

	*resp = NULL;
	if (!req)
		return grctl_fail("out of memory");
	if (RAND_bytes((unsigned char *)&nonce, sizeof(nonce)) != 1) {
		json_decref(req);
		return grctl_fail("no random bytes for a request nonce");
	}
	nonce = (nonce >> 1) | 1;	/* a positive json integer, never 0 */
	json_object_set_new(req, "nonce", json_integer((json_int_t)nonce));
	for (waited = 0; waited <= REMOTE_TIMEOUT_MS; waited += REMOTE_POLL_MS) {
		ret = grctl_ctl_request(via, NULL, json_incref(req), resp);
		if (ret || !json_is_true(json_object_get(*resp, "pending")))
			break;
		json_decref(*resp);
		*resp = NULL;
		sleep_ms(REMOTE_POLL_MS);
	}
	json_decref(req);
	if (!ret && !*resp)
		return grctl_fail("site %s did not answer for %s within %d s (through %s)", site,
				  what, REMOTE_TIMEOUT_MS / 1000, via);
	return ret;
}

int grctl_remote_root(const char *via, const char *volume, const char *site, uint64_t size,
		      struct grctl_remote_root *out)
{
	const char *st, *root;
	json_t *resp;
	int ret;

	memset(out, 0, sizeof(*out));
	ret = remote_poll(via, json_pack("{s:s, s:s, s:s, s:I}", "cmd", "remote-root", "volume",
					 volume, "site", site, "size", (json_int_t)size),
			  "its tree root", site, &resp);
	if (ret)
		return ret;
	st = json_string_value(json_object_get(resp, "status"));
	root = json_string_value(json_object_get(resp, "root"));
	out->tree = json_integer_value(json_object_get(resp, "tree"));
	out->has_tree = st && strcmp(st, "no-tree");
	if (st && !strcmp(st, "ok") && root && strlen(root) < sizeof(out->root)) {
		strcpy(out->root, root);
		out->has_root = true;
	}
	json_decref(resp);
	return 0;
}

int grctl_remote_note(const char *via, const char *volume, const char *site, bool fork,
		      unsigned int index, json_t **note)
{
	const char *st;
	json_t *resp;
	int ret;

	*note = NULL;
	ret = remote_poll(via, json_pack("{s:s, s:s, s:s, s:s, s:I}", "cmd", "remote-note",
					 "volume", volume, "site", site, "kind",
					 fork ? "fork" : "final", "index", (json_int_t)index),
			  fork ? "its fork files' checkpoints" : "its final checkpoint", site,
			  &resp);
	if (ret)
		return ret;
	st = json_string_value(json_object_get(resp, "status"));
	if (!st || (strcmp(st, "ok") && strcmp(st, "none") && strcmp(st, "bad")) ||
	    !json_is_integer(json_object_get(resp, "count"))) {
		json_decref(resp);
		return grctl_fail("site %s: malformed remote-note reply (through %s)", site, via);
	}
	*note = resp;
	return 0;
}
