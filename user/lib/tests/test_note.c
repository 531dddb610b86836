// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests for user/lib/note.c: the public signed-note vectors of
 * tests/data/merkle/signed-note.json (A signs byte for byte from its
 * published seed, A and B verify, C's checkpoint parses), and refusals.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "georep/note.h"
#include "grtest.h"

#ifndef GR_TESTDATA
#define GR_TESTDATA "lib/tests/data"
#endif

static json_t *vec;

static const char *v(const char *obj, const char *key)
{
	return json_string_value(json_object_get(json_object_get(vec, obj), key)) ?: "";
}

static int load(void)
{
	json_error_t je;

	if (!vec)
		vec = json_load_file(GR_TESTDATA "/merkle/signed-note.json", 0, &je);
	return vec ? 0 : -1;
}

/* "PRIVATE+KEY+name+id+base64(0x01 || seed)" into a key */
static EVP_PKEY *skey(const char *s, char *name)
{
	const char *p = s + strlen("PRIVATE+KEY+"), *q = strchr(p, '+');
	uint8_t raw[64];

	memcpy(name, p, q - p);
	name[q - p] = 0;
	q = strchr(q + 1, '+') + 1;
	if (gr_b64_decode(q, strlen(q), raw, sizeof(raw)) != 33 || raw[0] != 1)
		return NULL;
	return EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, raw + 1, 32);
}

static int test_vector_a_signs_byte_for_byte(void)
{
	char name[64], out[1024], err[GR_NOTE_ERRLEN], vk[256];
	struct gr_note_key k;
	size_t len = 0;
	EVP_PKEY *pk;

	CHECK(!load());
	pk = skey(v("A_go_sumdb_note", "skey"), name);
	CHECK(pk);
	CHECK(!gr_note_sign(v("A_go_sumdb_note", "text"), pk, name, out, sizeof(out), &len, err));
	CHECK(!strcmp(out, v("A_go_sumdb_note", "note")));
	CHECK(len == strlen(out));
	/* the verifier key string, as published */
	CHECK(!gr_note_key_from_pkey(pk, name, &k, err));
	gr_note_vkey(&k, vk, sizeof(vk));
	CHECK(!strcmp(vk, v("A_go_sumdb_note", "vkey")));
	EVP_PKEY_free(pk);
	return 0;
}

static int verify_vec(const char *obj)
{
	const char *note = v(obj, "note");
	struct gr_note_result res;
	char err[GR_NOTE_ERRLEN];
	struct gr_note_key k;

	CHECK(!gr_note_parse_vkey(v(obj, "vkey"), &k, err));
	CHECK(!gr_note_verify(note, strlen(note), &k, 1, &res, err));
	CHECK(res.verified == 1 && res.nsigs == 1);
	CHECK(res.text_len == strlen(v(obj, "text")));
	CHECK(!strcmp(res.signer, k.name));
	return 0;
}

static int test_vectors_verify(void)
{
	CHECK(!load());
	CHECK(!verify_vec("A_go_sumdb_note"));
	CHECK(!verify_vec("B_c2sp_signed_note_example"));
	return 0;
}

static int test_refusals(void)
{
	const char *note = v("A_go_sumdb_note", "note");
	char bad[1024], err[GR_NOTE_ERRLEN];
	struct gr_note_result res;
	struct gr_note_key a, b;
	size_t len = strlen(note);

	CHECK(!load());
	CHECK(!gr_note_parse_vkey(v("A_go_sumdb_note", "vkey"), &a, err));
	CHECK(!gr_note_parse_vkey(v("B_c2sp_signed_note_example", "vkey"), &b, err));
	/* a text changed by one byte */
	memcpy(bad, note, len + 1);
	bad[3] ^= 1;
	CHECK(gr_note_verify(bad, len, &a, 1, &res, err) == -EBADMSG);
	CHECK(strstr(err, "does not verify"));
	/* a signature changed */
	memcpy(bad, note, len + 1);
	bad[len - 10] = bad[len - 10] == 'A' ? 'B' : 'A';
	CHECK(gr_note_verify(bad, len, &a, 1, &res, err) == -EBADMSG);
	/* only an unknown key */
	CHECK(gr_note_verify(note, len, &b, 1, &res, err) == -ENOKEY);
	CHECK(strstr(err, "trusted key"));
	/* no signature, no blank line, no final newline */
	CHECK(gr_note_verify("text\n\n", 6, &a, 1, &res, err) == -EBADMSG);
	CHECK(gr_note_verify("text\n", 5, &a, 1, &res, err) == -EBADMSG);
	CHECK(gr_note_verify(note, len - 1, &a, 1, &res, err) == -EBADMSG);
	/* a hyphen for the em dash */
	snprintf(bad, sizeof(bad), "x\n\n- PeterNeumann AAAA\n");
	CHECK(gr_note_verify(bad, strlen(bad), &a, 1, &res, err) == -EBADMSG);
	CHECK(strstr(err, "em dash"));
	/* verifier keys: id mismatch, wrong type, bad name */
	CHECK(gr_note_parse_vkey("PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
				 &b, err) == -EINVAL);
	CHECK(strstr(err, "does not match"));
	CHECK(gr_note_parse_vkey("PeterNeumann+c74f20a3+AhpcMQcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
				 &b, err) == -EINVAL);
	CHECK(gr_note_parse_vkey("+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
				 &b, err) == -EINVAL);
	return 0;
}

static int test_checkpoint_c(void)
{
	const char *body = v("C_c2sp_checkpoint_shape_only", "checkpoint_body");
	char origin[128], out[256], err[GR_NOTE_ERRLEN];
	uint64_t size;
	gr_mhash root;

	CHECK(!load());
	CHECK(!gr_checkpoint_parse(body, strlen(body), origin, sizeof(origin), &size, root, err));
	CHECK(!strcmp(origin, "example.com/behind-the-sofa"));
	CHECK(size == 20852163);
	CHECK(!gr_checkpoint_format(origin, size, root, out, sizeof(out)));
	CHECK(!strcmp(out, body));
	CHECK(gr_checkpoint_parse("o\n012\nAAAA\n", 11, origin, sizeof(origin), &size, root,
				  err) == -EBADMSG);
	CHECK(gr_checkpoint_parse("o\n12\nAAAA\n", 10, origin, sizeof(origin), &size, root,
				  err) == -EBADMSG);
	CHECK(strstr(err, "32 bytes"));
	CHECK(gr_checkpoint_parse("o\n12\n", 5, origin, sizeof(origin), &size, root,
				  err) == -EBADMSG);
	return 0;
}

static int test_pem_keys(void)
{
	char dir[] = "/tmp/georep-note-XXXXXX", path[64], cmd[512], err[GR_NOTE_ERRLEN];
	struct gr_note_key k1, k2;
	EVP_PKEY *pk;

	CHECK(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/site.pem", dir);
	snprintf(cmd, sizeof(cmd), "openssl genpkey -algorithm ed25519 -out %s 2>/dev/null && "
		 "chmod 600 %s && openssl pkey -in %s -pubout -out %s.pub", path, path, path, path);
	CHECK(system(cmd) == 0);
	CHECK(!gr_sitekey_load_pem(path, &pk, err));
	CHECK(!gr_note_key_from_pkey(pk, "georep/c/a", &k1, err));
	snprintf(cmd, sizeof(cmd), "%s.pub", path);
	CHECK(!gr_note_key_from_pem(cmd, "georep/c/a", &k2, err));
	CHECK(k1.id == k2.id && !memcmp(k1.pub, k2.pub, sizeof(k1.pub)));
	EVP_PKEY_free(pk);
	/* an identity key others can read is refused */
	CHECK(!chmod(path, 0644));
	CHECK(gr_sitekey_load_pem(path, &pk, err) == -EPERM);
	CHECK(strstr(err, "0600"));
	/* not Ed25519 */
	snprintf(cmd, sizeof(cmd), "openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 "
		 "-out %s 2>/dev/null && chmod 600 %s", path, path);
	CHECK(system(cmd) == 0);
	CHECK(gr_sitekey_load_pem(path, &pk, err) == -EINVAL);
	CHECK(strstr(err, "Ed25519"));
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	CHECK(system(cmd) == 0);
	return 0;
}

/* C2SP tlog-cosignature: a site's key cosigns next to the log's signature */
static int test_cosignature(void)
{
	const char *text = "georep/test/vol0\n7\nundWeRlorit8JTOBZ45rYnrnp963HsGW6IGbcqYytrY=\n";
	EVP_PKEY *log = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	EVP_PKEY *wit = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	char note[1024], bad[1024], err[GR_NOTE_ERRLEN], vk[256];
	struct gr_note_key keys[3];
	struct gr_note_result res;
	struct gr_note_key parsed;
	size_t len = 0;
	uint8_t raw[128];
	char *p;

	CHECK(log && wit);
	CHECK(!gr_note_sign(text, log, "georep/test/alpha", note, sizeof(note), &len, err));
	CHECK(!gr_note_cosign(text, wit, "georep/test/bravo", 1679315147, note, sizeof(note),
			      &len, err));
	CHECK(!gr_note_key_from_pkey(log, "georep/test/alpha", &keys[0], err));
	CHECK(!gr_note_key_from_pkey(wit, "georep/test/bravo", &keys[1], err));
	gr_note_key_cosigner(&keys[1]);
	/* the cosigner's verifier key has type 0x04 and its own key id */
	gr_note_vkey(&keys[1], vk, sizeof(vk));
	CHECK(!gr_note_parse_vkey(vk, &parsed, err));
	CHECK(parsed.type == GR_NOTE_TYPE_COSIG && parsed.id == keys[1].id);
	CHECK(parsed.id == gr_note_key_id("georep/test/bravo", 0x04, parsed.pub));
	CHECK(parsed.id != gr_note_key_id("georep/test/bravo", 0x01, parsed.pub));
	CHECK(!gr_note_verify(note, len, keys, 2, &res, err));
	CHECK(res.nsigs == 2 && res.verified == 2 && res.cosigned == 1 && res.nnames == 2);
	/* the cosignature line: key id, big-endian time, signature */
	p = strrchr(note, ' ') + 1;
	CHECK(gr_b64_decode(p, strlen(p) - 1, raw, sizeof(raw)) == 76);
	CHECK(raw[4] == 0 && raw[8] == 0x64 && raw[9] == 0x18 && raw[10] == 0x50 &&
	      raw[11] == 0xcb);	/* 1679315147 */
	/* the same bravo key as a plain signer does not verify a cosignature */
	keys[2] = keys[1];
	CHECK(!gr_note_key_from_pkey(wit, "georep/test/bravo", &keys[2], err));
	CHECK(!gr_note_verify(note, len, &keys[2], 1, &res, err) || res.cosigned == 0);
	CHECK(gr_note_verify(note, len, &keys[2], 1, &res, err) == -ENOKEY);
	/* a changed time breaks the cosignature */
	memcpy(bad, note, len + 1);
	raw[11] ^= 1;
	gr_b64_encode(raw, 76, bad + (p - note), sizeof(bad) - (p - note));
	strcat(bad, "\n");
	CHECK(gr_note_verify(bad, strlen(bad), keys, 2, &res, err) == -EBADMSG);
	CHECK(strstr(err, "cosignature of trusted key georep/test/bravo"));
	EVP_PKEY_free(log);
	EVP_PKEY_free(wit);
	return 0;
}

/* the C2SP example cosignature: 76 bytes, its time that of the example message */
static int test_cosignature_vector_shape(void)
{
	const char *line, *msg;
	uint8_t raw[128];
	uint64_t ts = 0;
	int i;

	CHECK(!load());
	line = v("C_c2sp_checkpoint_shape_only", "witness_cosignature_line");
	msg = v("C_c2sp_checkpoint_shape_only", "cosignature_v1_signed_message_example");
	CHECK(strrchr(line, ' '));
	line = strrchr(line, ' ') + 1;
	CHECK(gr_b64_decode(line, strlen(line), raw, sizeof(raw)) == 76);
	for (i = 4; i < 12; i++)
		ts = ts << 8 | raw[i];
	CHECK(ts == 1679315147);
	CHECK(!strncmp(msg, "cosignature/v1\ntime 1679315147\n", 31));
	return 0;
}

static const struct grtest tests[] = {
	{ "cosignature", test_cosignature },
	{ "cosignature_vector_shape", test_cosignature_vector_shape },
	{ "vector_a_signs_byte_for_byte", test_vector_a_signs_byte_for_byte },
	{ "vectors_verify", test_vectors_verify },
	{ "refusals", test_refusals },
	{ "checkpoint_c", test_checkpoint_c },
	{ "pem_keys", test_pem_keys },
};

GRTEST_MAIN(tests)
