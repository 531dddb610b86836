// SPDX-License-Identifier: GPL-2.0
/*
 * NOTE_REQ and NOTE frame bodies (version 5): a site's stored signed
 * checkpoints (its final checkpoint, its fork files' checkpoints), asked by
 * another site on behalf of `georepctl verify --via`
 * (user/include/georep/wire.h, Documentation/wire-protocol.rst).
 */
#include <errno.h>
#include <string.h>

#include "georep/wire.h"
#include "wire_le.h"

int gr_wire_decode_note_req(const uint8_t *b, uint32_t len, struct gr_note_req *r, char *err)
{
	memset(r, 0, sizeof(*r));
	if (len != GR_NOTE_REQ_SIZE)
		return ERR("note-req: body is %u bytes, expected %u", len, GR_NOTE_REQ_SIZE);
	r->nonce = rd64(b);
	r->kind = rd32(b + 8);
	r->index = rd32(b + 12);
	if (!r->nonce)
		return ERR("note-req: nonce 0 is not valid");
	if (r->kind >= __GR_NOTE_KIND_MAX)
		return ERR("note-req: unknown kind %u", r->kind);
	if (r->kind == GR_NOTE_FINAL && r->index)
		return ERR("note-req: final checkpoint %u: a site keeps one", r->index);
	return 0;
}

/* a fork file's path: printable bytes, no newline */
static int check_path(const struct gr_note *n, char *err)
{
	long bad;

	if (n->kind != GR_NOTE_FORK || n->status == GR_NOTE_NONE)
		return n->path_len ? ERR("note: status %u of kind %u with a path", n->status,
					 n->kind) : 0;
	if (!n->path_len || n->path_len > GR_NOTE_PATH_MAX)
		return ERR("note: fork file path of %u bytes (1..%u)", n->path_len,
			   GR_NOTE_PATH_MAX);
	bad = gr_bad_byte(n->path, n->path_len, false);
	if (bad >= 0)
		return ERR("note: control byte 0x%02x at path offset %ld",
			   (unsigned char)n->path[bad], bad);
	return 0;
}

int gr_wire_decode_note(const uint8_t *b, uint32_t len, struct gr_note *n, char *err)
{
	uint8_t root[32];
	uint32_t text_len;
	int ret;

	memset(n, 0, sizeof(*n));
	if (len < GR_NOTE_HDR_SIZE)
		return ERR("note: body is %u bytes, shorter than %u", len, GR_NOTE_HDR_SIZE);
	n->nonce = rd64(b);
	n->kind = rd32(b + 8);
	n->index = rd32(b + 12);
	n->count = rd32(b + 16);
	n->status = rd32(b + 20);
	n->path_len = rd32(b + 24);
	n->note_len = rd32(b + 28);
	if (!n->nonce)
		return ERR("note: nonce 0 is not valid");
	if (n->kind >= __GR_NOTE_KIND_MAX)
		return ERR("note: unknown kind %u", n->kind);
	if (n->status >= __GR_NOTE_MAX)
		return ERR("note: unknown status %u", n->status);
	if ((uint64_t)n->path_len + n->note_len != len - GR_NOTE_HDR_SIZE)
		return ERR("note: path of %u and note of %u bytes, %u bytes left", n->path_len,
			   n->note_len, len - GR_NOTE_HDR_SIZE);
	if (n->kind == GR_NOTE_FINAL && n->count > 1)
		return ERR("note: %u final checkpoints: a site keeps one", n->count);
	if ((n->status == GR_NOTE_NONE) != (n->index >= n->count))
		return ERR("note: status %u for index %u of %u", n->status, n->index, n->count);
	n->path = (const char *)b + GR_NOTE_HDR_SIZE;
	n->note = n->path + n->path_len;
	ret = check_path(n, err);
	if (ret)
		return ret;
	if (n->status != GR_NOTE_OK)
		return n->note_len ? ERR("note: status %u with a note", n->status) : 0;
	return gr_wire_check_note(n->note, n->note_len, "note", &n->size, root, &text_len, err);
}

void gr_wire_put_note_req(uint8_t *b, const struct gr_note_req *r)
{
	wr64(b, r->nonce);
	wr32(b + 8, r->kind);
	wr32(b + 12, r->index);
}

void gr_wire_put_note(uint8_t *b, const struct gr_note *n)
{
	wr64(b, n->nonce);
	wr32(b + 8, n->kind);
	wr32(b + 12, n->index);
	wr32(b + 16, n->count);
	wr32(b + 20, n->status);
	wr32(b + 24, n->path_len);
	wr32(b + 28, n->note_len);
	/* a final checkpoint has no path, a NONE or BAD answer no note (NULL) */
	if (n->path_len)
		memcpy(b + GR_NOTE_HDR_SIZE, n->path, n->path_len);
	if (n->note_len)
		memcpy(b + GR_NOTE_HDR_SIZE + n->path_len, n->note, n->note_len);
}

size_t gr_wire_note_size(const struct gr_note *n)
{
	return GR_NOTE_HDR_SIZE + (size_t)n->path_len + n->note_len;
}
