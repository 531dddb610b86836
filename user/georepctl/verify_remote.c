// SPDX-License-Identifier: GPL-2.0
/*
 * georepctl verify --via: another site's tree root through the georepd of
 * the site at hand (control request "remote-root", engine_root.c), which
 * asks it over the replication link (ROOT_REQ/ROOT). The request is
 * repeated with its nonce until the answer is there.
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

int grctl_remote_root(const char *via, const char *volume, const char *site, uint64_t size,
		      struct grctl_remote_root *out)
{
	uint64_t nonce = 0;
	json_t *resp;
	const char *st, *root;
	int ret, waited;

	memset(out, 0, sizeof(*out));
	if (RAND_bytes((unsigned char *)&nonce, sizeof(nonce)) != 1)
		return grctl_fail("no random bytes for a request nonce");
	nonce = (nonce >> 1) | 1;	/* a positive json integer, never 0 */
	for (waited = 0; waited <= REMOTE_TIMEOUT_MS; waited += REMOTE_POLL_MS) {
		ret = grctl_ctl_request(via, NULL, json_pack("{s:s, s:s, s:s, s:I, s:I}", "cmd",
					"remote-root", "volume", volume, "site", site, "size",
					(json_int_t)size, "nonce", (json_int_t)nonce), &resp);
		if (ret)
			return ret;
		if (!json_is_true(json_object_get(resp, "pending")))
			break;
		json_decref(resp);
		resp = NULL;
		sleep_ms(REMOTE_POLL_MS);
	}
	if (!resp)
		return grctl_fail("site %s did not answer for its tree root within %d s (through %s)",
				  site, REMOTE_TIMEOUT_MS / 1000, via);
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
