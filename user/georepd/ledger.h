/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The ledger backend of a replication engine (Documentation/replication.rst).
 *
 * A ledger is one volume's record log plus its data device, as the kernel
 * module keeps them: records are numbered seq 1, 2, 3... without gaps; the
 * log retains tail..written; commit says what may be applied; applied what
 * the data device holds. Two backends:
 *
 *   ledger_mem.c     in-process, file backed (survives kill -9, not power
 *                    cuts): for running several daemons natively in tests;
 *   ledger_kernel.c  georep.ko over generic netlink and /dev/georepN-log.
 *
 * Every op returns 0 (or a count) or -errno; every op but read_wait runs on
 * the event loop thread and may block only for local disk I/O. read_wait is
 * the leader's read of its new records, which must not hold the loop while
 * a loaded disk takes seconds (reader.h): it runs on a thread of its own.
 */
#ifndef _GEOREPD_LEDGER_H
#define _GEOREPD_LEDGER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <linux/georep.h>

struct gd_ledger;

struct gd_ledger_status {
	uint8_t role;			/* enum georep_role */
	uint64_t term;
	uint64_t written_seq;		/* last record in the log */
	uint64_t commit_seq;
	uint64_t applied_seq;
	uint64_t tail_seq;		/* first retained record (0: none) */
	uint8_t chain_hash[GEOREP_HASH_LEN];	/* at written_seq */
	uint64_t data_bytes;		/* size of the data device */
	uint64_t log_used;
	uint64_t log_size;		/* 0: no limit (mem) */
	uint8_t io_state;		/* enum georep_io_state */
	uint32_t open_count;		/* openers of the block device */
	bool diverged;			/* truncated records' blocks not resynced yet */
	bool throttled;			/* writers wait for log space (kernel) */
	uint32_t seal_epoch;		/* new records are sealed with it */
	uint32_t nr_epochs;		/* the seal key epochs installed, ascending */
	uint32_t epochs[GEOREP_MAX_KEYS];
};

struct gd_ledger_ops {
	const char *name;
	int (*status)(struct gd_ledger *l, struct gd_ledger_status *st);
	/* terms only move forward (-EINVAL otherwise) */
	int (*set_role)(struct gd_ledger *l, uint8_t role, uint64_t term);
	int (*set_commit)(struct gd_ledger *l, uint64_t seq);
	/* what the block device does with writes (enum georep_io_state) */
	int (*set_io_state)(struct gd_ledger *l, uint8_t state);
	/* records up to and including @seq may be reclaimed */
	int (*release)(struct gd_ledger *l, uint64_t seq);
	/* primary: append a NOOP record of the current term, its seq in *@seq */
	int (*noop)(struct gd_ledger *l, uint64_t *seq);
	/*
	 * Whole records (256-byte header + payload, back to back) from @seq
	 * on, as many as fit in @cap. Never blocks.
	 * Return: bytes, 0 at the head, -ERANGE below the tail, -EMSGSIZE
	 * when not even one record fits.
	 */
	ssize_t (*read)(struct gd_ledger *l, uint64_t seq, void *buf, size_t cap);
	/*
	 * read() for a gd_reader thread (with data_read(), the only ops
	 * called off the event loop thread): safe while the loop uses the
	 * ledger, may wait for the
	 * disk, and waits up to @ms for record @seq when it is not readable
	 * yet (0 then)
	 */
	ssize_t (*read_wait)(struct gd_ledger *l, uint64_t seq, void *buf, size_t cap, int ms);
	/*
	 * read_wait() for the pump's own reader thread, on a file of its own
	 * (or NULL: read_wait()), so that it never waits behind the other
	 * thread's reads of durable records, which a stalled log device may
	 * hold for as long as it stalls
	 */
	ssize_t (*pump_wait)(struct gd_ledger *l, uint64_t seq, void *buf, size_t cap, int ms);
	/* fd that polls readable when records past the last read exist, or -1 */
	int (*poll_fd)(struct gd_ledger *l);
	/*
	 * The last record durable in the ledger, when read() hands over a
	 * primary's records before they are (the kernel's sealed mode:
	 * poll_fd() then also polls EPOLLPRI when it moved, and this call
	 * clears it). -EOPNOTSUPP (or no op): read() returns durable records
	 * only.
	 */
	int (*durable)(struct gd_ledger *l, uint64_t *seq);
	/*
	 * secondary: one or more whole records, back to back (as read()
	 * returns them); checks each one's seq, term, chain and seal, as
	 * kmod/append.c append_check() does. Returns the bytes of the records
	 * appended, all durable: @len, or fewer when a record after the first
	 * was refused; else the first record's error: -EINVAL malformed,
	 * -EILSEQ not the next seq, -ESTALE term out of range, -EBADMSG
	 * payload, chain or seal, -ENOKEY epoch not installed
	 */
	ssize_t (*append)(struct gd_ledger *l, const void *recs, size_t len);
	/* secondary: drop the records after @seq */
	int (*truncate)(struct gd_ledger *l, uint64_t seq);
	/*
	 * secondary: the same, and @seq may be below applied (a deposed
	 * primary's own suffix, on its data device): the ledger is then
	 * diverged, and refuses to become primary, until clear_diverged()
	 */
	int (*truncate_applied)(struct gd_ledger *l, uint64_t seq);
	int (*clear_diverged)(struct gd_ledger *l);
	/*
	 * secondary: empty log restarting after the anchor record (its
	 * GEOREP_RECORD_HDR_SIZE-byte header), checked by its seal
	 */
	int (*reset)(struct gd_ledger *l, const void *anchor);
	/*
	 * secondary: data device writes for a resync or heal (4 KiB aligned),
	 * refused unless @seal (made by the primary's data_seal) checks
	 */
	int (*data_write)(struct gd_ledger *l, uint64_t off, const void *buf, size_t len,
			  const struct georep_data_seal *seal);
	/* primary: seal @len bytes for data_write at @off, as of @seal->seq */
	int (*data_seal)(struct gd_ledger *l, uint64_t off, const void *buf, size_t len,
			 struct georep_data_seal *seal);
	/*
	 * @len bytes of the data device at @off; like read_wait(), safe on
	 * a gd_reader thread while the loop uses the ledger (a full resync's
	 * reads), and may wait for the disk
	 */
	int (*data_read)(struct gd_ledger *l, uint64_t off, void *buf, size_t len);
	/*
	 * install seal key @epoch (verify-only unless @seal names it), then
	 * seal new records with epoch @seal (0: the highest installed, as
	 * KEY_SET without SEAL_EPOCH does in the kernel). A full ring
	 * (GEOREP_MAX_KEYS) retires its lowest epoch that neither seals nor
	 * seals a retained record; -ENOSPC when none can go (@why says which
	 * record holds the oldest)
	 */
	int (*key_install)(struct gd_ledger *l, uint32_t epoch,
			   const uint8_t key[GEOREP_KEY_LEN], uint32_t seal);
	/*
	 * Tests only (mem backend): a client write of @len bytes of @buf at
	 * byte offset @off on a primary; the new record's seq in *@seq.
	 */
	int (*client_write)(struct gd_ledger *l, uint64_t off, const void *buf,
			    size_t len, uint64_t *seq);
	/* tests only (mem backend): pretend @count openers of the device */
	void (*test_open)(struct gd_ledger *l, uint32_t count);
	/* tests only (mem backend): a read of records takes @ms longer, as on a slow disk */
	void (*test_read_delay)(struct gd_ledger *l, uint32_t ms);
	/* tests only (mem backend): data reads of [@off, @off + @len) fail, -EIO */
	void (*test_data_bad)(struct gd_ledger *l, uint64_t off, uint64_t len);
	/*
	 * tests only (mem backend): a log of @bytes (status log_size); an
	 * append past it fails with -ENOSPC, as the kernel's (0: no limit).
	 * @hold_apply: commit moves, nothing is applied (a data device that
	 * takes no writes) until called again without it
	 */
	void (*test_log_size)(struct gd_ledger *l, uint64_t bytes, bool hold_apply);
	void (*close)(struct gd_ledger *l);
};

#define GD_LEDGER_ERRLEN	256

struct gd_ledger {
	const struct gd_ledger_ops *ops;
	/* why key_install() failed, when the backend says more than -errno */
	char why[GD_LEDGER_ERRLEN];
};

/*
 * ledger_mem.c: files <dir>/<volume>.memlog (records), .memmeta (tail and
 * reset point) and .memdata (@data_bytes of data device).
 */
int gd_ledger_mem_open(const char *dir, const char *volume, uint32_t site_id,
		       uint64_t data_bytes, struct gd_ledger **out, char *err);

/*
 * ledger_kernel.c: the volume @volume of georep.ko, attached beforehand; its
 * commit rule is set to @rule (the configuration's).
 */
int gd_ledger_kernel_open(const char *volume, enum georep_commit_rule rule,
			  struct gd_ledger **out, char *err);

/* which backend the engine opens (main.c --ledger) */
enum gd_ledger_kind { GD_LEDGER_KERNEL, GD_LEDGER_MEM };
extern enum gd_ledger_kind gd_ledger_kind;


#endif /* _GEOREPD_LEDGER_H */
