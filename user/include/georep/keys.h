/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Seal key files.
 *
 * Layout: <key-dir>/<volume>/<epoch>.key, 32 raw bytes, mode 0600, epoch a
 * decimal number >= 1 without leading zeros. Directories are created 0700.
 * A key file that is not a regular file, not exactly 32 bytes, or readable
 * or writable by group or other is refused. Key material is wiped with
 * OPENSSL_cleanse() by georep_keyset_clear() and on every error path.
 * <volume> must pass gr_valid_name() (so never "." or ".." or with a "/"):
 * every function here is -EINVAL otherwise, before it touches a file.
 */
#ifndef _GEOREP_KEYS_H
#define _GEOREP_KEYS_H

#include <stddef.h>
#include <stdint.h>
#include <linux/georep.h>

#define GEOREP_DEFAULT_KEY_DIR	"/etc/georep/keys"

struct georep_keyent {
	uint32_t epoch;
	uint8_t data[GEOREP_KEY_LEN];
};

/*
 * Key files one volume may keep. The kernel holds at most GEOREP_MAX_KEYS
 * epochs at once and retires unused ones (Documentation/admin-guide.rst,
 * "Seal keys and their rotation"); the files stay, so that records
 * released from the log verify later. Retired files may be moved to an
 * archive directory once no site's retained log uses them.
 */
#define GEOREP_KEYSET_MAX	256

/* the keys of one volume, sorted by epoch, at most GEOREP_KEYSET_MAX */
struct georep_keyset {
	unsigned int nr;
	struct georep_keyent keys[GEOREP_KEYSET_MAX];
};

/*
 * georep_keys_load() - read every <epoch>.key of a volume.
 * A missing volume directory gives an empty set. More than GEOREP_KEYSET_MAX
 * files is -E2BIG; a bad file is -EPERM (permissions), -EINVAL (size, name)
 * or the errno of the failing call; @err names the file.
 */
int georep_keys_load(const char *dir, const char *volume,
		     struct georep_keyset *ks, char *err, size_t errlen);

/*
 * georep_keys_highest() - the highest epoch of a volume's key files, from
 * their names alone (0: none, or no directory); -EINVAL for a bad name,
 * -ENAMETOOLONG or the errno of opendir()/readdir(); @err says which.
 */
int georep_keys_highest(const char *dir, const char *volume, uint32_t *epoch,
			char *err, size_t errlen);

/*
 * georep_key_generate() - create <dir>/<volume>/<epoch>.key with O_EXCL,
 * filled from RAND_bytes(), fsync'ed. Creates the directories (0700) when
 * missing. -EEXIST when the epoch already has a key. The new key is copied
 * to *out when @out is not NULL.
 */
int georep_key_generate(const char *dir, const char *volume, uint32_t epoch,
			struct georep_keyent *out, char *err, size_t errlen);

/* remove a key file created by georep_key_generate() that was never used */
/*
 * georep_key_store() - create <dir>/<volume>/<epoch>.key holding @key (one
 * received from the leader), 0600, fsync'ed, like georep_key_generate().
 * An existing file with the same 32 bytes is success (a key sent again);
 * with other bytes it is -EEXIST ("exists with different bytes").
 */
int georep_key_store(const char *dir, const char *volume, uint32_t epoch,
		     const uint8_t key[GEOREP_KEY_LEN], char *err, size_t errlen);
int georep_key_remove(const char *dir, const char *volume, uint32_t epoch);

/* the key of @epoch in @ks, or NULL */
const struct georep_keyent *georep_keyset_find(const struct georep_keyset *ks,
					       uint32_t epoch);
uint32_t georep_keyset_max_epoch(const struct georep_keyset *ks);
/*
 * georep_keyset_keep_newest() - keep the @n highest epochs of @ks, wiping
 * the others: what VOLUME_NEW and KEY_SET carry (at most GEOREP_MAX_KEYS)
 */
void georep_keyset_keep_newest(struct georep_keyset *ks, unsigned int n);
void georep_keyset_clear(struct georep_keyset *ks);

#endif /* _GEOREP_KEYS_H */
