// SPDX-License-Identifier: GPL-2.0
/*
 * Wire protocol encoder and decoder. The decoder trusts nothing: each length
 * is checked against the bytes actually present before it is used.
 */
#include <endian.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>
#include <openssl/evp.h>

#include "georep/record.h"
#include "georep/wire.h"
#include "wire_le.h"


void gr_wire_sha256(const void *data, size_t len, uint8_t *sha)
{
	unsigned int n = GEOREP_HASH_LEN;

	if (!EVP_Digest(data, len, sha, &n, EVP_sha256(), NULL))
		memset(sha, 0, GEOREP_HASH_LEN);
}

uint64_t gr_wire_volume_id(const char *name)
{
	uint8_t sha[GEOREP_HASH_LEN];
	uint64_t id;

	gr_wire_sha256(name, strlen(name), sha);
	id = rd64(sha);
	return id ? id : 1;
}

const char *gr_frame_type_name(unsigned int type)
{
	static const char *const names[] = {
		[GR_FT_HELLO] = "hello",
		[GR_FT_ERROR] = "error",
		[GR_FT_PING] = "ping",
		[GR_FT_PONG] = "pong",
		[GR_FT_CONSENSUS] = "consensus",
		[GR_FT_RECORDS] = "records",
		[GR_FT_ACK] = "ack",
		[GR_FT_RESYNC] = "resync",
		[GR_FT_HEAL_REQ] = "heal-req",
		[GR_FT_HEAL] = "heal",
		[GR_FT_KEY] = "key",
		[GR_FT_KEY_ACK] = "key-ack",
		[GR_FT_CKPT] = "ckpt",
		[GR_FT_CKPT_RESP] = "ckpt-resp",
		[GR_FT_CKPT_FINAL] = "ckpt-final",
		[GR_FT_GENESIS_REQ] = "genesis-req",
		[GR_FT_GENESIS] = "genesis",
		[GR_FT_PART] = "part",
		[GR_FT_MLEAF_REQ] = "mleaf-req",
		[GR_FT_MLEAF] = "mleaf",
		[GR_FT_ROOT_REQ] = "root-req",
		[GR_FT_ROOT] = "root",
		[GR_FT_NOTE_REQ] = "note-req",
		[GR_FT_NOTE] = "note",
	};

	if (type >= __GR_FT_MAX || !names[type])
		return "unknown";
	return names[type];
}

static bool is_volume_frame(unsigned int type)
{
	return type == GR_FT_CONSENSUS || type == GR_FT_RECORDS ||
	       type == GR_FT_ACK || type == GR_FT_RESYNC ||
	       type == GR_FT_HEAL_REQ || type == GR_FT_HEAL ||
	       type == GR_FT_KEY || type == GR_FT_KEY_ACK ||
	       type == GR_FT_CKPT || type == GR_FT_CKPT_RESP || type == GR_FT_CKPT_FINAL ||
	       type == GR_FT_GENESIS_REQ || type == GR_FT_GENESIS ||
	       type == GR_FT_MLEAF_REQ || type == GR_FT_MLEAF ||
	       type == GR_FT_ROOT_REQ || type == GR_FT_ROOT ||
	       type == GR_FT_NOTE_REQ || type == GR_FT_NOTE;
}

/* the first protocol version a frame type exists in */
static unsigned int type_version(unsigned int type)
{
	if (type == GR_FT_MLEAF_REQ || type == GR_FT_MLEAF)
		return GR_WIRE_VERSION_MLEAF;
	if (type == GR_FT_ROOT_REQ || type == GR_FT_ROOT)
		return GR_WIRE_VERSION_ROOT;
	if (type == GR_FT_NOTE_REQ || type == GR_FT_NOTE)
		return GR_WIRE_VERSION_NOTE;
	return type == GR_FT_PART ? GR_WIRE_VERSION_PART : GR_WIRE_VERSION_MIN;
}

static uint8_t allowed_flags(uint8_t type)
{
	return type == GR_FT_PART ? GR_WF_MORE : type == GR_FT_HELLO ? GR_WF_CONTROL : 0;
}

static uint8_t frame_flags(const struct gr_frame *f)
{
	if (f->hdr.type == GR_FT_PART)
		return f->part.more ? GR_WF_MORE : 0;
	if (f->hdr.type == GR_FT_HELLO)
		return f->hello.control ? GR_WF_CONTROL : 0;
	return 0;
}

int gr_wire_decode_hdr(const void *buf, struct gr_frame_hdr *hdr, char *err)
{
	const uint8_t *p = buf;

	hdr->magic = rd32(p);
	hdr->version = rd16(p + 4);
	hdr->type = p[6];
	hdr->flags = p[7];
	hdr->length = rd32(p + 8);
	hdr->volume = rd64(p + 16);

	if (hdr->magic != GR_WIRE_MAGIC)
		return ERR("bad frame magic 0x%08x (not a georep replication peer?)",
			   hdr->magic);
	if (hdr->version < GR_WIRE_VERSION_MIN || hdr->version > GR_WIRE_VERSION)
		return ERR("unsupported protocol version %u (this site speaks %u..%u)",
			   hdr->version, GR_WIRE_VERSION_MIN, GR_WIRE_VERSION);
	if (hdr->type == 0 || hdr->type >= __GR_FT_MAX)
		return ERR("unknown frame type %u", hdr->type);
	if (hdr->flags & ~allowed_flags(hdr->type))
		return ERR("%s frame: unknown flags 0x%02x",
			   gr_frame_type_name(hdr->type), hdr->flags);
	if (hdr->version < type_version(hdr->type))
		return ERR("%s frame: framed with version %u (%ss exist from version %u)",
			   gr_frame_type_name(hdr->type), hdr->version,
			   gr_frame_type_name(hdr->type), type_version(hdr->type));
	if (rd32(p + 12))
		return ERR("%s frame: reserved header field is not zero",
			   gr_frame_type_name(hdr->type));
	if (hdr->length > GR_WIRE_MAX_BODY)
		return ERR("%s frame: length %u exceeds the limit of %u",
			   gr_frame_type_name(hdr->type), hdr->length, GR_WIRE_MAX_BODY);
	if (is_volume_frame(hdr->type) != (hdr->volume != 0))
		return ERR("%s frame: volume id must be %s",
			   gr_frame_type_name(hdr->type),
			   is_volume_frame(hdr->type) ? "set" : "zero");
	return 0;
}

/* A NUL padded string field: NUL terminated, nothing after the NUL. */
static int get_padded(const uint8_t *p, size_t n, char *out, char *err,
		      const char *what)
{
	const uint8_t *nul = memchr(p, 0, n);
	size_t i, l;

	if (!nul)
		return ERR("hello: %s is not NUL terminated", what);
	l = nul - p;
	for (i = l; i < n; i++)
		if (p[i])
			return ERR("hello: garbage after the %s", what);
	if (l == 0)
		return ERR("hello: empty %s", what);
	for (i = 0; i < l; i++) {
		uint8_t c = p[i];
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			  (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';

		if (!ok)
			return ERR("hello: %s has an invalid character 0x%02x", what, c);
	}
	memcpy(out, p, l + 1);
	return 0;
}

static int decode_hello(const uint8_t *b, uint32_t len, struct gr_hello *h, char *err)
{
	int ret;

	if (len != GR_HELLO_SIZE)
		return ERR("hello: body is %u bytes, expected %u", len, GR_HELLO_SIZE);
	h->min_version = rd16(b);
	h->max_version = rd16(b + 2);
	h->site_id = rd32(b + 4);
	if (h->min_version == 0 || h->min_version > h->max_version)
		return ERR("hello: bad version range %u..%u", h->min_version,
			   h->max_version);
	ret = get_padded(b + 8, GEOREP_NAME_MAX, h->site, err, "site name");
	if (ret)
		return ret;
	return get_padded(b + 8 + GEOREP_NAME_MAX, GR_WIRE_CLUSTER_LEN, h->cluster,
			  err, "cluster name");
}

static int decode_error(const uint8_t *b, uint32_t len, struct gr_error *e, char *err)
{
	uint32_t n;

	if (len < 8)
		return ERR("error: body of %u bytes is shorter than 8", len);
	e->code = rd32(b);
	n = rd32(b + 4);
	if (n > GR_WIRE_MAX_REASON || n != len - 8)
		return ERR("error: reason length %u does not match the body (%u)",
			   n, len - 8);
	/* printable text only: it ends up in logs */
	if (gr_bad_byte((const char *)b + 8, n, false) >= 0)
		return ERR("error: reason has a control character");
	memcpy(e->reason, b + 8, n);
	e->reason[n] = '\0';
	return 0;
}

static bool op_has_payload(unsigned int op)
{
	return op == GEOREP_OP_WRITE;
}

/*
 * Check one record at @p with @left bytes available.
 * Return: its total size, or -EPROTO.
 */
static ssize_t check_record(const uint8_t *p, size_t left, uint64_t want_seq,
			    uint32_t i, char *err)
{
	uint32_t plen;
	uint16_t op;

	if (left < GEOREP_RECORD_HDR_SIZE)
		return ERR("records: record %u: truncated header (%zu bytes left)", i, left);
	if (rd32(p + offsetof(struct georep_record, magic)) != GEOREP_RECORD_MAGIC)
		return ERR("records: record %u: bad magic", i);
	if (rd16(p + offsetof(struct georep_record, version)) != GEOREP_RECORD_VERSION)
		return ERR("records: record %u: unsupported record version %u", i,
			   rd16(p + offsetof(struct georep_record, version)));
	op = rd16(p + offsetof(struct georep_record, op));
	if (op >= __GEOREP_OP_MAX)
		return ERR("records: record %u: unknown op %u", i, op);
	if (rd64(p + offsetof(struct georep_record, seq)) != want_seq)
		return ERR("records: record %u: seq %llu, expected %llu", i,
			   (unsigned long long)rd64(p + offsetof(struct georep_record, seq)),
			   (unsigned long long)want_seq);
	if (rd32(p + offsetof(struct georep_record, flags)) & ~__GEOREP_RF_ALL)
		return ERR("records: record %u: unknown record flags", i);
	plen = rd32(p + offsetof(struct georep_record, payload_len));
	if (plen % GEOREP_BLOCK_SIZE)
		return ERR("records: record %u: payload_len %u is not a multiple of %u",
			   i, plen, GEOREP_BLOCK_SIZE);
	if (plen > left - GEOREP_RECORD_HDR_SIZE)
		return ERR("records: record %u: payload_len %u exceeds the %zu bytes left",
			   i, plen, left - GEOREP_RECORD_HDR_SIZE);
	if (op_has_payload(op) ? plen == 0 : plen != 0)
		return ERR("records: record %u: payload_len %u invalid for op %u",
			   i, plen, op);
	if (op == GEOREP_OP_WRITE &&
	    rd32(p + offsetof(struct georep_record, len)) != plen)
		return ERR("records: record %u: write of %u bytes carries %u bytes of payload",
			   i, rd32(p + offsetof(struct georep_record, len)), plen);
	return GEOREP_RECORD_HDR_SIZE + (size_t)plen;
}

static int decode_records(const uint8_t *b, uint32_t len, struct gr_records *r, char *err)
{
	size_t pos = GR_RECORDS_HDR_SIZE;
	ssize_t n;
	uint32_t i;

	if (len < GR_RECORDS_HDR_SIZE)
		return ERR("records: body of %u bytes is shorter than %u", len,
			   GR_RECORDS_HDR_SIZE);
	r->count = rd32(b);
	r->first_seq = rd64(b + 8);
	if (rd32(b + 4))
		return ERR("records: reserved field is not zero");
	if (r->count == 0 || r->count > GR_WIRE_MAX_RECORDS)
		return ERR("records: count %u is not in 1..%u", r->count,
			   GR_WIRE_MAX_RECORDS);
	if (r->first_seq == 0 || r->first_seq > UINT64_MAX - r->count)
		return ERR("records: bad first seq %llu",
			   (unsigned long long)r->first_seq);
	for (i = 0; i < r->count; i++) {
		n = check_record(b + pos, len - pos, r->first_seq + i, i, err);
		if (n < 0)
			return n;
		pos += n;
	}
	if (pos != len)
		return ERR("records: %zu bytes after the last of %u records",
			   len - pos, r->count);
	r->data = b + GR_RECORDS_HDR_SIZE;
	r->len = len - GR_RECORDS_HDR_SIZE;
	return 0;
}

static void put_seal(uint8_t *b, const struct georep_data_seal *s)
{
	wr64(b, s->term);
	wr64(b + 8, s->seq);
	wr32(b + 16, s->epoch);
	wr32(b + 20, 0);
	memcpy(b + 24, s->mac, GEOREP_HASH_LEN);
}

static void get_seal(const uint8_t *b, struct georep_data_seal *s)
{
	s->term = rd64(b);
	s->seq = rd64(b + 8);
	s->epoch = rd32(b + 16);
	s->reserved = rd32(b + 20);
	memcpy(s->mac, b + 24, GEOREP_HASH_LEN);
}

static bool seal_empty(const uint8_t *b)
{
	uint8_t acc = 0;
	int i;

	for (i = 0; i < GR_DATA_SEAL_SIZE; i++)
		acc |= b[i];
	return !acc;
}

static int decode_resync(const uint8_t *b, uint32_t len, struct gr_resync *r, char *err)
{
	uint8_t sha[GEOREP_HASH_LEN];

	if (len < GR_RESYNC_HDR_SIZE)
		return ERR("resync: body of %u bytes is shorter than %u", len,
			   GR_RESYNC_HDR_SIZE);
	r->offset = rd64(b);
	r->length = rd32(b + 8);
	if (rd32(b + 12))
		return ERR("resync: unknown flags");
	if (r->length != len - GR_RESYNC_HDR_SIZE)
		return ERR("resync: chunk length %u does not match the body (%u)",
			   r->length, len - GR_RESYNC_HDR_SIZE);
	if (r->length == 0 || r->length % GEOREP_BLOCK_SIZE ||
	    r->offset % GEOREP_BLOCK_SIZE)
		return ERR("resync: offset %llu / length %u not aligned to %u",
			   (unsigned long long)r->offset, r->length, GEOREP_BLOCK_SIZE);
	if (r->offset > UINT64_MAX - r->length)
		return ERR("resync: offset %llu overflows", (unsigned long long)r->offset);
	memcpy(r->sha256, b + 16, GEOREP_HASH_LEN);
	get_seal(b + 48, &r->seal);
	if (!r->seal.epoch || r->seal.reserved)
		return ERR("resync: data seal with epoch 0 or reserved bits");
	r->data = b + GR_RESYNC_HDR_SIZE;
	gr_wire_sha256(r->data, r->length, sha);
	if (memcmp(sha, r->sha256, GEOREP_HASH_LEN))
		return ERR("resync: SHA-256 mismatch for chunk at offset %llu",
			   (unsigned long long)r->offset);
	return 0;
}

static int decode_heal_req(const uint8_t *b, uint32_t len, struct gr_heal_req *r,
			   char *err)
{
	if (len < GR_HEAL_REQ_HDR_SIZE)
		return ERR("heal-req: body of %u bytes is shorter than %u", len,
			   GR_HEAL_REQ_HDR_SIZE);
	r->fork_seq = rd64(b);
	r->count = rd32(b + 8);
	if (rd32(b + 12))
		return ERR("heal-req: reserved field not 0");
	if (!r->count || r->count > GR_HEAL_MAX_BLOCKS)
		return ERR("heal-req: %u blocks (1 to %u)", r->count, GR_HEAL_MAX_BLOCKS);
	if (len != GR_HEAL_REQ_HDR_SIZE + 8 * r->count)
		return ERR("heal-req: %u blocks do not match the body (%u bytes)", r->count,
			   len);
	r->raw = b + GR_HEAL_REQ_HDR_SIZE;
	return 0;
}

uint64_t gr_heal_req_block(const struct gr_heal_req *r, uint32_t i)
{
	return r->raw ? rd64(r->raw + 8 * (size_t)i) : r->list[i];
}

static int decode_heal(const uint8_t *b, uint32_t len, struct gr_heal *h, char *err)
{
	uint8_t sha[GEOREP_HASH_LEN];

	if (len < GR_HEAL_HDR_SIZE)
		return ERR("heal: body of %u bytes is shorter than %u", len, GR_HEAL_HDR_SIZE);
	h->fork_seq = rd64(b);
	h->block = rd64(b + 8);
	h->version = rd64(b + 16);
	h->seq = rd64(b + 24);
	h->status = rd32(b + 32);
	h->length = rd32(b + 36);
	memcpy(h->sha256, b + 40, GEOREP_HASH_LEN);
	get_seal(b + 72, &h->seal);
	if (h->status >= __GR_HEAL_MAX)
		return ERR("heal: unknown status %u", h->status);
	if (h->status == GR_HEAL_DATA ? !h->seal.epoch || h->seal.reserved :
					!seal_empty(b + 72))
		return ERR("heal: status %u with a bad data seal", h->status);
	if (h->length != len - GR_HEAL_HDR_SIZE ||
	    h->length != (h->status == GR_HEAL_DATA ? GEOREP_BLOCK_SIZE : 0))
		return ERR("heal: status %u with %u bytes of data (body %u)", h->status,
			   h->length, len);
	if (!h->length && memcmp(h->sha256, (uint8_t[GEOREP_HASH_LEN]){ 0 }, GEOREP_HASH_LEN))
		return ERR("heal: status %u with a SHA-256 but no data", h->status);
	if (h->block > UINT64_MAX / GEOREP_BLOCK_SIZE)
		return ERR("heal: block %llu overflows", (unsigned long long)h->block);
	if (h->status == GR_HEAL_SUPERSEDED && h->seq <= h->fork_seq)
		return ERR("heal: superseded by record %llu, not after %llu",
			   (unsigned long long)h->seq, (unsigned long long)h->fork_seq);
	if (h->status == GR_HEAL_DATA && h->version < h->fork_seq)
		return ERR("heal: version %llu before the fork point %llu",
			   (unsigned long long)h->version, (unsigned long long)h->fork_seq);
	h->data = h->length ? b + GR_HEAL_HDR_SIZE : NULL;
	if (h->data) {
		gr_wire_sha256(h->data, h->length, sha);
		if (memcmp(sha, h->sha256, GEOREP_HASH_LEN))
			return ERR("heal: SHA-256 mismatch for block %llu",
				   (unsigned long long)h->block);
	}
	return 0;
}

static int decode_part(const uint8_t *b, uint32_t len, struct gr_frame *f, char *err)
{
	f->part.data = b;
	f->part.len = len;
	f->part.more = f->hdr.flags & GR_WF_MORE;
	if (!len)
		return ERR("part: empty body");
	if (f->part.more && len < GR_PART_MIN)
		return ERR("part: %u bytes with more to follow (at least %u)", len, GR_PART_MIN);
	return 0;
}

/* the body of @f (its header decoded) at @b, @bl bytes, checked and decoded */
static int decode_body(const uint8_t *b, uint32_t bl, struct gr_frame *f, char *err)
{
	switch (f->hdr.type) {
	case GR_FT_HELLO:
		f->hello.control = f->hdr.flags & GR_WF_CONTROL;
		return decode_hello(b, bl, &f->hello, err);
	case GR_FT_ERROR:
		return decode_error(b, bl, &f->error, err);
	case GR_FT_PING:
	case GR_FT_PONG:
		if (bl != GR_PING_SIZE)
			return ERR("%s: body is %u bytes, expected %u",
				   gr_frame_type_name(f->hdr.type), bl, GR_PING_SIZE);
		f->ping.nonce = rd64(b);
		f->ping.time_ns = rd64(b + 8);
		return 0;
	case GR_FT_CONSENSUS:
		if (bl == 0)
			return ERR("consensus: empty body");
		f->consensus.data = b;
		f->consensus.len = bl;
		return 0;
	case GR_FT_RECORDS:
		return decode_records(b, bl, &f->records, err);
	case GR_FT_ACK:
		if (bl != GR_ACK_SIZE)
			return ERR("ack: body is %u bytes, expected %u", bl, GR_ACK_SIZE);
		f->ack.term = rd64(b);
		f->ack.persisted_seq = rd64(b + 8);
		return 0;
	case GR_FT_RESYNC:
		return decode_resync(b, bl, &f->resync, err);
	case GR_FT_HEAL_REQ:
		return decode_heal_req(b, bl, &f->heal_req, err);
	case GR_FT_HEAL:
		return decode_heal(b, bl, &f->heal, err);
	case GR_FT_KEY:
		return gr_wire_decode_key(b, bl, &f->key, err);
	case GR_FT_KEY_ACK:
		return gr_wire_decode_key_ack(b, bl, f->hdr.version, &f->key_ack, err);
	case GR_FT_CKPT:
	case GR_FT_CKPT_FINAL:
		return gr_wire_decode_ckpt(b, bl, &f->ckpt, err);
	case GR_FT_CKPT_RESP:
		return gr_wire_decode_ckpt_resp(b, bl, &f->ckpt_resp, err);
	case GR_FT_GENESIS_REQ:
		if (bl != GR_GENESIS_REQ_SIZE || rd32(b) || rd32(b + 4))
			return ERR("genesis-req: body of %u bytes with flags (expected %u zero bytes)",
				   bl, GR_GENESIS_REQ_SIZE);
		return 0;
	case GR_FT_GENESIS:
		return gr_wire_decode_genesis(b, bl, &f->genesis, err);
	case GR_FT_PART:
		return decode_part(b, bl, f, err);
	case GR_FT_MLEAF_REQ:
		return gr_wire_decode_mleaf_req(b, bl, &f->mleaf_req, err);
	case GR_FT_MLEAF:
		return gr_wire_decode_mleaf(b, bl, &f->mleaf, err);
	case GR_FT_ROOT_REQ:
		return gr_wire_decode_root_req(b, bl, &f->root_req, err);
	case GR_FT_ROOT:
		return gr_wire_decode_root(b, bl, &f->root, err);
	case GR_FT_NOTE_REQ:
		return gr_wire_decode_note_req(b, bl, &f->note_req, err);
	case GR_FT_NOTE:
		return gr_wire_decode_note(b, bl, &f->note, err);
	}
	return ERR("unknown frame type %u", f->hdr.type);
}

int gr_wire_decode(const void *buf, size_t len, struct gr_frame *f,
		   size_t *consumed, char *err)
{
	const uint8_t *b = (const uint8_t *)buf + GR_WIRE_HDR_SIZE;
	uint32_t bl;
	int ret;

	if (len < GR_WIRE_HDR_SIZE)
		return -EAGAIN;
	memset(f, 0, sizeof(*f));
	ret = gr_wire_decode_hdr(buf, &f->hdr, err);
	if (ret)
		return ret;
	bl = f->hdr.length;
	if (len - GR_WIRE_HDR_SIZE < bl)
		return -EAGAIN;
	*consumed = GR_WIRE_HDR_SIZE + (size_t)bl;

	return decode_body(b, bl, f, err);
}

int gr_records_next(const struct gr_records *r, size_t *pos,
		    const struct georep_record **rec, const uint8_t **payload)
{
	const uint8_t *p;
	size_t n;

	if (*pos >= r->len)
		return 0;
	p = r->data + *pos;
	n = georep_record_span(p, r->len - *pos);
	if (!n)
		return 0;	/* a checked batch holds whole records */
	*rec = (const void *)p;
	*payload = p + GEOREP_RECORD_HDR_SIZE;
	*pos += n;
	return 1;
}

static size_t body_size(const struct gr_frame *f, uint16_t version)
{
	switch (f->hdr.type) {
	case GR_FT_HELLO:
		return GR_HELLO_SIZE;
	case GR_FT_ERROR:
		return 8 + strnlen(f->error.reason, GR_WIRE_MAX_REASON);
	case GR_FT_PING:
	case GR_FT_PONG:
		return GR_PING_SIZE;
	case GR_FT_CONSENSUS:
		return f->consensus.len;
	case GR_FT_RECORDS:
		return GR_RECORDS_HDR_SIZE + (size_t)f->records.len;
	case GR_FT_ACK:
		return GR_ACK_SIZE;
	case GR_FT_RESYNC:
		return GR_RESYNC_HDR_SIZE + (size_t)f->resync.length;
	case GR_FT_HEAL_REQ:
		return GR_HEAL_REQ_HDR_SIZE + 8 * (size_t)f->heal_req.count;
	case GR_FT_HEAL:
		return GR_HEAL_HDR_SIZE + (size_t)f->heal.length;
	case GR_FT_KEY:
		return GR_KEY_SIZE;
	case GR_FT_KEY_ACK:
		return gr_wire_key_ack_size(version);
	case GR_FT_CKPT:
	case GR_FT_CKPT_FINAL:
		return GR_CKPT_HDR_SIZE + (size_t)f->ckpt.note_len;
	case GR_FT_CKPT_RESP:
		return GR_CKPT_RESP_HDR_SIZE + (size_t)f->ckpt_resp.len;
	case GR_FT_GENESIS_REQ:
		return GR_GENESIS_REQ_SIZE;
	case GR_FT_GENESIS:
		return gr_wire_genesis_size(&f->genesis);
	case GR_FT_PART:
		return f->part.len;
	case GR_FT_MLEAF_REQ:
		return GR_MLEAF_REQ_SIZE;
	case GR_FT_MLEAF:
		return gr_wire_mleaf_size(&f->mleaf);
	case GR_FT_ROOT_REQ:
		return GR_ROOT_REQ_SIZE;
	case GR_FT_ROOT:
		return GR_ROOT_SIZE;
	case GR_FT_NOTE_REQ:
		return GR_NOTE_REQ_SIZE;
	case GR_FT_NOTE:
		return gr_wire_note_size(&f->note);
	}
	return 0;
}

size_t gr_wire_frame_size_as(const struct gr_frame *f, uint16_t version)
{
	if (f->hdr.type == 0 || f->hdr.type >= __GR_FT_MAX)
		return 0;
	return GR_WIRE_HDR_SIZE + body_size(f, version ? version : GR_WIRE_VERSION_MIN);
}

size_t gr_wire_frame_size(const struct gr_frame *f)
{
	return gr_wire_frame_size_as(f, f->hdr.version);
}

static int put_padded(uint8_t *p, size_t n, const char *s)
{
	size_t l = strnlen(s, n);

	if (l == 0 || l >= n)
		return -EINVAL;
	memset(p, 0, n);
	memcpy(p, s, l);
	return 0;
}

/*
 * The body of a RESYNC, HEAL_REQ or HEAL frame at @b (@bl bytes), with its
 * hashes; checked by the decoder, as the peer will. Return: 0, or -1.
 */
static int put_repair(uint8_t *b, size_t bl, const struct gr_frame *f, char *err)
{
	size_t i;

	switch (f->hdr.type) {
	case GR_FT_RESYNC:
		wr64(b, f->resync.offset);
		wr32(b + 8, f->resync.length);
		wr32(b + 12, 0);
		put_seal(b + 48, &f->resync.seal);
		memcpy(b + GR_RESYNC_HDR_SIZE, f->resync.data, f->resync.length);
		gr_wire_sha256(b + GR_RESYNC_HDR_SIZE, f->resync.length, b + 16);
		return decode_resync(b, bl, &(struct gr_resync){ 0 }, err) ? -1 : 0;
	case GR_FT_HEAL_REQ:
		wr64(b, f->heal_req.fork_seq);
		wr32(b + 8, f->heal_req.count);
		wr32(b + 12, 0);
		for (i = 0; i < f->heal_req.count; i++)
			wr64(b + GR_HEAL_REQ_HDR_SIZE + 8 * i,
			      gr_heal_req_block(&f->heal_req, i));
		return decode_heal_req(b, bl, &(struct gr_heal_req){ 0 }, err) ? -1 : 0;
	default:
		wr64(b, f->heal.fork_seq);
		wr64(b + 8, f->heal.block);
		wr64(b + 16, f->heal.version);
		wr64(b + 24, f->heal.seq);
		wr32(b + 32, f->heal.status);
		wr32(b + 36, f->heal.length);
		memset(b + 40, 0, GEOREP_HASH_LEN + GR_DATA_SEAL_SIZE);
		if (f->heal.status == GR_HEAL_DATA)
			put_seal(b + 72, &f->heal.seal);
		if (f->heal.length) {
			memcpy(b + GR_HEAL_HDR_SIZE, f->heal.data, f->heal.length);
			gr_wire_sha256(b + GR_HEAL_HDR_SIZE, f->heal.length, b + 40);
		}
		return decode_heal(b, bl, &(struct gr_heal){ 0 }, err) ? -1 : 0;
	}
}

static void put_hdr(uint8_t *p, uint8_t type, uint8_t flags, uint32_t len,
		    uint16_t version, uint64_t volume)
{
	wr32(p, GR_WIRE_MAGIC);
	wr16(p + 4, version ? version : GR_WIRE_VERSION_MIN);
	p[6] = type;
	p[7] = flags;
	wr32(p + 8, len);
	wr32(p + 12, 0);
	wr64(p + 16, volume);
}

void gr_wire_part_hdr(uint8_t *hdr, uint32_t len, bool more, uint16_t version)
{
	put_hdr(hdr, GR_FT_PART, more ? GR_WF_MORE : 0, len, version, 0);
}

/*
 * The body of @f framed with @version at @b (@bl bytes). KEY, GENESIS and
 * the repair frames check what they wrote themselves (a key is wiped when
 * refused); -EINVAL: @f cannot be sent.
 */
static int put_body(uint8_t *b, size_t bl, const struct gr_frame *f, uint16_t version,
		    char *err)
{
	size_t i;

	switch (f->hdr.type) {
	case GR_FT_HELLO:
		wr16(b, f->hello.min_version);
		wr16(b + 2, f->hello.max_version);
		wr32(b + 4, f->hello.site_id);
		return put_padded(b + 8, GEOREP_NAME_MAX, f->hello.site) ||
		       put_padded(b + 8 + GEOREP_NAME_MAX, GR_WIRE_CLUSTER_LEN,
				  f->hello.cluster) ? -EINVAL : 0;
	case GR_FT_ERROR:
		wr32(b, f->error.code);
		wr32(b + 4, bl - 8);
		for (i = 0; i < bl - 8; i++) {
			char c = f->error.reason[i];

			b[8 + i] = gr_ctl_byte(c) ? '?' : c;
		}
		break;
	case GR_FT_PING:
	case GR_FT_PONG:
		wr64(b, f->ping.nonce);
		wr64(b + 8, f->ping.time_ns);
		break;
	case GR_FT_CONSENSUS:
		if (!f->consensus.len)
			return -EINVAL;
		memcpy(b, f->consensus.data, f->consensus.len);
		break;
	case GR_FT_RECORDS:
		wr32(b, f->records.count);
		wr32(b + 4, 0);
		wr64(b + 8, f->records.first_seq);
		memcpy(b + GR_RECORDS_HDR_SIZE, f->records.data, f->records.len);
		break;
	case GR_FT_ACK:
		wr64(b, f->ack.term);
		wr64(b + 8, f->ack.persisted_seq);
		break;
	case GR_FT_RESYNC:
	case GR_FT_HEAL_REQ:
	case GR_FT_HEAL:
		return put_repair(b, bl, f, err) ? -EINVAL : 0;
	case GR_FT_KEY:
		return gr_wire_check_key(b, f, err) ? -EINVAL : 0;
	case GR_FT_KEY_ACK:
		gr_wire_put_key_ack(b, version, &f->key_ack);
		break;
	case GR_FT_CKPT:
	case GR_FT_CKPT_FINAL:
		gr_wire_put_ckpt(b, &f->ckpt);
		break;
	case GR_FT_CKPT_RESP:
		gr_wire_put_ckpt_resp(b, &f->ckpt_resp);
		break;
	case GR_FT_GENESIS_REQ:
		memset(b, 0, GR_GENESIS_REQ_SIZE);
		break;
	case GR_FT_GENESIS:
		return gr_wire_put_genesis(b, &f->genesis, err) ? -EINVAL : 0;
	case GR_FT_PART:
		memcpy(b, f->part.data, f->part.len);
		break;
	case GR_FT_MLEAF_REQ:
		gr_wire_put_mleaf_req(b, &f->mleaf_req);
		break;
	case GR_FT_MLEAF:
		gr_wire_put_mleaf(b, &f->mleaf);
		break;
	case GR_FT_ROOT_REQ:
		gr_wire_put_root_req(b, &f->root_req);
		break;
	case GR_FT_ROOT:
		gr_wire_put_root(b, &f->root);
		break;
	case GR_FT_NOTE_REQ:
		gr_wire_put_note_req(b, &f->note_req);
		break;
	case GR_FT_NOTE:
		gr_wire_put_note(b, &f->note);
		break;
	}
	return 0;
}

/* frames checked by decoding what was written: never send what the peer would refuse */
static bool check_by_decoding(unsigned int type)
{
	switch (type) {
	case GR_FT_RECORDS:
	case GR_FT_KEY_ACK:
	case GR_FT_CKPT:
	case GR_FT_CKPT_FINAL:
	case GR_FT_CKPT_RESP:
	case GR_FT_PART:
	case GR_FT_MLEAF_REQ:
	case GR_FT_MLEAF:
	case GR_FT_ROOT_REQ:
	case GR_FT_ROOT:
	case GR_FT_NOTE_REQ:
	case GR_FT_NOTE:
		return true;
	default:
		return false;
	}
}

ssize_t gr_wire_encode_as(void *buf, size_t cap, const struct gr_frame *f, uint16_t version)
{
	size_t total = gr_wire_frame_size_as(f, version), bl;
	uint8_t *p = buf, *b = p + GR_WIRE_HDR_SIZE;
	char err[GR_WIRE_ERRLEN];

	if (!total)
		return -EINVAL;
	if (!version)
		version = GR_WIRE_VERSION_MIN;
	bl = total - GR_WIRE_HDR_SIZE;
	if (bl > GR_WIRE_MAX_BODY || version > GR_WIRE_VERSION ||
	    version < type_version(f->hdr.type))
		return -EINVAL;
	if (is_volume_frame(f->hdr.type) != (f->hdr.volume != 0))
		return -EINVAL;
	if (total > cap)
		return -ENOSPC;

	put_hdr(p, f->hdr.type, frame_flags(f), bl, version, f->hdr.volume);

	if (put_body(b, bl, f, version, err))
		return -EINVAL;
	if (check_by_decoding(f->hdr.type)) {
		struct gr_frame g;

		memset(&g, 0, sizeof(g));
		if (gr_wire_decode_hdr(p, &g.hdr, err) || decode_body(b, bl, &g, err))
			return -EINVAL;
	}
	return total;
}

ssize_t gr_wire_encode(void *buf, size_t cap, const struct gr_frame *f)
{
	return gr_wire_encode_as(buf, cap, f, f->hdr.version);
}

ssize_t gr_cmsg_encode(void *buf, size_t cap, const struct gr_cmsg *m)
{
	uint8_t *p = buf;
	size_t total = GR_CMSG_SIZE + (size_t)m->entries_len;

	if (total > GR_WIRE_MAX_BODY)
		return -EINVAL;
	if (total > cap)
		return -ENOSPC;
	wr32(p, m->type);
	wr32(p + 4, m->flags);
	wr64(p + 8, m->term);
	wr32(p + 16, m->from);
	wr32(p + 20, m->to);
	wr64(p + 24, m->index);
	wr64(p + 32, m->log_term);
	wr64(p + 40, m->commit);
	wr32(p + 48, m->entries);
	wr32(p + 52, m->entries_len);
	wr64(p + 56, m->hint);
	if (m->entries_len)
		memcpy(p + GR_CMSG_SIZE, m->entries_data, m->entries_len);
	return total;
}

int gr_cmsg_decode(const void *buf, size_t len, struct gr_cmsg *m, char *err)
{
	const uint8_t *p = buf;

	if (len < GR_CMSG_SIZE)
		return ERR("consensus: message of %zu bytes is shorter than %u",
			   len, GR_CMSG_SIZE);
	m->type = rd32(p);
	m->flags = rd32(p + 4);
	m->term = rd64(p + 8);
	m->from = rd32(p + 16);
	m->to = rd32(p + 20);
	m->index = rd64(p + 24);
	m->log_term = rd64(p + 32);
	m->commit = rd64(p + 40);
	m->entries = rd32(p + 48);
	m->entries_len = rd32(p + 52);
	m->hint = rd64(p + 56);
	if (m->entries_len != len - GR_CMSG_SIZE)
		return ERR("consensus: entries length %u does not match the %zu bytes left",
			   m->entries_len, len - GR_CMSG_SIZE);
	m->entries_data = p + GR_CMSG_SIZE;
	return 0;
}
