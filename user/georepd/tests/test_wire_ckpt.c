// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests of the CKPT, CKPT_RESP and CKPT_FINAL frames (lib/wire_ckpt.c)
 * and of NOTE_REQ and NOTE (lib/wire_note.c): a note signed here
 * round-trips; every malformed body is refused naming the problem, and the
 * encoder never sends what the decoder would refuse.
 */
#include <endian.h>
#include <errno.h>
#include <string.h>
#include <sys/types.h>

#include <openssl/evp.h>

#include "georep/note.h"
#include "georep/wire.h"
#include "ktap.h"

#define VOL 0x1234

static uint8_t buf[1 << 16];
static char err[GR_WIRE_ERRLEN];
static char note[4096];
static size_t note_len;
static char cosig[512];
static size_t cosig_len;

/* a checkpoint of size 40 signed by a key made here, and one cosignature line */
static int make_note(void)
{
	char text[256], tmp[4096], nerr[GR_NOTE_ERRLEN];
	EVP_PKEY *pk = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	gr_mhash root;
	size_t len = 0;
	int ret;

	if (!pk)
		return -ENOMEM;
	memset(root, 0xab, sizeof(root));
	ret = gr_checkpoint_format("georep/t/vol0", 40, root, text, sizeof(text));
	if (!ret)
		ret = gr_note_sign(text, pk, "georep/t/alpha", note, sizeof(note), &note_len, nerr);
	/* a cosignature line is appended to a note: here to text "\n" */
	len = strlen(text) + 1;
	snprintf(tmp, sizeof(tmp), "%s\n", text);
	if (!ret)
		ret = gr_note_cosign(text, pk, "georep/t/bravo", 1700000000, tmp, sizeof(tmp),
				     &len, nerr);
	if (!ret) {
		cosig_len = len - strlen(text) - 1;
		memcpy(cosig, tmp + strlen(text) + 1, cosig_len);
	}
	EVP_PKEY_free(pk);
	return ret;
}

static ssize_t encode(int type, const char *n, size_t len, uint64_t size)
{
	struct gr_frame f = { .hdr.type = type, .hdr.volume = VOL };

	f.ckpt.term = 3;
	f.ckpt.size = size;
	f.ckpt.note = n;
	f.ckpt.note_len = len;
	return gr_wire_encode(buf, sizeof(buf), &f);
}

static int decode(size_t len, struct gr_frame *g)
{
	size_t used = 0;

	return gr_wire_decode(buf, len, g, &used, err);
}

static void test_ckpt_roundtrip(void)
{
	struct gr_frame g;
	ssize_t n;
	int type;

	CHECK(make_note() == 0);
	for (type = GR_FT_CKPT; type <= GR_FT_CKPT_FINAL; type += 2) {
		n = encode(type, note, note_len, 40);
		CHECK(n == (ssize_t)(GR_WIRE_HDR_SIZE + GR_CKPT_HDR_SIZE + note_len));
		CHECK_MSG(n > 0 && decode(n, &g) == 0, "%s", err);
		CHECK(g.hdr.type == type && g.ckpt.term == 3 && g.ckpt.size == 40);
		CHECK(g.ckpt.note_len == note_len && !memcmp(g.ckpt.note, note, note_len));
		CHECK(g.ckpt.text_len == strlen("georep/t/vol0\n40\n") + 45);
		CHECK(g.ckpt.root[0] == 0xab && g.ckpt.root[31] == 0xab);
	}
	CHECK(!strcmp(gr_frame_type_name(GR_FT_CKPT), "ckpt") &&
	      !strcmp(gr_frame_type_name(GR_FT_CKPT_RESP), "ckpt-resp") &&
	      !strcmp(gr_frame_type_name(GR_FT_CKPT_FINAL), "ckpt-final"));
}

/* encode a good CKPT, patch it, expect the decoder's message */
static void expect_bad(size_t off, const void *patch, size_t plen, const char *want)
{
	struct gr_frame g;
	ssize_t n = encode(GR_FT_CKPT, note, note_len, 40);

	memcpy(buf + GR_WIRE_HDR_SIZE + off, patch, plen);
	CHECK(n > 0 && decode(n, &g) == -EPROTO);
	CHECK_MSG(strstr(err, want), "want \"%s\", got \"%s\"", want, err);
}

static void test_ckpt_refused(void)
{
	uint64_t z = 0, other = htole64(41);
	uint32_t flags = htole32(1), big = htole32(note_len + 1);
	char text[4096];
	struct gr_frame g;

	expect_bad(0, &z, 8, "term 0");
	expect_bad(8, &z, 8, "tree size 0");
	expect_bad(8, &other, 8, "the checkpoint is of size 40, the frame says 41");
	expect_bad(16, &flags, 4, "unknown flags");
	expect_bad(20, &big, 4, "does not match");
	expect_bad(GR_CKPT_HDR_SIZE + 3, "\x01", 1, "control byte 0x01");
	expect_bad(GR_CKPT_HDR_SIZE + 14, "x", 1, "is not a decimal");
	/* no signature, a line that is not one, a root that is not base64 */
	memcpy(text, note, note_len);
	CHECK(encode(GR_FT_CKPT, text, strstr(text, "\n\n") + 2 - text, 40) == -EINVAL);
	text[strstr(text, "\n\n") + 2 - text] = 'X';
	CHECK(encode(GR_FT_CKPT, text, note_len, 40) == -EINVAL);
	memcpy(buf, "", 0);
	CHECK(encode(GR_FT_CKPT, "georep/t/vol0\n40\n!!!\n\n\xe2\x80\x94 a b\n", 31, 40) ==
	      -EINVAL);
	/* what the encoder refuses, the decoder refuses with a reason */
	gr_wire_encode(buf, sizeof(buf), &(struct gr_frame){ .hdr.type = GR_FT_PING });
	memset(buf + GR_WIRE_HDR_SIZE, 0, 64);
	CHECK(decode(GR_WIRE_HDR_SIZE, &g) != 0);
}

static ssize_t encode_resp(uint32_t status, const char *text, size_t len)
{
	struct gr_frame f = { .hdr.type = GR_FT_CKPT_RESP, .hdr.volume = VOL };

	f.ckpt_resp.term = 3;
	f.ckpt_resp.size = 40;
	f.ckpt_resp.status = status;
	f.ckpt_resp.text = text;
	f.ckpt_resp.len = len;
	return gr_wire_encode(buf, sizeof(buf), &f);
}

static void test_resp(void)
{
	static const char why[] = "root differs: this site's tree of 40 records has root X";
	char long_why[GR_WIRE_MAX_REASON + 2];
	struct gr_frame g;
	uint32_t st = htole32(__GR_CKPT_MAX);
	ssize_t n;

	n = encode_resp(GR_CKPT_COSIGNED, cosig, cosig_len);
	CHECK_MSG(n > 0 && decode(n, &g) == 0, "%s", err);
	CHECK(g.ckpt_resp.status == GR_CKPT_COSIGNED && g.ckpt_resp.len == cosig_len &&
	      !memcmp(g.ckpt_resp.text, cosig, cosig_len) && g.ckpt_resp.size == 40);
	n = encode_resp(GR_CKPT_ROOT_DIFFERS, why, strlen(why));
	CHECK(n > 0 && decode(n, &g) == 0 && g.ckpt_resp.status == GR_CKPT_ROOT_DIFFERS);
	CHECK(!strcmp(gr_ckpt_status_name(g.ckpt_resp.status), "root differs"));
	/* a cosigned answer must be one signature line; a refusal a printable reason */
	CHECK(encode_resp(GR_CKPT_COSIGNED, why, strlen(why)) == -EINVAL);
	CHECK(encode_resp(GR_CKPT_COSIGNED, cosig, cosig_len - 1) == -EINVAL);
	CHECK(encode_resp(GR_CKPT_REFUSED, "two\nlines", 9) == -EINVAL);
	CHECK(encode_resp(GR_CKPT_REFUSED, "", 0) == -EINVAL);
	memset(long_why, 'a', sizeof(long_why));
	CHECK(encode_resp(GR_CKPT_REFUSED, long_why, GR_WIRE_MAX_REASON + 1) == -EINVAL);
	n = encode_resp(GR_CKPT_REFUSED, why, strlen(why));
	memcpy(buf + GR_WIRE_HDR_SIZE + 16, &st, 4);
	CHECK(decode(n, &g) == -EPROTO && strstr(err, "unknown status 4"));
	CHECK(!strcmp(gr_ckpt_status_name(99), "unknown"));
}

static ssize_t encode_note(uint32_t kind, uint32_t index, uint32_t count, uint32_t status,
			   const char *path, const char *n, size_t len)
{
	struct gr_frame f = { .hdr.type = GR_FT_NOTE, .hdr.version = GR_WIRE_VERSION_NOTE,
			      .hdr.volume = VOL };

	f.note = (struct gr_note){ .nonce = 77, .kind = kind, .index = index, .count = count,
				   .status = status, .path = path,
				   .path_len = path ? strlen(path) : 0, .note = n,
				   .note_len = len };
	return gr_wire_encode(buf, sizeof(buf), &f);
}

/* a good FORK note at @index 0 of 2, patched at body offset @off */
static void note_bad(size_t off, const void *patch, size_t plen, const char *want)
{
	struct gr_frame g;
	ssize_t n = encode_note(GR_NOTE_FORK, 0, 2, GR_NOTE_OK, "/var/lib/georep/f", note,
				note_len);

	memcpy(buf + GR_WIRE_HDR_SIZE + off, patch, plen);
	CHECK(n > 0 && decode(n, &g) == -EPROTO);
	CHECK_MSG(strstr(err, want), "want \"%s\", got \"%s\"", want, err);
}

static void test_note_req(void)
{
	struct gr_frame f = { .hdr.type = GR_FT_NOTE_REQ, .hdr.version = GR_WIRE_VERSION_NOTE,
			      .hdr.volume = VOL }, g;
	uint8_t *b = buf + GR_WIRE_HDR_SIZE;
	ssize_t n;

	f.note_req = (struct gr_note_req){ .nonce = 9, .kind = GR_NOTE_FORK, .index = 3 };
	n = gr_wire_encode(buf, sizeof(buf), &f);
	CHECK(n == GR_WIRE_HDR_SIZE + GR_NOTE_REQ_SIZE && decode(n, &g) == 0 &&
	      g.note_req.nonce == 9 && g.note_req.kind == GR_NOTE_FORK && g.note_req.index == 3);
	b[8] = 2;
	CHECK(decode(n, &g) == -EPROTO && strstr(err, "note-req: unknown kind 2"));
	b[8] = GR_NOTE_FINAL;
	CHECK(decode(n, &g) == -EPROTO && strstr(err, "final checkpoint 3: a site keeps one"));
	f.note_req.nonce = 0;
	CHECK(gr_wire_encode(buf, sizeof(buf), &f) == -EINVAL);
	f.note_req.nonce = 9;
	f.hdr.version = GR_WIRE_VERSION_ROOT;
	CHECK(gr_wire_encode(buf, sizeof(buf), &f) == -EINVAL);
	CHECK(!strcmp(gr_frame_type_name(GR_FT_NOTE_REQ), "note-req") &&
	      !strcmp(gr_frame_type_name(GR_FT_NOTE), "note"));
}

/*
 * A note of tree size 0 (the signed note's text with "40" as "0"): refused
 * by the encoder and the decoder; georepctl verify would otherwise ask the
 * sites for a root at size 0 and stop.
 */
static void test_note_size0(void)
{
	char zero[4096];
	const char *rest = strchr(strchr(note, '\n') + 1, '\n') + 1;
	uint8_t *b = buf + GR_WIRE_HDR_SIZE;
	struct gr_frame g;
	size_t zlen;
	ssize_t n;

	zlen = snprintf(zero, sizeof(zero), "georep/t/vol0\n0\n%s", rest);
	CHECK(zlen == note_len - 1);
	CHECK(encode_note(GR_NOTE_FORK, 0, 2, GR_NOTE_OK, "/f", zero, zlen) == -EINVAL);
	/* the same body length: path "/" and the good note, made "/f" and @zero */
	n = encode_note(GR_NOTE_FORK, 0, 2, GR_NOTE_OK, "/", note, note_len);
	CHECK(n > 0);
	memcpy(b + GR_NOTE_HDR_SIZE, "/f", 2);
	memcpy(b + GR_NOTE_HDR_SIZE + 2, zero, zlen);
	memcpy(b + 24, &(uint32_t){ htole32(2) }, 4);
	memcpy(b + 28, &(uint32_t){ htole32(zlen) }, 4);
	CHECK(decode(n, &g) == -EPROTO);
	CHECK_MSG(strstr(err, "note: tree size 0: no checkpoint is signed over an empty tree"),
		  "%s", err);
}

/* a little-endian u32 at body offset @off of the frame in buf */
static void put_body32(size_t off, uint32_t v)
{
	v = htole32(v);
	memcpy(buf + GR_WIRE_HDR_SIZE + off, &v, 4);
}

/* the frame in buf with a body of @blen bytes: refused naming @want */
static void body_bad(size_t blen, const char *want)
{
	struct gr_frame g;
	uint32_t v = htole32(blen);

	memcpy(buf + 8, &v, 4);
	CHECK(decode(GR_WIRE_HDR_SIZE + blen, &g) == -EPROTO);
	CHECK_MSG(strstr(err, want), "want \"%s\", got \"%s\"", want, err);
}

/* the decoder's refusals that no patch of a good body in place reaches */
static void test_note_sizes(void)
{
	struct gr_frame f = { .hdr.type = GR_FT_NOTE_REQ, .hdr.version = GR_WIRE_VERSION_NOTE,
			      .hdr.volume = VOL };
	char path[GR_NOTE_PATH_MAX + 1];

	f.note_req = (struct gr_note_req){ .nonce = 9, .kind = GR_NOTE_FORK };
	CHECK(gr_wire_encode(buf, sizeof(buf), &f) > 0);
	body_bad(15, "note-req: body is 15 bytes, expected 16");
	CHECK(encode_note(GR_NOTE_FORK, 2, 2, GR_NOTE_NONE, NULL, NULL, 0) > 0);
	body_bad(31, "note: body is 31 bytes, shorter than 32");
	/* NONE with the path of a BAD answer */
	CHECK(encode_note(GR_NOTE_FORK, 0, 2, GR_NOTE_BAD, "/x", NULL, 0) > 0);
	put_body32(12, 2);
	put_body32(20, GR_NOTE_NONE);
	body_bad(GR_NOTE_HDR_SIZE + 2, "note: status 1 of kind 1 with a path");
	/* BAD: a path of 0 bytes, then a path of 1 and a note of 1 */
	CHECK(encode_note(GR_NOTE_FORK, 0, 2, GR_NOTE_BAD, "/x", NULL, 0) > 0);
	put_body32(24, 0);
	put_body32(28, 2);
	body_bad(GR_NOTE_HDR_SIZE + 2, "note: fork file path of 0 bytes (1..1024)");
	put_body32(24, 1);
	put_body32(28, 1);
	body_bad(GR_NOTE_HDR_SIZE + 2, "note: status 2 with a note");
	/* a path of 1025 bytes (the encoder refuses it) */
	memset(path, 'p', sizeof(path));
	path[0] = '/';
	path[GR_NOTE_PATH_MAX] = '\0';
	CHECK(encode_note(GR_NOTE_FORK, 0, 2, GR_NOTE_OK, path, note, note_len) > 0);
	put_body32(24, GR_NOTE_PATH_MAX + 1);
	put_body32(28, note_len - 1);
	body_bad(GR_NOTE_HDR_SIZE + GR_NOTE_PATH_MAX + note_len,
		 "note: fork file path of 1025 bytes (1..1024)");
	/* a note longer than a CKPT's */
	CHECK(encode_note(GR_NOTE_FINAL, 0, 1, GR_NOTE_OK, NULL, note, note_len) > 0);
	memset(buf + GR_WIRE_HDR_SIZE + GR_NOTE_HDR_SIZE, 'n', GR_CKPT_NOTE_MAX + 1);
	put_body32(28, GR_CKPT_NOTE_MAX + 1);
	body_bad(GR_NOTE_HDR_SIZE + GR_CKPT_NOTE_MAX + 1, "note: note of 8193 bytes, more than 8192");
}

static void test_note(void)
{
	uint32_t v;
	struct gr_frame g;
	ssize_t n;

	/* a final checkpoint, a fork file's, none, a bad file */
	n = encode_note(GR_NOTE_FINAL, 0, 1, GR_NOTE_OK, NULL, note, note_len);
	CHECK_MSG(n == (ssize_t)(GR_WIRE_HDR_SIZE + GR_NOTE_HDR_SIZE + note_len) &&
		  decode(n, &g) == 0, "%s", err);
	CHECK(g.note.nonce == 77 && g.note.count == 1 && g.note.size == 40 && !g.note.path_len &&
	      g.note.note_len == note_len && !memcmp(g.note.note, note, note_len));
	n = encode_note(GR_NOTE_FORK, 1, 2, GR_NOTE_OK, "/var/lib/georep/vol0.fork-5-9-1", note,
			note_len);
	CHECK(n > 0 && decode(n, &g) == 0 && g.note.index == 1 && g.note.path_len == 31 &&
	      !memcmp(g.note.path, "/var/lib/georep/vol0.fork-5-9-1", 31));
	n = encode_note(GR_NOTE_FORK, 2, 2, GR_NOTE_NONE, NULL, NULL, 0);
	CHECK(n > 0 && decode(n, &g) == 0 && g.note.status == GR_NOTE_NONE);
	n = encode_note(GR_NOTE_FORK, 0, 2, GR_NOTE_BAD, "/x", NULL, 0);
	CHECK(n > 0 && decode(n, &g) == 0 && g.note.status == GR_NOTE_BAD);
	/* what the encoder refuses */
	CHECK(encode_note(GR_NOTE_FINAL, 0, 2, GR_NOTE_OK, NULL, note, note_len) == -EINVAL);
	CHECK(encode_note(GR_NOTE_FINAL, 0, 1, GR_NOTE_OK, "/x", note, note_len) == -EINVAL);
	CHECK(encode_note(GR_NOTE_FORK, 0, 1, GR_NOTE_OK, NULL, note, note_len) == -EINVAL);
	CHECK(encode_note(GR_NOTE_FORK, 1, 1, GR_NOTE_OK, "/x", note, note_len) == -EINVAL);
	CHECK(encode_note(GR_NOTE_FORK, 0, 1, GR_NOTE_NONE, NULL, NULL, 0) == -EINVAL);
	CHECK(encode_note(GR_NOTE_FORK, 0, 1, GR_NOTE_BAD, "/x", note, note_len) == -EINVAL);
	CHECK(encode_note(GR_NOTE_FINAL, 0, 1, GR_NOTE_OK, NULL, note, 20) == -EINVAL);
	/* what the decoder refuses, and why */
	note_bad(0, &(uint64_t){ 0 }, 8, "note: nonce 0");
	note_bad(8, &(uint32_t){ htole32(2) }, 4, "note: unknown kind 2");
	note_bad(20, &(uint32_t){ htole32(3) }, 4, "note: unknown status 3");
	note_bad(12, &(uint32_t){ htole32(2) }, 4, "note: status 0 for index 2 of 2");
	note_bad(8, &(uint32_t){ 0 }, 4, "note: 2 final checkpoints: a site keeps one");
	v = htole32(17 + 1);
	note_bad(24, &v, 4, "note: path of 18 and note of");
	note_bad(GR_NOTE_HDR_SIZE + 3, "\n", 1, "note: control byte 0x0a at path offset 3");
	note_bad(GR_NOTE_HDR_SIZE + 17 + 2, "\x01", 1, "note: control byte 0x01 at note offset 2");
	note_bad(GR_NOTE_HDR_SIZE + 17 + 14, "x", 1, "is not a decimal");
	test_note_size0();
	n = encode_note(GR_NOTE_FORK, 0, 2, GR_NOTE_OK, "/var/lib/georep/f", note, note_len);
	buf[4] = GR_WIRE_VERSION_ROOT;
	CHECK(decode(n, &g) == -EPROTO &&
	      strstr(err, "note frame: framed with version 4 (notes exist from version 5)"));
}

static const struct ktap_case cases[] = {
	{ "wire_ckpt_roundtrip", test_ckpt_roundtrip },
	{ "wire_ckpt_refused", test_ckpt_refused },
	{ "wire_ckpt_resp", test_resp },
	{ "wire_note_req", test_note_req },
	{ "wire_note", test_note },
	{ "wire_note_sizes", test_note_sizes },
};

int main(void)
{
	return ktap_run(cases, sizeof(cases) / sizeof(cases[0]));
}
