/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The Merkle tree over one volume's ledger, persisted in the state
 * directory (Documentation/proofs.rst, Documentation/state-dir.rst):
 *
 *   <volume>.mtree  "georep-mtree v1" header (32 bytes), then every perfect
 *                   subtree's hash (32 bytes) in post-order: leaf 0, leaf 1,
 *                   node(1,0), leaf 2, ... (gr_merkle_postorder())
 *   <volume>.mleaf  "georep-mleaf v1" header (32 bytes), then the 144-byte
 *                   leaf of every record, seq 1 first
 *
 * Both files are append-only (truncated only when the ledger drops a
 * suffix), so opening reads the compact range and nothing is rehashed;
 * records released from the log keep their leaves and hashes here, so
 * proofs of them still work. Written with pwrite, synced by
 * gd_mtree_sync(); a crash that tears a tail is repaired on open (both
 * files cut back to the largest tree they both hold whole).
 */
#ifndef _GEOREPD_MTREE_H
#define _GEOREPD_MTREE_H

#include <stdbool.h>
#include <stdint.h>

#include "georep/leaf.h"
#include "georep/merkle.h"

#define GD_MTREE_HDR	32

struct gd_mtree;

/* Return: 0 or -errno, a sentence in @err (256 bytes). */
int gd_mtree_open(const char *dir, const char *volume, struct gd_mtree **out, char *err);
void gd_mtree_close(struct gd_mtree *m);
uint64_t gd_mtree_size(const struct gd_mtree *m);
const struct gr_merkle *gd_mtree_tree(const struct gd_mtree *m);
/*
 * Add the record @rec (decoded from the raw header @hdr) as leaf
 * rec->seq - 1. Return: 0; -ERANGE when rec->seq is not size + 1;
 * -EBADMSG when its chain hash does not follow the last leaf's; -errno.
 */
int gd_mtree_add(struct gd_mtree *m, const struct georep_rec *rec, const void *hdr);
/*
 * Leaves of another site's tree, leaf i that of record @first + i (@first
 * <= size + 1): those the tree holds are compared, one that differs cuts
 * the tree back before it (*@cut: the size it was cut to, else untouched),
 * the others are added as gd_mtree_add() adds records (each must chain
 * from the one before: the leaf's fields are every header byte the chain
 * hash covers). Return: leaves added; -ESTALE when the first leaf differs
 * from the tree's (cut back before it: the common point is earlier);
 * -ERANGE when @first is past size + 1; -EBADMSG (a leaf that does not
 * chain, the tree holds the leaves before it), -EINVAL or -errno.
 */
int gd_mtree_take(struct gd_mtree *m, uint64_t first, const uint8_t *leaves, uint32_t count,
		  uint64_t *cut);
/* keep the first @size leaves */
int gd_mtree_truncate(struct gd_mtree *m, uint64_t size);
/* the leaf of record @seq (1 <= seq <= size) */
int gd_mtree_leaf(struct gd_mtree *m, uint64_t seq, uint8_t leaf[GEOREP_LEAF_LEN]);
/* the leaves of records @seq to @seq + @count - 1, all held, in one read */
int gd_mtree_leaves(struct gd_mtree *m, uint64_t seq, uint32_t count, uint8_t *out);
/* fdatasync both files when written since the last call */
int gd_mtree_sync(struct gd_mtree *m);

#endif /* _GEOREPD_MTREE_H */
