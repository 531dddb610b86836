// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests of the persisted final checkpoint (georepd/final.c): a note
 * signed and cosigned here is saved and loaded back; a torn, garbage,
 * foreign, under-signed or forged file is refused with a reason, never
 * read as "no checkpoint".
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "../final.h"
#include "ktap.h"

#define ORIGIN	"georep/t/vol0"

static char dir[] = "/tmp/georep-final-test-XXXXXX";
static struct gr_note_key keys[4];
static char note[GD_FINAL_MAX + 1];
static size_t note_len;
static gr_mhash root;

/* a checkpoint of 77 signed by alpha and cosigned by bravo; their keys */
static int make_note(void)
{
	EVP_PKEY *a = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	EVP_PKEY *b = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	char text[256], err[GR_NOTE_ERRLEN];
	int ret = -ENOMEM;

	if (!a || !b)
		goto out;
	memset(root, 0x5c, sizeof(root));
	ret = gr_checkpoint_format(ORIGIN, 77, root, text, sizeof(text));
	if (!ret)
		ret = gr_note_sign(text, a, "georep/t/alpha", note, sizeof(note), &note_len, err);
	if (!ret)
		ret = gr_note_cosign(text, b, "georep/t/bravo", 1764720000, note, sizeof(note),
				     &note_len, err);
	if (!ret)
		ret = gr_note_key_from_pkey(a, "georep/t/alpha", &keys[0], err) ||
		      gr_note_key_from_pkey(b, "georep/t/bravo", &keys[2], err);
	keys[1] = keys[0];
	gr_note_key_cosigner(&keys[1]);
	keys[3] = keys[2];
	gr_note_key_cosigner(&keys[3]);
out:
	EVP_PKEY_free(a);
	EVP_PKEY_free(b);
	return ret;
}

static int put_file(const char *text, size_t len)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/vol0.final", dir);
	f = fopen(path, "w");
	if (!f)
		return -errno;
	fwrite(text, 1, len, f);
	return fclose(f) ? -EIO : 0;
}

static int load(unsigned int quorum, char *err)
{
	static char out[GD_FINAL_MAX + 1];
	gr_mhash r;
	uint64_t size;
	size_t len;

	return gd_final_load(dir, "vol0", ORIGIN, keys, 4, quorum, out, &len, &size, r, err);
}

static void test_save_load(void)
{
	static char out[GD_FINAL_MAX + 1];
	char err[GD_FINAL_ERRLEN], path[256];
	struct stat st;
	uint64_t size = 0;
	size_t len = 0;
	gr_mhash r;

	CHECK(make_note() == 0);
	CHECK(gd_final_load(dir, "vol0", ORIGIN, keys, 4, 2, out, &len, &size, r, err) ==
	      -ENOENT);
	CHECK_MSG(gd_final_save(dir, "vol0", note, note_len, err) == 0, "%s", err);
	CHECK_MSG(gd_final_load(dir, "vol0", ORIGIN, keys, 4, 2, out, &len, &size, r, err) == 0,
		  "%s", err);
	CHECK(len == note_len && !memcmp(out, note, len) && size == 77 &&
	      !memcmp(r, root, sizeof(r)));
	snprintf(path, sizeof(path), "%s/vol0.final", dir);
	CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600);
	snprintf(path, sizeof(path), "%s/vol0.final.state.tmp", dir);
	CHECK(access(path, F_OK) && errno == ENOENT);
}

static void expect_refused(const char *text, size_t len, unsigned int quorum, const char *want)
{
	char err[GD_FINAL_ERRLEN] = "";

	CHECK(put_file(text, len) == 0);
	CHECK(load(quorum, err) == -EBADMSG);
	CHECK_MSG(strstr(err, want) && strstr(err, "vol0.final"), "want \"%s\", got \"%s\"",
		  want, err);
}

static void test_refused(void)
{
	char bad[GD_FINAL_MAX + 2];
	size_t cut;

	/* torn anywhere: never taken for a final checkpoint (a majority is 2) */
	for (cut = 0; cut < note_len; cut += 7) {
		char err[GD_FINAL_ERRLEN] = "";

		CHECK(put_file(note, cut) == 0);
		CHECK_MSG(load(2, err) == -EBADMSG && err[0], "cut at %zu", cut);
	}
	expect_refused(note, 20, 1, "not a signed note");
	expect_refused("\x7f" "ELF\x02\x01\x01", 7, 1, "not a signed note");
	expect_refused(note, note_len - 1, 1, "ends in a newline");
	/* only alpha's signature: not a majority of 2 */
	expect_refused(note, strchr(strstr(note, "\n\n") + 2, '\n') + 1 - note, 2,
		       "1 site(s) vouch for it, a majority is 2");
	/* another volume */
	memcpy(bad, note, note_len);
	bad[12] = '1';
	expect_refused(bad, note_len, 1, "a checkpoint of georep/t/vol1, not of " ORIGIN);
	/* a forged root: the signatures do not verify */
	memcpy(bad, note, note_len);
	bad[strlen(ORIGIN) + 4] ^= 1;
	expect_refused(bad, note_len, 1, "does not verify");
	/* too big */
	memset(bad, 'a', sizeof(bad));
	expect_refused(bad, sizeof(bad), 1, "not a final checkpoint");
}

/* keys changed since it was kept (a rollover): -ENOKEY, its size still read */
static void test_unknown_keys(void)
{
	static char out[GD_FINAL_MAX + 1];
	struct gr_note_key saved[4];
	char err[GD_FINAL_ERRLEN] = "";
	uint64_t size = 0;
	size_t len;
	gr_mhash r;

	CHECK(put_file(note, note_len) == 0);
	memcpy(saved, keys, sizeof(keys));
	CHECK(make_note() == 0);	/* new keys; the file keeps the old note */
	CHECK(gd_final_load(dir, "vol0", ORIGIN, keys, 4, 2, out, &len, &size, r, err) ==
	      -ENOKEY);
	CHECK_MSG(strstr(err, "key rollover") && size == 77, "%s", err);
	CHECK(gd_final_load(dir, "vol0", ORIGIN, keys, 4, 3, out, &len, &size, r, err) ==
	      -EBADMSG);
	CHECK_MSG(strstr(err, "by a trusted key"), "%s", err);
	CHECK(gd_final_load(dir, "vol0", ORIGIN, saved, 4, 2, out, &len, &size, r, err) == 0);
}

static const struct ktap_case cases[] = {
	{ "final_save_load", test_save_load },
	{ "final_torn_garbage_foreign_refused", test_refused },
	{ "final_signed_by_old_keys", test_unknown_keys },
};

int main(void)
{
	char cmd[64];
	int ret;

	if (!mkdtemp(dir))
		return 1;
	ret = ktap_run(cases, sizeof(cases) / sizeof(cases[0]));
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd))
		ret = 1;
	return ret;
}
