// SPDX-License-Identifier: GPL-2.0
/*
 * georep-datacmp: compare a volume's data with a replay of its own ledger.
 *
 *   georep-datacmp <volume.log> <data> [--initial-zero] [--report N]
 *
 * Reads every record of the log stream <volume.log> from seq 1 (a ledger
 * whose first records were released cannot be replayed: exit 2 naming the
 * first retained seq) and replays them, in seq order, onto an image of
 * <data>'s size kept in memory: a write puts its payload there, a
 * write-zeroes zeroes, a discard leaves its sectors undefined until a
 * later record writes them. Then every sector some record defined (every
 * sector with --initial-zero, for a data device that started zeroed) is
 * compared with <data>: the volume device or its data device.
 *
 * Prints the first N (default 10) differing sectors with the record that
 * last wrote each and "N sectors differ" or "data matches the ledger";
 * exits 0 when they match, 1 when they differ, 2 on a usage, read or
 * stream error. The crash replay (selftests/kmod/49-crash-replay.sh) and
 * the data-order test (58-data-order.sh) use it after every power cut.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/fs.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "georep/record.h"

#define SECTOR		512u
#define BUF_SIZE	(4u << 20)
#define UNDEFINED	UINT64_MAX	/* discarded: any content is right */

struct image {
	uint8_t *bytes;		/* the replayed content */
	uint64_t *last;		/* per sector: seq that set it, 0 = none */
	uint64_t sectors;
	uint64_t records;
};

static void usage(void)
{
	fprintf(stderr,
		"usage: georep-datacmp <volume.log> <data> [--initial-zero] [--report N]\n");
	exit(2);
}

static int data_size(int fd, uint64_t *size)
{
	struct stat st;

	if (fstat(fd, &st))
		return -errno;
	if (S_ISBLK(st.st_mode))
		return ioctl(fd, BLKGETSIZE64, size) ? -errno : 0;
	*size = st.st_size;
	return 0;
}

static int image_init(struct image *img, uint64_t size)
{
	img->sectors = size / SECTOR;
	img->bytes = mmap(NULL, size, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (img->bytes == MAP_FAILED)
		return -errno;
	img->last = calloc(img->sectors, sizeof(*img->last));
	return img->last ? 0 : -ENOMEM;
}

/* replay one record onto the image; -ERANGE when it lies past the end */
static int apply(struct image *img, const struct georep_rec *rec,
		 const uint8_t *payload)
{
	uint64_t first = rec->lba, n = rec->len / SECTOR, s;

	if (rec->op == GEOREP_OP_NOOP)
		return 0;
	if (rec->len % SECTOR || first > img->sectors ||
	    n > img->sectors - first)
		return -ERANGE;
	if (rec->op == GEOREP_OP_WRITE)
		memcpy(img->bytes + first * SECTOR, payload, rec->len);
	else
		memset(img->bytes + first * SECTOR, 0, rec->len);
	for (s = first; s < first + n; s++)
		img->last[s] = rec->op == GEOREP_OP_DISCARD ? UNDEFINED :
							    rec->seq;
	return 0;
}

/* read the stream from seq 1 to its head, replaying each record */
static int replay(int fd, struct image *img)
{
	uint8_t *buf = malloc(BUF_SIZE);
	uint64_t want = 1;
	int ret = 0;

	if (!buf)
		return -ENOMEM;
	if (lseek(fd, 1, SEEK_SET) != 1) {
		fprintf(stderr, "georep-datacmp: cannot read the ledger from seq 1: %s (records released?)\n",
			strerror(errno));
		free(buf);
		return -EINVAL;
	}
	for (;;) {
		ssize_t n = read(fd, buf, BUF_SIZE);
		size_t off = 0;

		if (n == 0 || (n < 0 && errno == EAGAIN))
			break;
		if (n < 0) {
			ret = -errno;
			fprintf(stderr, "georep-datacmp: stream read: %s\n",
				strerror(errno));
			break;
		}
		while (off < (size_t)n) {
			const uint8_t *hdr, *payload;
			struct georep_rec rec;
			char err[128];

			if (georep_record_next(buf, n, &off, &rec, &hdr,
					       &payload, err, sizeof(err))) {
				fprintf(stderr, "georep-datacmp: bad record after seq %" PRIu64 ": %s\n",
					want - 1, err);
				ret = -EINVAL;
				goto out;
			}
			if (rec.seq != want) {
				fprintf(stderr, "georep-datacmp: stream gave seq %" PRIu64 ", expected %" PRIu64 "%s\n",
					rec.seq, want,
					want == 1 ? " (first records released: no full replay)" : "");
				ret = -EINVAL;
				goto out;
			}
			if (apply(img, &rec, payload)) {
				fprintf(stderr, "georep-datacmp: record %" PRIu64 " (lba %" PRIu64 ", %u bytes) lies past the data's end\n",
					rec.seq, rec.lba, rec.len);
				ret = -ERANGE;
				goto out;
			}
			img->records = want++;
		}
	}
out:
	free(buf);
	return ret;
}

/* compare; Return: sectors that differ, or -errno */
static int64_t compare(int fd, const struct image *img, bool initial_zero,
		       unsigned int report)
{
	uint8_t *buf = malloc(BUF_SIZE);
	uint64_t s = 0, bad = 0;

	if (!buf)
		return -ENOMEM;
	while (s < img->sectors) {
		uint64_t n = img->sectors - s, i;
		ssize_t got;

		if (n > BUF_SIZE / SECTOR)
			n = BUF_SIZE / SECTOR;
		got = pread(fd, buf, n * SECTOR, s * SECTOR);
		if (got != (ssize_t)(n * SECTOR)) {
			fprintf(stderr, "georep-datacmp: read at sector %" PRIu64 ": %s\n",
				s, got < 0 ? strerror(errno) : "short read");
			free(buf);
			return -EIO;
		}
		for (i = 0; i < n; i++) {
			uint64_t last = img->last[s + i];

			if (last == UNDEFINED || (!last && !initial_zero))
				continue;
			if (!memcmp(buf + i * SECTOR,
				    img->bytes + (s + i) * SECTOR, SECTOR))
				continue;
			if (bad++ >= report)
				continue;
			if (last)
				printf("sector %" PRIu64 " (4k block %" PRIu64 "): differs from record %" PRIu64 ", which last wrote it\n",
				       s + i, (s + i) / 8, last);
			else
				printf("sector %" PRIu64 " (4k block %" PRIu64 "): not zero, and no record wrote it\n",
				       s + i, (s + i) / 8);
		}
		s += n;
	}
	free(buf);
	return bad;
}

int main(int argc, char *argv[])
{
	unsigned int report = 10;
	bool initial_zero = false;
	struct image img = { 0 };
	uint64_t size;
	int64_t bad;
	int lfd, dfd, i, ret;

	if (argc < 3)
		usage();
	for (i = 3; i < argc; i++) {
		if (!strcmp(argv[i], "--initial-zero"))
			initial_zero = true;
		else if (!strcmp(argv[i], "--report") && i + 1 < argc)
			report = strtoul(argv[++i], NULL, 0);
		else
			usage();
	}
	lfd = open(argv[1], O_RDONLY | O_NONBLOCK);
	dfd = open(argv[2], O_RDONLY);
	if (lfd < 0 || dfd < 0) {
		fprintf(stderr, "georep-datacmp: cannot open %s: %s\n",
			lfd < 0 ? argv[1] : argv[2], strerror(errno));
		return 2;
	}
	ret = data_size(dfd, &size);
	if (!ret)
		ret = image_init(&img, size);
	if (ret) {
		fprintf(stderr, "georep-datacmp: %s: %s\n", argv[2],
			strerror(-ret));
		return 2;
	}
	if (replay(lfd, &img))
		return 2;
	bad = compare(dfd, &img, initial_zero, report);
	if (bad < 0)
		return 2;
	if (bad) {
		printf("%" PRId64 " sectors differ from the replay of records 1..%" PRIu64 "\n",
		       bad, img.records);
		return 1;
	}
	printf("data matches the ledger (records 1..%" PRIu64 ")\n",
	       img.records);
	return 0;
}
