// SPDX-License-Identifier: GPL-2.0
/*
 * An in-process ledger backend, file backed, for tests without the kernel
 * module. It keeps the kernel's rules (ledger.h): real records built with
 * user/lib/record.c (SHA-256 payload and chain hashes, an HMAC seal), seq
 * continuity, terms that only move forward, chain and seal checked on every
 * follower append, truncation never below commit, NOOP/client writes only
 * on a primary, appends/truncate/reset only on a secondary. A primary's
 * client write goes to the data file at once (applied = written, as the
 * kernel's block device does); truncating below applied needs
 * truncate_applied() and leaves the ledger diverged, as LOG_TRUNCATE with
 * TRUNCATE_APPLIED does.
 *
 * Files in the state directory:
 *   <vol>.memlog   the records since the last reset, back to back (stream
 *                  format); a torn last record (crash) is cut on open;
 *   <vol>.memmeta  JSON {base_seq, base_term, base_chain, tail, term, role,
 *                  applied, diverged},
 *                  replaced atomically (write temp, fsync, rename);
 *   <vol>.memdata  the data device (sparse file).
 * Writes are not fsynced per record: the backend survives a killed process
 * (the page cache keeps what was written), not a power cut.
 *
 * The seal key is SHA-256("georep-mem-ledger-test-key:" volume): the same at
 * every site and not secret. This backend is for tests only.
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "georep/record.h"
#include "ledger.h"

struct mem_rec {
	uint64_t off;		/* in the .memlog file */
	uint32_t size;		/* header + payload */
	uint64_t term;
	uint32_t epoch;		/* its seal epoch */
	uint8_t chain[GEOREP_HASH_LEN];
};

struct mem_key {
	uint32_t epoch;
	uint8_t key[GEOREP_KEY_LEN];
};

struct mem_ledger {
	struct gd_ledger l;
	char path[3][4096];	/* log, meta, data */
	int logfd, datafd, evfd;
	uint32_t site_id;
	uint8_t uuid[GEOREP_UUID_LEN];
	uint8_t key[GEOREP_KEY_LEN];	/* epoch 1, derived from the volume name */
	/*
	 * epochs 2..: installed by key_install(), in memory only, sorted;
	 * with epoch 1 at most GEOREP_MAX_KEYS, as in the kernel
	 */
	struct mem_key ekeys[GEOREP_MAX_KEYS - 1];
	unsigned int nekeys;
	uint32_t seal_epoch;		/* what client writes seal with */
	uint64_t data_bytes;
	/* durable meta */
	uint64_t base_seq, base_term, tail, term;
	uint8_t base_chain[GEOREP_HASH_LEN];
	uint8_t role;
	bool diverged;
	/* in memory (applied also saved with the meta, as a hint) */
	uint64_t commit, applied;
	uint8_t io_state;	/* a client write: -EAGAIN (would wait) or -EIO */
	uint32_t open_count;	/* tests: pretended openers */
	struct mem_rec *recs;	/* base_seq+1 .. base_seq+nrecs */
	uint64_t nrecs, caprecs;
	uint64_t log_end;
	/*
	 * read_wait() on a reader thread against the loop's changes to recs,
	 * nrecs, base_seq, tail and log_end (the loop's own reads need not)
	 */
	pthread_mutex_t rlock;
	uint32_t read_delay_ms;	/* tests: a read of records takes this long more */
	uint64_t bad_off, bad_len;	/* tests: data reads here fail with -EIO */
	uint64_t log_limit;	/* tests: a log of this many bytes (0: no limit) */
	bool apply_held;	/* tests: commit moves, nothing is applied */
};

#define to_mem(l) ((struct mem_ledger *)(l))

static uint64_t written(const struct mem_ledger *m)
{
	return m->base_seq + m->nrecs;
}

/* the bytes of the records held, from the tail on (status log_used) */
static uint64_t log_used(const struct mem_ledger *m)
{
	uint64_t first = m->tail > m->base_seq ? m->tail - m->base_seq - 1 : 0;

	return first < m->nrecs ? m->log_end - m->recs[first].off : 0;
}

static const uint8_t *chain_at_written(const struct mem_ledger *m)
{
	return m->nrecs ? m->recs[m->nrecs - 1].chain : m->base_chain;
}

static uint64_t last_term(const struct mem_ledger *m)
{
	return m->nrecs ? m->recs[m->nrecs - 1].term : m->base_term;
}

static int sha256(const void *a, size_t alen, const void *b, size_t blen, uint8_t *out)
{
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	int ok;

	if (!c)
		return -ENOMEM;
	ok = EVP_DigestInit_ex(c, EVP_sha256(), NULL) && EVP_DigestUpdate(c, a, alen) &&
	     EVP_DigestUpdate(c, b, blen) && EVP_DigestFinal_ex(c, out, NULL);
	EVP_MD_CTX_free(c);
	return ok ? 0 : -EIO;
}

static int meta_save(struct mem_ledger *m)
{
	char tmp[4200], hex[2 * GEOREP_HASH_LEN + 1];
	json_t *o;
	int fd, ret = 0;

	georep_hex(m->base_chain, GEOREP_HASH_LEN, hex);
	o = json_pack("{s:I, s:I, s:s, s:I, s:I, s:i, s:I, s:b}", "base_seq",
		      (json_int_t)m->base_seq, "base_term", (json_int_t)m->base_term,
		      "base_chain", hex, "tail", (json_int_t)m->tail, "term",
		      (json_int_t)m->term, "role", (int)m->role, "applied",
		      (json_int_t)m->applied, "diverged", m->diverged);
	if (!o)
		return -ENOMEM;
	snprintf(tmp, sizeof(tmp), "%s.tmp", m->path[1]);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		ret = -errno;
		goto out_free_json;
	}
	if (json_dumpfd(o, fd, JSON_COMPACT) || fsync(fd))
		ret = -EIO;
	close(fd);
	if (!ret && rename(tmp, m->path[1]))
		ret = -errno;
out_free_json:
	json_decref(o);
	return ret;
}

static int unhex(const char *s, uint8_t *out, size_t len)
{
	size_t i;
	unsigned int v;

	if (!s || strlen(s) != 2 * len)
		return -EINVAL;
	for (i = 0; i < len; i++) {
		if (sscanf(s + 2 * i, "%2x", &v) != 1)
			return -EINVAL;
		out[i] = v;
	}
	return 0;
}

static int meta_load(struct mem_ledger *m, char *err)
{
	json_error_t je;
	json_t *o = json_load_file(m->path[1], 0, &je);
	json_int_t bs, bt, tail, term, applied = 0;
	const char *chain;
	int role, diverged = 0, ret = 0;

	if (!o) {
		if (access(m->path[1], F_OK))
			return -ENOENT;
		snprintf(err, GD_LEDGER_ERRLEN, "%.160s: %.80s", m->path[1], je.text);
		return -EBADMSG;
	}
	if (json_unpack(o, "{s:I, s:I, s:s, s:I, s:I, s:i, s?I, s?b}", "base_seq", &bs,
			"base_term", &bt, "base_chain", &chain, "tail", &tail, "term", &term,
			"role", &role, "applied", &applied, "diverged", &diverged) ||
	    unhex(chain, m->base_chain, GEOREP_HASH_LEN)) {
		snprintf(err, GD_LEDGER_ERRLEN, "%.200s: bad contents", m->path[1]);
		ret = -EBADMSG;
	} else {
		m->base_seq = bs;
		m->base_term = bt;
		m->tail = tail;
		m->term = term;
		m->role = role;
		m->applied = applied;
		m->diverged = diverged;
	}
	json_decref(o);
	return ret;
}

static int recs_push(struct mem_ledger *m, uint64_t off, uint32_t size, uint64_t term,
		     uint32_t epoch, const uint8_t *chain)
{
	struct mem_rec *r;

	if (m->nrecs == m->caprecs) {
		uint64_t cap = m->caprecs ? 2 * m->caprecs : 1024;

		pthread_mutex_lock(&m->rlock);
		r = realloc(m->recs, cap * sizeof(*r));
		if (r) {
			m->recs = r;
			m->caprecs = cap;
		}
		pthread_mutex_unlock(&m->rlock);
		if (!r)
			return -ENOMEM;
	}
	r = &m->recs[m->nrecs];
	r->off = off;
	r->size = size;
	r->term = term;
	r->epoch = epoch;
	memcpy(r->chain, chain, GEOREP_HASH_LEN);
	pthread_mutex_lock(&m->rlock);
	m->nrecs++;
	pthread_mutex_unlock(&m->rlock);
	return 0;
}

/* Rebuild the index from the log file; cut a torn or bad last part. */
static int log_scan(struct mem_ledger *m, char *err)
{
	struct stat sb;
	uint8_t *buf;
	size_t off = 0;
	int ret = 0;

	if (fstat(m->logfd, &sb))
		return -errno;
	buf = malloc(sb.st_size ? sb.st_size : 1);
	if (!buf)
		return -ENOMEM;
	if (pread(m->logfd, buf, sb.st_size, 0) != sb.st_size) {
		ret = -EIO;
		goto out_free;
	}
	while (off < (size_t)sb.st_size) {
		struct georep_rec rec;
		const uint8_t *hdr, *payload;
		size_t start = off;
		char why[128];

		if (georep_record_next(buf, sb.st_size, &off, &rec, &hdr, &payload, why,
				       sizeof(why)) ||
		    rec.seq != written(m) + 1) {
			off = start;
			break;
		}
		ret = recs_push(m, start, off - start, rec.term, rec.seal_epoch, rec.chain_hash);
		if (ret)
			goto out_free;
	}
	if (off != (size_t)sb.st_size && ftruncate(m->logfd, off))
		ret = -errno;
	m->log_end = off;
out_free:
	free(buf);
	if (ret)
		snprintf(err, GD_LEDGER_ERRLEN, "%.160s: cannot read: %s", m->path[0], strerror(-ret));
	return ret;
}

static int mem_status(struct gd_ledger *l, struct gd_ledger_status *st)
{
	struct mem_ledger *m = to_mem(l);
	unsigned int i;
	uint64_t first;

	memset(st, 0, sizeof(*st));
	st->role = m->role;
	st->term = m->term;
	st->written_seq = written(m);
	st->commit_seq = m->commit;
	st->applied_seq = m->applied;
	/* as the kernel says it: the first record held (tail 0: none released) */
	first = m->tail > m->base_seq ? m->tail : m->base_seq + 1;
	st->tail_seq = first <= written(m) ? first : 0;
	memcpy(st->chain_hash, chain_at_written(m), GEOREP_HASH_LEN);
	st->data_bytes = m->data_bytes;
	st->seal_epoch = m->seal_epoch;
	st->epochs[st->nr_epochs++] = 1;
	for (i = 0; i < m->nekeys; i++)
		st->epochs[st->nr_epochs++] = m->ekeys[i].epoch;
	st->diverged = m->diverged;
	st->log_used = log_used(m);
	st->log_size = m->log_limit;
	st->io_state = m->io_state;
	st->open_count = m->open_count;
	return 0;
}

static int mem_set_io_state(struct gd_ledger *l, uint8_t state)
{
	if (state >= __GEOREP_IO_MAX)
		return -EINVAL;
	to_mem(l)->io_state = state;
	return 0;
}

static void mem_test_open(struct gd_ledger *l, uint32_t count)
{
	to_mem(l)->open_count = count;
}

/* Write the payloads of records applied+1..@upto to the data file. */
static int apply_upto(struct mem_ledger *m, uint64_t upto)
{
	uint8_t *buf = NULL;
	int ret = 0;

	while (m->applied < upto && !m->apply_held) {
		const struct mem_rec *r = &m->recs[m->applied - m->base_seq];
		struct georep_rec rec;
		char why[128];
		uint8_t *p;

		p = realloc(buf, r->size);
		if (!p) {
			ret = -ENOMEM;
			break;
		}
		buf = p;
		if (pread(m->logfd, buf, r->size, r->off) != r->size) {
			ret = -EIO;
			break;
		}
		ret = georep_record_decode(buf, r->size, &rec, why, sizeof(why));
		if (ret)
			break;
		if (rec.op == GEOREP_OP_WRITE &&
		    pwrite(m->datafd, buf + GEOREP_RECORD_HDR_SIZE, rec.payload_len,
			   rec.lba * 512) != rec.payload_len) {
			ret = -EIO;
			break;
		}
		if (rec.op == GEOREP_OP_WRITE_ZEROES || rec.op == GEOREP_OP_DISCARD) {
			if (fallocate(m->datafd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
				      rec.lba * 512, rec.len)) {
				ret = -errno;
				break;
			}
		}
		m->applied++;
	}
	free(buf);
	return ret;
}

static int mem_set_role(struct gd_ledger *l, uint8_t role, uint64_t term)
{
	struct mem_ledger *m = to_mem(l);

	if (term < m->term || role >= __GEOREP_ROLE_MAX)
		return -EINVAL;
	if (role == GEOREP_ROLE_PRIMARY && m->diverged)
		return -EUCLEAN;
	if (role == m->role && term == m->term)
		return 0;
	/* as the kernel: a new primary's data holds every record it has */
	if (role == GEOREP_ROLE_PRIMARY && m->role != GEOREP_ROLE_PRIMARY) {
		int ret = apply_upto(m, written(m));

		if (ret)
			return ret;
	}
	m->role = role;
	m->term = term;
	return meta_save(m);
}

static int mem_set_commit(struct gd_ledger *l, uint64_t seq)
{
	struct mem_ledger *m = to_mem(l);

	if (seq > written(m))
		return -EINVAL;
	if (seq > m->commit)
		m->commit = seq;
	return apply_upto(m, m->commit);
}

static int mem_release(struct gd_ledger *l, uint64_t seq)
{
	struct mem_ledger *m = to_mem(l);

	if (seq > m->applied)
		return -EINVAL;
	if (seq + 1 <= m->tail)
		return 0;
	pthread_mutex_lock(&m->rlock);
	m->tail = seq + 1;
	pthread_mutex_unlock(&m->rlock);
	return meta_save(m);
}

/* the key of @epoch, NULL when not installed (epoch 1 always is) */
static const uint8_t *epoch_key(const struct mem_ledger *m, uint32_t epoch)
{
	unsigned int i;

	if (epoch == 1)
		return m->key;
	for (i = 0; i < m->nekeys; i++)
		if (m->ekeys[i].epoch == epoch)
			return m->ekeys[i].key;
	return NULL;
}

/* the highest epoch held (1 is always) */
static uint32_t highest_epoch(const struct mem_ledger *m)
{
	return m->nekeys ? m->ekeys[m->nekeys - 1].epoch : 1;
}

/* the last retained record sealed with @epoch, 0 if none */
static uint64_t epoch_retained(const struct mem_ledger *m, uint32_t epoch)
{
	uint64_t i, last = 0;

	for (i = 0; i < m->nrecs; i++)
		if (m->base_seq + 1 + i >= m->tail && m->recs[i].epoch == epoch)
			last = m->base_seq + 1 + i;
	return last;
}

/*
 * A full ring: drop the lowest epoch that neither seals (@sealing) nor
 * seals a retained record, as the kernel does (kmod/keys.c, "Retiring
 * epochs"). Epoch 1 is the volume name's and never goes.
 */
static int make_room(struct mem_ledger *m, uint32_t sealing)
{
	unsigned int i;
	uint64_t held;

	for (i = 0; i < m->nekeys; i++) {
		if (m->ekeys[i].epoch == sealing)
			continue;
		held = epoch_retained(m, m->ekeys[i].epoch);
		if (held) {
			if (!m->l.why[0])
					snprintf(m->l.why, sizeof(m->l.why), "key ring full: epoch %u "
					 "seals retained record %llu; release the log past it",
					 m->ekeys[i].epoch, (unsigned long long)held);
			continue;
		}
		OPENSSL_cleanse(&m->ekeys[i], sizeof(m->ekeys[i]));
		memmove(&m->ekeys[i], &m->ekeys[i + 1],
			(m->nekeys - i - 1) * sizeof(m->ekeys[0]));
		m->nekeys--;
		return 0;
	}
	return -ENOSPC;
}

/* the kernel's KEY_SET (kmod/keys.c georep_keys_install()), for tests */
static int mem_key_install(struct gd_ledger *l, uint32_t epoch,
			   const uint8_t key[GEOREP_KEY_LEN], uint32_t seal)
{
	struct mem_ledger *m = to_mem(l);
	unsigned int i;
	int ret;

	m->l.why[0] = 0;
	if (!epoch)
		return -EINVAL;
	if (seal && seal != epoch && !epoch_key(m, seal))
		return -ENOKEY;
	/* epoch 1 is built in: installing it again changes nothing but sealing */
	if (epoch == 1 && CRYPTO_memcmp(key, m->key, GEOREP_KEY_LEN)) {
		snprintf(m->l.why, sizeof(m->l.why),
			 "epoch 1 is the memory ledger's built-in key; other bytes refused");
		return -EINVAL;
	}
	if (epoch == 1) {
		m->seal_epoch = seal ? seal : highest_epoch(m);
		return 0;
	}
	if (!epoch_key(m, epoch) && m->nekeys == GEOREP_MAX_KEYS - 1) {
		ret = make_room(m, seal ? seal : epoch > highest_epoch(m) ? epoch :
				highest_epoch(m));
		if (ret)
			return ret;
	}
	for (i = 0; i < m->nekeys && m->ekeys[i].epoch < epoch; i++)
		;
	if (i == m->nekeys || m->ekeys[i].epoch != epoch) {
		memmove(&m->ekeys[i + 1], &m->ekeys[i],
			(m->nekeys - i) * sizeof(m->ekeys[0]));
		m->nekeys++;
		m->ekeys[i].epoch = epoch;
	}
	memcpy(m->ekeys[i].key, key, GEOREP_KEY_LEN);
	m->seal_epoch = seal ? seal : highest_epoch(m);
	return 0;
}

/* Build, hash, seal and append one record of the current term (primary). */
static int make_record(struct mem_ledger *m, uint16_t op, uint64_t off, const void *data,
		       uint32_t len, uint64_t *seq)
{
	struct georep_record *h;
	struct timespec ts;
	uint8_t *buf;
	size_t size = GEOREP_RECORD_HDR_SIZE + (op == GEOREP_OP_WRITE ? len : 0);
	int ret;

	if (m->role != GEOREP_ROLE_PRIMARY)
		return -EROFS;
	if ((off | len) % GEOREP_BLOCK_SIZE || off + len > m->data_bytes)
		return -EINVAL;
	buf = calloc(1, size);
	if (!buf)
		return -ENOMEM;
	h = (struct georep_record *)buf;
	clock_gettime(CLOCK_REALTIME, &ts);
	h->magic = htole32(GEOREP_RECORD_MAGIC);
	h->version = htole16(GEOREP_RECORD_VERSION);
	h->op = htole16(op);
	h->seq = htole64(written(m) + 1);
	h->term = htole64(m->term);
	h->lba = htole64(off / 512);
	h->len = htole32(len);
	h->payload_len = htole32(size - GEOREP_RECORD_HDR_SIZE);
	h->timestamp_ns = htole64(ts.tv_sec * 1000000000ULL + ts.tv_nsec);
	h->site_id = htole32(m->site_id);
	h->seal_epoch = htole32(m->seal_epoch);
	memcpy(h->volume_uuid, m->uuid, GEOREP_UUID_LEN);
	if (size > GEOREP_RECORD_HDR_SIZE)
		memcpy(buf + GEOREP_RECORD_HDR_SIZE, data, len);
	ret = georep_payload_hash(buf + GEOREP_RECORD_HDR_SIZE, size - GEOREP_RECORD_HDR_SIZE,
				  h->payload_hash);
	if (!ret)
		ret = georep_chain_hash(chain_at_written(m), buf, h->chain_hash);
	if (!ret)
		ret = georep_seal(epoch_key(m, m->seal_epoch), buf, h->seal);
	if (!ret && pwrite(m->logfd, buf, size, m->log_end) != (ssize_t)size)
		ret = -EIO;
	/* the block device of a primary: the data goes down with the record */
	if (!ret && op == GEOREP_OP_WRITE &&
	    pwrite(m->datafd, data, len, off) != (ssize_t)len)
		ret = -EIO;
	if (!ret)
		ret = recs_push(m, m->log_end, size, m->term, m->seal_epoch, h->chain_hash);
	if (!ret) {
		m->log_end += size;
		m->applied = written(m);
		*seq = written(m);
		if (eventfd_write(m->evfd, 1))
			ret = -errno;
	}
	free(buf);
	return ret;
}

static int mem_noop(struct gd_ledger *l, uint64_t *seq)
{
	return make_record(to_mem(l), GEOREP_OP_NOOP, 0, NULL, 0, seq);
}

static int mem_client_write(struct gd_ledger *l, uint64_t off, const void *buf, size_t len,
			    uint64_t *seq)
{
	struct mem_ledger *m = to_mem(l);

	if (!len || len > (1U << 20))
		return -EINVAL;
	/* the kernel holds a suspended write; a test call cannot wait */
	if (m->io_state == GEOREP_IO_SUSPEND)
		return -EAGAIN;
	if (m->io_state == GEOREP_IO_FAIL)
		return -EIO;
	return make_record(m, GEOREP_OP_WRITE, off, buf, len, seq);
}

static ssize_t read_locked(struct mem_ledger *m, uint64_t seq, void *buf, size_t cap)
{
	uint64_t s, end, first;
	eventfd_t v;

	if (seq <= m->base_seq || (m->tail && seq < m->tail))
		return seq > written(m) ? 0 : -ERANGE;
	if (seq > written(m)) {
		eventfd_read(m->evfd, &v);	/* at the head: nothing new */
		return 0;
	}
	first = seq - m->base_seq - 1;
	for (s = first, end = 0; s < m->nrecs && end + m->recs[s].size <= cap; s++)
		end += m->recs[s].size;
	if (s == first)
		return -EMSGSIZE;
	if (pread(m->logfd, buf, end, m->recs[first].off) != (ssize_t)end)
		return -EIO;
	if (s == m->nrecs)
		eventfd_read(m->evfd, &v);
	return end;
}

/* a slow disk, for tests: a read that found records (or data) returns this much later */
static void read_delay(const struct mem_ledger *m)
{
	uint32_t ms = __atomic_load_n(&m->read_delay_ms, __ATOMIC_RELAXED);

	if (ms)
		usleep(ms * 1000U);
}

static ssize_t mem_read(struct gd_ledger *l, uint64_t seq, void *buf, size_t cap)
{
	struct mem_ledger *m = to_mem(l);
	ssize_t n = read_locked(m, seq, buf, cap);

	if (n > 0)
		read_delay(m);
	return n;
}

/* the reader thread's: as the loop's, under rlock; waits up to @ms at the head */
static ssize_t mem_read_wait(struct gd_ledger *l, uint64_t seq, void *buf, size_t cap, int ms)
{
	struct mem_ledger *m = to_mem(l);
	struct pollfd p = { .fd = m->evfd, .events = POLLIN };
	ssize_t n;

	for (;;) {
		pthread_mutex_lock(&m->rlock);
		n = read_locked(m, seq, buf, cap);
		pthread_mutex_unlock(&m->rlock);
		if (n > 0)
			read_delay(m);
		/* at the head the read drained evfd: a write after it sets it */
		if (n || ms < 0 || poll(&p, 1, ms) <= 0)
			return n;
		ms = -1;	/* once */
	}
}

static void mem_test_log_size(struct gd_ledger *l, uint64_t bytes, bool hold_apply)
{
	struct mem_ledger *m = to_mem(l);

	m->log_limit = bytes;
	m->apply_held = hold_apply;
	if (!hold_apply)
		apply_upto(m, m->commit);
}

static void mem_test_read_delay(struct gd_ledger *l, uint32_t ms)
{
	__atomic_store_n(&to_mem(l)->read_delay_ms, ms, __ATOMIC_RELAXED);
}

static void mem_test_data_bad(struct gd_ledger *l, uint64_t off, uint64_t len)
{
	struct mem_ledger *m = to_mem(l);

	__atomic_store_n(&m->bad_len, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&m->bad_off, off, __ATOMIC_RELAXED);
	__atomic_store_n(&m->bad_len, len, __ATOMIC_RELAXED);
}

static int mem_poll_fd(struct gd_ledger *l)
{
	return to_mem(l)->evfd;
}

/* One record, @buf aligned (record.c reads the struct in place). */
static int append_aligned(struct mem_ledger *m, const uint8_t *buf, size_t len)
{
	enum georep_rec_fault fault;
	struct georep_rec rec;
	char why[128];
	int ret;

	ret = georep_record_decode(buf, len, &rec, why, sizeof(why));
	if (ret)
		return ret;
	if (GEOREP_RECORD_HDR_SIZE + (size_t)rec.payload_len != len)
		return -EINVAL;
	/* the kernel's errors (kmod/append.c append_check()) */
	if (rec.seq != written(m) + 1)
		return -EILSEQ;
	if (rec.term < last_term(m) || rec.term > m->term)
		return -ESTALE;
	if (!epoch_key(m, rec.seal_epoch))
		return -ENOKEY;
	ret = georep_record_verify(&rec, buf, buf + GEOREP_RECORD_HDR_SIZE,
				   chain_at_written(m), epoch_key(m, rec.seal_epoch), &fault);
	if (ret)
		return ret;
	if (fault != GEOREP_REC_OK)
		return -EBADMSG;
	if (m->log_limit && log_used(m) + len > m->log_limit)
		return -ENOSPC;
	if (pwrite(m->logfd, buf, len, m->log_end) != (ssize_t)len)
		return -EIO;
	ret = recs_push(m, m->log_end, len, rec.term, rec.seal_epoch, rec.chain_hash);
	if (ret)
		return ret;
	m->log_end += len;
	return 0;
}

static int append_one(struct mem_ledger *m, const uint8_t *rec, size_t len)
{
	uint8_t *buf;
	int ret;

	/* records sit unaligned in received frames */
	buf = malloc(len);
	if (!buf)
		return -ENOMEM;
	memcpy(buf, rec, len);
	ret = append_aligned(m, buf, len);
	free(buf);
	return ret;
}

/* records one by one, as the kernel's group: a refusal after the first is a short count */
static ssize_t mem_append(struct gd_ledger *l, const void *recs, size_t len)
{
	struct mem_ledger *m = to_mem(l);
	size_t done = 0, n;
	int ret = 0;

	if (m->role != GEOREP_ROLE_SECONDARY)
		return -EROFS;
	while (done < len) {
		n = georep_record_span((const uint8_t *)recs + done, len - done);
		ret = n ? append_one(m, (const uint8_t *)recs + done, n) : -EINVAL;
		if (ret)
			break;
		done += n;
	}
	return done ? (ssize_t)done : ret;
}

static int truncate_log(struct mem_ledger *m, uint64_t seq, bool drop_applied)
{
	int ret;

	if (m->role != GEOREP_ROLE_SECONDARY)
		return -EBUSY;
	if (seq < m->commit || seq > written(m) || seq < m->base_seq ||
	    (seq < m->applied && !drop_applied))
		return -EINVAL;
	if (seq == written(m))
		return 0;
	pthread_mutex_lock(&m->rlock);
	m->log_end = m->recs[seq - m->base_seq].off;
	m->nrecs = seq - m->base_seq;
	ret = ftruncate(m->logfd, m->log_end) ? -errno : 0;
	pthread_mutex_unlock(&m->rlock);
	if (ret)
		return ret;
	if (seq >= m->applied)
		return 0;
	/* the data file holds blocks of the dropped records */
	m->applied = seq;
	m->diverged = true;
	return meta_save(m);
}

static int mem_truncate(struct gd_ledger *l, uint64_t seq)
{
	return truncate_log(to_mem(l), seq, false);
}

static int mem_truncate_applied(struct gd_ledger *l, uint64_t seq)
{
	return truncate_log(to_mem(l), seq, true);
}

static int mem_clear_diverged(struct gd_ledger *l)
{
	struct mem_ledger *m = to_mem(l);

	if (!m->diverged)
		return 0;
	m->diverged = false;
	return meta_save(m);
}

/* the anchor of a reset: a record of this volume under its key (epoch 1) */
static int anchor_check(struct mem_ledger *m, const void *anchor, struct georep_rec *rec)
{
	uint8_t hdr[GEOREP_RECORD_HDR_SIZE] __attribute__((aligned(8)));
	uint8_t mac[GEOREP_HASH_LEN];
	char why[128];
	int ret;

	memcpy(hdr, anchor, sizeof(hdr));
	ret = georep_record_decode(hdr, sizeof(hdr), rec, why, sizeof(why));
	if (ret)
		return ret;
	if (memcmp(rec->volume_uuid, m->uuid, GEOREP_UUID_LEN) || rec->seq == UINT64_MAX)
		return -EINVAL;
	if (!epoch_key(m, rec->seal_epoch))
		return -ENOKEY;
	ret = georep_seal(epoch_key(m, rec->seal_epoch), hdr, mac);
	if (!ret && CRYPTO_memcmp(mac, rec->seal, GEOREP_HASH_LEN))
		ret = -EBADMSG;
	return ret;
}

static int mem_reset(struct gd_ledger *l, const void *anchor)
{
	struct mem_ledger *m = to_mem(l);
	struct georep_rec rec;
	int ret;

	if (m->role != GEOREP_ROLE_SECONDARY)
		return -EBUSY;
	ret = anchor_check(m, anchor, &rec);
	if (ret)
		return ret;
	pthread_mutex_lock(&m->rlock);
	ret = ftruncate(m->logfd, 0) ? -errno : 0;
	if (!ret) {
		m->nrecs = 0;
		m->log_end = 0;
		m->base_seq = rec.seq;
		m->tail = rec.seq + 1;
	}
	pthread_mutex_unlock(&m->rlock);
	if (ret)
		return ret;
	m->base_term = rec.term;
	memcpy(m->base_chain, rec.chain_hash, GEOREP_HASH_LEN);
	m->commit = m->applied = rec.seq;
	if (rec.term > m->term)
		m->term = rec.term;
	return meta_save(m);
}

static bool data_range_ok(const struct mem_ledger *m, uint64_t off, size_t len)
{
	return len && !((off | len) % GEOREP_BLOCK_SIZE) && len <= (1U << 20) &&
	       off <= m->data_bytes && len <= m->data_bytes - off;
}

/* the kernel's checks of a data seal (replica.c: data_seal_check()) */
static int mem_data_write(struct gd_ledger *l, uint64_t off, const void *buf, size_t len,
			  const struct georep_data_seal *seal)
{
	struct mem_ledger *m = to_mem(l);
	uint8_t mac[GEOREP_HASH_LEN];
	int ret;

	if (m->role != GEOREP_ROLE_SECONDARY)
		return -EROFS;
	if (!data_range_ok(m, off, len) || seal->reserved)
		return -EINVAL;
	if (seal->term < m->term)
		return -ESTALE;
	if (!epoch_key(m, seal->epoch))
		return -ENOKEY;
	ret = georep_data_mac(epoch_key(m, seal->epoch), m->uuid, seal, off / 512, buf, len,
			      mac);
	if (!ret && CRYPTO_memcmp(mac, seal->mac, GEOREP_HASH_LEN))
		ret = -EBADMSG;
	if (ret)
		return ret;
	return pwrite(m->datafd, buf, len, off) == (ssize_t)len ? 0 : -EIO;
}

static int mem_data_seal(struct gd_ledger *l, uint64_t off, const void *buf, size_t len,
			 struct georep_data_seal *seal)
{
	struct mem_ledger *m = to_mem(l);

	if (!data_range_ok(m, off, len) || seal->reserved)
		return -EINVAL;
	if (m->role != GEOREP_ROLE_PRIMARY)
		return -EPERM;
	seal->term = m->term;
	seal->epoch = m->seal_epoch;
	return georep_data_mac(epoch_key(m, m->seal_epoch), m->uuid, seal, off / 512, buf,
			       len, seal->mac);
}

static int mem_data_read(struct gd_ledger *l, uint64_t off, void *buf, size_t len)
{
	struct mem_ledger *m = to_mem(l);

	uint64_t bad_off = __atomic_load_n(&m->bad_off, __ATOMIC_RELAXED);
	uint64_t bad_len = __atomic_load_n(&m->bad_len, __ATOMIC_RELAXED);

	if (off + len > m->data_bytes)
		return -EINVAL;
	if (bad_len && off < bad_off + bad_len && bad_off < off + len)
		return -EIO;	/* a bad sector, for tests */
	if (pread(m->datafd, buf, len, off) != (ssize_t)len)
		return -EIO;
	read_delay(m);
	return 0;
}

static void mem_close(struct gd_ledger *l)
{
	struct mem_ledger *m = to_mem(l);

	close(m->logfd);
	close(m->datafd);
	close(m->evfd);
	OPENSSL_cleanse(m->key, sizeof(m->key));
	OPENSSL_cleanse(m->ekeys, sizeof(m->ekeys));
	free(m->recs);
	pthread_mutex_destroy(&m->rlock);
	free(m);
}

static const struct gd_ledger_ops mem_ops = {
	.name = "mem",
	.status = mem_status,
	.set_role = mem_set_role,
	.set_commit = mem_set_commit,
	.set_io_state = mem_set_io_state,
	.release = mem_release,
	.noop = mem_noop,
	.read = mem_read,
	.read_wait = mem_read_wait,
	.poll_fd = mem_poll_fd,
	.append = mem_append,
	.truncate = mem_truncate,
	.truncate_applied = mem_truncate_applied,
	.clear_diverged = mem_clear_diverged,
	.reset = mem_reset,
	.data_write = mem_data_write,
	.data_seal = mem_data_seal,
	.key_install = mem_key_install,
	.data_read = mem_data_read,
	.client_write = mem_client_write,
	.test_open = mem_test_open,
	.test_read_delay = mem_test_read_delay,
	.test_data_bad = mem_test_data_bad,
	.test_log_size = mem_test_log_size,
	.close = mem_close,
};

int gd_ledger_mem_open(const char *dir, const char *volume, uint32_t site_id,
		       uint64_t data_bytes, struct gd_ledger **out, char *err)
{
	static const char prefix[] = "georep-mem-ledger-test-key:";
	static const char *const ext[] = { "memlog", "memmeta", "memdata" };
	struct mem_ledger *m = calloc(1, sizeof(*m));
	uint8_t h[GEOREP_HASH_LEN];
	int i, ret;

	if (!m)
		return -ENOMEM;
	m->l.ops = &mem_ops;
	pthread_mutex_init(&m->rlock, NULL);
	m->logfd = m->datafd = m->evfd = -1;
	m->site_id = site_id;
	m->seal_epoch = 1;
	m->data_bytes = data_bytes;
	for (i = 0; i < 3; i++)
		snprintf(m->path[i], sizeof(m->path[i]), "%s/%s.%s", dir, volume, ext[i]);
	ret = sha256(prefix, strlen(prefix), volume, strlen(volume), m->key);
	if (!ret)
		ret = sha256("uuid:", 5, volume, strlen(volume), h);
	if (ret)
		goto out_free;
	memcpy(m->uuid, h, GEOREP_UUID_LEN);
	ret = meta_load(m, err);
	if (ret == -ENOENT) {
		m->role = GEOREP_ROLE_SECONDARY;
		ret = meta_save(m);
	}
	if (ret)
		goto out_free;
	m->logfd = open(m->path[0], O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	m->datafd = open(m->path[2], O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	m->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (m->logfd < 0 || m->datafd < 0 || m->evfd < 0) {
		ret = -errno;
		snprintf(err, GD_LEDGER_ERRLEN, "%.160s: %s", dir, strerror(errno));
		goto out_close;
	}
	if (ftruncate(m->datafd, data_bytes)) {
		ret = -errno;
		goto out_close;
	}
	ret = log_scan(m, err);
	if (ret)
		goto out_close;
	/*
	 * What the data file holds is known up to the reset point, and a
	 * primary's writes went to it with their records: a primary (crashed)
	 * has applied its whole log; a secondary re-applies from the saved
	 * hint (records applied twice give the same data).
	 */
	m->commit = m->base_seq;
	if (m->role == GEOREP_ROLE_PRIMARY)
		m->applied = written(m);
	else if (m->applied < m->base_seq || m->applied > written(m))
		m->applied = m->applied > written(m) ? written(m) : m->base_seq;
	*out = &m->l;
	return 0;

out_close:
	if (m->logfd >= 0)
		close(m->logfd);
	if (m->datafd >= 0)
		close(m->datafd);
	if (m->evfd >= 0)
		close(m->evfd);
out_free:
	OPENSSL_cleanse(m->key, sizeof(m->key));
	pthread_mutex_destroy(&m->rlock);
	free(m);
	return ret;
}
