/* SPDX-License-Identifier: GPL-2.0 */
/*
 * C2SP signed notes with Ed25519 keys, and the tlog-checkpoint body they
 * carry (Documentation/proofs.rst, "Checkpoints"):
 *
 *   note      = text "\n" signature-line...
 *   text      = one or more lines, each ending in "\n"
 *   signature = "\u2014 " name " " base64(key_id[4] || ed25519_sig[64]) "\n"
 *   key_id    = SHA-256(name || "\n" || type || public_key)[0:4], big-endian
 *   vkey      = name "+" hex8(key_id) "+" base64(type || public_key)
 *
 * type 0x01 signs the note text; type 0x04 is a C2SP tlog-cosignature
 * (Ed25519): base64(key_id[4] || timestamp[8, big-endian] || sig[64]) over
 * "cosignature/v1\ntime " timestamp "\n" || text. A site's one Ed25519
 * identity key has a verifier key of each type under the same name.
 *
 *   checkpoint text = origin "\n" decimal tree size "\n" base64(root) "\n"
 *                     [extension lines]
 *
 * Functions return 0 or a negative errno and put one sentence naming the
 * problem in @err (GR_NOTE_ERRLEN bytes) when they fail.
 */
#ifndef _GEOREP_NOTE_H
#define _GEOREP_NOTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "georep/merkle.h"

#define GR_NOTE_ERRLEN		256
#define GR_NOTE_NAME_MAX	128
#define GR_NOTE_MAX_KEYS	32
#define GR_NOTE_MAX_SIGS	32
#define GR_NOTE_PUB_LEN		32
#define GR_NOTE_SIG_LEN		64

#define GR_NOTE_TYPE_SIG	0x01
#define GR_NOTE_TYPE_COSIG	0x04

struct gr_note_key {
	char name[GR_NOTE_NAME_MAX];
	uint8_t type;			/* GR_NOTE_TYPE_* */
	uint32_t id;
	uint8_t pub[GR_NOTE_PUB_LEN];
};

/* what gr_note_verify() found */
struct gr_note_result {
	size_t text_len;		/* the signed text is note[0, text_len) */
	unsigned int nsigs;		/* signature lines */
	unsigned int verified;		/* of them, by a trusted key */
	unsigned int cosigned;		/* of those, cosignatures (type 0x04) */
	char signer[GR_NOTE_NAME_MAX];	/* the first trusted signer */
	/* the distinct names of trusted, verified signatures and cosignatures */
	unsigned int nnames;
	char names[GR_NOTE_MAX_SIGS][GR_NOTE_NAME_MAX];
};

/*
 * The site's identity key: an Ed25519 private key in a PEM file (PKCS#8).
 * Until the cluster configuration carries each site's "key" (TLS work),
 * callers pass the path; they will pass that field's value then.
 */
int gr_sitekey_load_pem(const char *path, EVP_PKEY **out, char *err);
/* an Ed25519 public (or private) key from a PEM file */
int gr_note_key_from_pem(const char *path, const char *name, struct gr_note_key *k,
			 char *err);
int gr_note_key_from_pkey(EVP_PKEY *pkey, const char *name, struct gr_note_key *k,
			  char *err);

uint32_t gr_note_key_id(const char *name, uint8_t type, const uint8_t pub[GR_NOTE_PUB_LEN]);
/* the same key as a cosigner (type 0x04, its own key id) */
void gr_note_key_cosigner(struct gr_note_key *k);
/* @out: at least GR_NOTE_NAME_MAX + 64 bytes */
void gr_note_vkey(const struct gr_note_key *k, char *out, size_t len);
int gr_note_parse_vkey(const char *s, struct gr_note_key *k, char *err);
/* vkeys, one a line ('#' comments and blank lines skipped); *@n keys */
int gr_note_load_trust(const char *path, struct gr_note_key *keys, unsigned int max,
		       unsigned int *n, char *err);

/*
 * Append a signature line of @text (which must end in "\n") signed by
 * @pkey under @name to @out: @out receives text "\n" sigline when
 * @out_len is 0, else only the line is appended at @out[*out_len].
 */
int gr_note_sign(const char *text, EVP_PKEY *pkey, const char *name, char *out,
		 size_t cap, size_t *out_len, char *err);
/*
 * Append a C2SP tlog-cosignature line of @text at @timestamp (POSIX
 * seconds) to @out at *@out_len, as gr_note_sign() does.
 */
int gr_note_cosign(const char *text, EVP_PKEY *pkey, const char *name, uint64_t timestamp,
		   char *out, size_t cap, size_t *out_len, char *err);
/*
 * Verify a note: at least one signature by a key in @keys, and no
 * signature by a known key that fails. Signatures of unknown keys are
 * skipped. Return: 0, -EBADMSG (malformed or a bad signature), -ENOKEY
 * (no signature by a trusted key).
 */
int gr_note_verify(const char *note, size_t len, const struct gr_note_key *keys,
		   unsigned int nkeys, struct gr_note_result *res, char *err);

/* the checkpoint text of @origin, @size, @root into @out */
int gr_checkpoint_format(const char *origin, uint64_t size, const gr_mhash root,
			 char *out, size_t cap);
/* parse checkpoint text (the first three lines; extensions are ignored) */
int gr_checkpoint_parse(const char *text, size_t len, char *origin, size_t origin_cap,
			uint64_t *size, gr_mhash root, char *err);

/* standard base64 (RFC 4648 section 4) */
int gr_b64_encode(const uint8_t *in, size_t len, char *out, size_t cap);
/* Return: decoded length, or -EINVAL for bad base64 */
int gr_b64_decode(const char *in, size_t len, uint8_t *out, size_t cap);

#endif /* _GEOREP_NOTE_H */
