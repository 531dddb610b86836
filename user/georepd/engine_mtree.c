// SPDX-License-Identifier: GPL-2.0
/*
 * The Merkle tree of the engine's ledger (mtree.c, Documentation/proofs.rst):
 * fed with every record the leader proposes and every record a follower
 * appends, caught up from the ledger itself after a restart, a barrier or
 * anything else it missed, cut back with the ledger's truncations, and
 * never behind what the ledger releases. Leaves of records released or
 * reset away before it held them come from other sites (engine_mleaf.c); a
 * tree that cannot get them (every site's refused, or the log filled while
 * it waited) stops, says why in status, and the volume goes on
 * replicating without it.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "georep/note.h"
#include "engine_internal.h"

#define MT_FOLLOW_READ		(1U << 20)	/* bytes per ledger read (one record at least) */
#define MT_FOLLOW_MAX		8192	/* records added per call, at most */
#define MT_FOLLOW_BYTES		(16U << 20)	/* ... and bytes read (one record more) */

void eng_mtree_stop(struct engine *e, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(e->mt_why, sizeof(e->mt_why), fmt, ap);
	va_end(ap);
	gd_err("volume %s: Merkle tree stopped: %s", e->name, e->mt_why);
	gd_mtree_close(e->mt);
	e->mt = NULL;
}

void eng_mtree_feed(struct engine *e, const struct georep_rec *rec, const void *hdr)
{
	int ret;

	if (!e->mt || rec->seq <= gd_mtree_size(e->mt))
		return;
	ret = gd_mtree_add(e->mt, rec, hdr);
	if (ret == -ERANGE)
		e->mt_behind = true;	/* a gap: the ledger has the records */
	else if (ret == -EBADMSG)
		e->mt_follow = true;	/* another chain: the ledger decides */
	else if (ret)
		eng_mtree_stop(e, "adding record %llu: %s", (unsigned long long)rec->seq,
			strerror(-ret));
}

/*
 * The tree's last leaf must be the ledger's record at that seq, else it is
 * cut back (a crash between a ledger truncation and the tree's). Leaves of
 * records the log no longer retains cannot be compared: they stand.
 */
static int reconcile(struct engine *e, const struct gd_ledger_status *st)
{
	uint8_t leaf[GEOREP_LEAF_LEN], mine[GEOREP_LEAF_LEN];
	uint64_t size;
	int ret;

	if (gd_mtree_size(e->mt) > st->written_seq) {
		ret = gd_mtree_truncate(e->mt, st->written_seq);
		if (ret)
			return ret;
	}
	while ((size = gd_mtree_size(e->mt))) {
		struct georep_rec rec;
		const uint8_t *hdr, *payload;
		size_t off = 0;
		ssize_t n;

		n = eng_read_records(e, size, 1, 0);
		if (n == -ERANGE)
			return 0;	/* released */
		if (n < 0)
			return n;
		ret = georep_record_next(e->buf, n, &off, &rec, &hdr, &payload, NULL, 0);
		if (ret)
			return ret;
		georep_leaf_encode(&rec, leaf);
		ret = gd_mtree_leaf(e->mt, size, mine);
		if (ret)
			return ret;
		if (!memcmp(leaf, mine, sizeof(leaf)))
			return 0;
		gd_warn("volume %s: Merkle leaf %llu is not the ledger's record: cut back",
			e->name, (unsigned long long)size);
		ret = gd_mtree_truncate(e->mt, size - 1);
		if (ret)
			return ret;
	}
	return 0;
}

/*
 * Add what the ledger holds past the tree, MT_FOLLOW_MAX records and
 * MT_FOLLOW_BYTES at most: the ledger reads whole records, payloads too,
 * and 8192 records of 1 MiB in one tick would stall the event loop.
 */
void eng_mtree_follow(struct engine *e)
{
	struct gd_ledger_status st;
	uint64_t added = 0, bytes = 0;
	int ret;

	if (!e->mt || e->mf.active || e->lg->ops->status(e->lg, &st))
		return;
	if (e->mt_follow || gd_mtree_size(e->mt) > st.written_seq) {
		ret = reconcile(e, &st);
		if (ret) {
			eng_mtree_stop(e, "the tree holds %llu leaves, the ledger %llu..%llu: %s",
				(unsigned long long)gd_mtree_size(e->mt),
				(unsigned long long)st.tail_seq,
				(unsigned long long)st.written_seq, strerror(-ret));
			return;
		}
		e->mt_follow = false;
	}
	while (gd_mtree_size(e->mt) < st.written_seq && added < MT_FOLLOW_MAX &&
	       bytes < MT_FOLLOW_BYTES) {
		uint64_t seq = gd_mtree_size(e->mt) + 1;
		struct georep_rec rec;
		const uint8_t *hdr, *payload;
		size_t off = 0;
		ssize_t n;

		n = eng_read_upto(e, seq, MT_FOLLOW_READ);
		if (n == -ERANGE) {
			/* released before the tree held it (a full resync): ask */
			eng_mleaf_start(e, st.tail_seq);
			return;
		}
		if (n <= 0) {
			if (n && gd_ratelimit(&e->rl))
				gd_warn("volume %s: Merkle tree: reading record %llu: %s", e->name,
					(unsigned long long)seq, strerror(-n));
			return;
		}
		/* every record read up to written_seq (the read may pass it) */
		while (gd_mtree_size(e->mt) < st.written_seq &&
		       !georep_record_next(e->buf, n, &off, &rec, &hdr, &payload, NULL, 0)) {
			ret = gd_mtree_add(e->mt, &rec, hdr);
			if (ret) {
				eng_mtree_stop(e, "adding record %llu from the ledger: %s",
					(unsigned long long)rec.seq, strerror(-ret));
				return;
			}
			added++;
		}
		bytes += off ? off : (size_t)n;
	}
}

/* on the loop: add what the reader read from @seq (@n bytes), up to mt_rto */
static void tree_read_done(void *arg, uint64_t seq, void *buf, ssize_t n)
{
	struct engine *e = arg;
	const uint8_t *hdr, *payload;
	struct georep_rec rec;
	size_t off = 0;
	int ret;

	/* the tree moved meanwhile (a follower's append, a cut): read again */
	if (!e->mt || seq != gd_mtree_size(e->mt) + 1)
		goto out;
	if (n == -EMSGSIZE && e->mt_rcap < ENG_READ_MAX) {
		e->mt_rcap *= 2;
		goto out;
	}
	if (n == -ERANGE) {
		e->mt_follow = true;	/* released: eng_mtree_follow() asks the others */
		goto out;
	}
	if (n < 0 && gd_ratelimit(&e->rl))
		gd_warn("volume %s: Merkle tree: reading record %llu: %s", e->name,
			(unsigned long long)seq, strerror(-n));
	if (n > 0)
		e->mt_reads++;
	while (n > 0 && gd_mtree_size(e->mt) < e->mt_rto &&
	       !georep_record_next(buf, n, &off, &rec, &hdr, &payload, NULL, 0)) {
		ret = gd_mtree_add(e->mt, &rec, hdr);
		if (ret) {
			eng_mtree_stop(e, "adding record %llu from the ledger: %s",
				       (unsigned long long)rec.seq, strerror(-ret));
			break;
		}
	}
out:
	engine_pump(e);		/* the reader is free */
}

/*
 * The tree lacks records the ledger holds (a gap in what was fed, such as
 * records appended before the tree was opened): read
 * them on the reader thread, MT_FOLLOW_READ bytes at a time, from the tick
 * and after each of the pump's reads, so that a slow disk does not hold
 * the loop (eng_mtree_follow() reads on the loop, for a reconcile and the
 * callers that need the tree at once).
 */
void eng_mtree_catch_up(struct engine *e)
{
	struct gd_ledger_status st;
	struct gr_status gs;
	uint64_t size, to;

	if (!e->mt || e->mf.active || e->lg->ops->status(e->lg, &st))
		return;
	/* a leader's pump feeds the records past the core's log: not read twice */
	to = st.written_seq;
	gr_status(e->n, &gs);
	if (e->role == GR_LEADER && gs.last_seq < to)
		to = gs.last_seq;
	if (e->role == GR_LEADER && to == gs.last_seq && eng_pump_from(e, to) == to)
		to--;		/* the barrier: the pump reads it */
	size = gd_mtree_size(e->mt);
	e->mt_behind = size < to;
	/* busy: the pump's read, which posts this one when it is done */
	if (!e->mt_behind || gd_reader_busy(&e->rd))
		return;
	if (!e->mt_rcap)
		e->mt_rcap = MT_FOLLOW_READ;
	if (e->mt_rlen < e->mt_rcap) {
		uint8_t *p = realloc(e->mt_rbuf, e->mt_rcap);

		if (!p)
			return;
		e->mt_rbuf = p;
		e->mt_rlen = e->mt_rcap;
	}
	e->mt_rto = to;
	gd_reader_submit(&e->rd, eng_read_now, tree_read_done, e, size + 1, e->mt_rbuf, e->mt_rcap);
}

void eng_mtree_truncated(struct engine *e, uint64_t seq)
{
	int ret;

	if (!e->mt || gd_mtree_size(e->mt) <= seq)
		return;
	ret = gd_mtree_truncate(e->mt, seq);
	if (ret)
		eng_mtree_stop(e, "cutting back to %llu leaves: %s", (unsigned long long)seq,
			strerror(-ret));
}

/*
 * The ledger restarts empty after @seq, chaining from @chain (a full
 * resync). Leaves past @seq go (the ledger's records after it replace
 * them); the leaves the tree lacks up to @seq come from another site
 * (engine_mleaf.c), the first of them compared with ours, and record
 * @seq + 1 must chain from leaf @seq.
 */
void eng_mtree_reset(struct engine *e, uint64_t seq, const uint8_t chain[GEOREP_HASH_LEN])
{
	uint8_t leaf[GEOREP_LEAF_LEN];
	struct georep_rec rec;

	if (!e->mt)
		return;
	memset(&e->mf, 0, sizeof(e->mf));	/* a fetch for the old log is void */
	if (gd_mtree_size(e->mt) >= seq && seq &&
	    !gd_mtree_leaf(e->mt, seq, leaf) &&
	    !georep_leaf_decode(leaf, sizeof(leaf), &rec, NULL, 0) &&
	    !memcmp(rec.chain_hash, chain, GEOREP_HASH_LEN)) {
		eng_mtree_truncated(e, seq);
		return;
	}
	if (seq && gd_mtree_size(e->mt) >= seq)
		eng_mtree_truncated(e, seq - 1);	/* leaf @seq is not the anchor's */
	if (e->mt && gd_mtree_size(e->mt) < seq)
		eng_mleaf_start(e, seq);
}

/*
 * The engine's own upkeep (tick, compaction, maintenance): a reconcile
 * when one is due, else the records the tree lacks, read off the loop.
 */
void eng_mtree_keep_up(struct engine *e)
{
	if (e->mt_follow)
		eng_mtree_follow(e);
	else
		eng_mtree_catch_up(e);
}

/* the highest seq the log may release: what the tree holds (when it runs) */
uint64_t eng_mtree_release_cap(struct engine *e, uint64_t seq)
{
	if (!e->mt)
		return seq;
	eng_mtree_keep_up(e);
	if (e->mt && gd_mtree_size(e->mt) < seq)
		return gd_mtree_size(e->mt);
	return seq;
}

void eng_mtree_maint(struct engine *e)
{
	int ret;

	eng_mtree_keep_up(e);
	if (e->mt) {
		ret = gd_mtree_sync(e->mt);
		if (ret && gd_ratelimit(&e->rl))
			gd_warn("volume %s: Merkle tree sync: %s", e->name, strerror(-ret));
	}
}

int eng_mtree_open(struct engine *e)
{
	char err[256];
	int ret;

	ret = gd_mtree_open(gd_statedir_path(e->d->sd), e->name, &e->mt, err);
	if (ret) {
		snprintf(e->mt_why, sizeof(e->mt_why), "%s", err);
		gd_err("volume %s: Merkle tree not available: %s", e->name, err);
		return ret;
	}
	e->mt_follow = true;	/* check the last leaf against the ledger */
	eng_mtree_follow(e);
	if (e->mt)
		gd_info("volume %s: Merkle tree of %llu leaves", e->name,
			(unsigned long long)gd_mtree_size(e->mt));
	return 0;
}

json_t *eng_mtree_status(struct engine *e)
{
	char hex[2 * GR_MERKLE_HASH_LEN + 1];
	gr_mhash root;

	if (!e->mt)
		return json_pack("{s:s, s:s}", "state", "stopped", "why", e->mt_why);
	if (e->mf.active)
		return eng_mleaf_status(e);
	if (gr_merkle_root(gd_mtree_tree(e->mt), root))
		return json_pack("{s:s, s:s}", "state", "stopped", "why", "hashing failed");
	georep_hex(root, sizeof(root), hex);
	/* reads: the records it lacked, read from the ledger on the reader */
	return json_pack("{s:s, s:I, s:s, s:I}", "state", "ok", "size",
			 (json_int_t)gd_mtree_size(e->mt), "root", hex,
			 "reads", (json_int_t)e->mt_reads);
}

/* ------------------------------------------------------------------ */
/* The proof control request                                           */
/* ------------------------------------------------------------------ */

json_t *eng_mtree_b64(const uint8_t *buf, size_t len)
{
	char out[4 * ((GEOREP_LEAF_LEN + 2) / 3) + 1];

	if (len > GEOREP_LEAF_LEN)
		return NULL;
	EVP_EncodeBlock((unsigned char *)out, buf, len);
	return json_string(out);
}

json_t *eng_mtree_proof_json(gr_mhash *proof, unsigned int n)
{
	json_t *a = json_array();
	unsigned int i;

	for (i = 0; a && i < n; i++)
		json_array_append_new(a, eng_mtree_b64(proof[i], GR_MERKLE_HASH_LEN));
	return a;
}

static int inclusion(struct engine *e, uint64_t seq, uint64_t size, json_t **resp, char *err)
{
	const struct gr_merkle *t = gd_mtree_tree(e->mt);
	gr_mhash proof[GR_MERKLE_MAX_PROOF], root;
	uint8_t leaf[GEOREP_LEAF_LEN];
	unsigned int n;
	int ret;

	if (!seq || seq > size) {
		snprintf(err, GR_CTL_ERRLEN, "record %llu is not in the tree of size %llu",
			 (unsigned long long)seq, (unsigned long long)size);
		return -ERANGE;
	}
	/* a record the log still holds must still be what the leaf says */
	ret = eng_scrub_record(e, seq, err, GR_CTL_ERRLEN);
	if (ret == -EBADMSG) {
		gd_warn("volume %s: no inclusion proof of record %llu: %s", e->name,
			(unsigned long long)seq, err);
		snprintf(err + strlen(err), GR_CTL_ERRLEN - strlen(err),
			 "; this site proves no damaged record");
		return ret;
	}
	ret = gd_mtree_leaf(e->mt, seq, leaf);
	if (!ret)
		ret = gr_merkle_inclusion(t, seq - 1, size, proof, &n);
	if (!ret)
		ret = gr_merkle_root_at(t, size, root);
	if (ret) {
		snprintf(err, GR_CTL_ERRLEN, "inclusion proof of %llu: %s",
			 (unsigned long long)seq, strerror(-ret));
		return ret;
	}
	*resp = json_pack("{s:s, s:I, s:I, s:o, s:o, s:o}", "kind", "inclusion",
			  "seq", (json_int_t)seq, "size", (json_int_t)size,
			  "root", eng_mtree_b64(root, sizeof(root)),
			  "leaf", eng_mtree_b64(leaf, sizeof(leaf)),
			  "proof", eng_mtree_proof_json(proof, n));
	return *resp ? 0 : -ENOMEM;
}

static int consistency(struct engine *e, uint64_t size1, uint64_t size2, json_t **resp,
		       char *err)
{
	const struct gr_merkle *t = gd_mtree_tree(e->mt);
	gr_mhash proof[GR_MERKLE_MAX_PROOF], r1, r2;
	unsigned int n;
	int ret;

	if (!size1 || size1 > size2) {
		snprintf(err, GR_CTL_ERRLEN, "need 1 <= size1 <= size2 (got %llu, %llu)",
			 (unsigned long long)size1, (unsigned long long)size2);
		return -EINVAL;
	}
	ret = gr_merkle_consistency(t, size1, size2, proof, &n);
	if (!ret)
		ret = gr_merkle_root_at(t, size1, r1);
	if (!ret)
		ret = gr_merkle_root_at(t, size2, r2);
	if (ret) {
		snprintf(err, GR_CTL_ERRLEN, "consistency proof %llu..%llu: %s",
			 (unsigned long long)size1, (unsigned long long)size2, strerror(-ret));
		return ret;
	}
	*resp = json_pack("{s:s, s:I, s:I, s:o, s:o, s:o}", "kind", "consistency",
			  "size1", (json_int_t)size1, "size2", (json_int_t)size2,
			  "root1", eng_mtree_b64(r1, sizeof(r1)),
			  "root2", eng_mtree_b64(r2, sizeof(r2)),
			  "proof", eng_mtree_proof_json(proof, n));
	return *resp ? 0 : -ENOMEM;
}

/*
 * "final": true: proofs up to the final checkpoint's size exactly, which
 * the reply carries ("checkpoint", with its signatures); its root must be
 * this site's tree's root at that size.
 */
int eng_mtree_final_cap(struct engine *e, uint64_t *max, json_t **note, char *err)
{
	char origin[GR_NOTE_NAME_MAX], why[GR_NOTE_ERRLEN];
	const char *fn, *split;
	gr_mhash root, mine;
	uint64_t size;

	fn = eng_ckpt_final(e, &size);
	if (!fn) {
		snprintf(err, GR_CTL_ERRLEN, "volume %s has no final checkpoint at this site yet "
			 "(or give --key to sign one with a site key)", e->name);
		return -ENOENT;
	}
	split = strstr(fn, "\n\n");
	if (!split || gr_checkpoint_parse(fn, split + 1 - fn, origin, sizeof(origin), &size,
					  root, why) ||
	    size > gd_mtree_size(e->mt) ||
	    gr_merkle_root_at(gd_mtree_tree(e->mt), size, mine) || memcmp(root, mine, sizeof(mine))) {
		snprintf(err, GR_CTL_ERRLEN, "this site's tree does not hold the final checkpoint "
			 "of size %llu with its root", (unsigned long long)size);
		return -ESTALE;
	}
	*max = size;
	*note = json_string(fn);
	return *note ? 0 : -ENOMEM;
}

/*
 * Proofs are over committed records only (a checkpoint must never cover a
 * suffix that may still be truncated): the largest size is
 * min(tree size, commit).
 */
static int h_proof(struct gr_ctl_client *cl, json_t *req, json_t **resp, char *err, void *arg)
{
	struct engine *e = eng_lookup(arg, req, err);
	const char *kind = json_string_value(json_object_get(req, "kind"));
	json_int_t seq = 0, size = 0, size1 = 0, size2 = 0;
	json_t *note = NULL;
	struct gr_status gs;
	uint64_t max;
	int ret, fin = 0;

	if (!e)
		return -EINVAL;
	if (!e->mt) {
		snprintf(err, GR_CTL_ERRLEN, "volume %s has no Merkle tree at this site: %.180s",
			 e->name, e->mt_why);
		return -ENOENT;
	}
	eng_mtree_follow(e);
	gr_status(e->n, &gs);
	max = e->mt ? gd_mtree_size(e->mt) : 0;
	if (gs.commit_seq < max)
		max = gs.commit_seq;
	if (json_unpack(req, "{s?b}", "final", &fin) == 0 && fin && e->mt) {
		ret = eng_mtree_final_cap(e, &max, &note, err);
		if (ret)
			return ret;
		json_object_del(req, "size");	/* the final checkpoint's */
	}
	if (note && kind && !strcmp(kind, "consistency") &&
	    json_integer_value(json_object_get(req, "size2")) != (json_int_t)max) {
		snprintf(err, GR_CTL_ERRLEN, "\"size2\" must be the final checkpoint's size %llu",
			 (unsigned long long)max);
		json_decref(note);
		return -EINVAL;
	}
	if (kind && !strcmp(kind, "inclusion")) {
		if (json_unpack(req, "{s:I, s?I}", "seq", &seq, "size", &size) || seq < 1 ||
		    size < 0 || (uint64_t)size > max) {
			snprintf(err, GR_CTL_ERRLEN,
				 "need \"seq\" >= 1 and \"size\" <= %llu (committed leaves)",
				 (unsigned long long)max);
			ret = -EINVAL;
			goto out;
		}
		ret = inclusion(e, seq, size ? (uint64_t)size : max, resp, err);
	} else if (kind && !strcmp(kind, "consistency")) {
		if (json_unpack(req, "{s:I, s:I}", "size1", &size1, "size2", &size2) ||
		    size1 < 0 || size2 < 0 || (uint64_t)size2 > max) {
			snprintf(err, GR_CTL_ERRLEN,
				 "need \"size1\" and \"size2\" <= %llu (committed leaves)",
				 (unsigned long long)max);
			ret = -EINVAL;
			goto out;
		}
		ret = consistency(e, size1, size2, resp, err);
	} else {
		snprintf(err, GR_CTL_ERRLEN, "\"kind\" must be \"inclusion\" or \"consistency\"");
		ret = -EINVAL;
		goto out;
	}
	if (!ret) {
		json_object_set_new(*resp, "volume", json_string(e->name));
		json_object_set_new(*resp, "cluster", json_string(gd_cluster(e->d)->cluster));
		json_object_set_new(*resp, "site", json_string(
			gd_cluster(e->d)->sites[gd_self(e->d)].name));
		if (note)
			json_object_set_new(*resp, "checkpoint", json_incref(note));
	}
out:
	json_decref(note);
	return ret;
}

void gd_engine_register_proof_cmds(struct georepd *d)
{
	if (gr_ctl_register(d->ctl, "proof", h_proof, d))
		gd_warn("cannot register the proof control request");
	eng_audit_register(d);
	eng_root_register(d);
}
