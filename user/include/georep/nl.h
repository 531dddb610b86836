/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Generic netlink client for the "georep" family (libnl-genl).
 *
 * One struct georep_nl per socket. Requests return 0 or a negative errno;
 * on failure georep_nl_error() gives "<strerror>: <extack message>" (the
 * kernel's extended ack is enabled with NETLINK_EXT_ACK), or just the
 * strerror text when the kernel gave no message.
 */
#ifndef _GEOREP_NL_H
#define _GEOREP_NL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/georep.h>

#include "georep/keys.h"

struct georep_nl;

/* the names of the family's enum values, as georepctl and georepd print
 * them ("primary", "quorum", "suspend", ...); "unknown" for other values */
const char *georep_role_name(unsigned int role);
const char *georep_commit_rule_name(unsigned int rule);
const char *georep_io_state_name(unsigned int state);

/* what the kernel reports about a volume; has_* says what was present */
struct georep_vol_status {
	char name[GEOREP_NAME_MAX];
	bool has_uuid;
	uint8_t uuid[GEOREP_UUID_LEN];
	uint32_t minor;
	uint32_t site_id;
	uint8_t role;			/* enum georep_role */
	uint64_t term;
	uint8_t commit_rule;		/* enum georep_commit_rule */
	uint64_t data_bytes;
	uint64_t written_seq;
	uint64_t commit_seq;
	uint64_t applied_seq;
	uint64_t tail_seq;
	uint64_t log_used;
	uint64_t log_size;
	uint64_t uncommitted_bytes;
	bool throttled;
	bool has_limits;
	uint8_t high_wm;
	uint8_t low_wm;
	uint64_t max_uncommitted;
	uint32_t seal_epoch;
	uint32_t open_count;
	uint8_t io_state;		/* enum georep_io_state */
	uint8_t diverged;		/* 1: truncated records' blocks not resynced */
	uint8_t standalone;		/* 1: created standalone, no control plane */
	bool has_chain_hash;
	uint8_t chain_hash[GEOREP_HASH_LEN];
	/* the seal key epochs installed, ascending (GEOREP_A_KEY_EPOCHS) */
	uint32_t nr_key_epochs;
	uint32_t key_epochs[GEOREP_MAX_KEYS];
	bool has_bad_seq;
	uint64_t bad_seq;
	/* events only */
	uint8_t event;			/* enum georep_event, 0 in replies */
	int32_t error;
	/* which attributes were present, by GEOREP_A_* number */
	uint64_t present;
};

#define GEOREP_VOL_HAS(st, attr)	(!!((st)->present & (1ULL << (attr))))

/* VOLUME_NEW; has_* / non-NULL fields are sent */
struct georep_vol_new {
	const char *name;
	const char *data_path;
	const char *log_path;
	bool format;
	bool standalone;		/* GEOREP_A_STANDALONE */
	bool has_uuid;
	uint8_t uuid[GEOREP_UUID_LEN];
	bool has_site_id;
	uint32_t site_id;
	bool has_role;
	uint8_t role;
	bool has_term;
	uint64_t term;
	bool has_commit_rule;
	uint8_t commit_rule;
	bool has_high_wm;
	uint8_t high_wm;
	bool has_low_wm;
	uint8_t low_wm;
	bool has_max_uncommitted;
	uint64_t max_uncommitted;
	const struct georep_keyset *keys;
};

/* VOLUME_SET */
struct georep_vol_set {
	const char *name;
	bool has_role;			/* role and term travel together */
	uint8_t role;
	uint64_t term;
	bool has_commit_seq;
	uint64_t commit_seq;
	bool has_commit_rule;
	uint8_t commit_rule;
	bool has_wm;			/* high and low travel together */
	uint8_t high_wm;
	uint8_t low_wm;
	bool has_max_uncommitted;
	uint64_t max_uncommitted;
	bool has_io_state;
	uint8_t io_state;		/* enum georep_io_state */
	bool clear_diverged;		/* DIVERGED=0 */
};

/* name rules shared with the kernel: [a-zA-Z0-9_.-]{1,31}, not "." or ".." */
bool georep_name_valid(const char *name);

/* -errno; georep_nl_error() is not usable when this fails, see @err */
int georep_nl_open(struct georep_nl **nlp, char *err, size_t errlen);
void georep_nl_close(struct georep_nl *nl);
const char *georep_nl_error(const struct georep_nl *nl);
int georep_nl_family(const struct georep_nl *nl);

int georep_nl_volume_new(struct georep_nl *nl, const struct georep_vol_new *req,
			 struct georep_vol_status *reply);
/*
 * georep_nl_volume_attach() - VOLUME_NEW with the keys of @all the kernel
 * can hold: the newest GEOREP_MAX_KEYS epochs. When the retained log holds
 * a record sealed with an older one, the kernel refuses the attach naming
 * it (-ENOKEY, SEAL_EPOCH in the reply): it is sent in place of the oldest
 * of the others and the attach tried again, while @all has that key.
 * @req->keys is ignored and left NULL.
 */
int georep_nl_volume_attach(struct georep_nl *nl, struct georep_vol_new *req,
			    const struct georep_keyset *all, struct georep_vol_status *reply);
int georep_nl_volume_del(struct georep_nl *nl, const char *name);
int georep_nl_volume_get(struct georep_nl *nl, const char *name,
			 struct georep_vol_status *st);
/* dump every volume; *vols is malloc'ed (free() it), sorted by minor */
int georep_nl_volume_list(struct georep_nl *nl, struct georep_vol_status **vols,
			  size_t *nr);
int georep_nl_volume_set(struct georep_nl *nl, const struct georep_vol_set *req);
int georep_nl_key_set(struct georep_nl *nl, const char *name,
		      const struct georep_keyset *keys);
/* the same with SEAL_EPOCH @seal (0: none, the kernel seals with the highest) */
int georep_nl_key_set_seal(struct georep_nl *nl, const char *name,
			   const struct georep_keyset *keys, uint32_t seal);
int georep_nl_log_release(struct georep_nl *nl, const char *name, uint64_t seq);
/*
 * LEDGER_VERIFY. Returns 0 with *st filled when every record verifies;
 * -EBADMSG with st->has_bad_seq/bad_seq when the kernel found a bad record.
 */
int georep_nl_ledger_verify(struct georep_nl *nl, const char *name,
			    struct georep_vol_status *st);

/* events: join the "events" group, then receive one event at a time */
int georep_nl_subscribe(struct georep_nl *nl);
int georep_nl_event_fd(const struct georep_nl *nl);
/* blocks until one event arrives (unless the socket is non-blocking) */
int georep_nl_recv_event(struct georep_nl *nl, struct georep_vol_status *ev);

#endif /* _GEOREP_NL_H */
