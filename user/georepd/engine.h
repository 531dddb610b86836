/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The per-volume replication engine of georepd: one consensus node
 * (georep/consensus.h) per volume, driving a ledger backend (ledger.h) and
 * speaking the wire protocol through georepd. See Documentation/replication.rst.
 */
#ifndef _GEOREPD_ENGINE_H
#define _GEOREPD_ENGINE_H

#include "replica.h"

/* gd_replica_factory for the real engine. */
int gd_engine_new(struct georepd *d, struct gd_volume *vol, struct gr_replica **out);
/* the same, for a kernel volume that must exist (no day-one genesis) */
int gd_engine_attach(struct georepd *d, struct gd_volume *vol, struct gr_replica **out);

/*
 * Test-only control requests (registered with the mem ledger only):
 *   test-write {volume, offset, blocks, byte}: a client write at this site;
 *   test-read {volume, offset, length}: SHA-256 of the data range;
 *   test-drop {site, drop}: drop every frame to and from a peer (partition).
 */
void gd_engine_register_test_cmds(struct georepd *d);

/*
 * The proof request of the Merkle tree (engine_mtree.c, Documentation/proofs.rst):
 *   proof {volume, kind: "inclusion", seq, size?} or
 *         {volume, kind: "consistency", size1, size2}:
 *   the leaf, the proof hashes and the root(s), over committed records only.
 */
void gd_engine_register_proof_cmds(struct georepd *d);
/* "key-rotate": a seal-key rotation by the leader (engine_keys.c) */
void gd_engine_register_key_cmds(struct georepd *d);

/* SIGHUP: the sites' keys again, for checkpoints (engine_ckpt.c) */
void gd_engine_ckpt_reload(struct georepd *d);

#endif /* _GEOREPD_ENGINE_H */
