// SPDX-License-Identifier: GPL-2.0
/*
 * georep-logreplay: read and replay a dm-log-writes log (crash replay).
 *
 *   georep-logreplay list LOG
 *   georep-logreplay replay LOG DEV --to N [--from M] [--subset SEED]
 *
 * dm-log-writes (drivers/md/dm-log-writes.c) logs every write that reaches
 * the device below it once it is on stable media as far as the device
 * knows: a plain write when a later flush completed, a FUA write when it
 * completed. Replaying entries 0..N-1 onto a device that was all zeros when
 * logging began gives one state the device could hold after a power cut;
 * the writes logged after N up to the next flush could have been there too,
 * in any subset (a volatile cache writes back in any order): --subset adds
 * a random one of them, in a random order, keeping every FUA write logged
 * before a write it keeps (see choose_kept()).
 *
 * The log: a superblock at byte 0 (magic, version, nr_entries, sectorsize),
 * then from the second sectorsize block on one entry per block (sector,
 * nr_sectors, flags, data_len; a mark's text follows in the same block),
 * each followed by the nr_sectors * sectorsize bytes written, except for
 * discards and marks. Sectors count sectorsize units.
 *
 * list prints one line per entry: "INDEX KIND SECTOR NR_SECTORS [TEXT]",
 * KIND one of write, flush (an empty flush), flush-write, fua, fua-flush,
 * discard, mark. Exit status: 0 done, 1 bad log or I/O error, 2 usage.
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PROG		"georep-logreplay"
#define LW_MAGIC	0x6a736677736872ULL
#define LW_VERSION	1ULL
#define LW_FLUSH	(1ULL << 0)
#define LW_FUA		(1ULL << 1)
#define LW_DISCARD	(1ULL << 2)
#define LW_MARK		(1ULL << 3)
#define LW_METADATA	(1ULL << 4)
#define LW_ENTRY_LEN	32
/* a bigger single write is not something the block layer sends */
#define LW_MAX_SECTORS	(64ULL << 20)

struct lw_entry {
	uint64_t index;
	uint64_t sector;
	uint64_t nr_sectors;
	uint64_t flags;
	uint64_t data_off;	/* byte offset of the data in the log */
	char mark[256];
};

struct lw_log {
	int fd;
	const char *path;
	uint64_t size;
	uint64_t nr_entries;
	uint32_t sectorsize;
	uint64_t next;		/* byte offset of the next entry */
	uint64_t index;		/* index of the next entry */
	unsigned char *block;
};

static const char usage_text[] =
	"usage: " PROG " list LOG\n"
	"       " PROG " replay LOG DEV --to N [--from M] [--subset SEED]\n"
	"       " PROG " --help\n";

static const char help_text[] =
	"\n"
	"Read and replay a dm-log-writes log, for crash replay tests.\n"
	"\n"
	"list     one line per entry: INDEX KIND SECTOR NR_SECTORS [TEXT]\n"
	"replay   write entries M..N-1 (default M = 0) onto DEV; with --subset,\n"
	"         also a random subset, in random order, of the writes after N\n"
	"         up to the next flush (what a volatile cache may have kept),\n"
	"         with every FUA write logged before a write it keeps\n"
	"\n"
	"DEV must hold what the logged device held when logging began (all\n"
	"zeros for a device that was new) plus entries 0..M-1. A discard is\n"
	"replayed as zeros. Exit status: 0 done, 1 bad log or I/O error,\n"
	"2 usage error.\n";

static uint64_t get_le64(const unsigned char *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return le64toh(v);
}

static int read_at(int fd, void *buf, size_t len, uint64_t off)
{
	ssize_t n;

	while (len) {
		n = pread(fd, buf, len, off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		buf = (char *)buf + n;
		len -= n;
		off += n;
	}
	return 0;
}

static int write_at(int fd, const void *buf, size_t len, uint64_t off)
{
	ssize_t n;

	while (len) {
		n = pwrite(fd, buf, len, off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		buf = (const char *)buf + n;
		len -= n;
		off += n;
	}
	return 0;
}

static int log_open(struct lw_log *log, const char *path)
{
	unsigned char super[512];
	struct stat st;
	uint32_t ss;

	memset(log, 0, sizeof(*log));
	log->path = path;
	log->fd = open(path, O_RDONLY);
	if (log->fd < 0 || fstat(log->fd, &st)) {
		fprintf(stderr, PROG ": %s: %s\n", path, strerror(errno));
		return -1;
	}
	log->size = st.st_size;
	if (S_ISBLK(st.st_mode))
		log->size = lseek(log->fd, 0, SEEK_END);
	if (read_at(log->fd, super, sizeof(super), 0)) {
		fprintf(stderr, PROG ": %s: not a dm-log-writes log (shorter than its superblock)\n",
			path);
		return -1;
	}
	if (get_le64(super) != LW_MAGIC || get_le64(super + 8) != LW_VERSION) {
		fprintf(stderr, PROG ": %s: not a dm-log-writes log (magic or version)\n",
			path);
		return -1;
	}
	log->nr_entries = get_le64(super + 16);
	memcpy(&ss, super + 24, sizeof(ss));
	ss = le32toh(ss);
	if (ss < 512 || ss > 65536 || (ss & (ss - 1))) {
		fprintf(stderr, PROG ": %s: bad sectorsize %u\n", path, ss);
		return -1;
	}
	log->sectorsize = ss;
	log->next = ss;
	log->block = malloc(ss);
	if (!log->block) {
		fprintf(stderr, PROG ": out of memory\n");
		return -1;
	}
	return 0;
}

static void log_close(struct lw_log *log)
{
	free(log->block);
	if (log->fd >= 0)
		close(log->fd);
}

/* the next entry; 1 when there is none, -1 on a bad log */
static int log_next(struct lw_log *log, struct lw_entry *e)
{
	uint64_t ss = log->sectorsize, data_len, span;

	if (log->index >= log->nr_entries)
		return 1;
	if (log->next + ss > log->size ||
	    read_at(log->fd, log->block, ss, log->next)) {
		fprintf(stderr, PROG ": %s: entry %" PRIu64 " is past the end of the log\n",
			log->path, log->index);
		return -1;
	}
	memset(e, 0, sizeof(*e));
	e->index = log->index;
	e->sector = get_le64(log->block);
	e->nr_sectors = get_le64(log->block + 8);
	e->flags = get_le64(log->block + 16);
	data_len = get_le64(log->block + 24);
	if (e->nr_sectors > LW_MAX_SECTORS / ss ||
	    (e->flags & ~(LW_FLUSH | LW_FUA | LW_DISCARD | LW_MARK | LW_METADATA))) {
		fprintf(stderr, PROG ": %s: entry %" PRIu64 ": bad nr_sectors %" PRIu64
			" or flags %#" PRIx64 "\n", log->path, e->index,
			e->nr_sectors, e->flags);
		return -1;
	}
	if (e->flags & LW_MARK) {
		if (data_len > ss - LW_ENTRY_LEN || data_len >= sizeof(e->mark)) {
			fprintf(stderr, PROG ": %s: entry %" PRIu64 ": mark of %" PRIu64
				" bytes\n", log->path, e->index, data_len);
			return -1;
		}
		memcpy(e->mark, log->block + LW_ENTRY_LEN, data_len);
	}
	e->data_off = log->next + ss;
	span = ss;
	if (!(e->flags & (LW_DISCARD | LW_MARK)))
		span += e->nr_sectors * ss;
	if (log->next + span > log->size) {
		fprintf(stderr, PROG ": %s: entry %" PRIu64 ": data past the end of the log\n",
			log->path, e->index);
		return -1;
	}
	log->next += span;
	log->index++;
	return 0;
}

static const char *entry_kind(const struct lw_entry *e)
{
	if (e->flags & LW_MARK)
		return "mark";
	if (e->flags & LW_DISCARD)
		return "discard";
	if ((e->flags & LW_FUA) && (e->flags & LW_FLUSH))
		return "fua-flush";
	if (e->flags & LW_FUA)
		return "fua";
	if (e->flags & LW_FLUSH)
		return e->nr_sectors ? "flush-write" : "flush";
	return "write";
}

static int cmd_list(const char *path)
{
	struct lw_log log;
	struct lw_entry e;
	int ret;

	if (log_open(&log, path)) {
		log_close(&log);
		return 1;
	}
	while (!(ret = log_next(&log, &e)))
		printf("%" PRIu64 " %s %" PRIu64 " %" PRIu64 "%s%s\n", e.index,
		       entry_kind(&e), e.sector, e.nr_sectors,
		       e.mark[0] ? " " : "", e.mark);
	log_close(&log);
	return ret < 0 ? 1 : 0;
}

/* write one entry's data (zeros for a discard) onto @dev */
static int apply_entry(struct lw_log *log, const struct lw_entry *e, int dev,
		       uint64_t dev_size)
{
	uint64_t ss = log->sectorsize, len = e->nr_sectors * ss;
	uint64_t off = e->sector * ss, done;
	static unsigned char buf[1 << 20];
	size_t n;
	int ret;

	if ((e->flags & LW_MARK) || !len)
		return 0;
	if (e->sector > dev_size / ss || len > dev_size - off) {
		fprintf(stderr, PROG ": entry %" PRIu64 ": sectors %" PRIu64 "+%" PRIu64
			" are past the end of the device\n", e->index, e->sector,
			e->nr_sectors);
		return -1;
	}
	for (done = 0; done < len; done += n) {
		n = len - done < sizeof(buf) ? len - done : sizeof(buf);
		if (e->flags & LW_DISCARD)
			memset(buf, 0, n);
		else if (read_at(log->fd, buf, n, e->data_off + done))
			goto err_io;
		ret = write_at(dev, buf, n, off + done);
		if (ret) {
			fprintf(stderr, PROG ": entry %" PRIu64 ": write: %s\n",
				e->index, strerror(-ret));
			return -1;
		}
	}
	return 0;
err_io:
	fprintf(stderr, PROG ": entry %" PRIu64 ": cannot read its data\n", e->index);
	return -1;
}

/* the entries after the cut up to the next flush, in log order */
static int read_window(struct lw_log *log, struct lw_entry **out, size_t *nr_out)
{
	struct lw_entry *pend = NULL, e;
	size_t nr = 0, cap = 0;
	int ret;

	while (!(ret = log_next(log, &e))) {
		if (e.flags & LW_FLUSH)
			break;
		if (nr == cap) {
			struct lw_entry *p;

			cap = cap ? 2 * cap : 64;
			p = realloc(pend, cap * sizeof(*p));
			if (!p) {
				free(pend);
				fprintf(stderr, PROG ": out of memory\n");
				return -1;
			}
			pend = p;
		}
		pend[nr++] = e;
	}
	if (ret < 0) {
		free(pend);
		return -1;
	}
	*out = pend;
	*nr_out = nr;
	return 0;
}

/*
 * Which entries of the window a power cut keeps: each with probability 1/2,
 * then every FUA entry logged before a kept one. A FUA write is logged when
 * it completed, so it was on media before anything issued after it; a
 * write kept after it may have been issued because it completed (a
 * record's data once its FUA log write is durable, a file system's block
 * once its journal commit is), and keeping that write without the FUA
 * entry is a state no power cut can leave. This also drops the states where
 * a later write was issued before the FUA completed: fewer cases tried,
 * none that cannot happen.
 */
static void choose_kept(const struct lw_entry *pend, bool *keep, size_t nr)
{
	bool later = false;
	size_t i;

	for (i = 0; i < nr; i++)
		keep[i] = random() & 1;
	for (i = nr; i-- > 0; ) {
		if (later && (pend[i].flags & LW_FUA))
			keep[i] = true;
		later |= keep[i];
	}
}

/* a random subset of the window, applied in a random order */
static int apply_subset(struct lw_log *log, int dev, uint64_t dev_size,
			unsigned int seed)
{
	struct lw_entry *pend, t;
	size_t nr, n = 0, i;
	bool *keep;
	int ret = 0;

	if (read_window(log, &pend, &nr))
		return -1;
	keep = calloc(nr ? nr : 1, sizeof(*keep));
	if (!keep) {
		free(pend);
		fprintf(stderr, PROG ": out of memory\n");
		return -1;
	}
	srandom(seed);
	choose_kept(pend, keep, nr);
	for (i = 0; i < nr; i++)
		if (keep[i])
			pend[n++] = pend[i];
	/* Fisher-Yates over the kept ones: a volatile cache writes back in any order */
	for (i = n; i > 1; i--) {
		size_t j = random() % i;

		t = pend[i - 1];
		pend[i - 1] = pend[j];
		pend[j] = t;
	}
	for (i = 0; i < n && !ret; i++) {
		printf("subset %" PRIu64 " %s %" PRIu64 " %" PRIu64 "\n",
		       pend[i].index, entry_kind(&pend[i]), pend[i].sector,
		       pend[i].nr_sectors);
		ret = apply_entry(log, &pend[i], dev, dev_size);
	}
	free(keep);
	free(pend);
	return ret;
}

static int parse_u64(const char *s, const char *what, uint64_t *v)
{
	char *end;

	errno = 0;
	*v = strtoull(s, &end, 10);
	if (errno || end == s || *end || *s == '-') {
		fprintf(stderr, PROG ": %s: not a number: '%s'\n", what, s);
		return -1;
	}
	return 0;
}

static int do_replay(const char *lpath, const char *dpath, uint64_t from,
		     uint64_t to, bool subset, unsigned int seed)
{
	struct lw_log log;
	struct lw_entry e;
	uint64_t dev_size;
	int dev = -1, ret = -1;

	if (log_open(&log, lpath))
		goto out;
	dev = open(dpath, O_WRONLY);
	if (dev < 0) {
		fprintf(stderr, PROG ": %s: %s\n", dpath, strerror(errno));
		goto out;
	}
	dev_size = lseek(dev, 0, SEEK_END);
	if (to > log.nr_entries) {
		fprintf(stderr, PROG ": --to %" PRIu64 ": the log has %" PRIu64 " entries\n",
			to, log.nr_entries);
		goto out;
	}
	while (log.index < to) {
		if (log_next(&log, &e))
			goto out;
		if (e.index >= from && apply_entry(&log, &e, dev, dev_size))
			goto out;
	}
	if (subset && apply_subset(&log, dev, dev_size, seed))
		goto out;
	if (fsync(dev)) {
		fprintf(stderr, PROG ": %s: fsync: %s\n", dpath, strerror(errno));
		goto out;
	}
	ret = 0;
out:
	if (dev >= 0)
		close(dev);
	log_close(&log);
	return ret ? 1 : 0;
}

static int cmd_replay(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "from", required_argument, NULL, 'f' },
		{ "to", required_argument, NULL, 't' },
		{ "subset", required_argument, NULL, 's' },
		{ NULL, 0, NULL, 0 }
	};
	uint64_t from = 0, to = 0, seed = 0;
	bool have_to = false, subset = false;
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'f':
			if (parse_u64(optarg, "--from", &from))
				return 2;
			break;
		case 't':
			if (parse_u64(optarg, "--to", &to))
				return 2;
			have_to = true;
			break;
		case 's':
			if (parse_u64(optarg, "--subset", &seed))
				return 2;
			subset = true;
			break;
		default:
			fputs(usage_text, stderr);
			return 2;
		}
	}
	if (argc - optind != 2 || !have_to || from > to) {
		fprintf(stderr, PROG ": replay takes LOG DEV and --to N (--from M <= N)\n");
		fputs(usage_text, stderr);
		return 2;
	}
	return do_replay(argv[optind], argv[optind + 1], from, to, subset,
			 (unsigned int)seed);
}

int main(int argc, char **argv)
{
	if (argc >= 2 && !strcmp(argv[1], "--help")) {
		fputs(usage_text, stdout);
		fputs(help_text, stdout);
		return 0;
	}
	if (argc == 3 && !strcmp(argv[1], "list"))
		return cmd_list(argv[2]);
	if (argc >= 2 && !strcmp(argv[1], "replay"))
		return cmd_replay(argc - 1, argv + 1);
	fputs(usage_text, stderr);
	return 2;
}
