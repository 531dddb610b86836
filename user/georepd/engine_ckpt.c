// SPDX-License-Identifier: GPL-2.0
/*
 * Checkpoints and finality (Documentation/proofs.rst, "Finality"): the
 * leader signs a C2SP checkpoint of its Merkle tree at a committed size
 * every "checkpoint.records" records or "checkpoint.ms" ms, one at a time,
 * and sends it to every site of the volume (CKPT); a site checks it
 * against its own tree and answers with its cosignature or a refusal that
 * names the mismatch (CKPT_RESP). Signed or cosigned by a majority of the
 * voting sites, the checkpoint is final: the leader keeps it in the state
 * directory (final.c) and sends it to every site (CKPT_FINAL), which check
 * it and keep it too. final_seq only grows, at every site, across restarts
 * and failovers: a new leader starts from the final checkpoint it holds.
 *
 * Keys: the site's identity key (the site's "key", the TLS one) signs; the
 * other sites' public keys come from their certificates ("cert") and check
 * their signatures. Without a key (plain TCP lab setups) checkpoints are
 * off and status says why.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/x509.h>

#include "georep/note.h"
#include "georep/site_cert.h"
#include "georep/tls.h"
#include "engine_internal.h"
#include "final.h"

#define CK_RESEND_NS	500000000ULL	/* a CKPT unanswered: send it again */
#define CK_STALE_MS	10000ULL	/* in flight this long: start a newer one */

struct eng_ckpt {
	EVP_PKEY *key;				/* this site's identity key */
	char name[GR_NOTE_NAME_MAX];		/* georep/<cluster>/<site> */
	char origin[GR_NOTE_NAME_MAX];		/* georep/<cluster>/<volume> */
	/* signer and cosigner keys of the volume's sites, and whose they are */
	struct gr_note_key keys[2 * GR_MAX_SITES];
	unsigned int key_site[2 * GR_MAX_SITES];
	unsigned int nkeys;
	char why[256];				/* checkpoints off: why */
	bool final_bad;				/* why: the stored final is refused */
	/* the last final checkpoint */
	uint64_t final_seq;
	gr_mhash final_root;
	uint64_t final_checked;			/* final_root matched the tree at this size */
	char final[GD_FINAL_MAX + 1];
	size_t final_len;
	/* leader: the checkpoint in flight */
	bool active;
	uint64_t term, size;
	gr_mhash root;
	char text[GR_NOTE_NAME_MAX + 96];	/* the checkpoint text */
	char note[GD_FINAL_MAX + 1];		/* text, "\n", signature, cosignatures */
	size_t text_len, note_len;
	bool vouched[GR_CFG_MAX_SITES];
	bool logged[GR_CFG_MAX_SITES];		/* its refusal was logged */
	uint64_t started_ns, sent_ns;
	uint64_t last_size, last_ns;		/* the last one started */
	/* counters */
	uint64_t signed_n, finals, cosigned, refusals;
	char last_refusal[GR_WIRE_MAX_REASON + 64];
	uint64_t refused_term, refused_size;	/* the last refusal logged (follower) */
};

static unsigned int majority(const struct engine *e)
{
	const struct gr_conf *c = gr_conf_active(e->n);
	unsigned int i, voters = 0;

	for (i = 0; c && i < c->n; i++)
		voters += !!c->voter[i];
	return voters / 2 + 1;
}

static bool is_voter(const struct engine *e, unsigned int site)
{
	const struct gr_conf *c = gr_conf_active(e->n);
	unsigned int i;

	for (i = 0; c && i < c->n; i++)
		if (c->site[i] == e->ids[site])
			return c->voter[i];
	return false;
}

/* the signer and cosigner keys of @site under @pk */
static int add_keys(struct engine *e, unsigned int site, EVP_PKEY *pk, char *err)
{
	struct eng_ckpt *ck = e->ck;
	const struct gr_cluster *c = gd_cluster(e->d);
	char name[GR_NOTE_NAME_MAX];
	struct gr_note_key *k = &ck->keys[ck->nkeys];

	if (ck->nkeys + 2 > 2 * GR_MAX_SITES)
		return -E2BIG;
	snprintf(name, sizeof(name), "georep/%s/%s", c->cluster, c->sites[site].name);
	if (gr_note_key_from_pkey(pk, name, k, err))
		return -EINVAL;
	k[1] = k[0];
	gr_note_key_cosigner(&k[1]);
	ck->key_site[ck->nkeys] = site;
	ck->key_site[ck->nkeys + 1] = site;
	ck->nkeys += 2;
	return 0;
}

/* the keys of the volume's other sites, from their certificates */
static void load_peer_keys(struct engine *e)
{
	const struct gr_cluster *c = gd_cluster(e->d);
	char err[GR_NOTE_ERRLEN];
	unsigned int i;
	X509 *x;

	for (i = 0; i < c->nsites; i++) {
		if (!e->ids[i] || i == gd_self(e->d))
			continue;
		x = c->sites[i].cert ? gr_cert_read(c->sites[i].cert, err, sizeof(err)) : NULL;
		if (!x || add_keys(e, i, X509_get0_pubkey(x), err))
			gd_warn("volume %s: checkpoints: no public key of site %s (%s): its "
				"cosignatures cannot be counted", e->name, c->sites[i].name,
				c->sites[i].cert ? err : "no \"cert\"");
		X509_free(x);
	}
}

static void load_final(struct engine *e)
{
	struct eng_ckpt *ck = e->ck;
	char err[GD_FINAL_ERRLEN];
	gr_mhash root;
	int ret;

	ret = gd_final_load(gd_statedir_path(e->d->sd), e->name, ck->origin, ck->keys,
			    ck->nkeys, majority(e), ck->final, &ck->final_len, &ck->final_seq,
			    root, err);
	if (ret == -ENOENT) {
		ck->final_seq = 0;
		return;
	}
	memcpy(ck->final_root, root, sizeof(root));	/* check_final() compares */
	if (ret == -ENOKEY) {
		/* it was checked when it was kept: its size stands until a newer one */
		gd_warn("volume %s: final checkpoint at %llu kept as it is: %s", e->name,
			(unsigned long long)ck->final_seq, err);
		return;
	}
	if (ret) {
		/* never start again from 0: final_seq must not go backwards */
		ck->final_bad = true;
		snprintf(ck->why, sizeof(ck->why), "the final checkpoint is refused: %.200s", err);
		gd_err("volume %s: checkpoints off: %s", e->name, ck->why);
		return;
	}
	gd_info("volume %s: final checkpoint at %llu", e->name,
		(unsigned long long)ck->final_seq);
}

/* this site's identity key and every site's public key; false: none */
static bool load_keys(struct engine *e)
{
	const struct gr_site_cfg *me = &gd_cluster(e->d)->sites[gd_self(e->d)];
	struct eng_ckpt *ck = e->ck;
	char err[GR_NOTE_ERRLEN];

	EVP_PKEY_free(ck->key);
	ck->key = NULL;
	ck->nkeys = 0;
	if (!me->key) {
		snprintf(ck->why, sizeof(ck->why),
			 "this site has no identity key (\"key\" of the site, with \"tls\")");
		gd_info("volume %s: checkpoints off: %s", e->name, ck->why);
		return false;
	}
	ck->key = gr_site_key_load(me->key, err, sizeof(err));
	if (!ck->key || add_keys(e, gd_self(e->d), ck->key, err)) {
		snprintf(ck->why, sizeof(ck->why), "identity key: %.200s", err);
		gd_err("volume %s: checkpoints off: %s", e->name, ck->why);
		EVP_PKEY_free(ck->key);
		ck->key = NULL;
		return false;
	}
	load_peer_keys(e);
	return true;
}

int eng_ckpt_open(struct engine *e)
{
	const struct gr_cluster *c = gd_cluster(e->d);
	struct eng_ckpt *ck;

	ck = calloc(1, sizeof(*ck));
	if (!ck)
		return -ENOMEM;
	e->ck = ck;
	/* the first one is due after "ms" too, not at once (the clock is not 0) */
	ck->last_ns = gr_now_ns();
	snprintf(ck->name, sizeof(ck->name), "georep/%s/%s", c->cluster,
		 c->sites[gd_self(e->d)].name);
	snprintf(ck->origin, sizeof(ck->origin), "georep/%s/%s", c->cluster, e->name);
	if (load_keys(e))
		load_final(e);
	return 0;
}

/*
 * SIGHUP (a certificate or key rollover): read the keys again; a
 * checkpoint in flight under the old key is dropped, the next one is
 * signed with the new key.
 */
void gd_engine_ckpt_reload(struct georepd *d)
{
	struct engine *e;
	size_t i;

	for (i = 0; i < d->nvols; i++) {
		if (!d->vols[i].replica || d->vols[i].replica->ops != &engine_ops)
			continue;
		e = (struct engine *)d->vols[i].replica;
		if (!e->ck)
			continue;
		e->ck->active = false;
		if (!e->ck->final_bad)
			e->ck->why[0] = 0;
		if (load_keys(e) && !e->ck->final_bad && !e->ck->final_seq)
			load_final(e);
		gd_info("volume %s: checkpoint keys reloaded (%u verifier keys)", e->name,
			e->ck->nkeys);
	}
}

void eng_ckpt_close(struct engine *e)
{
	if (!e->ck)
		return;
	EVP_PKEY_free(e->ck->key);
	free(e->ck);
	e->ck = NULL;
}

static bool ck_on(const struct engine *e)
{
	return e->ck && e->ck->key && !e->ck->why[0];
}

/* the site a key of @name belongs to, -1: none */
static int key_site(const struct eng_ckpt *ck, const char *name)
{
	unsigned int i;

	for (i = 0; i < ck->nkeys; i++)
		if (!strcmp(ck->keys[i].name, name))
			return ck->key_site[i];
	return -1;
}

/* ------------------------------------------------------------------ */
/* Leader                                                              */
/* ------------------------------------------------------------------ */

static void send_ckpt(struct engine *e, unsigned int site, int type, const char *note,
		      size_t len, uint64_t size)
{
	struct gr_frame f = { .hdr.type = type };

	f.ckpt.term = e->term;
	f.ckpt.size = size;
	f.ckpt.note = note;
	f.ckpt.note_len = len;
	eng_send_frame(e, site, &f);
}

static unsigned int vouches(const struct engine *e)
{
	const struct gr_cluster *c = gd_cluster(e->d);
	unsigned int i, n = 0;

	for (i = 0; i < c->nsites; i++)
		n += e->ck->vouched[i] && is_voter(e, i);
	return n;
}

static void make_final(struct engine *e, uint64_t now)
{
	const struct gr_cluster *c = gd_cluster(e->d);
	struct eng_ckpt *ck = e->ck;
	char err[GD_FINAL_ERRLEN];
	unsigned int i;
	int ret;

	ck->active = false;
	ret = gd_final_save(gd_statedir_path(e->d->sd), e->name, ck->note, ck->note_len, err);
	if (ret) {
		gd_err("volume %s: checkpoint %llu is final but cannot be kept: %s", e->name,
		       (unsigned long long)ck->size, err);
		return;
	}
	memcpy(ck->final, ck->note, ck->note_len + 1);
	ck->final_len = ck->note_len;
	ck->final_seq = ck->size;
	memcpy(ck->final_root, ck->root, sizeof(ck->root));
	ck->final_checked = ck->size;	/* the root is this tree's */
	ck->finals++;
	gd_dbg("volume %s: checkpoint %llu final (%u sites, %.1f ms)", e->name,
	       (unsigned long long)ck->size, vouches(e), (now - ck->started_ns) / 1e6);
	for (i = 0; i < c->nsites; i++)
		if (e->ids[i] && i != gd_self(e->d))
			send_ckpt(e, i, GR_FT_CKPT_FINAL, ck->final, ck->final_len,
				  ck->final_seq);
}

/* a site (re)connected: the leader gives it the last final checkpoint */
void eng_ckpt_peer_up(struct engine *e, unsigned int site)
{
	if (ck_on(e) && e->role == GR_LEADER && e->ck->final_seq && e->ids[site])
		send_ckpt(e, site, GR_FT_CKPT_FINAL, e->ck->final, e->ck->final_len,
			  e->ck->final_seq);
}

static void send_pending(struct engine *e, uint64_t now)
{
	const struct gr_cluster *c = gd_cluster(e->d);
	unsigned int i;

	for (i = 0; i < c->nsites; i++)
		if (e->ids[i] && i != gd_self(e->d) && !e->ck->vouched[i])
			send_ckpt(e, i, GR_FT_CKPT, e->ck->note, e->ck->note_len,
				  e->ck->size);
	e->ck->sent_ns = now;
}

/* sign the checkpoint of @size and ask every site to cosign it */
static void start(struct engine *e, uint64_t size, uint64_t now)
{
	struct eng_ckpt *ck = e->ck;
	const char *damage = eng_scrub_damage(e, size);
	char err[GR_NOTE_ERRLEN];
	size_t len = 0;

	if (damage) {
		/* the leader vouches for its own log too: never over damage */
		if (gd_ratelimit(&e->rl))
			gd_warn("volume %s: not signing checkpoint %llu: %s", e->name,
				(unsigned long long)size, damage);
		return;
	}
	if (gr_merkle_root_at(gd_mtree_tree(e->mt), size, ck->root) ||
	    gr_checkpoint_format(ck->origin, size, ck->root, ck->text, sizeof(ck->text)))
		return;
	ck->text_len = strlen(ck->text);
	if (gr_note_sign(ck->text, ck->key, ck->name, ck->note, sizeof(ck->note), &len, err)) {
		if (gd_ratelimit(&e->rl))
			gd_warn("volume %s: signing checkpoint %llu: %s", e->name,
				(unsigned long long)size, err);
		return;
	}
	ck->note_len = len;
	ck->active = true;
	ck->term = e->term;
	ck->size = size;
	ck->started_ns = now;
	ck->last_size = size;
	ck->last_ns = now;
	ck->signed_n++;
	memset(ck->vouched, 0, sizeof(ck->vouched));
	memset(ck->logged, 0, sizeof(ck->logged));
	ck->vouched[gd_self(e->d)] = true;
	if (vouches(e) >= majority(e)) {
		make_final(e, now);
		return;
	}
	send_pending(e, now);
}

/*
 * The last final checkpoint (loaded at start, or sent by the leader) must
 * be this site's tree at that size: a majority signed it, so a tree that
 * differs is this site's own damage (or another chain), and the site
 * vouches for nothing until it is repaired.
 */
static void check_final(struct engine *e)
{
	struct eng_ckpt *ck = e->ck;
	char a[64], b[64];
	gr_mhash mine;

	if (!ck_on(e) || !e->mt || ck->final_checked >= ck->final_seq ||
	    gd_mtree_size(e->mt) < ck->final_seq ||
	    gr_merkle_root_at(gd_mtree_tree(e->mt), ck->final_seq, mine))
		return;
	if (!memcmp(mine, ck->final_root, sizeof(mine))) {
		ck->final_checked = ck->final_seq;
		return;
	}
	gr_b64_encode(mine, sizeof(mine), a, sizeof(a));
	gr_b64_encode(ck->final_root, sizeof(ck->final_root), b, sizeof(b));
	ck->final_bad = true;
	snprintf(ck->why, sizeof(ck->why), "this site's tree of %llu records has root %s, its "
		 "final checkpoint %s: the tree or ledger is not what a majority signed",
		 (unsigned long long)ck->final_seq, a, b);
	gd_err("volume %s: checkpoints off: %s (remove %s.mtree and %s.mleaf to rebuild the "
	       "tree from the ledger)", e->name, ck->why, e->name, e->name);
}

void eng_ckpt_tick(struct engine *e, uint64_t now)
{
	struct eng_ckpt *ck = e->ck;
	struct gr_status gs;
	uint64_t size, ms, base;

	check_final(e);
	/* leaves fetched from other sites are tied to our ledger once all came */
	if (!ck_on(e) || !e->mt || e->role != GR_LEADER || e->mf.active) {
		if (ck)
			ck->active = false;
		return;
	}
	if (ck->active && ck->term != e->term)
		ck->active = false;
	gr_status(e->n, &gs);
	size = gd_mtree_size(e->mt) < gs.commit_seq ? gd_mtree_size(e->mt) : gs.commit_seq;
	ms = (now - ck->last_ns) / 1000000ULL;
	if (ck->active) {
		if (ms >= CK_STALE_MS && size > ck->size)
			ck->active = false;	/* a new one, over more records */
		else if (now - ck->sent_ns >= CK_RESEND_NS)
			send_pending(e, now);
		if (ck->active)
			return;
	}
	if (size <= ck->final_seq)
		return;
	base = ck->last_size < size ? ck->last_size : size;
	if (base < ck->final_seq)
		base = ck->final_seq;
	if (size - base >= e->vol->cfg->ckpt_records || ms >= e->vol->cfg->ckpt_ms)
		start(e, size, now);
}

static void on_resp(struct engine *e, unsigned int from, const struct gr_ckpt_resp *r)
{
	struct eng_ckpt *ck = e->ck;
	const char *site = gd_cluster(e->d)->sites[from].name;
	char tmp[GD_FINAL_MAX + GR_CKPT_SIGLINE_MAX + 2], err[GR_NOTE_ERRLEN];
	struct gr_note_result res;
	unsigned int i, nk = 0;
	struct gr_note_key k[2];

	/* a refusal may come after the others made the checkpoint final */
	if (r->term != ck->term || r->size != ck->size || ck->vouched[from])
		return;
	if (r->status != GR_CKPT_COSIGNED) {
		if (r->status == GR_CKPT_SIZE_UNKNOWN || ck->logged[from])
			return;		/* it gets there: the CKPT is sent again */
		ck->logged[from] = true;
		ck->refusals++;
		snprintf(ck->last_refusal, sizeof(ck->last_refusal), "%s: %.*s", site,
			 (int)r->len, r->text);
		gd_warn("volume %s: site %s refuses to cosign checkpoint %llu (%s): %.*s", e->name,
			site, (unsigned long long)r->size, gr_ckpt_status_name(r->status),
			(int)r->len, r->text);
		return;
	}
	if (!ck->active)
		return;		/* final already */
	for (i = 0; i < ck->nkeys; i++)
		if (ck->key_site[i] == from && ck->keys[i].type == GR_NOTE_TYPE_COSIG)
			k[nk++] = ck->keys[i];
	memcpy(tmp, ck->note, ck->text_len);
	tmp[ck->text_len] = '\n';
	memcpy(tmp + ck->text_len + 1, r->text, r->len);
	if (!nk || gr_note_verify(tmp, ck->text_len + 1 + r->len, k, nk, &res, err) ||
	    !res.cosigned) {
		if (!ck->logged[from])
			gd_warn("volume %s: the cosignature of checkpoint %llu by site %s does not "
				"verify: %s", e->name, (unsigned long long)r->size, site,
				nk ? err : "no public key of that site");
		ck->logged[from] = true;
		return;
	}
	if (ck->note_len + r->len > GD_FINAL_MAX)
		return;
	memcpy(ck->note + ck->note_len, r->text, r->len);
	ck->note_len += r->len;
	ck->note[ck->note_len] = 0;
	ck->vouched[from] = true;
	if (vouches(e) >= majority(e))
		make_final(e, gr_now_ns());
}

/* ------------------------------------------------------------------ */
/* Follower                                                            */
/* ------------------------------------------------------------------ */

static void reply(struct engine *e, unsigned int to, const struct gr_ckpt *c,
		  uint32_t status, const char *text, size_t len)
{
	struct gr_frame f = { .hdr.type = GR_FT_CKPT_RESP };

	f.ckpt_resp.term = c->term;
	f.ckpt_resp.size = c->size;
	f.ckpt_resp.status = status;
	f.ckpt_resp.text = text;
	f.ckpt_resp.len = len > GR_WIRE_MAX_REASON && status ? GR_WIRE_MAX_REASON : len;
	eng_send_frame(e, to, &f);
}

static uint32_t refuse(char *why, size_t cap, uint32_t status, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static uint32_t refuse(char *why, size_t cap, uint32_t status, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, cap, fmt, ap);
	va_end(ap);
	return status;
}

/* GR_CKPT_COSIGNED, or why this site does not cosign @c from @from in @why */
static uint32_t check(struct engine *e, unsigned int from, const struct gr_ckpt *c,
		      char *why, size_t cap)
{
	struct eng_ckpt *ck = e->ck;
	char origin[GR_NOTE_NAME_MAX], err[GR_NOTE_ERRLEN], a[64], b[64];
	struct gr_note_result res;
	gr_mhash root, mine;
	uint64_t size;

	if (!ck_on(e) || !e->mt)
		return refuse(why, cap, GR_CKPT_REFUSED, "this site makes no checkpoints: %s",
			      !ck_on(e) ? (ck ? ck->why : "-") : e->mt_why);
	if (gr_checkpoint_parse(c->note, c->text_len, origin, sizeof(origin), &size, root, err) ||
	    strcmp(origin, ck->origin))
		return refuse(why, cap, GR_CKPT_REFUSED, "origin %s is not this volume's (%s)",
			      origin, ck->origin);
	if (gr_note_verify(c->note, c->note_len, ck->keys, ck->nkeys, &res, err) ||
	    key_site(ck, res.signer) != (int)from)
		return refuse(why, cap, GR_CKPT_REFUSED, "not signed by the sending site: %s",
			      res.verified ? res.signer : err);
	eng_mtree_follow(e);
	if (e->mt && gd_mtree_size(e->mt) < c->size)
		return refuse(why, cap, GR_CKPT_SIZE_UNKNOWN,
			      "this site's tree holds %llu records, fewer than %llu",
			      (unsigned long long)gd_mtree_size(e->mt),
			      (unsigned long long)c->size);
	if (eng_scrub_damage(e, c->size))
		return refuse(why, cap, GR_CKPT_REFUSED, "%s", eng_scrub_damage(e, c->size));
	if (!e->mt || gr_merkle_root_at(gd_mtree_tree(e->mt), c->size, mine))
		return refuse(why, cap, GR_CKPT_REFUSED, "this site's tree has no root at %llu",
			      (unsigned long long)c->size);
	if (memcmp(mine, root, sizeof(mine))) {
		gr_b64_encode(mine, sizeof(mine), a, sizeof(a));
		gr_b64_encode(root, sizeof(root), b, sizeof(b));
		return refuse(why, cap, GR_CKPT_ROOT_DIFFERS, "root differs: this site's tree of "
			      "%llu records has root %s, the checkpoint %s",
			      (unsigned long long)c->size, a, b);
	}
	return GR_CKPT_COSIGNED;
}

static void on_ckpt(struct engine *e, unsigned int from, const struct gr_ckpt *c)
{
	struct eng_ckpt *ck = e->ck;
	char out[GD_FINAL_MAX + GR_CKPT_SIGLINE_MAX], err[GR_NOTE_ERRLEN];
	char text[GD_FINAL_MAX + 1];
	size_t len = 0;
	uint32_t st;

	st = check(e, from, c, out, GR_WIRE_MAX_REASON + 1);
	if (st != GR_CKPT_COSIGNED) {
		if (st != GR_CKPT_SIZE_UNKNOWN &&
		    (c->term != ck->refused_term || c->size != ck->refused_size)) {
			ck->refused_term = c->term;
			ck->refused_size = c->size;
			gd_warn("volume %s: not cosigning checkpoint %llu of site %s: %s",
				e->name, (unsigned long long)c->size,
				gd_cluster(e->d)->sites[from].name, out);
		}
		reply(e, from, c, st, out, strlen(out));
		return;
	}
	/* the cosignature line goes after text "\n" */
	memcpy(text, c->note, c->text_len);
	text[c->text_len] = 0;
	memcpy(out, c->note, c->text_len);
	out[c->text_len] = '\n';
	len = c->text_len + 1;
	if (gr_note_cosign(text, ck->key, ck->name, (uint64_t)time(NULL), out, sizeof(out),
			   &len, err)) {
		snprintf(out, GR_WIRE_MAX_REASON, "cosigning: %.200s", err);
		reply(e, from, c, GR_CKPT_REFUSED, out, strlen(out));
		return;
	}
	ck->cosigned++;
	reply(e, from, c, GR_CKPT_COSIGNED, out + c->text_len + 1, len - c->text_len - 1);
}

static void on_final(struct engine *e, unsigned int from, const struct gr_ckpt *c)
{
	struct eng_ckpt *ck = e->ck;
	char err[GD_FINAL_ERRLEN];
	gr_mhash root;
	uint64_t size;
	int ret;

	if (!ck_on(e) || c->size <= ck->final_seq)
		return;
	ret = gd_final_check(c->note, c->note_len, ck->origin, ck->keys, ck->nkeys,
			     majority(e), &size, root, err);
	if (!ret)
		ret = gd_final_save(gd_statedir_path(e->d->sd), e->name, c->note, c->note_len,
				    err);
	if (ret) {
		if (gd_ratelimit(&e->rl))
			gd_warn("volume %s: final checkpoint %llu from site %s not kept: %s",
				e->name, (unsigned long long)c->size,
				gd_cluster(e->d)->sites[from].name, err);
		return;
	}
	memcpy(ck->final, c->note, c->note_len);
	ck->final[c->note_len] = 0;
	ck->final_len = c->note_len;
	ck->final_seq = size;
	memcpy(ck->final_root, root, sizeof(root));
}

int eng_ckpt_frame(struct engine *e, unsigned int from, const struct gr_frame *f)
{
	if (!e->ck)
		return 0;
	switch (f->hdr.type) {
	case GR_FT_CKPT:
		on_ckpt(e, from, &f->ckpt);
		break;
	case GR_FT_CKPT_RESP:
		if (ck_on(e))
			on_resp(e, from, &f->ckpt_resp);
		break;
	case GR_FT_CKPT_FINAL:
		on_final(e, from, &f->ckpt);
		break;
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* Status, proofs                                                     */
/* ------------------------------------------------------------------ */

uint64_t eng_ckpt_final_seq(const struct engine *e)
{
	return e->ck ? e->ck->final_seq : 0;
}

/*
 * The highest seq the log may release: what the final checkpoint covers,
 * when this site takes part in checkpoints (Documentation/proofs.rst,
 * "Retention").
 */
uint64_t eng_ckpt_release_cap(const struct engine *e, uint64_t seq)
{
	if (!ck_on(e) || seq <= e->ck->final_seq)
		return seq;
	return e->ck->final_seq;
}

/*
 * A deposed primary's fork file (@fork, records up to @size) gets this
 * site's signed checkpoint of its tree at @size, taken before the
 * truncation, in "<fork>.checkpoint": signed evidence of the history it
 * held (Documentation/proofs.rst, "Comparing sites").
 */
void eng_ckpt_sign_fork(struct engine *e, uint64_t size, const char *fork)
{
	char text[512], note[GD_FINAL_MAX], path[4200], err[GR_NOTE_ERRLEN] = "";
	struct eng_ckpt *ck = e->ck;
	gr_mhash root;
	size_t len = 0;
	FILE *f;

	if (!ck || !ck->key || !e->mt)
		return;
	eng_mtree_follow(e);
	if (!e->mt || gd_mtree_size(e->mt) < size)
		snprintf(err, sizeof(err), "the tree does not hold the forked records");
	else if (gr_merkle_root_at(gd_mtree_tree(e->mt), size, root) ||
		 gr_checkpoint_format(ck->origin, size, root, text, sizeof(text)))
		snprintf(err, sizeof(err), "no root at size %llu", (unsigned long long)size);
	else if (!gr_note_sign(text, ck->key, ck->name, note, sizeof(note), &len, err)) {
		snprintf(path, sizeof(path), "%s.checkpoint", fork);
		f = fopen(path, "wx");
		if (!f || fwrite(note, 1, len, f) != len || fflush(f) || fsync(fileno(f)))
			snprintf(err, sizeof(err), "writing <fork>.checkpoint: %s", strerror(errno));
		if (f && fclose(f) && !err[0])
			snprintf(err, sizeof(err), "writing <fork>.checkpoint: %s", strerror(errno));
		if (f && err[0])
			unlink(path);
		eng_fork_notes_stale(e);	/* NOTE_REQs see it at once */
	}
	if (err[0])
		gd_warn("volume %s: no signed checkpoint of the fork file %s: %s", e->name, fork,
			err);
	else
		gd_info("volume %s: fork file %s: checkpoint of size %llu signed", e->name, fork,
			(unsigned long long)size);
}

/* the final checkpoint's note (NUL terminated), NULL: none */
const char *eng_ckpt_final(const struct engine *e, uint64_t *size)
{
	if (!e->ck || !e->ck->final_seq)
		return NULL;
	*size = e->ck->final_seq;
	return e->ck->final;
}

json_t *eng_ckpt_status(const struct engine *e, uint64_t commit)
{
	const struct eng_ckpt *ck = e->ck;
	json_t *o;

	if (!ck)
		return NULL;
	o = json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:I}", "state", ck_on(e) ? "ok" : "off",
		      "final_seq", (json_int_t)ck->final_seq,
		      "behind_commit", (json_int_t)(commit > ck->final_seq ?
						    commit - ck->final_seq : 0),
		      "signed", (json_int_t)ck->signed_n, "final", (json_int_t)ck->finals,
		      "cosigned", (json_int_t)ck->cosigned, "refusals", (json_int_t)ck->refusals);
	if (!o)
		return NULL;
	if (!ck_on(e))
		json_object_set_new(o, "why", json_string(ck->why));
	if (ck->active)
		json_object_set_new(o, "pending",
				    json_pack("{s:I, s:i, s:i}", "size", (json_int_t)ck->size,
					      "vouched", (int)vouches(e),
					      "needed", (int)majority(e)));
	if (ck->last_refusal[0])
		json_object_set_new(o, "last_refusal", json_string(ck->last_refusal));
	return o;
}

