// SPDX-License-Identifier: GPL-2.0
/* Test-only control requests of the replication engine (mem ledger). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine_internal.h"

static int h_test_write(struct gr_ctl_client *cl, json_t *req, json_t **resp, char *err,
			void *arg)
{
	struct engine *e = eng_lookup(arg, req, err);
	json_int_t off = 0, blocks = 1, byte = 0;
	uint64_t seq = 0, first = 0;
	int one = 0;		/* one record of all the blocks, as a large bio */
	uint8_t *buf;
	size_t len;
	json_int_t i;
	int ret = 0;

	if (!e)
		return -EINVAL;
	if (json_unpack(req, "{s?I, s?I, s?I, s?b}", "offset", &off, "blocks", &blocks,
			"byte", &byte, "one_record", &one) || blocks < 1 || blocks > 256 ||
	    off < 0) {
		snprintf(err, GR_CTL_ERRLEN, "bad offset/blocks/byte");
		return -EINVAL;
	}
	if (!e->lg->ops->client_write) {
		snprintf(err, GR_CTL_ERRLEN, "the %s ledger takes no test writes",
			 e->lg->ops->name);
		return -EOPNOTSUPP;
	}
	/* suspend: the write goes to the ledger and waits for its commit */
	if (strcmp(eng_policy_state(e), "ok") && e->vol->cfg->quorum_loss == GR_QLOSS_FAIL) {
		snprintf(err, GR_CTL_ERRLEN, "%s", eng_policy_state(e));
		return -EIO;
	}
	/* one record of @blocks blocks, or @blocks records of one block each */
	len = GEOREP_BLOCK_SIZE * (one ? blocks : 1);
	buf = malloc(len);
	if (!buf)
		return -ENOMEM;
	for (i = 0; i < (one ? 1 : blocks) && !ret; i++) {
		memset(buf, (int)(byte + i), len);
		memcpy(buf, &seq, sizeof(seq));
		ret = e->lg->ops->client_write(e->lg, (off + i) * GEOREP_BLOCK_SIZE, buf, len,
					       &seq);
		if (!first)
			first = seq;
	}
	free(buf);
	if (ret) {
		snprintf(err, GR_CTL_ERRLEN, "write: %s", strerror(-ret));
		return ret;
	}
	engine_pump(e);
	*resp = json_pack("{s:I, s:I}", "first_seq", (json_int_t)first, "last_seq",
			  (json_int_t)seq);
	return 0;
}

static int h_test_read(struct gr_ctl_client *cl, json_t *req, json_t **resp, char *err,
		       void *arg)
{
	struct engine *e = eng_lookup(arg, req, err);
	json_int_t off = 0, len = 0;
	uint8_t sha[GEOREP_HASH_LEN];
	char hex[2 * GEOREP_HASH_LEN + 1];
	uint8_t *buf;
	int ret;

	if (!e)
		return -EINVAL;
	if (json_unpack(req, "{s:I, s:I}", "offset", &off, "length", &len) || off < 0 ||
	    len <= 0 || len > (64 << 20)) {
		snprintf(err, GR_CTL_ERRLEN, "bad offset/length");
		return -EINVAL;
	}
	buf = malloc(len);
	if (!buf)
		return -ENOMEM;
	ret = e->lg->ops->data_read(e->lg, off, buf, len);
	if (!ret) {
		gr_wire_sha256(buf, len, sha);
		georep_hex(sha, sizeof(sha), hex);
		*resp = json_pack("{s:s}", "sha256", hex);
	} else {
		snprintf(err, GR_CTL_ERRLEN, "read: %s", strerror(-ret));
	}
	free(buf);
	return ret;
}

static int h_test_drop(struct gr_ctl_client *cl, json_t *req, json_t **resp, char *err,
		       void *arg)
{
	struct georepd *d = arg;
	const char *site = NULL;
	int drop = 1, idx;
	size_t i;

	if (json_unpack(req, "{s:s, s?b}", "site", &site, "drop", &drop) ||
	    (idx = gr_cluster_site_index(d->cfg, site)) < 0) {
		snprintf(err, GR_CTL_ERRLEN, "need \"site\" (a site name) and \"drop\"");
		return -EINVAL;
	}
	for (i = 0; i < d->nvols; i++)
		if (d->vols[i].replica && d->vols[i].replica->ops == &engine_ops)
			((struct engine *)d->vols[i].replica)->drop[idx] = drop;
	*resp = json_pack("{s:s, s:b}", "site", site, "drop", drop);
	return 0;
}

/* {"volume", "count"}: the mem ledger pretends @count openers of its device */
static int h_test_open(struct gr_ctl_client *cl, json_t *req, json_t **resp, char *err,
		       void *arg)
{
	struct engine *e = eng_lookup(arg, req, err);
	json_int_t count = -1;

	if (!e)
		return -EINVAL;
	if (json_unpack(req, "{s:I}", "count", &count) || count < 0 || count > UINT32_MAX) {
		snprintf(err, GR_CTL_ERRLEN, "need \"count\" (openers, >= 0)");
		return -EINVAL;
	}
	if (!e->lg->ops->test_open) {
		snprintf(err, GR_CTL_ERRLEN, "the %s ledger has no pretended openers",
			 e->lg->ops->name);
		return -EOPNOTSUPP;
	}
	e->lg->ops->test_open(e->lg, (uint32_t)count);
	*resp = json_pack("{s:I}", "open_count", count);
	return 0;
}

/* {"volume", "ms"}: a read of records from the mem ledger takes @ms more (a slow disk) */
static int h_test_read_delay(struct gr_ctl_client *cl, json_t *req, json_t **resp, char *err,
			     void *arg)
{
	struct engine *e = eng_lookup(arg, req, err);
	json_int_t ms = -1;

	if (!e)
		return -EINVAL;
	if (json_unpack(req, "{s:I}", "ms", &ms) || ms < 0 || ms > 60000) {
		snprintf(err, GR_CTL_ERRLEN, "need \"ms\" (0 to 60000)");
		return -EINVAL;
	}
	if (!e->lg->ops->test_read_delay) {
		snprintf(err, GR_CTL_ERRLEN, "the %s ledger has no read delay", e->lg->ops->name);
		return -EOPNOTSUPP;
	}
	e->lg->ops->test_read_delay(e->lg, (uint32_t)ms);
	*resp = json_pack("{s:I}", "ms", ms);
	return 0;
}

/* {"volume", "offset", "length"}: mem data reads there fail with EIO (0: none) */
static int h_test_data_bad(struct gr_ctl_client *cl, json_t *req, json_t **resp, char *err,
			   void *arg)
{
	struct engine *e = eng_lookup(arg, req, err);
	json_int_t off = -1, len = -1;

	if (!e)
		return -EINVAL;
	if (json_unpack(req, "{s:I, s:I}", "offset", &off, "length", &len) || off < 0 ||
	    len < 0) {
		snprintf(err, GR_CTL_ERRLEN, "need \"offset\" and \"length\" (bytes, 0: none)");
		return -EINVAL;
	}
	if (!e->lg->ops->test_data_bad) {
		snprintf(err, GR_CTL_ERRLEN, "the %s ledger has no bad blocks to set",
			 e->lg->ops->name);
		return -EOPNOTSUPP;
	}
	e->lg->ops->test_data_bad(e->lg, (uint64_t)off, (uint64_t)len);
	*resp = json_pack("{s:I, s:I}", "offset", off, "length", len);
	return 0;
}

static int h_test_log_size(struct gr_ctl_client *cl, json_t *req, json_t **resp, char *err,
			   void *arg)
{
	struct engine *e = eng_lookup(arg, req, err);
	json_int_t bytes = -1, stall_ms = ENG_LOG_FULL_STALL_NS / 1000000;
	int apply = 1;

	if (!e)
		return -EINVAL;
	if (json_unpack(req, "{s:I, s?b, s?I}", "bytes", &bytes, "apply", &apply,
			"stall_ms", &stall_ms) || bytes < 0 || stall_ms < 1 || stall_ms > 600000) {
		snprintf(err, GR_CTL_ERRLEN, "need \"bytes\" (0: no limit); optional \"apply\" "
			 "(false: nothing applied) and \"stall_ms\" (1 to 600000)");
		return -EINVAL;
	}
	if (!e->lg->ops->test_log_size) {
		snprintf(err, GR_CTL_ERRLEN, "the %s ledger has no log size to set", e->lg->ops->name);
		return -EOPNOTSUPP;
	}
	e->lg->ops->test_log_size(e->lg, (uint64_t)bytes, !apply);
	e->log_full_stall_ns = (uint64_t)stall_ms * 1000000;
	*resp = json_pack("{s:I, s:b, s:I}", "bytes", bytes, "apply", apply, "stall_ms", stall_ms);
	return 0;
}

static int h_test_compact(struct gr_ctl_client *cl, json_t *req, json_t **resp, char *err,
			  void *arg)
{
	struct engine *e = eng_lookup(arg, req, err);
	struct gr_status gs;

	if (!e)
		return -EINVAL;
	eng_compact(e, ENG_COMPACT_FORCE);
	gr_status(e->n, &gs);
	*resp = json_pack("{s:I}", "snap_seq", (json_int_t)gs.snap_seq);
	return 0;
}

/* {"volume", "hold"}: a leader sends no resync data while held */
static int h_test_resync_hold(struct gr_ctl_client *cl, json_t *req, json_t **resp, char *err,
			      void *arg)
{
	struct engine *e = eng_lookup(arg, req, err);
	int hold = -1;

	if (!e)
		return -EINVAL;
	if (json_unpack(req, "{s:b}", "hold", &hold)) {
		snprintf(err, GR_CTL_ERRLEN, "need \"hold\" (true or false)");
		return -EINVAL;
	}
	e->resync_hold = hold;
	*resp = json_pack("{s:b}", "hold", hold);
	return 0;
}

void gd_engine_register_test_cmds(struct georepd *d)
{
	if (gr_ctl_register(d->ctl, "test-compact", h_test_compact, d) ||
	    gr_ctl_register(d->ctl, "test-write", h_test_write, d) ||
	    gr_ctl_register(d->ctl, "test-read", h_test_read, d) ||
	    gr_ctl_register(d->ctl, "test-drop", h_test_drop, d) ||
	    gr_ctl_register(d->ctl, "test-open", h_test_open, d) ||
	    gr_ctl_register(d->ctl, "test-read-delay", h_test_read_delay, d) ||
	    gr_ctl_register(d->ctl, "test-data-bad", h_test_data_bad, d) ||
	    gr_ctl_register(d->ctl, "test-log-size", h_test_log_size, d) ||
	    gr_ctl_register(d->ctl, "test-resync-hold", h_test_resync_hold, d))
		gd_warn("cannot register the test control requests");
}
