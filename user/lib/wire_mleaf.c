// SPDX-License-Identifier: GPL-2.0
/*
 * MLEAF_REQ and MLEAF frame bodies: Merkle leaves a site's tree lacks,
 * from a site whose tree holds them (user/include/georep/wire.h,
 * Documentation/wire-protocol.rst). A leaf is checked as a leaf (format,
 * and the seq its place says); whether it chains onto the asker's tree is
 * the asker's check (gd_mtree_add()).
 */
#include <errno.h>
#include <string.h>

#include "georep/leaf.h"
#include "georep/wire.h"
#include "wire_le.h"

int gr_wire_decode_mleaf_req(const uint8_t *b, uint32_t len, struct gr_mleaf_req *r,
			     char *err)
{
	memset(r, 0, sizeof(*r));
	if (len != GR_MLEAF_REQ_SIZE)
		return ERR("mleaf-req: body is %u bytes, expected %u", len, GR_MLEAF_REQ_SIZE);
	r->first_seq = rd64(b);
	r->count = rd32(b + 8);
	if (rd32(b + 12))
		return ERR("mleaf-req: reserved field is not zero");
	if (!r->first_seq)
		return ERR("mleaf-req: first seq 0 (records start at 1)");
	if (!r->count || r->count > GR_MLEAF_MAX)
		return ERR("mleaf-req: %u leaves asked for (1 to %u)", r->count, GR_MLEAF_MAX);
	if (r->first_seq > UINT64_MAX - r->count)
		return ERR("mleaf-req: seqs %llu+%u overflow",
			   (unsigned long long)r->first_seq, r->count);
	return 0;
}

static int check_leaves(const struct gr_mleaf *m, char *err)
{
	char why[GR_WIRE_ERRLEN / 2];
	struct georep_rec rec;
	uint32_t i;

	for (i = 0; i < m->count; i++) {
		if (georep_leaf_decode(m->leaves + (size_t)i * GEOREP_LEAF_LEN,
				       GEOREP_LEAF_LEN, &rec, why, sizeof(why)))
			return ERR("mleaf: leaf %u: %s", i, why);
		if (rec.seq != m->first_seq + i)
			return ERR("mleaf: leaf %u is that of record %llu, not %llu", i,
				   (unsigned long long)rec.seq,
				   (unsigned long long)(m->first_seq + i));
	}
	return 0;
}

int gr_wire_decode_mleaf(const uint8_t *b, uint32_t len, struct gr_mleaf *m, char *err)
{
	memset(m, 0, sizeof(*m));
	if (len < GR_MLEAF_HDR_SIZE)
		return ERR("mleaf: body of %u bytes, shorter than its %u-byte header", len,
			   GR_MLEAF_HDR_SIZE);
	m->first_seq = rd64(b);
	m->count = rd32(b + 8);
	m->status = rd32(b + 12);
	m->leaves = b + GR_MLEAF_HDR_SIZE;
	if (m->status >= __GR_MLEAF_MAX)
		return ERR("mleaf: unknown status %u", m->status);
	if (!m->first_seq)
		return ERR("mleaf: first seq 0 (records start at 1)");
	if (m->status == GR_MLEAF_UNAVAILABLE ? m->count != 0 :
	    !m->count || m->count > GR_MLEAF_MAX)
		return ERR("mleaf: %u leaves with status %s", m->count,
			   m->status == GR_MLEAF_OK ? "ok (1 to 4096)" : "unavailable (0)");
	if (m->first_seq > UINT64_MAX - m->count)
		return ERR("mleaf: seqs %llu+%u overflow", (unsigned long long)m->first_seq,
			   m->count);
	if (len != gr_wire_mleaf_size(m))
		return ERR("mleaf: body is %u bytes, %u leaves make %zu", len, m->count,
			   gr_wire_mleaf_size(m));
	return check_leaves(m, err);
}

size_t gr_wire_mleaf_size(const struct gr_mleaf *m)
{
	return GR_MLEAF_HDR_SIZE + (size_t)m->count * GEOREP_LEAF_LEN;
}

void gr_wire_put_mleaf_req(uint8_t *b, const struct gr_mleaf_req *r)
{
	wr64(b, r->first_seq);
	wr32(b + 8, r->count);
	wr32(b + 12, 0);
}

void gr_wire_put_mleaf(uint8_t *b, const struct gr_mleaf *m)
{
	wr64(b, m->first_seq);
	wr32(b + 8, m->count);
	wr32(b + 12, m->status);
	memcpy(b + GR_MLEAF_HDR_SIZE, m->leaves, (size_t)m->count * GEOREP_LEAF_LEN);
}
