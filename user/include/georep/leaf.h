/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The Merkle leaf of a georep record (Documentation/proofs.rst, "Leaf
 * format"): a fixed 144-byte little-endian encoding of the header fields
 * that identify the record, versioned on its own so that the record header
 * can change without changing what was proven.
 *
 *   off len field
 *     0   4 magic "GRLF"
 *     4   2 leaf format version (1)
 *     6   2 op
 *     8   8 seq
 *    16   8 term
 *    24   8 lba (512-byte sectors)
 *    32   4 len
 *    36   4 payload_len
 *    40   8 timestamp_ns
 *    48   4 site_id
 *    52   4 seal_epoch
 *    56   4 flags
 *    60   2 record header version
 *    62   2 zero
 *    64  16 volume_uuid
 *    80  32 payload_hash
 *   112  32 chain_hash
 *
 * The seal (a secret-key MAC) is not part of the leaf. The leaf of the
 * record with seq s is leaf index s - 1 of the volume's tree.
 */
#ifndef _GEOREP_LEAF_H
#define _GEOREP_LEAF_H

#include <stddef.h>
#include <stdint.h>

#include "georep/merkle.h"
#include "georep/record.h"

#define GEOREP_LEAF_LEN		144
#define GEOREP_LEAF_VERSION	1
#define GEOREP_LEAF_MAGIC	"GRLF"

void georep_leaf_encode(const struct georep_rec *rec, uint8_t out[GEOREP_LEAF_LEN]);
/*
 * Decode and check a leaf: length, magic, version, zero padding.
 * Only the fields listed above are set in @rec (the seal is zeroed).
 * Return: 0 or -EINVAL with one sentence in @err.
 */
int georep_leaf_decode(const uint8_t *leaf, size_t len, struct georep_rec *rec,
		       char *err, size_t errlen);
/*
 * The record header a decoded leaf stands for, seal and reserved bytes
 * zero: every byte the chain hash covers, so that a leaf received from
 * another site can be chained (georep_chain_hash()) like the record.
 */
void georep_leaf_header(const struct georep_rec *rec, struct georep_record *hdr);
/* the RFC 9162 leaf hash of @rec's leaf */
int georep_leaf_hash(const struct georep_rec *rec, gr_mhash out);

#endif /* _GEOREP_LEAF_H */
