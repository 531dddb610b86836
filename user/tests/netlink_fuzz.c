// SPDX-License-Identifier: GPL-2.0
/*
 * georep-nl-fuzz: random requests to the "georep" generic netlink family.
 *
 *   georep-nl-fuzz [--seed N] [--iters N] [--timeout SEC] [--verbose]
 *                  [--dev PATH]... [VOLUME]...
 *
 * Each request has a random command (mostly real ones, sometimes 0 or one
 * past the last), random netlink flags now and then, and either the
 * attributes its command needs (valid, so that the volume code runs) with
 * some mutated, or random attributes: any type (also 0 and past
 * GEOREP_A_MAX), well-typed values with edge cases, random bytes of random
 * lengths, strings from a pool (VOLUME names, --dev paths, ".", "..",
 * names with "/" or without their NUL, 31 and 32 characters), nests with
 * and without NLA_F_NESTED up to three deep, key arrays. Messages are built
 * with libnl only. The same seed gives the same requests.
 *
 * A request the kernel does not answer within --timeout seconds (default
 * 30) is a hang: the program stops with status 1. Kernel oopses and
 * warnings are for the caller to see in dmesg (selftests/kmod/54-netlink-
 * fuzz.sh runs this in the VM). Output: a summary of errnos per command.
 * Exit status: 0 done, 1 hang or setup failure, 2 usage, 4 skip.
 */
#include <sys/time.h>
#include <time.h>

#include "netlink_abi.h"

int family;
int test_nr;
int failures;

static uint64_t rng_state;

/* splitmix64: small, fast, and the same everywhere */
static uint64_t rnd64(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* 0..n-1 */
static uint32_t rnd(uint32_t n)
{
	return n ? (uint32_t)(rnd64() % n) : 0;
}

static const char *pool[64];
static int npool;
static int nvols;	/* pool[NFIXED...]: the VOLUME arguments */
#define NFIXED	16

static void pool_add(const char *s)
{
	if (npool < (int)(sizeof(pool) / sizeof(pool[0])))
		pool[npool++] = s;
}

static void pool_init(char **volumes, int nvol, char **devs, int ndev)
{
	static const char *const fixed[] = {
		"fz", "fz-new", ".", "..", "...", "a/b", "/", "", "vol name",
		"v\xff", "0123456789012345678901234567890",	/* 31 */
		"01234567890123456789012345678901",		/* 32 */
		"/dev/null", "/nonexistent", "/dev/loop0", "relative/path",
	};
	unsigned int i;

	_Static_assert(sizeof(fixed) / sizeof(fixed[0]) == NFIXED, "NFIXED");
	for (i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
		pool_add(fixed[i]);
	for (i = 0; i < (unsigned int)nvol; i++)
		pool_add(volumes[i]);
	nvols = nvol;
	for (i = 0; i < (unsigned int)ndev; i++)
		pool_add(devs[i]);
}

enum kind { K_STR, K_FLAG, K_U8, K_U32, K_U64, K_BIN16, K_BIN32, K_KEYS, K_ANY };

/* what each GEOREP_A_* holds (the kernel only takes some per command) */
static enum kind attr_kind(int type)
{
	switch (type) {
	case GEOREP_A_NAME: case GEOREP_A_DATA_PATH: case GEOREP_A_LOG_PATH:
		return K_STR;
	case GEOREP_A_FORMAT: case GEOREP_A_TRUNCATE_APPLIED:
		return K_FLAG;
	case GEOREP_A_ROLE: case GEOREP_A_COMMIT_RULE: case GEOREP_A_LOG_HIGH_WM:
	case GEOREP_A_LOG_LOW_WM: case GEOREP_A_THROTTLED: case GEOREP_A_EVENT:
	case GEOREP_A_DIVERGED: case GEOREP_A_IO_STATE:
		return K_U8;
	case GEOREP_A_SITE_ID: case GEOREP_A_MINOR: case GEOREP_A_SEAL_EPOCH:
	case GEOREP_A_OPEN_COUNT: case GEOREP_A_ERROR:
		return K_U32;
	case GEOREP_A_UUID:
		return K_BIN16;
	case GEOREP_A_CHAIN_HASH:
		return K_BIN32;
	case GEOREP_A_KEYS:
		return K_KEYS;
	case GEOREP_A_UNSPEC: case GEOREP_A_PAD:
		return K_ANY;
	default:
		return type <= GEOREP_A_MAX ? K_U64 : K_ANY;
	}
}

static uint64_t edge_value(void)
{
	static const uint64_t edges[] = {
		0, 1, 2, 3, 4, 5, 7, 8, 9, 99, 100, 101, 127, 128, 255, 256,
		65535, 0x7fffffff, 0x80000000, 0xffffffff, 1ULL << 32,
		(1ULL << 63) - 1, 1ULL << 63, UINT64_MAX - 1, UINT64_MAX,
	};

	switch (rnd(3)) {
	case 0:
		return edges[rnd(sizeof(edges) / sizeof(edges[0]))];
	case 1:
		return rnd(2000);
	default:
		return rnd64();
	}
}

static void put_random_bytes(struct nl_msg *msg, int type, int len)
{
	uint8_t buf[96];
	int i;

	for (i = 0; i < len; i++)
		buf[i] = rnd(4) ? (uint8_t)rnd64() : 0;
	nla_put(msg, type, len, buf);
}

static void put_string(struct nl_msg *msg, int type)
{
	const char *s = pool[rnd(npool)];
	char buf[80] = "";
	int len;

	if (rnd(8)) {
		nla_put_string(msg, type, s);
		return;
	}
	/* without its NUL, or with a byte after it */
	len = snprintf(buf, sizeof(buf) - 2, "%s", s);
	if (len > (int)sizeof(buf) - 3)
		len = sizeof(buf) - 3;
	if (rnd(2)) {
		buf[len + 1] = 'x';
		len += 2;
	}
	nla_put(msg, type, len, buf);
}

static void put_attr(struct nl_msg *msg, int type, int depth);

/* GEOREP_A_KEYS: entries mostly right, sometimes not */
static void put_keys_fuzzed(struct nl_msg *msg, int type)
{
	struct nlattr *keys = nla_nest_start(msg, type | (rnd(8) ? NLA_F_NESTED : 0));
	int n = rnd(11), i;

	for (i = 0; i < n; i++) {
		int etype = rnd(8) ? GEOREP_A_KEY : (int)rnd(4);
		struct nlattr *key = nla_nest_start(msg, etype |
						    (rnd(10) ? NLA_F_NESTED : 0));

		if (rnd(6))
			nla_put_u32(msg, GEOREP_KEY_A_EPOCH,
				    rnd(4) ? (uint32_t)(i + 1) : (uint32_t)edge_value());
		if (rnd(6))
			put_random_bytes(msg, GEOREP_KEY_A_DATA,
					 rnd(5) ? GEOREP_KEY_LEN : (int)rnd(64));
		if (!rnd(6))
			put_attr(msg, rnd(5), 2);
		nla_nest_end(msg, key);
	}
	nla_nest_end(msg, keys);
}

/* a nest of random attributes, with or without NLA_F_NESTED */
static void put_nest(struct nl_msg *msg, int type, int depth)
{
	struct nlattr *nest = nla_nest_start(msg, type | (rnd(2) ? NLA_F_NESTED : 0));
	int n = rnd(4), i;

	for (i = 0; i < n; i++)
		put_attr(msg, rnd(GEOREP_A_MAX + 3), depth + 1);
	nla_nest_end(msg, nest);
}

static void put_typed(struct nl_msg *msg, int type, enum kind k)
{
	switch (k) {
	case K_STR:
		put_string(msg, type);
		break;
	case K_FLAG:
		nla_put_flag(msg, type);
		break;
	case K_U8:
		nla_put_u8(msg, type, rnd(3) ? (uint8_t)rnd(5) : (uint8_t)edge_value());
		break;
	case K_U32:
		nla_put_u32(msg, type, (uint32_t)edge_value());
		break;
	case K_U64:
		nla_put_u64(msg, type, edge_value());
		break;
	case K_BIN16:
		put_random_bytes(msg, type, 16);
		break;
	case K_BIN32:
		put_random_bytes(msg, type, 32);
		break;
	case K_KEYS:
		put_keys_fuzzed(msg, type);
		break;
	case K_ANY:
		put_random_bytes(msg, type, rnd(40));
		break;
	}
}

static void put_attr(struct nl_msg *msg, int type, int depth)
{
	switch (rnd(10)) {
	case 0:
		put_random_bytes(msg, type, rnd(80));
		break;
	case 1:
		put_string(msg, type);
		break;
	case 2:
		if (depth < 3) {
			put_nest(msg, type, depth);
			break;
		}
		/* fall through */
	default:
		put_typed(msg, type, attr_kind(type));
		break;
	}
}

/* mostly one of the --dev paths (after the VOLUME arguments in the pool) */
static void put_path(struct nl_msg *msg, int type)
{
	int ndevs = npool - NFIXED - nvols;

	if (ndevs > 0 && rnd(3))
		nla_put_string(msg, type, pool[NFIXED + nvols + rnd(ndevs)]);
	else
		put_typed(msg, type, K_STR);
}

/* the attributes @cmd needs, valid, so that the volume code runs */
/* LOG_RESET's anchor: noise, or a header that gets past the first checks */
static void put_anchor(struct nl_msg *msg)
{
	struct georep_record rec;
	uint8_t *p = (uint8_t *)&rec;
	size_t i;

	for (i = 0; i < sizeof(rec); i++)
		p[i] = rnd(256);
	if (rnd(2)) {
		rec.magic = htole32(GEOREP_RECORD_MAGIC);
		rec.version = htole16(GEOREP_RECORD_VERSION);
		rec.op = htole16(rnd(__GEOREP_OP_MAX + 1));
		rec.seq = htole64(edge_value());
		rec.seal_epoch = htole32(rnd(4));
		rec.flags = 0;
		rec.reserved0 = 0;
		memset(rec.reserved, 0, sizeof(rec.reserved));
	}
	if (rnd(8))
		nla_put(msg, GEOREP_A_RECORD, sizeof(rec), &rec);
	else
		nla_put(msg, GEOREP_A_RECORD, rnd(sizeof(rec) + 8), &rec);
}

static void put_needed(struct nl_msg *msg, uint8_t cmd)
{
	static const uint8_t hash[GEOREP_HASH_LEN];

	/* mostly a volume that exists (the VOLUME arguments come last) */
	if (npool > NFIXED && rnd(4))
		nla_put_string(msg, GEOREP_A_NAME, pool[NFIXED + rnd(nvols)]);
	else
		put_typed(msg, GEOREP_A_NAME, K_STR);
	switch (cmd) {
	case GEOREP_CMD_VOLUME_NEW:
		put_path(msg, GEOREP_A_DATA_PATH);
		put_path(msg, GEOREP_A_LOG_PATH);
		if (rnd(2))
			nla_put_flag(msg, GEOREP_A_FORMAT);
		put_keys(msg, 1 + rnd(3));
		break;
	case GEOREP_CMD_VOLUME_SET:
		if (rnd(2)) {
			nla_put_u8(msg, GEOREP_A_ROLE, rnd(2));
			nla_put_u64(msg, GEOREP_A_TERM, rnd(2) ? rnd(40) : edge_value());
		}
		if (rnd(2))
			nla_put_u64(msg, GEOREP_A_COMMIT_SEQ, edge_value());
		if (rnd(3) == 0)
			nla_put_u8(msg, GEOREP_A_IO_STATE, rnd(3));
		break;
	case GEOREP_CMD_KEY_SET:
		put_keys(msg, 1 + rnd(8));
		break;
	case GEOREP_CMD_LOG_RELEASE:
		nla_put_u64(msg, GEOREP_A_RELEASE_SEQ, edge_value());
		break;
	case GEOREP_CMD_LOG_TRUNCATE:
		nla_put_u64(msg, GEOREP_A_TRUNCATE_SEQ, edge_value());
		break;
	case GEOREP_CMD_LOG_RESET:
		if (rnd(2))
			nla_put_u64(msg, GEOREP_A_RESET_SEQ, edge_value());
		if (rnd(2))
			nla_put_u64(msg, GEOREP_A_TERM, edge_value());
		if (rnd(2))
			nla_put(msg, GEOREP_A_CHAIN_HASH, sizeof(hash), hash);
		put_anchor(msg);
		break;
	default:
		break;
	}
}

static uint8_t pick_cmd(void)
{
	uint32_t r = rnd(20);

	if (r == 0)
		return 0;
	if (r == 1)
		return GEOREP_CMD_MAX + 1 + rnd(3);
	return 1 + rnd(GEOREP_CMD_MAX);
}

static struct nl_msg *build(uint8_t *cmd_out, int *flags_out)
{
	uint8_t cmd = pick_cmd();
	int flags = rnd(10) ? 0 : NLM_F_DUMP;
	struct nl_msg *msg = req(cmd, flags);
	struct nlmsghdr *nlh = nlmsg_hdr(msg);
	int i, n;

	/* now and then a header the core must refuse */
	if (!rnd(40))
		nlh->nlmsg_flags |= 1u << (4 + rnd(12));
	if (!rnd(60))
		((struct genlmsghdr *)nlmsg_data(nlh))->reserved = 1 + rnd(255);
	/* needed only (the volume code runs), needed and a few more, random */
	switch (rnd(10)) {
	case 0: case 1: case 2: case 3:
		put_needed(msg, cmd);
		n = 0;
		break;
	case 4: case 5: case 6:
		put_needed(msg, cmd);
		n = 1 + rnd(2);
		break;
	default:
		n = rnd(rnd(3) ? 4 : 10);
		break;
	}
	for (i = 0; i < n; i++) {
		int type = rnd(5) ? 1 + (int)rnd(GEOREP_A_MAX) : (int)rnd(GEOREP_A_MAX + 8);

		if (!rnd(30))
			type |= rnd(2) ? NLA_F_NESTED : NLA_F_NET_BYTEORDER;
		put_attr(msg, type, 0);
	}
	*cmd_out = cmd;
	*flags_out = nlh->nlmsg_flags;
	return msg;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* errnos seen per command (0..GEOREP_CMD_MAX + 3) */
#define NCMD	(GEOREP_CMD_MAX + 4)
#define NERR	140
static unsigned int seen[NCMD][NERR];

static void summary(void)
{
	int c, e;

	for (c = 0; c < NCMD; c++) {
		char line[512];
		int len = 0;

		for (e = 0; e < NERR; e++)
			if (seen[c][e])
				len += snprintf(line + len, sizeof(line) - len, " %s:%u",
						e ? strerror(e) : "ok", seen[c][e]);
		if (len)
			printf("# cmd %d:%s\n", c, line);
	}
}

static int usage(const char *argv0)
{
	fprintf(stderr, "usage: %s [--seed N] [--iters N] [--timeout SEC] [--verbose] [--dev PATH]... [VOLUME]...\n",
		argv0);
	return 2;
}

int main(int argc, char **argv)
{
	unsigned long long seed = 1, iters = 2000, i;
	char *vols[16], *devs[16];
	int nvol = 0, ndev = 0, timeout = 30, a;
	bool verbose = false;
	struct timeval tv;
	struct nl_sock *sk;

	for (a = 1; a < argc; a++) {
		if (!strcmp(argv[a], "--seed") && a + 1 < argc)
			seed = strtoull(argv[++a], NULL, 0);
		else if (!strcmp(argv[a], "--iters") && a + 1 < argc)
			iters = strtoull(argv[++a], NULL, 0);
		else if (!strcmp(argv[a], "--timeout") && a + 1 < argc)
			timeout = atoi(argv[++a]);
		else if (!strcmp(argv[a], "--verbose"))
			verbose = true;
		else if (!strcmp(argv[a], "--dev") && a + 1 < argc && ndev < 16)
			devs[ndev++] = argv[++a];
		else if (argv[a][0] != '-' && nvol < 16)
			vols[nvol++] = argv[a];
		else
			return usage(argv[0]);
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (geteuid() != 0) {
		printf("# needs root\n");
		return 4;
	}
	sk = nl_open();
	family = genl_ctrl_resolve(sk, GEOREP_GENL_NAME);
	if (family < 0) {
		printf("# genetlink family %s not registered\n", GEOREP_GENL_NAME);
		return 4;
	}
	/* a request without an answer in time is a hang */
	tv.tv_sec = timeout > 0 ? timeout : 30;
	tv.tv_usec = 0;
	setsockopt(nl_socket_get_fd(sk), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));

	rng_state = seed;
	pool_init(vols, nvol, devs, ndev);
	printf("# seed %llu, %llu requests\n", seed, iters);
	for (i = 0; i < iters; i++) {
		struct result r;
		struct nl_msg *msg;
		uint8_t cmd;
		int flags, len, e;
		double t;

		msg = build(&cmd, &flags);
		len = (int)nlmsg_hdr(msg)->nlmsg_len;
		t = now_s();
		xfer(sk, msg, &r);
		t = now_s() - t;
		e = -r.error;
		if (verbose)
			printf("# %llu: cmd %u flags %#x len %d: %s \"%s\" (%.3f s)\n",
			       i, cmd, flags, len, e ? strerror(e) : "ok", r.msg, t);
		if (r.error == -EIO && t >= tv.tv_sec - 1) {
			printf("# request %llu (cmd %u flags %#x len %d): no answer in %ld s: hang\n",
			       i, cmd, flags, len, (long)tv.tv_sec);
			summary();
			return 1;
		}
		seen[cmd < NCMD ? cmd : NCMD - 1][e >= 0 && e < NERR ? e : NERR - 1]++;
	}
	summary();
	printf("# %llu requests, seed %llu: every one answered\n", iters, seed);
	nl_socket_free(sk);
	return 0;
}
