// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests for user/lib/tlogproof.c: bundles built from an in-memory tree
 * of record leaves and a checkpoint signed with a key generated here;
 * good bundles verify, tampered ones fail naming what failed.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "georep/tlogproof.h"
#include "grtest.h"

#define NLEAF 21
#define ORIGIN "georep/test/vol0"

static uint8_t leaves[NLEAF + 1][GEOREP_LEAF_LEN];
static struct gr_merkle_mem mem;
static struct gr_merkle tree;
static EVP_PKEY *key, *other;
static struct gr_note_key vk, vk_other;

static void mkleaf(uint64_t seq, uint8_t *out)
{
	struct georep_rec r = { .version = 1, .op = GEOREP_OP_WRITE, .seq = seq, .term = 2,
				.lba = seq * 8, .len = 4096, .payload_len = 4096,
				.site_id = 1, .seal_epoch = 1 };

	r.payload_hash[0] = seq;
	r.chain_hash[1] = seq;
	georep_leaf_encode(&r, out);
}

static int setup(void)
{
	char err[GR_NOTE_ERRLEN];
	gr_mhash h;
	uint64_t s;

	if (key)
		return 0;
	gr_merkle_open(&tree, &gr_merkle_mem_ops, &mem, 0);
	for (s = 1; s <= NLEAF; s++) {
		mkleaf(s, leaves[s]);
		gr_merkle_leaf_hash(leaves[s], GEOREP_LEAF_LEN, h);
		if (gr_merkle_append(&tree, h))
			return -1;
	}
	key = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	other = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	if (!key || !other || gr_note_key_from_pkey(key, "georep/test/alpha", &vk, err) ||
	    gr_note_key_from_pkey(other, "georep/test/alpha", &vk_other, err))
		return -1;
	return 0;
}

/* a checkpoint of @size with @root, signed by @pk */
static int note(uint64_t size, const gr_mhash root, EVP_PKEY *pk, char *out, size_t cap)
{
	char text[256], err[GR_NOTE_ERRLEN];
	size_t len = 0;

	if (gr_checkpoint_format(ORIGIN, size, root, text, sizeof(text)))
		return -1;
	return gr_note_sign(text, pk, "georep/test/alpha", out, cap, &len, err);
}

static int inclusion(uint64_t seq, uint64_t size, const uint8_t *leaf, int drop,
		     char *out, size_t cap)
{
	gr_mhash proof[GR_MERKLE_MAX_PROOF], root;
	char n[1024];
	unsigned int np;

	if (gr_merkle_inclusion(&tree, seq - 1, size, proof, &np) ||
	    gr_merkle_root_at(&tree, size, root) || note(size, root, key, n, sizeof(n)))
		return -1;
	return gr_tlog_inclusion_text(leaf, seq - 1, proof, np - drop, n, out, cap);
}

static int verify(const char *b, const struct gr_note_key *k, struct gr_tlog_result *res,
		  char *err)
{
	return gr_tlog_verify(b, strlen(b), k, 1, res, err);
}

static int test_inclusion_good(void)
{
	struct gr_tlog_result res;
	char b[GR_TLOG_MAX], err[GR_NOTE_ERRLEN];
	uint64_t seq, size;

	CHECK(!setup());
	for (size = 1; size <= NLEAF; size += 4)
		for (seq = 1; seq <= size; seq++) {
			CHECK(!inclusion(seq, size, leaves[seq], 0, b, sizeof(b)));
			if (verify(b, &vk, &res, err))
				printf("# %s\n", err);
			CHECK(!verify(b, &vk, &res, err));
			CHECK(res.kind == GR_TLOG_KIND_INCLUSION && res.rec.seq == seq &&
			      res.size == size && !strcmp(res.origin, ORIGIN) &&
			      res.rec.lba == seq * 8 && res.verified == 1);
		}
	CHECK(!strncmp(b, "c2sp.org/tlog-proof@v1\nextra ", 29));
	return 0;
}

static int test_inclusion_tampered(void)
{
	struct gr_tlog_result res;
	char b[GR_TLOG_MAX], err[GR_NOTE_ERRLEN], *p;
	uint8_t leaf[GEOREP_LEAF_LEN];
	gr_mhash proof[GR_MERKLE_MAX_PROOF], root;
	unsigned int np;

	CHECK(!setup());
	/* the leaf altered (its lba) */
	memcpy(leaf, leaves[7], sizeof(leaf));
	leaf[24] ^= 1;
	CHECK(!inclusion(7, 20, leaf, 0, b, sizeof(b)));
	CHECK(verify(b, &vk, &res, err) == -EBADMSG);
	CHECK(strstr(err, "does not lead to the checkpoint's root"));
	/* another record's leaf under this index */
	CHECK(!inclusion(7, 20, leaves[8], 0, b, sizeof(b)));
	CHECK(verify(b, &vk, &res, err) == -EBADMSG);
	CHECK(strstr(err, "the leaf is record 8"));
	/* truncated proof */
	CHECK(!inclusion(7, 20, leaves[7], 1, b, sizeof(b)));
	CHECK(verify(b, &vk, &res, err) == -EBADMSG);
	CHECK(strstr(err, "does not lead"));
	/* a wrong root, signed */
	CHECK(!gr_merkle_inclusion(&tree, 6, 20, proof, &np));
	CHECK(!gr_merkle_root_at(&tree, 19, root));
	{
		char n[1024];

		CHECK(!note(20, root, key, n, sizeof(n)));
		CHECK(!gr_tlog_inclusion_text(leaves[7], 6, proof, np, n, b, sizeof(b)));
	}
	CHECK(verify(b, &vk, &res, err) == -EBADMSG);
	CHECK(strstr(err, "does not lead"));
	/* a wrong signature */
	CHECK(!inclusion(7, 20, leaves[7], 0, b, sizeof(b)));
	p = strrchr(b, ' ') + 30;
	*p = *p == 'A' ? 'B' : 'A';
	CHECK(verify(b, &vk, &res, err) == -EBADMSG);
	CHECK(strstr(err, "checkpoint:") && strstr(err, "does not verify"));
	/* an unknown key (same name, another key) */
	CHECK(!inclusion(7, 20, leaves[7], 0, b, sizeof(b)));
	CHECK(verify(b, &vk_other, &res, err) == -ENOKEY);
	CHECK(strstr(err, "trusted key"));
	/* truncated bundles */
	b[strlen(b) - 30] = 0;
	CHECK(verify(b, &vk, &res, err) == -EBADMSG);
	p = strstr(b, "\n\n");
	p[1] = 0;
	CHECK(verify(b, &vk, &res, err) == -EBADMSG);
	CHECK(strstr(err, "ends before its checkpoint"));
	CHECK(verify("c2sp.org/tlog-proof@v1\nindex 3\n\n", &vk, &res, err) == -EBADMSG);
	CHECK(strstr(err, "extra"));
	CHECK(verify("hello\n", &vk, &res, err) == -EBADMSG);
	CHECK(strstr(err, "first line"));
	return 0;
}

static int test_consistency(void)
{
	gr_mhash proof[GR_MERKLE_MAX_PROOF], r1, r2;
	struct gr_tlog_result res;
	char b[GR_TLOG_MAX], n[1024], err[GR_NOTE_ERRLEN];
	unsigned int np;

	CHECK(!setup());
	CHECK(!gr_merkle_consistency(&tree, 6, NLEAF, proof, &np));
	CHECK(!gr_merkle_root_at(&tree, 6, r1));
	CHECK(!gr_merkle_root_at(&tree, NLEAF, r2));
	CHECK(!note(NLEAF, r2, key, n, sizeof(n)));
	CHECK(!gr_tlog_consistency_text(6, r1, proof, np, n, b, sizeof(b)));
	CHECK(!verify(b, &vk, &res, err));
	CHECK(res.kind == GR_TLOG_KIND_CONSISTENCY && res.size1 == 6 && res.size == NLEAF);
	/* an old root that is not a prefix */
	r1[0] ^= 1;
	CHECK(!gr_tlog_consistency_text(6, r1, proof, np, n, b, sizeof(b)));
	CHECK(verify(b, &vk, &res, err) == -EBADMSG);
	CHECK(strstr(err, "prefix"));
	r1[0] ^= 1;
	/* one hash short */
	CHECK(!gr_tlog_consistency_text(6, r1, proof, np - 1, n, b, sizeof(b)));
	CHECK(verify(b, &vk, &res, err) == -EBADMSG);
	/* an old size past the checkpoint */
	CHECK(!gr_tlog_consistency_text(NLEAF + 1, r1, proof, np, n, b, sizeof(b)));
	CHECK(verify(b, &vk, &res, err) == -EBADMSG);
	CHECK(strstr(err, "within"));
	return 0;
}

static const struct grtest tests[] = {
	{ "inclusion_good", test_inclusion_good },
	{ "inclusion_tampered", test_inclusion_tampered },
	{ "consistency", test_consistency },
};

GRTEST_MAIN(tests)
