// SPDX-License-Identifier: GPL-2.0
/*
 * Crash recovery on attach, and ledger verification.
 *
 * Recovery walks the log forward from the tail the superblock names,
 * following the wrap rule of log.c: the record after one that ends at
 * area offset o is the record with the expected seq at o, or, failing
 * that, at area offset 0. A candidate is accepted when its header is
 * well formed (magic, version, uuid, seq) and its payload hash, chain hash
 * and seal all check.
 *
 * Where the walk stops decides between a torn tail and corruption:
 *
 *  - a candidate that does not parse (no record with the expected seq at
 *    either place) ends the log: the torn tail, unless its seq is at or
 *    below the persisted head hint (superblock head_seq), which was
 *    durable;
 *  - a parsed candidate whose payload hash, chain hash or seal fails is
 *    corruption when its seq is at or below the head hint, or (chain and
 *    seal only) when the next record chains from it and verifies: a
 *    header block is written whole, so a record whose own header does not
 *    verify but is followed by a valid record was damaged after it was
 *    written. A payload that does not match beyond the head hint is taken
 *    for a torn write: the log is written with concurrent I/O, and a power
 *    cut may leave record N's payload unwritten while N+1 is complete
 *    (neither was acknowledged, writes complete in seq order);
 *  - beyond the head hint, a candidate whose chain fails while its seal
 *    verifies is a record of another history (left behind by writes cut
 *    before their flush, then partly overwritten): the torn tail, whatever
 *    follows it.
 *
 * Corruption fails the attach with -EBADMSG and names the seq.
 */
#include <linux/netlink.h>

#include "vol.h"

enum cand {
	CAND_NONE,		/* no record with the expected seq here */
	CAND_OK,
	CAND_PAYLOAD,
	CAND_CHAIN,
	CAND_SEAL,
	CAND_NOKEY,		/* sealed with an epoch that is not installed */
};

static const char *const cand_what[] = {
	[CAND_NONE]	= "header",
	[CAND_OK]	= "",
	[CAND_PAYLOAD]	= "payload hash",
	[CAND_CHAIN]	= "chain",
	[CAND_SEAL]	= "seal",
	[CAND_NOKEY]	= "seal key",
};

/* what a probe found out beyond its enum cand, for messages */
struct probe {
	const char *why;	/* CAND_NONE: the first bad header field */
	u32 epoch;		/* CAND_NOKEY: the missing epoch */
};

/* payload hash, chain and seal of a record read into @rec */
static enum cand check_record(struct georep_volume *vol,
			      const struct georep_record *rec, const u8 *prev)
{
	u8 hash[GEOREP_HASH_LEN];
	int ret;

	if (georep_payload_hash_buf(vol, (const u8 *)rec + GEOREP_BLOCK_SIZE,
				    le32_to_cpu(rec->payload_len), hash) ||
	    memcmp(hash, rec->payload_hash, GEOREP_HASH_LEN))
		return CAND_PAYLOAD;
	if (georep_chain_hash(vol, prev, rec, hash) ||
	    memcmp(hash, rec->chain_hash, GEOREP_HASH_LEN))
		return CAND_CHAIN;
	ret = georep_seal_check(vol, rec);
	if (ret == -ENOKEY)
		return CAND_NOKEY;
	if (ret)
		return CAND_SEAL;
	return CAND_OK;
}

/* is the record @seq at @lsn? Reads it whole into @buf. */
static int check_at(struct georep_volume *vol, u64 lsn, u64 seq,
		    const u8 *prev, void *buf, u32 *nblocks, struct probe *pr)
{
	struct georep_record *rec = buf;
	u32 nb;
	int ret;

	pr->why = NULL;
	pr->epoch = 0;
	ret = georep_log_read_record(vol, lsn, 1, buf);
	if (ret)
		return ret;
	pr->why = georep_record_header_error(vol, rec);
	if (!pr->why && le64_to_cpu(rec->seq) != seq)
		pr->why = "seq is not the expected one";
	if (pr->why)
		return CAND_NONE;
	/* header_error() bounds payload_len: nb fits the buffer */
	nb = georep_record_blocks(rec);
	if (lsn % vol->area_blocks + nb > vol->area_blocks) {
		pr->why = "payload_len crosses the end of the area";
		return CAND_NONE;
	}
	if (nb > 1) {
		ret = georep_log_read_record(vol, lsn + 1, nb - 1,
					     (u8 *)buf + GEOREP_BLOCK_SIZE);
		if (ret)
			return ret;
	}
	*nblocks = nb;
	pr->epoch = le32_to_cpu(rec->seal_epoch);
	return check_record(vol, rec, prev);
}

/* the next lap's first lsn, or 0 when @lsn already starts a lap */
static u64 lap_start(struct georep_volume *vol, u64 lsn)
{
	u64 off = lsn % vol->area_blocks;

	return off ? lsn + vol->area_blocks - off : 0;
}

/*
 * Find record @seq after a record ending at @lsn: at @lsn, or at the
 * start of the next lap. Return: CAND_OK with *at set, the failure of the
 * candidate that parsed (*at set), CAND_NONE (pr->why from @lsn), or
 * -errno.
 */
static int find_next(struct georep_volume *vol, u64 lsn, u64 seq,
		     const u8 *prev, void *buf, u64 *at, u32 *nblocks,
		     struct probe *pr)
{
	u64 alt = lap_start(vol, lsn);
	struct probe pr2;
	int r1, r2;

	r1 = check_at(vol, lsn, seq, prev, buf, nblocks, pr);
	if (r1 < 0 || r1 == CAND_OK) {
		*at = lsn;
		return r1;
	}
	if (!alt)
		return r1;
	r2 = check_at(vol, alt, seq, prev, buf, nblocks, &pr2);
	if (r2 < 0 || r2 == CAND_OK || (r1 == CAND_NONE && r2 != CAND_NONE)) {
		*at = alt;
		*pr = pr2;
		return r2;
	}
	if (r1 == CAND_NONE)
		return r1;
	/* the one at lsn parsed but failed: read it back for the caller */
	*at = lsn;
	return check_at(vol, lsn, seq, prev, buf, nblocks, pr);
}

static int bad_record(struct georep_volume *vol, u64 seq, int what,
		      const struct probe *pr, u64 *bad_seq,
		      struct netlink_ext_ack *extack)
{
	*bad_seq = seq;
	if (what == CAND_NONE && pr->why) {
		georep_extack_fmt(extack, "record %llu failed its header check: %s",
				  seq, pr->why);
		pr_err("%s: record %llu failed its header check: %s\n",
		       vol->name, seq, pr->why);
		return -EBADMSG;
	}
	georep_extack_fmt(extack, "record %llu failed its %s check",
			  seq, cand_what[what]);
	pr_err("%s: record %llu failed its %s check\n", vol->name, seq,
	       cand_what[what]);
	return -EBADMSG;
}

/*
 * A record sealed with an epoch that is not installed cannot be verified,
 * and is not a torn write either (a header block is written whole): refuse
 * the attach rather than end the log there and drop it with what follows.
 */
static int missing_key(struct georep_volume *vol, u64 seq, u32 epoch,
		       u64 *bad_seq, struct netlink_ext_ack *extack)
{
	*bad_seq = seq;
	vol->missing_epoch = epoch;
	georep_extack_fmt(extack, "record %llu: seal key epoch %u is not installed",
			  seq, epoch);
	pr_notice("%s: record %llu is sealed with key epoch %u, which is not installed\n",
		  vol->name, seq, epoch);
	return -ENOKEY;
}

/* the seq fields of the superblock, beyond what georep_sb_read() checked */
static int sb_seqs_check(struct georep_volume *vol,
			 const struct georep_superblock *sb,
			 struct netlink_ext_ack *extack)
{
	u64 tail = le64_to_cpu(sb->tail_seq);
	u64 head = le64_to_cpu(sb->head_seq);

	if (tail && head + 1 < tail) {
		georep_extack_fmt(extack, "superblock head_seq %llu below tail_seq %llu",
				  head, tail);
		pr_err("%s: superblock head_seq %llu is below tail_seq %llu\n",
		       vol->name, head, tail);
		return -EINVAL;
	}
	if (tail == U64_MAX) {
		NL_SET_ERR_MSG(extack, "superblock tail_seq out of range");
		return -EINVAL;
	}
	return 0;
}

/*
 * Record @seq, expected at @at, did not check (@r, @pr): corruption, a
 * missing seal key, or the torn tail. Return: 0 for the torn tail (the log
 * ends before @seq), else -errno with the message set.
 */
static int walk_stop(struct georep_volume *vol, u64 seq, int r, u64 at,
		     u32 nb, const struct probe *pr, u64 head_hint,
		     u64 *bad_seq, struct netlink_ext_ack *extack)
{
	struct georep_record *rec = vol->read_buf;
	u8 chain[GEOREP_HASH_LEN];
	struct probe pr2;
	u32 nblocks;
	u64 at2;

	if (r == CAND_NOKEY)
		return missing_key(vol, seq, pr->epoch, bad_seq, extack);
	if (seq <= head_hint)
		return bad_record(vol, seq, r, pr, bad_seq, extack);
	if (r != CAND_CHAIN && r != CAND_SEAL)
		return 0;
	/*
	 * Its chain fails but its seal, which covers the chain hash, verifies:
	 * written whole, in another history. A group of appends cut before
	 * its flush (append.c) leaves such records past the torn tail, and the
	 * next history writes over the first of them only: the torn tail, not
	 * corruption, though the next record may chain from it.
	 */
	if (r == CAND_CHAIN && !georep_seal_check(vol, rec))
		return 0;
	/* a damaged header: corruption if the next record chains from it */
	memcpy(chain, rec->chain_hash, sizeof(chain));
	r = find_next(vol, at + nb, seq + 1, chain, rec, &at2, &nblocks, &pr2);
	if (r < 0)
		return r;
	if (r == CAND_NOKEY)
		return missing_key(vol, seq + 1, pr2.epoch, bad_seq, extack);
	if (r == CAND_OK)
		return bad_record(vol, seq, CAND_CHAIN, pr, bad_seq, extack);
	return 0;
}

/**
 * georep_recover() - find the durable end of the log, replay, set state
 * @vol: the volume, geometry and keys set, role and term decided
 * @sb: the superblock read at attach
 * @bad_seq: set on -EBADMSG
 * @extack: names the bad record
 *
 * Context: process context during create, nothing else runs on @vol.
 */
int georep_recover(struct georep_volume *vol, const struct georep_superblock *sb,
		   u64 *bad_seq, struct netlink_ext_ack *extack)
{
	u64 head_hint = le64_to_cpu(sb->head_seq);
	u64 applied = le64_to_cpu(sb->applied_seq);
	bool primary = vol->role == GEOREP_ROLE_PRIMARY;
	struct georep_record *rec = vol->read_buf;
	u8 prev[GEOREP_HASH_LEN];
	u64 seq, lsn, at, replayed = 0, last_term = 0;
	struct probe pr;
	u32 nblocks;
	int r;

	r = sb_seqs_check(vol, sb, extack);
	if (r)
		return r;
	seq = le64_to_cpu(sb->tail_seq);
	if (!seq) {
		seq = 1;
		memset(prev, 0, sizeof(prev));
	} else {
		memcpy(prev, sb->tail_prev_chain, sizeof(prev));
	}
	lsn = le64_to_cpu(sb->tail_block);
	vol->tail_seq = seq;
	vol->tail_lsn = lsn;
	memcpy(vol->tail_prev_chain, prev, sizeof(prev));

	for (;; seq++) {
		r = find_next(vol, lsn, seq, prev, rec, &at, &nblocks, &pr);
		if (r < 0)
			return r;
		if (r != CAND_OK) {
			r = walk_stop(vol, seq, r, at, nblocks, &pr, head_hint,
				      bad_seq, extack);
			if (r)
				return r;
			break;
		}
		if (georep_index_store(vol, seq, at, nblocks))
			return -ENOMEM;
		mutex_lock(&vol->order_mutex);
		georep_epoch_used(vol, le32_to_cpu(rec->seal_epoch), seq);
		mutex_unlock(&vol->order_mutex);
		if (primary && seq > applied) {
			r = georep_apply_record(vol, rec,
						(u8 *)rec + GEOREP_BLOCK_SIZE);
			if (r) {
				pr_err("%s: replay of record %llu failed: %d\n",
				       vol->name, seq, r);
				return r;
			}
			replayed++;
		}
		memcpy(prev, rec->chain_hash, sizeof(prev));
		last_term = le64_to_cpu(rec->term);
		lsn = at + nblocks;
	}

	vol->next_seq = seq;
	vol->head_lsn = lsn;
	memcpy(vol->last_chain, prev, sizeof(prev));
	vol->last_term = last_term;
	vol->written_seq = seq - 1;
	vol->written_lsn = lsn;
	memcpy(vol->written_chain, prev, sizeof(prev));
	vol->durable_seq = vol->written_seq;
	memcpy(vol->durable_chain, prev, sizeof(prev));
	vol->applied_seq = primary ? seq - 1 : min(applied, seq - 1);
	vol->commit_seq = min(applied, seq - 1);
	vol->commit_lsn = vol->tail_lsn;
	if (vol->commit_seq >= vol->tail_seq) {
		u64 clsn;
		u32 cnb;

		if (!georep_index_lookup(vol, vol->commit_seq, &clsn, &cnb))
			vol->commit_lsn = clsn + cnb;
	}
	pr_info("%s: log recovered: records %llu..%llu, %llu replayed\n",
		vol->name, vol->tail_seq, seq - 1, replayed);
	return 0;
}

/* log blocks (1 MiB) a verify pass reads before it lets readers in */
#define GEOREP_VERIFY_BATCH	256

/*
 * Let log readers (the daemon's stream) and release in between: drop
 * read_mutex, then take up where the log now is. Records released
 * meanwhile are gone, so the walk goes on from the new tail; a truncate or
 * reset replaced records, so the pass cannot go on (-EAGAIN).
 * Context: read_mutex held on entry and on return.
 */
static int verify_yield(struct georep_volume *vol, u64 gen, u64 *seq,
			u8 *prev, struct netlink_ext_ack *extack)
{
	int ret = 0;

	lockdep_assert_held(&vol->read_mutex);
	mutex_unlock(&vol->read_mutex);
	/*
	 * a mutex is not fair: without this wait the pass could take it back
	 * before a woken reader runs; bounded, should a reader never come
	 */
	wait_event_timeout(vol->readers_wq, !atomic_read(&vol->log_readers),
			   HZ / 10);
	/* and a reader still on its way (a pass hashes on this CPU) */
	cond_resched();
	mutex_lock(&vol->read_mutex);
	mutex_lock(&vol->order_mutex);
	if (vol->log_gen != gen) {
		NL_SET_ERR_MSG(extack, "log truncated or reset during the pass: verify again");
		ret = -EAGAIN;
	} else if (vol->tail_seq > *seq) {
		*seq = vol->tail_seq;
		memcpy(prev, vol->tail_prev_chain, GEOREP_HASH_LEN);
	}
	mutex_unlock(&vol->order_mutex);
	return ret;
}

/**
 * georep_walk_verify() - verify every retained record of a live volume
 *
 * Reads each record through the index and checks payload hash, chain and
 * seal, from the tail's previous chain hash on, up to the written_seq of
 * when it began. After every GEOREP_VERIFY_BATCH blocks read it lets log
 * readers in (verify_yield()), so that a pass over a large log does not
 * hold up the daemon's stream.
 *
 * Context: process context; takes read_mutex.
 */
int georep_walk_verify(struct georep_volume *vol, u64 *bad_seq,
		       struct netlink_ext_ack *extack)
{
	struct georep_record *rec = vol->read_buf;
	u8 prev[GEOREP_HASH_LEN];
	u64 seq, written, gen;
	u32 since = 0;
	int ret = 0;

	mutex_lock(&vol->read_mutex);
	mutex_lock(&vol->order_mutex);
	seq = vol->tail_seq;
	memcpy(prev, vol->tail_prev_chain, sizeof(prev));
	gen = vol->log_gen;
	mutex_unlock(&vol->order_mutex);
	written = georep_volume_durable_seq(vol);

	for (; seq <= written; seq++) {
		struct probe pr = {};
		u32 nblocks;
		u64 lsn;
		int r;

		if (since >= GEOREP_VERIFY_BATCH) {
			since = 0;
			ret = verify_yield(vol, gen, &seq, prev, extack);
			if (ret || seq > written)
				break;
		}
		ret = georep_index_lookup(vol, seq, &lsn, &nblocks);
		if (ret)
			break;
		since += nblocks;
		ret = georep_log_load(vol, seq, lsn, nblocks, rec,
				      GEOREP_LOAD_PAYLOAD, &pr.why);
		if (ret == -EBADMSG) {
			ret = bad_record(vol, seq, CAND_NONE, &pr, bad_seq,
					 extack);
			break;
		}
		if (ret)
			break;
		r = check_record(vol, rec, prev);
		if (r == CAND_NOKEY) {
			ret = missing_key(vol, seq, le32_to_cpu(rec->seal_epoch),
					  bad_seq, extack);
			break;
		}
		if (r != CAND_OK) {
			ret = bad_record(vol, seq, r, &pr, bad_seq, extack);
			break;
		}
		memcpy(prev, rec->chain_hash, sizeof(prev));
	}
	mutex_unlock(&vol->read_mutex);
	return ret;
}
