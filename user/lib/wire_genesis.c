// SPDX-License-Identifier: GPL-2.0
/*
 * GENESIS frame bodies: a volume's uuid, size and seal keys for a site that
 * creates its replica on day one (user/include/georep/wire.h). The keys are
 * secrets: every copy made here is wiped.
 */
#include <endian.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>

#include "georep/wire.h"
#include "wire_le.h"



static bool zero(const uint8_t *p, size_t n)
{
	uint8_t acc = 0;

	while (n--)
		acc |= *p++;
	return !acc;
}

void gr_genesis_wipe(struct gr_genesis *g)
{
	OPENSSL_cleanse(g->keys, sizeof(g->keys));
}

size_t gr_wire_genesis_size(const struct gr_genesis *g)
{
	uint32_t n = g->count <= GR_GENESIS_MAX_KEYS ? g->count : 0;

	return GR_GENESIS_HDR_SIZE + (size_t)n * GR_GENESIS_KEY_SIZE;
}

/* the fields after the key bytes are copied: status, count, uuid, size, epochs */
static int check(const struct gr_genesis *g, char *err)
{
	uint32_t i;

	if (g->status >= __GR_GENESIS_MAX)
		return ERR("genesis: unknown status %u", g->status);
	if (g->count > GR_GENESIS_MAX_KEYS)
		return ERR("genesis: %u keys (at most %u)", g->count, GR_GENESIS_MAX_KEYS);
	if (g->status == GR_GENESIS_NONE &&
	    (g->count || g->data_bytes || !zero(g->uuid, GEOREP_UUID_LEN)))
		return ERR("genesis: status none with a uuid, a size or keys");
	if (g->status == GR_GENESIS_HAVE &&
	    (zero(g->uuid, GEOREP_UUID_LEN) || !g->data_bytes ||
	     g->data_bytes % GEOREP_BLOCK_SIZE))
		return ERR("genesis: a volume without a uuid or with a size of %llu bytes",
			   (unsigned long long)g->data_bytes);
	for (i = 0; i < g->count; i++) {
		if (!g->keys[i].epoch || (i && g->keys[i].epoch <= g->keys[i - 1].epoch))
			return ERR("genesis: key %u: epoch %u (epochs >= 1, ascending)", i,
				   g->keys[i].epoch);
		if (zero(g->keys[i].key, GEOREP_KEY_LEN))
			return ERR("genesis: epoch %u: the key is all zeros", g->keys[i].epoch);
	}
	return 0;
}

int gr_wire_decode_genesis(const uint8_t *b, uint32_t len, struct gr_genesis *g,
			   char *err)
{
	uint32_t i;
	int ret;

	memset(g, 0, sizeof(*g));
	if (len < GR_GENESIS_HDR_SIZE)
		return ERR("genesis: body of %u bytes is shorter than %u", len,
			   GR_GENESIS_HDR_SIZE);
	g->status = rd32(b);
	g->count = rd32(b + 4);
	memcpy(g->uuid, b + 8, GEOREP_UUID_LEN);
	g->data_bytes = rd64(b + 24);
	if (g->count > GR_GENESIS_MAX_KEYS ||
	    len != GR_GENESIS_HDR_SIZE + g->count * GR_GENESIS_KEY_SIZE) {
		uint32_t n = g->count;

		g->count = 0;
		return ERR("genesis: %u keys do not match a body of %u bytes", n, len);
	}
	for (i = 0; i < g->count; i++) {
		const uint8_t *k = b + GR_GENESIS_HDR_SIZE + i * GR_GENESIS_KEY_SIZE;

		if (rd32(k + 4)) {
			gr_genesis_wipe(g);
			return ERR("genesis: key %u: reserved field not 0", i);
		}
		g->keys[i].epoch = rd32(k);
		memcpy(g->keys[i].key, k + 8, GEOREP_KEY_LEN);
	}
	ret = check(g, err);
	if (ret)
		gr_genesis_wipe(g);
	return ret;
}

int gr_wire_put_genesis(uint8_t *b, const struct gr_genesis *g, char *err)
{
	uint32_t i;
	int ret;

	ret = check(g, err);
	if (ret)
		return ret;
	wr32(b, g->status);
	wr32(b + 4, g->count);
	memcpy(b + 8, g->uuid, GEOREP_UUID_LEN);
	wr64(b + 24, g->data_bytes);
	for (i = 0; i < g->count; i++) {
		uint8_t *k = b + GR_GENESIS_HDR_SIZE + i * GR_GENESIS_KEY_SIZE;

		wr32(k, g->keys[i].epoch);
		wr32(k + 4, 0);
		memcpy(k + 8, g->keys[i].key, GEOREP_KEY_LEN);
	}
	return 0;
}
