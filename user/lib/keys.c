// SPDX-License-Identifier: GPL-2.0
/*
 * Seal key files: see user/include/georep/keys.h.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "georep/config.h"
#include "georep/fdio.h"
#include "georep/keys.h"

static int fail(char *err, size_t errlen, int ret, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return ret;
}

/* "<epoch>.key" with a decimal epoch >= 1, no sign, no leading zero */
static int parse_key_name(const char *name, uint32_t *epoch)
{
	unsigned long long v = 0;
	const char *p = name;

	if (*p < '1' || *p > '9')
		return -EINVAL;
	for (; *p >= '0' && *p <= '9'; p++) {
		v = v * 10 + (unsigned int)(*p - '0');
		if (v > UINT32_MAX)
			return -EINVAL;
	}
	if (strcmp(p, ".key"))
		return -EINVAL;
	*epoch = (uint32_t)v;
	return 0;
}

static bool is_key_name(const char *name)
{
	size_t len = strlen(name);

	return len > 4 && !strcmp(name + len - 4, ".key");
}

static int read_key(int dfd, const char *path, const char *name,
		    struct georep_keyent *ke, char *err, size_t errlen)
{
	struct stat st;
	ssize_t n;
	int fd, ret;

	fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return fail(err, errlen, -errno, "cannot open key %s/%s: %s",
			    path, name, strerror(errno));
	if (fstat(fd, &st)) {
		ret = fail(err, errlen, -errno, "cannot stat key %s/%s: %s",
			   path, name, strerror(errno));
		goto out_close;
	}
	if (!S_ISREG(st.st_mode)) {
		ret = fail(err, errlen, -EINVAL,
			   "key %s/%s is not a regular file", path, name);
		goto out_close;
	}
	if (st.st_mode & 077) {
		ret = fail(err, errlen, -EPERM,
			   "key %s/%s has mode %04o: group and other must have no access (chmod 600)",
			   path, name, (unsigned int)(st.st_mode & 07777));
		goto out_close;
	}
	if (st.st_size != GEOREP_KEY_LEN) {
		ret = fail(err, errlen, -EINVAL,
			   "key %s/%s is %lld bytes, expected %d", path, name,
			   (long long)st.st_size, GEOREP_KEY_LEN);
		goto out_close;
	}
	n = pread(fd, ke->data, GEOREP_KEY_LEN, 0);
	if (n != GEOREP_KEY_LEN) {
		ret = fail(err, errlen, n < 0 ? -errno : -EIO,
			   "cannot read key %s/%s: %s", path, name,
			   n < 0 ? strerror(errno) : "short read");
		OPENSSL_cleanse(ke->data, sizeof(ke->data));
		goto out_close;
	}
	ret = 0;
out_close:
	close(fd);
	return ret;
}

static int cmp_epoch(const void *a, const void *b)
{
	const struct georep_keyent *x = a, *y = b;

	return x->epoch < y->epoch ? -1 : x->epoch > y->epoch;
}

/* <dir>/<volume> must stay under <dir>: a volume name, not "..", "a/b" */
static int check_volume(const char *volume, char *err, size_t errlen)
{
	if (gr_valid_name(volume))
		return 0;
	return fail(err, errlen, -EINVAL,
		    "invalid volume name \"%.64s\" for a key directory", volume);
}

/* <dir>/<volume> into @path (PATH_MAX) and opened into *@d: NULL when missing */
static int open_keydir(const char *dir, const char *volume, char *path, DIR **d,
		       char *err, size_t errlen)
{
	int ret = check_volume(volume, err, errlen);

	*d = NULL;
	if (ret)
		return ret;
	if (snprintf(path, PATH_MAX, "%s/%s", dir, volume) >= PATH_MAX)
		return fail(err, errlen, -ENAMETOOLONG, "key directory path too long");
	*d = opendir(path);
	if (!*d && errno != ENOENT)
		return fail(err, errlen, -errno, "cannot open key directory %s: %s",
			    path, strerror(errno));
	return 0;
}

/* the epoch of key file @name into @epoch: 0; 1 when not a key file; -EINVAL */
static int key_name_epoch(const char *path, const char *name, uint32_t *epoch,
			  char *err, size_t errlen)
{
	if (!is_key_name(name))
		return 1;
	if (parse_key_name(name, epoch))
		return fail(err, errlen, -EINVAL,
			    "key file %s/%s: name must be <epoch>.key with epoch 1..%u",
			    path, name, UINT32_MAX);
	return 0;
}

int georep_keys_highest(const char *dir, const char *volume, uint32_t *epoch,
			char *err, size_t errlen)
{
	char path[PATH_MAX];
	struct dirent *de;
	uint32_t e;
	DIR *d;
	int ret = open_keydir(dir, volume, path, &d, err, errlen);

	*epoch = 0;
	if (ret || !d)
		return ret;
	while ((errno = 0, de = readdir(d))) {
		ret = key_name_epoch(path, de->d_name, &e, err, errlen);
		if (ret < 0)
			break;
		if (!ret && e > *epoch)
			*epoch = e;
		ret = 0;
	}
	if (!ret && errno)
		ret = fail(err, errlen, -errno, "cannot read key directory %s: %s", path,
			   strerror(errno));
	closedir(d);
	if (ret)
		*epoch = 0;
	return ret;
}

int georep_keys_load(const char *dir, const char *volume,
		     struct georep_keyset *ks, char *err, size_t errlen)
{
	char path[PATH_MAX];
	struct dirent *de;
	DIR *d;
	int ret;

	memset(ks, 0, sizeof(*ks));
	ret = open_keydir(dir, volume, path, &d, err, errlen);
	if (ret || !d)
		return ret;
	while ((errno = 0, de = readdir(d))) {
		struct georep_keyent ke;

		ret = key_name_epoch(path, de->d_name, &ke.epoch, err, errlen);
		if (ret > 0)
			continue;
		if (ret)
			goto out_clear;
		if (ks->nr == GEOREP_KEYSET_MAX) {
			ret = fail(err, errlen, -E2BIG,
				   "%s holds more than %d keys; move retired epochs to an archive",
				   path, GEOREP_KEYSET_MAX);
			goto out_clear;
		}
		ret = read_key(dirfd(d), path, de->d_name, &ke, err, errlen);
		if (ret)
			goto out_clear;
		ks->keys[ks->nr++] = ke;
		OPENSSL_cleanse(&ke, sizeof(ke));
	}
	if (errno) {
		ret = fail(err, errlen, -errno, "cannot read key directory %s: %s",
			   path, strerror(errno));
		goto out_clear;
	}
	qsort(ks->keys, ks->nr, sizeof(ks->keys[0]), cmp_epoch);
	closedir(d);
	return 0;

out_clear:
	georep_keyset_clear(ks);
	closedir(d);
	return ret;
}

static int make_dir(const char *path, char *err, size_t errlen)
{
	struct stat st;

	if (!mkdir(path, 0700))
		return 0;
	if (errno != EEXIST)
		return fail(err, errlen, -errno, "cannot create %s: %s", path,
			    strerror(errno));
	if (stat(path, &st))
		return fail(err, errlen, -errno, "cannot stat %s: %s", path,
			    strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return fail(err, errlen, -ENOTDIR, "%s is not a directory", path);
	return 0;
}

/* mkdir -p for the key directory itself: every missing level gets 0700 */
static int make_dirs(const char *dir, char *err, size_t errlen)
{
	char path[PATH_MAX];
	size_t i;
	int ret;

	if (snprintf(path, sizeof(path), "%s", dir) >= (int)sizeof(path))
		return fail(err, errlen, -ENAMETOOLONG, "key directory path too long");
	for (i = 1; path[i]; i++) {
		if (path[i] != '/')
			continue;
		path[i] = '\0';
		ret = make_dir(path, err, errlen);
		path[i] = '/';
		if (ret)
			return ret;
	}
	return make_dir(path, err, errlen);
}

/* an existing <epoch>.key holding exactly @key is success (a resent key) */
static int same_key(int dfd, const char *vdir, const char *name,
		    const uint8_t *key, char *err, size_t errlen)
{
	struct georep_keyent ke;
	int ret;

	ret = read_key(dfd, vdir, name, &ke, err, errlen);
	if (ret)
		return ret;
	if (CRYPTO_memcmp(ke.data, key, GEOREP_KEY_LEN))
		ret = fail(err, errlen, -EEXIST,
			   "key %s/%s exists with different bytes", vdir, name);
	OPENSSL_cleanse(&ke, sizeof(ke));
	return ret;
}

/* create <vdir>/<epoch>.key 0600 holding @key (or fresh RAND_bytes), fsync'ed */
static int store_key(const char *dir, const char *volume, uint32_t epoch,
		     uint8_t *key, bool fresh, char *err, size_t errlen)
{
	char vdir[PATH_MAX], name[32];
	int dfd, fd, ret;

	if (!epoch)
		return fail(err, errlen, -EINVAL, "key epoch 0 is not allowed");
	ret = check_volume(volume, err, errlen);
	if (ret)
		return ret;
	if (snprintf(vdir, sizeof(vdir), "%s/%s", dir, volume) >= (int)sizeof(vdir))
		return fail(err, errlen, -ENAMETOOLONG, "key directory path too long");
	ret = make_dirs(dir, err, errlen) ?: make_dir(vdir, err, errlen);
	if (ret)
		return ret;
	dfd = open(vdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return fail(err, errlen, -errno, "cannot open %s: %s", vdir,
			    strerror(errno));

	snprintf(name, sizeof(name), "%u.key", epoch);
	fd = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		    0600);
	if (fd < 0) {
		if (errno == EEXIST && !fresh)
			ret = same_key(dfd, vdir, name, key, err, errlen);
		else
			ret = fail(err, errlen, -errno, "cannot create key %s/%s: %s",
				   vdir, name, strerror(errno));
		goto out_close_dir;
	}
	if (fresh && RAND_bytes(key, GEOREP_KEY_LEN) != 1) {
		ret = fail(err, errlen, -EIO, "RAND_bytes failed");
		goto out_unlink;
	}
	/* the umask may have cleared bits we need; never widen */
	ret = fchmod(fd, 0600) ? -errno : gr_write_all(fd, key, GEOREP_KEY_LEN);
	if (!ret && fsync(fd))
		ret = -errno;
	if (ret) {
		fail(err, errlen, ret, "cannot write key %s/%s: %s", vdir, name,
		     strerror(-ret));
		goto out_unlink;
	}
	close(fd);
	fsync(dfd);
	close(dfd);
	return 0;

out_unlink:
	close(fd);
	unlinkat(dfd, name, 0);
out_close_dir:
	close(dfd);
	return ret;
}

int georep_key_generate(const char *dir, const char *volume, uint32_t epoch,
			struct georep_keyent *out, char *err, size_t errlen)
{
	uint8_t key[GEOREP_KEY_LEN];
	int ret;

	ret = store_key(dir, volume, epoch, key, true, err, errlen);
	if (!ret && out) {
		out->epoch = epoch;
		memcpy(out->data, key, sizeof(key));
	}
	OPENSSL_cleanse(key, sizeof(key));
	return ret;
}

int georep_key_store(const char *dir, const char *volume, uint32_t epoch,
		     const uint8_t key[GEOREP_KEY_LEN], char *err, size_t errlen)
{
	uint8_t copy[GEOREP_KEY_LEN];
	int ret;

	memcpy(copy, key, sizeof(copy));
	ret = store_key(dir, volume, epoch, copy, false, err, errlen);
	OPENSSL_cleanse(copy, sizeof(copy));
	return ret;
}

int georep_key_remove(const char *dir, const char *volume, uint32_t epoch)
{
	char path[PATH_MAX];

	if (!gr_valid_name(volume))
		return -EINVAL;
	if (snprintf(path, sizeof(path), "%s/%s/%u.key", dir, volume, epoch) >=
	    (int)sizeof(path))
		return -ENAMETOOLONG;
	return unlink(path) ? -errno : 0;
}

const struct georep_keyent *georep_keyset_find(const struct georep_keyset *ks,
					       uint32_t epoch)
{
	unsigned int i;

	for (i = 0; i < ks->nr; i++)
		if (ks->keys[i].epoch == epoch)
			return &ks->keys[i];
	return NULL;
}

uint32_t georep_keyset_max_epoch(const struct georep_keyset *ks)
{
	return ks->nr ? ks->keys[ks->nr - 1].epoch : 0;
}

void georep_keyset_keep_newest(struct georep_keyset *ks, unsigned int n)
{
	unsigned int drop = ks->nr > n ? ks->nr - n : 0;

	if (!drop)
		return;
	memmove(ks->keys, ks->keys + drop, n * sizeof(ks->keys[0]));
	OPENSSL_cleanse(ks->keys + n, drop * sizeof(ks->keys[0]));
	ks->nr = n;
}

void georep_keyset_clear(struct georep_keyset *ks)
{
	OPENSSL_cleanse(ks, sizeof(*ks));
}
