// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer target: the wire decoder. Decodes frames back to back as a
 * connection would; every frame accepted must re-encode to the very same
 * bytes, and its records / consensus body must walk cleanly.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "georep/consensus.h"
#include "georep/wire.h"

static uint8_t out[GR_WIRE_HDR_SIZE + GR_WIRE_MAX_BODY];

/* a consensus core message that decodes must re-encode to the same bytes */
static void check_msg(const uint8_t *body, uint32_t len)
{
	char err[GR_WIRE_ERRLEN];
	uint8_t again[256];
	struct gr_msg m;
	ssize_t n;

	if (gr_wire_msg_decode(body, len, &m, err))
		return;
	n = gr_wire_msg_encode(again, sizeof(again), &m);
	if (n != (ssize_t)len || memcmp(again, body, len))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[GR_WIRE_ERRLEN];
	const struct georep_record *rec;
	const uint8_t *payload;
	struct gr_frame_hdr hdr;
	struct gr_cmsg m;
	struct gr_frame f;
	size_t used, pos;
	ssize_t n;
	uint32_t count;

	while (size >= GR_WIRE_HDR_SIZE) {
		if (gr_wire_decode_hdr(data, &hdr, err))
			return 0;
		if (gr_wire_decode(data, size, &f, &used, err))
			return 0;	/* -EAGAIN or -EPROTO: the connection ends */
		if (used > size || used != GR_WIRE_HDR_SIZE + (size_t)hdr.length)
			abort();
		switch (f.hdr.type) {
		case GR_FT_RECORDS:
			pos = 0;
			count = 0;
			while (gr_records_next(&f.records, &pos, &rec, &payload))
				count++;
			if (count != f.records.count || pos != f.records.len)
				abort();
			break;
		case GR_FT_CONSENSUS:
			gr_cmsg_decode(f.consensus.data, f.consensus.len, &m, err);
			check_msg(f.consensus.data, f.consensus.len);
			break;
		}
		n = gr_wire_encode(out, sizeof(out), &f);
		if (n < 0 || (size_t)n != used || memcmp(out, data, used))
			abort();
		data += used;
		size -= used;
	}
	return 0;
}
