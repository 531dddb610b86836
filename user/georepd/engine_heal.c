// SPDX-License-Identifier: GPL-2.0
/*
 * Healing a fork: after a deposed primary's suffix was truncated (kept in a
 * fork file, engine_role.c), its data device still holds the blocks those
 * records wrote. Every such block X is brought to its content in the
 * leader's history, and only then is the ledger's DIVERGED cleared and the
 * replica counted as in sync. Documentation/replication.rst ("Healing a
 * fork") has the algorithm and why it is correct; in short, with s the
 * fork point (the last record kept):
 *
 *  - replica: X is healed by a record of its own log after s that writes
 *    it (once applied), else by the leader's content of X (HEAL_REQ);
 *  - leader (engine_heal_serve.c): reads X, writes a NOOP (every record
 *    whose data write could have raced with the read is now below the
 *    NOOP's seq n), scans its records s+1..n: none writes X: HEAL DATA (X
 *    is as of s), else HEAL SUPERSEDED by the last such record r;
 *  - replica, on DATA: a record of its own log after s writes X: nothing
 *    to do (the record heals it); else it writes the content (DATA_WRITE).
 *    On SUPERSEDED(r): healed once it applied r.
 *
 * The daemon is single-threaded: no record is appended between the check
 * of the replica's log and the data write. <state-dir>/<volume>.heal
 * ({"fork_seq", "forks": [paths]}, written before the truncation) makes a
 * heal resume after a restart; the blocks come from the fork files.
 * While a heal is pending the replica does not tick its consensus core
 * (it never starts an election) and ignores TIMEOUT_NOW (a switchover to
 * it fails): it keeps voting and acknowledging, it never leads.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine_internal.h"

#define HEAL_READ_BUF	(4U << 20)

enum { HB_PENDING, HB_ASKED, HB_WAIT, HB_DONE };

static void heal_path(const struct engine *e, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%s.heal", gd_statedir_path(e->d->sd), e->name);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* the 4 KiB blocks a record writes (write, write-zeroes, discard) */
bool eng_rec_blocks(const struct georep_rec *rec, uint64_t *first, uint64_t *last)
{
	if ((rec->op != GEOREP_OP_WRITE && rec->op != GEOREP_OP_WRITE_ZEROES &&
	     rec->op != GEOREP_OP_DISCARD) || !rec->len)
		return false;
	*first = rec->lba * 512 / GEOREP_BLOCK_SIZE;
	*last = (rec->lba * 512 + rec->len - 1) / GEOREP_BLOCK_SIZE;
	return true;
}

static int push_block(struct heal *h, uint64_t b, size_t *cap)
{
	struct heal_blk *p;

	if (h->nblk == *cap) {
		*cap = *cap ? 2 * *cap : 256;
		p = realloc(h->blk, *cap * sizeof(*p));
		if (!p)
			return -ENOMEM;
		h->blk = p;
	}
	memset(&h->blk[h->nblk], 0, sizeof(h->blk[0]));
	h->blk[h->nblk++].block = b;
	return 0;
}

/* Add the blocks the records of fork file @path write. */
static int fork_blocks(struct heal *h, const char *path, size_t *cap)
{
	size_t have = 0, off;
	uint8_t *buf = malloc(HEAL_READ_BUF);
	int fd, ret = 0;
	bool eof = false;

	if (!buf)
		return -ENOMEM;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		free(buf);
		return -errno;
	}
	while (!eof || have) {
		struct georep_rec rec;
		const uint8_t *hdr, *payload;
		uint64_t b, first, last;
		ssize_t n = 0;

		if (!eof) {
			n = read(fd, buf + have, HEAL_READ_BUF - have);
			if (n < 0) {
				ret = -errno;
				break;
			}
			eof = !n;
			have += n;
		}
		off = 0;
		while (!georep_record_next(buf, have, &off, &rec, &hdr, &payload, NULL, 0)) {
			if (!eng_rec_blocks(&rec, &first, &last))
				continue;
			for (b = first; b <= last && !ret; b++)
				ret = push_block(h, b, cap);
		}
		if (ret)
			break;
		if (!off && (eof || have == HEAL_READ_BUF)) {
			if (have)
				ret = -EBADMSG;	/* a torn record or not a fork file */
			break;
		}
		memmove(buf, buf + off, have - off);
		have -= off;
	}
	close(fd);
	free(buf);
	return ret;
}

/* (Re)build the block list from the fork files; every block pending. */
static int heal_build(struct engine *e)
{
	struct heal *h = &e->heal;
	size_t cap = 0, i, j, k;
	json_t *p;
	int ret;

	free(h->blk);
	h->blk = NULL;
	h->nblk = 0;
	json_array_foreach(h->forks, i, p) {
		ret = fork_blocks(h, json_string_value(p), &cap);
		if (ret) {
			gd_err("volume %s: heal: fork file %s: %s", e->name,
			       json_string_value(p), strerror(-ret));
			return ret;
		}
	}
	qsort(h->blk, h->nblk, sizeof(h->blk[0]), cmp_u64);
	for (i = j = 0; i < h->nblk; i = k) {
		for (k = i + 1; k < h->nblk && h->blk[k].block == h->blk[i].block; k++)
			;
		h->blk[j++] = h->blk[i];
	}
	h->nblk = j;
	h->scanned = h->fork_seq;
	h->leader = 0;
	h->asked_ns = 0;
	return 0;
}

static int heal_save(struct engine *e)
{
	char path[4200], tmp[4210];
	json_t *o = json_pack("{s:I, s:O}", "fork_seq", (json_int_t)e->heal.fork_seq,
			      "forks", e->heal.forks);
	int fd, ret = 0;

	if (!o)
		return -ENOMEM;
	heal_path(e, path, sizeof(path));
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		ret = -errno;
		goto out_free;
	}
	if (json_dumpfd(o, fd, JSON_COMPACT) || fsync(fd))
		ret = -EIO;
	close(fd);
	if (!ret && rename(tmp, path))
		ret = -errno;
	if (!ret) {
		fd = open(gd_statedir_path(e->d->sd), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd >= 0) {
			if (fsync(fd))
				ret = -errno;
			close(fd);
		}
	}
out_free:
	json_decref(o);
	return ret;
}

static void heal_stop(struct engine *e)
{
	char path[4200];

	heal_path(e, path, sizeof(path));
	if (unlink(path) && errno != ENOENT)
		gd_warn("volume %s: cannot remove %s: %s", e->name, path, strerror(errno));
	json_decref(e->heal.forks);
	free(e->heal.blk);
	memset(&e->heal, 0, sizeof(e->heal));
}

/*
 * Before truncating after @seq: the blocks of fork file @path must be
 * healed. Persisted first, so that a crash between here and the end of
 * the heal resumes it. Return: 0 or -errno (the truncation then waits).
 */
int eng_heal_add(struct engine *e, const char *path, uint64_t seq)
{
	struct heal *h = &e->heal;
	int ret;

	if (!h->forks) {
		h->forks = json_array();
		if (!h->forks)
			return -ENOMEM;
		h->fork_seq = seq;
	}
	if (json_array_append_new(h->forks, json_string(path)))
		return -ENOMEM;
	if (seq < h->fork_seq)
		h->fork_seq = seq;
	ret = heal_save(e);
	if (ret) {
		gd_err("volume %s: cannot save the heal state: %s", e->name, strerror(-ret));
		return ret;
	}
	ret = heal_build(e);
	if (ret)
		return ret;
	h->active = true;
	gd_warn("volume %s: healing %zu blocks of fork %s (fork point %llu)", e->name, h->nblk,
		path, (unsigned long long)h->fork_seq);
	return 0;
}

/* At start: resume a heal a restart interrupted. */
int eng_heal_load(struct engine *e)
{
	struct heal *h = &e->heal;
	char path[4200];
	json_error_t je;
	json_int_t seq;
	json_t *o, *forks;
	int ret;

	heal_path(e, path, sizeof(path));
	o = json_load_file(path, 0, &je);
	if (!o)
		return access(path, F_OK) ? 0 : -EBADMSG;
	if (json_unpack(o, "{s:I, s:o}", "fork_seq", &seq, "forks", &forks) ||
	    !json_is_array(forks)) {
		json_decref(o);
		return -EBADMSG;
	}
	h->forks = json_incref(forks);
	h->fork_seq = seq;
	json_decref(o);
	ret = heal_build(e);
	if (ret)
		return ret;
	h->active = true;
	gd_warn("volume %s: resuming the heal of %zu blocks (fork point %llu)", e->name,
		h->nblk, (unsigned long long)h->fork_seq);
	return 0;
}

/* A full resync copied the whole data device: nothing left to heal. */
void eng_heal_resynced(struct engine *e)
{
	int ret;

	if (!e->heal.active && !e->diverged_orphan)
		return;
	ret = e->lg->ops->clear_diverged(e->lg);
	if (ret) {
		gd_err("volume %s: clear diverged after the resync: %s", e->name, strerror(-ret));
		return;
	}
	gd_info("volume %s: the full resync also healed the fork", e->name);
	e->diverged_orphan = false;
	if (e->heal.active)
		heal_stop(e);
}

/* failover --force at this site: take the data device as it is */
void eng_heal_abandon(struct engine *e)
{
	if (!e->heal.active && !e->diverged_orphan)
		return;
	gd_warn("volume %s: heal abandoned (%zu blocks): they may differ from the other sites",
		e->name, e->heal.nblk);
	e->lg->ops->clear_diverged(e->lg);
	e->diverged_orphan = false;
	if (e->heal.active)
		heal_stop(e);
}

static struct heal_blk *find_blk(struct heal *h, uint64_t block)
{
	size_t lo = 0, hi = h->nblk;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (h->blk[mid].block == block)
			return &h->blk[mid];
		if (h->blk[mid].block < block)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* Replica: @rec, the record after h->scanned, heals the blocks it writes */
static void heal_see(struct heal *h, const struct georep_rec *rec)
{
	uint64_t b, first, last;

	h->scanned = rec->seq;
	if (!eng_rec_blocks(rec, &first, &last))
		return;
	for (b = first; b <= last; b++) {
		struct heal_blk *x = find_blk(h, b);

		if (x && x->state != HB_DONE) {
			x->state = HB_WAIT;
			x->wait_seq = rec->seq;
		}
	}
}

/*
 * Replica: a record it appended (durable). The records that follow the
 * fork point arrive this way, so the heal sees them without reading its
 * log back (a slow disk would hold the loop); heal_scan() reads only
 * what this did not see (records of before a restart).
 */
void eng_heal_appended(struct engine *e, const struct georep_rec *rec)
{
	if (e->heal.active && rec->seq == e->heal.scanned + 1)
		heal_see(&e->heal, rec);
}

/*
 * Replica: records of its own log after the last scan (and after the fork
 * point) that write a block to heal: that record heals it once applied.
 */
static int heal_scan(struct engine *e, uint64_t written)
{
	struct heal *h = &e->heal;

	while (h->scanned < written) {
		ssize_t n = e->lg->ops->read(e->lg, h->scanned + 1, e->buf, e->bufcap);
		struct georep_rec rec;
		const uint8_t *hdr, *payload;
		size_t off = 0;

		if (n == -EMSGSIZE && !eng_ensure_buf(e, e->bufcap * 2))
			continue;
		if (n <= 0)
			return n ? (int)n : -EIO;
		e->heal_scan_reads++;
		while (!georep_record_next(e->buf, n, &off, &rec, &hdr, &payload, NULL, 0)) {
			if (rec.seq != h->scanned + 1)
				return -EIO;
			heal_see(h, &rec);
		}
	}
	return 0;
}

static void heal_finish(struct engine *e, const struct gd_ledger_status *st)
{
	int ret = e->lg->ops->clear_diverged(e->lg);

	if (ret) {
		if (gd_ratelimit(&e->rl))
			gd_warn("volume %s: heal done, clear diverged: %s", e->name,
				strerror(-ret));
		return;
	}
	gd_info("volume %s: fork healed (%zu blocks, fork point %llu): in sync", e->name,
		e->heal.nblk, (unsigned long long)e->heal.fork_seq);
	gd_event(e->d, "healed", json_pack("{s:s, s:I, s:I}", "volume", e->name,
					   "fork_seq", (json_int_t)e->heal.fork_seq,
					   "blocks", (json_int_t)e->heal.nblk));
	e->heals_done++;
	heal_stop(e);
}

/*
 * Replica: a heal that has not ended within ENG_HEAL_REPORT_NS says where
 * it stands, once per ENG_HEAL_REPORT_NS: what each block waits for, and
 * what the leader answered.
 */
static void heal_report(struct engine *e, uint64_t now)
{
	struct heal *h = &e->heal;
	size_t i, n[HB_DONE + 1] = { 0 };
	const char *leader;

	if (!h->since_ns) {
		h->since_ns = now;
		h->reported_ns = now;
	}
	if (now - h->reported_ns < ENG_HEAL_REPORT_NS)
		return;
	h->reported_ns = now;
	for (i = 0; i < h->nblk; i++)
		n[h->blk[i].state]++;
	leader = e->leader ? eng_site_name(e, e->leader) : NULL;
	gd_warn("volume %s: fork heal (fork point %llu) not done after %llu s: blocks %zu to ask, %zu asked, %zu waiting for a record, %zu done; leader %s%s; %llu requests, answers %llu data, %llu superseded, %llu unavailable, %llu ignored",
		e->name, (unsigned long long)h->fork_seq,
		(unsigned long long)((now - h->since_ns) / 1000000000ULL), n[HB_PENDING],
		n[HB_ASKED], n[HB_WAIT], n[HB_DONE], leader ?: "unknown",
		e->rs_in.active ? ", a full resync in progress" : "",
		(unsigned long long)h->requests, (unsigned long long)h->ans_data,
		(unsigned long long)h->ans_superseded, (unsigned long long)h->ans_unavailable,
		(unsigned long long)h->ans_ignored);
}

/* Replica, every tick: scan, ask the leader, finish. */
void eng_heal_tick(struct engine *e, uint64_t now)
{
	struct heal *h = &e->heal;
	struct gd_ledger_status st;
	uint64_t list[GR_HEAL_MAX_BLOCKS];
	struct gr_frame f = { .hdr.type = GR_FT_HEAL_REQ };
	uint32_t count = 0;
	bool done = true;
	int site, ret;
	size_t i;

	if (h->active)
		heal_report(e, now);
	if (!h->active || e->rs_in.active || e->role == GR_LEADER || e->failed ||
	    e->lg->ops->status(e->lg, &st))
		return;
	if (st.written_seq < h->scanned)
		h->scanned = st.written_seq < h->fork_seq ? st.written_seq : h->fork_seq;
	ret = heal_scan(e, st.written_seq);
	if (ret && gd_ratelimit(&e->rl))
		gd_warn("volume %s: heal: reading the log: %s", e->name, strerror(-ret));
	if (h->leader != e->leader) {
		/* a new leader may not hold what the old one answered */
		for (i = 0; i < h->nblk; i++)
			if (h->blk[i].state == HB_ASKED ||
			    (h->blk[i].state == HB_WAIT && h->blk[i].wait_seq > st.written_seq))
				h->blk[i].state = HB_PENDING;
		h->leader = e->leader;
		h->asked_ns = 0;
	}
	for (i = 0; i < h->nblk; i++) {
		struct heal_blk *x = &h->blk[i];

		if (x->state == HB_WAIT && x->wait_seq <= st.applied_seq &&
		    x->wait_seq <= st.written_seq)
			x->state = HB_DONE;
		if (x->state != HB_DONE)
			done = false;
		if (x->state == HB_ASKED && now - h->asked_ns > ENG_HEAL_RETRY_NS)
			x->state = HB_PENDING;
		if (x->state == HB_PENDING && count < GR_HEAL_MAX_BLOCKS)
			list[count++] = x->block;
	}
	if (done && st.applied_seq >= h->fork_seq) {
		heal_finish(e, &st);
		return;
	}
	site = e->leader ? eng_site_index(e, e->leader) : -1;
	if (!count || site < 0 || !gd_peer_up(e->d, site) ||
	    now - h->asked_ns < ENG_HEAL_RETRY_NS / 4)
		return;
	f.heal_req.fork_seq = h->fork_seq;
	f.heal_req.count = count;
	f.heal_req.list = list;
	eng_send_frame(e, site, &f);
	for (i = 0; i < h->nblk; i++)
		if (h->blk[i].state == HB_PENDING && count) {
			h->blk[i].state = HB_ASKED;
			count--;
		}
	h->asked_ns = now;
	h->requests++;
}

/* Replica: one answer of the leader. */
static int heal_answer(struct engine *e, unsigned int from, const struct gr_heal *a)
{
	struct heal *h = &e->heal;
	struct gd_ledger_status st;
	struct heal_blk *x;
	int ret;

	if (!h->active)
		return 0;
	x = find_blk(h, a->block);
	if (a->fork_seq != h->fork_seq || !e->leader ||
	    eng_site_index(e, e->leader) != (int)from || !x || x->state != HB_ASKED) {
		h->ans_ignored++;	/* stale: asked again later */
		return 0;
	}
	if (a->status == GR_HEAL_UNAVAILABLE) {
		h->ans_unavailable++;
		x->state = HB_PENDING;
		return 0;
	}
	if (a->status == GR_HEAL_SUPERSEDED)
		h->ans_superseded++;
	else
		h->ans_data++;
	ret = e->lg->ops->status(e->lg, &st) ?: heal_scan(e, st.written_seq);
	if (ret)
		return 0;
	if (x->state == HB_WAIT)
		return 0;	/* a record of our own log writes it */
	if (a->status == GR_HEAL_SUPERSEDED) {
		x->state = HB_WAIT;
		x->wait_seq = a->seq;
		return 0;
	}
	ret = e->lg->ops->data_write(e->lg, a->block * GEOREP_BLOCK_SIZE, a->data, a->length,
				     &a->seal);
	if (ret) {
		if (gd_ratelimit(&e->rl))
			gd_warn("volume %s: heal write of block %llu: %s", e->name,
				(unsigned long long)a->block, strerror(-ret));
		x->state = HB_PENDING;
		return 0;
	}
	x->state = HB_DONE;
	h->written++;
	return 0;
}

int eng_heal_frame(struct engine *e, unsigned int from, const struct gr_frame *f)
{
	if (f->hdr.type == GR_FT_HEAL_REQ)
		return eng_heal_request(e, from, &f->heal_req);
	return heal_answer(e, from, &f->heal);
}

json_t *eng_heal_status(const struct engine *e)
{
	const struct heal *h = &e->heal;
	size_t i, pending = 0, waiting = 0;

	if (!h->active)
		return json_null();
	for (i = 0; i < h->nblk; i++) {
		if (h->blk[i].state == HB_WAIT)
			waiting++;
		else if (h->blk[i].state != HB_DONE)
			pending++;
	}
	return json_pack("{s:I, s:O, s:I, s:I, s:I, s:I, s:I, s:{s:I, s:I, s:I, s:I}}",
			 "fork_seq", (json_int_t)h->fork_seq, "forks", h->forks,
			 "blocks", (json_int_t)h->nblk, "pending", (json_int_t)pending,
			 "waiting_records", (json_int_t)waiting,
			 "written", (json_int_t)h->written,
			 "requests", (json_int_t)h->requests, "answers",
			 "data", (json_int_t)h->ans_data,
			 "superseded", (json_int_t)h->ans_superseded,
			 "unavailable", (json_int_t)h->ans_unavailable,
			 "ignored", (json_int_t)h->ans_ignored);
}
