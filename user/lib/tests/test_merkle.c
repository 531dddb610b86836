// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests for user/lib/merkle.c: the public RFC 9162 vectors in
 * tests/data/merkle/ (see its README.md: Apache-2.0 data, copied), and
 * randomized cross-checks of the incremental tree against a from-scratch
 * recursive computation written here from RFC 9162 section 2.1.1.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "georep/merkle.h"
#include "grtest.h"

#ifndef GR_TESTDATA
#define GR_TESTDATA "lib/tests/data"
#endif
#define VECDIR GR_TESTDATA "/merkle"
#define TDM VECDIR "/transparency-dev-merkle/testdata"

/* base64 into @out (cap bytes); length or -1 */
static int b64(const char *s, uint8_t *out, size_t cap)
{
	size_t len = strlen(s), pad = 0;
	uint8_t tmp[4096];
	int n;

	if (len % 4 || len / 4 * 3 > sizeof(tmp))
		return -1;
	if (!len)
		return 0;
	n = EVP_DecodeBlock(tmp, (const unsigned char *)s, len);
	if (n < 0)
		return -1;
	pad = (s[len - 1] == '=') + (s[len - 2] == '=');
	n -= pad;
	if ((size_t)n > cap)
		return -1;
	memcpy(out, tmp, n);
	return n;
}

static int hex(const char *s, uint8_t *out, size_t cap)
{
	size_t i, len = strlen(s);

	if (len % 2 || len / 2 > cap)
		return -1;
	for (i = 0; i < len / 2; i++)
		if (sscanf(s + 2 * i, "%2hhx", &out[i]) != 1)
			return -1;
	return len / 2;
}

/* a JSON array of base64 (or null) into a flat buffer; bytes or -1 */
static int proof_b64(json_t *a, uint8_t *out, size_t cap)
{
	size_t i, len = 0;
	json_t *v;

	if (json_is_null(a) || !a)
		return 0;
	json_array_foreach(a, i, v) {
		int n = b64(json_string_value(v) ?: "", out + len, cap - len);

		if (n != GR_MERKLE_HASH_LEN)
			return -1;	/* a proof hash of the wrong length */
		len += n;
	}
	return len;
}

/*
 * jansson's integers are signed 64-bit and the vectors hold 2^64 - 1: the
 * integer fields are read from the text with strtoull.
 */
static uint64_t u64_field(const char *text, const char *key)
{
	char pat[64];
	const char *p;

	snprintf(pat, sizeof(pat), "\"%s\":", key);
	p = strstr(text, pat);
	return p ? strtoull(p + strlen(pat), NULL, 10) : 0;
}

typedef int (*case_fn)(json_t *c, const char *text, const char *path);

static int inclusion_case(json_t *c, const char *text, const char *path)
{
	uint8_t leaf[64], root[64], proof[GR_MERKLE_MAX_PROOF * 40];
	int ll = b64(json_string_value(json_object_get(c, "leafHash")) ?: "", leaf, sizeof(leaf));
	int rl = b64(json_string_value(json_object_get(c, "root")) ?: "", root, sizeof(root));
	int pl = proof_b64(json_object_get(c, "proof"), proof, sizeof(proof));
	bool want_err = json_is_true(json_object_get(c, "wantErr"));
	int ret = -EINVAL;

	if (ll >= 0 && rl >= 0 && pl >= 0)
		ret = gr_merkle_verify_inclusion(u64_field(text, "leafIdx"),
						 u64_field(text, "treeSize"),
						 leaf, ll, proof, pl, root, rl);
	if (!!ret != want_err) {
		printf("# %s: %s: got %d\n", path,
		       json_string_value(json_object_get(c, "desc")), ret);
		return 1;
	}
	return 0;
}

static int consistency_case(json_t *c, const char *text, const char *path)
{
	uint8_t r1[64], r2[64], proof[GR_MERKLE_MAX_PROOF * 40];
	int l1 = b64(json_string_value(json_object_get(c, "root1")) ?: "", r1, sizeof(r1));
	int l2 = b64(json_string_value(json_object_get(c, "root2")) ?: "", r2, sizeof(r2));
	int pl = proof_b64(json_object_get(c, "proof"), proof, sizeof(proof));
	bool want_err = json_is_true(json_object_get(c, "wantErr"));
	int ret = -EINVAL;

	if (l1 >= 0 && l2 >= 0 && pl >= 0)
		ret = gr_merkle_verify_consistency(u64_field(text, "size1"),
						   u64_field(text, "size2"),
						   r1, l1, r2, l2, proof, pl);
	if (!!ret != want_err) {
		printf("# %s: %s: got %d\n", path,
		       json_string_value(json_object_get(c, "desc")), ret);
		return 1;
	}
	return 0;
}

static int run_file(const char *path, case_fn fn, unsigned int *count, unsigned int *errs)
{
	char text[16384];
	json_error_t je;
	size_t len;
	FILE *f = fopen(path, "r");
	json_t *c;
	int ret;

	if (!f)
		return 1;
	len = fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	text[len] = 0;
	c = json_loads(text, JSON_DECODE_INT_AS_REAL, &je);
	if (!c) {
		printf("# %s: %s\n", path, je.text);
		return 1;
	}
	(*count)++;
	*errs += json_is_true(json_object_get(c, "wantErr"));
	ret = fn(c, text, path);
	json_decref(c);
	return ret;
}

/* run @fn on every .json file under @dir; *count cases */
static int run_dir(const char *dir, case_fn fn, unsigned int *count, unsigned int *errs)
{
	DIR *d = opendir(dir);
	struct dirent *g;
	char path[1024];
	int failed = 0;

	if (!d) {
		printf("# cannot open %s: %s\n", dir, strerror(errno));
		return 1;
	}
	while ((g = readdir(d))) {
		if (g->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, g->d_name);
		if (g->d_type == DT_DIR)
			failed |= run_dir(path, fn, count, errs);
		else if (strstr(g->d_name, ".json"))
			failed |= run_file(path, fn, count, errs);
	}
	closedir(d);
	return failed;
}

static int test_inclusion_vectors(void)
{
	unsigned int n = 0, errs = 0;

	CHECK(!run_dir(TDM "/inclusion", inclusion_case, &n, &errs));
	printf("# %u inclusion cases, %u expected to fail\n", n, errs);
	CHECK(n == 98);
	CHECK(errs > 0 && errs < n);
	return 0;
}

static int test_consistency_vectors(void)
{
	unsigned int n = 0, errs = 0;

	CHECK(!run_dir(TDM "/consistency", consistency_case, &n, &errs));
	printf("# %u consistency cases, %u expected to fail\n", n, errs);
	CHECK(n == 98);
	CHECK(errs > 0 && errs < n);
	return 0;
}

static json_t *reftree(void)
{
	json_error_t je;
	json_t *j = json_load_file(VECDIR "/rfc6962-reference-tree.json", 0, &je);

	if (!j)
		printf("# reference tree: %s\n", je.text);
	return j;
}

static int test_hasher_kats(void)
{
	json_t *j = reftree(), *k;
	uint8_t a[128], b[128], want[32];
	gr_mhash out;
	size_t i;

	CHECK(j);
	json_array_foreach(json_object_get(j, "hasher_kats"), i, k) {
		const char *leaf = json_string_value(json_object_get(k, "leaf"));
		const char *l = json_string_value(json_object_get(k, "left"));
		const char *r = json_string_value(json_object_get(k, "right"));
		int la, lb;

		CHECK(hex(json_string_value(json_object_get(k, "want")), want, 32) == 32);
		if (leaf) {
			la = hex(leaf, a, sizeof(a));
			CHECK(la >= 0 && !gr_merkle_leaf_hash(a, la, out));
		} else if (l && r) {
			la = hex(l, a, sizeof(a));
			lb = hex(r, b, sizeof(b));
			CHECK(la >= 0 && lb >= 0 && !gr_merkle_node_hash_raw(a, la, b, lb, out));
		} else {
			CHECK(!gr_merkle_empty_root(out));
		}
		CHECK(!memcmp(out, want, 32));
	}
	CHECK(i == 6);
	json_decref(j);
	return 0;
}

static int proof_eq(json_t *want, gr_mhash *proof, unsigned int n)
{
	uint8_t h[32];
	size_t i;
	json_t *v;

	if (json_array_size(want) != n)
		return 0;
	json_array_foreach(want, i, v)
		if (hex(json_string_value(v), h, 32) != 32 || memcmp(h, proof[i], 32))
			return 0;
	return 1;
}

/* the reference tree: roots, stored nodes, generated proofs byte for byte */
static int test_reference_tree(void)
{
	struct gr_merkle_mem mem = { 0 };
	gr_mhash lh, root, proof[GR_MERKLE_MAX_PROOF];
	json_t *j = reftree(), *v;
	uint8_t buf[64];
	struct gr_merkle t;
	unsigned int n;
	size_t i;

	CHECK(j);
	CHECK(!gr_merkle_open(&t, &gr_merkle_mem_ops, &mem, 0));
	json_array_foreach(json_object_get(j, "leaf_inputs"), i, v) {
		int len = hex(json_string_value(v), buf, sizeof(buf));

		CHECK(len >= 0);
		CHECK(!gr_merkle_leaf_hash(buf, len, lh));
		CHECK(!gr_merkle_append(&t, lh));
	}
	CHECK(t.size == 8);
	json_array_foreach(json_object_get(j, "roots"), i, v) {
		CHECK(hex(json_string_value(v), buf, 32) == 32);
		CHECK(!gr_merkle_root_at(&t, i, root));
		CHECK(!memcmp(root, buf, 32));
	}
	CHECK(i == 9);
	json_array_foreach(json_object_get(j, "inclusion_proofs"), i, v) {
		uint64_t idx = json_integer_value(json_object_get(v, "leaf_index"));
		uint64_t size = json_integer_value(json_object_get(v, "tree_size"));

		CHECK(!gr_merkle_inclusion(&t, idx, size, proof, &n));
		CHECK(proof_eq(json_object_get(v, "proof"), proof, n));
		CHECK(!gr_merkle_leaf_at(&t, idx, lh));
		CHECK(!gr_merkle_root_at(&t, size, root));
		CHECK(!gr_merkle_verify_inclusion(idx, size, lh, 32, proof[0], n * 32, root, 32));
	}
	json_array_foreach(json_object_get(j, "consistency_proofs"), i, v) {
		uint64_t s1 = json_integer_value(json_object_get(v, "size1"));
		uint64_t s2 = json_integer_value(json_object_get(v, "size2"));
		gr_mhash r1;

		CHECK(!gr_merkle_consistency(&t, s1, s2, proof, &n));
		CHECK(proof_eq(json_object_get(v, "proof"), proof, n));
		CHECK(!gr_merkle_root_at(&t, s1, r1));
		CHECK(!gr_merkle_root_at(&t, s2, root));
		CHECK(!gr_merkle_verify_consistency(s1, s2, r1, 32, root, 32, proof[0], n * 32));
	}
	gr_merkle_mem_free(&mem);
	json_decref(j);
	return 0;
}

static int test_postorder(void)
{
	uint64_t s;

	CHECK(gr_merkle_postorder(0, 0) == 0);
	CHECK(gr_merkle_postorder(0, 1) == 1);
	CHECK(gr_merkle_postorder(1, 0) == 2);
	CHECK(gr_merkle_postorder(0, 2) == 3);
	CHECK(gr_merkle_postorder(2, 0) == 6);
	CHECK(gr_merkle_nodes(0) == 0 && gr_merkle_nodes(4) == 7 && gr_merkle_nodes(5) == 8);
	for (s = 0; s < 5000; s++) {
		CHECK(gr_merkle_size_for_nodes(gr_merkle_nodes(s)) == s);
		/* a torn store (one hash short) is the tree one leaf smaller at most */
		if (s)
			CHECK(gr_merkle_size_for_nodes(gr_merkle_nodes(s) - 1) == s - 1);
	}
	return 0;
}

/* MTH(D[a:b]) from scratch, RFC 9162 2.1.1 */
static void mth(const gr_mhash *leaves, uint64_t a, uint64_t b, gr_mhash out)
{
	gr_mhash l, r;
	uint64_t k = 1;

	if (b == a) {
		gr_merkle_empty_root(out);
		return;
	}
	if (b - a == 1) {
		memcpy(out, leaves[a], 32);
		return;
	}
	while (k * 2 < b - a)
		k *= 2;
	mth(leaves, a, a + k, l);
	mth(leaves, a + k, b, r);
	gr_merkle_node_hash(l, r, out);
}

#define NRAND 700

static int test_random_cross_check(void)
{
	struct gr_merkle_mem mem = { 0 };
	gr_mhash *leaves = calloc(NRAND, sizeof(*leaves));
	gr_mhash root, want, lh, proof[GR_MERKLE_MAX_PROOF], r1;
	struct gr_merkle t, t2;
	unsigned int i, n;

	CHECK(leaves);
	srand(12);
	CHECK(!gr_merkle_open(&t, &gr_merkle_mem_ops, &mem, 0));
	for (i = 0; i < NRAND; i++) {
		uint32_t data[3] = { i, (uint32_t)rand(), (uint32_t)rand() };

		CHECK(!gr_merkle_leaf_hash(data, sizeof(data), leaves[i]));
		CHECK(!gr_merkle_append(&t, leaves[i]));
		CHECK(mem.n == gr_merkle_nodes(i + 1));
		mth(leaves, 0, i + 1, want);
		CHECK(!gr_merkle_root(&t, root));
		CHECK(!memcmp(root, want, 32));
	}
	for (i = 0; i < 300; i++) {
		uint64_t s2 = 1 + rand() % NRAND, s1 = 1 + rand() % s2, idx = rand() % s2;

		/* roots at older sizes come from the store */
		mth(leaves, 0, s2, want);
		CHECK(!gr_merkle_root_at(&t, s2, root));
		CHECK(!memcmp(root, want, 32));
		CHECK(!gr_merkle_inclusion(&t, idx, s2, proof, &n));
		CHECK(!gr_merkle_verify_inclusion(idx, s2, leaves[idx], 32, proof[0], n * 32,
						  root, 32));
		/* another leaf, another index: refused */
		CHECK(gr_merkle_verify_inclusion(idx, s2, leaves[(idx + 1) % NRAND], 32,
						 proof[0], n * 32, root, 32) ||
		      s2 == 1);
		mth(leaves, 0, s1, r1);
		CHECK(!gr_merkle_consistency(&t, s1, s2, proof, &n));
		CHECK(!gr_merkle_verify_consistency(s1, s2, r1, 32, root, 32, proof[0], n * 32));
		if (n) {
			/* a proof one hash short is refused */
			CHECK(gr_merkle_verify_consistency(s1, s2, r1, 32, root, 32, proof[0],
							   (n - 1) * 32));
		}
		/* reopened at s2 from the store alone: the same compact range and root */
		CHECK(!gr_merkle_open(&t2, &gr_merkle_mem_ops, &mem, s2));
		CHECK(!gr_merkle_root(&t2, lh));
		CHECK(!memcmp(lh, want, 32));
	}
	/* truncate, then grow again with other leaves */
	CHECK(!gr_merkle_truncate(&t, 333));
	CHECK(mem.n == gr_merkle_nodes(333));
	for (i = 333; i < NRAND; i++) {
		leaves[i][0] ^= 0xff;
		CHECK(!gr_merkle_append(&t, leaves[i]));
	}
	mth(leaves, 0, NRAND, want);
	CHECK(!gr_merkle_root(&t, root));
	CHECK(!memcmp(root, want, 32));
	CHECK(gr_merkle_root_at(&t, NRAND + 1, root) == -EINVAL);
	CHECK(gr_merkle_inclusion(&t, NRAND, NRAND, proof, &n) == -EINVAL);
	gr_merkle_mem_free(&mem);
	free(leaves);
	return 0;
}

static const struct grtest tests[] = {
	{ "hasher_kats", test_hasher_kats },
	{ "postorder", test_postorder },
	{ "reference_tree", test_reference_tree },
	{ "inclusion_vectors", test_inclusion_vectors },
	{ "consistency_vectors", test_consistency_vectors },
	{ "random_cross_check", test_random_cross_check },
};

GRTEST_MAIN(tests)
