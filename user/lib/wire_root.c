// SPDX-License-Identifier: GPL-2.0
/*
 * ROOT_REQ and ROOT frame bodies (version 4): a site's Merkle tree root at
 * a size, asked by another site on behalf of `georepctl verify --via`
 * (user/include/georep/wire.h, Documentation/wire-protocol.rst).
 */
#include <errno.h>
#include <string.h>

#include "georep/wire.h"
#include "wire_le.h"

int gr_wire_decode_root_req(const uint8_t *b, uint32_t len, struct gr_root_req *r, char *err)
{
	memset(r, 0, sizeof(*r));
	if (len != GR_ROOT_REQ_SIZE)
		return ERR("root-req: body is %u bytes, expected %u", len, GR_ROOT_REQ_SIZE);
	r->nonce = rd64(b);
	r->size = rd64(b + 8);
	if (!r->nonce)
		return ERR("root-req: nonce 0 is not valid");
	return 0;
}

int gr_wire_decode_root(const uint8_t *b, uint32_t len, struct gr_root *r, char *err)
{
	memset(r, 0, sizeof(*r));
	if (len != GR_ROOT_SIZE)
		return ERR("root: body is %u bytes, expected %u", len, GR_ROOT_SIZE);
	r->nonce = rd64(b);
	r->size = rd64(b + 8);
	r->tree = rd64(b + 16);
	r->status = rd32(b + 24);
	memcpy(r->root, b + 32, sizeof(r->root));
	if (!r->nonce)
		return ERR("root: nonce 0 is not valid");
	if (r->status >= __GR_ROOT_MAX)
		return ERR("root: unknown status %u", r->status);
	if (rd32(b + 28))
		return ERR("root: reserved field is not zero");
	if (r->status == GR_ROOT_OK && (!r->size || r->size > r->tree))
		return ERR("root: a root at size %llu of a tree of %llu leaves",
			   (unsigned long long)r->size, (unsigned long long)r->tree);
	if (r->status != GR_ROOT_OK && !gr_all_zero(r->root, sizeof(r->root)))
		return ERR("root: status %u with a root", r->status);
	if (r->status == GR_ROOT_NO_TREE && r->tree)
		return ERR("root: no tree, yet %llu leaves", (unsigned long long)r->tree);
	return 0;
}

void gr_wire_put_root_req(uint8_t *b, const struct gr_root_req *r)
{
	wr64(b, r->nonce);
	wr64(b + 8, r->size);
}

void gr_wire_put_root(uint8_t *b, const struct gr_root *r)
{
	wr64(b, r->nonce);
	wr64(b + 8, r->size);
	wr64(b + 16, r->tree);
	wr32(b + 24, r->status);
	wr32(b + 28, 0);
	memcpy(b + 32, r->root, sizeof(r->root));
}
