// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests of the in-process ledger (ledger_mem.c) and fork files: the
 * kernel's rules hold (roles, seq continuity, term, chain, seal, truncation
 * above commit, reset), records survive a reopen, a torn tail is cut, and a
 * fork file holds exactly the records it names.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "georep/record.h"
#include "../fork.h"
#include "../ledger.h"
#include "ktap.h"

#define DATA_BYTES	(1 << 20)

static char dir_p[64], dir_s[64];

static struct gd_ledger *open_ledger(const char *dir, uint32_t site)
{
	char err[GD_LEDGER_ERRLEN];
	struct gd_ledger *l = NULL;
	int ret = gd_ledger_mem_open(dir, "vol", site, DATA_BYTES, &l, err);

	CHECK_MSG(!ret, "open %s: %d %s", dir, ret, err);
	return l;
}

static void fresh_dirs(void)
{
	char cmd[200];

	snprintf(cmd, sizeof(cmd), "rm -rf %s %s", dir_p, dir_s);
	if (system(cmd))
		CHECK(0);
	mkdir(dir_p, 0700);
	mkdir(dir_s, 0700);
}

static uint64_t written(struct gd_ledger *l)
{
	struct gd_ledger_status st;

	l->ops->status(l, &st);
	return st.written_seq;
}

/* fresh ledgers: @p primary and @s secondary in @term; 0, or -1 (a check failed) */
static int open_pair(uint64_t term, struct gd_ledger **p, struct gd_ledger **s)
{
	fresh_dirs();
	*p = open_ledger(dir_p, 1);
	*s = open_ledger(dir_s, 2);
	if (!*p || !*s)
		return -1;
	CHECK(!(*p)->ops->set_role(*p, GEOREP_ROLE_PRIMARY, term));
	CHECK(!(*s)->ops->set_role(*s, GEOREP_ROLE_SECONDARY, term));
	return 0;
}

/* Copy records from..to of @p into @s; Return: 0 or the first error. */
static int copy(struct gd_ledger *p, struct gd_ledger *s, uint64_t from, uint64_t to)
{
	static uint8_t buf[1 << 20];
	uint64_t seq = from;

	while (seq <= to) {
		ssize_t n = p->ops->read(p, seq, buf, sizeof(buf));
		size_t off = 0, start;
		struct georep_rec rec;
		const uint8_t *hdr, *payload;

		if (n <= 0)
			return n ? (int)n : -ENODATA;
		for (start = 0; seq <= to &&
		     !georep_record_next(buf, n, &off, &rec, &hdr, &payload, NULL, 0);
		     start = off) {
			n = s->ops->append(s, buf + start, off - start);
			if (n < 0)
				return (int)n;
			if (n != (ssize_t)(off - start))
				return -EIO;
			seq++;
		}
	}
	return 0;
}

static void test_primary_secondary_rules(void)
{
	struct gd_ledger *p, *s;
	uint8_t block[4096];
	uint64_t seq = 0;
	int i;

	fresh_dirs();
	p = open_ledger(dir_p, 1);
	s = open_ledger(dir_s, 2);
	if (!p || !s)
		return;
	memset(block, 0xab, sizeof(block));
	CHECK(p->ops->client_write(p, 0, block, sizeof(block), &seq) == -EROFS);
	CHECK(p->ops->noop(p, &seq) == -EROFS);
	CHECK(!p->ops->set_role(p, GEOREP_ROLE_PRIMARY, 3));
	CHECK(p->ops->set_role(p, GEOREP_ROLE_PRIMARY, 2) == -EINVAL);	/* terms go forward */
	CHECK(!p->ops->noop(p, &seq) && seq == 1);
	for (i = 0; i < 4; i++)
		CHECK(!p->ops->client_write(p, 4096 * i, block, sizeof(block), &seq));
	CHECK(seq == 5 && written(p) == 5);
	CHECK(p->ops->truncate(p, 2) == -EBUSY);	/* primary */

	/* a secondary in an older term refuses term-3 records */
	CHECK(!s->ops->set_role(s, GEOREP_ROLE_SECONDARY, 2));
	CHECK(copy(p, s, 1, 1) == -ESTALE);		/* as the kernel */
	CHECK(!s->ops->set_role(s, GEOREP_ROLE_SECONDARY, 3));
	CHECK(copy(p, s, 2, 2) == -EILSEQ);		/* gap */
	CHECK(!copy(p, s, 1, 5) && written(s) == 5);
	CHECK(copy(p, s, 5, 5) == -EILSEQ);		/* duplicate */

	/* commit applies to the data file */
	CHECK(!s->ops->set_commit(s, 5));
	CHECK(s->ops->set_commit(s, 6) == -EINVAL);
	{
		uint8_t got[4096];

		CHECK(!s->ops->data_read(s, 4096 * 3, got, sizeof(got)));
		CHECK(!memcmp(got + 8, block + 8, sizeof(got) - 8));
	}
	CHECK(s->ops->truncate(s, 4) == -EINVAL);	/* below commit */
	p->ops->close(p);
	s->ops->close(s);
}

static void test_tampered_record_refused(void)
{
	struct gd_ledger *p, *s;
	static uint8_t buf[8192];
	uint8_t block[4096] = { 1 };
	uint64_t seq;
	ssize_t n;

	if (open_pair(1, &p, &s))
		return;
	CHECK(!p->ops->client_write(p, 0, block, sizeof(block), &seq));
	n = p->ops->read(p, 1, buf, sizeof(buf));
	CHECK(n == GEOREP_RECORD_HDR_SIZE + 4096);
	buf[GEOREP_RECORD_HDR_SIZE + 100] ^= 1;		/* payload */
	CHECK(s->ops->append(s, buf, n) == -EBADMSG);
	buf[GEOREP_RECORD_HDR_SIZE + 100] ^= 1;
	buf[offsetof(struct georep_record, seal)] ^= 1;	/* seal */
	CHECK(s->ops->append(s, buf, n) == -EBADMSG);
	buf[offsetof(struct georep_record, seal)] ^= 1;
	CHECK(s->ops->append(s, buf, n) == n && written(s) == 1);
	p->ops->close(p);
	s->ops->close(s);
}

/*
 * Several records in one append: all of them, or those before the first
 * refused one (a short count), and the next call gets that one's error.
 */
static void test_append_group(void)
{
	const size_t one = GEOREP_RECORD_HDR_SIZE + 4096;
	struct gd_ledger *p, *s;
	static uint8_t buf[8 * (GEOREP_RECORD_HDR_SIZE + 4096)];
	uint8_t block[4096] = { 3 };
	uint64_t seq;
	ssize_t n;
	int i;

	if (open_pair(1, &p, &s))
		return;
	for (i = 0; i < 8; i++)
		CHECK(!p->ops->client_write(p, 4096 * i, block, sizeof(block), &seq));
	n = p->ops->read(p, 1, buf, sizeof(buf));
	CHECK(n == (ssize_t)(8 * one));
	CHECK(s->ops->append(s, buf, 3 * one) == (ssize_t)(3 * one) && written(s) == 3);
	buf[5 * one + GEOREP_RECORD_HDR_SIZE] ^= 1;		/* record 6's payload */
	CHECK(s->ops->append(s, buf + 3 * one, 5 * one) == (ssize_t)(2 * one));
	CHECK(written(s) == 5);
	CHECK(s->ops->append(s, buf + 5 * one, 3 * one) == -EBADMSG && written(s) == 5);
	buf[5 * one + GEOREP_RECORD_HDR_SIZE] ^= 1;
	/* bytes that end inside a record: the whole ones before it only */
	CHECK(s->ops->append(s, buf + 5 * one, 2 * one + 100) == (ssize_t)(2 * one));
	CHECK(s->ops->append(s, buf + 7 * one, 100) == -EINVAL && written(s) == 7);
	CHECK(s->ops->append(s, buf + 7 * one, one) == (ssize_t)one && written(s) == 8);
	p->ops->close(p);
	s->ops->close(s);
}

static void test_truncate_fork_reopen(void)
{
	struct gd_ledger *p, *s;
	uint8_t block[4096] = { 7 };
	struct gd_fork fk;
	struct stat sb;
	uint64_t seq;
	int i, fd;

	if (open_pair(1, &p, &s))
		return;
	for (i = 0; i < 6; i++)
		p->ops->client_write(p, 0, block, sizeof(block), &seq);
	CHECK(!copy(p, s, 1, 6));
	CHECK(!s->ops->set_commit(s, 2));
	CHECK(!gd_fork_save(s, dir_s, "vol", 4, 6, &fk));
	CHECK(fk.records == 3 && fk.bytes == 3 * (GEOREP_RECORD_HDR_SIZE + 4096));
	CHECK(!stat(fk.path, &sb) && (uint64_t)sb.st_size == fk.bytes);
	CHECK(!s->ops->truncate(s, 3) && written(s) == 3);
	CHECK(copy(p, s, 5, 5) == -EILSEQ);		/* must continue at 4 */
	CHECK(!copy(p, s, 4, 5) && written(s) == 5);

	/* reopen: the records are back; a torn tail is cut */
	s->ops->close(s);
	{
		char path[128];

		snprintf(path, sizeof(path), "%s/vol.memlog", dir_s);
		fd = open(path, O_WRONLY | O_APPEND);
		CHECK(fd >= 0 && write(fd, block, 300) == 300);
		close(fd);
	}
	s = open_ledger(dir_s, 2);
	if (!s)
		return;
	CHECK(written(s) == 5);
	CHECK(!copy(p, s, 6, 6) && written(s) == 6);
	p->ops->close(p);
	s->ops->close(s);
}

static void test_reset_and_release(void)
{
	struct gd_ledger *p, *s;
	uint8_t block[4096] = { 9 }, buf[GEOREP_RECORD_HDR_SIZE];
	struct georep_rec rec;
	uint64_t seq;
	int i;

	if (open_pair(4, &p, &s))
		return;
	for (i = 0; i < 8; i++)
		p->ops->client_write(p, 0, block, sizeof(block), &seq);
	CHECK(!p->ops->set_commit(p, 8));
	CHECK(p->ops->release(p, 9) == -EINVAL);	/* beyond applied */
	CHECK(!p->ops->release(p, 5));
	CHECK(p->ops->read(p, 5, block, sizeof(block)) == -ERANGE);
	CHECK(p->ops->read(p, 6, buf, sizeof(buf)) == -EMSGSIZE);
	/* a resynced secondary restarts after 6, chaining from record 6 */
	{
		static uint8_t r6[8192];
		ssize_t n = p->ops->read(p, 6, r6, sizeof(r6));

		CHECK(n > 0 && !georep_record_decode(r6, n, &rec, NULL, 0));
		/* the anchor is checked by its seal */
		r6[100] ^= 1;
		CHECK(s->ops->reset(s, r6) == -EBADMSG);
		r6[100] ^= 1;
		CHECK(!s->ops->reset(s, r6));
	}
	CHECK(written(s) == 6);
	CHECK(!copy(p, s, 7, 8) && written(s) == 8);
	p->ops->close(p);
	s->ops->close(s);
}

/* seal @len bytes at @off as the primary of term 4 (in dir_s) would */
static int seal_as_primary(uint64_t off, const uint8_t *data, struct georep_data_seal *seal)
{
	struct gd_ledger *q = open_ledger(dir_s, 2);
	int ret;

	if (!q)
		return -EIO;
	memset(seal, 0, sizeof(*seal));
	seal->seq = 2;
	ret = q->ops->set_role(q, GEOREP_ROLE_PRIMARY, 4) ?:
	      q->ops->data_seal(q, off, data, GEOREP_BLOCK_SIZE, seal);
	q->ops->close(q);
	return ret;
}

/*
 * Resync and heal blocks: written only with a primary's data seal of the
 * same volume, term not older than the replica's, for those very bytes and
 * that very place.
 */
static void test_data_seal(void)
{
	struct gd_ledger *s;
	struct georep_data_seal seal, bad;
	uint8_t block[4096];

	fresh_dirs();
	s = open_ledger(dir_p, 1);
	if (!s)
		return;
	memset(block, 0x5a, sizeof(block));
	CHECK(!s->ops->set_role(s, GEOREP_ROLE_SECONDARY, 4));
	CHECK(s->ops->data_seal(s, 0, block, sizeof(block), &seal) == -EPERM);
	CHECK(!seal_as_primary(4096, block, &seal));
	CHECK(seal.term == 4 && seal.epoch == 1 && seal.seq == 2);
	/* another place, other bytes, a forged mac, an unknown epoch */
	CHECK(s->ops->data_write(s, 8192, block, sizeof(block), &seal) == -EBADMSG);
	block[7] ^= 1;
	CHECK(s->ops->data_write(s, 4096, block, sizeof(block), &seal) == -EBADMSG);
	block[7] ^= 1;
	bad = seal;
	bad.mac[0] ^= 1;
	CHECK(s->ops->data_write(s, 4096, block, sizeof(block), &bad) == -EBADMSG);
	bad = seal;
	bad.seq = 3;
	CHECK(s->ops->data_write(s, 4096, block, sizeof(block), &bad) == -EBADMSG);
	bad = seal;
	bad.epoch = 2;
	CHECK(s->ops->data_write(s, 4096, block, sizeof(block), &bad) == -ENOKEY);
	CHECK(!s->ops->data_write(s, 4096, block, sizeof(block), &seal));
	/* a seal of term 4 is stale once the replica is in term 5 */
	CHECK(!s->ops->set_role(s, GEOREP_ROLE_SECONDARY, 5));
	CHECK(s->ops->data_write(s, 4096, block, sizeof(block), &seal) == -ESTALE);
	s->ops->close(s);
}

/*
 * A primary's write is on its data file at once; deposed, its suffix goes
 * only with truncate_applied(), which leaves it diverged (persisted, no
 * promotion) until clear_diverged().
 */
static void test_deposed_primary_diverged(void)
{
	struct gd_ledger *p;
	struct gd_ledger_status st;
	struct georep_data_seal seal;
	uint8_t block[4096], got[4096];
	uint64_t seq;
	int i;

	fresh_dirs();
	p = open_ledger(dir_p, 1);
	if (!p)
		return;
	CHECK(!p->ops->set_role(p, GEOREP_ROLE_PRIMARY, 2));
	for (i = 0; i < 4; i++) {
		memset(block, 0x10 + i, sizeof(block));
		CHECK(!p->ops->client_write(p, 4096 * i, block, sizeof(block), &seq));
	}
	CHECK(!p->ops->set_commit(p, 2));
	CHECK(!p->ops->data_read(p, 4096 * 3, got, sizeof(got)) && got[0] == 0x13);
	CHECK(!p->ops->status(p, &st) && st.applied_seq == 4 && !st.diverged);

	CHECK(!p->ops->set_role(p, GEOREP_ROLE_SECONDARY, 3));
	CHECK(p->ops->truncate(p, 2) == -EINVAL);		/* below applied */
	CHECK(p->ops->truncate_applied(p, 1) == -EINVAL);	/* below commit */
	CHECK(!p->ops->truncate_applied(p, 2));
	CHECK(!p->ops->status(p, &st) && st.written_seq == 2 && st.applied_seq == 2 &&
	      st.diverged);
	CHECK(p->ops->set_role(p, GEOREP_ROLE_PRIMARY, 4) == -EUCLEAN);

	/* kept across a reopen (the daemon restarts mid-heal) */
	p->ops->close(p);
	p = open_ledger(dir_p, 1);
	if (!p)
		return;
	CHECK(!p->ops->status(p, &st) && st.diverged && st.written_seq == 2);
	CHECK(p->ops->set_role(p, GEOREP_ROLE_PRIMARY, 4) == -EUCLEAN);
	/* the heal writes the blocks a primary sealed, then clears it */
	memset(block, 0, sizeof(block));
	CHECK(!seal_as_primary(4096 * 2, block, &seal));
	CHECK(!p->ops->data_write(p, 4096 * 2, block, sizeof(block), &seal));
	CHECK(!seal_as_primary(4096 * 3, block, &seal));
	CHECK(!p->ops->data_write(p, 4096 * 3, block, sizeof(block), &seal));
	CHECK(!p->ops->clear_diverged(p));
	CHECK(!p->ops->status(p, &st) && !st.diverged);
	CHECK(!p->ops->set_role(p, GEOREP_ROLE_PRIMARY, 4));
	CHECK(!p->ops->client_write(p, 0, block, sizeof(block), &seq) && seq == 3);
	p->ops->close(p);
}

/* a key of its own for each epoch */
static const uint8_t *key_of(uint32_t epoch)
{
	static uint8_t key[GEOREP_KEY_LEN];

	memset(key, (int)epoch, sizeof(key));
	return key;
}

/* is @epoch installed? Sealing with it needs it; then back to @sealing */
static bool has_epoch(struct gd_ledger *l, uint32_t epoch, uint32_t sealing)
{
	bool ok = !l->ops->key_install(l, sealing, key_of(sealing), epoch);

	CHECK(!l->ops->key_install(l, sealing, key_of(sealing), sealing));
	return ok;
}

/*
 * Retiring epochs, as the kernel (kmod/keys.c): a full ring drops its
 * lowest epoch that neither seals nor seals a retained record; when none
 * can go, -ENOSPC and nothing changes.
 */
static void test_epoch_retirement(void)
{
	uint8_t block[4096] = { 7 };
	struct gd_ledger *p;
	uint64_t seq = 0;
	uint32_t e;

	fresh_dirs();
	p = open_ledger(dir_p, 1);
	if (!p)
		return;
	CHECK(!p->ops->set_role(p, GEOREP_ROLE_PRIMARY, 1));
	CHECK(!p->ops->client_write(p, 0, block, sizeof(block), &seq) && seq == 1);
	/* record e is sealed with epoch e */
	for (e = 2; e <= GEOREP_MAX_KEYS; e++) {
		CHECK(!p->ops->key_install(p, e, key_of(e), e));
		CHECK(!p->ops->client_write(p, 0, block, sizeof(block), &seq) && seq == e);
	}
	CHECK(p->ops->key_install(p, 9, key_of(9), 8) == -ENOSPC);
	CHECK(has_epoch(p, 2, 8));
	/* records 1..3 released: epochs 2 and 3 seal nothing retained */
	CHECK(!p->ops->release(p, 3));
	CHECK(!p->ops->key_install(p, 9, key_of(9), 8));
	CHECK(!has_epoch(p, 2, 8) && has_epoch(p, 3, 8));
	CHECK(!p->ops->key_install(p, 10, key_of(10), 10));
	CHECK(!has_epoch(p, 3, 10) && has_epoch(p, 4, 10) && has_epoch(p, 9, 10));
	CHECK(has_epoch(p, 1, 10));	/* the volume name's, never retired */
	CHECK(!p->ops->client_write(p, 0, block, sizeof(block), &seq) && seq == 9);
	/* 9 seals nothing: it goes next */
	CHECK(!p->ops->key_install(p, 11, key_of(11), 11));
	CHECK(!has_epoch(p, 9, 11) && has_epoch(p, 10, 11));
	/* 4..8 and 10 seal retained records, 11 seals: none can go */
	CHECK(!p->ops->client_write(p, 0, block, sizeof(block), &seq) && seq == 10);
	CHECK(p->ops->key_install(p, 12, key_of(12), 11) == -ENOSPC);
	CHECK(has_epoch(p, 4, 11) && has_epoch(p, 10, 11));
	p->ops->close(p);
}

/*
 * Epoch 1 is built in (from the volume's name): installing it again with
 * its bytes only moves sealing (it was -ENOSPC, which sent georepd to an
 * eager compaction for nothing); other bytes are refused with a reason.
 * Seal 0 means the highest epoch installed, as in the kernel.
 */
static void test_epoch_one_and_seal_zero(void)
{
	static const char in[] = "georep-mem-ledger-test-key:vol";
	uint8_t one[GEOREP_KEY_LEN];
	struct gd_ledger_status st;
	struct gd_ledger *p;
	unsigned int len = 0;

	CHECK(EVP_Digest(in, strlen(in), one, &len, EVP_sha256(), NULL) && len == sizeof(one));
	fresh_dirs();
	p = open_ledger(dir_p, 1);
	if (!p)
		return;
	CHECK(!p->ops->set_role(p, GEOREP_ROLE_PRIMARY, 1));
	CHECK(!p->ops->key_install(p, 3, key_of(3), 1));
	CHECK(!p->ops->key_install(p, 1, one, 1));
	CHECK(p->ops->key_install(p, 1, key_of(1), 1) == -EINVAL &&
	      strstr(p->why, "epoch 1 is the memory ledger's built-in key"));
	CHECK(!p->ops->status(p, &st) && st.seal_epoch == 1 && st.nr_epochs == 2);
	CHECK(!p->ops->key_install(p, 2, key_of(2), 0));
	CHECK(!p->ops->status(p, &st) && st.seal_epoch == 3 && st.nr_epochs == 3);
	p->ops->close(p);
}

static const struct ktap_case cases[] = {
	{ "mem_ledger_primary_secondary_rules", test_primary_secondary_rules },
	{ "mem_ledger_tampered_record_refused", test_tampered_record_refused },
	{ "mem_ledger_append_group", test_append_group },
	{ "mem_ledger_truncate_fork_reopen", test_truncate_fork_reopen },
	{ "mem_ledger_reset_and_release", test_reset_and_release },
	{ "mem_ledger_deposed_primary_diverged", test_deposed_primary_diverged },
	{ "mem_ledger_data_seal", test_data_seal },
	{ "mem_ledger_epoch_retirement", test_epoch_retirement },
	{ "mem_ledger_epoch_one_and_seal_zero", test_epoch_one_and_seal_zero },
};

int main(void)
{
	char tmpl[] = "/tmp/georep-ledger-XXXXXX", cmd[64];
	int ret;

	if (!mkdtemp(tmpl)) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(dir_p, sizeof(dir_p), "%s/p", tmpl);
	snprintf(dir_s, sizeof(dir_s), "%s/s", tmpl);
	ret = ktap_run(cases, sizeof(cases) / sizeof(cases[0]));
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpl);
	if (system(cmd))
		ret = 1;
	return ret;
}
