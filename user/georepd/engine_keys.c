// SPDX-License-Identifier: GPL-2.0
/*
 * Seal-key rotation coordinated by the leader (Documentation/wire-protocol.rst,
 * "Seal-key rotation"; admin-guide.rst, "Seal keys and their rotation").
 *
 *  1. The leader makes epoch N = the highest it knows + 1 (RAND_bytes, in
 *     --key-dir, 0600, fsync), installs it verify-only and sends KEY to
 *     every site of the volume, only over mutual TLS.
 *  2. A site stores it (0600, fsync), installs it verify-only and answers
 *     KEY_ACK INSTALLED (FAILED with the reason logged).
 *  3. Once a majority of the voting replicas, the leader included, has it,
 *     the leader's kernel seals with N. A site always has an epoch before
 *     any record sealed with it: KEY travels ahead of those records on the
 *     same connection, and a site that (re)connects to the leader is sent
 *     every epoch the leader holds first.
 *  4. A new leader whose key dir holds an epoch above the one its kernel
 *     seals with resumes that rotation (the old one may have died halfway):
 *     the epoch is sent again and sealing switches once a majority has it,
 *     never before.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>

#include "engine_internal.h"
#include "genesis.h"
#include "ledger.h"
#include "georep/keys.h"

#define KEY_RESEND_NS	1000000000ULL

/* the kernel volume name: its keys are <key-dir>/<name>/<epoch>.key */
static int kname(struct engine *e, char *buf, size_t len)
{
	return gd_kernel_name(e->d, e->vol, buf, len);
}

static int refuse(char *err, size_t errlen, int ret, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int refuse(char *err, size_t errlen, int ret, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return ret;
}

/*
 * The key dir into @ks. A directory that does not read whole (a bad file
 * of any epoch) is an error that @err names, and @ks is then empty: no key
 * of it is taken, and no new epoch is numbered from a partial view.
 */
static int load_dir(struct engine *e, struct georep_keyset *ks, char *err, size_t errlen)
{
	char name[GEOREP_NAME_MAX];

	ks->nr = 0;
	if (kname(e, name, sizeof(name)))
		return refuse(err, errlen, -ENAMETOOLONG,
			      "volume name too long for the key directory");
	return georep_keys_load(gd_key_dir, name, ks, err, errlen);
}

static uint32_t sealing(struct engine *e)
{
	struct gd_ledger_status st;

	return e->lg->ops->status(e->lg, &st) ? 0 : st.seal_epoch;
}

static bool voting(struct engine *e, unsigned int site)
{
	return e->ids[site] != 0;
}

static void send_key(struct engine *e, unsigned int site, uint32_t epoch,
		     const uint8_t key[GEOREP_KEY_LEN])
{
	struct gr_frame f = { .hdr.type = GR_FT_KEY };

	f.hdr.volume = e->vol->cfg->wire_id;
	f.key.term = e->term ? e->term : 1;
	f.key.epoch = epoch;
	memcpy(f.key.key, key, GEOREP_KEY_LEN);
	eng_send_frame(e, site, &f);
	gr_key_wipe(&f.key);
}

static bool holds(const struct gd_ledger_status *st, uint32_t epoch)
{
	uint32_t i;

	for (i = 0; i < st->nr_epochs && i < GEOREP_MAX_KEYS; i++)
		if (st->epochs[i] == epoch)
			return true;
	return false;
}

/*
 * To @site (one that just connected, or asks): the epochs this site's
 * ledger holds, which seal every record it retains and so every record it
 * may ship (a ledger never retires an epoch a retained record uses). A
 * ledger that reports no epochs (an older module): the newest
 * GEOREP_MAX_KEYS of the key dir.
 */
static void send_all(struct engine *e, unsigned int site)
{
	struct gd_ledger_status st = { 0 };
	struct georep_keyset ks;
	unsigned int i;
	char err[256];

	load_dir(e, &ks, err, sizeof(err));
	if (e->lg->ops->status(e->lg, &st) || !st.nr_epochs) {
		st.nr_epochs = 0;
		georep_keyset_keep_newest(&ks, GEOREP_MAX_KEYS);
	}
	for (i = 0; i < ks.nr; i++)
		if (!st.nr_epochs || holds(&st, ks.keys[i].epoch))
			send_key(e, site, ks.keys[i].epoch, ks.keys[i].data);
	georep_keyset_clear(&ks);
}

/*
 * The key of @epoch from the key dir into @key: 0, -ENOENT when it has no
 * such file, or the error of reading the directory; @why (256 bytes) says
 * which.
 */
static int dir_key(struct engine *e, uint32_t epoch, uint8_t key[GEOREP_KEY_LEN], char *why)
{
	const struct georep_keyent *k;
	struct georep_keyset ks;
	int ret;

	ret = load_dir(e, &ks, why, 256);
	if (ret)
		return ret;
	k = georep_keyset_find(&ks, epoch);
	if (k) {
		memcpy(key, k->data, GEOREP_KEY_LEN);
	} else {
		snprintf(why, 256, "no %u.key in the key directory", epoch);
		ret = -ENOENT;
	}
	georep_keyset_clear(&ks);
	return ret;
}

/*
 * Install @epoch in the ledger. A full key ring retires its lowest epoch
 * that no retained record is sealed with (kmod/keys.c); when every one is
 * held, release what the log safely can (ENG_COMPACT_EAGER) and try again.
 */
static int key_install(struct engine *e, uint32_t epoch, const uint8_t key[GEOREP_KEY_LEN],
		       uint32_t seal)
{
	int ret = e->lg->ops->key_install(e->lg, epoch, key, seal);

	if (ret != -ENOSPC)
		return ret;
	eng_compact(e, ENG_COMPACT_EAGER);
	return e->lg->ops->key_install(e->lg, epoch, key, seal);
}

/* what the ledger said of its last key_install() failure @ret */
static const char *install_why(struct engine *e, int ret)
{
	return e->lg->why[0] ? e->lg->why : strerror(-ret);
}

static unsigned int acked(struct engine *e)
{
	const struct gr_volume_cfg *vc = e->vol->cfg;
	unsigned int i, n = 0;

	for (i = 0; i < vc->nreplicas; i++) {
		unsigned int s = vc->replicas[i].site;

		n += voting(e, s) && (s == gd_self(e->d) || e->kr.acked[s]);
	}
	return n;
}

static unsigned int voters(struct engine *e)
{
	const struct gr_volume_cfg *vc = e->vol->cfg;
	unsigned int i, n = 0;

	for (i = 0; i < vc->nreplicas; i++)
		n += voting(e, vc->replicas[i].site);
	return n;
}

/* a majority has the pending epoch: the leader's kernel seals with it */
static void switch_sealing(struct engine *e)
{
	char why[256] = "";
	uint8_t key[GEOREP_KEY_LEN];
	int ret;

	ret = dir_key(e, e->kr.pending, key, why) ?:
	      key_install(e, e->kr.pending, key, e->kr.pending);
	OPENSSL_cleanse(key, sizeof(key));
	if (ret) {
		snprintf(e->kr.why, sizeof(e->kr.why), "switching to epoch %u: %.100s",
			 e->kr.pending, why[0] ? why : install_why(e, ret));
		gd_err("volume %s: seal key %s", e->name, e->kr.why);
		return;
	}
	gd_info("volume %s: sealing with key epoch %u (installed at %u of %u sites)", e->name,
		e->kr.pending, acked(e), voters(e));
	e->kr.rotations++;
	e->kr.last_ns = gr_now_ns();
	e->kr.pending = 0;
	e->kr.why[0] = 0;
}

static void send_pending(struct engine *e, uint64_t now)
{
	const struct gr_volume_cfg *vc = e->vol->cfg;
	uint8_t key[GEOREP_KEY_LEN];
	char why[256];
	unsigned int i;

	e->kr.sent_ns = now;
	if (dir_key(e, e->kr.pending, key, why)) {
		/* never to be sent: give up, say why, let a new rotation start */
		snprintf(e->kr.why, sizeof(e->kr.why), "rotation to epoch %u stopped: %.110s",
			 e->kr.pending, why);
		gd_err("volume %s: seal key %s", e->name, e->kr.why);
		e->kr.pending = 0;
		return;
	}
	for (i = 0; i < vc->nreplicas; i++) {
		unsigned int s = vc->replicas[i].site;

		if (s != gd_self(e->d) && !e->kr.acked[s] && gd_peer_up(e->d, s))
			send_key(e, s, e->kr.pending, key);
	}
	OPENSSL_cleanse(key, sizeof(key));
}

int eng_key_rotate(struct engine *e, char *err, size_t errlen)
{
	struct georep_keyent ent;
	struct georep_keyset ks;
	char name[GEOREP_NAME_MAX];
	uint32_t n, cur;
	int ret;

	if (e->role != GR_LEADER || !e->writable)
		return refuse(err, errlen, -EAGAIN,
			      "this site is not the volume's writable leader (%s is)",
			      e->leader ? eng_site_name(e, e->leader) : "none");
	if (!gd_cluster(e->d)->tls.enabled)
		return refuse(err, errlen, -EPERM, "seal keys travel only over mutual TLS: the "
			      "configuration has no \"tls\" section");
	if (e->kr.pending)
		return refuse(err, errlen, -EBUSY,
			      "the rotation to epoch %u is still waiting for a majority",
			      e->kr.pending);
	if (!e->lg->ops->key_install || kname(e, name, sizeof(name)))
		return refuse(err, errlen, -EOPNOTSUPP, "this ledger has no seal keys");
	ret = load_dir(e, &ks, err, errlen);
	n = georep_keyset_max_epoch(&ks);
	georep_keyset_clear(&ks);
	if (ret)
		return ret;	/* @err names the file: a new epoch could collide */
	cur = sealing(e);
	/* 0 would make the kernel seal with the new epoch at once */
	if (!cur)
		return refuse(err, errlen, -EIO, "cannot read the sealing epoch of the ledger");
	n = (n > cur ? n : cur) + 1;
	ret = georep_key_generate(gd_key_dir, name, n, &ent, err, errlen);
	if (ret)
		return ret;
	ret = key_install(e, n, ent.data, cur);
	OPENSSL_cleanse(&ent, sizeof(ent));
	if (ret) {
		georep_key_remove(gd_key_dir, name, n);
		return refuse(err, errlen, ret, "installing epoch %u: %s", n, install_why(e, ret));
	}
	memset(e->kr.acked, 0, sizeof(e->kr.acked));
	e->kr.pending = n;
	gd_info("volume %s: seal key epoch %u made, installed verify-only; sending it to the "
		"sites", e->name, n);
	send_pending(e, gr_now_ns());
	return (int)n;
}

/* what this site's ledger holds, into a KEY_ACK */
static void ack_held(struct engine *e, struct gr_key_ack *a)
{
	struct gd_ledger_status st;

	if (e->lg->ops->status(e->lg, &st))
		return;
	/* an older module reports no epochs: then no sealing epoch either */
	a->sealing = st.nr_epochs ? st.seal_epoch : 0;
	a->nr_held = st.nr_epochs;
	memcpy(a->held, st.epochs, sizeof(a->held));
}

/*
 * The epoch a follower's ledger is to seal with once it leads: where it
 * was, or the highest epoch of a record it appended, sealed by a leader
 * once a majority had it. Moving it on lets the follower's key ring retire
 * the old one (a ring keeps its sealing epoch).
 */
static uint32_t follower_seal(struct engine *e)
{
	struct gd_ledger_status st;
	uint32_t i;

	if (e->lg->ops->status(e->lg, &st))
		return 0;
	for (i = 0; e->kr.seen > st.seal_epoch && i < st.nr_epochs; i++)
		if (st.epochs[i] == e->kr.seen)
			return e->kr.seen;
	return st.seal_epoch;
}

/*
 * Install @epoch at a follower, sealing (once it leads) with follower_seal():
 * never with 0, which would mean "the highest" (@err says why)
 */
static int follower_install(struct engine *e, uint32_t epoch, const uint8_t key[GEOREP_KEY_LEN],
			    char *err)
{
	uint32_t seal = follower_seal(e);

	if (!seal) {
		snprintf(err, 256, "cannot read the sealing epoch of the ledger");
		return -EIO;
	}
	return key_install(e, epoch, key, seal);
}

static void send_ack(struct engine *e, unsigned int site, uint64_t term, uint32_t epoch,
		     enum gr_key_status status)
{
	struct gr_frame f = { .hdr.type = GR_FT_KEY_ACK };

	f.hdr.volume = e->vol->cfg->wire_id;
	f.key_ack.term = term ? term : 1;
	f.key_ack.epoch = epoch;
	f.key_ack.status = status;
	ack_held(e, &f.key_ack);
	eng_send_frame(e, site, &f);
}

/*
 * Why KEY @k from @from is not taken, or NULL. Keys come from the leader
 * only: a leader makes its own, and a follower refuses a KEY of an older
 * term, or of its term from another site than that term's leader. A KEY
 * of a newer term, or of the term whose leader is not known yet (the
 * leader sends its epochs as soon as a site connects), is taken: see
 * Documentation/security.rst, "Not covered yet".
 */
static const char *key_refused(struct engine *e, unsigned int from, const struct gr_key *k)
{
	if (e->role == GR_LEADER)
		return "this site leads: it makes its own keys";
	if (k->term < e->term)
		return "of an older term";
	if (k->term == e->term && e->leader && e->leader != e->ids[from])
		return "not from the leader of the term";
	return NULL;
}

/* a follower: KEY from the leader */
static void on_key(struct engine *e, unsigned int from, struct gr_key *k)
{
	char name[GEOREP_NAME_MAX], err[256] = "";
	const char *why = key_refused(e, from, k);
	int ret;

	if (why) {
		e->kr.refused++;
		if (gd_ratelimit(&e->rl))
			gd_warn("volume %s: seal key epoch %u from %s (term %llu) refused: %s",
				e->name, k->epoch, gd_cluster(e->d)->sites[from].name,
				(unsigned long long)k->term, why);
		return;
	}
	ret = kname(e, name, sizeof(name)) ? -ENAMETOOLONG :
	      georep_key_store(gd_key_dir, name, k->epoch, k->key, err, sizeof(err));
	if (!ret && e->lg->ops->key_install)
		ret = follower_install(e, k->epoch, k->key, err);
	if (ret)
		gd_err("volume %s: seal key epoch %u from %s not installed: %s", e->name, k->epoch,
		       gd_cluster(e->d)->sites[from].name, err[0] ? err : install_why(e, ret));
	else if (k->epoch > e->kr.have)
		gd_info("volume %s: seal key epoch %u installed (from %s)", e->name, k->epoch,
			gd_cluster(e->d)->sites[from].name);
	if (!ret && k->epoch > e->kr.have)
		e->kr.have = k->epoch;
	send_ack(e, from, k->term, k->epoch, ret ? GR_KEY_FAILED : GR_KEY_INSTALLED);
}

/*
 * A follower: record @seq from @leader is sealed with @epoch, which this
 * ledger does not hold. A follower that lags may have retired it: the new
 * epochs come on the control lane, ahead of records sealed with older
 * ones, and installing them retires the lowest epoch no retained record
 * uses yet. Install it again from the key directory; without its file, ask
 * @leader for it (KEY_ACK MISSING). 0 once installed.
 */
int eng_key_reinstall(struct engine *e, unsigned int leader, uint32_t epoch, uint64_t seq)
{
	uint8_t key[GEOREP_KEY_LEN];
	char why[256] = "";
	bool asked = false;
	int ret = dir_key(e, epoch, key, why);

	if (!ret)
		ret = e->lg->ops->key_install ? follower_install(e, epoch, key, why) : -EOPNOTSUPP;
	OPENSSL_cleanse(key, sizeof(key));
	if (!ret) {
		e->kr.reinstalled++;
		gd_info("volume %s: seal key epoch %u installed again from the key directory: "
			"record %llu is sealed with it", e->name, epoch, (unsigned long long)seq);
		return 0;
	}
	if (ret == -ENOENT && gd_cluster(e->d)->tls.enabled) {
		send_ack(e, leader, e->term, epoch, GR_KEY_MISSING);
		asked = true;
	}
	if (gd_ratelimit(&e->rl))
		gd_warn("volume %s: record %llu is sealed with epoch %u: %s%s", e->name,
			(unsigned long long)seq, epoch, why[0] ? why : install_why(e, ret),
			asked ? "; asked the leader for it" : "");
	return ret;
}

/*
 * The leader: replica site @site lacks @epoch and asks for it (only over
 * mutual TLS). Only an epoch this leader's ledger holds: those seal every
 * record it can ship; a retired one is no site's business.
 */
static void send_missing(struct engine *e, unsigned int site, uint32_t epoch)
{
	struct gd_ledger_status st = { 0 };
	uint8_t key[GEOREP_KEY_LEN];
	char why[256] = "";
	int ret = -EPERM;

	if (!gd_cluster(e->d)->tls.enabled)
		return;
	if (!gr_volume_replica(e->vol->cfg, site))
		snprintf(why, sizeof(why), "not a replica site of the volume");
	else if (e->lg->ops->status(e->lg, &st) || (st.nr_epochs && !holds(&st, epoch)))
		snprintf(why, sizeof(why), "this leader's ledger does not hold it");
	else
		ret = dir_key(e, epoch, key, why);
	if (!ret)
		send_key(e, site, epoch, key);
	else if (gd_ratelimit(&e->rl))
		gd_warn("volume %s: site %s asks for seal key epoch %u: not sent: %s", e->name,
			gd_cluster(e->d)->sites[site].name, epoch, why);
	OPENSSL_cleanse(key, sizeof(key));
}

int eng_key_frame(struct engine *e, unsigned int from, const struct gr_frame *f)
{
	/* the decoded key: wiped here once used */
	struct gr_key *k = (struct gr_key *)&f->key;

	if (f->hdr.type == GR_FT_KEY) {
		if (!gd_cluster(e->d)->tls.enabled)
			gd_warn("volume %s: a seal key from %s over plain TCP: ignored", e->name,
				gd_cluster(e->d)->sites[from].name);
		else
			on_key(e, from, k);
		gr_key_wipe(k);
		return 0;
	}
	if (f->key_ack.epoch > e->kr.site_epoch[from] && f->key_ack.status == GR_KEY_INSTALLED)
		e->kr.site_epoch[from] = f->key_ack.epoch;
	e->kr.site_ack[from] = f->key_ack;
	if (e->role != GR_LEADER)
		return 0;
	if (f->key_ack.status == GR_KEY_INSTALLED && f->key_ack.epoch == e->kr.pending)
		e->kr.acked[from] = true;
	else if (f->key_ack.status == GR_KEY_MISSING)
		send_missing(e, from, f->key_ack.epoch);
	else if (f->key_ack.status == GR_KEY_FAILED)
		snprintf(e->kr.why, sizeof(e->kr.why), "site %s could not install epoch %u",
			 gd_cluster(e->d)->sites[from].name, f->key_ack.epoch);
	return 0;
}

void eng_key_peer_up(struct engine *e, unsigned int site)
{
	/* a site of the cluster that holds no replica of the volume gets none */
	if (e->role == GR_LEADER && gd_cluster(e->d)->tls.enabled &&
	    gr_volume_replica(e->vol->cfg, site))
		send_all(e, site);
}

/*
 * A scheduled rotation that could not start: say why in key status (its
 * "error"), and in the log when the reason is new; the next try is one
 * period later.
 */
static void scheduled_failed(struct engine *e, const char *err, uint64_t now)
{
	char why[sizeof(e->kr.why)];

	e->kr.last_ns = now;
	snprintf(why, sizeof(why), "scheduled rotation: %.130s", err);
	if (strcmp(why, e->kr.why))
		gd_warn("volume %s: seal key %s", e->name, why);
	memcpy(e->kr.why, why, sizeof(why));
}

/*
 * An epoch of the key dir above the sealing one is a rotation a leader did
 * not finish: resume it, once its key file reads back (a bad or unreadable
 * one could never be sent: key status says why, logged once). Runs every
 * second: the file names only, the files only then.
 */
static void resume_unfinished(struct engine *e)
{
	char name[GEOREP_NAME_MAX], why[256] = "", msg[sizeof(e->kr.why)];
	uint8_t key[GEOREP_KEY_LEN];
	uint32_t high = 0, cur;
	int ret;

	if (kname(e, name, sizeof(name)) ||
	    georep_keys_highest(gd_key_dir, name, &high, why, sizeof(why)))
		high = 0;
	cur = sealing(e);
	if (!cur || high <= cur)
		return;
	ret = dir_key(e, high, key, why);
	OPENSSL_cleanse(key, sizeof(key));
	if (ret) {
		snprintf(msg, sizeof(msg), "epoch %u, above the sealing one, cannot be resumed: "
			 "%.90s", high, why);
		if (strcmp(msg, e->kr.why))
			gd_err("volume %s: seal key %s", e->name, msg);
		memcpy(e->kr.why, msg, sizeof(msg));
		return;
	}
	gd_info("volume %s: seal key epoch %u is here but not sealing (%u): resuming its rotation",
		e->name, high, cur);
	memset(e->kr.acked, 0, sizeof(e->kr.acked));
	e->kr.pending = high;
	e->kr.sent_ns = 0;
}

/* the leader's side, every tick: resume, resend, switch, rotate on schedule */
void eng_key_tick(struct engine *e, uint64_t now)
{
	uint64_t every = e->vol->cfg->key_rotate_seconds * 1000000000ULL;
	char err[256];

	if (e->role != GR_LEADER || !e->lg->ops->key_install ||
	    !gd_cluster(e->d)->tls.enabled) {
		e->kr.pending = 0;	/* a new leader resumes it */
		return;
	}
	if (!e->writable)
		return;		/* no quorum: nothing to switch, keep what is pending */
	if (!e->kr.pending && now - e->kr.checked_ns > KEY_RESEND_NS) {
		e->kr.checked_ns = now;
		resume_unfinished(e);
		if (!e->kr.last_ns)
			e->kr.last_ns = now;
	}
	if (e->kr.pending) {
		if (acked(e) >= voters(e) / 2 + 1)
			switch_sealing(e);
		else if (now - e->kr.sent_ns > KEY_RESEND_NS)
			send_pending(e, now);
		return;
	}
	if (every && now - e->kr.last_ns >= every && eng_key_rotate(e, err, sizeof(err)) < 0)
		scheduled_failed(e, err, now);
}

static json_t *epochs_json(const uint32_t *epochs, uint32_t nr)
{
	json_t *a = json_array();
	uint32_t i;

	for (i = 0; i < nr && i < GEOREP_MAX_KEYS; i++)
		json_array_append_new(a, json_integer(epochs[i]));
	return a;
}

/* one site's ledger: this one's now, another's as of its last KEY_ACK */
static json_t *site_keys(struct engine *e, unsigned int s, const struct gd_ledger_status *st)
{
	const struct gr_key_ack *a = &e->kr.site_ack[s];

	if (s == gd_self(e->d))
		return json_pack("{s:b, s:i, s:o}", "here", 1, "sealing", (int)st->seal_epoch,
				 "installed", epochs_json(st->epochs, st->nr_epochs));
	/* none yet, or one framed with version 1 or 2, or from an older module: holdings unknown */
	if (!a->term || !a->nr_held)
		return json_pack("{s:b, s:n, s:n, s:i}", "here", 0, "sealing", "installed",
				 "acked", (int)e->kr.site_epoch[s]);
	return json_pack("{s:b, s:i, s:o, s:i}", "here", 0, "sealing", (int)a->sealing,
			 "installed", epochs_json(a->held, a->nr_held),
			 "acked", (int)e->kr.site_epoch[s]);
}

/*
 * key status: this site's ledger (sealing, installed), its key files, and
 * per site of the volume what its ledger holds (sites_acked kept as the
 * highest epoch each other site acknowledged)
 */
json_t *eng_key_status(struct engine *e)
{
	const struct gr_volume_cfg *vc = e->vol->cfg;
	const struct gr_cluster *c = gd_cluster(e->d);
	json_t *files = json_array(), *acked = json_object(), *sites = json_object();
	struct gd_ledger_status st = { 0 };
	struct georep_keyset ks;
	unsigned int i;
	char err[256];

	e->lg->ops->status(e->lg, &st);
	load_dir(e, &ks, err, sizeof(err));
	for (i = 0; i < ks.nr; i++)
		json_array_append_new(files, json_integer(ks.keys[i].epoch));
	georep_keyset_clear(&ks);
	for (i = 0; i < vc->nreplicas; i++) {
		unsigned int s = vc->replicas[i].site;

		json_object_set_new(sites, c->sites[s].name, site_keys(e, s, &st));
		if (s != gd_self(e->d))
			json_object_set_new(acked, c->sites[s].name,
					    json_integer(e->kr.site_epoch[s]));
	}
	return json_pack("{s:i, s:o, s:o, s:o, s:o, s:i, s:I, s:I, s:I, s:s, s:I}",
			 "sealing", (int)st.seal_epoch,
			 "installed", epochs_json(st.epochs, st.nr_epochs), "key_files", files,
			 "sites_acked", acked, "sites", sites,
			 "pending", (int)e->kr.pending, "rotations", (json_int_t)e->kr.rotations,
			 "reinstalled", (json_int_t)e->kr.reinstalled,
			 "refused", (json_int_t)e->kr.refused, "error", e->kr.why,
			 "rotate_seconds", (json_int_t)vc->key_rotate_seconds);
}

/* control request "key-rotate" {volume}: {epoch} once sent to the sites */
static int h_key_rotate(struct gr_ctl_client *cl, json_t *req, json_t **resp, char *err,
			void *arg)
{
	struct engine *e = eng_lookup(arg, req, err);
	int ret;

	if (!e)
		return -ENOENT;
	ret = eng_key_rotate(e, err, GR_CTL_ERRLEN);
	if (ret < 0)
		return ret;
	*resp = json_pack("{s:s, s:i, s:i}", "volume", e->name, "epoch", ret,
			  "majority", (int)(voters(e) / 2 + 1));
	return 0;
}

void gd_engine_register_key_cmds(struct georepd *d)
{
	if (gr_ctl_register(d->ctl, "key-rotate", h_key_rotate, d))
		gd_warn("cannot register the key-rotate control request");
}

/*
 * At start: the newest GEOREP_MAX_KEYS epochs of the key dir into the
 * ledger, verify-only (the kernel volume has them from its attach already;
 * the memory ledger keeps none across a restart). Sealing stays where it
 * is: a leader switches only once a majority has the epoch (eng_key_tick()
 * resumes it).
 */
void eng_key_load(struct engine *e)
{
	struct georep_keyset ks;
	uint32_t cur = sealing(e);
	unsigned int i;
	char err[256];
	int ret;

	if (!e->lg->ops->key_install)
		return;
	if (load_dir(e, &ks, err, sizeof(err)))
		gd_warn("volume %s: no seal key loaded from the key directory: %s", e->name, err);
	georep_keyset_keep_newest(&ks, GEOREP_MAX_KEYS);
	for (i = 0; i < ks.nr; i++) {
		if (ks.keys[i].epoch == 1 && gd_ledger_kind == GD_LEDGER_MEM)
			continue;
		ret = e->lg->ops->key_install(e->lg, ks.keys[i].epoch, ks.keys[i].data, cur);
		if (ret)
			gd_warn("volume %s: seal key epoch %u from %s not installed: %s", e->name,
				ks.keys[i].epoch, gd_key_dir, install_why(e, ret));
		else if (ks.keys[i].epoch > e->kr.have)
			e->kr.have = ks.keys[i].epoch;
	}
	georep_keyset_clear(&ks);
}
