/* SPDX-License-Identifier: GPL-2.0 */
/*
 * RFC 9162 Merkle tree (Documentation/proofs.rst), SHA-256 throughout:
 *
 *   leaf hash     = SHA-256(0x00 || leaf bytes)
 *   interior hash = SHA-256(0x01 || left || right)
 *   empty tree    = SHA-256("")
 *
 * struct gr_merkle is an incremental tree: in memory it keeps only the
 * compact range (the roots of the perfect subtrees along the right edge,
 * one per set bit of the size, largest first), so appending a leaf hashes
 * at most log2(size) + 1 nodes. Every perfect subtree's hash is handed to a
 * store in post-order (leaf 0, leaf 1, node(1,0), leaf 2, ...): the store
 * is append-only, and node (level k, index i) sits at
 * gr_merkle_postorder(k, i). Roots at older sizes and inclusion and
 * consistency proofs are computed from the store.
 *
 * The verifiers implement RFC 9162 sections 2.1.3.2 and 2.1.4.2 and take
 * lengths for every hash, so a hash that is not 32 bytes is an error.
 *
 * Every function returns 0 or a negative errno: -EINVAL for sizes or
 * indices out of range, -EIO when hashing or the store failed, -EBADMSG
 * when a proof does not verify.
 */
#ifndef _GEOREP_MERKLE_H
#define _GEOREP_MERKLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GR_MERKLE_HASH_LEN	32
#define GR_MERKLE_MAX_LEVELS	64
/* a proof of a tree of at most 2^63 leaves has at most 63 hashes */
#define GR_MERKLE_MAX_PROOF	64

typedef uint8_t gr_mhash[GR_MERKLE_HASH_LEN];

int gr_merkle_leaf_hash(const void *data, size_t len, gr_mhash out);
int gr_merkle_node_hash(const gr_mhash left, const gr_mhash right, gr_mhash out);
/* SHA-256(0x01 || @l || @r) for inputs of any length (known-answer tests) */
int gr_merkle_node_hash_raw(const void *l, size_t llen, const void *r, size_t rlen,
			    gr_mhash out);
int gr_merkle_empty_root(gr_mhash out);

/* post-order position of perfect subtree (@level, @index) */
uint64_t gr_merkle_postorder(unsigned int level, uint64_t index);
/* hashes stored for a tree of @size leaves: 2 * size - popcount(size) */
uint64_t gr_merkle_nodes(uint64_t size);
/* the largest size whose nodes fit in @nodes stored hashes */
uint64_t gr_merkle_size_for_nodes(uint64_t nodes);

/* where the perfect subtrees' hashes live */
struct gr_merkle_store_ops {
	/* hash at post-order position @pos */
	int (*get)(void *ctx, uint64_t pos, gr_mhash out);
	/* append @n hashes, the first at post-order position @pos */
	int (*append)(void *ctx, uint64_t pos, const gr_mhash *h, unsigned int n);
	/* keep only the first @nodes hashes */
	int (*truncate)(void *ctx, uint64_t nodes);
};

struct gr_merkle {
	uint64_t size;
	unsigned int nr;			/* popcount(size) */
	gr_mhash range[GR_MERKLE_MAX_LEVELS];	/* compact range, largest first */
	const struct gr_merkle_store_ops *ops;
	void *ctx;
};

/*
 * Load the compact range of a tree of @size leaves from a store that holds
 * at least gr_merkle_nodes(@size) hashes (nothing is rehashed).
 */
int gr_merkle_open(struct gr_merkle *t, const struct gr_merkle_store_ops *ops,
		   void *ctx, uint64_t size);
int gr_merkle_append(struct gr_merkle *t, const gr_mhash leaf_hash);
/* back to @size <= t->size leaves: the store drops the rest */
int gr_merkle_truncate(struct gr_merkle *t, uint64_t size);
/* root of the whole tree (from the compact range) */
int gr_merkle_root(const struct gr_merkle *t, gr_mhash out);
/* root of the first @size leaves, @size <= t->size */
int gr_merkle_root_at(const struct gr_merkle *t, uint64_t size, gr_mhash out);
/* leaf hash of leaf @index */
int gr_merkle_leaf_at(const struct gr_merkle *t, uint64_t index, gr_mhash out);
/*
 * RFC 9162 2.1.3.1: inclusion proof of leaf @index in the tree of the
 * first @size leaves; *@n hashes into @proof (bottom-up).
 */
int gr_merkle_inclusion(const struct gr_merkle *t, uint64_t index, uint64_t size,
			gr_mhash proof[GR_MERKLE_MAX_PROOF], unsigned int *n);
/* RFC 9162 2.1.4.1: consistency proof from @size1 to @size2 */
int gr_merkle_consistency(const struct gr_merkle *t, uint64_t size1, uint64_t size2,
			  gr_mhash proof[GR_MERKLE_MAX_PROOF], unsigned int *n);

/*
 * RFC 9162 2.1.3.2. @proof: @proof_len bytes, 32 per hash.
 * Return: 0 when it verifies, -EBADMSG when not, -EINVAL for malformed
 * input (a hash that is not 32 bytes, an index past the size).
 */
int gr_merkle_verify_inclusion(uint64_t index, uint64_t size,
			       const uint8_t *leaf_hash, size_t leaf_hash_len,
			       const uint8_t *proof, size_t proof_len,
			       const uint8_t *root, size_t root_len);
/* RFC 9162 2.1.4.2; size1 == 0 is an error, size1 == size2 needs no proof */
int gr_merkle_verify_consistency(uint64_t size1, uint64_t size2,
				 const uint8_t *root1, size_t root1_len,
				 const uint8_t *root2, size_t root2_len,
				 const uint8_t *proof, size_t proof_len);

/* an in-memory store (tests, tools): a growing array of hashes */
struct gr_merkle_mem {
	gr_mhash *h;
	uint64_t n, cap;
};

extern const struct gr_merkle_store_ops gr_merkle_mem_ops;
void gr_merkle_mem_free(struct gr_merkle_mem *m);

#endif /* _GEOREP_MERKLE_H */
