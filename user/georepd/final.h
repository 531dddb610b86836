/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The last final checkpoint of a volume, in the state directory
 * (Documentation/proofs.rst, "Finality"; Documentation/state-dir.rst):
 *
 *   <volume>.final  the C2SP signed note, byte for byte: the checkpoint
 *                   text, an empty line, the leader's signature and the
 *                   cosignatures that made it final
 *
 * Saved as write-temp (<volume>.final.state.tmp, removed by the state
 * directory's open after a crash) + fsync + rename + fsync(dir): a crash
 * leaves the old or the new checkpoint whole. Loading checks it as a
 * follower checks a CKPT_FINAL frame: a torn or foreign file is refused
 * with the reason, never read as "no checkpoint".
 */
#ifndef _GEOREPD_FINAL_H
#define _GEOREPD_FINAL_H

#include <stddef.h>
#include <stdint.h>

#include "georep/merkle.h"
#include "georep/note.h"

#define GD_FINAL_MAX	8192		/* GR_CKPT_NOTE_MAX */
#define GD_FINAL_ERRLEN	256

/*
 * Check the signed note @note (@len bytes): a checkpoint of @origin,
 * signed or cosigned by at least @quorum distinct sites of @keys (their
 * signer and cosigner keys), no signature of a known key failing. Its
 * size and root in @size, @root. Return: 0; -ENOKEY when it is well formed
 * with at least @quorum signatures, none by a key of @keys (the sites'
 * keys changed since); -EBADMSG; the reason in @err.
 */
int gd_final_check(const char *note, size_t len, const char *origin,
		   const struct gr_note_key *keys, unsigned int nkeys, unsigned int quorum,
		   uint64_t *size, gr_mhash root, char *err);

/* Return: 0 or -errno, the reason in @err (GD_FINAL_ERRLEN). Durable when 0. */
int gd_final_save(const char *dir, const char *volume, const char *note, size_t len,
		  char *err);

/*
 * Read <dir>/<volume>.final into @note (GD_FINAL_MAX + 1 bytes, NUL
 * terminated) and gd_final_check() it. Return: 0; -ENOENT (never saved);
 * -ENOKEY (as gd_final_check()); -EBADMSG (torn, garbage, another
 * volume's, signatures: @err says which); -errno.
 */
int gd_final_load(const char *dir, const char *volume, const char *origin,
		  const struct gr_note_key *keys, unsigned int nkeys, unsigned int quorum,
		  char *note, size_t *len, uint64_t *size, gr_mhash root, char *err);

#endif /* _GEOREPD_FINAL_H */
