// SPDX-License-Identifier: GPL-2.0
/*
 * RFC 9162 Merkle tree: see user/include/georep/merkle.h.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "georep/merkle.h"

static int sha256_2(uint8_t prefix, const void *a, size_t alen, const void *b,
		    size_t blen, gr_mhash out)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int ok;

	if (!ctx)
		return -ENOMEM;
	ok = EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) &&
	     EVP_DigestUpdate(ctx, &prefix, 1) &&
	     (!alen || EVP_DigestUpdate(ctx, a, alen)) &&
	     (!blen || EVP_DigestUpdate(ctx, b, blen)) &&
	     EVP_DigestFinal_ex(ctx, out, NULL);
	EVP_MD_CTX_free(ctx);
	return ok ? 0 : -EIO;
}

int gr_merkle_leaf_hash(const void *data, size_t len, gr_mhash out)
{
	return sha256_2(0x00, data, len, NULL, 0, out);
}

int gr_merkle_node_hash(const gr_mhash left, const gr_mhash right, gr_mhash out)
{
	return sha256_2(0x01, left, GR_MERKLE_HASH_LEN, right, GR_MERKLE_HASH_LEN, out);
}

int gr_merkle_node_hash_raw(const void *l, size_t llen, const void *r, size_t rlen,
			    gr_mhash out)
{
	return sha256_2(0x01, l, llen, r, rlen, out);
}

int gr_merkle_empty_root(gr_mhash out)
{
	return EVP_Digest("", 0, out, NULL, EVP_sha256(), NULL) ? 0 : -EIO;
}

uint64_t gr_merkle_nodes(uint64_t size)
{
	return 2 * size - __builtin_popcountll(size);
}

uint64_t gr_merkle_postorder(unsigned int level, uint64_t index)
{
	/* the node is stored right after its last leaf's own hash and level - 1 merges */
	uint64_t last = ((index + 1) << level) - 1;

	return gr_merkle_nodes(last) + level;
}

uint64_t gr_merkle_size_for_nodes(uint64_t nodes)
{
	uint64_t lo = 0, hi = nodes;

	/* gr_merkle_nodes() grows with size: the largest size that fits */
	while (lo < hi) {
		uint64_t mid = lo + (hi - lo + 1) / 2;

		if (gr_merkle_nodes(mid) <= nodes)
			lo = mid;
		else
			hi = mid - 1;
	}
	return lo;
}

/* the largest power of two below @n (n >= 2) */
static uint64_t split(uint64_t n)
{
	return 1ULL << (63 - __builtin_clzll(n - 1));
}

static bool pow2(uint64_t n)
{
	return n && !(n & (n - 1));
}

/* MTH(D[a:b]) of stored leaves; a is aligned as RFC 9162's recursion keeps it */
static int range_hash(const struct gr_merkle *t, uint64_t a, uint64_t b, gr_mhash out)
{
	gr_mhash l, r;
	uint64_t w = b - a, k;
	int ret;

	if (b > t->size || a >= b)
		return -EINVAL;
	if (pow2(w)) {
		unsigned int level = __builtin_ctzll(w);

		if (a & (w - 1))
			return -EINVAL;
		return t->ops->get(t->ctx, gr_merkle_postorder(level, a >> level), out);
	}
	k = split(w);
	ret = range_hash(t, a, a + k, l);
	if (!ret)
		ret = range_hash(t, a + k, b, r);
	if (!ret)
		ret = gr_merkle_node_hash(l, r, out);
	return ret;
}

int gr_merkle_open(struct gr_merkle *t, const struct gr_merkle_store_ops *ops,
		   void *ctx, uint64_t size)
{
	uint64_t start = 0;
	int bit, ret;

	memset(t, 0, sizeof(*t));
	t->ops = ops;
	t->ctx = ctx;
	t->size = size;
	for (bit = 63; bit >= 0; bit--) {
		uint64_t w = 1ULL << bit;

		if (!(size & w))
			continue;
		ret = ops->get(ctx, gr_merkle_postorder(bit, start >> bit), t->range[t->nr]);
		if (ret)
			return ret;
		t->nr++;
		start += w;
	}
	return 0;
}

int gr_merkle_append(struct gr_merkle *t, const gr_mhash leaf_hash)
{
	gr_mhash out[GR_MERKLE_MAX_LEVELS + 1];
	uint64_t pos = gr_merkle_nodes(t->size);
	unsigned int n = 1, nr = t->nr;
	uint64_t s;
	int ret;

	if (t->size == UINT64_MAX >> 1)
		return -EOVERFLOW;
	memcpy(out[0], leaf_hash, GR_MERKLE_HASH_LEN);
	/* every trailing one bit of the old size is a subtree the new leaf completes */
	for (s = t->size; s & 1; s >>= 1) {
		ret = gr_merkle_node_hash(t->range[nr - 1], out[n - 1], out[n]);
		if (ret)
			return ret;
		nr--;
		n++;
	}
	ret = t->ops->append(t->ctx, pos, (const gr_mhash *)out, n);
	if (ret)
		return ret;
	memcpy(t->range[nr], out[n - 1], GR_MERKLE_HASH_LEN);
	t->nr = nr + 1;
	t->size++;
	return 0;
}

int gr_merkle_truncate(struct gr_merkle *t, uint64_t size)
{
	int ret;

	if (size > t->size)
		return -EINVAL;
	ret = t->ops->truncate(t->ctx, gr_merkle_nodes(size));
	if (ret)
		return ret;
	return gr_merkle_open(t, t->ops, t->ctx, size);
}

int gr_merkle_root(const struct gr_merkle *t, gr_mhash out)
{
	gr_mhash acc;
	int i, ret;

	if (!t->nr)
		return gr_merkle_empty_root(out);
	memcpy(acc, t->range[t->nr - 1], GR_MERKLE_HASH_LEN);
	for (i = t->nr - 2; i >= 0; i--) {
		ret = gr_merkle_node_hash(t->range[i], acc, acc);
		if (ret)
			return ret;
	}
	memcpy(out, acc, GR_MERKLE_HASH_LEN);
	return 0;
}

int gr_merkle_root_at(const struct gr_merkle *t, uint64_t size, gr_mhash out)
{
	if (size > t->size)
		return -EINVAL;
	if (size == t->size)
		return gr_merkle_root(t, out);
	if (!size)
		return gr_merkle_empty_root(out);
	return range_hash(t, 0, size, out);
}

int gr_merkle_leaf_at(const struct gr_merkle *t, uint64_t index, gr_mhash out)
{
	if (index >= t->size)
		return -EINVAL;
	return t->ops->get(t->ctx, gr_merkle_postorder(0, index), out);
}

/* PATH(m, D[a:b]), m absolute: the sub-path first, then the sibling */
static int path(const struct gr_merkle *t, uint64_t m, uint64_t a, uint64_t b,
		gr_mhash *proof, unsigned int *n)
{
	uint64_t k;
	int ret;

	if (b - a == 1)
		return 0;
	k = split(b - a);
	if (m < a + k) {
		ret = path(t, m, a, a + k, proof, n);
		if (!ret)
			ret = range_hash(t, a + k, b, proof[*n]);
	} else {
		ret = path(t, m, a + k, b, proof, n);
		if (!ret)
			ret = range_hash(t, a, a + k, proof[*n]);
	}
	if (!ret)
		(*n)++;
	return ret;
}

int gr_merkle_inclusion(const struct gr_merkle *t, uint64_t index, uint64_t size,
			gr_mhash proof[GR_MERKLE_MAX_PROOF], unsigned int *n)
{
	*n = 0;
	if (size > t->size || index >= size)
		return -EINVAL;
	return path(t, index, 0, size, proof, n);
}

/* SUBPROOF(m, D[a:b], whole), m absolute */
static int subproof(const struct gr_merkle *t, uint64_t m, uint64_t a, uint64_t b,
		    bool whole, gr_mhash *proof, unsigned int *n)
{
	uint64_t k;
	int ret;

	if (m == b) {
		if (whole)
			return 0;
		ret = range_hash(t, a, b, proof[*n]);
		goto out;
	}
	k = split(b - a);
	if (m <= a + k) {
		ret = subproof(t, m, a, a + k, whole, proof, n);
		if (!ret)
			ret = range_hash(t, a + k, b, proof[*n]);
	} else {
		ret = subproof(t, m, a + k, b, false, proof, n);
		if (!ret)
			ret = range_hash(t, a, a + k, proof[*n]);
	}
out:
	if (!ret)
		(*n)++;
	return ret;
}

int gr_merkle_consistency(const struct gr_merkle *t, uint64_t size1, uint64_t size2,
			  gr_mhash proof[GR_MERKLE_MAX_PROOF], unsigned int *n)
{
	*n = 0;
	if (!size1 || size1 > size2 || size2 > t->size)
		return -EINVAL;
	if (size1 == size2)
		return 0;
	return subproof(t, size1, 0, size2, true, proof, n);
}

/* r = H(1 || p || r) or H(1 || r || p) */
static int fold(uint8_t *r, const uint8_t *p, bool p_left)
{
	return p_left ? gr_merkle_node_hash(p, r, r) : gr_merkle_node_hash(r, p, r);
}

int gr_merkle_verify_inclusion(uint64_t index, uint64_t size,
			       const uint8_t *leaf_hash, size_t leaf_hash_len,
			       const uint8_t *proof, size_t proof_len,
			       const uint8_t *root, size_t root_len)
{
	uint64_t fn = index, sn = size - 1;
	gr_mhash r;
	size_t i;
	int ret;

	if (index >= size || leaf_hash_len != GR_MERKLE_HASH_LEN ||
	    root_len != GR_MERKLE_HASH_LEN || proof_len % GR_MERKLE_HASH_LEN)
		return -EINVAL;
	memcpy(r, leaf_hash, GR_MERKLE_HASH_LEN);
	for (i = 0; i < proof_len; i += GR_MERKLE_HASH_LEN) {
		const uint8_t *p = proof + i;

		if (!sn)
			return -EBADMSG;	/* a hash past the root */
		if ((fn & 1) || fn == sn) {
			ret = fold(r, p, true);
			while (!(fn & 1) && fn) {
				fn >>= 1;
				sn >>= 1;
			}
		} else {
			ret = fold(r, p, false);
		}
		if (ret)
			return ret;
		fn >>= 1;
		sn >>= 1;
	}
	if (sn || CRYPTO_memcmp(r, root, GR_MERKLE_HASH_LEN))
		return -EBADMSG;
	return 0;
}

int gr_merkle_verify_consistency(uint64_t size1, uint64_t size2,
				 const uint8_t *root1, size_t root1_len,
				 const uint8_t *root2, size_t root2_len,
				 const uint8_t *proof, size_t proof_len)
{
	uint64_t fn, sn;
	gr_mhash fr, sr;
	size_t i = 0;
	int ret;

	if (!size1 || size1 > size2)
		return -EINVAL;
	/* equal sizes: nothing to prove, the roots must simply be the same bytes */
	if (size1 == size2) {
		if (proof_len || root1_len != root2_len)
			return -EBADMSG;
		return CRYPTO_memcmp(root1, root2, root1_len) ? -EBADMSG : 0;
	}
	if (root1_len != GR_MERKLE_HASH_LEN || root2_len != GR_MERKLE_HASH_LEN ||
	    proof_len % GR_MERKLE_HASH_LEN)
		return -EINVAL;
	if (!proof_len)
		return -EBADMSG;
	fn = size1 - 1;
	sn = size2 - 1;
	while (fn & 1) {
		fn >>= 1;
		sn >>= 1;
	}
	/* a power-of-two first tree is its own first hash; the proof omits it */
	if (pow2(size1)) {
		memcpy(fr, root1, GR_MERKLE_HASH_LEN);
	} else {
		memcpy(fr, proof, GR_MERKLE_HASH_LEN);
		i = GR_MERKLE_HASH_LEN;
	}
	memcpy(sr, fr, GR_MERKLE_HASH_LEN);
	for (; i < proof_len; i += GR_MERKLE_HASH_LEN) {
		const uint8_t *c = proof + i;

		if (!sn)
			return -EBADMSG;
		if ((fn & 1) || fn == sn) {
			ret = fold(fr, c, true);
			if (!ret)
				ret = fold(sr, c, true);
			while (!(fn & 1) && fn) {
				fn >>= 1;
				sn >>= 1;
			}
		} else {
			ret = fold(sr, c, false);
		}
		if (ret)
			return ret;
		fn >>= 1;
		sn >>= 1;
	}
	if (sn || CRYPTO_memcmp(fr, root1, GR_MERKLE_HASH_LEN) ||
	    CRYPTO_memcmp(sr, root2, GR_MERKLE_HASH_LEN))
		return -EBADMSG;
	return 0;
}

/* ------------------------------------------------------------------ */
/* In-memory store                                                     */
/* ------------------------------------------------------------------ */

static int mem_get(void *ctx, uint64_t pos, gr_mhash out)
{
	struct gr_merkle_mem *m = ctx;

	if (pos >= m->n)
		return -EINVAL;
	memcpy(out, m->h[pos], GR_MERKLE_HASH_LEN);
	return 0;
}

static int mem_append(void *ctx, uint64_t pos, const gr_mhash *h, unsigned int n)
{
	struct gr_merkle_mem *m = ctx;

	if (pos != m->n)
		return -EINVAL;
	if (m->n + n > m->cap) {
		uint64_t cap = m->cap ? m->cap * 2 : 64;
		gr_mhash *p;

		while (cap < m->n + n)
			cap *= 2;
		p = realloc(m->h, cap * sizeof(*p));
		if (!p)
			return -ENOMEM;
		m->h = p;
		m->cap = cap;
	}
	memcpy(m->h[m->n], h, n * sizeof(*h));
	m->n += n;
	return 0;
}

static int mem_truncate(void *ctx, uint64_t nodes)
{
	struct gr_merkle_mem *m = ctx;

	if (nodes > m->n)
		return -EINVAL;
	m->n = nodes;
	return 0;
}

const struct gr_merkle_store_ops gr_merkle_mem_ops = {
	.get = mem_get,
	.append = mem_append,
	.truncate = mem_truncate,
};

void gr_merkle_mem_free(struct gr_merkle_mem *m)
{
	free(m->h);
	memset(m, 0, sizeof(*m));
}
