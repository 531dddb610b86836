// SPDX-License-Identifier: GPL-2.0
/*
 * georep-ackcheck: the acknowledged-write checker.
 *
 *   georep-ackcheck write DEV --log FILE --first N --count M [--region-blocks R] [--aio]
 *   georep-ackcheck verify DEV --log FILE
 *
 * write: writes the numbered 4 KiB blocks N..N+M-1 to DEV with
 * O_DIRECT|O_DSYNC (--aio: Linux AIO with RWF_DSYNC, REQ_FUA without a
 * flush after it), one at a time, and appends one line to FILE (fsynced)
 * for each write that was acknowledged, after it was. It stops at the
 * first error and says which. Block i goes to device block
 * N + ((i - N) * K mod R), K coprime with R (R defaults to M, M <= R): the
 * writes land scattered over the region N..N+R-1, once each, so that runs
 * given disjoint regions never overwrite each other.
 *
 * verify: reads every block FILE lists back (O_DIRECT) and reports each
 * one missing (another block, or none, is there) or wrong (the block's
 * header is there but its content differs); a later line for the same
 * device block supersedes an earlier one.
 *
 * Every block describes itself: magic, run id (random, one per write
 * command), block number, device block, a SHA-256 of the rest, and a
 * pattern generated from run id and block number, so verify needs nothing
 * but the log line. Exit status: 0 all written / all present, 1 an error
 * stopped the writer / a block is missing or wrong (or unreadable),
 * 2 usage error.
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <linux/aio_abi.h>
#include <linux/fs.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <openssl/evp.h>

#define PROG		"georep-ackcheck"
#define BS		4096
#define ACK_MAGIC	0x4b4843414b435247ULL	/* "GRCKACHK" little-endian */
#define HDR_LEN		64	/* magic, run, block, pos, sha256 */
#define SUM_OFF		32
#define SUM_LEN		32

struct ack_hdr {
	uint64_t magic;
	uint64_t run;
	uint64_t block;
	uint64_t pos;
	uint8_t sum[SUM_LEN];
};

struct ack_entry {
	uint64_t run, block, pos;
	size_t line;
};

static const char usage_text[] =
	"usage: " PROG " write DEV --log FILE --first N --count M [--region-blocks R]\n"
	"                     [--aio [--plain-first B]]\n"
	"       " PROG " verify DEV --log FILE\n"
	"       " PROG " --help\n";

static const char help_text[] =
	"\n"
	"The acknowledged-write checker: every write the device acknowledged must\n"
	"be readable afterwards (after a failover: on the new primary).\n"
	"\n"
	"write   write blocks N..N+M-1 (4 KiB each, O_DIRECT|O_DSYNC, one at a\n"
	"        time) and append \"ack RUN BLOCK POS\" to FILE, fsynced, after\n"
	"        each acknowledged write; stop at the first error\n"
	"        block i goes to device block N + ((i - N) * K mod R), K coprime\n"
	"        with R: give each run its own region N..N+R-1\n"
	"  --log FILE            the acknowledgment log (appended to)\n"
	"  --first N             first block number (and region start)\n"
	"  --count M             number of blocks to write\n"
	"  --region-blocks R     region size in blocks (default M; M <= R)\n"
	"  --aio                 write with Linux AIO and RWF_DSYNC: the kernel\n"
	"                        sends REQ_FUA and no flush after it (a\n"
	"                        synchronous O_DSYNC write of a block device is\n"
	"                        followed by a flush)\n"
	"  --plain-first B       with --aio: before each block, a plain O_DIRECT\n"
	"                        write (no DSYNC) of it to device block\n"
	"                        B + (POS - N): completed, not yet durable, right\n"
	"                        before the FUA write (crash replay tests)\n"
	"verify  read back every block FILE lists; report each missing or wrong\n"
	"  --log FILE            the acknowledgment log\n"
	"\n"
	"Exit status: 0 all M acknowledged / all present; 1 an error stopped the\n"
	"writer / a block is missing, wrong or unreadable; 2 usage error.\n";

static int usage_error(const char *msg)
{
	if (msg)
		fprintf(stderr, PROG ": %s\n", msg);
	fputs(usage_text, stderr);
	return 2;
}

static int parse_u64(const char *s, uint64_t *v)
{
	char *end;

	if (!*s || *s == '-')
		return -1;
	errno = 0;
	*v = strtoull(s, &end, 0);
	return errno || *end ? -1 : 0;
}

static uint64_t gcd(uint64_t a, uint64_t b)
{
	while (b) {
		uint64_t t = a % b;

		a = b;
		b = t;
	}
	return a;
}

/* a multiplier near 0.618 R, coprime with R: consecutive blocks scatter */
static uint64_t region_mult(uint64_t r)
{
	uint64_t k = r * 618 / 1000;

	if (!k)
		k = 1;
	while (gcd(k, r) != 1)
		k++;
	return k;
}

/* the block's pattern: xorshift64* seeded from run and block number */
static void fill_pattern(uint8_t *p, size_t len, uint64_t run, uint64_t block)
{
	uint64_t x = run ^ (block * 0x9e3779b97f4a7c15ULL) ^ 0x5851f42d4c957f2dULL;
	size_t i;

	if (!x)
		x = 1;
	for (i = 0; i + 8 <= len; i += 8) {
		uint64_t v;

		x ^= x >> 12;
		x ^= x << 25;
		x ^= x >> 27;
		v = htole64(x * 0x2545f4914f6cdd1dULL);
		memcpy(p + i, &v, 8);
	}
}

/* SHA-256 of the block without its sum field */
static int block_sum(const uint8_t *buf, uint8_t *sum)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned int len = 0;
	int ok;

	if (!ctx)
		return -ENOMEM;
	ok = EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) &&
	     EVP_DigestUpdate(ctx, buf, SUM_OFF) &&
	     EVP_DigestUpdate(ctx, buf + HDR_LEN, BS - HDR_LEN) &&
	     EVP_DigestFinal_ex(ctx, sum, &len);
	EVP_MD_CTX_free(ctx);
	return ok && len == SUM_LEN ? 0 : -EIO;
}

static int make_block(uint8_t *buf, uint64_t run, uint64_t block, uint64_t pos)
{
	struct ack_hdr h = {
		.magic = htole64(ACK_MAGIC),
		.run = htole64(run),
		.block = htole64(block),
		.pos = htole64(pos),
	};

	memset(buf, 0, BS);
	memcpy(buf, &h, sizeof(h));
	fill_pattern(buf + HDR_LEN, BS - HDR_LEN, run, block);
	return block_sum(buf, buf + SUM_OFF);
}

/* size of DEV in blocks (a block device or a regular file) */
static int dev_blocks(int fd, uint64_t *blocks)
{
	struct stat st;
	uint64_t bytes;

	if (fstat(fd, &st))
		return -errno;
	if (S_ISBLK(st.st_mode)) {
		if (ioctl(fd, BLKGETSIZE64, &bytes))
			return -errno;
	} else {
		bytes = st.st_size;
	}
	*blocks = bytes / BS;
	return 0;
}

struct args {
	const char *dev, *log;
	uint64_t first, count, region;
	bool has_first, has_count, has_region;
	bool aio;
	bool has_plain;
	uint64_t plain;
};

/* Return: 0, 1 for --help (printed), or 2 (usage error printed). */
static int parse_args(int argc, char *argv[], bool is_write, struct args *a)
{
	static const struct option opts[] = {
		{ "log", required_argument, NULL, 'l' },
		{ "first", required_argument, NULL, 'f' },
		{ "count", required_argument, NULL, 'c' },
		{ "region-blocks", required_argument, NULL, 'r' },
		{ "aio", no_argument, NULL, 'a' },
		{ "plain-first", required_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	char msg[160];
	int opt;

	memset(a, 0, sizeof(*a));
	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		const char *name = NULL;
		uint64_t *v = NULL;
		bool *has = NULL;

		switch (opt) {
		case 'h':
			fputs(usage_text, stdout);
			fputs(help_text, stdout);
			return 1;
		case 'l':
			a->log = optarg;
			continue;
		case 'a':
			if (!is_write)
				return usage_error("--aio is only for write");
			a->aio = true;
			continue;
		case 'f':
			name = "--first";
			v = &a->first;
			has = &a->has_first;
			break;
		case 'c':
			name = "--count";
			v = &a->count;
			has = &a->has_count;
			break;
		case 'r':
			name = "--region-blocks";
			v = &a->region;
			has = &a->has_region;
			break;
		case 'p':
			name = "--plain-first";
			v = &a->plain;
			has = &a->has_plain;
			break;
		case ':':
			snprintf(msg, sizeof(msg), "%s needs a value", argv[optind - 1]);
			return usage_error(msg);
		default:
			snprintf(msg, sizeof(msg), "unknown option '%s'", argv[optind - 1]);
			return usage_error(msg);
		}
		if (!is_write) {
			snprintf(msg, sizeof(msg), "%s is only for write", name);
			return usage_error(msg);
		}
		if (parse_u64(optarg, v)) {
			snprintf(msg, sizeof(msg), "bad number '%s' for %s", optarg, name);
			return usage_error(msg);
		}
		*has = true;
	}
	if (optind >= argc)
		return usage_error("missing DEV");
	if (optind + 1 < argc) {
		snprintf(msg, sizeof(msg), "unexpected argument '%s'", argv[optind + 1]);
		return usage_error(msg);
	}
	a->dev = argv[optind];
	if (!a->log)
		return usage_error("missing --log FILE");
	if (!is_write)
		return 0;
	if (!a->has_first || !a->has_count)
		return usage_error("write needs --first N and --count M");
	if (!a->count)
		return usage_error("--count must be at least 1");
	if (!a->has_region)
		a->region = a->count;
	if (a->count > a->region)
		return usage_error("--count is larger than --region-blocks");
	if (a->first + a->region < a->first ||
	    a->first + a->region > UINT64_MAX / BS)
		return usage_error("region beyond any device");
	if (a->has_plain && !a->aio)
		return usage_error("--plain-first goes with --aio");
	if (a->has_plain && (a->plain + a->region < a->plain ||
			     a->plain + a->region > UINT64_MAX / BS))
		return usage_error("--plain-first region beyond any device");
	return 0;
}

/*
 * One O_DIRECT write through Linux AIO with RWF_DSYNC, waited for: the
 * block device sends it with REQ_FUA and, the kiocb being asynchronous,
 * issues no flush after it, as for any asynchronous O_DSYNC writer.
 */
static ssize_t aio_write_dsync(aio_context_t ctx, int fd, const void *buf,
			       size_t len, off_t off)
{
	struct iocb cb = {
		.aio_fildes = fd,
		.aio_lio_opcode = IOCB_CMD_PWRITE,
		.aio_buf = (uintptr_t)buf,
		.aio_nbytes = len,
		.aio_offset = off,
		.aio_rw_flags = RWF_DSYNC,
	};
	struct iocb *cbs[1] = { &cb };
	struct io_event ev;
	long n;

	if (syscall(SYS_io_submit, ctx, 1, cbs) != 1)
		return -1;
	do {
		n = syscall(SYS_io_getevents, ctx, 1, 1, &ev, NULL);
	} while (n < 0 && errno == EINTR);
	if (n != 1)
		return -1;
	if (ev.res < 0) {
		errno = -ev.res;
		return -1;
	}
	return ev.res;
}

static ssize_t write_block(const struct args *a, aio_context_t ctx, int fd,
			   const void *buf, uint64_t pos)
{
	if (!a->aio)
		return pwrite(fd, buf, BS, (off_t)(pos * BS));
	if (a->has_plain &&
	    pwrite(fd, buf, BS, (off_t)((a->plain + pos - a->first) * BS)) != BS)
		return -1;
	return aio_write_dsync(ctx, fd, buf, BS, (off_t)(pos * BS));
}

static int cmd_write(const struct args *a)
{
	aio_context_t ctx = 0;
	uint64_t run, k, mult = region_mult(a->region), size = 0, acked = 0;
	int fd, logfd, ret = 1;
	uint8_t *buf;

	if (getrandom(&run, sizeof(run), 0) != sizeof(run)) {
		fprintf(stderr, PROG ": getrandom: %s\n", strerror(errno));
		return 1;
	}
	if (posix_memalign((void **)&buf, BS, BS)) {
		fprintf(stderr, PROG ": out of memory\n");
		return 1;
	}
	fd = open(a->dev, O_WRONLY | O_DIRECT | (a->aio ? 0 : O_DSYNC));
	if (fd < 0) {
		fprintf(stderr, PROG ": %s: %s\n", a->dev, strerror(errno));
		goto out_free;
	}
	if (a->aio && syscall(SYS_io_setup, 1, &ctx)) {
		fprintf(stderr, PROG ": io_setup: %s\n", strerror(errno));
		goto out_close;
	}
	ret = dev_blocks(fd, &size);
	if (ret) {
		fprintf(stderr, PROG ": %s: size: %s\n", a->dev, strerror(-ret));
		ret = 1;
		goto out_close;
	}
	ret = 1;
	if (size && a->first + a->region > size) {
		fprintf(stderr, PROG ": %s: region %" PRIu64 "..%" PRIu64
			" is beyond the device's %" PRIu64 " blocks\n", a->dev, a->first,
			a->first + a->region - 1, size);
		goto out_close;
	}
	logfd = open(a->log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (logfd < 0) {
		fprintf(stderr, PROG ": %s: %s\n", a->log, strerror(errno));
		goto out_close;
	}
	printf(PROG ": run %016" PRIx64 ": writing blocks %" PRIu64 "..%" PRIu64
	       " to %s (region of %" PRIu64 " blocks)\n", run, a->first,
	       a->first + a->count - 1, a->dev, a->region);
	fflush(stdout);
	for (k = 0; k < a->count; k++) {
		uint64_t block = a->first + k;
		uint64_t pos = a->first + (k * mult) % a->region;
		ssize_t n;
		int err;

		err = make_block(buf, run, block, pos);
		if (err) {
			fprintf(stderr, PROG ": block %" PRIu64 ": checksum: %s\n", block,
				strerror(-err));
			goto out_report;
		}
		n = write_block(a, ctx, fd, buf, pos);
		if (n != BS) {
			fprintf(stderr, PROG ": block %" PRIu64 " at device block %" PRIu64
				": write %s\n", block, pos,
				n < 0 ? strerror(errno) : "short (no space?)");
			goto out_report;
		}
		if (dprintf(logfd, "ack %016" PRIx64 " %" PRIu64 " %" PRIu64 "\n", run, block,
			    pos) < 0 || fsync(logfd)) {
			fprintf(stderr, PROG ": %s: %s (block %" PRIu64
				" was acknowledged but is not logged)\n", a->log,
				strerror(errno), block);
			goto out_report;
		}
		acked++;
	}
	ret = 0;
out_report:
	printf(PROG ": run %016" PRIx64 ": %" PRIu64 " of %" PRIu64
	       " writes acknowledged%s\n", run, acked, a->count,
	       ret ? ", stopped by the error above" : "");
	close(logfd);
out_close:
	if (ctx)
		syscall(SYS_io_destroy, ctx);
	close(fd);
out_free:
	free(buf);
	return ret;
}

static int by_pos_then_line(const void *x, const void *y)
{
	const struct ack_entry *a = x, *b = y;

	if (a->pos != b->pos)
		return a->pos < b->pos ? -1 : 1;
	return a->line < b->line ? -1 : a->line > b->line;
}

/* the log's entries, sorted by device block; Return: 0 or 1 (reported) */
static int read_log(const char *path, struct ack_entry **out, size_t *nout)
{
	struct ack_entry *e = NULL, *grown;
	size_t n = 0, cap = 0, lineno = 0, len = 0;
	char *line = NULL;
	FILE *f;
	int ret = 1;

	f = fopen(path, "r");
	if (!f) {
		fprintf(stderr, PROG ": %s: %s\n", path, strerror(errno));
		return 1;
	}
	while (getline(&line, &len, f) >= 0) {
		struct ack_entry x = { .line = ++lineno };
		char tail;

		if (sscanf(line, "ack %" SCNx64 " %" SCNu64 " %" SCNu64 " %c", &x.run,
			   &x.block, &x.pos, &tail) != 3) {
			fprintf(stderr, PROG ": %s:%zu: malformed line\n", path, lineno);
			goto out;
		}
		if (n == cap) {
			cap = cap ? 2 * cap : 1024;
			grown = realloc(e, cap * sizeof(*e));
			if (!grown) {
				fprintf(stderr, PROG ": out of memory\n");
				goto out;
			}
			e = grown;
		}
		e[n++] = x;
	}
	if (ferror(f)) {
		fprintf(stderr, PROG ": %s: read error\n", path);
		goto out;
	}
	qsort(e, n, sizeof(*e), by_pos_then_line);
	*out = e;
	*nout = n;
	e = NULL;
	ret = 0;
out:
	free(e);
	free(line);
	fclose(f);
	return ret;
}

enum verdict { V_OK, V_MISSING, V_WRONG, V_UNREADABLE };

/* check one read-back block against its log entry; says why in @why */
static enum verdict judge(const uint8_t *got, uint8_t *want, const struct ack_entry *x,
			  char *why, size_t len)
{
	struct ack_hdr h;
	size_t i;

	memcpy(&h, got, sizeof(h));
	if (le64toh(h.magic) != ACK_MAGIC) {
		for (i = 0; i < BS && !got[i]; i++)
			;
		snprintf(why, len, "%s", i == BS ? "zeroes" : "no ackcheck block");
		return V_MISSING;
	}
	if (le64toh(h.run) != x->run || le64toh(h.block) != x->block) {
		snprintf(why, len, "holds block %" PRIu64 " of run %016" PRIx64,
			 (uint64_t)le64toh(h.block), (uint64_t)le64toh(h.run));
		return V_MISSING;
	}
	if (make_block(want, x->run, x->block, x->pos)) {
		snprintf(why, len, "cannot compute the checksum");
		return V_UNREADABLE;
	}
	if (memcmp(got + SUM_OFF, want + SUM_OFF, SUM_LEN)) {
		snprintf(why, len, "checksum field differs");
		return V_WRONG;
	}
	for (i = 0; i < BS && got[i] == want[i]; i++)
		;
	if (i < BS) {
		snprintf(why, len, "content differs from byte %zu", i);
		return V_WRONG;
	}
	return V_OK;
}

static int cmd_verify(const struct args *a)
{
	static const char *const names[] = { "ok", "missing", "wrong", "unreadable" };
	uint64_t count[4] = { 0 };
	struct ack_entry *e = NULL;
	uint8_t *got, *want;
	size_t n = 0, i;
	int fd, ret = 1;

	if (posix_memalign((void **)&got, BS, 2 * BS)) {
		fprintf(stderr, PROG ": out of memory\n");
		return 1;
	}
	want = got + BS;
	if (read_log(a->log, &e, &n))
		goto out_free;
	fd = open(a->dev, O_RDONLY | O_DIRECT);
	if (fd < 0) {
		fprintf(stderr, PROG ": %s: %s\n", a->dev, strerror(errno));
		goto out_free;
	}
	for (i = 0; i < n; i++) {
		const struct ack_entry *x = &e[i];
		enum verdict v;
		char why[96];
		ssize_t r;

		/* a later acknowledged write to the same device block wins */
		if (i + 1 < n && e[i + 1].pos == x->pos)
			continue;
		r = pread(fd, got, BS, (off_t)(x->pos * BS));
		if (r < 0) {
			snprintf(why, sizeof(why), "read: %s", strerror(errno));
			v = V_UNREADABLE;
		} else if (r != BS) {
			snprintf(why, sizeof(why), "beyond the end of %s", a->dev);
			v = V_MISSING;
		} else {
			v = judge(got, want, x, why, sizeof(why));
		}
		count[v]++;
		if (v != V_OK)
			printf("%s: block %" PRIu64 " of run %016" PRIx64 " at device block %"
			       PRIu64 " (log line %zu): %s\n", names[v], x->block, x->run,
			       x->pos, x->line, why);
	}
	printf(PROG ": %s: %" PRIu64 " acknowledged blocks checked: %" PRIu64 " ok, %"
	       PRIu64 " missing, %" PRIu64 " wrong, %" PRIu64 " unreadable\n", a->dev,
	       count[V_OK] + count[V_MISSING] + count[V_WRONG] + count[V_UNREADABLE],
	       count[V_OK], count[V_MISSING], count[V_WRONG], count[V_UNREADABLE]);
	ret = count[V_MISSING] || count[V_WRONG] || count[V_UNREADABLE];
	close(fd);
out_free:
	free(e);
	free(got);
	return ret;
}

int main(int argc, char *argv[])
{
	struct args a;
	bool is_write;
	int ret;

	if (argc < 2)
		return usage_error(NULL);
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		fputs(usage_text, stdout);
		fputs(help_text, stdout);
		return 0;
	}
	if (!strcmp(argv[1], "write")) {
		is_write = true;
	} else if (!strcmp(argv[1], "verify")) {
		is_write = false;
	} else {
		fprintf(stderr, PROG ": unknown command '%s'\n", argv[1]);
		return usage_error(NULL);
	}
	ret = parse_args(argc - 1, argv + 1, is_write, &a);
	if (ret)
		return ret == 1 ? 0 : ret;
	return is_write ? cmd_write(&a) : cmd_verify(&a);
}
