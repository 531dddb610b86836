// SPDX-License-Identifier: GPL-2.0
/*
 * Which TLS 1.3 cipher suite a site prefers, measured rather than guessed
 * (Documentation/security.rst, "Cipher suites"). AES-GCM is the fastest
 * where the CPU runs AES and carry-less multiply instructions natively;
 * where it does not (no AES-NI, or an emulated CPU such as qemu TCG, which
 * advertises AES-NI but runs each instruction in software: 42 MB/s for
 * AES-256-GCM against 83 MB/s for ChaCha20-Poly1305 in the lab's VM),
 * ChaCha20-Poly1305 is. The first use encrypts a 64 KiB buffer with
 * AES-128-GCM and with ChaCha20-Poly1305 until each has run a few
 * milliseconds and puts the faster first; AES-256-GCM stays allowed, last.
 * Both are TLS 1.3 suites with 128-bit or better security.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

#include "georep/tls.h"

#define BUF_LEN		65536
#define MIN_NS		4000000ULL	/* run each cipher at least this long */
#define MAX_ROUNDS	256

#define SUITE_AES128	"TLS_AES_128_GCM_SHA256"
#define SUITE_CHACHA	"TLS_CHACHA20_POLY1305_SHA256"
#define SUITE_AES256	"TLS_AES_256_GCM_SHA384"

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

/* MB/s of @cipher sealing @buf in place, 0 when it cannot run */
static double rate(const EVP_CIPHER *cipher, unsigned char *buf)
{
	static const unsigned char key[32], iv[12];
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	uint64_t t0 = now_ns(), t = 0, bytes = 0;
	unsigned char tag[16];
	int n, i;

	if (!c)
		return 0;
	for (i = 0; i < MAX_ROUNDS && (t = now_ns() - t0) < MIN_NS; i++) {
		if (!EVP_EncryptInit_ex(c, cipher, NULL, key, iv) ||
		    !EVP_EncryptUpdate(c, buf, &n, buf, BUF_LEN) ||
		    !EVP_EncryptFinal_ex(c, tag, &n) ||
		    !EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_GET_TAG, sizeof(tag), tag)) {
			EVP_CIPHER_CTX_free(c);
			return 0;
		}
		bytes += BUF_LEN;
	}
	EVP_CIPHER_CTX_free(c);
	t = now_ns() - t0;
	return t ? bytes * 1e3 / t : 0;
}

const char *gr_tls_suites(char *desc, size_t len)
{
	static char suites[128], why[160];
	static unsigned char buf[BUF_LEN];
	double aes, chacha;

	if (!suites[0]) {
		aes = rate(EVP_aes_128_gcm(), buf);
		chacha = rate(EVP_chacha20_poly1305(), buf);
		snprintf(suites, sizeof(suites), "%s:%s:%s", chacha > aes ? SUITE_CHACHA :
			 SUITE_AES128, chacha > aes ? SUITE_AES128 : SUITE_CHACHA, SUITE_AES256);
		snprintf(why, sizeof(why), "%s preferred (measured here: ChaCha20-Poly1305 "
			 "%.0f MB/s, AES-128-GCM %.0f MB/s)", chacha > aes ? "ChaCha20-Poly1305" :
			 "AES-128-GCM", chacha, aes);
	}
	if (desc)
		snprintf(desc, len, "%s", why);
	return suites;
}
