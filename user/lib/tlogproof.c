// SPDX-License-Identifier: GPL-2.0
/*
 * Proof bundles: see user/include/georep/tlogproof.h.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "georep/tlogproof.h"

static int fail(char *err, int ret, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(char *err, int ret, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, GR_NOTE_ERRLEN, fmt, ap);
	va_end(ap);
	return ret;
}

/* append printf output at *pos */
static int put(char *out, size_t cap, size_t *pos, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int put(char *out, size_t cap, size_t *pos, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(out + *pos, cap - *pos, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= cap - *pos)
		return -ENOSPC;
	*pos += n;
	return 0;
}

static int put_tail(const gr_mhash *proof, unsigned int n, const char *note, char *out,
		    size_t cap, size_t *pos)
{
	char b64[64];
	unsigned int i;

	for (i = 0; i < n; i++) {
		gr_b64_encode(proof[i], GR_MERKLE_HASH_LEN, b64, sizeof(b64));
		if (put(out, cap, pos, "%s\n", b64))
			return -ENOSPC;
	}
	return put(out, cap, pos, "\n%s", note);
}

int gr_tlog_inclusion_text(const uint8_t leaf[GEOREP_LEAF_LEN], uint64_t index,
			   const gr_mhash *proof, unsigned int n, const char *note,
			   char *out, size_t cap)
{
	char b64[4 * GEOREP_LEAF_LEN / 3 + 4];
	size_t pos = 0;

	gr_b64_encode(leaf, GEOREP_LEAF_LEN, b64, sizeof(b64));
	if (put(out, cap, &pos, GR_TLOG_INCLUSION "\nextra %s\nindex %" PRIu64 "\n", b64, index))
		return -ENOSPC;
	return put_tail(proof, n, note, out, cap, &pos);
}

int gr_tlog_consistency_text(uint64_t size1, const gr_mhash root1, const gr_mhash *proof,
			     unsigned int n, const char *note, char *out, size_t cap)
{
	char b64[64];
	size_t pos = 0;

	gr_b64_encode(root1, GR_MERKLE_HASH_LEN, b64, sizeof(b64));
	if (put(out, cap, &pos, GR_TLOG_CONSISTENCY "\nold %" PRIu64 " %s\n", size1, b64))
		return -ENOSPC;
	return put_tail(proof, n, note, out, cap, &pos);
}

/* a line's bounds: [*s, *e) without the newline; false at the end */
static bool next_line(const char **p, const char *end, const char **s, const char **e)
{
	const char *nl;

	if (*p >= end)
		return false;
	nl = memchr(*p, '\n', end - *p);
	if (!nl)
		return false;
	*s = *p;
	*e = nl;
	*p = nl + 1;
	return true;
}

static bool starts(const char *s, const char *e, const char *word)
{
	size_t n = strlen(word);

	return (size_t)(e - s) >= n && !memcmp(s, word, n);
}

/* strict decimal between s and e */
static int dec(const char *s, const char *e, uint64_t *out)
{
	char num[24], *end;

	if (e <= s || e - s > 20 || (e - s > 1 && *s == '0') || *s < '0' || *s > '9')
		return -EINVAL;
	memcpy(num, s, e - s);
	num[e - s] = 0;
	errno = 0;
	*out = strtoull(num, &end, 10);
	return *end || errno ? -EINVAL : 0;
}

/* the proof hash lines up to the empty line; the note follows */
static int hashes(const char **p, const char *end, uint8_t *proof, size_t *plen, char *err)
{
	const char *s, *e;

	*plen = 0;
	while (next_line(p, end, &s, &e)) {
		if (s == e)
			return 0;
		if (*plen == GR_MERKLE_MAX_PROOF * GR_MERKLE_HASH_LEN)
			return fail(err, -EBADMSG, "more than %d proof hashes",
				    GR_MERKLE_MAX_PROOF);
		if (gr_b64_decode(s, e - s, proof + *plen, GR_MERKLE_HASH_LEN) !=
		    GR_MERKLE_HASH_LEN)
			return fail(err, -EBADMSG, "proof hash %zu is not base64 of 32 bytes",
				    *plen / GR_MERKLE_HASH_LEN + 1);
		*plen += GR_MERKLE_HASH_LEN;
	}
	return fail(err, -EBADMSG, "the bundle ends before its checkpoint");
}

static int check_inclusion(const char **p, const char *end, struct gr_tlog_result *res,
			   uint8_t *proof, size_t *plen, uint8_t *leaf, char *err)
{
	const char *s, *e;
	char why[GR_NOTE_ERRLEN];
	int n;

	if (!next_line(p, end, &s, &e) || !starts(s, e, "extra "))
		return fail(err, -EBADMSG, "no \"extra\" line: a georep bundle carries the "
			    "record's leaf there");
	n = gr_b64_decode(s + 6, e - s - 6, leaf, GEOREP_LEAF_LEN);
	if (n != GEOREP_LEAF_LEN)
		return fail(err, -EBADMSG, "the leaf (extra line) is not base64 of %d bytes",
			    GEOREP_LEAF_LEN);
	if (georep_leaf_decode(leaf, GEOREP_LEAF_LEN, &res->rec, why, sizeof(why)))
		return fail(err, -EBADMSG, "leaf: %s", why);
	if (!next_line(p, end, &s, &e) || !starts(s, e, "index ") ||
	    dec(s + 6, e, &res->index))
		return fail(err, -EBADMSG, "no \"index N\" line after the leaf");
	if (res->rec.seq != res->index + 1)
		return fail(err, -EBADMSG, "the leaf is record %" PRIu64 " but the index says "
			    "record %" PRIu64, res->rec.seq, res->index + 1);
	return hashes(p, end, proof, plen, err);
}

static int check_consistency(const char **p, const char *end, struct gr_tlog_result *res,
			     uint8_t *proof, size_t *plen, char *err)
{
	const char *s, *e, *sp = NULL;

	if (next_line(p, end, &s, &e) && starts(s, e, "old "))
		sp = memchr(s + 4, ' ', e - s - 4);
	if (!sp || dec(s + 4, sp, &res->size1) ||
	    gr_b64_decode(sp + 1, e - sp - 1, res->root1, GR_MERKLE_HASH_LEN) !=
	    GR_MERKLE_HASH_LEN)
		return fail(err, -EBADMSG, "no \"old SIZE ROOT\" line (decimal, base64 of 32 bytes)");
	return hashes(p, end, proof, plen, err);
}

static int check_proof(struct gr_tlog_result *res, const uint8_t *proof, size_t plen,
		       const uint8_t *leaf, char *err)
{
	gr_mhash lh;
	int ret;

	if (res->kind == GR_TLOG_KIND_INCLUSION) {
		if (res->index >= res->size)
			return fail(err, -EBADMSG, "record %" PRIu64 " is past the checkpoint's "
				    "tree size %" PRIu64, res->index + 1, res->size);
		ret = gr_merkle_leaf_hash(leaf, GEOREP_LEAF_LEN, lh);
		if (!ret)
			ret = gr_merkle_verify_inclusion(res->index, res->size, lh, sizeof(lh),
							 proof, plen, res->root, GR_MERKLE_HASH_LEN);
		if (ret)
			return fail(err, -EBADMSG, "the inclusion proof of record %" PRIu64
				    " does not lead to the checkpoint's root (size %" PRIu64 ")",
				    res->index + 1, res->size);
		return 0;
	}
	if (!res->size1 || res->size1 > res->size)
		return fail(err, -EBADMSG, "old size %" PRIu64 " is not within 1..%" PRIu64,
			    res->size1, res->size);
	ret = gr_merkle_verify_consistency(res->size1, res->size, res->root1, GR_MERKLE_HASH_LEN,
					   res->root, GR_MERKLE_HASH_LEN, proof, plen);
	if (ret)
		return fail(err, -EBADMSG, "the consistency proof does not show the tree of size "
			    "%" PRIu64 " to be a prefix of the checkpoint's (size %" PRIu64 ")",
			    res->size1, res->size);
	return 0;
}

int gr_tlog_verify(const char *bundle, size_t len, const struct gr_note_key *keys,
		   unsigned int nkeys, struct gr_tlog_result *res, char *err)
{
	uint8_t proof[GR_MERKLE_MAX_PROOF * GR_MERKLE_HASH_LEN], leaf[GEOREP_LEAF_LEN];
	const char *p = bundle, *end = bundle + len, *s, *e;
	struct gr_note_result nr;
	char why[GR_NOTE_ERRLEN];
	size_t plen = 0;
	int ret;

	memset(res, 0, sizeof(*res));
	if (len > GR_TLOG_MAX || memchr(bundle, 0, len))
		return fail(err, -EBADMSG, "not a proof bundle (binary, or over %d bytes)",
			    GR_TLOG_MAX);
	if (!next_line(&p, end, &s, &e))
		return fail(err, -EBADMSG, "empty bundle");
	if (e - s == strlen(GR_TLOG_INCLUSION) && starts(s, e, GR_TLOG_INCLUSION)) {
		res->kind = GR_TLOG_KIND_INCLUSION;
		ret = check_inclusion(&p, end, res, proof, &plen, leaf, err);
	} else if (e - s == strlen(GR_TLOG_CONSISTENCY) && starts(s, e, GR_TLOG_CONSISTENCY)) {
		res->kind = GR_TLOG_KIND_CONSISTENCY;
		ret = check_consistency(&p, end, res, proof, &plen, err);
	} else {
		return fail(err, -EBADMSG, "first line is neither \"" GR_TLOG_INCLUSION "\" nor \""
			    GR_TLOG_CONSISTENCY "\"");
	}
	if (ret)
		return ret;
	/* the checkpoint: signed by a trusted key first, then parsed */
	ret = gr_note_verify(p, end - p, keys, nkeys, &nr, why);
	if (ret)
		return fail(err, ret, "checkpoint: %s", why);
	res->nsigs = nr.nsigs;
	res->verified = nr.verified;
	res->cosigned = nr.cosigned;
	res->nnames = nr.nnames;
	memcpy(res->names, nr.names, sizeof(res->names));
	snprintf(res->signer, sizeof(res->signer), "%s", nr.signer);
	ret = gr_checkpoint_parse(p, nr.text_len, res->origin, sizeof(res->origin), &res->size,
				  res->root, why);
	if (ret)
		return fail(err, ret, "checkpoint: %s", why);
	return check_proof(res, proof, plen, leaf, err);
}
