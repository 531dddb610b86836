// SPDX-License-Identifier: GPL-2.0
/*
 * Encoding of the consensus core's messages (struct gr_msg) for CONSENSUS
 * frames; layout in georep/wire.h. The decoder checks everything the core
 * would otherwise have to trust: type, flags, ids, the configuration.
 */
#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>

#include "georep/consensus.h"
#include "georep/wire.h"

#define ERR(...)	(snprintf(err, GR_WIRE_ERRLEN, __VA_ARGS__), -EPROTO)
#define CONF_ENTRY	8
#define F_REJECT	0x01
#define F_FORCE		0x02
#define F_PROGRESS	0x04	/* APPEND_RESP, HEARTBEAT_RESP: written, commit, applied */

static bool is_resp(uint8_t type)
{
	return type == GR_MSG_APPEND_RESP || type == GR_MSG_HEARTBEAT_RESP;
}

static void put32(uint8_t *p, uint32_t v)
{
	v = htole32(v);
	memcpy(p, &v, 4);
}

static void put64(uint8_t *p, uint64_t v)
{
	v = htole64(v);
	memcpy(p, &v, 8);
}

static uint32_t get32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return le32toh(v);
}

static uint64_t get64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return le64toh(v);
}

static const size_t u64_off[] = { 16, 24, 32, 40, 48, 56, 64, 72 };

ssize_t gr_wire_msg_encode(void *buf, size_t cap, const struct gr_msg *m)
{
	uint32_t n = m->type == GR_MSG_RESYNC ? m->conf.n : 0, i;
	size_t conf_end = GR_WIRE_MSG_FIXED + 4 + (size_t)n * CONF_ENTRY;
	size_t total = conf_end + (m->has_progress ? GR_WIRE_MSG_PROGRESS : 0);
	const uint64_t v[] = {
		m->term, m->seq, m->log_term, m->commit,
		m->hint_seq, m->hint_term, m->ctx, m->bytes,
	};
	uint8_t *p = buf;

	if (m->type < GR_MSG_PREVOTE || m->type > GR_MSG_RESYNC || !m->from || !m->to ||
	    n > GR_MAX_SITES || (m->n_entries && m->type != GR_MSG_APPEND) ||
	    (m->has_progress && !is_resp(m->type)))
		return -EINVAL;
	for (i = 0; i < n; i++)
		if (!m->conf.site[i])
			return -EINVAL;
	if (total > cap)
		return -ENOSPC;
	memset(p, 0, total);
	p[0] = m->type;
	p[1] = (m->reject ? F_REJECT : 0) | (m->force ? F_FORCE : 0) |
	       (m->has_progress ? F_PROGRESS : 0);
	put32(p + 4, m->from);
	put32(p + 8, m->to);
	put32(p + 12, m->n_entries);
	for (i = 0; i < 8; i++)
		put64(p + u64_off[i], v[i]);
	put32(p + GR_WIRE_MSG_FIXED, n);
	for (i = 0; i < n; i++) {
		uint8_t *c = p + GR_WIRE_MSG_FIXED + 4 + i * CONF_ENTRY;

		put32(c, m->conf.site[i]);
		c[4] = m->conf.voter[i] ? 1 : 0;
	}
	if (m->has_progress) {
		put64(p + conf_end, m->p_written);
		put64(p + conf_end + 8, m->p_commit);
		put64(p + conf_end + 16, m->p_applied);
	}
	return total;
}

int gr_wire_msg_decode(const void *buf, size_t len, struct gr_msg *m, char *err)
{
	const uint8_t *p = buf;
	size_t conf_end, want;
	uint32_t n, i;

	if (len < GR_WIRE_MSG_FIXED + 4)
		return ERR("consensus: message of %zu bytes is shorter than %d", len,
			   GR_WIRE_MSG_FIXED + 4);
	memset(m, 0, sizeof(*m));
	m->type = p[0];
	if (m->type < GR_MSG_PREVOTE || m->type > GR_MSG_RESYNC)
		return ERR("consensus: unknown message type %u", p[0]);
	if (p[1] & ~(F_REJECT | F_FORCE | F_PROGRESS))
		return ERR("consensus: unknown flags 0x%02x", p[1]);
	m->has_progress = p[1] & F_PROGRESS;
	if (m->has_progress && !is_resp(m->type))
		return ERR("consensus: progress on a message of type %u", m->type);
	if (p[2] || p[3])
		return ERR("consensus: reserved field is not zero");
	m->reject = p[1] & F_REJECT;
	m->force = p[1] & F_FORCE;
	m->from = get32(p + 4);
	m->to = get32(p + 8);
	if (!m->from || !m->to)
		return ERR("consensus: site id 0 in from/to");
	m->n_entries = get32(p + 12);
	m->term = get64(p + 16);
	m->seq = get64(p + 24);
	m->log_term = get64(p + 32);
	m->commit = get64(p + 40);
	m->hint_seq = get64(p + 48);
	m->hint_term = get64(p + 56);
	m->ctx = get64(p + 64);
	m->bytes = get64(p + 72);
	if (m->n_entries && m->type != GR_MSG_APPEND)
		return ERR("consensus: %u entries on a message of type %u",
			   m->n_entries, m->type);
	n = get32(p + GR_WIRE_MSG_FIXED);
	if (n > GR_MAX_SITES || (n && m->type != GR_MSG_RESYNC))
		return ERR("consensus: configuration of %u sites on a message of type %u",
			   n, m->type);
	conf_end = GR_WIRE_MSG_FIXED + 4 + (size_t)n * CONF_ENTRY;
	want = conf_end + (m->has_progress ? GR_WIRE_MSG_PROGRESS : 0);
	if (len != want)
		return ERR("consensus: message is %zu bytes, %u configuration entries%s need %zu",
			   len, n, m->has_progress ? " and progress" : "", want);
	if (m->has_progress) {
		m->p_written = get64(p + conf_end);
		m->p_commit = get64(p + conf_end + 8);
		m->p_applied = get64(p + conf_end + 16);
	}
	m->conf.n = n;
	for (i = 0; i < n; i++) {
		const uint8_t *c = p + GR_WIRE_MSG_FIXED + 4 + i * CONF_ENTRY;

		m->conf.site[i] = get32(c);
		if (!m->conf.site[i] || c[4] > 1 || c[5] || c[6] || c[7])
			return ERR("consensus: bad configuration entry %u", i);
		m->conf.voter[i] = c[4];
	}
	return 0;
}
