// SPDX-License-Identifier: GPL-2.0
/*
 * Record decoding and verification: see user/include/georep/record.h.
 */
#include <endian.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "georep/record.h"

_Static_assert(sizeof(struct georep_record) == GEOREP_RECORD_HDR_SIZE,
	       "struct georep_record must be 256 bytes");
_Static_assert(offsetof(struct georep_record, reserved) == 176,
	       "reserved area starts at 176");

static int fail(char *err, size_t errlen, int ret, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return ret;
}

const char *georep_op_name(unsigned int op)
{
	static const char *const names[] = {
		[GEOREP_OP_NOOP] = "noop",
		[GEOREP_OP_WRITE] = "write",
		[GEOREP_OP_DISCARD] = "discard",
		[GEOREP_OP_WRITE_ZEROES] = "write-zeroes",
	};

	if (op < __GEOREP_OP_MAX)
		return names[op];
	return "unknown";
}

static bool all_zero(const uint8_t *p, size_t len)
{
	while (len--)
		if (*p++)
			return false;
	return true;
}

/* op, len and payload_len must agree; see the uapi header */
static int check_sizes(const struct georep_rec *r, char *err, size_t errlen)
{
	uint64_t rounded;

	if (r->payload_len % GEOREP_BLOCK_SIZE)
		return fail(err, errlen, -EINVAL,
			    "payload_len %u is not a multiple of %u",
			    r->payload_len, GEOREP_BLOCK_SIZE);
	if (r->len % 512)
		return fail(err, errlen, -EINVAL,
			    "len %u is not a multiple of 512", r->len);

	switch (r->op) {
	case GEOREP_OP_NOOP:
		if (r->len || r->payload_len)
			return fail(err, errlen, -EINVAL,
				    "noop record with len %u payload_len %u (both must be 0)",
				    r->len, r->payload_len);
		if (r->lba)
			return fail(err, errlen, -EINVAL,
				    "noop record with lba %llu (must be 0)",
				    (unsigned long long)r->lba);
		break;
	case GEOREP_OP_WRITE:
		rounded = ((uint64_t)r->len + GEOREP_BLOCK_SIZE - 1) /
			  GEOREP_BLOCK_SIZE * GEOREP_BLOCK_SIZE;
		if (!r->len)
			return fail(err, errlen, -EINVAL, "write record with len 0");
		if (r->payload_len != rounded)
			return fail(err, errlen, -EINVAL,
				    "write record with len %u but payload_len %u",
				    r->len, r->payload_len);
		break;
	default:		/* discard, write-zeroes */
		if (!r->len)
			return fail(err, errlen, -EINVAL, "%s record with len 0",
				    georep_op_name(r->op));
		if (r->payload_len)
			return fail(err, errlen, -EINVAL,
				    "%s record with payload_len %u (must be 0)",
				    georep_op_name(r->op), r->payload_len);
		break;
	}
	if (r->lba + r->len / 512 < r->lba)
		return fail(err, errlen, -EINVAL,
			    "lba %llu + len %u overflows",
			    (unsigned long long)r->lba, r->len);
	return 0;
}

int georep_record_decode(const void *hdr, size_t len, struct georep_rec *r,
			 char *err, size_t errlen)
{
	const struct georep_record *raw = hdr;
	uint32_t magic;

	if (len < GEOREP_RECORD_HDR_SIZE)
		return fail(err, errlen, -EMSGSIZE,
			    "short header: %zu of %d bytes", len,
			    GEOREP_RECORD_HDR_SIZE);

	magic = le32toh(raw->magic);
	if (magic != GEOREP_RECORD_MAGIC)
		return fail(err, errlen, -EINVAL,
			    "bad magic 0x%08x (expected 0x%08x)", magic,
			    GEOREP_RECORD_MAGIC);

	memset(r, 0, sizeof(*r));
	r->version = le16toh(raw->version);
	r->op = le16toh(raw->op);
	r->seq = le64toh(raw->seq);
	r->term = le64toh(raw->term);
	r->lba = le64toh(raw->lba);
	r->len = le32toh(raw->len);
	r->payload_len = le32toh(raw->payload_len);
	r->timestamp_ns = le64toh(raw->timestamp_ns);
	r->site_id = le32toh(raw->site_id);
	r->seal_epoch = le32toh(raw->seal_epoch);
	r->flags = le32toh(raw->flags);
	memcpy(r->volume_uuid, raw->volume_uuid, GEOREP_UUID_LEN);
	memcpy(r->payload_hash, raw->payload_hash, GEOREP_HASH_LEN);
	memcpy(r->chain_hash, raw->chain_hash, GEOREP_HASH_LEN);
	memcpy(r->seal, raw->seal, GEOREP_HASH_LEN);

	if (r->version != GEOREP_RECORD_VERSION)
		return fail(err, errlen, -EINVAL,
			    "unsupported version %u (expected %u)", r->version,
			    GEOREP_RECORD_VERSION);
	if (r->op >= __GEOREP_OP_MAX)
		return fail(err, errlen, -EINVAL, "unknown op %u", r->op);
	if (!r->seq)
		return fail(err, errlen, -EINVAL, "seq 0 (sequence numbers start at 1)");
	if (r->flags & ~__GEOREP_RF_ALL)
		return fail(err, errlen, -EINVAL, "unknown flags 0x%x",
			    r->flags & ~__GEOREP_RF_ALL);
	if (!r->seal_epoch)
		return fail(err, errlen, -EINVAL, "seal epoch 0 (epochs start at 1)");
	if (raw->reserved0)
		return fail(err, errlen, -EINVAL, "reserved0 is 0x%x, not zero",
			    le32toh(raw->reserved0));
	if (!all_zero(raw->reserved, sizeof(raw->reserved)))
		return fail(err, errlen, -EINVAL, "reserved bytes are not zero");
	return check_sizes(r, err, errlen);
}

int georep_record_next(const uint8_t *buf, size_t len, size_t *off,
		       struct georep_rec *rec, const uint8_t **hdr,
		       const uint8_t **payload, char *err, size_t errlen)
{
	size_t left;
	int ret;

	if (*off >= len)
		return -ENODATA;
	left = len - *off;
	ret = georep_record_decode(buf + *off, left, rec, err, errlen);
	if (ret)
		return ret;
	if (left - GEOREP_RECORD_HDR_SIZE < rec->payload_len)
		return fail(err, errlen, -EMSGSIZE,
			    "truncated payload: %zu of %u bytes",
			    left - GEOREP_RECORD_HDR_SIZE, rec->payload_len);
	*hdr = buf + *off;
	*payload = buf + *off + GEOREP_RECORD_HDR_SIZE;
	*off += GEOREP_RECORD_HDR_SIZE + rec->payload_len;
	return 0;
}

static int digest(const void *a, size_t alen, const void *b, size_t blen,
		  uint8_t out[GEOREP_HASH_LEN])
{
	EVP_MD_CTX *ctx;
	unsigned int outlen = 0;
	int ok;

	ctx = EVP_MD_CTX_new();
	if (!ctx)
		return -ENOMEM;
	ok = EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) &&
	     (!alen || EVP_DigestUpdate(ctx, a, alen)) &&
	     (!blen || EVP_DigestUpdate(ctx, b, blen)) &&
	     EVP_DigestFinal_ex(ctx, out, &outlen);
	EVP_MD_CTX_free(ctx);
	return ok && outlen == GEOREP_HASH_LEN ? 0 : -EIO;
}

int georep_payload_hash(const void *payload, size_t len,
			uint8_t out[GEOREP_HASH_LEN])
{
	return digest(payload, len, NULL, 0, out);
}

int georep_chain_hash(const uint8_t prev[GEOREP_HASH_LEN], const void *hdr,
		      uint8_t out[GEOREP_HASH_LEN])
{
	return digest(prev, GEOREP_HASH_LEN, hdr, GEOREP_CHAIN_OFF, out);
}

int georep_seal(const uint8_t key[GEOREP_KEY_LEN], const void *hdr,
		uint8_t out[GEOREP_HASH_LEN])
{
	unsigned int outlen = 0;

	if (!HMAC(EVP_sha256(), key, GEOREP_KEY_LEN, hdr, GEOREP_SEAL_OFF, out,
		  &outlen) || outlen != GEOREP_HASH_LEN)
		return -EIO;
	return 0;
}

int georep_data_mac(const uint8_t key[GEOREP_KEY_LEN],
		    const uint8_t uuid[GEOREP_UUID_LEN],
		    const struct georep_data_seal *seal, uint64_t lba,
		    const void *data, size_t len, uint8_t mac[GEOREP_HASH_LEN])
{
	struct georep_data_seal_msg msg = {
		.magic = htole32(GEOREP_DATA_SEAL_MAGIC),
		.version = htole32(GEOREP_DATA_SEAL_VERSION),
		.term = htole64(seal->term),
		.seq = htole64(seal->seq),
		.lba = htole64(lba),
		.len = htole32((uint32_t)len),
		.epoch = htole32(seal->epoch),
	};
	unsigned int outlen = 0;
	int ret;

	_Static_assert(sizeof(msg) == 88, "struct georep_data_seal_msg is 88 bytes");
	if (len > UINT32_MAX)
		return -EINVAL;
	memcpy(msg.volume_uuid, uuid, GEOREP_UUID_LEN);
	ret = georep_payload_hash(data, len, msg.data_hash);
	if (ret)
		return ret;
	if (!HMAC(EVP_sha256(), key, GEOREP_KEY_LEN, (const uint8_t *)&msg, sizeof(msg), mac,
		  &outlen) || outlen != GEOREP_HASH_LEN)
		return -EIO;
	return 0;
}

int georep_record_verify(const struct georep_rec *rec, const void *hdr,
			 const void *payload, const uint8_t *prev,
			 const uint8_t *key, enum georep_rec_fault *fault)
{
	uint8_t md[GEOREP_HASH_LEN];
	int ret;

	*fault = GEOREP_REC_OK;
	ret = georep_payload_hash(payload, rec->payload_len, md);
	if (ret)
		return ret;
	if (CRYPTO_memcmp(md, rec->payload_hash, GEOREP_HASH_LEN)) {
		*fault = GEOREP_REC_PAYLOAD_HASH;
		return 0;
	}
	if (prev) {
		ret = georep_chain_hash(prev, hdr, md);
		if (ret)
			return ret;
		if (CRYPTO_memcmp(md, rec->chain_hash, GEOREP_HASH_LEN)) {
			*fault = GEOREP_REC_CHAIN;
			return 0;
		}
	}
	if (key) {
		ret = georep_seal(key, hdr, md);
		if (ret) {
			OPENSSL_cleanse(md, sizeof(md));
			return ret;
		}
		if (CRYPTO_memcmp(md, rec->seal, GEOREP_HASH_LEN))
			*fault = GEOREP_REC_SEAL;
		OPENSSL_cleanse(md, sizeof(md));
	}
	return 0;
}

const char *georep_rec_fault_str(enum georep_rec_fault fault)
{
	switch (fault) {
	case GEOREP_REC_OK:
		return "ok";
	case GEOREP_REC_PAYLOAD_HASH:
		return "payload hash mismatch";
	case GEOREP_REC_CHAIN:
		return "chain hash mismatch";
	case GEOREP_REC_SEAL:
		return "seal mismatch";
	}
	return "unknown fault";
}

void georep_hex(const uint8_t *in, size_t len, char *out)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < len; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 0xf];
	}
	out[2 * len] = '\0';
}
