/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Little-endian fields of frame bodies at any alignment, the decoders'
 * error macro and their check for control bytes: shared by the codecs of
 * user/lib/wire_*.c (private header).
 */
#ifndef _GEOREP_WIRE_LE_H
#define _GEOREP_WIRE_LE_H

#include <endian.h>
#include <stdbool.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* in a decoder with a char *err of GR_WIRE_ERRLEN bytes: fill it, -EPROTO */
#define ERR(...)	(snprintf(err, GR_WIRE_ERRLEN, __VA_ARGS__), -EPROTO)

static inline uint16_t rd16(const uint8_t *p)
{
	uint16_t v;

	memcpy(&v, p, 2);
	return le16toh(v);
}

static inline uint32_t rd32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return le32toh(v);
}

static inline uint64_t rd64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return le64toh(v);
}

static inline void wr16(uint8_t *p, uint16_t v)
{
	v = htole16(v);
	memcpy(p, &v, 2);
}

static inline void wr32(uint8_t *p, uint32_t v)
{
	v = htole32(v);
	memcpy(p, &v, 4);
}

static inline void wr64(uint8_t *p, uint64_t v)
{
	v = htole64(v);
	memcpy(p, &v, 8);
}

/* every byte of @p[0..n) is zero (frame bodies: reserved fields, empty keys and roots) */
static inline bool gr_all_zero(const uint8_t *p, size_t n)
{
	uint8_t acc = 0;
	size_t i;

	for (i = 0; i < n; i++)
		acc |= p[i];
	return !acc;
}

/*
 * The first control byte (C0 or DEL) in @s[0..n), newlines allowed when
 * @newlines, or -1: text from a frame ends up in logs and on terminals.
 */
static inline long gr_bad_byte(const char *s, size_t n, bool newlines)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (gr_ctl_byte(s[i]) && !(newlines && s[i] == '\n'))
			return (long)i;
	return -1;
}

#endif /* _GEOREP_WIRE_LE_H */
