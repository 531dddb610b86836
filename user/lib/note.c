// SPDX-License-Identifier: GPL-2.0
/*
 * C2SP signed notes (Ed25519) and checkpoints: see user/include/georep/note.h.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/crypto.h>
#include <openssl/pem.h>

#include "georep/note.h"

#define EM_DASH		"\xe2\x80\x94"
#define COSIG_HDR	"cosignature/v1\ntime "

static int fail(char *err, int ret, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(char *err, int ret, const char *fmt, ...)
{
	va_list ap;

	if (err) {
		va_start(ap, fmt);
		vsnprintf(err, GR_NOTE_ERRLEN, fmt, ap);
		va_end(ap);
	}
	return ret;
}

int gr_b64_encode(const uint8_t *in, size_t len, char *out, size_t cap)
{
	if (cap < 4 * ((len + 2) / 3) + 1)
		return -ENOSPC;
	EVP_EncodeBlock((unsigned char *)out, in, len);
	return 0;
}

int gr_b64_decode(const char *in, size_t len, uint8_t *out, size_t cap)
{
	uint8_t tmp[1024];
	size_t i, pad = 0;
	int n;

	if (len % 4 || len / 4 * 3 > sizeof(tmp))
		return -EINVAL;
	for (i = 0; i < len; i++) {
		char c = in[i];

		if (c == '=' && i >= len - 2) {
			pad++;
			continue;
		}
		if (pad || !(isalnum((unsigned char)c) || c == '+' || c == '/'))
			return -EINVAL;
	}
	if (!len)
		return 0;
	n = EVP_DecodeBlock(tmp, (const unsigned char *)in, len);
	if (n < 0 || (size_t)n < pad || (size_t)n - pad > cap)
		return -EINVAL;
	n -= pad;
	memcpy(out, tmp, n);
	OPENSSL_cleanse(tmp, sizeof(tmp));
	return n;
}

static bool name_ok(const char *s, size_t len)
{
	size_t i;

	if (!len || len >= GR_NOTE_NAME_MAX)
		return false;
	for (i = 0; i < len; i++)
		if ((unsigned char)s[i] <= ' ' || s[i] == '+' || s[i] == 0x7f)
			return false;
	return true;
}

uint32_t gr_note_key_id(const char *name, uint8_t type, const uint8_t pub[GR_NOTE_PUB_LEN])
{
	uint8_t h[32], alg = type;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();

	memset(h, 0, sizeof(h));
	if (ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL)) {
		EVP_DigestUpdate(ctx, name, strlen(name));
		EVP_DigestUpdate(ctx, "\n", 1);
		EVP_DigestUpdate(ctx, &alg, 1);
		EVP_DigestUpdate(ctx, pub, GR_NOTE_PUB_LEN);
		EVP_DigestFinal_ex(ctx, h, NULL);
	}
	EVP_MD_CTX_free(ctx);
	return (uint32_t)h[0] << 24 | (uint32_t)h[1] << 16 | (uint32_t)h[2] << 8 | h[3];
}

void gr_note_key_cosigner(struct gr_note_key *k)
{
	k->type = GR_NOTE_TYPE_COSIG;
	k->id = gr_note_key_id(k->name, k->type, k->pub);
}

void gr_note_vkey(const struct gr_note_key *k, char *out, size_t len)
{
	uint8_t raw[1 + GR_NOTE_PUB_LEN] = { k->type };
	char b64[64];

	memcpy(raw + 1, k->pub, GR_NOTE_PUB_LEN);
	gr_b64_encode(raw, sizeof(raw), b64, sizeof(b64));
	snprintf(out, len, "%s+%08" PRIx32 "+%s", k->name, k->id, b64);
}

int gr_note_parse_vkey(const char *s, struct gr_note_key *k, char *err)
{
	const char *p1 = strchr(s, '+'), *b;
	uint8_t raw[64];
	char hex[9];
	int n;

	if (!p1 || !name_ok(s, p1 - s))
		return fail(err, -EINVAL, "a verifier key is name+keyid+key, with a name of 1-%d "
			    "printable characters without spaces or '+'", GR_NOTE_NAME_MAX - 1);
	memcpy(k->name, s, p1 - s);
	k->name[p1 - s] = 0;
	if (strlen(p1 + 1) < 10 || p1[9] != '+')
		return fail(err, -EINVAL, "verifier key %s: the key id is not 8 hex digits",
			    k->name);
	memcpy(hex, p1 + 1, 8);
	hex[8] = 0;
	if (strspn(hex, "0123456789abcdef") != 8)
		return fail(err, -EINVAL, "verifier key %s: the key id is not 8 lower-case hex digits",
			    k->name);
	b = p1 + 10;
	n = gr_b64_decode(b, strlen(b), raw, sizeof(raw));
	if (n != 1 + GR_NOTE_PUB_LEN ||
	    (raw[0] != GR_NOTE_TYPE_SIG && raw[0] != GR_NOTE_TYPE_COSIG))
		return fail(err, -EINVAL, "verifier key %s: not an Ed25519 key (type 0x01 or "
			    "0x04, 32 bytes)", k->name);
	k->type = raw[0];
	memcpy(k->pub, raw + 1, GR_NOTE_PUB_LEN);
	k->id = strtoul(hex, NULL, 16);
	if (k->id != gr_note_key_id(k->name, k->type, k->pub))
		return fail(err, -EINVAL, "verifier key %s: key id %s does not match the key",
			    k->name, hex);
	return 0;
}

int gr_note_load_trust(const char *path, struct gr_note_key *keys, unsigned int max,
		       unsigned int *n, char *err)
{
	char line[512], why[GR_NOTE_ERRLEN];
	unsigned int lineno = 0;
	FILE *f = fopen(path, "r");
	int ret = 0;

	*n = 0;
	if (!f)
		return fail(err, -errno, "trust file %s: %s", path, strerror(errno));
	while (fgets(line, sizeof(line), f)) {
		char *s = line, *e;

		lineno++;
		while (isspace((unsigned char)*s))
			s++;
		e = s + strlen(s);
		while (e > s && isspace((unsigned char)e[-1]))
			*--e = 0;
		if (!*s || *s == '#')
			continue;
		if (*n == max) {
			ret = fail(err, -E2BIG, "trust file %s: more than %u keys", path, max);
			break;
		}
		ret = gr_note_parse_vkey(s, &keys[*n], why);
		if (ret) {
			fail(err, ret, "trust file %s line %u: %s", path, lineno, why);
			break;
		}
		(*n)++;
	}
	fclose(f);
	if (!ret && !*n)
		ret = fail(err, -ENOKEY, "trust file %s holds no verifier key", path);
	return ret;
}

int gr_sitekey_load_pem(const char *path, EVP_PKEY **out, char *err)
{
	struct stat st;
	FILE *f = fopen(path, "r");
	EVP_PKEY *pk;

	if (!f)
		return fail(err, -errno, "key %s: %s", path, strerror(errno));
	if (fstat(fileno(f), &st) || (st.st_mode & 077)) {
		fclose(f);
		return fail(err, -EPERM, "key %s: readable by group or others (mode %04o): "
			    "a site's identity key must be 0600", path, st.st_mode & 07777);
	}
	pk = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	if (!pk)
		return fail(err, -EINVAL, "key %s: not an unencrypted PEM private key", path);
	if (EVP_PKEY_get_id(pk) != EVP_PKEY_ED25519) {
		EVP_PKEY_free(pk);
		return fail(err, -EINVAL, "key %s: not an Ed25519 key", path);
	}
	*out = pk;
	return 0;
}

int gr_note_key_from_pkey(EVP_PKEY *pkey, const char *name, struct gr_note_key *k,
			  char *err)
{
	size_t len = GR_NOTE_PUB_LEN;

	if (!name_ok(name, strlen(name)))
		return fail(err, -EINVAL, "key name \"%.64s\": 1-%d printable characters without "
			    "spaces or '+'", name, GR_NOTE_NAME_MAX - 1);
	if (EVP_PKEY_get_id(pkey) != EVP_PKEY_ED25519 ||
	    !EVP_PKEY_get_raw_public_key(pkey, k->pub, &len) || len != GR_NOTE_PUB_LEN)
		return fail(err, -EINVAL, "not an Ed25519 key");
	snprintf(k->name, sizeof(k->name), "%s", name);
	k->type = GR_NOTE_TYPE_SIG;
	k->id = gr_note_key_id(k->name, k->type, k->pub);
	return 0;
}

int gr_note_key_from_pem(const char *path, const char *name, struct gr_note_key *k,
			 char *err)
{
	FILE *f = fopen(path, "r");
	EVP_PKEY *pk;
	int ret;

	if (!f)
		return fail(err, -errno, "key %s: %s", path, strerror(errno));
	pk = PEM_read_PUBKEY(f, NULL, NULL, NULL);
	if (!pk) {
		rewind(f);
		pk = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	}
	fclose(f);
	if (!pk)
		return fail(err, -EINVAL, "key %s: not a PEM public or unencrypted private key",
			    path);
	ret = gr_note_key_from_pkey(pk, name, k, err);
	EVP_PKEY_free(pk);
	return ret;
}

/* the message a cosignature at @ts signs: header, time line, text (malloc'ed) */
static char *cosig_msg(const char *text, size_t tlen, uint64_t ts, size_t *len)
{
	char *m = malloc(tlen + 64);
	int n;

	if (!m)
		return NULL;
	n = snprintf(m, 64, COSIG_HDR "%" PRIu64 "\n", ts);
	memcpy(m + n, text, tlen);
	*len = n + tlen;
	return m;
}

static void put_be(uint8_t *p, uint64_t v, unsigned int bytes)
{
	while (bytes--) {
		p[bytes] = v;
		v >>= 8;
	}
}

static uint64_t get_be(const uint8_t *p, unsigned int bytes)
{
	uint64_t v = 0;

	while (bytes--)
		v = v << 8 | *p++;
	return v;
}

/*
 * Sign @text (type 0x01) or its cosignature message at @ts (type 0x04) and
 * append the signature line to @out at *@out_len (text first when 0).
 */
static int sign_line(const char *text, EVP_PKEY *pkey, const char *name, uint8_t type,
		     uint64_t ts, char *out, size_t cap, size_t *out_len, char *err)
{
	uint8_t sig[4 + 8 + GR_NOTE_SIG_LEN];
	size_t tlen = strlen(text), slen = GR_NOTE_SIG_LEN, pos = *out_len, mlen = tlen;
	unsigned int off = type == GR_NOTE_TYPE_COSIG ? 12 : 4;
	const char *msg = text;
	char *cmsg = NULL, b64[160];
	struct gr_note_key k;
	EVP_MD_CTX *ctx;
	int ret, n, ok;

	if (!tlen || text[tlen - 1] != '\n')
		return fail(err, -EINVAL, "a note's text must end in a newline");
	if (ts > INT64_MAX)
		return fail(err, -EINVAL, "a cosignature's time is at most 2^63 - 1");
	ret = gr_note_key_from_pkey(pkey, name, &k, err);
	if (ret)
		return ret;
	if (type == GR_NOTE_TYPE_COSIG) {
		gr_note_key_cosigner(&k);
		msg = cmsg = cosig_msg(text, tlen, ts, &mlen);
		if (!cmsg)
			return fail(err, -ENOMEM, "out of memory");
		put_be(sig + 4, ts, 8);
	}
	ctx = EVP_MD_CTX_new();
	ok = ctx && EVP_DigestSignInit(ctx, NULL, NULL, NULL, pkey) == 1 &&
	     EVP_DigestSign(ctx, sig + off, &slen, (const unsigned char *)msg, mlen) == 1;
	EVP_MD_CTX_free(ctx);
	free(cmsg);
	if (!ok)
		return fail(err, -EIO, "Ed25519 signing failed");
	put_be(sig, k.id, 4);
	gr_b64_encode(sig, off + GR_NOTE_SIG_LEN, b64, sizeof(b64));
	if (!pos) {
		n = snprintf(out, cap, "%s\n", text);
		if (n < 0 || (size_t)n >= cap)
			return fail(err, -ENOSPC, "the note does not fit");
		pos = n;
	}
	n = snprintf(out + pos, cap - pos, EM_DASH " %s %s\n", name, b64);
	if (n < 0 || (size_t)n >= cap - pos)
		return fail(err, -ENOSPC, "the note does not fit");
	*out_len = pos + n;
	return 0;
}

int gr_note_sign(const char *text, EVP_PKEY *pkey, const char *name, char *out,
		 size_t cap, size_t *out_len, char *err)
{
	return sign_line(text, pkey, name, GR_NOTE_TYPE_SIG, 0, out, cap, out_len, err);
}

int gr_note_cosign(const char *text, EVP_PKEY *pkey, const char *name, uint64_t timestamp,
		   char *out, size_t cap, size_t *out_len, char *err)
{
	if (!*out_len)
		return fail(err, -EINVAL, "a cosignature is added to a signed note");
	return sign_line(text, pkey, name, GR_NOTE_TYPE_COSIG, timestamp, out, cap, out_len,
			 err);
}

static bool ed25519_ok(const uint8_t pub[GR_NOTE_PUB_LEN], const uint8_t *sig,
		       const char *text, size_t len)
{
	EVP_PKEY *pk = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, pub,
						   GR_NOTE_PUB_LEN);
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	bool ok = pk && ctx && EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, pk) == 1 &&
		  EVP_DigestVerify(ctx, sig, GR_NOTE_SIG_LEN, (const unsigned char *)text,
				   len) == 1;

	EVP_MD_CTX_free(ctx);
	EVP_PKEY_free(pk);
	return ok;
}

/* a signature (68 bytes) or cosignature (76 bytes) of @k over @text */
static bool sig_ok(const struct gr_note_key *k, const uint8_t *sig, int n, const char *text,
		   size_t tlen)
{
	uint64_t ts;
	size_t mlen;
	char *msg;
	bool ok;

	if (k->type == GR_NOTE_TYPE_SIG)
		return n == 4 + GR_NOTE_SIG_LEN && ed25519_ok(k->pub, sig + 4, text, tlen);
	ts = get_be(sig + 4, 8);
	if (n != 12 + GR_NOTE_SIG_LEN || ts > INT64_MAX)
		return false;
	msg = cosig_msg(text, tlen, ts, &mlen);
	ok = msg && ed25519_ok(k->pub, sig + 12, msg, mlen);
	free(msg);
	return ok;
}

static void add_name(struct gr_note_result *res, const char *name)
{
	unsigned int i;

	for (i = 0; i < res->nnames; i++)
		if (!strcmp(res->names[i], name))
			return;
	if (res->nnames < GR_NOTE_MAX_SIGS)
		snprintf(res->names[res->nnames++], GR_NOTE_NAME_MAX, "%s", name);
}

/* one signature line @s (@len bytes, without its newline) */
static int check_sig(const char *s, size_t len, const char *text, size_t tlen,
		     const struct gr_note_key *keys, unsigned int nkeys,
		     struct gr_note_result *res, char *err)
{
	const char *sp;
	uint8_t sig[128];
	char name[GR_NOTE_NAME_MAX];
	unsigned int i;
	uint32_t id;
	int n;

	if (len < 4 || memcmp(s, EM_DASH " ", 4))
		return fail(err, -EBADMSG, "signature line %u does not start with an em dash",
			    res->nsigs + 1);
	s += 4;
	len -= 4;
	sp = memchr(s, ' ', len);
	if (!sp || !name_ok(s, sp - s))
		return fail(err, -EBADMSG, "signature line %u: no signer name", res->nsigs + 1);
	memcpy(name, s, sp - s);
	name[sp - s] = 0;
	n = gr_b64_decode(sp + 1, len - (sp + 1 - s), sig, sizeof(sig));
	if (n < 5)
		return fail(err, -EBADMSG, "signature of %s: not base64 of a key id and a signature",
			    name);
	id = get_be(sig, 4);
	res->nsigs++;
	for (i = 0; i < nkeys; i++) {
		if (strcmp(keys[i].name, name) || keys[i].id != id)
			continue;
		if (!sig_ok(&keys[i], sig, n, text, tlen))
			return fail(err, -EBADMSG, "the %s of trusted key %s+%08" PRIx32
				    " does not verify", keys[i].type == GR_NOTE_TYPE_SIG ?
				    "signature" : "cosignature", name, id);
		if (!res->verified++)
			snprintf(res->signer, sizeof(res->signer), "%s", name);
		res->cosigned += keys[i].type == GR_NOTE_TYPE_COSIG;
		add_name(res, name);
	}
	return 0;
}

int gr_note_verify(const char *note, size_t len, const struct gr_note_key *keys,
		   unsigned int nkeys, struct gr_note_result *res, char *err)
{
	const char *sep = NULL, *p, *end = note + len;
	int ret;

	memset(res, 0, sizeof(*res));
	if (!len || note[len - 1] != '\n')
		return fail(err, -EBADMSG, "a signed note ends in a newline");
	if (memchr(note, 0, len))
		return fail(err, -EBADMSG, "the note holds a NUL byte");
	/* the text ends at the last blank line */
	for (p = note; p + 1 < end; p++)
		if (p[0] == '\n' && p[1] == '\n')
			sep = p;
	if (!sep)
		return fail(err, -EBADMSG, "no blank line between the note's text and its signatures");
	res->text_len = sep + 1 - note;
	for (p = sep + 2; p < end;) {
		const char *nl = memchr(p, '\n', end - p);

		if (res->nsigs == GR_NOTE_MAX_SIGS)
			return fail(err, -EBADMSG, "more than %d signatures", GR_NOTE_MAX_SIGS);
		ret = check_sig(p, nl - p, note, res->text_len, keys, nkeys, res, err);
		if (ret)
			return ret;
		p = nl + 1;
	}
	if (!res->nsigs)
		return fail(err, -EBADMSG, "the note has no signature");
	if (!res->verified)
		return fail(err, -ENOKEY, "none of the note's %u signature(s) is by a trusted key",
			    res->nsigs);
	return 0;
}

int gr_checkpoint_format(const char *origin, uint64_t size, const gr_mhash root,
			 char *out, size_t cap)
{
	char b64[64];
	int n;

	gr_b64_encode(root, GR_MERKLE_HASH_LEN, b64, sizeof(b64));
	n = snprintf(out, cap, "%s\n%" PRIu64 "\n%s\n", origin, size, b64);
	return n < 0 || (size_t)n >= cap ? -ENOSPC : 0;
}

int gr_checkpoint_parse(const char *text, size_t len, char *origin, size_t origin_cap,
			uint64_t *size, gr_mhash root, char *err)
{
	const char *l1 = memchr(text, '\n', len), *l2 = NULL, *l3 = NULL;
	char num[24], *e;

	if (l1)
		l2 = memchr(l1 + 1, '\n', text + len - l1 - 1);
	if (l2)
		l3 = memchr(l2 + 1, '\n', text + len - l2 - 1);
	if (!l3)
		return fail(err, -EBADMSG, "a checkpoint has an origin, a size and a root line");
	if (l1 == text || (size_t)(l1 - text) >= origin_cap)
		return fail(err, -EBADMSG, "checkpoint origin line empty or too long");
	memcpy(origin, text, l1 - text);
	origin[l1 - text] = 0;
	if (l2 - l1 - 1 < 1 || l2 - l1 - 1 > 20 || (l2 - l1 > 2 && l1[1] == '0'))
		return fail(err, -EBADMSG, "checkpoint size is not a decimal without leading zeros");
	memcpy(num, l1 + 1, l2 - l1 - 1);
	num[l2 - l1 - 1] = 0;
	errno = 0;
	*size = strtoull(num, &e, 10);
	if (*e || errno || !isdigit((unsigned char)num[0]))
		return fail(err, -EBADMSG, "checkpoint size \"%s\" is not a decimal", num);
	if (gr_b64_decode(l2 + 1, l3 - l2 - 1, root, GR_MERKLE_HASH_LEN) != GR_MERKLE_HASH_LEN)
		return fail(err, -EBADMSG, "checkpoint root is not base64 of 32 bytes");
	return 0;
}
