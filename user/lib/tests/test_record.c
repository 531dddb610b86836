// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests for user/lib/record.c. Records are built here field by field
 * and hashed with OpenSSL's EVP_Digest()/EVP_Q_mac(), independently of the
 * code under test.
 */
#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "georep/record.h"
#include "grtest.h"

#define NREC 3

static uint8_t key1[GEOREP_KEY_LEN], key2[GEOREP_KEY_LEN];

static void sha256(const void *a, size_t alen, const void *b, size_t blen,
		   uint8_t *out)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();

	EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
	EVP_DigestUpdate(ctx, a, alen);
	if (blen)
		EVP_DigestUpdate(ctx, b, blen);
	EVP_DigestFinal_ex(ctx, out, NULL);
	EVP_MD_CTX_free(ctx);
}

static void hmac(const uint8_t *key, const void *data, size_t len, uint8_t *out)
{
	size_t outlen;

	EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, key, GEOREP_KEY_LEN, data,
		  len, out, GEOREP_HASH_LEN, &outlen);
}

/* one record: header + payload, sealed with @key, chained from @prev */
static void build(struct georep_record *h, uint8_t *payload, uint64_t seq,
		  uint16_t op, uint32_t len, const uint8_t *prev, const uint8_t *key,
		  uint32_t epoch)
{
	uint32_t plen = op == GEOREP_OP_WRITE ? len : 0;
	uint32_t i;

	memset(h, 0, sizeof(*h));
	h->magic = htole32(GEOREP_RECORD_MAGIC);
	h->version = htole16(GEOREP_RECORD_VERSION);
	h->op = htole16(op);
	h->seq = htole64(seq);
	h->term = htole64(3);
	h->lba = htole64(op == GEOREP_OP_NOOP ? 0 : 8 * seq);
	h->len = htole32(len);
	h->payload_len = htole32(plen);
	h->timestamp_ns = htole64(1764294000123456789ULL);
	h->site_id = htole32(7);
	h->seal_epoch = htole32(epoch);
	h->flags = htole32(GEOREP_RF_FUA);
	memset(h->volume_uuid, 0xab, GEOREP_UUID_LEN);
	for (i = 0; i < plen; i++)
		payload[i] = (uint8_t)(seq * 31 + i);
	sha256(payload, plen, NULL, 0, h->payload_hash);
	sha256(prev, GEOREP_HASH_LEN, h, offsetof(struct georep_record, chain_hash),
	       h->chain_hash);
	hmac(key, h, offsetof(struct georep_record, seal), h->seal);
}

/* a stream buffer of NREC records: write 4096, discard, write 8192 */
static size_t build_stream(uint8_t *buf)
{
	static const uint16_t ops[NREC] = { GEOREP_OP_WRITE, GEOREP_OP_DISCARD,
					    GEOREP_OP_WRITE };
	static const uint32_t lens[NREC] = { 4096, 65536, 8192 };
	uint8_t prev[GEOREP_HASH_LEN] = { 0 };
	size_t off = 0;
	int i;

	for (i = 0; i < NREC; i++) {
		struct georep_record *h = (void *)(buf + off);

		build(h, buf + off + sizeof(*h), (uint64_t)i + 1, ops[i], lens[i],
		      prev, i < 2 ? key1 : key2, i < 2 ? 1 : 2);
		memcpy(prev, h->chain_hash, GEOREP_HASH_LEN);
		off += sizeof(*h) + le32toh(h->payload_len);
	}
	return off;
}

static int test_sha256_vectors(void)
{
	uint8_t md[GEOREP_HASH_LEN];
	char hex[65];

	CHECK(!georep_payload_hash("", 0, md));
	georep_hex(md, sizeof(md), hex);
	CHECK(!strcmp(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"));
	CHECK(!georep_payload_hash("abc", 3, md));
	georep_hex(md, sizeof(md), hex);
	CHECK(!strcmp(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
	return 0;
}

static int test_decode_fields(void)
{
	static uint8_t payload[4096];
	uint8_t zero[GEOREP_HASH_LEN] = { 0 };
	struct georep_record h;
	struct georep_rec r;
	char err[128];

	build(&h, payload, 42, GEOREP_OP_WRITE, 4096, zero, key1, 1);
	CHECK(georep_record_decode(&h, sizeof(h), &r, err, sizeof(err)) == 0);
	CHECK(r.version == 1 && r.op == GEOREP_OP_WRITE && r.seq == 42);
	CHECK(r.term == 3 && r.lba == 336 && r.len == 4096 && r.payload_len == 4096);
	CHECK(r.timestamp_ns == 1764294000123456789ULL && r.site_id == 7);
	CHECK(r.seal_epoch == 1 && r.flags == GEOREP_RF_FUA);
	CHECK(r.volume_uuid[0] == 0xab && r.volume_uuid[15] == 0xab);
	CHECK(!memcmp(r.chain_hash, h.chain_hash, GEOREP_HASH_LEN));
	CHECK(!memcmp(r.seal, h.seal, GEOREP_HASH_LEN));
	CHECK(!strcmp(georep_op_name(r.op), "write"));
	return 0;
}

/* decode must fail with @ret and an error containing @needle */
static int bad(const struct georep_record *h, size_t len, int ret,
	       const char *needle)
{
	struct georep_rec r;
	char err[128] = "";

	if (georep_record_decode(h, len, &r, err, sizeof(err)) != ret) {
		printf("# expected %d for '%s', got '%s'\n", ret, needle, err);
		return 1;
	}
	if (!strstr(err, needle)) {
		printf("# error '%s' does not mention '%s'\n", err, needle);
		return 1;
	}
	return 0;
}

static int test_decode_rejects(void)
{
	static uint8_t payload[8192];
	uint8_t zero[GEOREP_HASH_LEN] = { 0 };
	struct georep_record good, h;

	build(&good, payload, 1, GEOREP_OP_WRITE, 4096, zero, key1, 1);
#define MUT(stmt, ret, needle)					\
	do {							\
		h = good;					\
		stmt;						\
		CHECK(!bad(&h, sizeof(h), ret, needle));	\
	} while (0)
	CHECK(!bad(&good, 255, -EMSGSIZE, "short header"));
	MUT(h.magic = htole32(0x47524544), -EINVAL, "magic");
	MUT(h.version = htole16(2), -EINVAL, "version");
	MUT(h.op = htole16(__GEOREP_OP_MAX), -EINVAL, "unknown op");
	MUT(h.seq = 0, -EINVAL, "seq 0");
	MUT(h.flags = htole32(1U << 5), -EINVAL, "flags");
	MUT(h.seal_epoch = 0, -EINVAL, "seal epoch 0");
	MUT(h.reserved0 = htole32(1), -EINVAL, "reserved0");
	MUT(h.reserved[79] = 1, -EINVAL, "reserved bytes");
	MUT(h.payload_len = htole32(4000), -EINVAL, "multiple of 4096");
	MUT(h.len = htole32(1000), -EINVAL, "multiple of 512");
	MUT(h.len = htole32(8192), -EINVAL, "payload_len 4096");
	MUT(h.len = 0, -EINVAL, "len 0");
	MUT(h.op = htole16(GEOREP_OP_DISCARD), -EINVAL, "payload_len 4096 (must be 0)");
	MUT((h.op = htole16(GEOREP_OP_NOOP), h.payload_len = 0), -EINVAL, "noop");
	MUT((h.op = htole16(GEOREP_OP_WRITE_ZEROES), h.payload_len = 0, h.len = 0),
	    -EINVAL, "write-zeroes record with len 0");
	MUT(h.lba = htole64(UINT64_MAX), -EINVAL, "overflows");
#undef MUT
	return 0;
}

static int test_write_padded_payload(void)
{
	static uint8_t payload[4096];
	uint8_t zero[GEOREP_HASH_LEN] = { 0 };
	struct georep_record h;
	struct georep_rec r;

	/* a 512-byte write carries one padded 4 KiB block */
	build(&h, payload, 1, GEOREP_OP_WRITE, 4096, zero, key1, 1);
	h.len = htole32(512);
	CHECK(georep_record_decode(&h, sizeof(h), &r, NULL, 0) == 0);
	CHECK(r.len == 512 && r.payload_len == 4096);
	return 0;
}

static int test_verify_chain(void)
{
	uint8_t *buf = calloc(1, 1 << 20);
	uint8_t prev[GEOREP_HASH_LEN] = { 0 };
	const uint8_t *hdr, *payload;
	enum georep_rec_fault fault;
	struct georep_rec r;
	size_t len, off = 0;
	int n = 0;

	CHECK(buf);
	len = build_stream(buf);
	while (georep_record_next(buf, len, &off, &r, &hdr, &payload, NULL, 0) == 0) {
		CHECK(georep_record_verify(&r, hdr, payload, prev,
					   r.seal_epoch == 1 ? key1 : key2, &fault) == 0);
		CHECK(fault == GEOREP_REC_OK);
		memcpy(prev, r.chain_hash, GEOREP_HASH_LEN);
		n++;
	}
	CHECK(n == NREC && off == len);
	free(buf);
	return 0;
}

/* record 3 (the second write) of a fresh stream, with its predecessor's chain */
static int third(uint8_t *buf, struct georep_rec *r, const uint8_t **hdr,
		 const uint8_t **payload, uint8_t *prev)
{
	size_t len = build_stream(buf), off = 0;
	int i;

	for (i = 0; i < NREC; i++) {
		if (i)
			memcpy(prev, r->chain_hash, GEOREP_HASH_LEN);
		if (georep_record_next(buf, len, &off, r, hdr, payload, NULL, 0))
			return 1;
	}
	return 0;
}

static int test_verify_faults(void)
{
	uint8_t *buf = calloc(1, 1 << 20);
	uint8_t prev[GEOREP_HASH_LEN];
	const uint8_t *hdr, *payload;
	enum georep_rec_fault fault;
	struct georep_rec r;

	CHECK(buf);
	/* one flipped payload bit */
	CHECK(!third(buf, &r, &hdr, &payload, prev));
	((uint8_t *)payload)[100] ^= 1;
	CHECK(!georep_record_verify(&r, hdr, payload, prev, key2, &fault));
	CHECK(fault == GEOREP_REC_PAYLOAD_HASH);
	/* a different predecessor */
	CHECK(!third(buf, &r, &hdr, &payload, prev));
	prev[0] ^= 0x80;
	CHECK(!georep_record_verify(&r, hdr, payload, prev, key2, &fault));
	CHECK(fault == GEOREP_REC_CHAIN);
	/* ... is not noticed when the chain is not anchored */
	CHECK(!georep_record_verify(&r, hdr, payload, NULL, key2, &fault));
	CHECK(fault == GEOREP_REC_OK);
	/* the wrong epoch's key */
	CHECK(!third(buf, &r, &hdr, &payload, prev));
	CHECK(!georep_record_verify(&r, hdr, payload, prev, key1, &fault));
	CHECK(fault == GEOREP_REC_SEAL);
	/* a header field changed after sealing: chain and seal both break */
	CHECK(!third(buf, &r, &hdr, &payload, prev));
	((struct georep_record *)hdr)->site_id ^= htole32(1);
	CHECK(!georep_record_verify(&r, hdr, payload, prev, key2, &fault));
	CHECK(fault == GEOREP_REC_CHAIN);
	CHECK(!georep_record_verify(&r, hdr, payload, NULL, key2, &fault));
	CHECK(fault == GEOREP_REC_SEAL);
	/* no key: the seal is not checked */
	CHECK(!georep_record_verify(&r, hdr, payload, NULL, NULL, &fault));
	CHECK(fault == GEOREP_REC_OK);
	CHECK(!strcmp(georep_rec_fault_str(GEOREP_REC_SEAL), "seal mismatch"));
	free(buf);
	return 0;
}

static int test_next_truncated(void)
{
	uint8_t *buf = calloc(1, 1 << 20);
	const uint8_t *hdr, *payload;
	struct georep_rec r;
	size_t len, off = 0;
	char err[128];

	CHECK(buf);
	len = build_stream(buf);
	/* first record whole, then cut inside the third record's payload */
	CHECK(!georep_record_next(buf, len - 1, &off, &r, &hdr, &payload, err, sizeof(err)));
	CHECK(!georep_record_next(buf, len - 1, &off, &r, &hdr, &payload, err, sizeof(err)));
	CHECK(r.seq == 2 && r.op == GEOREP_OP_DISCARD && r.payload_len == 0);
	CHECK(georep_record_next(buf, len - 1, &off, &r, &hdr, &payload, err,
				 sizeof(err)) == -EMSGSIZE);
	CHECK(strstr(err, "truncated payload"));
	off = len;
	CHECK(georep_record_next(buf, len, &off, &r, &hdr, &payload, err,
				 sizeof(err)) == -ENODATA);
	free(buf);
	return 0;
}

static int test_seal_matches_hmac(void)
{
	static uint8_t payload[4096];
	uint8_t zero[GEOREP_HASH_LEN] = { 0 }, md[GEOREP_HASH_LEN];
	struct georep_record h;

	build(&h, payload, 9, GEOREP_OP_WRITE, 4096, zero, key2, 2);
	CHECK(!georep_seal(key2, &h, md));
	CHECK(!memcmp(md, h.seal, GEOREP_HASH_LEN));
	CHECK(!georep_chain_hash(zero, &h, md));
	CHECK(!memcmp(md, h.chain_hash, GEOREP_HASH_LEN));
	return 0;
}

static int test_hex_and_names(void)
{
	static const uint8_t in[] = { 0x00, 0x0f, 0xa5, 0xff };
	char out[9];

	georep_hex(in, sizeof(in), out);
	CHECK(!strcmp(out, "000fa5ff"));
	CHECK(!strcmp(georep_op_name(GEOREP_OP_WRITE_ZEROES), "write-zeroes"));
	CHECK(!strcmp(georep_op_name(GEOREP_OP_NOOP), "noop"));
	CHECK(!strcmp(georep_op_name(99), "unknown"));
	return 0;
}

static const struct grtest tests[] = {
	{ "sha256_vectors", test_sha256_vectors },
	{ "decode_fields", test_decode_fields },
	{ "decode_rejects_every_bad_field", test_decode_rejects },
	{ "write_padded_payload", test_write_padded_payload },
	{ "verify_chain_of_three", test_verify_chain },
	{ "verify_faults", test_verify_faults },
	{ "next_truncated", test_next_truncated },
	{ "seal_matches_hmac", test_seal_matches_hmac },
	{ "hex_and_names", test_hex_and_names },
};

int main(void)
{
	memset(key1, 0x11, sizeof(key1));
	memset(key2, 0x22, sizeof(key2));
	return grtest_run(tests, sizeof(tests) / sizeof(tests[0]));
}
