/* SPDX-License-Identifier: GPL-2.0 */
/*
 * georep record parsing and verification (userspace).
 *
 * A record is a 256-byte little-endian struct georep_record followed by
 * payload_len bytes of payload (see include/uapi/linux/georep.h). These
 * helpers decode a header into host order while checking every field,
 * and compute the three digests the format defines:
 *
 *   payload_hash = SHA-256(payload)
 *   chain_hash   = SHA-256(prev chain_hash || header[0, offsetof(chain_hash)))
 *   seal         = HMAC-SHA-256(key[seal_epoch], header[0, offsetof(seal)))
 *
 * Every function returns 0 or a negative errno; when an error buffer is
 * given it receives one sentence saying what was wrong.
 */
#ifndef _GEOREP_RECORD_H
#define _GEOREP_RECORD_H

#include <endian.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <linux/georep.h>

#define GEOREP_CHAIN_OFF	offsetof(struct georep_record, chain_hash)
#define GEOREP_SEAL_OFF		offsetof(struct georep_record, seal)

/* a record header decoded into host byte order */
struct georep_rec {
	uint16_t version;
	uint16_t op;
	uint64_t seq;
	uint64_t term;
	uint64_t lba;
	uint32_t len;
	uint32_t payload_len;
	uint64_t timestamp_ns;
	uint32_t site_id;
	uint32_t seal_epoch;
	uint32_t flags;
	uint8_t volume_uuid[GEOREP_UUID_LEN];
	uint8_t payload_hash[GEOREP_HASH_LEN];
	uint8_t chain_hash[GEOREP_HASH_LEN];
	uint8_t seal[GEOREP_HASH_LEN];
};

/* what georep_record_verify() found wrong first */
enum georep_rec_fault {
	GEOREP_REC_OK = 0,
	GEOREP_REC_PAYLOAD_HASH,	/* payload does not hash to payload_hash */
	GEOREP_REC_CHAIN,		/* chain_hash does not follow prev */
	GEOREP_REC_SEAL,		/* seal does not match the key */
};

/* "write", "discard", "write-zeroes", "noop" or "op<N>" for unknown ops */
const char *georep_op_name(unsigned int op);

/*
 * georep_record_decode() - check and decode one 256-byte header.
 * @hdr: the header as read from the stream or the log device
 * @len: bytes available at @hdr (at least GEOREP_RECORD_HDR_SIZE)
 * Checks magic, version, op, seq, the op/len/payload_len combination,
 * alignment, flags, seal epoch and that every reserved byte is zero.
 * Return: 0, -EMSGSIZE when @len is short, -EINVAL for a bad field.
 */
int georep_record_decode(const void *hdr, size_t len, struct georep_rec *rec,
			 char *err, size_t errlen);

/*
 * georep_record_next() - step over one whole record in a stream buffer.
 * On success *hdr and *payload point into @buf, *off moves past the record.
 * Return: 0, -ENODATA at the end of @buf, -EMSGSIZE for a truncated record,
 * -EINVAL for a bad header.
 */
int georep_record_next(const uint8_t *buf, size_t len, size_t *off,
		       struct georep_rec *rec, const uint8_t **hdr,
		       const uint8_t **payload, char *err, size_t errlen);

/*
 * georep_record_span() - the length of the whole record (header + payload
 * by its payload_len) at the start of @buf, which holds @left bytes and
 * need not be aligned; 0 when @left does not hold it whole. Nothing else is
 * checked: the ledger checks what it appends. Inline: wire.c uses it and
 * links without record.c (the fuzzers).
 */
static inline size_t georep_record_span(const void *buf, size_t left)
{
	uint32_t plen;

	if (left < GEOREP_RECORD_HDR_SIZE)
		return 0;
	memcpy(&plen, (const uint8_t *)buf + offsetof(struct georep_record, payload_len),
	       sizeof(plen));
	plen = le32toh(plen);
	return plen <= left - GEOREP_RECORD_HDR_SIZE ? GEOREP_RECORD_HDR_SIZE + (size_t)plen : 0;
}

int georep_payload_hash(const void *payload, size_t len,
			uint8_t out[GEOREP_HASH_LEN]);
/* @hdr: the raw 256-byte header; only bytes before chain_hash are used */
int georep_chain_hash(const uint8_t prev[GEOREP_HASH_LEN], const void *hdr,
		      uint8_t out[GEOREP_HASH_LEN]);
/* @hdr: the raw header; only bytes before seal are used */
int georep_seal(const uint8_t key[GEOREP_KEY_LEN], const void *hdr,
		uint8_t out[GEOREP_HASH_LEN]);

/*
 * georep_data_mac() - the mac of a data seal (struct georep_data_seal in the
 * uapi header): HMAC-SHA-256 under @key of the seal message for @len bytes
 * of @data at @lba (sectors) of the volume @uuid. What the kernel computes
 * for GEOREP_IOC_DATA_SEAL; the memory ledger's stand-in for it.
 */
int georep_data_mac(const uint8_t key[GEOREP_KEY_LEN],
		    const uint8_t uuid[GEOREP_UUID_LEN],
		    const struct georep_data_seal *seal, uint64_t lba,
		    const void *data, size_t len, uint8_t mac[GEOREP_HASH_LEN]);

/*
 * georep_record_verify() - recompute the digests of one decoded record.
 * @hdr: the raw header @rec was decoded from
 * @payload: rec->payload_len bytes
 * @prev: chain hash of the previous record, NULL to skip the chain check
 *        (the first retained record when the tail is past seq 1)
 * @key: the key of rec->seal_epoch, NULL to skip the seal check
 * Return: 0 with *fault set (GEOREP_REC_OK when everything matched), or a
 * negative errno when hashing itself failed.
 */
int georep_record_verify(const struct georep_rec *rec, const void *hdr,
			 const void *payload, const uint8_t *prev,
			 const uint8_t *key, enum georep_rec_fault *fault);
const char *georep_rec_fault_str(enum georep_rec_fault fault);

/* lower-case hex of @len bytes into @out (2 * len + 1 bytes) */
void georep_hex(const uint8_t *in, size_t len, char *out);

#endif /* _GEOREP_RECORD_H */
