// SPDX-License-Identifier: GPL-2.0
/*
 * georep-corrupt: damage a record or the superblock on a log device.
 *
 *   georep-corrupt <logdev> <seq> <offset>
 *   georep-corrupt <logdev> <seq> --set <field> <value>
 *   georep-corrupt <logdev> --sb <field> <value>
 *
 * The first form finds the record with that seq by walking the log from
 * the superblock's tail with the wrap rule of
 * Documentation/on-disk-format.rst (the record after one ending at area
 * offset o starts at o, or at area offset 0 when o does not hold the
 * expected seq), then inverts the byte at <offset>, counted as on the log
 * stream: 0..255 is the header, 256 and up the payload.
 *
 * --set writes <value> into one header field of that record: magic,
 * version, op, seq, term, lba, len, payload_len, site_id, seal_epoch,
 * flags, reserved0 (numbers, 0x... accepted), or payload_hash, chain_hash,
 * seal (the value "flip" inverts their first byte).
 *
 * --sb writes <value> into one superblock field (block_size, data_sectors,
 * area_start, area_blocks, tail_seq, tail_block, head_seq, head_block,
 * applied_seq, term, flags) and recomputes the crc, as a writer that knows
 * the format would.
 *
 * Every form prints what it changed and the log block it wrote. Uses
 * O_DIRECT so the kernel's direct reads see the change, also under an
 * attached volume. For tests only.
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "georep/record.h"

#define BS	GEOREP_BLOCK_SIZE

struct field {
	const char *name;
	size_t off;
	size_t size;		/* 2, 4, 8; GEOREP_HASH_LEN for hashes */
};

#define REC_FIELD(f) { #f, offsetof(struct georep_record, f), \
		       sizeof(((struct georep_record *)0)->f) }
#define SB_FIELD(f) { #f, offsetof(struct georep_superblock, f), \
		      sizeof(((struct georep_superblock *)0)->f) }

static const struct field rec_fields[] = {
	REC_FIELD(magic), REC_FIELD(version), REC_FIELD(op), REC_FIELD(seq),
	REC_FIELD(term), REC_FIELD(lba), REC_FIELD(len),
	REC_FIELD(payload_len), REC_FIELD(site_id), REC_FIELD(seal_epoch),
	REC_FIELD(flags), REC_FIELD(reserved0), REC_FIELD(payload_hash),
	REC_FIELD(chain_hash), REC_FIELD(seal),
	{ NULL, 0, 0 }
};

static const struct field sb_fields[] = {
	SB_FIELD(block_size), SB_FIELD(data_sectors), SB_FIELD(area_start),
	SB_FIELD(area_blocks), SB_FIELD(tail_seq), SB_FIELD(tail_block),
	SB_FIELD(head_seq), SB_FIELD(head_block), SB_FIELD(applied_seq),
	SB_FIELD(term), SB_FIELD(flags),
	{ NULL, 0, 0 }
};

static void usage(void)
{
	fprintf(stderr,
		"usage: georep-corrupt <logdev> <seq> <offset>\n"
		"       georep-corrupt <logdev> <seq> --set <field> <value>\n"
		"       georep-corrupt <logdev> --sb <field> <value>\n");
	exit(2);
}

static int rw_block(int fd, uint64_t block, void *buf, int write_it)
{
	ssize_t n = write_it ? pwrite(fd, buf, BS, (off_t)block * BS) :
			       pread(fd, buf, BS, (off_t)block * BS);

	return n == BS ? 0 : -1;
}

/* crc32c (Castagnoli, reflected), no final inversion: the kernel's crc32c() */
static uint32_t crc32c(uint32_t crc, const void *data, size_t len)
{
	const uint8_t *p = data;
	int k;

	while (len--) {
		crc ^= *p++;
		for (k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0x82f63b78 & -(crc & 1));
	}
	return crc;
}

static const struct field *find_field(const struct field *t, const char *name)
{
	for (; t->name; t++)
		if (!strcmp(t->name, name))
			return t;
	fprintf(stderr, "georep-corrupt: unknown field '%s'\n", name);
	exit(2);
}

static uint64_t get_le(const uint8_t *p, size_t size)
{
	uint64_t v = 0;

	while (size--)
		v = v << 8 | p[size];
	return v;
}

/* write @value (a number, or "flip" for a hash) into field @f at @p */
static int set_field(uint8_t *p, const struct field *f, const char *value)
{
	uint64_t old, v;
	size_t i;
	char *end;

	if (f->size == GEOREP_HASH_LEN) {
		if (strcmp(value, "flip")) {
			fprintf(stderr, "georep-corrupt: %s takes the value 'flip'\n",
				f->name);
			return -1;
		}
		p[f->off] ^= 0xff;
		printf("%s: first byte flipped\n", f->name);
		return 0;
	}
	errno = 0;
	v = strtoull(value, &end, 0);
	if (errno || *end || !*value) {
		fprintf(stderr, "georep-corrupt: bad value '%s'\n", value);
		return -1;
	}
	if (f->size < 8 && v >> (8 * f->size)) {
		fprintf(stderr, "georep-corrupt: %s is %zu bytes, %s does not fit\n",
			f->name, f->size, value);
		return -1;
	}
	old = get_le(p + f->off, f->size);
	for (i = 0; i < f->size; i++)
		p[f->off + i] = v >> (8 * i);
	printf("%s: %" PRIu64 " -> %" PRIu64 "\n", f->name, old, v);
	return 0;
}

/* the header at @block if it is record @seq of @uuid */
static int is_record(int fd, uint64_t block, uint64_t seq, const uint8_t *uuid,
		     void *buf, struct georep_rec *rec)
{
	char err[128];

	if (rw_block(fd, block, buf, 0))
		return 0;
	if (georep_record_decode(buf, BS, rec, err, sizeof(err)))
		return 0;
	return rec->seq == seq && !memcmp(rec->volume_uuid, uuid, GEOREP_UUID_LEN);
}

/* the log block of record @target's header; *plen its payload length */
static int find_record(int fd, const struct georep_superblock *sb,
		       uint64_t target, void *buf, uint64_t *block,
		       uint32_t *plen)
{
	uint64_t start = le64toh(sb->area_start), area = le64toh(sb->area_blocks);
	uint64_t seq = le64toh(sb->tail_seq) ?: 1, lsn = le64toh(sb->tail_block);
	uint64_t at = 0;
	struct georep_rec rec;

	if (!area || target < seq)
		goto out_not_found;
	for (; seq <= target; seq++) {
		uint64_t o = lsn % area;

		if (is_record(fd, start + o, seq, sb->volume_uuid, buf, &rec))
			at = lsn;
		else if (o && is_record(fd, start, seq, sb->volume_uuid, buf, &rec))
			at = lsn + area - o;
		else
			goto out_not_found;
		lsn = at + 1 + rec.payload_len / BS;
	}
	*block = start + at % area;
	*plen = rec.payload_len;
	return 0;

out_not_found:
	fprintf(stderr, "georep-corrupt: record %" PRIu64 " not found\n", target);
	return -1;
}

static int read_sb(int fd, void *buf, struct georep_superblock *sb)
{
	if (rw_block(fd, 0, buf, 0)) {
		perror("georep-corrupt: read superblock");
		return -1;
	}
	memcpy(sb, buf, sizeof(*sb));
	if (le64toh(sb->magic) != GEOREP_SB_MAGIC) {
		fprintf(stderr, "georep-corrupt: no georep superblock\n");
		return -1;
	}
	return 0;
}

static int write_block(int fd, uint64_t block, void *buf)
{
	if (rw_block(fd, block, buf, 1)) {
		perror("georep-corrupt: write");
		return -1;
	}
	printf("block %" PRIu64 " written\n", block);
	return 0;
}

static int corrupt_sb(int fd, void *buf, const char *name, const char *value)
{
	struct georep_superblock sb;

	if (read_sb(fd, buf, &sb))
		return -1;
	if (set_field(buf, find_field(sb_fields, name), value))
		return -1;
	memcpy(&sb, buf, sizeof(sb));
	sb.crc = 0;
	sb.crc = htole32(crc32c(~0U, &sb, sizeof(sb)));
	memcpy(buf, &sb, sizeof(sb));
	return write_block(fd, 0, buf);
}

static int corrupt_record(int fd, void *buf, uint64_t seq, int argc,
			  char *argv[])
{
	struct georep_superblock sb;
	uint64_t block, off;
	uint32_t plen;

	if (read_sb(fd, buf, &sb) || find_record(fd, &sb, seq, buf, &block, &plen))
		return -1;
	printf("record %" PRIu64 " at block %" PRIu64 "\n", seq, block);
	if (argc == 3 && !strcmp(argv[0], "--set"))
		return set_field(buf, find_field(rec_fields, argv[1]), argv[2]) ?:
		       write_block(fd, block, buf);
	if (argc != 1)
		usage();
	off = strtoull(argv[0], NULL, 0);
	if (off >= GEOREP_RECORD_HDR_SIZE + (uint64_t)plen) {
		fprintf(stderr, "georep-corrupt: offset past the record\n");
		return -1;
	}
	if (off >= GEOREP_RECORD_HDR_SIZE) {
		off -= GEOREP_RECORD_HDR_SIZE;
		block += 1 + off / BS;
		off %= BS;
		if (rw_block(fd, block, buf, 0))
			return -1;
	}
	((uint8_t *)buf)[off] ^= 0xff;
	printf("byte %s flipped\n", argv[0]);
	return write_block(fd, block, buf);
}

int main(int argc, char *argv[])
{
	void *buf;
	int fd, ret;

	if (argc < 4)
		usage();
	fd = open(argv[1], O_RDWR | O_DIRECT | O_SYNC);
	if (fd < 0 || posix_memalign(&buf, BS, BS)) {
		fprintf(stderr, "georep-corrupt: %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	if (!strcmp(argv[2], "--sb")) {
		if (argc != 5)
			usage();
		ret = corrupt_sb(fd, buf, argv[3], argv[4]);
	} else {
		ret = corrupt_record(fd, buf, strtoull(argv[2], NULL, 0),
				     argc - 3, argv + 3);
	}
	free(buf);
	close(fd);
	return ret ? 1 : 0;
}
