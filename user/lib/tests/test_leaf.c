// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests for user/lib/leaf.c: the leaf test vector of
 * Documentation/proofs.rst (the expected bytes were computed with Python's
 * struct and hashlib, not with this code), and that the document still
 * shows those bytes.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "georep/leaf.h"
#include "grtest.h"

#ifndef GR_DOCDIR
#define GR_DOCDIR "../Documentation"
#endif

/* the leaf of the vector record, 16 bytes a line, as the document prints it */
static const char *const want_leaf[] = {
	"47524c46010001000700000000000000",
	"03000000000000000008000000000000",
	"002000000020000015cd627f7d8b7d18",
	"02000000010000000200000001000000",
	"00112233445566778899aabbccddeeff",
	"000102030405060708090a0b0c0d0e0f",
	"101112131415161718191a1b1c1d1e1f",
	"202122232425262728292a2b2c2d2e2f",
	"303132333435363738393a3b3c3d3e3f",
};

static const char want_hash[] =
	"8dbc36472a9255f7cd23beeb30d2c767b99cb66f04eb1dc1f26c5f1b7e4a8728";

static void vector_rec(struct georep_rec *r)
{
	static const uint8_t uuid[16] = { 0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77,
					  0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff };
	int i;

	memset(r, 0, sizeof(*r));
	r->version = 1;
	r->op = GEOREP_OP_WRITE;
	r->seq = 7;
	r->term = 3;
	r->lba = 2048;
	r->len = 8192;
	r->payload_len = 8192;
	r->timestamp_ns = 1764720000123456789ULL;
	r->site_id = 2;
	r->seal_epoch = 1;
	r->flags = GEOREP_RF_FUA;
	memcpy(r->volume_uuid, uuid, 16);
	for (i = 0; i < 32; i++) {
		r->payload_hash[i] = i;
		r->chain_hash[i] = 32 + i;
		r->seal[i] = 0xee;	/* not part of the leaf */
	}
}

static int test_vector(void)
{
	uint8_t leaf[GEOREP_LEAF_LEN];
	char hex[2 * GEOREP_LEAF_LEN + 1], hhex[65];
	struct georep_rec r;
	gr_mhash h;
	unsigned int i;

	vector_rec(&r);
	georep_leaf_encode(&r, leaf);
	georep_hex(leaf, sizeof(leaf), hex);
	for (i = 0; i < 9; i++)
		CHECK(!strncmp(hex + 32 * i, want_leaf[i], 32));
	CHECK(!georep_leaf_hash(&r, h));
	georep_hex(h, 32, hhex);
	CHECK(!strcmp(hhex, want_hash));
	return 0;
}

static int test_document_shows_vector(void)
{
	FILE *f = fopen(GR_DOCDIR "/proofs.rst", "r");
	static char doc[1 << 17];
	size_t len;
	unsigned int i;

	CHECK(f);
	len = fread(doc, 1, sizeof(doc) - 1, f);
	fclose(f);
	doc[len] = 0;
	for (i = 0; i < 9; i++)
		CHECK(strstr(doc, want_leaf[i]));
	CHECK(strstr(doc, want_hash));
	return 0;
}

static int test_roundtrip_and_refusals(void)
{
	uint8_t leaf[GEOREP_LEAF_LEN], bad[GEOREP_LEAF_LEN];
	struct georep_rec r, back;
	char err[128];

	vector_rec(&r);
	georep_leaf_encode(&r, leaf);
	CHECK(!georep_leaf_decode(leaf, sizeof(leaf), &back, err, sizeof(err)));
	memset(r.seal, 0, sizeof(r.seal));
	CHECK(!memcmp(&r, &back, sizeof(r)));
	CHECK(georep_leaf_decode(leaf, sizeof(leaf) - 1, &back, err, sizeof(err)) == -EINVAL);
	CHECK(strstr(err, "144 bytes"));
	memcpy(bad, leaf, sizeof(bad));
	bad[0] = 'X';
	CHECK(georep_leaf_decode(bad, sizeof(bad), &back, err, sizeof(err)) == -EINVAL);
	CHECK(strstr(err, "GRLF"));
	memcpy(bad, leaf, sizeof(bad));
	bad[4] = 2;
	CHECK(georep_leaf_decode(bad, sizeof(bad), &back, err, sizeof(err)) == -EINVAL);
	CHECK(strstr(err, "version"));
	memcpy(bad, leaf, sizeof(bad));
	bad[63] = 1;
	CHECK(georep_leaf_decode(bad, sizeof(bad), &back, err, sizeof(err)) == -EINVAL);
	CHECK(strstr(err, "62-63"));
	return 0;
}

static const struct grtest tests[] = {
	{ "vector", test_vector },
	{ "document_shows_vector", test_document_shows_vector },
	{ "roundtrip_and_refusals", test_roundtrip_and_refusals },
};

GRTEST_MAIN(tests)
