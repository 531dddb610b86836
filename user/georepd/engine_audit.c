// SPDX-License-Identifier: GPL-2.0
/*
 * Provenance audit and the final checkpoint over the control socket
 * (Documentation/proofs.rst, "Comparing sites" and "Provenance audit"):
 *
 *   {"cmd": "audit", "volume": V, "lba_first": A, "lba_last": B,
 *    "since_ns": T, "limit": N}
 *	every record of the Merkle tree's leaves that wrote a sector of
 *	A..B (inclusive, 512-byte sectors) at or after T (ns since the
 *	epoch), with its inclusion proof against the final checkpoint when
 *	the checkpoint covers it. The leaves (<volume>.mleaf) keep every
 *	record the tree ever held, so records released from the log are
 *	listed too.
 *   {"cmd": "final-checkpoint", "volume": V}
 *	the stored final checkpoint's note as it is, even when this site's
 *	tree does not match it (fork evidence for georepctl verify).
 *   {"cmd": "fork-checkpoints", "volume": V}
 *	{"forks": [{"path", "checkpoint"}]}: the signed checkpoint this site
 *	wrote for each fork file of the volume in its state directory
 *	("<fork>.checkpoint", eng_ckpt_sign_fork()), as it is, in the order
 *	of the paths (eng_fork_notes(), engine_note.c; an unreadable one
 *	without "checkpoint"): georepctl verify compares each with the
 *	volume's history at that size.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "final.h"

#include "engine_internal.h"

/* records per reply: under 2.5 MiB with 40-hash proofs, below GR_CTL_MAX_QUEUE */
#define AUDIT_LIMIT_MAX		1024
#define AUDIT_BATCH		512	/* leaves per read of the tree */

struct audit_req {
	uint64_t first, last, since_ns, limit;
};

static bool audit_match(const struct audit_req *q, const struct georep_rec *r)
{
	uint64_t end;

	if (r->timestamp_ns < q->since_ns || !r->len)
		return false;
	if (r->op != GEOREP_OP_WRITE && r->op != GEOREP_OP_DISCARD &&
	    r->op != GEOREP_OP_WRITE_ZEROES)
		return false;
	end = r->lba + (r->len + 511) / 512 - 1;	/* last sector written */
	return r->lba <= q->last && end >= q->first;
}

static const char *site_name(struct engine *e, uint32_t id)
{
	const struct gr_cluster *c = gd_cluster(e->d);
	size_t i;

	for (i = 0; i < c->nsites; i++)
		if (c->sites[i].site_id == id)
			return c->sites[i].name;
	return NULL;
}

/* one listed record: the leaf's fields, and the proof when @fin covers it */
static json_t *audit_entry(struct engine *e, const struct georep_rec *r,
			   const uint8_t *leaf, uint64_t fin, char *err)
{
	gr_mhash proof[GR_MERKLE_MAX_PROOF];
	const char *site = site_name(e, r->site_id);
	unsigned int n;
	json_t *o;

	o = json_pack("{s:I, s:s, s:I, s:I, s:I, s:s?, s:I, s:I, s:b, s:o}",
		      "seq", (json_int_t)r->seq, "op", georep_op_name(r->op),
		      "lba", (json_int_t)r->lba, "len", (json_int_t)r->len,
		      "site_id", (json_int_t)r->site_id, "site", site,
		      "term", (json_int_t)r->term, "timestamp_ns", (json_int_t)r->timestamp_ns,
		      "final", r->seq <= fin, "leaf", eng_mtree_b64(leaf, GEOREP_LEAF_LEN));
	if (!o || r->seq > fin)
		return o;
	if (gr_merkle_inclusion(gd_mtree_tree(e->mt), r->seq - 1, fin, proof, &n)) {
		snprintf(err, GR_CTL_ERRLEN, "inclusion proof of record %llu failed",
			 (unsigned long long)r->seq);
		json_decref(o);
		return NULL;
	}
	json_object_set_new(o, "proof", eng_mtree_proof_json(proof, n));
	return o;
}

/* one leaf of the scan: listed when it matches, until the limit */
static int audit_leaf(struct engine *e, const struct audit_req *q, uint64_t fin,
		      const uint8_t *leaf, uint64_t seq, json_t *recs, bool *truncated,
		      char *err)
{
	struct georep_rec r;
	json_t *o;
	int ret;

	ret = georep_leaf_decode(leaf, GEOREP_LEAF_LEN, &r, err, GR_CTL_ERRLEN);
	if (ret) {
		snprintf(err, GR_CTL_ERRLEN, "leaf %llu of the tree: %s",
			 (unsigned long long)seq, strerror(-ret));
		return ret;
	}
	if (!audit_match(q, &r))
		return 0;
	if (json_array_size(recs) == q->limit) {
		*truncated = true;
		return 0;
	}
	o = audit_entry(e, &r, leaf, fin, err);
	if (!o)
		return -ENOMEM;
	json_array_append_new(recs, o);
	return 0;
}

/* the tree's leaves, AUDIT_BATCH to a read */
static int audit_scan(struct engine *e, const struct audit_req *q, uint64_t fin,
		      json_t *recs, bool *truncated, char *err)
{
	uint64_t seq, size = gd_mtree_size(e->mt);
	uint32_t i, n;
	uint8_t *buf;
	int ret = 0;

	*truncated = false;
	buf = malloc((size_t)AUDIT_BATCH * GEOREP_LEAF_LEN);
	if (!buf)
		return -ENOMEM;
	for (seq = 1; seq <= size && !ret && !*truncated; seq += n) {
		n = size - seq + 1 < AUDIT_BATCH ? size - seq + 1 : AUDIT_BATCH;
		ret = gd_mtree_leaves(e->mt, seq, n, buf);
		if (ret) {
			snprintf(err, GR_CTL_ERRLEN, "leaves %llu to %llu of the tree: %s",
				 (unsigned long long)seq, (unsigned long long)(seq + n - 1),
				 strerror(-ret));
			break;
		}
		for (i = 0; i < n && !ret && !*truncated; i++)
			ret = audit_leaf(e, q, fin, buf + (size_t)i * GEOREP_LEAF_LEN, seq + i,
					 recs, truncated, err);
	}
	free(buf);
	return ret;
}

static int audit_parse(json_t *req, struct audit_req *q, char *err)
{
	json_int_t first = 0, last = INT64_MAX, since = 0, limit = 1000;

	if (json_unpack(req, "{s?I, s?I, s?I, s?I}", "lba_first", &first, "lba_last", &last,
			"since_ns", &since, "limit", &limit) ||
	    first < 0 || last < first || since < 0 || limit < 1 || limit > AUDIT_LIMIT_MAX) {
		snprintf(err, GR_CTL_ERRLEN, "need 0 <= \"lba_first\" <= \"lba_last\", "
			 "\"since_ns\" >= 0 and 1 <= \"limit\" <= %d", AUDIT_LIMIT_MAX);
		return -EINVAL;
	}
	q->first = first;
	q->last = last;
	q->since_ns = since;
	q->limit = limit;
	return 0;
}

static void audit_site_fields(struct engine *e, json_t *o)
{
	const struct gr_cluster *c = gd_cluster(e->d);

	json_object_set_new(o, "volume", json_string(e->name));
	json_object_set_new(o, "cluster", json_string(c->cluster));
	json_object_set_new(o, "site", json_string(c->sites[gd_self(e->d)].name));
}

static int h_audit(struct gr_ctl_client *cl, json_t *req, json_t **resp, char *err, void *arg)
{
	struct engine *e = eng_lookup(arg, req, err);
	json_t *note = NULL, *recs;
	struct gd_ledger_status st;
	char why[GR_CTL_ERRLEN] = "";
	struct audit_req q;
	gr_mhash root;
	uint64_t fin = 0;
	bool trunc;
	int ret;

	if (!e || audit_parse(req, &q, err))
		return -EINVAL;
	eng_mtree_follow(e);
	if (!e->mt) {
		snprintf(err, GR_CTL_ERRLEN, "volume %s has no Merkle tree at this site: %.180s",
			 e->name, e->mt_why);
		return -ENOENT;
	}
	if (eng_mtree_final_cap(e, &fin, &note, why))
		fin = 0;	/* listed as not final, "final_why" says why */
	recs = json_array();
	if (!recs) {
		json_decref(note);
		return -ENOMEM;
	}
	ret = audit_scan(e, &q, fin, recs, &trunc, err);
	if (ret) {
		json_decref(recs);
		json_decref(note);
		return ret;
	}
	if (e->lg->ops->status(e->lg, &st))
		memset(&st, 0, sizeof(st));
	*resp = json_pack("{s:I, s:I, s:I, s:b, s:o}", "size", (json_int_t)gd_mtree_size(e->mt),
			  "final_seq", (json_int_t)fin, "log_tail", (json_int_t)st.tail_seq,
			  "truncated", trunc, "records", recs);
	if (!*resp) {
		json_decref(note);
		return -ENOMEM;
	}
	audit_site_fields(e, *resp);
	if (note) {
		json_object_set_new(*resp, "checkpoint", note);
		if (!gr_merkle_root_at(gd_mtree_tree(e->mt), fin, root))
			json_object_set_new(*resp, "root", eng_mtree_b64(root, sizeof(root)));
	} else {
		json_object_set_new(*resp, "final_why", json_string(why));
	}
	return 0;
}

static int h_final_checkpoint(struct gr_ctl_client *cl, json_t *req, json_t **resp, char *err,
			      void *arg)
{
	struct engine *e = eng_lookup(arg, req, err);
	const char *note;
	uint64_t size;

	if (!e)
		return -EINVAL;
	note = eng_ckpt_final(e, &size);
	if (!note) {
		snprintf(err, GR_CTL_ERRLEN, "volume %s has no final checkpoint at this site",
			 e->name);
		return -ENOENT;
	}
	*resp = json_pack("{s:I, s:s}", "size", (json_int_t)size, "checkpoint", note);
	if (!*resp)
		return -ENOMEM;
	audit_site_fields(e, *resp);
	return 0;
}

static int h_fork_checkpoints(struct gr_ctl_client *cl, json_t *req, json_t **resp, char *err,
			      void *arg)
{
	struct engine *e = eng_lookup(arg, req, err);
	json_t *forks;

	if (!e)
		return -EINVAL;
	forks = eng_fork_notes(e, err);
	if (!forks)
		return -EIO;
	*resp = json_pack("{s:o}", "forks", forks);
	return *resp ? 0 : -ENOMEM;
}

void eng_audit_register(struct georepd *d)
{
	if (gr_ctl_register(d->ctl, "audit", h_audit, d) ||
	    gr_ctl_register(d->ctl, "final-checkpoint", h_final_checkpoint, d) ||
	    gr_ctl_register(d->ctl, "fork-checkpoints", h_fork_checkpoints, d))
		gd_warn("cannot register the audit control requests");
}
