// SPDX-License-Identifier: GPL-2.0
/* The cluster CA and site certificates (see georep/site_cert.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "georep/site_cert.h"

EVP_PKEY *gr_cert_keygen(void)
{
	return EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
}

static bool add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *ext;
	bool ok;

	X509V3_set_ctx_nodb(&ctx);
	X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	if (!ext)
		return false;
	ok = X509_add_ext(x, ext, -1) == 1;
	X509_EXTENSION_free(ext);
	return ok;
}

/* Version 3, random serial, validity, subject CN=@cn, public key. */
static X509 *cert_base(EVP_PKEY *key, const char *cn, unsigned int days)
{
	unsigned char serial[16];
	X509 *x = X509_new();
	X509_NAME *name;
	BIGNUM *bn;

	if (!x || RAND_bytes(serial, sizeof(serial)) != 1)
		goto fail;
	serial[0] &= 0x7f;	/* positive */
	bn = BN_bin2bn(serial, sizeof(serial), NULL);
	if (!bn || !BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x))) {
		BN_free(bn);
		goto fail;
	}
	BN_free(bn);
	name = X509_get_subject_name(x);
	if (X509_set_version(x, X509_VERSION_3) != 1 ||
	    !X509_gmtime_adj(X509_getm_notBefore(x), -300) ||
	    !X509_gmtime_adj(X509_getm_notAfter(x), (long)days * 86400) ||
	    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
				       (const unsigned char *)cn, -1, -1, 0) != 1 ||
	    X509_set_pubkey(x, key) != 1)
		goto fail;
	return x;
fail:
	X509_free(x);
	return NULL;
}

/* Ed25519 signs without a separate digest; others with SHA-256. */
static bool sign(X509 *x, EVP_PKEY *key)
{
	int id = EVP_PKEY_get_id(key);
	const EVP_MD *md = (id == EVP_PKEY_ED25519 || id == EVP_PKEY_ED448) ?
			   NULL : EVP_sha256();

	return X509_sign(x, key, md) > 0;
}

X509 *gr_cert_make_ca(EVP_PKEY *key, const char *cn, unsigned int days)
{
	X509 *x = cert_base(key, cn, days);

	if (!x)
		return NULL;
	if (X509_set_issuer_name(x, X509_get_subject_name(x)) != 1 ||
	    !add_ext(x, x, NID_basic_constraints, "critical,CA:TRUE") ||
	    !add_ext(x, x, NID_key_usage, "critical,keyCertSign,cRLSign") ||
	    !add_ext(x, x, NID_subject_key_identifier, "hash") ||
	    !sign(x, key)) {
		X509_free(x);
		return NULL;
	}
	return x;
}

X509 *gr_cert_make_site(EVP_PKEY *key, const char *cn, const char *san,
			X509 *ca, EVP_PKEY *ca_key, unsigned int days)
{
	X509 *x = cert_base(key, cn, days);
	char dns[300];

	if (!x)
		return NULL;
	snprintf(dns, sizeof(dns), "DNS:%s", san ? san : "");
	if (X509_set_issuer_name(x, X509_get_subject_name(ca)) != 1 ||
	    (san && !add_ext(x, ca, NID_subject_alt_name, dns)) ||
	    !add_ext(x, ca, NID_basic_constraints, "critical,CA:FALSE") ||
	    !add_ext(x, ca, NID_key_usage, "critical,digitalSignature") ||
	    !add_ext(x, ca, NID_ext_key_usage, "serverAuth,clientAuth") ||
	    !sign(x, ca_key)) {
		X509_free(x);
		return NULL;
	}
	return x;
}

/* Create @path (O_EXCL, @mode), write with @wr, fsync. */
static int write_new(const char *path, mode_t mode, int (*wr)(BIO *, void *),
		     void *obj, char *err, size_t errlen)
{
	BIO *bio;
	int fd, ret = 0;

	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
	if (fd < 0) {
		ret = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return ret;
	}
	if (fchmod(fd, mode)) {		/* whatever the umask */
		ret = -errno;
		goto fail;
	}
	bio = BIO_new_fd(fd, BIO_NOCLOSE);
	if (!bio || !wr(bio, obj) || BIO_flush(bio) != 1) {
		BIO_free(bio);
		ret = -EIO;
		goto fail;
	}
	BIO_free(bio);
	if (fsync(fd)) {
		ret = -errno;
		goto fail;
	}
	close(fd);
	return 0;
fail:
	snprintf(err, errlen, "%s: cannot write: %s", path, strerror(-ret));
	close(fd);
	unlink(path);
	ERR_clear_error();
	return ret;
}

static int wr_key(BIO *bio, void *k)
{
	return PEM_write_bio_PrivateKey(bio, k, NULL, NULL, 0, NULL, NULL);
}

static int wr_cert(BIO *bio, void *x)
{
	return PEM_write_bio_X509(bio, x);
}

int gr_cert_write_key(const char *path, EVP_PKEY *key, char *err, size_t errlen)
{
	return write_new(path, 0600, wr_key, key, err, errlen);
}

int gr_cert_write_cert(const char *path, X509 *cert, char *err, size_t errlen)
{
	return write_new(path, 0644, wr_cert, cert, err, errlen);
}

X509 *gr_cert_read(const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "re");
	X509 *x;

	if (!f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	if (!x) {
		snprintf(err, errlen, "%s: no PEM certificate in it", path);
		ERR_clear_error();
	}
	return x;
}
