// SPDX-License-Identifier: GPL-2.0
/*
 * The persisted Merkle tree of a volume's ledger: see mtree.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "mtree.h"

static const char tree_magic[GD_MTREE_HDR] = "georep-mtree v1\n";
static const char leaf_magic[GD_MTREE_HDR] = "georep-mleaf v1\n";

struct gd_mtree {
	struct gr_merkle t;
	int tree_fd, leaf_fd;
	bool dirty;
	uint8_t last_chain[GEOREP_HASH_LEN];	/* of the last leaf, zeros when empty */
};

static int pread_all(int fd, void *buf, size_t len, off_t off)
{
	ssize_t n = pread(fd, buf, len, off);

	if (n < 0)
		return -errno;
	return (size_t)n == len ? 0 : -EIO;
}

static int pwrite_all(int fd, const void *buf, size_t len, off_t off)
{
	ssize_t n = pwrite(fd, buf, len, off);

	if (n < 0)
		return -errno;
	return (size_t)n == len ? 0 : -EIO;
}

static int st_get(void *ctx, uint64_t pos, gr_mhash out)
{
	struct gd_mtree *m = ctx;

	return pread_all(m->tree_fd, out, GR_MERKLE_HASH_LEN,
			 GD_MTREE_HDR + pos * GR_MERKLE_HASH_LEN);
}

static int st_append(void *ctx, uint64_t pos, const gr_mhash *h, unsigned int n)
{
	struct gd_mtree *m = ctx;

	m->dirty = true;
	return pwrite_all(m->tree_fd, h, n * GR_MERKLE_HASH_LEN,
			  GD_MTREE_HDR + pos * GR_MERKLE_HASH_LEN);
}

static int st_truncate(void *ctx, uint64_t nodes)
{
	struct gd_mtree *m = ctx;

	m->dirty = true;
	return ftruncate(m->tree_fd, GD_MTREE_HDR + nodes * GR_MERKLE_HASH_LEN) ? -errno : 0;
}

static const struct gr_merkle_store_ops file_ops = {
	.get = st_get,
	.append = st_append,
	.truncate = st_truncate,
};

/* open or create one file, check or write its header; its length in *@len */
static int open_file(const char *dir, const char *volume, const char *ext,
		     const char *magic, uint64_t *len, char *err)
{
	char path[4096], hdr[GD_MTREE_HDR];
	struct stat st;
	int fd, ret;

	snprintf(path, sizeof(path), "%s/%s.%s", dir, volume, ext);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		ret = -errno;
		snprintf(err, 256, "%.180s: %s", path, strerror(-ret));
		return ret;
	}
	if (fstat(fd, &st)) {
		ret = -errno;
		goto out_close;
	}
	if (st.st_size < GD_MTREE_HDR) {
		/* new (or a crash before its header was whole) */
		ret = ftruncate(fd, 0) ? -errno : pwrite_all(fd, magic, GD_MTREE_HDR, 0);
		if (!ret && fdatasync(fd))
			ret = -errno;
		if (ret)
			goto out_close;
		st.st_size = GD_MTREE_HDR;
	}
	ret = pread_all(fd, hdr, sizeof(hdr), 0);
	if (ret)
		goto out_close;
	if (memcmp(hdr, magic, GD_MTREE_HDR)) {
		snprintf(err, 256, "%.180s: not a georep Merkle file (bad header: want \"%.15s\")",
			 path, magic);
		close(fd);
		return -EBADMSG;
	}
	*len = st.st_size - GD_MTREE_HDR;
	return fd;

out_close:
	snprintf(err, 256, "%.180s: %s", path, strerror(-ret));
	close(fd);
	return ret;
}

/* the stored leaf of the last record must hash to the stored leaf hash */
static int check_last(struct gd_mtree *m, char *err)
{
	uint8_t leaf[GEOREP_LEAF_LEN];
	struct georep_rec rec;
	gr_mhash want, got;
	char why[128];
	int ret;

	memset(m->last_chain, 0, sizeof(m->last_chain));
	if (!m->t.size)
		return 0;
	ret = gd_mtree_leaf(m, m->t.size, leaf);
	if (!ret)
		ret = gr_merkle_leaf_at(&m->t, m->t.size - 1, want);
	if (!ret)
		ret = gr_merkle_leaf_hash(leaf, sizeof(leaf), got);
	if (ret) {
		snprintf(err, 256, "reading leaf %llu: %s", (unsigned long long)m->t.size,
			 strerror(-ret));
		return ret;
	}
	if (georep_leaf_decode(leaf, sizeof(leaf), &rec, why, sizeof(why)) ||
	    rec.seq != m->t.size) {
		snprintf(err, 256, "leaf %llu is not the leaf of record %llu",
			 (unsigned long long)m->t.size - 1, (unsigned long long)m->t.size);
		return -EBADMSG;
	}
	if (CRYPTO_memcmp(want, got, sizeof(want))) {
		snprintf(err, 256, "leaf %llu does not hash to the tree's leaf hash",
			 (unsigned long long)m->t.size - 1);
		return -EBADMSG;
	}
	memcpy(m->last_chain, rec.chain_hash, GEOREP_HASH_LEN);
	return 0;
}

int gd_mtree_open(const char *dir, const char *volume, struct gd_mtree **out, char *err)
{
	struct gd_mtree *m = calloc(1, sizeof(*m));
	uint64_t tlen, llen, size;
	int ret;

	if (!m)
		return -ENOMEM;
	m->leaf_fd = -1;
	m->tree_fd = open_file(dir, volume, "mtree", tree_magic, &tlen, err);
	if (m->tree_fd < 0) {
		ret = m->tree_fd;
		goto out_free;
	}
	m->leaf_fd = open_file(dir, volume, "mleaf", leaf_magic, &llen, err);
	if (m->leaf_fd < 0) {
		ret = m->leaf_fd;
		goto out_close;
	}
	/* a torn tail: back to the largest tree both files hold whole */
	size = gr_merkle_size_for_nodes(tlen / GR_MERKLE_HASH_LEN);
	if (llen / GEOREP_LEAF_LEN < size)
		size = llen / GEOREP_LEAF_LEN;
	if (ftruncate(m->tree_fd, GD_MTREE_HDR + gr_merkle_nodes(size) * GR_MERKLE_HASH_LEN) ||
	    ftruncate(m->leaf_fd, GD_MTREE_HDR + size * GEOREP_LEAF_LEN)) {
		ret = -errno;
		snprintf(err, 256, "cutting the tree files back to %llu leaves: %s",
			 (unsigned long long)size, strerror(-ret));
		goto out_close;
	}
	ret = gr_merkle_open(&m->t, &file_ops, m, size);
	if (ret) {
		snprintf(err, 256, "reading the compact range: %s", strerror(-ret));
		goto out_close;
	}
	ret = check_last(m, err);
	if (ret)
		goto out_close;
	*out = m;
	return 0;

out_close:
	if (m->leaf_fd >= 0)
		close(m->leaf_fd);
	close(m->tree_fd);
out_free:
	free(m);
	return ret;
}

void gd_mtree_close(struct gd_mtree *m)
{
	if (!m)
		return;
	gd_mtree_sync(m);
	close(m->tree_fd);
	close(m->leaf_fd);
	free(m);
}

uint64_t gd_mtree_size(const struct gd_mtree *m)
{
	return m->t.size;
}

const struct gr_merkle *gd_mtree_tree(const struct gd_mtree *m)
{
	return &m->t;
}

int gd_mtree_add(struct gd_mtree *m, const struct georep_rec *rec, const void *hdr)
{
	uint8_t leaf[GEOREP_LEAF_LEN];
	uint8_t chain[GEOREP_HASH_LEN];
	gr_mhash h;
	int ret;

	if (rec->seq != m->t.size + 1)
		return -ERANGE;
	ret = georep_chain_hash(m->last_chain, hdr, chain);
	if (ret)
		return ret;
	if (CRYPTO_memcmp(chain, rec->chain_hash, sizeof(chain)))
		return -EBADMSG;
	georep_leaf_encode(rec, leaf);
	ret = gr_merkle_leaf_hash(leaf, sizeof(leaf), h);
	if (ret)
		return ret;
	/* the leaf first: open() keeps only leaves whose hashes are stored too */
	m->dirty = true;
	ret = pwrite_all(m->leaf_fd, leaf, sizeof(leaf),
			 GD_MTREE_HDR + m->t.size * GEOREP_LEAF_LEN);
	if (!ret)
		ret = gr_merkle_append(&m->t, h);
	if (ret)
		return ret;
	memcpy(m->last_chain, rec->chain_hash, GEOREP_HASH_LEN);
	return 0;
}

/* @leaf (record @seq's) against the tree's: 0 the same, 1 it differs, -errno */
static int take_compare(struct gd_mtree *m, uint64_t seq, const uint8_t *leaf)
{
	uint8_t ours[GEOREP_LEAF_LEN];
	int ret = gd_mtree_leaf(m, seq, ours);

	if (ret)
		return ret;
	return memcmp(ours, leaf, GEOREP_LEAF_LEN) ? 1 : 0;
}

int gd_mtree_take(struct gd_mtree *m, uint64_t first, const uint8_t *leaves, uint32_t count,
		  uint64_t *cut)
{
	struct georep_record hdr;
	struct georep_rec rec;
	int added = 0, ret;
	uint32_t i;

	if (!first || first > m->t.size + 1)
		return -ERANGE;
	for (i = 0; i < count; i++) {
		const uint8_t *leaf = leaves + (size_t)i * GEOREP_LEAF_LEN;
		uint64_t seq = first + i;

		if (seq <= m->t.size) {
			ret = take_compare(m, seq, leaf);
			if (ret <= 0) {
				if (ret)
					return ret;
				continue;
			}
			ret = gd_mtree_truncate(m, seq - 1);
			if (ret)
				return ret;
			*cut = seq - 1;
			if (!i && seq > 1)
				return -ESTALE;
		}
		if (georep_leaf_decode(leaf, GEOREP_LEAF_LEN, &rec, NULL, 0) || rec.seq != seq)
			return -EINVAL;
		georep_leaf_header(&rec, &hdr);
		ret = gd_mtree_add(m, &rec, &hdr);
		if (ret)
			return ret;
		added++;
	}
	return added;
}

int gd_mtree_truncate(struct gd_mtree *m, uint64_t size)
{
	char err[256];
	int ret;

	if (size >= m->t.size)
		return 0;
	m->dirty = true;
	if (ftruncate(m->leaf_fd, GD_MTREE_HDR + size * GEOREP_LEAF_LEN))
		return -errno;
	ret = gr_merkle_truncate(&m->t, size);
	if (!ret)
		ret = check_last(m, err);
	return ret;
}

int gd_mtree_leaf(struct gd_mtree *m, uint64_t seq, uint8_t leaf[GEOREP_LEAF_LEN])
{
	if (!seq || seq > m->t.size)
		return -ERANGE;
	return pread_all(m->leaf_fd, leaf, GEOREP_LEAF_LEN,
			 GD_MTREE_HDR + (seq - 1) * GEOREP_LEAF_LEN);
}

int gd_mtree_leaves(struct gd_mtree *m, uint64_t seq, uint32_t count, uint8_t *out)
{
	if (!seq || !count || count > m->t.size || seq > m->t.size - count + 1)
		return -ERANGE;
	return pread_all(m->leaf_fd, out, (size_t)count * GEOREP_LEAF_LEN,
			 GD_MTREE_HDR + (seq - 1) * GEOREP_LEAF_LEN);
}

int gd_mtree_sync(struct gd_mtree *m)
{
	if (!m->dirty)
		return 0;
	if (fdatasync(m->leaf_fd) || fdatasync(m->tree_fd))
		return -errno;
	m->dirty = false;
	return 0;
}
