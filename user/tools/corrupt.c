// SPDX-License-Identifier: GPL-2.0
/*
 * georep-corrupt: flip one byte of a record on a log device.
 *
 *   georep-corrupt <logdev> <seq> <offset>
 *
 * Finds the record with that seq by walking the log from the superblock's
 * tail with the wrap rule of Documentation/on-disk-format.rst (the record
 * after one ending at area offset o starts at o, or at area offset 0 when
 * o does not hold the expected seq), then inverts the byte at <offset>,
 * counted as on the log stream: 0..255 is the header, 256 and up the
 * payload. Uses O_DIRECT so the kernel's direct reads see the change.
 * For tests only.
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "georep/record.h"

#define BS	GEOREP_BLOCK_SIZE

static int rw_block(int fd, uint64_t block, void *buf, int write_it)
{
	ssize_t n = write_it ? pwrite(fd, buf, BS, (off_t)block * BS) :
			       pread(fd, buf, BS, (off_t)block * BS);

	return n == BS ? 0 : -1;
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

int main(int argc, char *argv[])
{
	struct georep_superblock sb;
	uint64_t target, off, seq, lsn, start, area, at = 0;
	struct georep_rec rec;
	void *buf;
	int fd;

	if (argc != 4) {
		fprintf(stderr, "usage: georep-corrupt <logdev> <seq> <offset>\n");
		return 2;
	}
	target = strtoull(argv[2], NULL, 0);
	off = strtoull(argv[3], NULL, 0);
	fd = open(argv[1], O_RDWR | O_DIRECT | O_SYNC);
	if (fd < 0 || posix_memalign(&buf, BS, BS)) {
		fprintf(stderr, "georep-corrupt: %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	if (rw_block(fd, 0, buf, 0)) {
		perror("georep-corrupt: read superblock");
		return 1;
	}
	memcpy(&sb, buf, sizeof(sb));
	if (le64toh(sb.magic) != GEOREP_SB_MAGIC) {
		fprintf(stderr, "georep-corrupt: no georep superblock\n");
		return 1;
	}
	start = le64toh(sb.area_start);
	area = le64toh(sb.area_blocks);
	seq = le64toh(sb.tail_seq) ?: 1;
	lsn = le64toh(sb.tail_block);
	for (; seq <= target; seq++) {
		uint64_t o = lsn % area;

		if (is_record(fd, start + o, seq, sb.volume_uuid, buf, &rec)) {
			at = lsn;
		} else if (o && is_record(fd, start, seq, sb.volume_uuid, buf, &rec)) {
			at = lsn + area - o;
		} else {
			fprintf(stderr, "georep-corrupt: record %" PRIu64 " not found\n",
				seq);
			return 1;
		}
		lsn = at + 1 + rec.payload_len / BS;
	}
	if (off >= GEOREP_RECORD_HDR_SIZE + (uint64_t)rec.payload_len) {
		fprintf(stderr, "georep-corrupt: offset past the record\n");
		return 1;
	}
	{
		uint64_t block = start + at % area, boff = off;

		if (off >= GEOREP_RECORD_HDR_SIZE) {
			boff = off - GEOREP_RECORD_HDR_SIZE;
			block += 1 + boff / BS;
			boff %= BS;
		}
		if (rw_block(fd, block, buf, 0))
			return 1;
		((uint8_t *)buf)[boff] ^= 0xff;
		if (rw_block(fd, block, buf, 1)) {
			perror("georep-corrupt: write");
			return 1;
		}
		printf("record %" PRIu64 ": byte %" PRIu64 " flipped (block %" PRIu64 ")\n",
		       target, off, block);
	}
	free(buf);
	close(fd);
	return 0;
}
