/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Offline-verifiable proof bundles (Documentation/proofs.rst, "Bundles"):
 *
 * inclusion, C2SP tlog-proof@v1 with the record's leaf as its extra data:
 *
 *   c2sp.org/tlog-proof@v1
 *   extra <base64 of the 144-byte leaf>
 *   index <leaf index = seq - 1>
 *   <base64 proof hash, leaf side first>...
 *   <empty line>
 *   <signed checkpoint note>
 *
 * consistency, georep's variant of the same shape:
 *
 *   georep/tlog-consistency@v1
 *   old <size1> <base64 root at size1>
 *   <base64 proof hash>...
 *   <empty line>
 *   <signed checkpoint note of size2>
 *
 * gr_tlog_verify() needs only the bundle and the trusted verifier keys.
 */
#ifndef _GEOREP_TLOGPROOF_H
#define _GEOREP_TLOGPROOF_H

#include "georep/leaf.h"
#include "georep/merkle.h"
#include "georep/note.h"

#define GR_TLOG_INCLUSION	"c2sp.org/tlog-proof@v1"
#define GR_TLOG_CONSISTENCY	"georep/tlog-consistency@v1"
#define GR_TLOG_ORIGIN_MAX	256
#define GR_TLOG_MAX		8192	/* a bundle's bytes, at most */

enum gr_tlog_kind { GR_TLOG_KIND_INCLUSION = 1, GR_TLOG_KIND_CONSISTENCY };

struct gr_tlog_result {
	enum gr_tlog_kind kind;
	char origin[GR_TLOG_ORIGIN_MAX];
	uint64_t size;			/* the checkpoint's */
	gr_mhash root;
	char signer[GR_NOTE_NAME_MAX];
	unsigned int nsigs, verified, cosigned;
	/* the distinct trusted names that signed or cosigned the checkpoint */
	unsigned int nnames;
	char names[GR_NOTE_MAX_SIGS][GR_NOTE_NAME_MAX];
	/* inclusion */
	uint64_t index;
	struct georep_rec rec;		/* from the leaf */
	/* consistency */
	uint64_t size1;
	gr_mhash root1;
};

int gr_tlog_inclusion_text(const uint8_t leaf[GEOREP_LEAF_LEN], uint64_t index,
			   const gr_mhash *proof, unsigned int n, const char *note,
			   char *out, size_t cap);
int gr_tlog_consistency_text(uint64_t size1, const gr_mhash root1, const gr_mhash *proof,
			     unsigned int n, const char *note, char *out, size_t cap);
/*
 * Check a bundle: its checkpoint signed by a trusted key, its leaf (or old
 * root) proven against the checkpoint's root. Return: 0, -EBADMSG
 * (malformed, or a proof or signature that fails), -ENOKEY (no trusted
 * signature); @err names what failed.
 */
int gr_tlog_verify(const char *bundle, size_t len, const struct gr_note_key *keys,
		   unsigned int nkeys, struct gr_tlog_result *res, char *err);

#endif /* _GEOREP_TLOGPROOF_H */
