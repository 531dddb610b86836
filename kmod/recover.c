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
 *    (neither was acknowledged, writes complete in seq order).
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
};

static const char *const cand_what[] = {
	[CAND_NONE]	= "header",
	[CAND_OK]	= "",
	[CAND_PAYLOAD]	= "payload hash",
	[CAND_CHAIN]	= "chain",
	[CAND_SEAL]	= "seal",
};

/* payload hash, chain and seal of a record read into @rec */
static enum cand check_record(struct georep_volume *vol,
			      const struct georep_record *rec, const u8 *prev)
{
	u8 hash[GEOREP_HASH_LEN];

	if (georep_payload_hash_buf(vol, (const u8 *)rec + GEOREP_BLOCK_SIZE,
				    le32_to_cpu(rec->payload_len), hash) ||
	    memcmp(hash, rec->payload_hash, GEOREP_HASH_LEN))
		return CAND_PAYLOAD;
	if (georep_chain_hash(vol, prev, rec, hash) ||
	    memcmp(hash, rec->chain_hash, GEOREP_HASH_LEN))
		return CAND_CHAIN;
	if (georep_seal_check(vol, rec))
		return CAND_SEAL;
	return CAND_OK;
}

/* is the record @seq at @lsn? Reads it whole into @buf. */
static int check_at(struct georep_volume *vol, u64 lsn, u64 seq,
		    const u8 *prev, void *buf, u32 *nblocks)
{
	struct georep_record *rec = buf;
	u32 nb;
	int ret;

	ret = georep_log_read_record(vol, lsn, 1, buf);
	if (ret)
		return ret;
	if (georep_record_check_header(vol, rec) ||
	    le64_to_cpu(rec->seq) != seq)
		return CAND_NONE;
	nb = georep_record_blocks(rec);
	if (lsn % vol->area_blocks + nb > vol->area_blocks)
		return CAND_NONE;
	if (nb > 1) {
		ret = georep_log_read_record(vol, lsn + 1, nb - 1,
					     (u8 *)buf + GEOREP_BLOCK_SIZE);
		if (ret)
			return ret;
	}
	*nblocks = nb;
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
 * candidate that parsed (*at set), CAND_NONE, or -errno.
 */
static int find_next(struct georep_volume *vol, u64 lsn, u64 seq,
		     const u8 *prev, void *buf, u64 *at, u32 *nblocks)
{
	u64 alt = lap_start(vol, lsn);
	int r1, r2;

	r1 = check_at(vol, lsn, seq, prev, buf, nblocks);
	if (r1 < 0 || r1 == CAND_OK) {
		*at = lsn;
		return r1;
	}
	if (!alt)
		return r1;
	r2 = check_at(vol, alt, seq, prev, buf, nblocks);
	if (r2 < 0 || r2 == CAND_OK || r1 == CAND_NONE) {
		*at = alt;
		return r2;
	}
	/* the one at lsn parsed but failed: read it back for the caller */
	*at = lsn;
	return check_at(vol, lsn, seq, prev, buf, nblocks);
}

static int bad_record(struct georep_volume *vol, u64 seq, int what,
		      u64 *bad_seq, struct netlink_ext_ack *extack)
{
	*bad_seq = seq;
	georep_extack_fmt(extack, "record %llu failed its %s check",
			  seq, cand_what[what]);
	pr_err("%s: record %llu failed its %s check\n", vol->name, seq,
	       cand_what[what]);
	return -EBADMSG;
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
	u32 nblocks;
	int r;

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
		r = find_next(vol, lsn, seq, prev, rec, &at, &nblocks);
		if (r < 0)
			return r;
		if (r != CAND_OK) {
			u8 chain[GEOREP_HASH_LEN];
			u32 nb = nblocks;

			if (seq <= head_hint)
				return bad_record(vol, seq, r, bad_seq, extack);
			if (r != CAND_CHAIN && r != CAND_SEAL)
				break;
			/* does the next record chain from this one? */
			memcpy(chain, rec->chain_hash, sizeof(chain));
			r = find_next(vol, at + nb, seq + 1, chain, rec, &at,
				      &nblocks);
			if (r < 0)
				return r;
			if (r == CAND_OK)
				return bad_record(vol, seq,
						  CAND_CHAIN, bad_seq, extack);
			break;
		}
		if (georep_index_store(vol, seq, at, nblocks))
			return -ENOMEM;
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

/**
 * georep_walk_verify() - verify every retained record of a live volume
 *
 * Reads each record through the index and checks payload hash, chain and
 * seal, from the tail's previous chain hash on.
 *
 * Context: process context; holds read_mutex.
 */
int georep_walk_verify(struct georep_volume *vol, u64 *bad_seq,
		       struct netlink_ext_ack *extack)
{
	struct georep_record *rec = vol->read_buf;
	u8 prev[GEOREP_HASH_LEN];
	u64 seq, written;
	int ret = 0;

	mutex_lock(&vol->read_mutex);
	mutex_lock(&vol->order_mutex);
	seq = vol->tail_seq;
	memcpy(prev, vol->tail_prev_chain, sizeof(prev));
	mutex_unlock(&vol->order_mutex);
	written = georep_volume_written_seq(vol);

	for (; seq <= written; seq++) {
		enum cand r = CAND_NONE;
		u32 nblocks;
		u64 lsn;

		ret = georep_index_lookup(vol, seq, &lsn, &nblocks);
		if (ret)
			break;
		ret = georep_log_read_record(vol, lsn, nblocks, rec);
		if (ret)
			break;
		if (!georep_record_check_header(vol, rec) &&
		    le64_to_cpu(rec->seq) == seq &&
		    georep_record_blocks(rec) == nblocks)
			r = check_record(vol, rec, prev);
		if (r != CAND_OK) {
			ret = bad_record(vol, seq, r, bad_seq, extack);
			break;
		}
		memcpy(prev, rec->chain_hash, sizeof(prev));
	}
	mutex_unlock(&vol->read_mutex);
	return ret;
}
