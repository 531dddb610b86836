/* SPDX-License-Identifier: GPL-2.0 */
/*
 * georep.ko internal interface.
 *
 * The module is split in two halves that meet here:
 *
 *  - the volume half (volume.c, blk.c, log.c, record.c, recover.c, apply.c,
 *    throttle.c): the block device, the write path, the log device, crash
 *    recovery, applying records on a secondary;
 *  - the control half (main.c, netlink.c, stream.c, trace points): module
 *    init, the generic netlink family, the log stream character device.
 *
 * The control half sees struct georep_volume only through the functions
 * below; the fields are the volume half's.
 */
#ifndef _GEOREP_H
#define _GEOREP_H

#include <linux/types.h>
#include <linux/wait.h>
#include <linux/kref.h>
#include <uapi/linux/georep.h>

struct netlink_ext_ack;
struct georep_volume;

struct georep_key {
	u32 epoch;
	u8 data[GEOREP_KEY_LEN];
};

/*
 * Watermarks VOLUME_NEW puts in georep_volume_params when the request sets
 * limits (has_limits) but not the watermarks, e.g. MAX_UNCOMMITTED alone.
 * (added by the control half)
 */
#define GEOREP_DEFAULT_HIGH_WM		90	/* percent of the log */
#define GEOREP_DEFAULT_LOW_WM		70	/* percent of the log */

struct georep_volume_params {
	char name[GEOREP_NAME_MAX];
	const char *data_path;
	const char *log_path;
	bool format;
	bool has_uuid;
	u8 uuid[GEOREP_UUID_LEN];
	u32 site_id;
	bool has_role;			/* role and term given */
	enum georep_role role;
	u64 term;
	bool has_commit_rule;
	enum georep_commit_rule commit_rule;
	bool standalone;		/* GEOREP_A_STANDALONE */
	bool has_limits;
	u8 high_wm;			/* percent */
	u8 low_wm;			/* percent */
	u64 max_uncommitted;		/* bytes, 0: no limit */
	unsigned int nr_keys;
	struct georep_key keys[GEOREP_MAX_KEYS];
};

/* what VOLUME_SET changes; has_* says which fields are meant */
struct georep_volume_update {
	bool has_role;
	enum georep_role role;
	u64 term;
	bool has_commit_seq;
	u64 commit_seq;
	bool has_commit_rule;
	enum georep_commit_rule commit_rule;
	bool has_limits;
	u8 high_wm;
	u8 low_wm;
	u64 max_uncommitted;
	/* added for the quorum-loss policy: IO_STATE */
	bool has_io_state;
	enum georep_io_state io_state;
	/* added for the heal: DIVERGED=0 (the only value accepted) */
	bool clear_diverged;
};

struct georep_status {
	char name[GEOREP_NAME_MAX];
	u8 uuid[GEOREP_UUID_LEN];
	u32 minor;
	u32 site_id;
	enum georep_role role;
	u64 term;
	enum georep_commit_rule commit_rule;
	u64 data_bytes;
	u64 written_seq;
	u64 commit_seq;
	u64 applied_seq;
	u64 tail_seq;
	u64 log_used;
	u64 log_size;
	u64 uncommitted_bytes;
	bool throttled;
	u8 high_wm;
	u8 low_wm;
	u64 max_uncommitted;
	u32 seal_epoch;
	u32 open_count;
	u8 chain_hash[GEOREP_HASH_LEN];
	enum georep_io_state io_state;	/* added with GEOREP_A_IO_STATE */
	bool diverged;			/* added with GEOREP_A_DIVERGED */
	bool standalone;		/* added with GEOREP_A_STANDALONE */
	u32 key_epochs[GEOREP_MAX_KEYS];	/* GEOREP_A_KEY_EPOCHS */
	u32 nr_key_epochs;
};

/* ---- volume half: volume.c and friends ---- */

int georep_volumes_init(void);
void georep_volumes_exit(void);		/* destroys every volume left */

/*
 * Create (params->format) or attach a volume, register /dev/georepN and call
 * georep_stream_add(). On a bad record during attach returns
 * ERR_PTR(-EBADMSG) with *bad_seq set and an extack message naming it; on a
 * record sealed with an epoch not installed, ERR_PTR(-ENOKEY) with *bad_seq
 * and *bad_epoch set (the caller may attach again with that key).
 */
struct georep_volume *georep_volume_create(const struct georep_volume_params *p,
					   u64 *bad_seq, u32 *bad_epoch,
					   struct netlink_ext_ack *extack);
/* -EBUSY while the block device is open; otherwise tears it down */
int georep_volume_destroy(const char *name, struct netlink_ext_ack *extack);

/* lookup takes a reference; drop it with georep_volume_put() */
struct georep_volume *georep_volume_get(const char *name);
void georep_volume_put(struct georep_volume *vol);
/* iterate for dumps: the volume after *minor (start with 0), referenced */
struct georep_volume *georep_volume_next(u32 *minor);

void georep_volume_status(struct georep_volume *vol, struct georep_status *st);
int georep_volume_update(struct georep_volume *vol,
			 const struct georep_volume_update *u,
			 struct netlink_ext_ack *extack);
/* -EINVAL when @seq is past the last record, *last (volume.c) */
int georep_volume_commit(struct georep_volume *vol, u64 seq, u64 *last);
/*
 * copies the keys and zeroes nothing of the caller's: the caller zeroes;
 * @seal: the epoch sealing new records afterwards, 0 for the highest
 */
int georep_volume_set_keys(struct georep_volume *vol,
			   const struct georep_key *keys, unsigned int nr,
			   u32 seal, struct netlink_ext_ack *extack);
int georep_volume_release(struct georep_volume *vol, u64 seq,
			  struct netlink_ext_ack *extack);
/* 0 when every retained record verifies, else -EBADMSG and *bad_seq */
int georep_volume_verify(struct georep_volume *vol, u64 *bad_seq,
			 struct netlink_ext_ack *extack);

/*
 * Log stream. georep_log_read() copies whole records (256-byte header then
 * payload, no padding) starting at *seq into the user buffer, advances *seq
 * and returns the bytes copied: 0 when *seq is past the head, -ERANGE below
 * the tail, -EMSGSIZE when the first record does not fit. Records up to the
 * last durable one; with @sealed, on a primary, up to the last one sealed
 * (georep_volume_ship_seq(), ship.c), and -EAGAIN when the first of those
 * must be waited for until it is durable after all.
 * georep_log_append() takes one or more whole records (header + payload,
 * back to back) from the user buffer on a secondary, checks each against
 * the one before, writes them with one flush (append.c) and returns the
 * bytes of those appended once all are durable (fewer than len when a
 * record after the first was refused), or the first record's error:
 * -EROFS (primary), -EINVAL (malformed), -ESTALE (term), -EILSEQ (seq not
 * the next one), -EBADMSG (chain hash or seal), -ENOKEY (seal epoch not
 * installed), -ENOSPC (log full), -EIO (log write or flush failed).
 */
ssize_t georep_log_read(struct georep_volume *vol, u64 *seq,
			char __user *buf, size_t len, bool sealed);
ssize_t georep_log_append(struct georep_volume *vol,
			  const char __user *buf, size_t len);
/*
 * Replication (replica.c; added for LOG_TRUNCATE, LOG_RESET, LOG_NOOP and
 * GEOREP_IOC_DATA_WRITE, see the uapi header for the contract).
 * georep_log_truncate() and georep_log_reset(): secondary only (-EBUSY);
 * georep_log_noop(): primary only (-EROFS), *seq is the no-op's seq once
 * it is durable locally; georep_data_write(): secondary only (-EROFS),
 * georep_data_seal(): primary only (-EPERM); georep_data_read(): any role;
 * dw->buf is a user pointer.
 */
int georep_log_truncate(struct georep_volume *vol, u64 seq,
			struct netlink_ext_ack *extack);
/*
 * LOG_TRUNCATE with TRUNCATE_APPLIED: @seq may be below applied_seq (not
 * below commit_seq); the volume is then diverged. (added for the heal)
 */
int georep_log_truncate_applied(struct georep_volume *vol, u64 seq,
				struct netlink_ext_ack *extack);
int georep_log_reset(struct georep_volume *vol,
		     const struct georep_record *anchor,
		     struct netlink_ext_ack *extack);
int georep_log_noop(struct georep_volume *vol, u64 *seq,
		    struct netlink_ext_ack *extack);
int georep_data_write(struct georep_volume *vol,
		      const struct georep_data_write *dw);
int georep_data_seal(struct georep_volume *vol, struct georep_data_write *dw);
int georep_data_read(struct georep_volume *vol, const struct georep_data_write *dw);
/* readers of the stream wait here; woken on every new durable record */
wait_queue_head_t *georep_volume_waitq(struct georep_volume *vol);
u64 georep_volume_durable_seq(struct georep_volume *vol);
u64 georep_volume_ship_seq(struct georep_volume *vol);
u32 georep_volume_minor(struct georep_volume *vol);
const char *georep_volume_name(struct georep_volume *vol);

/* ---- control half: stream.c, netlink.c ---- */

int georep_stream_init(void);
void georep_stream_exit(void);
/*
 * Create /dev/georepN-log for a volume (called by georep_volume_create(),
 * which keeps the pointer). Open stream files hold a volume reference
 * (georep_volume_get/put); georep_stream_remove() (called by
 * georep_volume_destroy()) removes the node, and reads and writes on files
 * still open then fail with -ENODEV.
 */
struct georep_stream;
struct georep_stream *georep_stream_add(struct georep_volume *vol);
void georep_stream_remove(struct georep_stream *stream);
/* true once georep_volume_destroy() has begun */
bool georep_volume_dead(struct georep_volume *vol);

int georep_netlink_init(void);
void georep_netlink_exit(void);
/* multicast an event with the volume's status; may sleep, never fails */
void georep_notify(struct georep_volume *vol, enum georep_event event, int error);

#endif /* _GEOREP_H */
