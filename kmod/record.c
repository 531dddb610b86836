// SPDX-License-Identifier: GPL-2.0
/*
 * Record hashing, chaining and sealing (see the comment at the top of
 * include/uapi/linux/georep.h for the definitions):
 *
 *   payload_hash = SHA-256(payload)
 *   chain_hash   = SHA-256(prev chain_hash || header[0, offsetof(chain_hash)))
 *   seal         = HMAC-SHA-256(key[seal_epoch], header[0, offsetof(seal)))
 *
 * All of it goes through the kernel crypto API: one "sha256" transform per
 * volume (unkeyed, so it is shared by every CPU with a descriptor on the
 * stack) and one keyed "hmac(sha256)" transform per installed key epoch
 * (the key ring, keys.c).
 * The raw key bytes are only held long enough to key the transform; the
 * transform's keyed state is wiped when it is freed (crypto_free_shash()
 * releases it with kfree_sensitive()).
 */
#include <linux/highmem.h>
#include <linux/netlink.h>
#include <linux/rcupdate.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <crypto/algapi.h>

#include "vol.h"

int georep_payload_hash_bio(struct georep_volume *vol, struct bio *bio,
			    u8 *out)
{
	SHASH_DESC_ON_STACK(desc, vol->sha);
	struct bvec_iter iter;
	struct bio_vec bv;
	int ret;

	desc->tfm = vol->sha;
	ret = crypto_shash_init(desc);
	if (ret)
		goto out_zero;
	bio_for_each_segment(bv, bio, iter) {
		void *p = bvec_kmap_local(&bv);

		ret = crypto_shash_update(desc, p, bv.bv_len);
		kunmap_local(p);
		if (ret)
			goto out_zero;
	}
	ret = crypto_shash_final(desc, out);
out_zero:
	shash_desc_zero(desc);
	return ret;
}

int georep_payload_hash_buf(struct georep_volume *vol, const void *buf,
			    size_t len, u8 *out)
{
	return crypto_shash_tfm_digest(vol->sha, buf, len, out);
}

int georep_chain_hash(struct georep_volume *vol, const u8 *prev,
		      const struct georep_record *rec, u8 *out)
{
	SHASH_DESC_ON_STACK(desc, vol->sha);
	int ret;

	desc->tfm = vol->sha;
	ret = crypto_shash_init(desc) ?:
	      crypto_shash_update(desc, prev, GEOREP_HASH_LEN) ?:
	      crypto_shash_finup(desc, (const u8 *)rec,
				 offsetof(struct georep_record, chain_hash),
				 out);
	shash_desc_zero(desc);
	return ret;
}

static noinline int hmac_buf(struct crypto_shash *tfm, const void *buf,
			     size_t len, u8 *out)
{
	SHASH_DESC_ON_STACK(desc, tfm);
	int ret;

	desc->tfm = tfm;
	ret = crypto_shash_digest(desc, buf, len, out);
	shash_desc_zero(desc);
	return ret;
}

static int hmac_digest(struct crypto_shash *tfm,
		       const struct georep_record *rec, u8 *out)
{
	return hmac_buf(tfm, rec, offsetof(struct georep_record, seal), out);
}

/**
 * georep_seal() - seal @rec with the key of its seal_epoch
 * @vol: the volume
 * @rec: the record, complete up to and including chain_hash; seal_epoch
 *	 was set (georep_seal_epoch()) before the chain hash, which covers it
 *
 * Context: any, does not sleep.
 * Return: 0, -ENOKEY when that epoch is not installed (any more), or a
 * crypto error.
 */
int georep_seal(struct georep_volume *vol, struct georep_record *rec)
{
	struct georep_keyring *ring;
	int ret = -ENOKEY;
	int i;

	rcu_read_lock();
	ring = rcu_dereference(vol->keys);
	i = ring ? georep_ring_find(ring, le32_to_cpu(rec->seal_epoch)) : -1;
	if (i >= 0)
		ret = hmac_digest(ring->slot[i].tfm, rec, rec->seal);
	rcu_read_unlock();
	return ret;
}

/**
 * georep_seal_check() - check the seal of @rec with the key of its epoch
 * Return: 0 when it matches, -ENOKEY when that epoch is not installed,
 * -EBADMSG when it does not match.
 */
int georep_seal_check(struct georep_volume *vol,
		      const struct georep_record *rec)
{
	struct georep_keyring *ring;
	u8 mac[GEOREP_HASH_LEN];
	int ret = -ENOKEY;
	int i;

	rcu_read_lock();
	ring = rcu_dereference(vol->keys);
	i = ring ? georep_ring_find(ring, le32_to_cpu(rec->seal_epoch)) : -1;
	if (i >= 0)
		ret = hmac_digest(ring->slot[i].tfm, rec, mac);
	rcu_read_unlock();
	if (!ret && crypto_memneq(mac, rec->seal, GEOREP_HASH_LEN))
		ret = -EBADMSG;
	memzero_explicit(mac, sizeof(mac));
	return ret;
}

/* the mac covers exactly these bytes: the layout is part of the format */
static_assert(sizeof(struct georep_data_seal_msg) == 88);

/**
 * georep_data_mac() - the mac of a data seal (struct georep_data_seal)
 * @vol: the volume (uuid, keys)
 * @seal: term, seq and epoch of the seal
 * @lba: where the blocks go, in sectors
 * @data: the blocks, in kernel memory
 * @len: their length in bytes
 * @mac: GEOREP_HASH_LEN bytes out
 *
 * Context: process context.
 * Return: 0, -ENOKEY when @seal->epoch is not installed, or a crypto error.
 */
int georep_data_mac(struct georep_volume *vol,
		    const struct georep_data_seal *seal, u64 lba,
		    const void *data, u32 len, u8 *mac)
{
	struct georep_data_seal_msg msg = {
		.magic = cpu_to_le32(GEOREP_DATA_SEAL_MAGIC),
		.version = cpu_to_le32(GEOREP_DATA_SEAL_VERSION),
		.term = cpu_to_le64(seal->term),
		.seq = cpu_to_le64(seal->seq),
		.lba = cpu_to_le64(lba),
		.len = cpu_to_le32(len),
		.epoch = cpu_to_le32(seal->epoch),
	};
	struct georep_keyring *ring;
	int ret, i;

	memcpy(msg.volume_uuid, vol->uuid, GEOREP_UUID_LEN);
	ret = georep_payload_hash_buf(vol, data, len, msg.data_hash);
	if (ret)
		return ret;
	ret = -ENOKEY;
	rcu_read_lock();
	ring = rcu_dereference(vol->keys);
	i = ring ? georep_ring_find(ring, seal->epoch) : -1;
	if (i >= 0)
		ret = hmac_buf(ring->slot[i].tfm, &msg, sizeof(msg), mac);
	rcu_read_unlock();
	return ret;
}

/* header block plus payload blocks */
u32 georep_record_blocks(const struct georep_record *rec)
{
	return 1 + le32_to_cpu(rec->payload_len) / GEOREP_BLOCK_SIZE;
}

/* the op-specific rules for len, payload_len and lba */
static const char *op_error(u16 op, u32 len, u32 plen, u64 lba)
{
	switch (op) {
	case GEOREP_OP_NOOP:
		if (len || plen || lba)
			return "no-op with len, payload_len or lba";
		return NULL;
	case GEOREP_OP_WRITE:
		if (!len)
			return "write with len 0";
		if (plen != len)
			return "payload_len does not match len";
		if (plen > GEOREP_MAX_PAYLOAD)
			return "payload_len above 1 MiB";
		return NULL;
	default:
		if (!len)
			return "discard or write-zeroes with len 0";
		if (plen)
			return "payload_len on a discard or write-zeroes";
		return NULL;
	}
}

/**
 * georep_record_header_error() - what is wrong with the header of @rec?
 * @vol: the volume (uuid and size)
 * @rec: the header
 *
 * Checks magic, version, volume uuid, op, seq, flags, the reserved bytes,
 * the lengths against the op, and lba + len against the volume's size.
 * Return: NULL for a well-formed record of @vol, else a phrase that starts
 * with the name of the first bad field, for messages.
 */
const char *georep_record_header_error(struct georep_volume *vol,
				       const struct georep_record *rec)
{
	u32 len = le32_to_cpu(rec->len);
	u32 plen = le32_to_cpu(rec->payload_len);
	u64 lba = le64_to_cpu(rec->lba);
	u16 op = le16_to_cpu(rec->op);
	const char *why;

	if (le32_to_cpu(rec->magic) != GEOREP_RECORD_MAGIC)
		return "magic is not a record's";
	if (le16_to_cpu(rec->version) != GEOREP_RECORD_VERSION)
		return "version unknown";
	if (memcmp(rec->volume_uuid, vol->uuid, GEOREP_UUID_LEN))
		return "volume_uuid of another volume";
	if (op >= __GEOREP_OP_MAX)
		return "op unknown";
	if (!rec->seq)
		return "seq 0";
	if (le32_to_cpu(rec->flags) & ~__GEOREP_RF_ALL)
		return "flags unknown";
	if (rec->reserved0 || memchr_inv(rec->reserved, 0, sizeof(rec->reserved)))
		return "reserved bytes not zero";
	if (len % GEOREP_BLOCK_SIZE)
		return "len not a multiple of 4096";
	if (plen % GEOREP_BLOCK_SIZE)
		return "payload_len not a multiple of 4096";
	if (lba % GEOREP_SECTORS_PER_BLOCK)
		return "lba not a multiple of 8 sectors";
	why = op_error(op, len, plen, lba);
	if (why || op == GEOREP_OP_NOOP)
		return why;
	if (lba + (len >> SECTOR_SHIFT) > vol->data_sectors ||
	    lba + (len >> SECTOR_SHIFT) < lba)
		return "lba + len beyond the volume";
	return NULL;
}

/* georep_record_header_error() as 0 or -EINVAL */
int georep_record_check_header(struct georep_volume *vol,
			       const struct georep_record *rec)
{
	return georep_record_header_error(vol, rec) ? -EINVAL : 0;
}
