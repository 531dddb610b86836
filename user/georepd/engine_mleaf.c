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
/*
 * Requests answered per site: MLEAF_RATE a second, MLEAF_BURST at once. An
 * asker has one request in flight: one past the rate is held until its
 * turn (a tick at most), so a fetch goes at up to 64 requests a second
 * (262,144 leaves, more than a log takes records) without a timeout. A
 * request that finds another held replaces it, and the one replaced is
 * dropped: one replica, or a stolen replica identity, cannot keep the
 * loop reading leaves.
 */
#define MLEAF_RATE		64
#define MLEAF_BURST		16
#define MLEAF_INTERVAL_NS	(1000000000ULL / MLEAF_RATE)

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

/* a replica site of the volume, not this one, connected, new enough */
static bool mleaf_can_ask(struct engine *e, int site)
{
	return site >= 0 && site != (int)gd_self(e->d) &&
	       gr_volume_replica(e->vol->cfg, site) &&
	       gd_peer_version(e->d, site) >= GR_WIRE_VERSION_MLEAF;
}

/*
 * The site to ask: the one that answered last; at first (nobody asked yet)
 * the leader; after a request left unanswered or not served (@move_on),
 * the next connected site in turn after the one asked, skipping those that
 * sent leaves that do not chain. -1: none now.
 */
static int mleaf_site(struct engine *e, bool move_on)
{
	struct eng_mleaf *mf = &e->mf;
	unsigned int i, nsites = gd_cluster(e->d)->nsites;
	struct gr_status gs;
	int site;

	if (!move_on && mf->answered && mleaf_can_ask(e, mf->site))
		return mf->site;
	if (mf->site == gd_self(e->d)) {
		gr_status(e->n, &gs);
		site = eng_site_index(e, gs.leader);
		if (mleaf_can_ask(e, site) && !(mf->bad_sites & (1ULL << site)))
			return site;
	}
	for (i = 1; i <= nsites; i++) {
		site = (mf->site + i) % nsites;
		if (mleaf_can_ask(e, site) && !(mf->bad_sites & (1ULL << site)))
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
	mf->asked_count = f.mleaf_req.count;
	eng_send_frame(e, site, &f);
	mf->site = site;
	mf->asked = mf->next;
	mf->asked_ns = now;
}

/*
 * Whether a request from @from may be answered at @now (GCRA: its
 * theoretical arrival time moves by MLEAF_INTERVAL_NS per answer, at most
 * MLEAF_BURST intervals ahead of now); takes the turn when it may.
 */
static bool mleaf_turn(struct engine *e, unsigned int from, uint64_t now)
{
	uint64_t *tat = &e->mleaf_tat[from];

	if (*tat < now)
		*tat = now;
	if (*tat - now > (MLEAF_BURST - 1) * MLEAF_INTERVAL_NS)
		return false;
	*tat += MLEAF_INTERVAL_NS;
	e->mleaf_answered++;
	return true;
}

/* a request past the rate: held for its turn, in place of one held before */
static void mleaf_hold(struct engine *e, unsigned int from, const struct gr_mleaf_req *r)
{
	if (e->mleaf_holds[from]) {
		e->mleaf_dropped++;
		if (gd_ratelimit(&e->rl))
			gd_warn("volume %s: Merkle leaf requests from %s past %u a second: dropped (%llu so far)",
				e->name, gd_cluster(e->d)->sites[from].name, MLEAF_RATE,
				(unsigned long long)e->mleaf_dropped);
	}
	e->mleaf_held[from] = *r;
	e->mleaf_holds[from] = true;
}

/* Any site: the leaves asked for, committed ones only, in one read. */
static void mleaf_answer(struct engine *e, unsigned int from, const struct gr_mleaf_req *r)
{
	struct gr_frame f = { .hdr.type = GR_FT_MLEAF, .hdr.version = GR_WIRE_VERSION_MLEAF };
	struct gr_status gs;
	uint8_t *leaves = NULL;
	uint64_t have;

	gr_status(e->n, &gs);
	have = e->mt ? gd_mtree_size(e->mt) : 0;
	have = have < gs.commit_seq ? have : gs.commit_seq;
	f.mleaf.first_seq = r->first_seq;
	f.mleaf.status = GR_MLEAF_UNAVAILABLE;
	if (r->first_seq <= have) {
		f.mleaf.count = have - r->first_seq + 1 < r->count ?
				have - r->first_seq + 1 : r->count;
		leaves = malloc((size_t)f.mleaf.count * GEOREP_LEAF_LEN);
		if (leaves && !gd_mtree_leaves(e->mt, r->first_seq, f.mleaf.count, leaves))
			f.mleaf.status = GR_MLEAF_OK;
	}
	if (f.mleaf.status != GR_MLEAF_OK)
		f.mleaf.count = 0;
	f.mleaf.leaves = leaves;
	eng_send_frame(e, from, &f);
	free(leaves);
}

/*
 * Leaves from @from that do not chain from ours, or do not decode (the
 * tree keeps those before them): that site is not asked again in this
 * fetch; the next one is, at once. When every other site did so, the tree
 * stops, saying why.
 */
static void mleaf_refuse(struct engine *e, unsigned int from, const struct gr_mleaf *m, int ret)
{
	struct eng_mleaf *mf = &e->mf;
	unsigned int i, left = 0, nsites = gd_cluster(e->d)->nsites;
	const char *why = ret == -EBADMSG ? "one does not chain from the leaf before it" :
			  strerror(-ret);

	mf->bad_sites |= 1ULL << from;
	for (i = 0; i < nsites; i++)
		left += i != gd_self(e->d) && gr_volume_replica(e->vol->cfg, i) &&
			!(mf->bad_sites & (1ULL << i));
	if (!left) {
		eng_mtree_stop(e, "leaves %llu+%u from %s: %s, and every other site's were refused too",
			       (unsigned long long)m->first_seq, m->count,
			       gd_cluster(e->d)->sites[from].name, why);
		mf->active = false;
		return;
	}
	gd_warn("volume %s: Merkle tree: leaves %llu+%u from %s refused: %s; asking another site",
		e->name, (unsigned long long)m->first_seq, m->count,
		gd_cluster(e->d)->sites[from].name, why);
	mf->answered = false;
	mf->asked = m->first_seq;
	mf->asked_ns = 0;		/* timed out: the next tick moves on */
	mf->next = overlap_start(e);
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
		mleaf_refuse(e, from, m, ret);
		return;
	}
	if (ret > 0)
		mf->leaves += ret;
	if (!ret && cut == UINT64_MAX && m->count < mf->asked_count) {
		/*
		 * only leaves the tree holds, fewer than asked (that site's
		 * committed tree ends there): asked again at once, it would
		 * answer the same, and the two sites would trade frames
		 * without end. In flight until it times out, then the next
		 * site. (As many as asked, all held: the batch asked from
		 * further back after -ESTALE; the next one goes on from the
		 * tree's end.)
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
	if (f->hdr.type != GR_FT_MLEAF_REQ)
		mleaf_take(e, from, &f->mleaf);
	else if (!e->mleaf_holds[from] && mleaf_turn(e, from, gr_now_ns()))
		mleaf_answer(e, from, &f->mleaf_req);
	else
		mleaf_hold(e, from, &f->mleaf_req);
	return 0;
}

/* each tick: the requests held whose turn came */
void eng_mleaf_serve(struct engine *e, uint64_t now)
{
	unsigned int i;

	for (i = 0; i < gd_cluster(e->d)->nsites; i++)
		if (e->mleaf_holds[i] && mleaf_turn(e, i, now)) {
			e->mleaf_holds[i] = false;
			mleaf_answer(e, i, &e->mleaf_held[i]);
		}
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
