// SPDX-License-Identifier: GPL-2.0
/*
 * CKPT, CKPT_RESP and CKPT_FINAL frame bodies: checkpoints the leader
 * signs, the sites' cosignatures or refusals, and final checkpoints
 * (user/include/georep/wire.h, Documentation/wire-protocol.rst). The
 * decoder checks the layout and the checkpoint text; signatures are the
 * receiver's to check, against the sites' keys.
 */
#include <endian.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "georep/note.h"
#include "georep/wire.h"
#include "wire_le.h"

#define EM_DASH		"\xe2\x80\x94 "


const char *gr_ckpt_status_name(uint32_t status)
{
	static const char *const names[] = {
		[GR_CKPT_COSIGNED] = "cosigned",
		[GR_CKPT_ROOT_DIFFERS] = "root differs",
		[GR_CKPT_SIZE_UNKNOWN] = "size unknown",
		[GR_CKPT_REFUSED] = "refused",
	};

	return status < __GR_CKPT_MAX ? names[status] : "unknown";
}

/* a signature line: "\u2014 " name " " signature "\n", nothing else */
static bool sigline(const char *s, size_t n)
{
	const char *sp;

	if (n < sizeof(EM_DASH) + 3 || memcmp(s, EM_DASH, sizeof(EM_DASH) - 1) ||
	    s[n - 1] != '\n' || memchr(s, '\n', n - 1))
		return false;
	sp = memchr(s + sizeof(EM_DASH) - 1, ' ', n - sizeof(EM_DASH));
	return sp && sp > s + sizeof(EM_DASH) - 1 && sp < s + n - 2;
}

/* the note's signature lines: 1 to GR_NOTE_MAX_SIGS, each well formed */
static int check_sigs(const char *s, size_t n, const char *what, char *err)
{
	unsigned int lines = 0;
	const char *nl;

	while (n) {
		nl = memchr(s, '\n', n);
		if (!nl || !sigline(s, nl + 1 - s))
			return ERR("%s: signature line %u is not \"\\u2014 <name> <signature>\"",
				   what, lines + 1);
		if (++lines > GR_NOTE_MAX_SIGS)
			return ERR("%s: more than %u signature lines", what, GR_NOTE_MAX_SIGS);
		n -= nl + 1 - s;
		s = nl + 1;
	}
	if (!lines)
		return ERR("%s: the note has no signature", what);
	return 0;
}

int gr_wire_check_note(const char *note, uint32_t len, const char *what, uint64_t *size,
		       uint8_t root[32], uint32_t *text_len, char *err)
{
	char origin[GR_NOTE_NAME_MAX], why[GR_NOTE_ERRLEN];
	const char *split;
	long bad;

	if (len > GR_CKPT_NOTE_MAX)
		return ERR("%s: note of %u bytes, more than %u", what, len, GR_CKPT_NOTE_MAX);
	bad = gr_bad_byte(note, len, true);
	if (bad >= 0)
		return ERR("%s: control byte 0x%02x at note offset %ld", what,
			   (unsigned char)note[bad], bad);
	split = len ? memmem(note, len, "\n\n", 2) : NULL;
	if (!split)
		return ERR("%s: the note has no empty line before its signatures", what);
	*text_len = split + 1 - note;
	if (gr_checkpoint_parse(note, *text_len, origin, sizeof(origin), size, root, why))
		return ERR("%s: %.140s", what, why);
	if (!*size)
		return ERR("%s: tree size 0: no checkpoint is signed over an empty tree", what);
	return check_sigs(split + 2, note + len - split - 2, what, err);
}

int gr_wire_decode_ckpt(const uint8_t *b, uint32_t len, struct gr_ckpt *c, char *err)
{
	uint32_t flags;
	uint64_t size;
	int ret;

	memset(c, 0, sizeof(*c));
	if (len < GR_CKPT_HDR_SIZE)
		return ERR("ckpt: body is %u bytes, shorter than %u", len, GR_CKPT_HDR_SIZE);
	c->term = rd64(b);
	c->size = rd64(b + 8);
	flags = rd32(b + 16);
	c->note_len = rd32(b + 20);
	c->note = (const char *)b + GR_CKPT_HDR_SIZE;
	if (!c->term)
		return ERR("ckpt: term 0 is not valid");
	if (!c->size)
		return ERR("ckpt: tree size 0 is not valid");
	if (flags)
		return ERR("ckpt: size %llu: unknown flags 0x%08x", (unsigned long long)c->size,
			   flags);
	if (c->note_len != len - GR_CKPT_HDR_SIZE)
		return ERR("ckpt: note length %u does not match the %u bytes left", c->note_len,
			   len - GR_CKPT_HDR_SIZE);
	ret = gr_wire_check_note(c->note, c->note_len, "ckpt", &size, c->root, &c->text_len,
				 err);
	if (ret)
		return ret;
	if (size != c->size)
		return ERR("ckpt: the checkpoint is of size %llu, the frame says %llu",
			   (unsigned long long)size, (unsigned long long)c->size);
	return 0;
}

int gr_wire_decode_ckpt_resp(const uint8_t *b, uint32_t len, struct gr_ckpt_resp *r,
			     char *err)
{
	long bad;

	memset(r, 0, sizeof(*r));
	if (len < GR_CKPT_RESP_HDR_SIZE)
		return ERR("ckpt-resp: body is %u bytes, shorter than %u", len,
			   GR_CKPT_RESP_HDR_SIZE);
	r->term = rd64(b);
	r->size = rd64(b + 8);
	r->status = rd32(b + 16);
	r->len = rd32(b + 20);
	r->text = (const char *)b + GR_CKPT_RESP_HDR_SIZE;
	if (!r->term)
		return ERR("ckpt-resp: term 0 is not valid");
	if (!r->size)
		return ERR("ckpt-resp: tree size 0 is not valid");
	if (r->status >= __GR_CKPT_MAX)
		return ERR("ckpt-resp: size %llu: unknown status %u", (unsigned long long)r->size,
			   r->status);
	if (r->len != len - GR_CKPT_RESP_HDR_SIZE)
		return ERR("ckpt-resp: text length %u does not match the %u bytes left", r->len,
			   len - GR_CKPT_RESP_HDR_SIZE);
	if (r->status == GR_CKPT_COSIGNED) {
		if (r->len > GR_CKPT_SIGLINE_MAX || !sigline(r->text, r->len) ||
		    gr_bad_byte(r->text, r->len, true) >= 0)
			return ERR("ckpt-resp: size %llu: cosigned, but the text is not one "
				   "signature line", (unsigned long long)r->size);
		return 0;
	}
	if (!r->len || r->len > GR_WIRE_MAX_REASON)
		return ERR("ckpt-resp: size %llu: %s with a reason of %u bytes (1..%u)",
			   (unsigned long long)r->size, gr_ckpt_status_name(r->status), r->len,
			   GR_WIRE_MAX_REASON);
	bad = gr_bad_byte(r->text, r->len, false);
	if (bad >= 0)
		return ERR("ckpt-resp: control byte 0x%02x at reason offset %ld",
			   (unsigned char)r->text[bad], bad);
	return 0;
}

void gr_wire_put_ckpt(uint8_t *b, const struct gr_ckpt *c)
{
	wr64(b, c->term);
	wr64(b + 8, c->size);
	wr32(b + 16, 0);
	wr32(b + 20, c->note_len);
	memcpy(b + GR_CKPT_HDR_SIZE, c->note, c->note_len);
}

void gr_wire_put_ckpt_resp(uint8_t *b, const struct gr_ckpt_resp *r)
{
	wr64(b, r->term);
	wr64(b + 8, r->size);
	wr32(b + 16, r->status);
	wr32(b + 20, r->len);
	memcpy(b + GR_CKPT_RESP_HDR_SIZE, r->text, r->len);
}
