// SPDX-License-Identifier: GPL-2.0
/*
 * A site's private key file: permission checks, Ed25519 only, and no copy
 * of its bytes left in memory once parsed.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/objects.h>
#include <openssl/pem.h>

#include "georep/tls.h"

/* Read all of @fd (at most GR_TLS_KEY_FILE_MAX bytes) into *@buf. */
static ssize_t read_small(int fd, size_t size, char **buf)
{
	size_t len = 0;
	ssize_t n;
	char *b;

	b = OPENSSL_secure_zalloc(size + 1);
	if (!b)
		return -ENOMEM;
	while (len < size) {
		n = read(fd, b + len, size - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			n = -errno;
			OPENSSL_secure_clear_free(b, size + 1);
			return n;
		}
		if (n == 0)
			break;
		len += n;
	}
	*buf = b;
	return len;
}

static int check_mode(int fd, const char *path, size_t *size, char *err, size_t errlen)
{
	struct stat st;

	if (fstat(fd, &st)) {
		snprintf(err, errlen, "key file %s: %s", path, strerror(errno));
		return -errno;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "key file %s: not a regular file", path);
		return -EINVAL;
	}
	if (st.st_mode & 0077) {
		snprintf(err, errlen,
			 "key file %s: mode %04o lets group or others access it; it must be 0600 or stricter (chmod 600 %s)",
			 path, (unsigned int)(st.st_mode & 07777), path);
		return -EPERM;
	}
	if (st.st_uid != geteuid() && st.st_uid != 0) {
		snprintf(err, errlen, "key file %s: owned by uid %u, neither this user (%u) nor root",
			 path, (unsigned int)st.st_uid, (unsigned int)geteuid());
		return -EPERM;
	}
	if (st.st_size <= 0 || st.st_size > GR_TLS_KEY_FILE_MAX) {
		snprintf(err, errlen, "key file %s: size %lld is not in 1..%d bytes", path,
			 (long long)st.st_size, GR_TLS_KEY_FILE_MAX);
		return -EINVAL;
	}
	*size = st.st_size;
	return 0;
}

static EVP_PKEY *parse_key(const char *path, const char *buf, size_t len,
			   char *err, size_t errlen)
{
	EVP_PKEY *pkey = NULL;
	BIO *bio;

	bio = BIO_new_mem_buf(buf, len);
	if (!bio) {
		snprintf(err, errlen, "key file %s: out of memory", path);
		return NULL;
	}
	/* a passphrase callback that gives nothing: encrypted keys fail */
	pkey = PEM_read_bio_PrivateKey(bio, NULL, NULL, (void *)"");
	BIO_free(bio);
	if (!pkey) {
		snprintf(err, errlen, "key file %s: no PEM private key in it (or it is encrypted)",
			 path);
		return NULL;
	}
	return pkey;
}

EVP_PKEY *gr_private_key_load(const char *path, char *err, size_t errlen)
{
	EVP_PKEY *pkey = NULL;
	char *buf = NULL;
	size_t size = 0;
	ssize_t len;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		snprintf(err, errlen, "key file %s: cannot open: %s", path, strerror(errno));
		return NULL;
	}
	if (check_mode(fd, path, &size, err, errlen))
		goto out_close;
	len = read_small(fd, size, &buf);
	if (len < 0) {
		snprintf(err, errlen, "key file %s: read error: %s", path, strerror(-len));
		goto out_close;
	}
	pkey = parse_key(path, buf, len, err, errlen);
	OPENSSL_secure_clear_free(buf, size + 1);
out_close:
	close(fd);
	return pkey;
}

EVP_PKEY *gr_site_key_load(const char *path, char *err, size_t errlen)
{
	EVP_PKEY *pkey = gr_private_key_load(path, err, errlen);

	if (pkey && EVP_PKEY_get_id(pkey) != EVP_PKEY_ED25519) {
		snprintf(err, errlen, "key file %s: a %s key; site keys must be Ed25519",
			 path, OBJ_nid2sn(EVP_PKEY_get_base_id(pkey)));
		EVP_PKEY_free(pkey);
		return NULL;
	}
	return pkey;
}
