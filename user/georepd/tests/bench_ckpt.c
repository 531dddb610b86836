// SPDX-License-Identifier: GPL-2.0
/*
 * The CPU and disk cost of one checkpoint (Documentation/proofs.rst,
 * "Finality"), step by step, as the leader and a follower pay it: the root
 * at a size from a tree of 200,000 leaves, the signature, a cosignature,
 * the check of a note with three signatures, and the durable save of the
 * final note (write, fsync, rename, fsync of the directory) in $TMPDIR.
 * Prints microseconds per step (median of 200 runs) and what one
 * checkpoint every 1000 records adds per record. Not a test.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "georep/merkle.h"
#include "georep/note.h"
#include "../final.h"

#define LEAVES	200000
#define RUNS	200

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v)
{
	qsort(v, RUNS, sizeof(*v), cmp);
	return v[RUNS / 2];
}

enum { ROOT, SIGN, COSIGN, VERIFY, SAVE, NSTEPS };
static const char *const names[NSTEPS] = {
	"root at a size (200,000 leaves)", "sign (Ed25519)", "cosign (Ed25519)",
	"check a note of 3 signatures", "save the final note (fsync x2)",
};

static int one(struct gr_merkle *t, EVP_PKEY **pk, struct gr_note_key *keys,
	       const char *dir, double *us, int i)
{
	char text[256], note[4096], err[GR_NOTE_ERRLEN];
	struct gr_note_result res;
	size_t len = 0;
	gr_mhash root;
	double t0;
	int k;

	t0 = now_us();
	if (gr_merkle_root_at(t, LEAVES - i * 7, root))
		return -1;
	us[ROOT] = now_us() - t0;
	gr_checkpoint_format("georep/bench/vol0", LEAVES - i * 7, root, text, sizeof(text));
	t0 = now_us();
	if (gr_note_sign(text, pk[0], "georep/bench/a", note, sizeof(note), &len, err))
		return -1;
	us[SIGN] = now_us() - t0;
	for (k = 1; k < 3; k++) {
		t0 = now_us();
		if (gr_note_cosign(text, pk[k], k == 1 ? "georep/bench/b" : "georep/bench/c",
				   1764720000, note, sizeof(note), &len, err))
			return -1;
		us[COSIGN] = now_us() - t0;
	}
	t0 = now_us();
	if (gr_note_verify(note, len, keys, 6, &res, err) || res.nnames != 3)
		return -1;
	us[VERIFY] = now_us() - t0;
	t0 = now_us();
	if (gd_final_save(dir, "vol0", note, len, err))
		return -1;
	us[SAVE] = now_us() - t0;
	return 0;
}

int main(void)
{
	static const char *const kn[3] = { "georep/bench/a", "georep/bench/b", "georep/bench/c" };
	static double us[NSTEPS][RUNS];
	struct gr_merkle_mem mem = { 0 };
	struct gr_note_key keys[6];
	char dir[] = "/tmp/georep-bench-ckpt-XXXXXX", err[GR_NOTE_ERRLEN], path[64];
	double step[NSTEPS], leader, follower;
	EVP_PKEY *pk[3];
	struct gr_merkle t;
	gr_mhash h;
	uint64_t i;
	int k, s;

	if (!mkdtemp(dir) || gr_merkle_open(&t, &gr_merkle_mem_ops, &mem, 0))
		return 1;
	for (i = 0; i < LEAVES; i++) {
		memcpy(h, &i, sizeof(i));
		if (gr_merkle_leaf_hash(h, sizeof(h), h) || gr_merkle_append(&t, h))
			return 1;
	}
	for (k = 0; k < 3; k++) {
		pk[k] = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
		if (!pk[k] || gr_note_key_from_pkey(pk[k], kn[k], &keys[2 * k], err))
			return 1;
		keys[2 * k + 1] = keys[2 * k];
		gr_note_key_cosigner(&keys[2 * k + 1]);
	}
	for (i = 0; i < RUNS; i++) {
		double one_us[NSTEPS];

		if (one(&t, pk, keys, dir, one_us, i)) {
			fprintf(stderr, "bench_ckpt: run %llu failed\n", (unsigned long long)i);
			return 1;
		}
		for (s = 0; s < NSTEPS; s++)
			us[s][i] = one_us[s];
	}
	for (s = 0; s < NSTEPS; s++) {
		step[s] = median(us[s]);
		printf("checkpoint step: %-34s %9.1f us\n", names[s], step[s]);
	}
	/* the leader: root, sign, a check per cosignature (2), save; a follower:
	 * root, check the leader's signature, cosign, check and save the final */
	leader = step[ROOT] + step[SIGN] + 2 * step[VERIFY] / 3 + step[SAVE];
	follower = step[ROOT] + step[VERIFY] / 3 + step[COSIGN] + step[VERIFY] + step[SAVE];
	printf("one checkpoint: leader %.0f us, each follower %.0f us; every 1000 records: "
	       "%.2f us a record at the leader\n", leader, follower, leader / 1000);
	snprintf(path, sizeof(path), "%s/vol0.final", dir);
	unlink(path);
	rmdir(dir);
	gr_merkle_mem_free(&mem);
	for (k = 0; k < 3; k++)
		EVP_PKEY_free(pk[k]);
	return 0;
}
