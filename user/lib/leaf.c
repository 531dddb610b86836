// SPDX-License-Identifier: GPL-2.0
/*
 * Merkle leaves of records: see user/include/georep/leaf.h.
 */
#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "georep/leaf.h"

static void put16(uint8_t *p, uint16_t v)
{
	v = htole16(v);
	memcpy(p, &v, 2);
}

static void put32(uint8_t *p, uint32_t v)
{
	v = htole32(v);
	memcpy(p, &v, 4);
}

static void put64(uint8_t *p, uint64_t v)
{
	v = htole64(v);
	memcpy(p, &v, 8);
}

static uint16_t get16(const uint8_t *p)
{
	uint16_t v;

	memcpy(&v, p, 2);
	return le16toh(v);
}

static uint32_t get32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return le32toh(v);
}

static uint64_t get64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return le64toh(v);
}

void georep_leaf_encode(const struct georep_rec *rec, uint8_t out[GEOREP_LEAF_LEN])
{
	memset(out, 0, GEOREP_LEAF_LEN);
	memcpy(out, GEOREP_LEAF_MAGIC, 4);
	put16(out + 4, GEOREP_LEAF_VERSION);
	put16(out + 6, rec->op);
	put64(out + 8, rec->seq);
	put64(out + 16, rec->term);
	put64(out + 24, rec->lba);
	put32(out + 32, rec->len);
	put32(out + 36, rec->payload_len);
	put64(out + 40, rec->timestamp_ns);
	put32(out + 48, rec->site_id);
	put32(out + 52, rec->seal_epoch);
	put32(out + 56, rec->flags);
	put16(out + 60, rec->version);
	memcpy(out + 64, rec->volume_uuid, GEOREP_UUID_LEN);
	memcpy(out + 80, rec->payload_hash, GEOREP_HASH_LEN);
	memcpy(out + 112, rec->chain_hash, GEOREP_HASH_LEN);
}

int georep_leaf_decode(const uint8_t *leaf, size_t len, struct georep_rec *rec,
		       char *err, size_t errlen)
{
	const char *why = NULL;

	if (len != GEOREP_LEAF_LEN)
		why = "a leaf is 144 bytes";
	else if (memcmp(leaf, GEOREP_LEAF_MAGIC, 4))
		why = "the leaf does not start with \"GRLF\"";
	else if (get16(leaf + 4) != GEOREP_LEAF_VERSION)
		why = "unknown leaf format version (this build knows 1)";
	else if (get16(leaf + 62))
		why = "leaf bytes 62-63 are not zero";
	if (why) {
		if (err && errlen)
			snprintf(err, errlen, "%s", why);
		return -EINVAL;
	}
	memset(rec, 0, sizeof(*rec));
	rec->op = get16(leaf + 6);
	rec->seq = get64(leaf + 8);
	rec->term = get64(leaf + 16);
	rec->lba = get64(leaf + 24);
	rec->len = get32(leaf + 32);
	rec->payload_len = get32(leaf + 36);
	rec->timestamp_ns = get64(leaf + 40);
	rec->site_id = get32(leaf + 48);
	rec->seal_epoch = get32(leaf + 52);
	rec->flags = get32(leaf + 56);
	rec->version = get16(leaf + 60);
	memcpy(rec->volume_uuid, leaf + 64, GEOREP_UUID_LEN);
	memcpy(rec->payload_hash, leaf + 80, GEOREP_HASH_LEN);
	memcpy(rec->chain_hash, leaf + 112, GEOREP_HASH_LEN);
	return 0;
}

void georep_leaf_header(const struct georep_rec *rec, struct georep_record *hdr)
{
	memset(hdr, 0, sizeof(*hdr));
	hdr->magic = htole32(GEOREP_RECORD_MAGIC);
	hdr->version = htole16(rec->version);
	hdr->op = htole16(rec->op);
	hdr->seq = htole64(rec->seq);
	hdr->term = htole64(rec->term);
	hdr->lba = htole64(rec->lba);
	hdr->len = htole32(rec->len);
	hdr->payload_len = htole32(rec->payload_len);
	hdr->timestamp_ns = htole64(rec->timestamp_ns);
	hdr->site_id = htole32(rec->site_id);
	hdr->seal_epoch = htole32(rec->seal_epoch);
	hdr->flags = htole32(rec->flags);
	memcpy(hdr->volume_uuid, rec->volume_uuid, GEOREP_UUID_LEN);
	memcpy(hdr->payload_hash, rec->payload_hash, GEOREP_HASH_LEN);
	memcpy(hdr->chain_hash, rec->chain_hash, GEOREP_HASH_LEN);
}

int georep_leaf_hash(const struct georep_rec *rec, gr_mhash out)
{
	uint8_t leaf[GEOREP_LEAF_LEN];

	georep_leaf_encode(rec, leaf);
	return gr_merkle_leaf_hash(leaf, sizeof(leaf), out);
}
