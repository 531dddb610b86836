// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer target: the proof bundle, signed note, checkpoint and verifier
 * key parsers (lib/tlogproof.c, lib/note.c), and the check of a kept final
 * checkpoint (georepd/final.c, gd_final_check()). The trusted key is fixed
 * (seed 32 x 0x42, name georep/fuzz/alpha) so the seed corpus holds bundles
 * that verify. A bundle that verifies must be self-consistent.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "georep/tlogproof.h"
#include "../georepd/final.h"

static struct gr_note_key key;

static void init(void)
{
	static const uint8_t seed[32] = { [0 ... 31] = 0x42 };
	char err[GR_NOTE_ERRLEN];
	EVP_PKEY *pk;

	if (key.id)
		return;
	pk = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed, sizeof(seed));
	if (!pk || gr_note_key_from_pkey(pk, "georep/fuzz/alpha", &key, err))
		abort();
	EVP_PKEY_free(pk);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char text[GR_TLOG_MAX + 1], err[GR_NOTE_ERRLEN], origin[GR_TLOG_ORIGIN_MAX];
	struct gr_tlog_result res;
	struct gr_note_result nr;
	struct gr_note_key k;
	uint64_t csize;
	gr_mhash root;

	init();
	if (size > GR_TLOG_MAX)
		return 0;
	memcpy(text, data, size);
	text[size] = 0;
	if (!gr_tlog_verify(text, size, &key, 1, &res, err)) {
		if (!res.verified || res.verified > res.nsigs ||
		    (res.kind == GR_TLOG_KIND_INCLUSION &&
		     (res.index >= res.size || res.rec.seq != res.index + 1)) ||
		    (res.kind == GR_TLOG_KIND_CONSISTENCY &&
		     (!res.size1 || res.size1 > res.size)))
			abort();
	} else if (!err[0]) {
		abort();	/* a refusal always says why */
	}
	if (!gr_note_verify(text, size, &key, 1, &nr, err) && nr.text_len >= size)
		abort();
	gr_checkpoint_parse(text, size, origin, sizeof(origin), &csize, root, err);
	/* a refused final checkpoint always says why */
	err[0] = 0;
	if (gd_final_check(text, size, "georep/fuzz/vol0", &key, 1, 1, &csize, root, err) &&
	    !err[0])
		abort();
	if (!memchr(text, 0, size))
		gr_note_parse_vkey(text, &k, err);
	return 0;
}
