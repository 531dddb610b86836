/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * georep: replicated ledger volumes.
 *
 * This header is the whole contract between georep.ko and userspace:
 *
 *  1. the record format, shared by the log device, the log stream character
 *     device and the replication wire protocol;
 *  2. the log device superblock;
 *  3. the generic netlink family "georep" (commands, attributes, events).
 *
 * Everything on disk and on the stream is little-endian.
 *
 * Record
 * ------
 * A record is a fixed 256-byte header (struct georep_record) followed by
 * payload_len bytes of payload (a multiple of 4096; 0 for discard,
 * write-zeroes and no-op records). On the log device a record starts on a
 * 4 KiB boundary, the header fills one 4 KiB block (zero padded) and the
 * payload follows. On the log stream the header is followed directly by the
 * payload, with no padding.
 *
 *   payload_hash = SHA-256(payload)            (SHA-256 of "" when none)
 *   chain_hash   = SHA-256(prev chain_hash || header[0, offsetof(chain_hash)))
 *   seal         = HMAC-SHA-256(key[seal_epoch], header[0, offsetof(seal)))
 *
 * The chain hash of the first record of a ledger chains from 32 zero bytes.
 * Every field before chain_hash, the payload hash included, is therefore
 * covered by the chain and the seal.
 *
 * Log stream
 * ----------
 * Each volume has a character device /dev/georepN-log (georepctl links it as
 * /dev/georep/<volume>.log). The file position is a record sequence number:
 * lseek(fd, seq, SEEK_SET) sets the cursor, read() returns as many whole
 * records (header + payload) from the cursor as fit in the buffer and
 * advances the cursor past them (EMSGSIZE when not even one fits, ERANGE when
 * the cursor is below the retained tail, 0 or EAGAIN at the head), poll()
 * reports POLLIN while records at or past the cursor exist. write() on a
 * secondary appends one or more whole records, back to back as read()
 * returns them, after checking each one's seq continuity, term, chain hash
 * and seal; it returns once all of them are durable on the log device (one
 * cache flush for the call). A record refused after the first ends the
 * call: write() returns the bytes of the records before it (appended and
 * durable), and the next write(), starting with it, gets its error.
 */
#ifndef _UAPI_LINUX_GEOREP_H
#define _UAPI_LINUX_GEOREP_H

#include <linux/types.h>
#include <linux/ioctl.h>

#define GEOREP_GENL_NAME		"georep"
#define GEOREP_GENL_VERSION		1
#define GEOREP_MCGRP_EVENTS		"events"

#define GEOREP_NAME_MAX			32	/* including the NUL */
#define GEOREP_KEY_LEN			32
#define GEOREP_HASH_LEN			32
#define GEOREP_UUID_LEN			16
#define GEOREP_BLOCK_SIZE		4096
#define GEOREP_MAX_KEYS			8	/* seal key epochs kept at once */

/* ------------------------------------------------------------------ */
/* Record                                                              */
/* ------------------------------------------------------------------ */

#define GEOREP_RECORD_MAGIC		0x47524543	/* "GREC" */
#define GEOREP_RECORD_VERSION		1
#define GEOREP_RECORD_HDR_SIZE		256

enum georep_op {
	GEOREP_OP_NOOP = 0,		/* barrier/no-op, e.g. a new term's first record */
	GEOREP_OP_WRITE = 1,
	GEOREP_OP_DISCARD = 2,
	GEOREP_OP_WRITE_ZEROES = 3,
	__GEOREP_OP_MAX,
};

/* record flags: what the originating bio asked for */
#define GEOREP_RF_PREFLUSH		(1U << 0)
#define GEOREP_RF_FUA			(1U << 1)
#define __GEOREP_RF_ALL			(GEOREP_RF_PREFLUSH | GEOREP_RF_FUA)

struct georep_record {
	__le32 magic;
	__le16 version;
	__le16 op;			/* enum georep_op */
	__le64 seq;			/* 1, 2, 3, ... no gaps */
	__le64 term;
	__le64 lba;			/* in 512-byte sectors */
	__le32 len;			/* bytes of the device affected */
	__le32 payload_len;		/* bytes of payload that follow */
	__le64 timestamp_ns;		/* CLOCK_REALTIME at submission */
	__le32 site_id;
	__le32 seal_epoch;
	__le32 flags;			/* GEOREP_RF_* */
	__le32 reserved0;
	__u8 volume_uuid[GEOREP_UUID_LEN];
	__u8 payload_hash[GEOREP_HASH_LEN];
	__u8 chain_hash[GEOREP_HASH_LEN];
	__u8 seal[GEOREP_HASH_LEN];
	__u8 reserved[256 - 176];	/* zero */
};

/* ------------------------------------------------------------------ */
/* Log device superblock (block 0 of the log device)                   */
/* ------------------------------------------------------------------ */

#define GEOREP_SB_MAGIC			0x314c474f50455247ULL	/* "GREPOGL1" */
/*
 * Version 2 added commit_rule and the STANDALONE flag (what decides when a
 * write is acknowledged must survive a restart). A version 1 superblock is
 * still read: the volume attaches fenced and the superblock written at
 * attach is a version 2 one (Documentation/on-disk-format.rst).
 */
#define GEOREP_SB_VERSION		2
#define GEOREP_SB_VERSION_MIN		1

struct georep_superblock {
	__le64 magic;
	__le32 version;
	__le32 block_size;		/* 4096 */
	__u8 volume_uuid[GEOREP_UUID_LEN];
	__le64 data_sectors;		/* size of the volume, 512-byte sectors */
	__le64 area_start;		/* first block of the circular area */
	__le64 area_blocks;		/* blocks in the circular area */
	__le64 tail_seq;		/* first retained record (0: log empty) */
	__le64 tail_block;		/* its block in the area */
	__u8 tail_prev_chain[GEOREP_HASH_LEN];	/* chain hash before tail_seq */
	__le64 head_seq;		/* hint: a durable seq at or below the head */
	__le64 head_block;		/* its block */
	__le64 applied_seq;		/* data device durable up to this seq */
	__le64 term;			/* highest term this replica has seen */
	__le32 site_id;
	__le32 flags;			/* Documentation/on-disk-format.rst */
	__le32 commit_rule;		/* v2: enum georep_commit_rule; v1: 0, unknown */
	__le32 crc;			/* crc32c (seed ~0) of this struct with crc = 0 */
};

/* ------------------------------------------------------------------ */
/* Generic netlink                                                     */
/* ------------------------------------------------------------------ */

enum georep_role {
	GEOREP_ROLE_SECONDARY = 0,
	GEOREP_ROLE_PRIMARY = 1,
	__GEOREP_ROLE_MAX,
};

/*
 * What the block device does with writes (set by georepd from the volume's
 * quorum-loss policy, or by the admin): RUN as the role says; SUSPEND holds
 * new writes before they get a seq (they proceed when set back to RUN);
 * FAIL fails new writes and the ones waiting for a commit with EIO.
 */
enum georep_io_state {
	GEOREP_IO_RUN = 0,
	GEOREP_IO_SUSPEND = 1,
	GEOREP_IO_FAIL = 2,
	__GEOREP_IO_MAX,
};

enum georep_commit_rule {
	GEOREP_COMMIT_LOCAL = 0,	/* complete once locally durable */
	GEOREP_COMMIT_QUORUM = 1,	/* wait for the commit index */
	__GEOREP_COMMIT_MAX,
};

/*
 * GEOREP_CMD_VOLUME_NEW (admin): create or attach a volume.
 *   required: NAME, DATA_PATH, LOG_PATH, KEYS (at least one key)
 *   optional: FORMAT (flag: write a fresh superblock, new UUID unless UUID
 *             given), UUID, SITE_ID, ROLE, TERM, COMMIT_RULE, LOG_HIGH_WM,
 *             LOG_LOW_WM, MAX_UNCOMMITTED, STANDALONE
 *   reply: the volume, as for VOLUME_GET.
 *   Attach verifies the retained log; on a bad record it fails with
 *   EBADMSG, the extack message names the seq and BAD_SEQ is set.
 *   Fencing: a volume that is not STANDALONE attaches as a secondary at the
 *   stored term (writes refused) until VOLUME_SET makes it primary; ROLE
 *   primary on such an attach is EPERM. FORMAT without ROLE makes it a
 *   secondary at term 0. A STANDALONE volume (FORMAT with STANDALONE, the
 *   flag is stored; or the one-time upgrade of a version 1 superblock)
 *   has no control plane: it attaches in the stored role (primary at
 *   FORMAT), its commit rule is local (quorum is EINVAL), and it releases
 *   its own log as records are written. The commit rule is stored and
 *   kept across an attach unless COMMIT_RULE is given.
 * GEOREP_CMD_VOLUME_DEL (admin): NAME. EBUSY while the device is open.
 * GEOREP_CMD_VOLUME_GET (admin): NAME (doit), or dump every volume.
 * GEOREP_CMD_VOLUME_SET (admin): NAME and any of ROLE+TERM (both),
 *   COMMIT_SEQ (not past WRITTEN_SEQ: EINVAL), COMMIT_RULE, LOG_HIGH_WM,
 *   LOG_LOW_WM, MAX_UNCOMMITTED, IO_STATE, DIVERGED (0 only: the touched
 *   blocks were resynced).
 *   TERM below the current term: EINVAL (terms only move forward).
 * GEOREP_CMD_KEY_SET (admin): NAME, KEYS. The highest epoch seals new
 *   records. Keys are never sent back.
 * GEOREP_CMD_LOG_RELEASE (admin): NAME, RELEASE_SEQ: records up to and
 *   including this seq may be reclaimed.
 * GEOREP_CMD_LEDGER_VERIFY (admin): NAME. Verifies chain and seal of every
 *   retained record; EBADMSG with BAD_SEQ on the first failure, otherwise
 *   a VOLUME_GET reply.
 * GEOREP_CMD_EVENT: multicast on "events" (joining needs CAP_NET_ADMIN):
 *   NAME, EVENT, and status attrs.
 *
 * Replication (issue 4: what georepd needs to run consensus on the ledger):
 * GEOREP_CMD_LOG_TRUNCATE (admin): NAME, TRUNCATE_SEQ. Secondary only
 *   (EBUSY on a primary). Drops the records after TRUNCATE_SEQ (a Raft
 *   follower's conflicting uncommitted suffix; the daemon has read and kept
 *   them first). EINVAL when TRUNCATE_SEQ is below COMMIT_SEQ, or above
 *   WRITTEN_SEQ, or below APPLIED_SEQ without TRUNCATE_APPLIED. With the
 *   flag TRUNCATE_APPLIED (a deposed primary's suffix, already on its data
 *   device) APPLIED_SEQ drops to TRUNCATE_SEQ, writes still waiting for the
 *   dropped records complete with EIO, and DIVERGED becomes 1 (when a
 *   dropped record was on the data device) until VOLUME_SET DIVERGED=0
 *   (after the touched blocks are resynced). The next appended record
 *   must then be TRUNCATE_SEQ + 1 and chain from record TRUNCATE_SEQ.
 * GEOREP_CMD_LOG_RESET (admin): NAME, RECORD; RESET_SEQ, TERM, CHAIN_HASH
 *   optional. Secondary only. Forgets the whole retained log and restarts
 *   it empty after the anchor RECORD (the header of the record at the resync
 *   point, as read from the primary's log stream): the next appended record
 *   must be its seq + 1 and chain from its chain_hash; APPLIED_SEQ and
 *   COMMIT_SEQ become its seq. The anchor is checked like an appended
 *   record's header (magic, version, this volume's uuid, fields) and by its
 *   seal (ENOKEY: its epoch is not installed; EBADMSG: the seal does not
 *   match); RESET_SEQ, TERM and CHAIN_HASH, when given, must equal its
 *   fields. Used after a full resync, when the data device holds the
 *   contents as of the anchor (or older contents that the following records
 *   bring up to date).
 * GEOREP_CMD_LOG_NOOP (admin): NAME. Primary only (EROFS otherwise).
 *   Appends a GEOREP_OP_NOOP record in the current term (a new leader's
 *   barrier); the reply (VOLUME_GET format) has its seq in WRITTEN_SEQ.
 *
 * Resync writes go through the log stream: ioctl(GEOREP_IOC_DATA_WRITE) on
 * /dev/georepN-log of a secondary writes a range straight to the data
 * device (not a record: the ledger position is set by LOG_RESET, or the
 * range is one a truncated suffix touched), once its data seal checks (see
 * struct georep_data_seal). EROFS on a primary, EINVAL on a range outside
 * the device or not 4 KiB aligned, ENOKEY for an epoch not installed,
 * ESTALE for a seal of an older term, EBADMSG for a mac that does not match.
 * ioctl(GEOREP_IOC_DATA_SEAL) on a primary's stream makes that seal; like
 * DATA_WRITE it needs the file open for writing (EBADF otherwise).
 */
enum georep_cmd {
	GEOREP_CMD_UNSPEC,
	GEOREP_CMD_VOLUME_NEW,
	GEOREP_CMD_VOLUME_DEL,
	GEOREP_CMD_VOLUME_GET,
	GEOREP_CMD_VOLUME_SET,
	GEOREP_CMD_KEY_SET,
	GEOREP_CMD_LOG_RELEASE,
	GEOREP_CMD_LEDGER_VERIFY,
	GEOREP_CMD_EVENT,
	GEOREP_CMD_LOG_TRUNCATE,
	GEOREP_CMD_LOG_RESET,
	GEOREP_CMD_LOG_NOOP,
	__GEOREP_CMD_MAX,
};

#define GEOREP_CMD_MAX (__GEOREP_CMD_MAX - 1)

enum georep_event {
	GEOREP_EVENT_RECORDS = 1,	/* new records at WRITTEN_SEQ */
	GEOREP_EVENT_WATERMARK = 2,	/* THROTTLED changed */
	GEOREP_EVENT_ROLE = 3,		/* ROLE/TERM changed */
	GEOREP_EVENT_IO_ERROR = 4,	/* ERROR set */
	__GEOREP_EVENT_MAX,
};

enum georep_attr {
	GEOREP_A_UNSPEC,
	GEOREP_A_NAME,			/* string, < GEOREP_NAME_MAX, [a-zA-Z0-9_.-] */
	GEOREP_A_DATA_PATH,		/* string, path of the data block device */
	GEOREP_A_LOG_PATH,		/* string, path of the log block device */
	GEOREP_A_FORMAT,		/* flag */
	GEOREP_A_UUID,			/* binary, 16 */
	GEOREP_A_SITE_ID,		/* u32 */
	GEOREP_A_ROLE,			/* u8, enum georep_role */
	GEOREP_A_TERM,			/* u64 */
	GEOREP_A_COMMIT_RULE,		/* u8, enum georep_commit_rule */
	GEOREP_A_COMMIT_SEQ,		/* u64 */
	GEOREP_A_LOG_HIGH_WM,		/* u8, percent of the log, 1..100 */
	GEOREP_A_LOG_LOW_WM,		/* u8, percent, below HIGH_WM */
	GEOREP_A_MAX_UNCOMMITTED,	/* u64, bytes; 0: no limit */
	GEOREP_A_KEYS,			/* nested: array of GEOREP_A_KEY */
	GEOREP_A_RELEASE_SEQ,		/* u64 */
	GEOREP_A_PAD,
	/* status, sent by the kernel */
	GEOREP_A_MINOR,			/* u32: /dev/georepN, /dev/georepN-log */
	GEOREP_A_DATA_BYTES,		/* u64 */
	GEOREP_A_WRITTEN_SEQ,		/* u64: last record durable in the log */
	GEOREP_A_APPLIED_SEQ,		/* u64: last record on the data device */
	GEOREP_A_TAIL_SEQ,		/* u64: first retained record */
	GEOREP_A_LOG_USED,		/* u64, bytes */
	GEOREP_A_LOG_SIZE,		/* u64, bytes */
	GEOREP_A_UNCOMMITTED_BYTES,	/* u64 */
	GEOREP_A_THROTTLED,		/* u8: writers are waiting */
	GEOREP_A_SEAL_EPOCH,		/* u32: epoch sealing new records */
	GEOREP_A_OPEN_COUNT,		/* u32 */
	GEOREP_A_EVENT,			/* u8, enum georep_event */
	GEOREP_A_ERROR,			/* s32, negative errno */
	GEOREP_A_BAD_SEQ,		/* u64 */
	GEOREP_A_CHAIN_HASH,		/* binary, 32: chain hash at WRITTEN_SEQ */
	GEOREP_A_TRUNCATE_SEQ,		/* u64 */
	GEOREP_A_RESET_SEQ,		/* u64 */
	GEOREP_A_TRUNCATE_APPLIED,	/* flag: LOG_TRUNCATE may go below APPLIED_SEQ */
	GEOREP_A_DIVERGED,		/* u8: data device holds truncated records' blocks */
	GEOREP_A_IO_STATE,		/* u8, enum georep_io_state */
	GEOREP_A_STANDALONE,		/* u8: no control plane (VOLUME_NEW: 1) */
	GEOREP_A_RECORD,		/* binary, 256: LOG_RESET's anchor record header */
	GEOREP_A_KEY_EPOCHS,		/* nested: u32 entries of type 1, the epochs installed */
	__GEOREP_A_MAX,
};

#define GEOREP_A_MAX (__GEOREP_A_MAX - 1)

enum georep_key_attr {
	GEOREP_KEY_A_UNSPEC,
	GEOREP_KEY_A_EPOCH,		/* u32, >= 1 */
	GEOREP_KEY_A_DATA,		/* binary, exactly GEOREP_KEY_LEN */
	__GEOREP_KEY_A_MAX,
};

#define GEOREP_KEY_A_MAX (__GEOREP_KEY_A_MAX - 1)

/* the nested GEOREP_A_KEYS holds entries of type GEOREP_A_KEY */
#define GEOREP_A_KEY			1

/*
 * ioctls on the log stream
 *
 * Resync and heal write a secondary's data device with blocks that no
 * record carries, so the blocks carry a data seal instead, made by the
 * primary's kernel with the volume's seal key (GEOREP_IOC_DATA_SEAL) and
 * checked by the secondary's kernel before it writes (GEOREP_IOC_DATA_WRITE):
 *
 *   mac = HMAC-SHA-256(key[epoch], struct georep_data_seal_msg)
 *
 * The message binds the blocks to the volume (uuid), their place (lba, len),
 * their contents (SHA-256), the primary's term and the resync or fork point
 * (seq) the copy is as of. A secondary refuses blocks sealed in a term
 * older than its own, with an epoch it lacks, or whose mac does not match.
 */
struct georep_data_seal {
	__u64 term;			/* the sealing primary's term */
	__u64 seq;			/* resync point or fork point */
	__u32 epoch;			/* seal-key epoch of mac */
	__u32 reserved;			/* zero */
	__u8 mac[GEOREP_HASH_LEN];
};

#define GEOREP_DATA_SEAL_MAGIC		0x53445247	/* "GRDS" */
#define GEOREP_DATA_SEAL_VERSION	1

/* what the mac covers; every field little-endian, no padding (88 bytes) */
struct georep_data_seal_msg {
	__le32 magic;
	__le32 version;
	__u8 volume_uuid[GEOREP_UUID_LEN];
	__le64 term;
	__le64 seq;
	__le64 lba;			/* 512-byte sectors */
	__le32 len;			/* bytes */
	__le32 epoch;
	__u8 data_hash[GEOREP_HASH_LEN];	/* SHA-256 of the len bytes */
};

struct georep_data_write {
	__u64 lba;			/* 512-byte sectors, 4 KiB aligned */
	__u64 buf;			/* user pointer to len bytes */
	__u32 len;			/* bytes, multiple of 4096, <= 1 MiB */
	__u32 flags;			/* GEOREP_DW_FUA */
	struct georep_data_seal seal;
};

#define GEOREP_DW_FUA			(1U << 0)

#define GEOREP_IOC_MAGIC		'G'
/* a secondary writes sealed blocks to its data device */
#define GEOREP_IOC_DATA_WRITE		_IOW(GEOREP_IOC_MAGIC, 1, struct georep_data_write)
/*
 * a primary seals blocks for a secondary: in lba, buf, len and seal.seq
 * (flags 0); out seal.term, seal.epoch and seal.mac
 */
#define GEOREP_IOC_DATA_SEAL		_IOWR(GEOREP_IOC_MAGIC, 2, struct georep_data_write)
/*
 * Shipping before the local write is durable (Documentation/write-path.rst):
 * after GEOREP_IOC_SHIP_SEALED, read() on this file returns a primary's
 * records as soon as they are sealed, while their log and data writes still
 * run; such a record may still be lost by a crash of this site, so the
 * reader counts it as this site's copy only once GEOREP_IOC_DURABLE_SEQ
 * (the last record durable in the log, as WRITTEN_SEQ) covers it. poll()
 * then reports EPOLLPRI whenever the durable seq moved past the value
 * GEOREP_IOC_DURABLE_SEQ last returned on this file. On a secondary the
 * file reads durable records only, as without the mode.
 */
#define GEOREP_IOC_SHIP_SEALED		_IO(GEOREP_IOC_MAGIC, 3)
#define GEOREP_IOC_DURABLE_SEQ		_IOR(GEOREP_IOC_MAGIC, 4, __u64)
/*
 * The commit index, as VOLUME_SET's GEOREP_A_COMMIT_SEQ but without a
 * netlink round trip (the daemon's per-commit call): the file must be open
 * for writing (else EBADF); a value below the current one is ignored;
 * EINVAL when it is past the last record (on a primary the last sealed).
 */
#define GEOREP_IOC_COMMIT_SEQ		_IOW(GEOREP_IOC_MAGIC, 5, __u64)
/*
 * A range of the data device into lba, buf and len (DATA_WRITE's range
 * rules; flags and seal zero, else EINVAL), on any file of the stream: what
 * a primary's daemon reads for a resync or a heal, without opening the
 * volume's block device (an opener of it that stays keeps a writer's last
 * close from writing the writer's dirty pages back).
 */
#define GEOREP_IOC_DATA_READ		_IOW(GEOREP_IOC_MAGIC, 6, struct georep_data_write)

#endif /* _UAPI_LINUX_GEOREP_H */
