// SPDX-License-Identifier: GPL-2.0
/* Unit tests of the wire protocol codec (user/lib/wire.c). */
#include <endian.h>
#include <errno.h>
#include <string.h>
#include <sys/types.h>

#include "georep/consensus.h"
#include "georep/leaf.h"
#include "georep/wire.h"
#include "ktap.h"

static uint8_t buf[1 << 20];
static char err[GR_WIRE_ERRLEN];

/* Append a record to @p; returns its size. */
static size_t make_record(uint8_t *p, uint64_t seq, uint16_t op, uint32_t plen)
{
	struct georep_record r;

	memset(&r, 0, sizeof(r));
	r.magic = htole32(GEOREP_RECORD_MAGIC);
	r.version = htole16(GEOREP_RECORD_VERSION);
	r.op = htole16(op);
	r.seq = htole64(seq);
	r.term = htole64(3);
	r.len = htole32(op == GEOREP_OP_WRITE ? plen : 8192);
	r.payload_len = htole32(plen);
	memcpy(p, &r, sizeof(r));
	memset(p + sizeof(r), (int)seq, plen);
	return sizeof(r) + plen;
}

static ssize_t roundtrip(const struct gr_frame *in, struct gr_frame *out)
{
	size_t used = 0;
	ssize_t n = gr_wire_encode(buf, sizeof(buf), in);

	if (n < 0)
		return n;
	if (gr_wire_decode(buf, n, out, &used, err)) {
		printf("    # decode: %s\n", err);
		return -1;
	}
	return used == (size_t)n ? n : -1;
}

static void test_hello(void)
{
	struct gr_frame f = { .hdr.type = GR_FT_HELLO }, g;
	ssize_t n;

	f.hello.min_version = 1;
	f.hello.max_version = 3;
	f.hello.site_id = 7;
	strcpy(f.hello.site, "siteA");
	strcpy(f.hello.cluster, "prod");
	n = roundtrip(&f, &g);
	CHECK(n == GR_WIRE_HDR_SIZE + GR_HELLO_SIZE);
	CHECK(g.hdr.type == GR_FT_HELLO && g.hello.site_id == 7);
	CHECK(g.hello.min_version == 1 && g.hello.max_version == 3);
	CHECK(!strcmp(g.hello.site, "siteA") && !strcmp(g.hello.cluster, "prod"));
	CHECK(buf[7] == 0 && !g.hello.control);

	/* a control connection's hello: GR_WF_CONTROL, for HELLO frames only */
	f.hello.control = true;
	CHECK(roundtrip(&f, &g) > 0 && buf[7] == GR_WF_CONTROL && g.hello.control);
	f.hello.control = false;
	n = gr_wire_encode(buf, sizeof(buf), &(struct gr_frame){ .hdr.type = GR_FT_PING });
	buf[7] = GR_WF_CONTROL;
	CHECK(gr_wire_decode(buf, n, &g, &(size_t){ 0 }, err) == -EPROTO &&
	      strstr(err, "ping frame: unknown flags 0x02"));
	n = gr_wire_encode(buf, sizeof(buf), &f);
	buf[7] = GR_WF_CONTROL | GR_WF_MORE;
	CHECK(gr_wire_decode(buf, n, &g, &(size_t){ 0 }, err) == -EPROTO &&
	      strstr(err, "hello frame: unknown flags 0x03"));
	n = roundtrip(&f, &g);

	/* bad version range, bad name characters, garbage after the NUL */
	buf[GR_WIRE_HDR_SIZE] = 4;
	CHECK(gr_wire_decode(buf, n, &g, &(size_t){ 0 }, err) == -EPROTO &&
	      strstr(err, "bad version range 4..3"));
	n = gr_wire_encode(buf, sizeof(buf), &f);
	buf[GR_WIRE_HDR_SIZE + 8] = '/';
	CHECK(gr_wire_decode(buf, n, &g, &(size_t){ 0 }, err) == -EPROTO &&
	      strstr(err, "site name has an invalid character"));
	n = gr_wire_encode(buf, sizeof(buf), &f);
	buf[GR_WIRE_HDR_SIZE + 8 + 20] = 'x';
	CHECK(gr_wire_decode(buf, n, &g, &(size_t){ 0 }, err) == -EPROTO &&
	      strstr(err, "garbage after the site name"));
	n = gr_wire_encode(buf, sizeof(buf), &f);
	memset(buf + GR_WIRE_HDR_SIZE + 8 + GEOREP_NAME_MAX, 'c', GR_WIRE_CLUSTER_LEN);
	CHECK(gr_wire_decode(buf, n, &g, &(size_t){ 0 }, err) == -EPROTO &&
	      strstr(err, "cluster name is not NUL terminated"));
	/* an empty name cannot even be encoded */
	f.hello.site[0] = '\0';
	CHECK(gr_wire_encode(buf, sizeof(buf), &f) == -EINVAL);
}

static void test_header_checks(void)
{
	struct gr_frame f = { .hdr.type = GR_FT_PING }, g;
	ssize_t n;

	f.ping.nonce = 42;
	f.ping.time_ns = 123456789;
	n = roundtrip(&f, &g);
	CHECK(n == GR_WIRE_HDR_SIZE + GR_PING_SIZE);
	CHECK(g.ping.nonce == 42 && g.ping.time_ns == 123456789);

	/* every byte prefix of a valid frame is "need more", never an error */
	n = gr_wire_encode(buf, sizeof(buf), &f);
	for (ssize_t i = 0; i < n; i++)
		CHECK(gr_wire_decode(buf, i, &g, &(size_t){ 0 }, err) == -EAGAIN);

	buf[0] ^= 0xff;
	CHECK(gr_wire_decode(buf, n, &g, &(size_t){ 0 }, err) == -EPROTO &&
	      strstr(err, "bad frame magic"));
	buf[0] ^= 0xff;
	buf[4] = 0;	/* version 0: an old speaker */
	CHECK(gr_wire_decode(buf, n, &g, &(size_t){ 0 }, err) == -EPROTO &&
	      strstr(err, "unsupported protocol version 0"));
	buf[4] = 9;
	CHECK(gr_wire_decode(buf, n, &g, &(size_t){ 0 }, err) == -EPROTO &&
	      strstr(err, "unsupported protocol version 9"));
	buf[4] = 1;
	buf[6] = 99;
	CHECK(gr_wire_decode(buf, n, &g, &(size_t){ 0 }, err) == -EPROTO &&
	      strstr(err, "unknown frame type 99"));
	buf[6] = GR_FT_PING;
	buf[7] = 1;
	CHECK(gr_wire_decode(buf, n, &g, &(size_t){ 0 }, err) == -EPROTO &&
	      strstr(err, "unknown flags"));
	buf[7] = 0;
	buf[12] = 1;
	CHECK(gr_wire_decode(buf, n, &g, &(size_t){ 0 }, err) == -EPROTO &&
	      strstr(err, "reserved header field"));
	buf[12] = 0;
	/* a huge length is refused from the header alone */
	buf[11] = 0x7f;
	CHECK(gr_wire_decode(buf, GR_WIRE_HDR_SIZE, &g, &(size_t){ 0 }, err) == -EPROTO &&
	      strstr(err, "exceeds the limit"));
	buf[11] = 0;
	buf[8] = 15;	/* ping body of 15 bytes */
	CHECK(gr_wire_decode(buf, n, &g, &(size_t){ 0 }, err) == -EPROTO &&
	      strstr(err, "ping: body is 15 bytes, expected 16"));
	buf[8] = 16;
	buf[16] = 1;	/* site frames carry no volume */
	CHECK(gr_wire_decode(buf, n, &g, &(size_t){ 0 }, err) == -EPROTO &&
	      strstr(err, "volume id must be zero"));

	f.hdr.type = GR_FT_ACK;	/* and volume frames need one */
	CHECK(gr_wire_encode(buf, sizeof(buf), &f) == -EINVAL);
	CHECK(gr_wire_encode(buf, 10, &(struct gr_frame){ .hdr.type = GR_FT_PONG }) == -ENOSPC);
	CHECK(gr_wire_encode(buf, sizeof(buf), &(struct gr_frame){ .hdr.type = 77 }) == -EINVAL);
}

/* PART (version 2): flags, framing version, piece sizes; version carried through */
static void test_part(void)
{
	struct gr_frame f = { .hdr.type = GR_FT_PART, .hdr.version = 2 }, g;
	static uint8_t piece[8192];
	ssize_t n;

	memset(piece, 0x5a, sizeof(piece));
	f.part.data = piece;
	f.part.len = 4096;
	f.part.more = true;
	n = roundtrip(&f, &g);
	CHECK(n == GR_WIRE_HDR_SIZE + 4096 && buf[4] == 2 && buf[7] == GR_WF_MORE);
	CHECK(g.hdr.version == 2 && g.part.more && g.part.len == 4096 &&
	      !memcmp(g.part.data, piece, 4096));
	f.part.len = 1;
	f.part.more = false;	/* the last piece may be short */
	CHECK(roundtrip(&f, &g) == GR_WIRE_HDR_SIZE + 1 && !g.part.more && g.part.len == 1);

	/* what the decoder refuses is not encoded */
	f.part.more = true;
	CHECK(gr_wire_encode(buf, sizeof(buf), &f) == -EINVAL);
	f.part.len = 0;
	f.part.more = false;
	CHECK(gr_wire_encode(buf, sizeof(buf), &f) == -EINVAL);
	f.part.len = 4096;
	f.hdr.version = 1;
	CHECK(gr_wire_encode(buf, sizeof(buf), &f) == -EINVAL);
	f.hdr.version = GR_WIRE_VERSION + 1;
	CHECK(gr_wire_encode(buf, sizeof(buf), &f) == -EINVAL);

	f.hdr.version = 2;
	n = gr_wire_encode(buf, sizeof(buf), &f);
	buf[4] = 1;
	CHECK(gr_wire_decode(buf, n, &g, &(size_t){ 0 }, err) == -EPROTO &&
	      strstr(err, "part frame: framed with version 1 (parts exist from version 2)"));
	buf[4] = 2;
	buf[7] = 2;
	CHECK(gr_wire_decode(buf, n, &g, &(size_t){ 0 }, err) == -EPROTO &&
	      strstr(err, "part frame: unknown flags 0x02"));
	buf[7] = GR_WF_MORE;
	buf[8] = 100;	/* a body of 3940 bytes, with more to follow */
	buf[9] = 15;
	CHECK(gr_wire_decode(buf, n, &g, &(size_t){ 0 }, err) == -EPROTO &&
	      strstr(err, "part: 3940 bytes with more to follow (at least 4096)"));
	/* GR_WF_MORE is for PART frames only */
	n = gr_wire_encode(buf, sizeof(buf), &(struct gr_frame){ .hdr.type = GR_FT_PONG });
	buf[7] = GR_WF_MORE;
	CHECK(gr_wire_decode(buf, n, &g, &(size_t){ 0 }, err) == -EPROTO &&
	      strstr(err, "pong frame: unknown flags 0x01"));
	/* the header helper for senders that send the body from where it is */
	gr_wire_part_hdr(buf, 4096, true, 2);
	memcpy(buf + GR_WIRE_HDR_SIZE, piece, 4096);
	CHECK(gr_wire_decode(buf, GR_WIRE_HDR_SIZE + 4096, &g, &(size_t){ 0 }, err) == 0 &&
	      g.hdr.type == GR_FT_PART && g.part.more && g.part.len == 4096);
	/* any frame may be framed with version 2; the version is kept */
	f = (struct gr_frame){ .hdr.type = GR_FT_PING, .hdr.version = 2 };
	CHECK(roundtrip(&f, &g) > 0 && buf[4] == 2 && g.hdr.version == 2);
}

/* MLEAF_REQ and MLEAF (version 3): counts, seqs, leaves checked, framing version */
static void test_mleaf(void)
{
	struct gr_frame f = { .hdr.type = GR_FT_MLEAF_REQ, .hdr.version = 3, .hdr.volume = 7 };
	static uint8_t leaves[3 * GEOREP_LEAF_LEN];
	struct georep_rec rec = { .op = GEOREP_OP_WRITE, .term = 2, .version = 1 };
	struct gr_frame g;
	ssize_t n;
	int i;

	f.mleaf_req.first_seq = 5;
	f.mleaf_req.count = 3;
	CHECK(roundtrip(&f, &g) == GR_WIRE_HDR_SIZE + GR_MLEAF_REQ_SIZE &&
	      g.mleaf_req.first_seq == 5 && g.mleaf_req.count == 3);
	f.mleaf_req.count = GR_MLEAF_MAX + 1;
	CHECK(gr_wire_encode(buf, sizeof(buf), &f) == -EINVAL);
	f.mleaf_req.count = 1;
	f.mleaf_req.first_seq = 0;
	CHECK(gr_wire_encode(buf, sizeof(buf), &f) == -EINVAL);
	/* not on a link of version 2 or 1 */
	f.mleaf_req.first_seq = 5;
	f.hdr.version = 2;
	CHECK(gr_wire_encode(buf, sizeof(buf), &f) == -EINVAL);
	f.hdr.version = 3;
	n = gr_wire_encode(buf, sizeof(buf), &f);
	buf[4] = 2;
	CHECK(gr_wire_decode(buf, n, &g, &(size_t){ 0 }, err) == -EPROTO &&
	      strstr(err, "mleaf-req frame: framed with version 2 (mleaf-reqs exist from version 3)"));

	for (i = 0; i < 3; i++) {
		rec.seq = 5 + i;
		georep_leaf_encode(&rec, leaves + i * GEOREP_LEAF_LEN);
	}
	f = (struct gr_frame){ .hdr.type = GR_FT_MLEAF, .hdr.version = 3, .hdr.volume = 7 };
	f.mleaf.first_seq = 5;
	f.mleaf.count = 3;
	f.mleaf.leaves = leaves;
	n = roundtrip(&f, &g);
	CHECK(n == GR_WIRE_HDR_SIZE + GR_MLEAF_HDR_SIZE + 3 * GEOREP_LEAF_LEN);
	CHECK(g.mleaf.status == GR_MLEAF_OK && g.mleaf.count == 3 &&
	      !memcmp(g.mleaf.leaves, leaves, sizeof(leaves)));
	/* a leaf out of place, a leaf that is none, a short body */
	memcpy(buf + GR_WIRE_HDR_SIZE + GR_MLEAF_HDR_SIZE + GEOREP_LEAF_LEN + 8,
	       "\x09\0\0\0\0\0\0\0", 8);
	CHECK(gr_wire_decode(buf, n, &g, &(size_t){ 0 }, err) == -EPROTO &&
	      strstr(err, "mleaf: leaf 1 is that of record 9, not 6"));
	n = gr_wire_encode(buf, sizeof(buf), &f);
	buf[GR_WIRE_HDR_SIZE + GR_MLEAF_HDR_SIZE + 2 * GEOREP_LEAF_LEN] = 'X';
	CHECK(gr_wire_decode(buf, n, &g, &(size_t){ 0 }, err) == -EPROTO &&
	      strstr(err, "mleaf: leaf 2: the leaf does not start with \"GRLF\""));
	f.mleaf.count = 2;
	n = gr_wire_encode(buf, sizeof(buf), &f);
	buf[GR_WIRE_HDR_SIZE + 8] = 3;	/* says 3, holds 2 */
	CHECK(gr_wire_decode(buf, n, &g, &(size_t){ 0 }, err) == -EPROTO &&
	      strstr(err, "mleaf: body is 304 bytes, 3 leaves make 448"));
	/* unavailable: no leaves */
	f.mleaf.status = GR_MLEAF_UNAVAILABLE;
	f.mleaf.count = 0;
	CHECK(roundtrip(&f, &g) > 0 && g.mleaf.status == GR_MLEAF_UNAVAILABLE &&
	      !g.mleaf.count);
	f.mleaf.count = 1;
	CHECK(gr_wire_encode(buf, sizeof(buf), &f) == -EINVAL);
	f.mleaf.status = 2;
	f.mleaf.count = 0;
	CHECK(gr_wire_encode(buf, sizeof(buf), &f) == -EINVAL);
}

static void test_two_frames_in_a_buffer(void)
{
	struct gr_frame f = { .hdr.type = GR_FT_ACK, .hdr.volume = 5 }, g;
	size_t used = 0, off;
	ssize_t n;

	f.ack.term = 9;
	f.ack.persisted_seq = 100;
	n = gr_wire_encode(buf, sizeof(buf), &f);
	f.ack.persisted_seq = 101;
	n += gr_wire_encode(buf + n, sizeof(buf) - n, &f);
	CHECK(gr_wire_decode(buf, n, &g, &used, err) == 0 && g.ack.persisted_seq == 100);
	off = used;
	CHECK(gr_wire_decode(buf + off, n - off, &g, &used, err) == 0 &&
	      g.ack.persisted_seq == 101 && g.ack.term == 9 && g.hdr.volume == 5);
	CHECK(off + used == (size_t)n);
}

static void test_error_frame(void)
{
	struct gr_frame f = { .hdr.type = GR_FT_ERROR }, g;
	ssize_t n;

	f.error.code = GR_WERR_UNKNOWN_SITE;
	strcpy(f.error.reason, "unknown site \"x\"\n");
	n = roundtrip(&f, &g);
	CHECK(n > 0 && g.error.code == GR_WERR_UNKNOWN_SITE);
	/* control characters are replaced on the way out */
	CHECK(!strcmp(g.error.reason, "unknown site \"x\"?"));
	n = gr_wire_encode(buf, sizeof(buf), &f);
	buf[GR_WIRE_HDR_SIZE + 4] = 200;
	CHECK(gr_wire_decode(buf, n, &g, &(size_t){ 0 }, err) == -EPROTO &&
	      strstr(err, "reason length 200 does not match"));
	n = gr_wire_encode(buf, sizeof(buf), &f);
	buf[GR_WIRE_HDR_SIZE + 9] = 1;
	CHECK(gr_wire_decode(buf, n, &g, &(size_t){ 0 }, err) == -EPROTO &&
	      strstr(err, "control character"));
}

static void test_records(void)
{
	static uint8_t recs[3 * (256 + 8192)];
	struct gr_frame f = { .hdr.type = GR_FT_RECORDS, .hdr.volume = 77 }, g;
	const struct georep_record *r;
	const uint8_t *payload;
	size_t len = 0, pos = 0, body;
	uint64_t seq = 10;
	ssize_t n;

	len += make_record(recs + len, 10, GEOREP_OP_WRITE, 8192);
	len += make_record(recs + len, 11, GEOREP_OP_NOOP, 0);
	len += make_record(recs + len, 12, GEOREP_OP_DISCARD, 0);
	f.records.count = 3;
	f.records.first_seq = 10;
	f.records.data = recs;
	f.records.len = len;
	n = roundtrip(&f, &g);
	CHECK(n == (ssize_t)(GR_WIRE_HDR_SIZE + GR_RECORDS_HDR_SIZE + len));
	CHECK(g.records.count == 3 && g.records.first_seq == 10 && g.hdr.volume == 77);
	while (gr_records_next(&g.records, &pos, &r, &payload)) {
		CHECK(le64toh(r->seq) == seq);
		if (seq == 10)
			CHECK(payload[0] == 10 && payload[8191] == 10);
		seq++;
	}
	CHECK(seq == 13);

	/* the encoder refuses a batch the decoder would refuse */
	f.records.first_seq = 11;
	CHECK(gr_wire_encode(buf, sizeof(buf), &f) == -EINVAL);
	f.records.first_seq = 10;
	f.records.count = 4;
	CHECK(gr_wire_encode(buf, sizeof(buf), &f) == -EINVAL);
	f.records.count = 3;

	n = gr_wire_encode(buf, sizeof(buf), &f);
	body = GR_WIRE_HDR_SIZE + GR_RECORDS_HDR_SIZE;
#define CORRUPT(off, val, msg) do {					\
		uint8_t save = buf[(off)];				\
		buf[(off)] = (val);					\
		CHECK_MSG(gr_wire_decode(buf, n, &g, &(size_t){ 0 }, err) == -EPROTO && \
			  strstr(err, msg), "want \"%s\", got \"%s\"", msg, err); \
		buf[(off)] = save;					\
	} while (0)
	CORRUPT(body + 0, 0, "record 0: bad magic");
	CORRUPT(body + 4, 2, "record 0: unsupported record version 2");
	CORRUPT(body + 6, 9, "record 0: unknown op 9");
	CORRUPT(body + 8, 11, "record 0: seq 11, expected 10");
	CORRUPT(body + offsetof(struct georep_record, payload_len), 1,
		"payload_len 8193 is not a multiple");
	CORRUPT(body + offsetof(struct georep_record, payload_len) + 1, 0x30,
		"payload_len 12288 exceeds");
	CORRUPT(body + offsetof(struct georep_record, len) + 1, 0x30,
		"write of 12288 bytes carries 8192");
	CORRUPT(body + offsetof(struct georep_record, flags), 0x80, "unknown record flags");
	CORRUPT(body + 256 + 8192 + 6, GEOREP_OP_WRITE, "record 1: payload_len 0 invalid for op 1");
	CORRUPT(GR_WIRE_HDR_SIZE, 0, "count 0 is not in");
	CORRUPT(GR_WIRE_HDR_SIZE + 4, 1, "reserved field");
	CORRUPT(GR_WIRE_HDR_SIZE + 8, 0, "bad first seq 0");
	/* trailing bytes after the last record */
	buf[8] += 1;
	CHECK(gr_wire_decode(buf, n + 1, &g, &(size_t){ 0 }, err) == -EPROTO &&
	      strstr(err, "1 bytes after the last of 3 records"));
	buf[8] -= 1;
	/* a frame shorter than its records */
	buf[8] -= 1;
	CHECK(gr_wire_decode(buf, n, &g, &(size_t){ 0 }, err) == -EPROTO &&
	      strstr(err, "record 2: truncated header"));
}

static void test_resync(void)
{
	static uint8_t data[8192];
	struct gr_frame f = { .hdr.type = GR_FT_RESYNC, .hdr.volume = 3 }, g;
	uint8_t sha[GEOREP_HASH_LEN];
	ssize_t n;

	memset(data, 0xab, sizeof(data));
	f.resync.offset = 1 << 20;
	f.resync.length = sizeof(data);
	f.resync.data = data;
	/* without a data seal (epoch 0) nothing is sent */
	CHECK(gr_wire_encode(buf, sizeof(buf), &f) == -EINVAL);
	f.resync.seal.term = 7;
	f.resync.seal.seq = 99;
	f.resync.seal.epoch = 2;
	memset(f.resync.seal.mac, 0xc3, sizeof(f.resync.seal.mac));
	n = roundtrip(&f, &g);
	CHECK(n == (ssize_t)(GR_WIRE_HDR_SIZE + GR_RESYNC_HDR_SIZE + sizeof(data)));
	gr_wire_sha256(data, sizeof(data), sha);
	CHECK(!memcmp(g.resync.sha256, sha, sizeof(sha)));
	CHECK(g.resync.offset == 1 << 20 && g.resync.length == 8192 &&
	      g.resync.data[100] == 0xab);
	CHECK(g.resync.seal.term == 7 && g.resync.seal.seq == 99 &&
	      g.resync.seal.epoch == 2 && g.resync.seal.mac[31] == 0xc3);
	buf[GR_WIRE_HDR_SIZE + 48 + 20] = 1;	/* seal's reserved field */
	CHECK(gr_wire_decode(buf, n, &g, &(size_t){ 0 }, err) == -EPROTO &&
	      strstr(err, "data seal"));
	buf[GR_WIRE_HDR_SIZE + 48 + 20] = 0;

	buf[n - 1] ^= 1;
	CHECK(gr_wire_decode(buf, n, &g, &(size_t){ 0 }, err) == -EPROTO &&
	      strstr(err, "SHA-256 mismatch"));
	buf[n - 1] ^= 1;
	buf[GR_WIRE_HDR_SIZE + 1] = 1;	/* offset 256 + 1 MiB: unaligned */
	CHECK(gr_wire_decode(buf, n, &g, &(size_t){ 0 }, err) == -EPROTO &&
	      strstr(err, "not aligned"));
	buf[GR_WIRE_HDR_SIZE + 1] = 0;
	buf[GR_WIRE_HDR_SIZE + 8] = 1;
	CHECK(gr_wire_decode(buf, n, &g, &(size_t){ 0 }, err) == -EPROTO &&
	      strstr(err, "does not match the body"));
}

static void test_heal_req(void)
{
	static const uint64_t blocks[] = { 7, 1ULL << 40, 0 };
	struct gr_frame f = { .hdr.type = GR_FT_HEAL_REQ, .hdr.volume = 3 }, g;
	ssize_t n;

	f.heal_req.fork_seq = 41;
	f.heal_req.count = 3;
	f.heal_req.list = blocks;
	n = roundtrip(&f, &g);
	CHECK(n == GR_WIRE_HDR_SIZE + GR_HEAL_REQ_HDR_SIZE + 3 * 8);
	CHECK(g.heal_req.fork_seq == 41 && g.heal_req.count == 3);
	CHECK(gr_heal_req_block(&g.heal_req, 0) == 7 &&
	      gr_heal_req_block(&g.heal_req, 1) == 1ULL << 40 &&
	      gr_heal_req_block(&g.heal_req, 2) == 0);
	/* a count that does not match the body */
	buf[GR_WIRE_HDR_SIZE + 8] = 2;
	CHECK(gr_wire_decode(buf, n, &g, &(size_t){ 0 }, err) == -EPROTO &&
	      strstr(err, "do not match the body"));
	f.heal_req.count = 0;
	CHECK(gr_wire_encode(buf, sizeof(buf), &f) == -EINVAL);
	f.heal_req.count = GR_HEAL_MAX_BLOCKS + 1;
	CHECK(gr_wire_encode(buf, sizeof(buf), &f) == -EINVAL);
	CHECK(!strcmp(gr_frame_type_name(GR_FT_HEAL_REQ), "heal-req"));
}

static void test_heal(void)
{
	static uint8_t data[GEOREP_BLOCK_SIZE];
	struct gr_frame f = { .hdr.type = GR_FT_HEAL, .hdr.volume = 3 }, g;
	ssize_t n;

	memset(data, 0x5a, sizeof(data));
	f.heal.fork_seq = 41;
	f.heal.block = 9;
	f.heal.version = 50;
	f.heal.status = GR_HEAL_DATA;
	f.heal.length = sizeof(data);
	f.heal.data = data;
	/* data needs a data seal */
	CHECK(gr_wire_encode(buf, sizeof(buf), &f) == -EINVAL);
	f.heal.seal.term = 3;
	f.heal.seal.seq = 41;
	f.heal.seal.epoch = 1;
	memset(f.heal.seal.mac, 0x77, sizeof(f.heal.seal.mac));
	n = roundtrip(&f, &g);
	CHECK(n == (ssize_t)(GR_WIRE_HDR_SIZE + GR_HEAL_HDR_SIZE + sizeof(data)));
	CHECK(g.heal.status == GR_HEAL_DATA && g.heal.block == 9 && g.heal.version == 50 &&
	      g.heal.length == sizeof(data) && g.heal.data[4095] == 0x5a);
	CHECK(g.heal.seal.term == 3 && g.heal.seal.seq == 41 && g.heal.seal.epoch == 1 &&
	      g.heal.seal.mac[0] == 0x77);
	buf[n - 1] ^= 1;
	CHECK(gr_wire_decode(buf, n, &g, &(size_t){ 0 }, err) == -EPROTO &&
	      strstr(err, "SHA-256 mismatch"));

	/* superseded: no data, a record after the fork point */
	f.heal.status = GR_HEAL_SUPERSEDED;
	f.heal.length = 0;
	f.heal.data = NULL;
	f.heal.seq = 45;
	n = roundtrip(&f, &g);
	CHECK(n == GR_WIRE_HDR_SIZE + GR_HEAL_HDR_SIZE && g.heal.seq == 45 && !g.heal.data);
	CHECK(!g.heal.seal.epoch);	/* the encoder leaves it out */
	buf[GR_WIRE_HDR_SIZE + 72 + 16] = 1;	/* a seal without data */
	CHECK(gr_wire_decode(buf, n, &g, &(size_t){ 0 }, err) == -EPROTO &&
	      strstr(err, "bad data seal"));
	/* a hash without data: the encoder writes zeros (found by fuzz_wire) */
	buf[GR_WIRE_HDR_SIZE + 72 + 16] = 0;
	buf[GR_WIRE_HDR_SIZE + 48] = 0x61;
	CHECK(gr_wire_decode(buf, n, &g, &(size_t){ 0 }, err) == -EPROTO &&
	      strstr(err, "a SHA-256 but no data"));
	f.heal.seq = 41;
	CHECK(gr_wire_encode(buf, sizeof(buf), &f) == -EINVAL);
	/* data on a status without any, an unknown status, a stale version */
	f.heal.seq = 45;
	f.heal.length = sizeof(data);
	f.heal.data = data;
	CHECK(gr_wire_encode(buf, sizeof(buf), &f) == -EINVAL);
	f.heal.status = __GR_HEAL_MAX;
	CHECK(gr_wire_encode(buf, sizeof(buf), &f) == -EINVAL);
	f.heal.status = GR_HEAL_DATA;
	f.heal.version = 40;
	CHECK(gr_wire_encode(buf, sizeof(buf), &f) == -EINVAL);
	CHECK(!strcmp(gr_frame_type_name(GR_FT_HEAL), "heal"));
}

static void test_consensus(void)
{
	static const uint8_t entries[] = "two entries";
	struct gr_frame f = { .hdr.type = GR_FT_CONSENSUS, .hdr.volume = 1 }, g;
	struct gr_cmsg m = {
		.type = 3, .flags = 1, .term = 5, .from = 1, .to = 2, .index = 99,
		.log_term = 4, .commit = 98, .entries = 2,
		.entries_len = sizeof(entries), .hint = 7,
		.entries_data = entries,
	}, d;
	uint8_t body[256];
	ssize_t len;

	len = gr_cmsg_encode(body, sizeof(body), &m);
	CHECK(len == GR_CMSG_SIZE + (ssize_t)sizeof(entries));
	f.consensus.data = body;
	f.consensus.len = len;
	CHECK(roundtrip(&f, &g) > 0 && g.consensus.len == len);
	CHECK(gr_cmsg_decode(g.consensus.data, g.consensus.len, &d, err) == 0);
	CHECK(d.type == 3 && d.flags == 1 && d.term == 5 && d.from == 1 && d.to == 2);
	CHECK(d.index == 99 && d.log_term == 4 && d.commit == 98 && d.hint == 7);
	CHECK(d.entries == 2 && d.entries_len == sizeof(entries) &&
	      !memcmp(d.entries_data, entries, sizeof(entries)));
	CHECK(gr_cmsg_decode(body, len - 1, &d, err) == -EPROTO &&
	      strstr(err, "does not match"));
	CHECK(gr_cmsg_decode(body, 10, &d, err) == -EPROTO && strstr(err, "shorter"));
	CHECK(gr_cmsg_encode(body, 10, &m) == -ENOSPC);
	f.consensus.len = 0;
	CHECK(gr_wire_encode(buf, sizeof(buf), &f) == -EINVAL);
}

static void test_consensus_msg(void)
{
	struct gr_msg m = {
		.type = GR_MSG_APPEND, .reject = false, .force = false, .from = 1, .to = 3,
		.term = 7, .seq = 100, .log_term = 6, .commit = 99, .hint_seq = 5,
		.hint_term = 4, .ctx = 123456789, .n_entries = 8, .bytes = 32768,
	}, d;
	uint8_t body[256];
	ssize_t n;

	n = gr_wire_msg_encode(body, sizeof(body), &m);
	CHECK(n == GR_WIRE_MSG_FIXED + 4);
	CHECK(gr_wire_msg_decode(body, n, &d, err) == 0);
	CHECK(d.type == GR_MSG_APPEND && d.from == 1 && d.to == 3 && d.term == 7);
	CHECK(d.seq == 100 && d.log_term == 6 && d.commit == 99 && d.hint_seq == 5);
	CHECK(d.hint_term == 4 && d.ctx == 123456789 && d.n_entries == 8 && d.bytes == 32768);
	CHECK(!d.reject && !d.force && !d.entries && d.conf.n == 0);

	/* RESYNC carries the configuration, flags survive */
	memset(&m, 0, sizeof(m));
	m.type = GR_MSG_RESYNC;
	m.from = 2;
	m.to = 1;
	m.reject = true;
	m.force = true;
	m.conf.n = 3;
	m.conf.site[0] = 1;
	m.conf.site[1] = 2;
	m.conf.site[2] = 9;
	m.conf.voter[0] = m.conf.voter[1] = 1;
	n = gr_wire_msg_encode(body, sizeof(body), &m);
	CHECK(n == GR_WIRE_MSG_FIXED + 4 + 3 * 8);
	CHECK(gr_wire_msg_decode(body, n, &d, err) == 0);
	CHECK(d.reject && d.force && d.conf.n == 3 && d.conf.site[2] == 9 &&
	      d.conf.voter[1] == 1 && d.conf.voter[2] == 0);

	CHECK(gr_wire_msg_decode(body, n - 1, &d, err) == -EPROTO &&
	      strstr(err, "3 configuration entries need"));
	body[0] = 99;
	CHECK(gr_wire_msg_decode(body, n, &d, err) == -EPROTO &&
	      strstr(err, "unknown message type 99"));
	body[0] = GR_MSG_RESYNC;
	body[1] = 0x80;
	CHECK(gr_wire_msg_decode(body, n, &d, err) == -EPROTO && strstr(err, "unknown flags"));
	body[1] = 0;
	body[GR_WIRE_MSG_FIXED + 4 + 8 + 4] = 2;	/* voter flag 2 */
	CHECK(gr_wire_msg_decode(body, n, &d, err) == -EPROTO &&
	      strstr(err, "bad configuration entry 1"));
	body[GR_WIRE_MSG_FIXED + 4 + 8 + 4] = 1;
	body[4] = 0;	/* from = 0 */
	CHECK(gr_wire_msg_decode(body, n, &d, err) == -EPROTO && strstr(err, "site id 0"));

	/* only APPEND has entries; only RESYNC a configuration */
	m.type = GR_MSG_VOTE;
	m.n_entries = 1;
	CHECK(gr_wire_msg_encode(body, sizeof(body), &m) == -EINVAL);
	m.n_entries = 0;
	n = gr_wire_msg_encode(body, sizeof(body), &m);
	CHECK(n == GR_WIRE_MSG_FIXED + 4);
	body[GR_WIRE_MSG_FIXED] = 1;
	CHECK(gr_wire_msg_decode(body, n + 8, &d, err) == -EPROTO &&
	      strstr(err, "configuration of 1 sites on a message of type"));
	CHECK(gr_wire_msg_encode(body, 10, &m) == -ENOSPC);

	/* a follower's answer carries its ledger's seqs (progress trailer) */
	memset(&m, 0, sizeof(m));
	m.type = GR_MSG_APPEND_RESP;
	m.from = 3;
	m.to = 1;
	m.seq = 40;
	m.has_progress = true;
	m.p_written = 41;
	m.p_commit = 39;
	m.p_applied = 38;
	n = gr_wire_msg_encode(body, sizeof(body), &m);
	CHECK(n == GR_WIRE_MSG_FIXED + 4 + GR_WIRE_MSG_PROGRESS && n <= GR_WIRE_MSG_MAX);
	CHECK(gr_wire_msg_decode(body, n, &d, err) == 0);
	CHECK(d.has_progress && d.p_written == 41 && d.p_commit == 39 && d.p_applied == 38 &&
	      d.seq == 40);
	CHECK(gr_wire_msg_decode(body, n - GR_WIRE_MSG_PROGRESS, &d, err) == -EPROTO &&
	      strstr(err, "configuration entries and progress need"));
	CHECK(gr_wire_msg_decode(body, n + 8, &d, err) == -EPROTO);
	body[0] = GR_MSG_APPEND;	/* progress is for answers only */
	CHECK(gr_wire_msg_decode(body, n, &d, err) == -EPROTO &&
	      strstr(err, "progress on a message of type"));
	m.type = GR_MSG_HEARTBEAT_RESP;
	n = gr_wire_msg_encode(body, sizeof(body), &m);
	CHECK(gr_wire_msg_decode(body, n, &d, err) == 0 && d.has_progress &&
	      d.type == GR_MSG_HEARTBEAT_RESP && d.p_applied == 38);
	m.type = GR_MSG_HEARTBEAT;
	CHECK(gr_wire_msg_encode(body, sizeof(body), &m) == -EINVAL);
	/* without it, an answer is as before and says so */
	m.type = GR_MSG_APPEND_RESP;
	m.has_progress = false;
	n = gr_wire_msg_encode(body, sizeof(body), &m);
	CHECK(n == GR_WIRE_MSG_FIXED + 4);
	CHECK(gr_wire_msg_decode(body, n, &d, err) == 0 && !d.has_progress && !d.p_written);
}

static void test_volume_id(void)
{
	CHECK(gr_wire_volume_id("v0") == gr_wire_volume_id("v0"));
	CHECK(gr_wire_volume_id("v0") != gr_wire_volume_id("v1"));
	CHECK(gr_wire_volume_id("") != 0);
	CHECK(!strcmp(gr_frame_type_name(GR_FT_RESYNC), "resync"));
	CHECK(!strcmp(gr_frame_type_name(200), "unknown"));
}

static void test_key(void)
{
	struct gr_frame f = { .hdr.type = GR_FT_KEY, .hdr.volume = 5 }, g;
	uint8_t *b = buf + GR_WIRE_HDR_SIZE;
	size_t used;
	ssize_t n;

	f.key.term = 7;
	f.key.epoch = 3;
	memset(f.key.key, 0x5a, sizeof(f.key.key));
	n = roundtrip(&f, &g);
	CHECK(n == GR_WIRE_HDR_SIZE + GR_KEY_SIZE);
	CHECK(g.hdr.volume == 5 && g.key.term == 7 && g.key.epoch == 3 &&
	      !memcmp(g.key.key, f.key.key, sizeof(g.key.key)));
	gr_key_wipe(&g.key);
	CHECK(g.key.key[0] == 0 && g.key.key[GEOREP_KEY_LEN - 1] == 0);

	/* body one byte short, then one byte long */
	buf[8] = GR_KEY_SIZE - 1;
	CHECK(gr_wire_decode(buf, n, &g, &used, err) == -EPROTO &&
	      strstr(err, "key: body is 47 bytes, expected 48"));
	buf[8] = GR_KEY_SIZE + 1;
	CHECK(gr_wire_decode(buf, sizeof(buf), &g, &used, err) == -EPROTO &&
	      strstr(err, "expected 48"));
	buf[8] = GR_KEY_SIZE;
	b[0] = 0;			/* term 7 -> 0 */
	CHECK(gr_wire_decode(buf, n, &g, &used, err) == -EPROTO &&
	      strstr(err, "term 0"));
	b[0] = 7;
	b[8] = 0;			/* epoch 3 -> 0 */
	CHECK(gr_wire_decode(buf, n, &g, &used, err) == -EPROTO &&
	      strstr(err, "epoch 0"));
	b[8] = 3;
	b[13] = 1;			/* flags */
	CHECK(gr_wire_decode(buf, n, &g, &used, err) == -EPROTO &&
	      strstr(err, "unknown flags"));
	b[13] = 0;
	memset(b + 16, 0, GEOREP_KEY_LEN);
	CHECK(gr_wire_decode(buf, n, &g, &used, err) == -EPROTO &&
	      strstr(err, "all zeros") && g.key.key[0] == 0);

	/* the encoder refuses what the decoder would, and wipes its output */
	f.key.epoch = 0;
	CHECK(gr_wire_encode(buf, sizeof(buf), &f) == -EINVAL);
	CHECK(b[20] == 0 && b[47] == 0);
	f.key.epoch = 3;
	memset(f.key.key, 0, sizeof(f.key.key));
	CHECK(gr_wire_encode(buf, sizeof(buf), &f) == -EINVAL);
	f.hdr.volume = 0;	/* a volume frame */
	memset(f.key.key, 1, sizeof(f.key.key));
	CHECK(gr_wire_encode(buf, sizeof(buf), &f) == -EINVAL);
	f.hdr.volume = 5;
	CHECK(gr_wire_encode(buf, GR_WIRE_HDR_SIZE + GR_KEY_SIZE - 1, &f) == -ENOSPC);
	CHECK(!strcmp(gr_frame_type_name(GR_FT_KEY), "key"));
}

static void test_key_ack(void)
{
	struct gr_frame f = { .hdr.type = GR_FT_KEY_ACK, .hdr.volume = 5,
			      .hdr.version = GR_WIRE_VERSION_KEY_HELD }, g;
	uint8_t *b = buf + GR_WIRE_HDR_SIZE;
	size_t used;
	ssize_t n;
	uint32_t st;

	for (st = 0; st < __GR_KEY_MAX; st++) {
		f.key_ack.term = 9;
		f.key_ack.epoch = 4;
		f.key_ack.status = st;
		f.key_ack.sealing = 3;
		f.key_ack.nr_held = 3;
		f.key_ack.held[0] = 1;
		f.key_ack.held[1] = 3;
		f.key_ack.held[2] = 4;
		n = roundtrip(&f, &g);
		CHECK(n == GR_WIRE_HDR_SIZE + GR_KEY_ACK_SIZE && GR_KEY_ACK_SIZE == 56);
		CHECK(g.key_ack.term == 9 && g.key_ack.epoch == 4 &&
		      g.key_ack.status == st && g.key_ack.sealing == 3 &&
		      g.key_ack.nr_held == 3 && g.key_ack.held[0] == 1 &&
		      g.key_ack.held[1] == 3 && g.key_ack.held[2] == 4 && !g.key_ack.held[3]);
	}
	CHECK(!strcmp(gr_key_status_name(GR_KEY_INSTALLED), "installed") &&
	      !strcmp(gr_key_status_name(GR_KEY_MISSING), "missing") &&
	      !strcmp(gr_key_status_name(99), "unknown"));

	b[12] = __GR_KEY_MAX;
	CHECK(gr_wire_decode(buf, n, &g, &used, err) == -EPROTO &&
	      strstr(err, "unknown status 3"));
	b[12] = 0;
	b[8] = 0;
	CHECK(gr_wire_decode(buf, n, &g, &used, err) == -EPROTO &&
	      strstr(err, "epoch 0"));
	b[8] = 4;
	b[0] = 0;
	CHECK(gr_wire_decode(buf, n, &g, &used, err) == -EPROTO &&
	      strstr(err, "term 0"));
	b[0] = 9;
	/* what the site holds: a count, ascending epochs, the sealing one */
	b[20] = GEOREP_MAX_KEYS + 1;
	CHECK(gr_wire_decode(buf, n, &g, &used, err) == -EPROTO &&
	      strstr(err, "9 epochs held, at most 8"));
	b[20] = 3;
	b[28] = 1;
	CHECK(gr_wire_decode(buf, n, &g, &used, err) == -EPROTO &&
	      strstr(err, "not ascending at slot 1 (1)"));
	b[28] = 3;
	b[36] = 7;
	CHECK(gr_wire_decode(buf, n, &g, &used, err) == -EPROTO &&
	      strstr(err, "slot 3 past the count is 7"));
	b[36] = 0;
	b[16] = 2;
	CHECK(gr_wire_decode(buf, n, &g, &used, err) == -EPROTO &&
	      strstr(err, "sealing epoch 2 is not among those held"));
	b[16] = 3;
	CHECK(!gr_wire_decode(buf, n, &g, &used, err) && used == (size_t)n);
	buf[8] = GR_KEY_ACK_SIZE + 8;
	CHECK(gr_wire_decode(buf, sizeof(buf), &g, &used, err) == -EPROTO &&
	      strstr(err, "key-ack: body is 64 bytes, expected 56"));
	/* truncated: the decoder waits for the rest */
	buf[8] = GR_KEY_ACK_SIZE;
	CHECK(gr_wire_decode(buf, n - 1, &g, &used, err) == -EAGAIN);
	f.key_ack.status = 7;
	CHECK(gr_wire_encode(buf, sizeof(buf), &f) == -EINVAL);
}

/*
 * KEY_ACK framed with versions 1 and 2 is the 16 bytes of term, epoch and
 * status, from 3 on 56 with what the site holds; the transport lays it out
 * in its connection's version.
 */
static void test_key_ack_versions(void)
{
	struct gr_frame f = { .hdr.type = GR_FT_KEY_ACK, .hdr.volume = 5 }, g;
	size_t used;
	ssize_t n;
	uint16_t v;

	f.key_ack = (struct gr_key_ack){ .term = 9, .epoch = 4, .status = GR_KEY_INSTALLED,
					 .sealing = 3, .nr_held = 2, .held = { 3, 4 } };
	for (v = GR_WIRE_VERSION_MIN; v <= GR_WIRE_VERSION; v++) {
		bool held = v >= GR_WIRE_VERSION_KEY_HELD;

		n = gr_wire_encode_as(buf, sizeof(buf), &f, v);
		CHECK(n == (ssize_t)gr_wire_frame_size_as(&f, v));
		CHECK(n == GR_WIRE_HDR_SIZE + (held ? GR_KEY_ACK_SIZE : GR_KEY_ACK_V1_SIZE));
		CHECK(!gr_wire_decode(buf, n, &g, &used, err) && used == (size_t)n &&
		      g.hdr.version == v);
		CHECK(g.key_ack.term == 9 && g.key_ack.epoch == 4 &&
		      g.key_ack.sealing == (held ? 3U : 0U) &&
		      g.key_ack.nr_held == (held ? 2U : 0U) &&
		      g.key_ack.held[1] == (held ? 4U : 0U));
	}
	/* version 3 as the build of b6d6e3b (the last released) sends it */
	CHECK(GR_KEY_ACK_V1_SIZE == 16 && GR_WIRE_VERSION_KEY_HELD == 3);
	/* a version 2 body under a version 3 header, and the other way round */
	n = gr_wire_encode_as(buf, sizeof(buf), &f, 2);
	buf[4] = 3;
	CHECK(gr_wire_decode(buf, n, &g, &used, err) == -EPROTO &&
	      strstr(err, "key-ack: body is 16 bytes, expected 56 (version 3)"));
	n = gr_wire_encode_as(buf, sizeof(buf), &f, 3);
	buf[4] = 2;
	CHECK(gr_wire_decode(buf, n, &g, &used, err) == -EPROTO &&
	      strstr(err, "key-ack: body is 56 bytes, expected 16 (version 2)"));
}

/* ROOT_REQ and ROOT (version 4): nonce, status and root consistent */
static void test_root(void)
{
	struct gr_frame f = { .hdr.type = GR_FT_ROOT_REQ, .hdr.version = 4, .hdr.volume = 7 }, g;
	uint8_t *b = buf + GR_WIRE_HDR_SIZE;
	ssize_t n;

	f.root_req = (struct gr_root_req){ .nonce = 0x1234, .size = 9 };
	CHECK(roundtrip(&f, &g) == GR_WIRE_HDR_SIZE + GR_ROOT_REQ_SIZE &&
	      g.root_req.nonce == 0x1234 && g.root_req.size == 9);
	f.root_req.nonce = 0;
	CHECK(gr_wire_encode(buf, sizeof(buf), &f) == -EINVAL);
	f.root_req.nonce = 1;
	f.hdr.version = 3;
	CHECK(gr_wire_encode(buf, sizeof(buf), &f) == -EINVAL);
	f.hdr.version = 4;
	n = gr_wire_encode(buf, sizeof(buf), &f);
	buf[4] = 3;
	CHECK(gr_wire_decode(buf, n, &g, &(size_t){ 0 }, err) == -EPROTO &&
	      strstr(err, "root-req frame: framed with version 3 (root-reqs exist from version 4)"));

	f = (struct gr_frame){ .hdr.type = GR_FT_ROOT, .hdr.version = 4, .hdr.volume = 7 };
	f.root = (struct gr_root){ .nonce = 5, .size = 9, .tree = 12, .status = GR_ROOT_OK };
	memset(f.root.root, 0xab, sizeof(f.root.root));
	n = roundtrip(&f, &g);
	CHECK(n == GR_WIRE_HDR_SIZE + GR_ROOT_SIZE && GR_ROOT_SIZE == 64 && g.root.nonce == 5 &&
	      g.root.size == 9 && g.root.tree == 12 && g.root.status == GR_ROOT_OK &&
	      g.root.root[31] == 0xab);
	b[8] = 13;	/* size past the tree */
	CHECK(gr_wire_decode(buf, n, &g, &(size_t){ 0 }, err) == -EPROTO &&
	      strstr(err, "root: a root at size 13 of a tree of 12 leaves"));
	b[8] = 9;
	b[24] = GR_ROOT_BEYOND;
	CHECK(gr_wire_decode(buf, n, &g, &(size_t){ 0 }, err) == -EPROTO &&
	      strstr(err, "root: status 1 with a root"));
	b[24] = __GR_ROOT_MAX;
	CHECK(gr_wire_decode(buf, n, &g, &(size_t){ 0 }, err) == -EPROTO &&
	      strstr(err, "unknown status 3"));
	b[24] = 0;
	b[28] = 1;
	CHECK(gr_wire_decode(buf, n, &g, &(size_t){ 0 }, err) == -EPROTO &&
	      strstr(err, "reserved field is not zero"));
	b[28] = 0;
	b[0] = 0;
	CHECK(gr_wire_decode(buf, n, &g, &(size_t){ 0 }, err) == -EPROTO &&
	      strstr(err, "root: nonce 0"));
	b[0] = 5;
	CHECK(!gr_wire_decode(buf, n, &g, &(size_t){ 0 }, err));
	f.root = (struct gr_root){ .nonce = 5, .size = 9, .tree = 3, .status = GR_ROOT_NO_TREE };
	CHECK(gr_wire_encode(buf, sizeof(buf), &f) == -EINVAL);
	f.root.tree = 0;
	CHECK(roundtrip(&f, &g) > 0 && g.root.status == GR_ROOT_NO_TREE);
	CHECK(!strcmp(gr_frame_type_name(GR_FT_ROOT_REQ), "root-req"));
}

/* GENESIS_REQ and GENESIS: a volume's uuid, size and keys, or none */
static void test_genesis(void)
{
	struct gr_frame f = { .hdr.type = GR_FT_GENESIS, .hdr.volume = 9 }, g;
	struct gr_frame q = { .hdr.type = GR_FT_GENESIS_REQ, .hdr.volume = 9 };
	uint8_t *b = buf + GR_WIRE_HDR_SIZE;
	ssize_t n;

	n = roundtrip(&q, &g);
	CHECK(n == GR_WIRE_HDR_SIZE + GR_GENESIS_REQ_SIZE && g.hdr.type == GR_FT_GENESIS_REQ);
	b[0] = 1;	/* flags */
	CHECK(gr_wire_decode(buf, n, &g, &(size_t){ 0 }, err) == -EPROTO &&
	      strstr(err, "genesis-req"));

	n = roundtrip(&f, &g);	/* NONE */
	CHECK(n == GR_WIRE_HDR_SIZE + GR_GENESIS_HDR_SIZE && g.genesis.status == GR_GENESIS_NONE);
	f.genesis.status = GR_GENESIS_HAVE;
	memset(f.genesis.uuid, 0xab, sizeof(f.genesis.uuid));
	f.genesis.data_bytes = 1 << 30;
	f.genesis.count = 2;
	f.genesis.keys[0].epoch = 1;
	memset(f.genesis.keys[0].key, 0x11, GEOREP_KEY_LEN);
	f.genesis.keys[1].epoch = 3;
	memset(f.genesis.keys[1].key, 0x33, GEOREP_KEY_LEN);
	n = roundtrip(&f, &g);
	CHECK(n == GR_WIRE_HDR_SIZE + GR_GENESIS_HDR_SIZE + 2 * GR_GENESIS_KEY_SIZE);
	CHECK(g.genesis.status == GR_GENESIS_HAVE && g.genesis.count == 2 &&
	      g.genesis.uuid[15] == 0xab && g.genesis.data_bytes == 1 << 30 &&
	      g.genesis.keys[1].epoch == 3 && g.genesis.keys[1].key[31] == 0x33);
	gr_genesis_wipe(&g.genesis);
	CHECK(!g.genesis.keys[1].key[31] && !g.genesis.keys[0].key[0]);
	/* a reserved field, a count that does not match the body */
	b[GR_GENESIS_HDR_SIZE + 4] = 1;
	CHECK(gr_wire_decode(buf, n, &g, &(size_t){ 0 }, err) == -EPROTO &&
	      strstr(err, "reserved") && !g.genesis.keys[0].key[0]);
	b[GR_GENESIS_HDR_SIZE + 4] = 0;
	b[4] = 3;
	CHECK(gr_wire_decode(buf, n, &g, &(size_t){ 0 }, err) == -EPROTO &&
	      strstr(err, "do not match"));
	/* the encoder refuses what the decoder would */
	f.genesis.keys[1].epoch = 1;
	CHECK(gr_wire_encode(buf, sizeof(buf), &f) == -EINVAL);
	f.genesis.keys[1].epoch = 3;
	memset(f.genesis.keys[1].key, 0, GEOREP_KEY_LEN);
	CHECK(gr_wire_encode(buf, sizeof(buf), &f) == -EINVAL);
	memset(f.genesis.keys[1].key, 0x33, GEOREP_KEY_LEN);
	memset(f.genesis.uuid, 0, sizeof(f.genesis.uuid));
	CHECK(gr_wire_encode(buf, sizeof(buf), &f) == -EINVAL);
	f.genesis.status = GR_GENESIS_NONE;
	CHECK(gr_wire_encode(buf, sizeof(buf), &f) == -EINVAL);	/* none with keys */
	f.genesis.count = 0;
	f.genesis.data_bytes = 0;
	CHECK(gr_wire_encode(buf, sizeof(buf), &f) > 0);
	gr_genesis_wipe(&f.genesis);
	CHECK(!strcmp(gr_frame_type_name(GR_FT_GENESIS), "genesis"));
}

static const struct ktap_case cases[] = {
	{ "wire_hello", test_hello },
	{ "wire_header_checks", test_header_checks },
	{ "wire_part", test_part },
	{ "wire_mleaf", test_mleaf },
	{ "wire_two_frames_in_a_buffer", test_two_frames_in_a_buffer },
	{ "wire_error_frame", test_error_frame },
	{ "wire_records", test_records },
	{ "wire_resync", test_resync },
	{ "wire_heal_req", test_heal_req },
	{ "wire_heal", test_heal },
	{ "wire_consensus", test_consensus },
	{ "wire_consensus_msg", test_consensus_msg },
	{ "wire_volume_id", test_volume_id },
	{ "wire_key", test_key },
	{ "wire_key_ack", test_key_ack },
	{ "wire_key_ack_versions", test_key_ack_versions },
	{ "wire_root", test_root },
	{ "wire_genesis", test_genesis },
};

int main(void)
{
	return ktap_run(cases, sizeof(cases) / sizeof(cases[0]));
}
