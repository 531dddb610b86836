// SPDX-License-Identifier: GPL-2.0
/*
 * Other sites' Merkle tree roots, asked over the replication links
 * (ROOT_REQ/ROOT, Documentation/wire-protocol.rst), so that `georepctl
 * verify --via` on one host compares every site without reaching their
 * control sockets (Documentation/proofs.rst, "Comparing sites"):
 *
 *   {"cmd": "remote-root", "volume": V, "site": S, "size": N, "nonce": X}
 *	{"pending": true} until site S answered the request X (sent on the
 *	first call, sent again after ROOT_RESEND_NS), then {"site", "size",
 *	"tree", "status", "root"}: S's committed tree size and, when N is
 *	within it, its root at N (size 0: the tree size only).
 *
 * Any site answers ROOT_REQ, whatever its role, from its committed tree.
 * The request slots (a nonce each, answered or not) also carry
 * "remote-note" (engine_note.c).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "engine_internal.h"

#define ROOT_RESEND_NS	(2000ULL * 1000000ULL)

/* any site: the root asked for, from the committed part of this tree */
static void root_answer(struct engine *e, unsigned int from, const struct gr_root_req *q)
{
	struct gr_frame f = { .hdr.type = GR_FT_ROOT, .hdr.version = GR_WIRE_VERSION_ROOT };
	struct gr_status gs;
	uint64_t tree;

	f.hdr.volume = e->vol->cfg->wire_id;
	f.root.nonce = q->nonce;
	f.root.size = q->size;
	f.root.status = GR_ROOT_NO_TREE;
	if (e->mt) {
		gr_status(e->n, &gs);
		tree = gd_mtree_size(e->mt);
		f.root.tree = tree < gs.commit_seq ? tree : gs.commit_seq;
		f.root.status = GR_ROOT_BEYOND;
		if (q->size && q->size <= f.root.tree &&
		    !gr_merkle_root_at(gd_mtree_tree(e->mt), q->size, f.root.root))
			f.root.status = GR_ROOT_OK;
		else if (q->size && q->size <= f.root.tree && gd_ratelimit(&e->rl))
			gd_warn("volume %s: no Merkle root at size %llu of a tree of %llu",
				e->name, (unsigned long long)q->size,
				(unsigned long long)f.root.tree);
		if (f.root.status != GR_ROOT_OK)
			memset(f.root.root, 0, sizeof(f.root.root));
	}
	eng_send_frame(e, from, &f);
}

static struct eng_root_slot *slot_find(struct engine *e, unsigned int site, uint64_t nonce)
{
	unsigned int i;

	for (i = 0; i < ENG_ROOT_SLOTS; i++)
		if (e->roots[i].nonce == nonce && e->roots[i].site == site)
			return &e->roots[i];
	return NULL;
}

/*
 * A free slot, else the one that moved longest ago (asked, or answered and
 * not read since) if that was more than SLOT_IDLE_NS ago: its asker gave
 * up (georepctl waits 10 s). NULL: every slot is in use. Taking a slot in
 * use would throw away answers before their askers read them: with more
 * askers than slots, polling in turn, none would ever be answered.
 */
#define SLOT_IDLE_NS	(15000ULL * 1000000ULL)
static struct eng_root_slot *slot_new(struct engine *e)
{
	struct eng_root_slot *old = &e->roots[0];
	unsigned int i;

	for (i = 0; i < ENG_ROOT_SLOTS; i++) {
		if (!e->roots[i].nonce)
			return &e->roots[i];
		if (e->roots[i].asked_ns < old->asked_ns)
			old = &e->roots[i];
	}
	return gr_now_ns() - old->asked_ns > SLOT_IDLE_NS ? old : NULL;
}

static void slot_clear(struct eng_root_slot *s)
{
	json_decref(s->note);
	memset(s, 0, sizeof(*s));
}

void eng_remote_free(struct engine *e)
{
	unsigned int i;

	for (i = 0; i < ENG_ROOT_SLOTS; i++)
		slot_clear(&e->roots[i]);
}

/* the slot waiting for this answer (@type: the request's), or NULL */
struct eng_root_slot *eng_remote_waiting(struct engine *e, unsigned int from, uint64_t nonce,
					 uint16_t type, uint64_t key)
{
	struct eng_root_slot *s = slot_find(e, from, nonce);

	return s && !s->answered && s->type == type && s->key == key ? s : NULL;
}

int eng_root_frame(struct engine *e, unsigned int from, const struct gr_frame *f)
{
	struct eng_root_slot *s;

	if (f->hdr.type == GR_FT_ROOT_REQ) {
		root_answer(e, from, &f->root_req);
		return 0;
	}
	s = eng_remote_waiting(e, from, f->root.nonce, GR_FT_ROOT_REQ, f->root.size);
	if (s) {
		s->r = f->root;
		eng_remote_answered(s);
	}
	return 0;	/* an answer nobody waits for any more: dropped */
}

static const char *root_status_name(uint32_t status)
{
	return status == GR_ROOT_OK ? "ok" : status == GR_ROOT_BEYOND ? "beyond" : "no-tree";
}

/* send the request of slot @s (ROOT_REQ or NOTE_REQ) again */
static void remote_ask(struct engine *e, struct eng_root_slot *s)
{
	struct gr_frame f = { .hdr.type = s->type };

	f.hdr.volume = e->vol->cfg->wire_id;
	if (s->type == GR_FT_ROOT_REQ) {
		f.hdr.version = GR_WIRE_VERSION_ROOT;
		f.root_req.nonce = s->nonce;
		f.root_req.size = s->key;
	} else {
		f.hdr.version = GR_WIRE_VERSION_NOTE;
		f.note_req.nonce = s->nonce;
		f.note_req.kind = s->key >> 32;
		f.note_req.index = (uint32_t)s->key;
	}
	s->asked_ns = gr_now_ns();
	eng_send_frame(e, s->site, &f);
}

int eng_remote_site(struct engine *e, const char *name, unsigned int version, const char *what,
		    char *err)
{
	int site = gr_cluster_site_index(gd_cluster(e->d), name);

	if (site < 0 || !gr_volume_replica(e->vol->cfg, site) || site == (int)gd_self(e->d)) {
		snprintf(err, GR_CTL_ERRLEN, "site \"%.64s\" is %s of volume %s", name,
			 site == (int)gd_self(e->d) ? "this site: ask it directly" :
			 "not a replica site", e->name);
		return -EINVAL;
	}
	if (!gd_peer_up(e->d, site)) {
		snprintf(err, GR_CTL_ERRLEN, "site %s is not connected to this site", name);
		return -ENOTCONN;
	}
	if (gd_peer_version(e->d, site) < version) {
		snprintf(err, GR_CTL_ERRLEN, "site %s speaks protocol version %u; %s are asked "
			 "from version %u on", name, gd_peer_version(e->d, site), what, version);
		return -EPROTONOSUPPORT;
	}
	return site;
}

int eng_remote_poll(struct engine *e, unsigned int site, uint64_t nonce, uint16_t type,
		    uint64_t key, struct eng_root_slot **done, json_t **resp, char *err)
{
	struct eng_root_slot *s = slot_find(e, site, nonce);

	*done = NULL;
	if (s && (s->type != type || s->key != key)) {
		snprintf(err, GR_CTL_ERRLEN, "nonce %llu was asked for something else: a new "
			 "request needs a new nonce", (unsigned long long)nonce);
		return -EINVAL;
	}
	if (s && s->answered) {
		*done = s;
		return 0;
	}
	if (!s) {
		s = slot_new(e);
		if (!s) {
			snprintf(err, GR_CTL_ERRLEN, "%u requests to other sites are in flight "
				 "for volume %s: try again shortly", ENG_ROOT_SLOTS, e->name);
			return -EBUSY;
		}
		slot_clear(s);
		s->site = site;
		s->nonce = nonce;
		s->type = type;
		s->key = key;
		remote_ask(e, s);
	} else if (gr_now_ns() - s->asked_ns > ROOT_RESEND_NS) {
		remote_ask(e, s);
	}
	*resp = json_pack("{s:b}", "pending", 1);
	return *resp ? 0 : -ENOMEM;
}

void eng_remote_answered(struct eng_root_slot *s)
{
	s->answered = true;
	s->asked_ns = gr_now_ns();
}

void eng_remote_done(struct eng_root_slot *s)
{
	slot_clear(s);
}

static int h_remote_root(struct gr_ctl_client *cl, json_t *req, json_t **resp, char *err,
			 void *arg)
{
	struct engine *e = eng_lookup(arg, req, err);
	json_int_t size = 0, nonce = 0;
	struct eng_root_slot *s;
	const char *name = NULL;
	int site, ret;

	if (!e)
		return -EINVAL;
	if (json_unpack(req, "{s:s, s?I, s:I}", "site", &name, "size", &size, "nonce", &nonce) ||
	    size < 0 || !nonce) {
		snprintf(err, GR_CTL_ERRLEN, "remote-root: needs site, nonce (not 0), size >= 0");
		return -EINVAL;
	}
	site = eng_remote_site(e, name, GR_WIRE_VERSION_ROOT, "tree roots", err);
	if (site < 0)
		return site;
	ret = eng_remote_poll(e, site, (uint64_t)nonce, GR_FT_ROOT_REQ, (uint64_t)size, &s,
			      resp, err);
	if (ret || !s)
		return ret;
	*resp = json_pack("{s:s, s:I, s:I, s:s}", "site", name, "size", (json_int_t)s->r.size,
			  "tree", (json_int_t)s->r.tree, "status", root_status_name(s->r.status));
	if (*resp && s->r.status == GR_ROOT_OK)
		json_object_set_new(*resp, "root", eng_mtree_b64(s->r.root, sizeof(s->r.root)));
	eng_remote_done(s);
	return *resp ? 0 : -ENOMEM;
}

void eng_root_register(struct georepd *d)
{
	if (gr_ctl_register(d->ctl, "remote-root", h_remote_root, d) ||
	    gr_ctl_register(d->ctl, "remote-note", eng_note_remote, d))
		gd_warn("cannot register the remote-root and remote-note control requests");
}
