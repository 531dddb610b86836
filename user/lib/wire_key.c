// SPDX-License-Identifier: GPL-2.0
/*
 * KEY and KEY_ACK frame bodies: the seal-key rotation messages of the wire
 * protocol (user/include/georep/wire.h, Documentation/wire-protocol.rst).
 * A KEY body carries a secret: every copy made here is wiped.
 */
#include <endian.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>

#include "georep/wire.h"
#include "wire_le.h"

const char *gr_key_status_name(uint32_t status)
{
	static const char *const names[] = {
		[GR_KEY_INSTALLED] = "installed",
		[GR_KEY_FAILED] = "failed",
		[GR_KEY_MISSING] = "missing",
	};

	return status < __GR_KEY_MAX ? names[status] : "unknown";
}

void gr_key_wipe(struct gr_key *k)
{
	OPENSSL_cleanse(k->key, sizeof(k->key));
}

int gr_wire_decode_key(const uint8_t *b, uint32_t len, struct gr_key *k,
		       char *err)
{
	uint32_t flags;

	memset(k, 0, sizeof(*k));
	if (len != GR_KEY_SIZE)
		return ERR("key: body is %u bytes, expected %u", len, GR_KEY_SIZE);
	k->term = rd64(b);
	k->epoch = rd32(b + 8);
	flags = rd32(b + 12);
	if (!k->term)
		return ERR("key: term 0 is not valid");
	if (!k->epoch)
		return ERR("key: epoch 0 is not valid");
	if (flags)
		return ERR("key: epoch %u: unknown flags 0x%08x", k->epoch, flags);
	if (gr_all_zero(b + 16, GEOREP_KEY_LEN))
		return ERR("key: epoch %u: the key is all zeros", k->epoch);
	memcpy(k->key, b + 16, GEOREP_KEY_LEN);
	return 0;
}

/* KEY_ACK's sealing, count and epochs at @b */
static int decode_held(const uint8_t *b, struct gr_key_ack *a, char *err)
{
	bool sealing_held;
	uint32_t i, e;

	a->sealing = rd32(b);
	sealing_held = !a->sealing;
	a->nr_held = rd32(b + 4);
	if (a->nr_held > GEOREP_MAX_KEYS)
		return ERR("key-ack: %u epochs held, at most %d", a->nr_held,
			   GEOREP_MAX_KEYS);
	for (i = 0; i < GEOREP_MAX_KEYS; i++) {
		e = rd32(b + 8 + 4 * i);
		if (i >= a->nr_held) {
			if (e)
				return ERR("key-ack: epoch slot %u past the count is %u, not 0",
					   i, e);
			continue;
		}
		if (!e || (i && e <= a->held[i - 1]))
			return ERR("key-ack: held epochs not ascending at slot %u (%u)", i, e);
		a->held[i] = e;
		sealing_held |= e == a->sealing;
	}
	if (!sealing_held)
		return ERR("key-ack: sealing epoch %u is not among those held", a->sealing);
	return 0;
}

uint32_t gr_wire_key_ack_size(unsigned int version)
{
	return version >= GR_WIRE_VERSION_KEY_HELD ? GR_KEY_ACK_SIZE : GR_KEY_ACK_V1_SIZE;
}

int gr_wire_decode_key_ack(const uint8_t *b, uint32_t len, unsigned int version,
			   struct gr_key_ack *a, char *err)
{
	memset(a, 0, sizeof(*a));
	if (len != gr_wire_key_ack_size(version))
		return ERR("key-ack: body is %u bytes, expected %u (version %u)", len,
			   gr_wire_key_ack_size(version), version);
	a->term = rd64(b);
	a->epoch = rd32(b + 8);
	a->status = rd32(b + 12);
	if (!a->term)
		return ERR("key-ack: term 0 is not valid");
	if (!a->epoch)
		return ERR("key-ack: epoch 0 is not valid");
	if (a->status >= __GR_KEY_MAX)
		return ERR("key-ack: epoch %u: unknown status %u", a->epoch,
			   a->status);
	if (version < GR_WIRE_VERSION_KEY_HELD)
		return 0;
	return decode_held(b + 16, a, err);
}

void gr_wire_put_key(uint8_t *b, const struct gr_key *k)
{
	wr64(b, k->term);
	wr32(b + 8, k->epoch);
	wr32(b + 12, 0);
	memcpy(b + 16, k->key, GEOREP_KEY_LEN);
}

void gr_wire_put_key_ack(uint8_t *b, unsigned int version, const struct gr_key_ack *a)
{
	uint32_t i;

	wr64(b, a->term);
	wr32(b + 8, a->epoch);
	wr32(b + 12, a->status);
	if (version < GR_WIRE_VERSION_KEY_HELD)
		return;
	wr32(b + 16, a->sealing);
	wr32(b + 20, a->nr_held);
	for (i = 0; i < GEOREP_MAX_KEYS; i++)
		wr32(b + 24 + 4 * i, i < a->nr_held ? a->held[i] : 0);
}

/* encode a KEY body at @b and check it; the checking copy is wiped */
int gr_wire_check_key(uint8_t *b, const struct gr_frame *f, char *err)
{
	struct gr_key k;
	int ret;

	gr_wire_put_key(b, &f->key);
	ret = gr_wire_decode_key(b, GR_KEY_SIZE, &k, err);
	gr_key_wipe(&k);
	if (ret)
		OPENSSL_cleanse(b, GR_KEY_SIZE);
	return ret;
}
