// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests of the persisted Merkle tree (user/georepd/mtree.c): chained
 * NOOP records are added, the files reopened (no rehash: the root comes
 * from the compact range on disk), torn and damaged, and the roots
 * compared with an in-memory tree of the same leaves.
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../mtree.h"
#include "ktap.h"

#define NREC 100

static char dir[] = "/tmp/georep-mtree-XXXXXX";
static char err[256];
/* the records' raw headers, chained; hdrs[seq] */
static struct georep_record hdrs[NREC + 2];
static gr_mhash leafh[NREC + 2];

static void mkrec(uint64_t seq, uint64_t term, const uint8_t *prev)
{
	struct georep_record *h = &hdrs[seq];
	struct georep_rec rec;

	memset(h, 0, sizeof(*h));
	h->magic = htole32(GEOREP_RECORD_MAGIC);
	h->version = htole16(GEOREP_RECORD_VERSION);
	h->op = htole16(GEOREP_OP_NOOP);
	h->seq = htole64(seq);
	h->term = htole64(term);
	h->timestamp_ns = htole64(1000 + seq);
	h->site_id = htole32(1);
	h->seal_epoch = htole32(1);
	georep_payload_hash(NULL, 0, h->payload_hash);
	georep_chain_hash(prev, h, h->chain_hash);
	georep_record_decode(h, sizeof(*h), &rec, NULL, 0);
	georep_leaf_hash(&rec, leafh[seq]);
}

static void mkchain(uint64_t from, uint64_t to, uint64_t term)
{
	static const uint8_t zero[GEOREP_HASH_LEN];
	uint64_t s;

	for (s = from; s <= to; s++)
		mkrec(s, term, s == 1 ? zero : hdrs[s - 1].chain_hash);
}

static int add(struct gd_mtree *m, uint64_t seq)
{
	struct georep_rec rec;

	if (georep_record_decode(&hdrs[seq], sizeof(hdrs[seq]), &rec, NULL, 0))
		return -EINVAL;
	return gd_mtree_add(m, &rec, &hdrs[seq]);
}

/* root of the first @n leaves of leafh[], from a fresh in-memory tree */
static void want_root(uint64_t n, gr_mhash out)
{
	struct gr_merkle_mem mem = { 0 };
	struct gr_merkle t;
	uint64_t s;

	gr_merkle_open(&t, &gr_merkle_mem_ops, &mem, 0);
	for (s = 1; s <= n; s++)
		gr_merkle_append(&t, leafh[s]);
	gr_merkle_root(&t, out);
	gr_merkle_mem_free(&mem);
}

static bool root_is(struct gd_mtree *m, uint64_t n)
{
	gr_mhash a, b;

	want_root(n, b);
	return gd_mtree_size(m) == n && !gr_merkle_root(gd_mtree_tree(m), a) &&
	       !memcmp(a, b, sizeof(a));
}

static void cut(const char *ext, off_t by)
{
	char p[512];
	struct stat st;

	snprintf(p, sizeof(p), "%s/v.%s", dir, ext);
	CHECK(stat(p, &st) == 0 && truncate(p, st.st_size - by) == 0);
}

static void test_add_reopen(void)
{
	struct gd_mtree *m;
	uint8_t leaf[GEOREP_LEAF_LEN];
	gr_mhash h;
	uint64_t s;

	CHECK(mkdtemp(dir) != NULL);
	mkchain(1, NREC + 1, 1);
	CHECK(gd_mtree_open(dir, "v", &m, err) == 0);
	CHECK(gd_mtree_size(m) == 0);
	for (s = 1; s <= NREC; s++)
		CHECK(add(m, s) == 0);
	CHECK(root_is(m, NREC));
	CHECK(gd_mtree_sync(m) == 0);
	gd_mtree_close(m);
	/* reopened: the compact range from disk, the chain continues */
	CHECK(gd_mtree_open(dir, "v", &m, err) == 0);
	CHECK(root_is(m, NREC));
	CHECK(gd_mtree_leaf(m, 42, leaf) == 0);
	CHECK(gr_merkle_leaf_hash(leaf, sizeof(leaf), h) == 0 && !memcmp(h, leafh[42], 32));
	CHECK(gd_mtree_leaf(m, NREC + 1, leaf) == -ERANGE);
	CHECK(gd_mtree_leaf(m, 0, leaf) == -ERANGE);
	/* a range in one read: the same bytes as leaf by leaf, held ones only */
	{
		static uint8_t many[NREC * GEOREP_LEAF_LEN];

		CHECK(gd_mtree_leaves(m, 1, NREC, many) == 0);
		CHECK(gd_mtree_leaf(m, 42, leaf) == 0 &&
		      !memcmp(many + 41 * GEOREP_LEAF_LEN, leaf, sizeof(leaf)));
		CHECK(gd_mtree_leaves(m, NREC, 1, many) == 0);
		CHECK(gd_mtree_leaf(m, NREC, leaf) == 0 && !memcmp(many, leaf, sizeof(leaf)));
		CHECK(gd_mtree_leaves(m, 2, NREC, many) == -ERANGE);
		CHECK(gd_mtree_leaves(m, 0, 1, many) == -ERANGE);
		CHECK(gd_mtree_leaves(m, 1, 0, many) == -ERANGE);
		CHECK(gd_mtree_leaves(m, UINT64_MAX, 2, many) == -ERANGE);
	}
	CHECK(add(m, NREC + 1) == 0);
	CHECK(root_is(m, NREC + 1));
	CHECK(gd_mtree_truncate(m, NREC) == 0);
	gd_mtree_close(m);
}

static void test_refusals(void)
{
	struct gd_mtree *m;
	struct georep_record saved;

	CHECK(gd_mtree_open(dir, "v", &m, err) == 0);
	CHECK(add(m, NREC) == -ERANGE);		/* already there */
	CHECK(add(m, NREC - 5) == -ERANGE);
	/* a record that does not chain from the last leaf */
	saved = hdrs[NREC + 1];
	hdrs[NREC + 1].chain_hash[0] ^= 1;
	CHECK(add(m, NREC + 1) == -EBADMSG);
	hdrs[NREC + 1] = saved;
	CHECK(root_is(m, NREC));
	gd_mtree_close(m);
}

static void test_torn_tails(void)
{
	struct gd_mtree *m;

	/* half a hash lost: the last leaf's subtree is incomplete */
	cut("mtree", 5);
	CHECK(gd_mtree_open(dir, "v", &m, err) == 0);
	CHECK(root_is(m, NREC - 1));
	gd_mtree_close(m);
	/* one and a bit leaves lost */
	cut("mleaf", GEOREP_LEAF_LEN + 3);
	CHECK(gd_mtree_open(dir, "v", &m, err) == 0);
	CHECK(root_is(m, NREC - 3));
	/* and the chain goes on from there */
	CHECK(add(m, NREC - 2) == 0 && add(m, NREC - 1) == 0 && add(m, NREC) == 0);
	CHECK(root_is(m, NREC));
	gd_mtree_close(m);
}

static void test_truncate_and_fork(void)
{
	struct gd_mtree *m;
	uint64_t s;

	CHECK(gd_mtree_open(dir, "v", &m, err) == 0);
	CHECK(gd_mtree_truncate(m, 60) == 0);
	CHECK(root_is(m, 60));
	/* another term's suffix after 60 */
	mkchain(61, NREC, 2);
	for (s = 61; s <= NREC; s++)
		CHECK(add(m, s) == 0);
	CHECK(root_is(m, NREC));
	gd_mtree_close(m);
	CHECK(gd_mtree_open(dir, "v", &m, err) == 0);
	CHECK(root_is(m, NREC));
	gd_mtree_close(m);
}

static void test_damage(void)
{
	char p[512];
	struct gd_mtree *m;
	uint8_t b;
	int fd;

	/* the last leaf altered: it no longer hashes to the stored leaf hash */
	snprintf(p, sizeof(p), "%s/v.mleaf", dir);
	fd = open(p, O_RDWR);
	CHECK(fd >= 0);
	CHECK(pread(fd, &b, 1, GD_MTREE_HDR + (NREC - 1) * GEOREP_LEAF_LEN + 20) == 1);
	b ^= 0x40;
	CHECK(pwrite(fd, &b, 1, GD_MTREE_HDR + (NREC - 1) * GEOREP_LEAF_LEN + 20) == 1);
	close(fd);
	CHECK(gd_mtree_open(dir, "v", &m, err) == -EBADMSG);
	CHECK(strstr(err, "does not hash"));
	/* not a tree file */
	snprintf(p, sizeof(p), "%s/w.mtree", dir);
	fd = open(p, O_WRONLY | O_CREAT, 0600);
	CHECK(fd >= 0 && write(fd, "this is not a georep Merkle tree", 32) == 32);
	close(fd);
	CHECK(gd_mtree_open(dir, "w", &m, err) == -EBADMSG);
	CHECK(strstr(err, "bad header"));
	snprintf(p, sizeof(p), "rm -rf %s", dir);
	CHECK(system(p) == 0);
}

/* the leaves of records @from..@to of tree @m, back to back */
static void leaves_of(struct gd_mtree *m, uint64_t from, uint64_t to, uint8_t *out)
{
	uint64_t s;

	for (s = from; s <= to; s++)
		CHECK(gd_mtree_leaf(m, s, out + (s - from) * GEOREP_LEAF_LEN) == 0);
}

/* gd_mtree_take(): another site's leaves, compared where they overlap */
static void test_take(void)
{
	static uint8_t l[40 * GEOREP_LEAF_LEN];
	struct gd_mtree *a, *b;
	uint64_t cut = 0, s;

	mkchain(1, 30, 1);
	CHECK(gd_mtree_open(dir, "ta", &a, err) == 0);
	for (s = 1; s <= 30; s++)
		CHECK(add(a, s) == 0);
	leaves_of(a, 1, 30, l);
	/* behind: one leaf of overlap, the rest added */
	CHECK(gd_mtree_open(dir, "tb", &b, err) == 0);
	for (s = 1; s <= 20; s++)
		CHECK(add(b, s) == 0);
	CHECK(gd_mtree_take(b, 20, l + 19 * GEOREP_LEAF_LEN, 11, &cut) == 10 && cut == 0);
	CHECK(root_is(b, 30));
	CHECK(gd_mtree_take(b, 32, l, 1, &cut) == -ERANGE);
	gd_mtree_close(b);

	/* another history after 15 (records of term 2): the first leaf asked
	 * for differs, cut back before it; from further back, cut at 16 */
	mkchain(16, 18, 2);
	CHECK(gd_mtree_open(dir, "tc", &b, err) == 0);
	for (s = 1; s <= 18; s++)
		CHECK(add(b, s) == 0);
	CHECK(gd_mtree_take(b, 18, l + 17 * GEOREP_LEAF_LEN, 13, &cut) == -ESTALE);
	CHECK(cut == 17 && gd_mtree_size(b) == 17);
	CHECK(gd_mtree_take(b, 10, l + 9 * GEOREP_LEAF_LEN, 21, &cut) == 15);
	CHECK(cut == 15);
	mkchain(1, 30, 1);
	CHECK(root_is(b, 30));
	gd_mtree_close(b);

	/* a leaf that does not chain: refused, the leaves before it stay */
	CHECK(gd_mtree_open(dir, "td", &b, err) == 0);
	for (s = 1; s <= 5; s++)
		CHECK(add(b, s) == 0);
	l[6 * GEOREP_LEAF_LEN + 112] ^= 1;	/* chain_hash of record 7 */
	cut = 0;
	CHECK(gd_mtree_take(b, 5, l + 4 * GEOREP_LEAF_LEN, 4, &cut) == -EBADMSG);
	CHECK(cut == 0 && root_is(b, 6));
	/* not a leaf of the record its place says */
	CHECK(gd_mtree_take(b, 7, l, 1, &cut) == -EINVAL && gd_mtree_size(b) == 6);
	gd_mtree_close(b);
	gd_mtree_close(a);
	mkchain(1, NREC + 1, 1);
}

static const struct ktap_case cases[] = {
	{ "mtree_add_reopen", test_add_reopen },
	{ "mtree_refusals", test_refusals },
	{ "mtree_torn_tails", test_torn_tails },
	{ "mtree_truncate_and_fork", test_truncate_and_fork },
	{ "mtree_take", test_take },
	{ "mtree_damage", test_damage },
};

int main(void)
{
	return ktap_run(cases, sizeof(cases) / sizeof(cases[0]));
}
