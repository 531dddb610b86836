// SPDX-License-Identifier: GPL-2.0
/*
 * Leaves the Merkle tree lacks, fetched from another site (MLEAF_REQ/MLEAF,
 * Documentation/proofs.rst, "A tree behind the log"). After a full resync
 * the ledger restarts past records this site never held: their leaves come
 * from another site's tree instead, 4096 at a time: the leader's first,
 * then, when it has none to give, the other sites in turn (committed
 * leaves are the same history at every site; a site elected while it
 * still fetches asks the followers). Each request overlaps
 * the tree by one leaf, which must be the same as ours (else ours is cut
 * back and the next request starts earlier); each new leaf must chain
 * from the one before (gd_mtree_take(): the chain hash recomputed from the
 * header the leaf stands for), and the first record the ledger itself
 * holds must chain from the last leaf fetched. No site can hand this site
 * another history than the one its ledger goes on from.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "engine_internal.h"

#define MLEAF_TIMEOUT_NS	(5000ULL * 1000000ULL)	/* ask again after */

/* The first seq to ask for: the tree's last leaf (one of overlap), or 1. */
static uint64_t overlap_start(const struct engine *e)
{
	return gd_mtree_size(e->mt) ? gd_mtree_size(e->mt) : 1;
}

/* The tree lacks leaves up to @to that the ledger no longer holds. */
void eng_mleaf_start(struct engine *e, uint64_t to)
{
	struct eng_mleaf *mf = &e->mf;
	uint64_t size = gd_mtree_size(e->mt);

	if (mf->active) {
		mf->to = to > mf->to ? to : mf->to;
		return;
	}
	memset(mf, 0, sizeof(*mf));
	mf->active = true;
	mf->to = to;
	mf->next = overlap_start(e);
	mf->site = gd_self(e->d);
	mf->t0 = gr_now_ns();
	gd_info("volume %s: Merkle tree of %llu leaves: fetching leaves up to %llu from another site",
		e->name, (unsigned long long)size, (unsigned long long)to);
}

static bool mleaf_can_ask(struct engine *e, int site)
{
	return site >= 0 && site != (int)gd_self(e->d) &&
	       gd_peer_version(e->d, site) >= GR_WIRE_VERSION_MLEAF;
}

/*
 * The site to ask: the one that answered last; after a request it left
 * unanswered or could not serve (@move_on), or at first, the leader unless
 * it was that one; then every other connected site in turn. -1: none now.
 */
static int mleaf_site(struct engine *e, bool move_on)
{
	struct eng_mleaf *mf = &e->mf;
	unsigned int i, nsites = gd_cluster(e->d)->nsites;
	struct gr_status gs;
	int site;

	if (!move_on && mf->answered && mleaf_can_ask(e, mf->site))
		return mf->site;
	gr_status(e->n, &gs);
	site = eng_site_index(e, gs.leader);
	if (mleaf_can_ask(e, site) && (!move_on || site != (int)mf->site))
		return site;
	for (i = 1; i <= nsites; i++) {
		site = (mf->site + i) % nsites;
		if (mleaf_can_ask(e, site))
			return site;
	}
	return -1;
}

/* Ask a site for the next leaves (one request in flight). */
void eng_mleaf_tick(struct engine *e, uint64_t now)
{
	struct eng_mleaf *mf = &e->mf;
	struct gr_frame f = { .hdr.type = GR_FT_MLEAF_REQ, .hdr.version = GR_WIRE_VERSION_MLEAF };
	bool move_on = mf->asked != 0;	/* the last request went unanswered */
	uint64_t n;
	int site;

	if (!mf->active || !e->mt || (mf->asked && now - mf->asked_ns < MLEAF_TIMEOUT_NS))
		return;
	site = mleaf_site(e, move_on);
	if (site < 0)
		return;		/* no site to ask (connected, new enough): later */
	if (site != (int)mf->site)
		mf->answered = false;
	n = mf->to - mf->next + 1;
	f.mleaf_req.first_seq = mf->next;
	f.mleaf_req.count = n < GR_MLEAF_MAX ? n : GR_MLEAF_MAX;
	eng_send_frame(e, site, &f);
	mf->site = site;
	mf->asked = mf->next;
	mf->asked_ns = now;
}

/* Any site: the leaves asked for, committed ones only. */
static void mleaf_answer(struct engine *e, unsigned int from, const struct gr_mleaf_req *r)
{
	struct gr_frame f = { .hdr.type = GR_FT_MLEAF, .hdr.version = GR_WIRE_VERSION_MLEAF };
	struct gr_status gs;
	uint64_t have, i;
	uint8_t *leaves = NULL;

	gr_status(e->n, &gs);
	have = e->mt ? gd_mtree_size(e->mt) : 0;
	have = have < gs.commit_seq ? have : gs.commit_seq;
	f.mleaf.first_seq = r->first_seq;
	f.mleaf.status = GR_MLEAF_UNAVAILABLE;
	if (r->first_seq <= have) {
		f.mleaf.count = have - r->first_seq + 1 < r->count ?
				have - r->first_seq + 1 : r->count;
		leaves = malloc((size_t)f.mleaf.count * GEOREP_LEAF_LEN);
		for (i = 0; leaves && i < f.mleaf.count; i++)
			if (gd_mtree_leaf(e->mt, r->first_seq + i, leaves + i * GEOREP_LEAF_LEN))
				break;
		if (leaves && i == f.mleaf.count)
			f.mleaf.status = GR_MLEAF_OK;
	}
	if (f.mleaf.status != GR_MLEAF_OK)
		f.mleaf.count = 0;
	f.mleaf.leaves = leaves;
	eng_send_frame(e, from, &f);
	free(leaves);
}

/* The answer of the site asked. */
static void mleaf_take(struct engine *e, unsigned int from, const struct gr_mleaf *m)
{
	struct eng_mleaf *mf = &e->mf;
	uint64_t cut = UINT64_MAX;
	int ret;

	if (!mf->active || !e->mt || from != mf->site || m->first_seq != mf->asked)
		return;		/* stale */
	if (m->status != GR_MLEAF_OK) {
		/* its tree is behind its commit, or stopped: ask again later */
		if (gd_ratelimit(&e->rl))
			gd_warn("volume %s: Merkle tree: %s cannot give leaves %llu and on now; asking again in %llu s",
				e->name, gd_cluster(e->d)->sites[from].name,
				(unsigned long long)m->first_seq, MLEAF_TIMEOUT_NS / 1000000000ULL);
		mf->unavailable++;
		mf->answered = false;
		return;		/* in flight until it times out, then another site */
	}
	mf->asked = 0;
	mf->answered = true;
	ret = gd_mtree_take(e->mt, m->first_seq, m->leaves, m->count, &cut);
	if (cut != UINT64_MAX)
		gd_warn("volume %s: Merkle tree: leaf %llu differs from %s's: cut back to %llu leaves",
			e->name, (unsigned long long)(cut + 1), gd_cluster(e->d)->sites[from].name,
			(unsigned long long)cut);
	if (ret == -ERANGE) {
		/* cut back meanwhile (a truncation): ask from the tree's end */
		mf->next = overlap_start(e);
		eng_mleaf_tick(e, gr_now_ns());
		return;
	}
	if (ret < 0 && ret != -ESTALE) {
		eng_mtree_stop(e, "leaves %llu+%u from %s: %s", (unsigned long long)m->first_seq,
			       m->count, gd_cluster(e->d)->sites[from].name,
			       ret == -EBADMSG ? "one does not chain from the leaf before it" :
			       strerror(-ret));
		mf->active = false;
		return;
	}
	if (ret > 0)
		mf->leaves += ret;
	if (!ret && cut == UINT64_MAX) {
		/*
		 * only leaves the tree holds (that site's committed tree ends
		 * there): asked again at once, it would answer the same, and
		 * the two sites would trade frames without end. In flight
		 * until it times out, then the next site.
		 */
		mf->unavailable++;
		mf->answered = false;
		mf->asked = m->first_seq;
		return;
	}
	/* the common point is before this batch: ask from further back */
	if (ret == -ESTALE)
		mf->next = m->first_seq > GR_MLEAF_MAX ? m->first_seq - GR_MLEAF_MAX : 1;
	else
		mf->next = overlap_start(e);
	if (gd_mtree_size(e->mt) >= mf->to) {
		gd_info("volume %s: Merkle tree: %llu leaves fetched from %s in %.1f s, %llu in the tree",
			e->name, (unsigned long long)mf->leaves, gd_cluster(e->d)->sites[from].name,
			(gr_now_ns() - mf->t0) / 1e9, (unsigned long long)gd_mtree_size(e->mt));
		mf->active = false;
		e->mt_follow = true;	/* the rest is in the ledger */
		return;
	}
	eng_mleaf_tick(e, gr_now_ns());
}

int eng_mleaf_frame(struct engine *e, unsigned int from, const struct gr_frame *f)
{
	if (f->hdr.type == GR_FT_MLEAF_REQ)
		mleaf_answer(e, from, &f->mleaf_req);
	else
		mleaf_take(e, from, &f->mleaf);
	return 0;
}

json_t *eng_mleaf_status(struct engine *e)
{
	const struct eng_mleaf *mf = &e->mf;

	return json_pack("{s:s, s:I, s:I, s:s, s:I, s:I}", "state", "fetching", "size",
			 (json_int_t)gd_mtree_size(e->mt), "fetch_to", (json_int_t)mf->to,
			 "from", mf->asked ? gd_cluster(e->d)->sites[mf->site].name : "",
			 "fetched", (json_int_t)mf->leaves,
			 "unavailable", (json_int_t)mf->unavailable);
}
