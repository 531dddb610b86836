// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests for user/lib/keys.c, in a fresh temporary key directory.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "georep/keys.h"
#include "grtest.h"

static char base[64];
static char dir[128];

static int write_file(const char *name, size_t len, mode_t mode)
{
	char path[256];
	uint8_t buf[64] = { 0x5a };
	int fd;

	snprintf(path, sizeof(path), "%s/vol/%s", dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
	if (fd < 0)
		return -1;
	if (write(fd, buf, len) != (ssize_t)len || fchmod(fd, mode)) {
		close(fd);
		return -1;
	}
	return close(fd);
}

static void rm_file(const char *name)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/vol/%s", dir, name);
	unlink(path);
}

static int test_missing_dir_is_empty(void)
{
	struct georep_keyset ks;

	CHECK(georep_keys_load(dir, "nosuchvol", &ks, NULL, 0) == 0);
	CHECK(ks.nr == 0);
	CHECK(georep_keyset_max_epoch(&ks) == 0);
	return 0;
}

static int test_generate_creates_0600(void)
{
	struct georep_keyent ke = { 0 };
	char path[256], err[256];
	struct stat st;

	umask(0);	/* the file must still come out 0600 */
	CHECK(georep_key_generate(dir, "vol", 1, &ke, err, sizeof(err)) == 0);
	umask(022);
	CHECK(ke.epoch == 1);
	snprintf(path, sizeof(path), "%s/vol/1.key", dir);
	CHECK(stat(path, &st) == 0);
	CHECK(S_ISREG(st.st_mode) && (st.st_mode & 07777) == 0600);
	CHECK(st.st_size == GEOREP_KEY_LEN);
	snprintf(path, sizeof(path), "%s/vol", dir);
	CHECK(stat(path, &st) == 0 && (st.st_mode & 07777) == 0700);
	CHECK(stat(dir, &st) == 0 && (st.st_mode & 07777) == 0700);
	return 0;
}

static int test_generate_exclusive(void)
{
	char err[256] = "";

	CHECK(georep_key_generate(dir, "vol", 1, NULL, err, sizeof(err)) == -EEXIST);
	CHECK(strstr(err, "1.key"));
	CHECK(georep_key_generate(dir, "vol", 0, NULL, err, sizeof(err)) == -EINVAL);
	return 0;
}

static int test_load_sorted(void)
{
	struct georep_keyent k2, k10;
	struct georep_keyset ks;
	char err[256];
	uint32_t e;

	CHECK(georep_key_generate(dir, "vol", 10, &k10, err, sizeof(err)) == 0);
	CHECK(georep_key_generate(dir, "vol", 2, &k2, err, sizeof(err)) == 0);
	CHECK(memcmp(k2.data, k10.data, GEOREP_KEY_LEN));	/* random */
	CHECK(write_file("README", 3, 0644) == 0);		/* not a key: ignored */
	CHECK(georep_keys_load(dir, "vol", &ks, err, sizeof(err)) == 0);
	CHECK(ks.nr == 3);
	CHECK(ks.keys[0].epoch == 1 && ks.keys[1].epoch == 2 && ks.keys[2].epoch == 10);
	CHECK(georep_keyset_max_epoch(&ks) == 10);
	/* the same from the names alone (georepd asks every second) */
	CHECK(georep_keys_highest(dir, "vol", &e, err, sizeof(err)) == 0 && e == 10);
	CHECK(georep_keys_highest(dir, "nosuchvol", &e, err, sizeof(err)) == 0 && e == 0);
	CHECK(georep_keyset_find(&ks, 2) &&
	      !memcmp(georep_keyset_find(&ks, 2)->data, k2.data, GEOREP_KEY_LEN));
	CHECK(!georep_keyset_find(&ks, 3));
	georep_keyset_clear(&ks);
	CHECK(ks.nr == 0 && ks.keys[0].epoch == 0 && ks.keys[0].data[0] == 0);
	CHECK(georep_key_remove(dir, "vol", 10) == 0);
	CHECK(georep_key_remove(dir, "vol", 10) == -ENOENT);
	rm_file("README");
	return 0;
}

/* load must fail with @ret and mention @needle; the set comes back empty */
static int load_fails(int ret, const char *needle)
{
	struct georep_keyset ks;
	char err[256] = "";
	int got = georep_keys_load(dir, "vol", &ks, err, sizeof(err));

	if (got != ret || !strstr(err, needle) || ks.nr) {
		printf("# got %d '%s', want %d '%s'\n", got, err, ret, needle);
		return 1;
	}
	return 0;
}

static int test_refuse_group_readable(void)
{
	CHECK(write_file("7.key", GEOREP_KEY_LEN, 0640) == 0);
	CHECK(!load_fails(-EPERM, "7.key has mode 0640"));
	CHECK(write_file("7.key", GEOREP_KEY_LEN, 0604) == 0);
	CHECK(!load_fails(-EPERM, "chmod 600"));
	rm_file("7.key");
	return 0;
}

static int test_refuse_wrong_size(void)
{
	CHECK(write_file("7.key", GEOREP_KEY_LEN - 1, 0600) == 0);
	CHECK(!load_fails(-EINVAL, "31 bytes, expected 32"));
	CHECK(write_file("7.key", GEOREP_KEY_LEN + 1, 0600) == 0);
	CHECK(!load_fails(-EINVAL, "33 bytes"));
	rm_file("7.key");
	return 0;
}

static int test_refuse_bad_names(void)
{
	char err[256] = "";
	uint32_t e = 5;

	CHECK(write_file("07.key", GEOREP_KEY_LEN, 0600) == 0);
	CHECK(!load_fails(-EINVAL, "<epoch>.key"));
	CHECK(georep_keys_highest(dir, "vol", &e, err, sizeof(err)) == -EINVAL && !e &&
	      strstr(err, "07.key: name must be <epoch>.key"));
	rm_file("07.key");
	CHECK(write_file("x1.key", GEOREP_KEY_LEN, 0600) == 0);
	CHECK(!load_fails(-EINVAL, "x1.key"));
	rm_file("x1.key");
	CHECK(write_file("4294967296.key", GEOREP_KEY_LEN, 0600) == 0);
	CHECK(!load_fails(-EINVAL, "4294967296.key"));
	rm_file("4294967296.key");
	return 0;
}

static int test_refuse_symlink(void)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/vol/8.key", dir);
	CHECK(symlink("1.key", path) == 0);
	CHECK(!load_fails(-ELOOP, "8.key"));
	unlink(path);
	return 0;
}

static int test_too_many(void)
{
	struct georep_keyset ks;
	uint32_t e;

	/* 1 and 2 exist; fill up to GEOREP_KEYSET_MAX, then one more */
	for (e = 3; e <= GEOREP_KEYSET_MAX; e++)
		CHECK(georep_key_generate(dir, "vol", e, NULL, NULL, 0) == 0);
	CHECK(georep_keys_load(dir, "vol", &ks, NULL, 0) == 0);
	CHECK(ks.nr == GEOREP_KEYSET_MAX);
	/* VOLUME_NEW and KEY_SET carry the newest GEOREP_MAX_KEYS */
	georep_keyset_keep_newest(&ks, GEOREP_MAX_KEYS);
	CHECK(ks.nr == GEOREP_MAX_KEYS);
	CHECK(ks.keys[0].epoch == GEOREP_KEYSET_MAX - GEOREP_MAX_KEYS + 1);
	CHECK(ks.keys[GEOREP_MAX_KEYS - 1].epoch == GEOREP_KEYSET_MAX);
	georep_keyset_keep_newest(&ks, GEOREP_MAX_KEYS);
	CHECK(ks.nr == GEOREP_MAX_KEYS);
	georep_keyset_clear(&ks);
	CHECK(georep_key_generate(dir, "vol", GEOREP_KEYSET_MAX + 1, NULL, NULL, 0) == 0);
	CHECK(!load_fails(-E2BIG, "more than 256 keys"));
	return 0;
}

/* the volume name is a directory under the key dir: never "..", ".", "a/b" */
static int test_refuse_bad_volume(void)
{
	static const char *const bad[] = { "..", ".", "a/b", "", "../vol" };
	struct georep_keyset ks;
	char path[256];
	unsigned int i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECK(georep_key_generate(dir, bad[i], 1, NULL, NULL, 0) == -EINVAL);
		CHECK(georep_keys_load(dir, bad[i], &ks, NULL, 0) == -EINVAL);
		CHECK(georep_key_remove(dir, bad[i], 1) == -EINVAL);
	}
	/* nothing was written next to the key dir */
	snprintf(path, sizeof(path), "%s/etc/1.key", base);
	CHECK(access(path, F_OK) != 0);
	return 0;
}

/* a key received from the leader: stored 0600, loads back, resent is ok */
static int test_store_received(void)
{
	uint8_t key[GEOREP_KEY_LEN], other[GEOREP_KEY_LEN];
	const struct georep_keyent *ke;
	struct georep_keyset ks;
	char path[256], err[256] = "";
	struct stat st;

	memset(key, 0xa5, sizeof(key));
	memset(other, 0x3c, sizeof(other));
	umask(0);
	CHECK(georep_key_store(dir, "rx", 4, key, err, sizeof(err)) == 0);
	umask(022);
	snprintf(path, sizeof(path), "%s/rx/4.key", dir);
	CHECK(stat(path, &st) == 0 && (st.st_mode & 07777) == 0600 &&
	      st.st_size == GEOREP_KEY_LEN);
	CHECK(georep_keys_load(dir, "rx", &ks, err, sizeof(err)) == 0);
	ke = georep_keyset_find(&ks, 4);
	CHECK(ks.nr == 1 && ke && !memcmp(ke->data, key, sizeof(key)));
	georep_keyset_clear(&ks);
	/* the same key again (pushed again on reconnect): success */
	CHECK(georep_key_store(dir, "rx", 4, key, err, sizeof(err)) == 0);
	/* other bytes for an epoch that has a key: refused, file unchanged */
	CHECK(georep_key_store(dir, "rx", 4, other, err, sizeof(err)) == -EEXIST);
	CHECK(strstr(err, "4.key exists with different bytes"));
	CHECK(georep_keys_load(dir, "rx", &ks, err, sizeof(err)) == 0);
	ke = georep_keyset_find(&ks, 4);
	CHECK(ke && !memcmp(ke->data, key, sizeof(key)));
	georep_keyset_clear(&ks);
	CHECK(georep_key_store(dir, "rx", 0, key, err, sizeof(err)) == -EINVAL);
	CHECK(georep_key_store(dir, "../x", 5, key, err, sizeof(err)) == -EINVAL);
	/* a group-readable file at that epoch is refused, not trusted */
	CHECK(chmod(path, 0640) == 0);
	CHECK(georep_key_store(dir, "rx", 4, key, err, sizeof(err)) == -EPERM);
	CHECK(chmod(path, 0600) == 0);
	return 0;
}

static const struct grtest tests[] = {
	{ "missing_dir_is_empty", test_missing_dir_is_empty },
	{ "generate_creates_0600", test_generate_creates_0600 },
	{ "generate_exclusive", test_generate_exclusive },
	{ "load_sorted", test_load_sorted },
	{ "refuse_group_readable", test_refuse_group_readable },
	{ "refuse_wrong_size", test_refuse_wrong_size },
	{ "refuse_bad_names", test_refuse_bad_names },
	{ "refuse_symlink", test_refuse_symlink },
	{ "too_many", test_too_many },
	{ "refuse_bad_volume", test_refuse_bad_volume },
	{ "store_received", test_store_received },
};

int main(void)
{
	char cmd[160];
	int ret;

	snprintf(base, sizeof(base), "/tmp/georep-keys-XXXXXX");
	if (!mkdtemp(base)) {
		perror("mkdtemp");
		return 1;
	}
	/* a missing intermediate level is created too */
	snprintf(dir, sizeof(dir), "%s/etc/keys", base);
	ret = grtest_run(tests, sizeof(tests) / sizeof(tests[0]));
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", base);
	if (system(cmd))
		fprintf(stderr, "could not remove %s\n", base);
	return ret;
}
