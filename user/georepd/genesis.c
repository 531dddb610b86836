// SPDX-License-Identifier: GPL-2.0
/*
 * Day one (Documentation/replication.rst, "Day one"): a volume of the
 * configuration with no kernel volume at this site gets one from georepd.
 *
 *  - The log device holds a georep log: it is attached (keys from
 *    --key-dir), as `georepctl volume create` without --format would.
 *  - It holds something else: nothing is formatted; the reason is logged
 *    and shown in status until someone wipes or replaces the device.
 *  - Its first 4 KiB are zeros: this site asks the volume's other sites
 *    (GENESIS_REQ, once a second). A site that has the volume answers with
 *    its uuid, size and seal keys (GENESIS, only over mutual TLS); this
 *    site stores the keys (0600, fsync) and formats its replica with that
 *    uuid. When a majority of the replicas, this one included, answered
 *    that they have nothing, the first replica of the configuration, and
 *    only it, formats the volume with a new uuid and seal key epoch 1.
 *
 * Only one site ever invents a uuid, so two different volumes cannot start
 * under one name; a creator that lost its device finds the volume at the
 * others (they answer HAVE) instead of inventing a second one. The first
 * record the elected leader commits ratifies the uuid: a replica of another
 * uuid refuses every record.
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <linux/fs.h>

#include <openssl/crypto.h>

#include "georep/devlinks.h"
#include "georep/keys.h"
#include "georep/nl.h"
#include "georepd.h"
#include "engine.h"
#include "genesis.h"

const char *gd_key_dir = GEOREP_DEFAULT_KEY_DIR;
bool gd_site_prefixed;

#define GEN_ASK_NS	1000000000ULL	/* GENESIS_REQ to each peer */
#define GEN_RETRY_NS	10000000000ULL	/* a failed probe, again */

enum gen_state { GEN_PROBE, GEN_WAIT, GEN_FAILED };

struct genesis {
	struct gr_replica r;
	char kname[GEOREP_NAME_MAX];
	const struct gr_replica_cfg *rep;	/* this site's devices */
	bool creator;				/* the first replica */
	enum gen_state state;
	char why[512];
	bool none[GR_CFG_MAX_SITES];		/* answered: nothing here */
	uint64_t next_ns;
};

#define to_gen(r) ((struct genesis *)(r))

int gd_kernel_name(struct georepd *d, const struct gd_volume *vol, char *buf, size_t len)
{
	int n = gd_site_prefixed ?
		snprintf(buf, len, "%s.%s", gd_cluster(d)->sites[gd_self(d)].name,
			 vol->cfg->name) :
		snprintf(buf, len, "%s", vol->cfg->name);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

static void fail(struct genesis *g, int ret, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void fail(struct genesis *g, int ret, const char *fmt, ...)
{
	char why[sizeof(g->why)];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	if (g->state != GEN_FAILED || strcmp(why, g->why))
		gd_err("volume %s: not creating its replica: %s%s%s", g->r.vol->cfg->name, why,
		       ret ? ": " : "", ret ? strerror(-ret) : "");
	snprintf(g->why, sizeof(g->why), "%s", why);
	g->state = GEN_FAILED;
	g->next_ns = gr_now_ns() + GEN_RETRY_NS;
}

/* the kernel volume exists now: the engine takes over (frees @g) */
static void become_engine(struct genesis *g)
{
	struct gd_volume *vol = g->r.vol;
	struct gr_replica *eng;
	int ret;

	ret = gd_engine_attach(g->r.d, vol, &eng);
	if (ret) {
		fail(g, ret, "kernel volume %s created, but the engine did not start", g->kname);
		return;
	}
	vol->replica = eng;
	free(g);
}

static int links(struct genesis *g)
{
	struct georep_vol_status vs;
	struct georep_nl *nl;
	char err[512];
	int ret;

	ret = georep_nl_open(&nl, err, sizeof(err));
	if (ret)
		return ret;
	ret = georep_nl_volume_get(nl, g->kname, &vs);
	georep_nl_close(nl);
	if (!ret)
		ret = georep_dev_links(GEOREP_DEV_DIR, g->kname, vs.minor, err, sizeof(err));
	if (ret)
		gd_warn("volume %s: %s", g->kname, err);
	return 0;
}

/* VOLUME_NEW of this site's devices; @uuid NULL: attach (no format) */
static int volume_new(struct genesis *g, bool format, const uint8_t *uuid, char *err,
		      size_t errlen)
{
	const struct gr_cluster *c = gd_cluster(g->r.d);
	struct georep_vol_new req = {
		.name = g->kname, .data_path = g->rep->data, .log_path = g->rep->log,
		.format = format, .has_site_id = true,
		.site_id = c->sites[gd_self(g->r.d)].site_id,
		.has_commit_rule = true, .commit_rule = g->r.vol->cfg->commit_rule,
	};
	struct georep_vol_status st;
	struct georep_keyset ks;
	struct georep_nl *nl;
	int ret;

	ret = georep_keys_load(gd_key_dir, g->kname, &ks, err, errlen);
	if (ret)
		return ret;
	if (format) {
		req.has_role = req.has_term = true;
		req.role = GEOREP_ROLE_SECONDARY;
		req.term = 0;
	}
	if (uuid) {
		req.has_uuid = true;
		memcpy(req.uuid, uuid, GEOREP_UUID_LEN);
	}
	ret = georep_nl_open(&nl, err, errlen);
	if (!ret) {
		ret = georep_nl_volume_attach(nl, &req, &ks, &st);
		if (ret)
			snprintf(err, errlen, "%s", georep_nl_error(nl));
		georep_nl_close(nl);
	}
	georep_keyset_clear(&ks);
	return ret;
}

static void attach(struct genesis *g)
{
	char err[512] = "";
	int ret = volume_new(g, false, NULL, err, sizeof(err));

	if (ret) {
		fail(g, ret, "attaching the georep log on %s: %s", g->rep->log, err);
		return;
	}
	gd_info("volume %s: attached the replica on %s (%s)", g->r.vol->cfg->name,
		g->rep->log, g->kname);
	links(g);
	become_engine(g);
}

/* the first 4 KiB of the log device: a georep log, zeros, or else */
static void probe(struct genesis *g)
{
	uint8_t *b = NULL;
	uint64_t magic;
	size_t i;
	int fd, ret;

	fd = open(g->rep->log, O_RDONLY | O_DIRECT | O_CLOEXEC);
	if (fd < 0) {
		fail(g, -errno, "log device %s", g->rep->log);
		return;
	}
	ret = posix_memalign((void **)&b, 4096, 4096) ? -ENOMEM : 0;
	if (!ret && pread(fd, b, 4096, 0) != 4096)
		ret = -EIO;
	close(fd);
	if (ret) {
		free(b);
		fail(g, ret, "reading the log device %s", g->rep->log);
		return;
	}
	memcpy(&magic, b, sizeof(magic));
	for (i = 0; i < 4096 && !b[i]; i++)
		;
	free(b);
	if (le64toh(magic) == GEOREP_SB_MAGIC) {
		attach(g);
	} else if (i == 4096) {
		if (g->state != GEN_WAIT)
			gd_info("volume %s: %s holds no georep log: %s", g->r.vol->cfg->name,
				g->rep->log, g->creator ?
				"creating the volume once a majority of its sites has none" :
				"waiting for its uuid and keys from a site that has the volume");
		g->state = GEN_WAIT;
		g->next_ns = 0;
	} else {
		fail(g, 0, "log device %s holds data that is not a georep log; not formatting it "
		     "(wipe its first 4 KiB if it is meant for this volume)", g->rep->log);
	}
}

static int data_bytes(const char *path, uint64_t *out)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), ret = 0;

	if (fd < 0)
		return -errno;
	if (ioctl(fd, BLKGETSIZE64, out))
		ret = -errno;
	close(fd);
	return ret;
}

/* format with @have's uuid and keys, or (creator, @have NULL) a new volume */
static void create(struct genesis *g, const struct gr_genesis *have, const char *from)
{
	char err[512] = "";
	uint64_t size = 0;
	uint32_t i;
	int ret;

	ret = data_bytes(g->rep->data, &size);
	if (ret) {
		fail(g, ret, "data device %s", g->rep->data);
		return;
	}
	if (have && size != have->data_bytes) {
		fail(g, 0, "data device %s holds %" PRIu64 " bytes, the volume (at %s) %" PRIu64,
		     g->rep->data, size, from, have->data_bytes);
		return;
	}
	for (i = 0; have && i < have->count && !ret; i++)
		ret = georep_key_store(gd_key_dir, g->kname, have->keys[i].epoch,
				       have->keys[i].key, err, sizeof(err));
	if (!have)
		ret = georep_key_generate(gd_key_dir, g->kname, 1, NULL, err, sizeof(err));
	if (ret) {
		fail(g, ret, "seal key: %s", err);
		return;
	}
	ret = volume_new(g, true, have ? have->uuid : NULL, err, sizeof(err));
	if (ret) {
		if (!have)
			georep_key_remove(gd_key_dir, g->kname, 1);
		fail(g, ret, "formatting %s and %s: %s", g->rep->data, g->rep->log, err);
		return;
	}
	gd_info("volume %s: replica %s formatted on %s and %s, %s", g->r.vol->cfg->name,
		g->kname, g->rep->data, g->rep->log,
		have ? "with the uuid and seal keys of the volume at" : "a new volume (uuid and "
		"seal key epoch 1) as the first of its replicas");
	if (have)
		gd_info("volume %s: ... from site %s (%u seal key epochs)", g->r.vol->cfg->name,
			from, have->count);
	links(g);
	become_engine(g);
}

static void ask(struct genesis *g)
{
	const struct gr_volume_cfg *vc = g->r.vol->cfg;
	struct gr_frame f = { .hdr.type = GR_FT_GENESIS_REQ, .hdr.volume = vc->wire_id };
	unsigned int i, none = 1;

	for (i = 0; i < vc->nreplicas; i++) {
		unsigned int s = vc->replicas[i].site;

		if (s == gd_self(g->r.d))
			continue;
		none += g->none[s];
		if (gd_peer_up(g->r.d, s))
			gd_send(g->r.d, s, &f);
	}
	if (g->creator && none >= vc->nreplicas / 2 + 1)
		create(g, NULL, NULL);
}

static void gen_tick(struct gr_replica *r, uint64_t now)
{
	struct genesis *g = to_gen(r);

	if (now < g->next_ns)
		return;
	g->next_ns = now + GEN_ASK_NS;
	if (g->state == GEN_WAIT)
		ask(g);		/* may free g */
	else
		probe(g);	/* may free g */
}

static void answer_none(struct georepd *d, const struct gd_volume *vol, unsigned int to)
{
	struct gr_frame f = { .hdr.type = GR_FT_GENESIS, .hdr.volume = vol->cfg->wire_id };

	f.genesis.status = GR_GENESIS_NONE;
	gd_send(d, to, &f);
}

static int gen_frame(struct gr_replica *r, unsigned int from, const struct gr_frame *f)
{
	struct genesis *g = to_gen(r);
	/* the decoded keys: wiped here once used */
	struct gr_genesis *gen = (struct gr_genesis *)&f->genesis;
	const char *name = gd_cluster(r->d)->sites[from].name;

	if (f->hdr.type == GR_FT_GENESIS_REQ) {
		answer_none(r->d, r->vol, from);
		return 0;
	}
	if (f->hdr.type != GR_FT_GENESIS)
		return 0;	/* the others' engines talk: not yet */
	if (gen->status == GR_GENESIS_NONE) {
		g->none[from] = true;
	} else if (g->state == GEN_WAIT) {
		if (!gen->count)
			fail(g, 0, "site %s has the volume but sent no seal keys (keys only travel "
			     "over mutual TLS: configure a \"tls\" section)", name);
		else
			create(g, gen, name);	/* may free g */
	}
	gr_genesis_wipe(gen);
	return 0;
}

static void gen_peer(struct gr_replica *r, unsigned int site, bool up)
{
	if (up)
		to_gen(r)->next_ns = 0;
}

static json_t *gen_status(struct gr_replica *r)
{
	struct genesis *g = to_gen(r);
	const struct gr_cluster *c = gd_cluster(r->d);

	return json_pack("{s:s, s:s, s:s, s:s, s:s}", "engine", "genesis",
			 "state", g->state == GEN_FAILED ? "failed" : g->state == GEN_WAIT ?
			 "waiting" : "probing", "kernel_volume", g->kname,
			 "creator", c->sites[r->vol->cfg->replicas[0].site].name,
			 "why", g->state == GEN_FAILED ? g->why : g->creator ?
			 "creating the volume once a majority of its sites has none" :
			 "waiting for the volume's uuid and keys from a site that has it");
}

static void gen_destroy(struct gr_replica *r)
{
	free(r);
}

static const struct gr_replica_ops genesis_ops = {
	.on_frame = gen_frame,
	.on_tick = gen_tick,
	.on_peer = gen_peer,
	.status_json = gen_status,
	.destroy = gen_destroy,
};

int gd_genesis_new(struct georepd *d, struct gd_volume *vol, struct gr_replica **out)
{
	struct genesis *g = calloc(1, sizeof(*g));

	if (!g)
		return -ENOMEM;
	g->r.ops = &genesis_ops;
	g->r.d = d;
	g->r.vol = vol;
	g->rep = gr_volume_replica(vol->cfg, gd_self(d));
	g->creator = vol->cfg->replicas[0].site == gd_self(d);
	if (!g->rep || gd_kernel_name(d, vol, g->kname, sizeof(g->kname))) {
		free(g);
		return -EINVAL;
	}
	gd_info("volume %s: no kernel volume %s yet: looking at %s", vol->cfg->name, g->kname,
		g->rep->log);
	*out = &g->r;
	return 0;
}

/* an engine's answer: this volume's uuid, size and seal keys (TLS only) */
void gd_genesis_answer(struct georepd *d, const struct gd_volume *vol, unsigned int from)
{
	struct gr_frame f = { .hdr.type = GR_FT_GENESIS, .hdr.volume = vol->cfg->wire_id };
	struct georep_vol_status vs;
	struct georep_keyset ks = { 0 };
	char kname[GEOREP_NAME_MAX], err[512];
	struct georep_nl *nl;
	unsigned int i;
	int ret;

	if (gd_kernel_name(d, vol, kname, sizeof(kname)) ||
	    georep_nl_open(&nl, err, sizeof(err)))
		return;
	ret = georep_nl_volume_get(nl, kname, &vs);
	georep_nl_close(nl);
	if (ret || !vs.has_uuid)
		return;
	f.genesis.status = GR_GENESIS_HAVE;
	memcpy(f.genesis.uuid, vs.uuid, GEOREP_UUID_LEN);
	f.genesis.data_bytes = vs.data_bytes;
	if (gd_cluster(d)->tls.enabled &&
	    !georep_keys_load(gd_key_dir, kname, &ks, err, sizeof(err))) {
		georep_keyset_keep_newest(&ks, GR_GENESIS_MAX_KEYS);
		for (i = 0; i < ks.nr && i < GR_GENESIS_MAX_KEYS; i++) {
			f.genesis.keys[i].epoch = ks.keys[i].epoch;
			memcpy(f.genesis.keys[i].key, ks.keys[i].data, GEOREP_KEY_LEN);
		}
		f.genesis.count = i;
	}
	georep_keyset_clear(&ks);
	gd_info("volume %s: site %s asked for the volume: sent its uuid and %u seal key epochs",
		vol->cfg->name, gd_cluster(d)->sites[from].name, f.genesis.count);
	gd_send(d, from, &f);
	gr_genesis_wipe(&f.genesis);
}
