// SPDX-License-Identifier: GPL-2.0
/*
 * The scrub (Documentation/proofs.rst, "Scrub"): the records the log still
 * holds, read back from the ledger and checked against the Merkle tree's
 * leaves: the header must encode to the leaf, chain from the previous
 * leaf, and the payload must hash to payload_hash. A site's signature on a
 * checkpoint says "my log holds these records"; the tree alone cannot say
 * that, since it was built when the records were appended and a log
 * device can be damaged or altered afterwards.
 *
 * The scrub runs in the engine's tick at "scrub_mib_s" of records while
 * the volume is idle and at a sixteenth of it while records flow (like
 * md's resync speed_limit_min and _max: it reads and hashes what the
 * writes already pay for, so it yields to them), in passes from the log's
 * tail to the tree's size; a pass starts at most every "scrub_pass_s"
 * (default 10). A damaged record it finds stands until a pass finds none (the record was released or repaired): meanwhile the site
 * signs and cosigns no checkpoint covering it, and serves no inclusion
 * proof of it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine_internal.h"

#define ENG_SCRUB_MAX_TICK_NS	(200ULL * 1000000)	/* budget carried, at most */
#define LEAF_CHAIN_OFF		112			/* chain_hash in a leaf */
#define ENG_SCRUB_BUSY_DIV	16			/* rate / this while writes flow */

/* what is wrong with @rec (header @hdr, @payload) against the tree, or NULL */
static const char *check_rec(struct engine *e, const struct georep_rec *rec, const uint8_t *hdr,
			     const uint8_t *payload)
{
	uint8_t leaf[GEOREP_LEAF_LEN], mine[GEOREP_LEAF_LEN], prev[GEOREP_LEAF_LEN];
	uint8_t h[GEOREP_HASH_LEN];

	if (gd_mtree_leaf(e->mt, rec->seq, mine))
		return "the tree has no leaf for it";
	georep_leaf_encode(rec, leaf);
	if (memcmp(leaf, mine, sizeof(leaf)))
		return "its header differs from its Merkle leaf";
	if (georep_payload_hash(payload, rec->payload_len, h) ||
	    memcmp(h, rec->payload_hash, sizeof(h)))
		return "its payload does not hash to the payload_hash of its leaf";
	if (rec->seq > 1 && !gd_mtree_leaf(e->mt, rec->seq - 1, prev) &&
	    (georep_chain_hash(prev + LEAF_CHAIN_OFF, hdr, h) ||
	     memcmp(h, rec->chain_hash, sizeof(h))))
		return "its header does not chain from the previous leaf";
	return NULL;
}

/*
 * Check records @seq.. (@count at most) in @buf, @n bytes from one ledger
 * read (or its -errno).
 * Return: records checked (>= 1), -EBADMSG with *@bad and @why set, or
 * -errno (-ERANGE: @seq was released).
 */
static int check_read(struct engine *e, uint64_t seq, uint32_t count, const uint8_t *buf,
		      ssize_t n, uint64_t *bytes, uint64_t *bad, char *why, size_t cap)
{
	const uint8_t *hdr, *payload;
	struct georep_rec rec;
	const char *what;
	size_t off = 0;
	int done;

	*bad = seq;
	if (n == -EIO || n == -EBADMSG) {
		snprintf(why, cap, "record %llu cannot be read back from this site's log: %s",
			 (unsigned long long)seq, strerror(-n));
		return -EBADMSG;
	}
	if (n < 0)
		return n;
	for (done = 0; (uint32_t)done < count &&
	     !georep_record_next(buf, n, &off, &rec, &hdr, &payload, NULL, 0); done++) {
		*bad = seq + done;
		if (rec.seq != *bad) {
			snprintf(why, cap, "record %llu: the ledger returned record %llu",
				 (unsigned long long)*bad, (unsigned long long)rec.seq);
			return -EBADMSG;
		}
		what = check_rec(e, &rec, hdr, payload);
		if (what) {
			snprintf(why, cap, "record %llu on this site's log: %s",
				 (unsigned long long)rec.seq, what);
			return -EBADMSG;
		}
		*bytes += GEOREP_RECORD_HDR_SIZE + rec.payload_len;
	}
	return done ? done : -ENODATA;
}

/**
 * eng_scrub_record() - read record @seq back and check it against its leaf
 *
 * On the loop, for a request that needs the answer at once; the scrub's
 * passes read on the reader thread.
 * Return: 0, -EBADMSG (damaged, @why says how), -ERANGE (released) or -errno.
 */
int eng_scrub_record(struct engine *e, uint64_t seq, char *why, size_t cap)
{
	uint64_t bytes = 0, bad;
	int ret;

	if (!e->mt)
		return -ENODATA;
	ret = check_read(e, seq, 1, e->buf, eng_read_upto(e, seq, 0), &bytes, &bad, why, cap);
	return ret < 0 ? ret : 0;
}

static void found(struct engine *e, uint64_t seq, const char *why)
{
	if (!e->scrub.pass_bad)
		e->scrub.pass_bad = seq;
	if (e->scrub.bad && e->scrub.bad <= seq)
		return;
	e->scrub.bad = seq;
	e->scrub.damaged++;
	snprintf(e->scrub.why, sizeof(e->scrub.why), "%s", why);
	gd_err("volume %s: scrub: %s; this site vouches for no checkpoint from %llu on",
	       e->name, why, (unsigned long long)seq);
}

/* a pass reached the tree's end: what it found replaces what was known */
static void pass_end(struct engine *e)
{
	if (e->scrub.bad && !e->scrub.pass_bad)
		gd_info("volume %s: scrub: no damaged record in the log any more (record %llu "
			"was)", e->name, (unsigned long long)e->scrub.bad);
	e->scrub.bad = e->scrub.pass_bad;
	if (!e->scrub.bad)
		e->scrub.why[0] = 0;
	e->scrub.pass_bad = 0;
	e->scrub.passes++;
	e->scrub.next = 0;
}

/* passes start this far apart: "scrub_pass_s" of the volume's checkpoint */
static uint64_t pass_ns(const struct engine *e)
{
	return (uint64_t)e->vol->cfg->scrub_pass_s * 1000000000ULL;
}

/* the next record to check, 0 when there is nothing to check now */
static uint64_t cursor(struct engine *e, uint64_t now, const struct gd_ledger_status *st,
		       uint64_t end)
{
	if (!e->scrub.next) {
		if (e->scrub.pass_ns && now - e->scrub.pass_ns < pass_ns(e))
			return 0;
		e->scrub.next = st->tail_seq ? st->tail_seq : 1;
		e->scrub.pass_ns = now;
	}
	if (e->scrub.next < st->tail_seq)
		e->scrub.next = st->tail_seq;		/* released meanwhile */
	if (e->scrub.next <= end)
		return e->scrub.next;
	/* at the end: wait there for new records until the next pass is due */
	if (now - e->scrub.pass_ns >= pass_ns(e))
		pass_end(e);
	return 0;
}

/*
 * Bytes the scrub may read now: credit earned at the rate since the last
 * tick (ENG_SCRUB_MAX_TICK_NS worth at most), less what it overspent (one
 * record of 1 MiB can be far more than a tick's share).
 */
static int64_t earn(struct engine *e, uint64_t now)
{
	uint64_t rate = (uint64_t)e->vol->cfg->scrub_mib_s << 20, dt = now - e->scrub.last_ns;
	int64_t cap;

	e->scrub.last_ns = now;
	if (e->proposed + e->appended != e->scrub.io_seen) {
		e->scrub.io_seen = e->proposed + e->appended;
		rate /= ENG_SCRUB_BUSY_DIV;	/* writes flow: yield to them */
	}
	cap = rate / 1000 * (ENG_SCRUB_MAX_TICK_NS / 1000000);
	if (dt > ENG_SCRUB_MAX_TICK_NS)
		dt = ENG_SCRUB_MAX_TICK_NS;
	e->scrub.credit += rate / 1000 * (dt / 1000000);
	if (e->scrub.credit > cap)
		e->scrub.credit = cap;
	return e->scrub.credit;
}

static void scrub_done(void *arg, uint64_t seq, void *buf, ssize_t n);

/* Return: 0 once posted, -EBUSY (the pump reads: its end posts it), -ENOMEM */
static int scrub_read_post(struct engine *e)
{
	size_t lim;

	if (e->scrub.rlim < ENG_READ_MIN)
		e->scrub.rlim = ENG_READ_MIN;
	lim = e->scrub.rlim;
	if (gd_reader_busy(&e->rd)) {
		e->scrub.want = true;
		return -EBUSY;
	}
	if (e->scrub.rbuf_len < lim) {
		uint8_t *p = realloc(e->scrub.rbuf, lim);

		if (!p)
			return -ENOMEM;
		e->scrub.rbuf = p;
		e->scrub.rbuf_len = lim;
	}
	e->scrub.want = false;
	e->scrub.reading = true;
	return gd_reader_submit(&e->rd, eng_read_now, scrub_done, e, e->scrub.rseq, e->scrub.rbuf,
				lim);
}

/* the read of the batch at rseq came back: check it, then read on */
static void scrub_done(void *arg, uint64_t seq, void *buf, ssize_t n)
{
	struct engine *e = arg;
	char why[sizeof(e->scrub.why)];
	uint64_t bytes = 0, bad;
	int ret;

	e->scrub.reading = false;
	if (!e->mt || !e->vol->cfg->scrub_mib_s)
		goto out;
	if ((n == -EMSGSIZE && e->scrub.rlim < ENG_READ_MAX) ||
	    ((n == -EIO || n == -EBADMSG) && e->scrub.rcount > 1)) {
		/* a larger record; or which record of the batch is bad? */
		if (n == -EMSGSIZE)
			e->scrub.rlim *= 2;
		else
			e->scrub.rcount = 1;
		if (!scrub_read_post(e))
			return;
		goto out;
	}
	ret = check_read(e, seq, e->scrub.rcount, buf, n, &bytes, &bad, why, sizeof(why));
	e->scrub.credit -= bytes;
	e->scrub.bytes += bytes;
	if (ret == -EBADMSG) {
		found(e, bad, why);
		ret = bad - seq + 1;	/* go on after it */
	}
	if (ret == -ERANGE)
		goto out;	/* released: the next tick's cursor() starts at the tail */
	if (ret < 0) {
		if (gd_ratelimit(&e->rl))
			gd_warn("volume %s: scrub: reading record %llu: %s", e->name,
				(unsigned long long)seq, strerror(-ret));
		goto out;
	}
	e->scrub.next = seq + ret;
	e->scrub.checked += ret;
out:
	engine_pump(e);		/* the reader is free */
}

/* the next batch: as many records as the credit's bytes hold (one at least) */
static void scrub_post(struct engine *e)
{
	struct gd_ledger_status st;
	uint64_t seq, end, now = gr_now_ns();

	if (e->scrub.reading || e->lg->ops->status(e->lg, &st))
		return;
	end = gd_mtree_size(e->mt) < st.written_seq ? gd_mtree_size(e->mt) : st.written_seq;
	seq = cursor(e, now, &st, end);
	if (!seq)
		return;
	e->scrub.rseq = seq;
	e->scrub.rcount = end - seq + 1 > UINT32_MAX ? UINT32_MAX : end - seq + 1;
	e->scrub.rlim = e->scrub.rcount > 1 ? e->scrub.credit : 0;
	scrub_read_post(e);
}

/*
 * The scrub reads on the reader thread (reader.h): a damaged or slow disk
 * must not hold the loop. A batch waits while the pump reads; pump_done()
 * posts it (scrub.want).
 */
void eng_scrub_tick(struct engine *e, uint64_t now)
{
	struct gd_ledger_status st;

	if (!e->vol->cfg->scrub_mib_s || !e->mt || e->lg->ops->status(e->lg, &st)) {
		e->scrub.last_ns = now;
		e->scrub.credit = 0;
		return;
	}
	if (e->scrub.reading || earn(e, now) <= 0)
		return;
	scrub_post(e);
}

/* after the pump's read: the batch that waited for the reader */
void eng_scrub_wanted(struct engine *e)
{
	if (e->scrub.want && !e->scrub.reading)
		scrub_read_post(e);
}

/* NULL, or why this site must not vouch for a tree of @size records */
const char *eng_scrub_damage(const struct engine *e, uint64_t size)
{
	return e->scrub.bad && e->scrub.bad <= size ? e->scrub.why : NULL;
}

json_t *eng_scrub_status(const struct engine *e)
{
	json_t *o = json_pack("{s:I, s:I, s:I, s:I, s:I, s:I}",
			      "mib_s", (json_int_t)e->vol->cfg->scrub_mib_s,
			      "pass_s", (json_int_t)e->vol->cfg->scrub_pass_s,
			      "passes", (json_int_t)e->scrub.passes,
			      "checked", (json_int_t)e->scrub.checked,
			      "bytes", (json_int_t)e->scrub.bytes,
			      "next", (json_int_t)e->scrub.next);

	if (o && e->scrub.bad)
		json_object_set_new(o, "damaged", json_pack("{s:I, s:s}", "seq",
							    (json_int_t)e->scrub.bad,
							    "why", e->scrub.why));
	return o;
}
