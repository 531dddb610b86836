/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Site-to-site replication wire protocol (Documentation/wire-protocol.rst).
 *
 * A connection carries frames. Every frame is a 24-byte header followed by
 * exactly `length` bytes of body; all integers are little-endian:
 *
 *   0  le32 magic      GR_WIRE_MAGIC ("GRW1")
 *   4  le16 version    protocol version the connection agreed on (1 before
 *                      and in the hello); PART frames exist from version 2
 *   6  u8   type       enum gr_frame_type
 *   7  u8   flags      0, GR_WF_MORE on a PART frame or GR_WF_CONTROL on a
 *                      HELLO (any other bit is an error)
 *   8  le32 length     body bytes, at most GR_WIRE_MAX_BODY
 *  12  le32 reserved   0
 *  16  le64 volume     gr_wire_volume_id() of the volume, 0 for site frames
 *
 * There is no frame checksum: the transport (TLS 1.3, AEAD) protects
 * integrity on the network, records carry their own SHA-256 payload and
 * chain hashes and a seal, and resync chunks carry a SHA-256 of their data.
 *
 * gr_wire_decode() checks a frame completely before anything may use it;
 * the decoded frame points into the caller's buffer (no copies).
 */
#ifndef _GEOREP_WIRE_H
#define _GEOREP_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <linux/georep.h>

#define GR_WIRE_MAGIC		0x31575247U	/* "GRW1" */
#define GR_WIRE_VERSION		6		/* newest protocol version spoken */
#define GR_WIRE_VERSION_MIN	1		/* oldest protocol version spoken */
#define GR_WIRE_VERSION_PART	2		/* first version with PART frames */
#define GR_WIRE_VERSION_MLEAF	3		/* first version with MLEAF frames */
#define GR_WIRE_VERSION_KEY_HELD 3		/* first version whose KEY_ACK says what is held */
#define GR_WIRE_VERSION_ROOT	4		/* first version with ROOT frames */
#define GR_WIRE_VERSION_NOTE	5		/* first version with NOTE frames */
#define GR_WIRE_VERSION_CTLCONN	6		/* first version with a control connection */
#define GR_WIRE_HDR_SIZE	24
#define GR_WIRE_MAX_BODY	(16U << 20)	/* 16 MiB */
#define GR_WIRE_MAX_RECORDS	4096		/* records in one batch */
#define GR_WIRE_MAX_REASON	256		/* error text, without NUL */
#define GR_WIRE_CLUSTER_LEN	64		/* hello cluster field */
#define GR_WIRE_ERRLEN		160		/* size of decoder messages */

/* a byte no text from a frame may carry into a log: C0 controls and DEL */
static inline bool gr_ctl_byte(unsigned char c)
{
	return c < 0x20 || c == 0x7f;
}

enum gr_frame_type {
	GR_FT_HELLO = 1,	/* site frame: who I am, which versions */
	GR_FT_ERROR = 2,	/* site frame: why I am closing */
	GR_FT_PING = 3,		/* site frame: RTT probe */
	GR_FT_PONG = 4,		/* site frame: echo of a ping */
	GR_FT_CONSENSUS = 5,	/* volume frame: consensus message, opaque */
	GR_FT_RECORDS = 6,	/* volume frame: whole ledger records */
	GR_FT_ACK = 7,		/* volume frame: persisted up to seq */
	GR_FT_RESYNC = 8,	/* volume frame: a chunk of the data device */
	GR_FT_HEAL_REQ = 9,	/* volume frame: blocks a deposed primary's fork touched */
	GR_FT_HEAL = 10,	/* volume frame: one such block, or who overwrote it */
	GR_FT_KEY = 11,		/* volume frame: a seal key epoch, leader to site */
	GR_FT_KEY_ACK = 12,	/* volume frame: a site installed, or lacks, an epoch */
	GR_FT_CKPT = 13,	/* volume frame: a checkpoint to cosign, leader to site */
	GR_FT_CKPT_RESP = 14,	/* volume frame: a cosignature or a refusal */
	GR_FT_CKPT_FINAL = 15,	/* volume frame: a final checkpoint, leader to site */
	GR_FT_GENESIS_REQ = 16,	/* volume frame: a site without its replica asks */
	GR_FT_GENESIS = 17,	/* volume frame: the volume's uuid and seal keys, or none */
	GR_FT_PART = 18,	/* site frame (v2): a piece of a bulk frame too long to wait for */
	GR_FT_MLEAF_REQ = 19,	/* volume frame (v3): a site asks for Merkle leaves it lacks */
	GR_FT_MLEAF = 20,	/* volume frame (v3): those leaves, or none */
	GR_FT_ROOT_REQ = 21,	/* volume frame (v4): a site's tree root at a size, please */
	GR_FT_ROOT = 22,	/* volume frame (v4): that root, or why not */
	GR_FT_NOTE_REQ = 23,	/* volume frame (v5): a site's stored signed checkpoint, please */
	GR_FT_NOTE = 24,	/* volume frame (v5): that checkpoint, or why not */
	__GR_FT_MAX,
};

#define GR_WF_MORE		0x01	/* PART: more pieces of this frame follow */
/* HELLO: this is a site's control connection (Documentation/wire-protocol.rst) */
#define GR_WF_CONTROL		0x02

enum gr_wire_errcode {
	GR_WERR_PROTOCOL = 1,	/* malformed frame or wrong state */
	GR_WERR_VERSION = 2,	/* no common protocol version */
	GR_WERR_UNKNOWN_SITE = 3,
	GR_WERR_CLUSTER = 4,	/* different cluster name */
	GR_WERR_DUPLICATE = 5,	/* a newer connection replaced this one */
	GR_WERR_SHUTDOWN = 6,
};

struct gr_frame_hdr {
	uint32_t magic;
	uint16_t version;
	uint8_t type;
	uint8_t flags;
	uint32_t length;
	uint64_t volume;
};

/* body: le16 min, le16 max, le32 site_id, name[32], cluster[64] (NUL padded) */
#define GR_HELLO_SIZE		(8 + GEOREP_NAME_MAX + GR_WIRE_CLUSTER_LEN)
struct gr_hello {
	uint16_t min_version;
	uint16_t max_version;
	uint32_t site_id;
	char site[GEOREP_NAME_MAX];
	char cluster[GR_WIRE_CLUSTER_LEN];
	bool control;		/* header flag GR_WF_CONTROL */
};

/* body: le32 code, le32 length, text[length] (UTF-8, no NUL) */
struct gr_error {
	uint32_t code;		/* enum gr_wire_errcode */
	char reason[GR_WIRE_MAX_REASON + 1];
};

/* body: le64 nonce, le64 time_ns (sender's CLOCK_MONOTONIC) */
#define GR_PING_SIZE		16
struct gr_ping {
	uint64_t nonce;
	uint64_t time_ns;
};

/*
 * body: the next bytes of one bulk frame (header included), which the sender
 * split so that control frames can go between its pieces
 * (Documentation/wire-protocol.rst, "Split frames"). Every piece but the
 * last has GR_WF_MORE and at least GR_PART_MIN bytes. georepd's pieces are
 * GR_PART_SIZE (as long as a regular bulk frame) or, on a paced link,
 * 10 ms at its rate; the last one may be up to a quarter longer.
 */
#define GR_PART_MIN		4096
#define GR_PART_SIZE		(64U << 10)	/* georepd's pieces, unless paced */
struct gr_part {
	const uint8_t *data;
	uint32_t len;
	bool more;
};

/*
 * body: opaque bytes of the consensus core's own message encoding.
 * gr_cmsg_encode()/gr_cmsg_decode() below offer a generic fixed layout for a
 * core that has none.
 */
struct gr_consensus {
	const uint8_t *data;
	uint32_t len;
};

/*
 * body: le32 count, le32 reserved (0), le64 first_seq, then count records,
 * each a 256-byte struct georep_record followed by payload_len bytes.
 * The decoder checks magic, version, op, payload_len (multiple of 4096, 0
 * for non-write ops), consecutive seqs from first_seq and the total length.
 */
#define GR_RECORDS_HDR_SIZE	16
struct gr_records {
	uint32_t count;
	uint64_t first_seq;
	const uint8_t *data;	/* the records, back to back */
	uint32_t len;
};

/* body: le64 term, le64 persisted_seq */
#define GR_ACK_SIZE		16
struct gr_ack {
	uint64_t term;
	uint64_t persisted_seq;
};

/*
 * The data seal of a RESYNC or HEAL DATA block (struct georep_data_seal of
 * the uapi header, made by the leader's kernel, checked by the replica's
 * kernel before it writes): le64 term, le64 seq, le32 epoch (>= 1), le32
 * reserved (0), mac[32]. 56 bytes; all zero in a HEAL without data.
 */
#define GR_DATA_SEAL_SIZE	56

/*
 * body: le64 offset, le32 length, le32 flags (0), sha256[32], data seal
 * (seq: the resync point), data[length]
 */
#define GR_RESYNC_HDR_SIZE	(48 + GR_DATA_SEAL_SIZE)
struct gr_resync {
	uint64_t offset;	/* bytes into the data device, 4 KiB aligned */
	uint32_t length;
	uint8_t sha256[GEOREP_HASH_LEN];
	struct georep_data_seal seal;
	const uint8_t *data;
};

/*
 * Heal of a deposed primary's fork (Documentation/replication.rst, "Healing
 * a fork"). HEAL_REQ, replica to leader: le64 fork_seq, le32 count (1 to
 * GR_HEAL_MAX_BLOCKS), le32 reserved (0), count x le64 block (4 KiB block
 * numbers of the data device).
 */
#define GR_HEAL_REQ_HDR_SIZE	16
#define GR_HEAL_MAX_BLOCKS	256
struct gr_heal_req {
	uint64_t fork_seq;	/* the replica's log was truncated after it */
	uint32_t count;
	const uint64_t *list;	/* encode: the blocks */
	const uint8_t *raw;	/* decode: count le64s, see gr_heal_req_block() */
};

/*
 * HEAL, leader to replica, one per requested block: le64 fork_seq, le64
 * block, le64 version, le64 seq, le32 status, le32 length, sha256[32],
 * data seal (DATA only, else zeros), data[length]. DATA: length 4096, the block as of the leader's log at
 * version, unchanged since fork_seq (no record in fork_seq+1..version
 * writes it), SHA-256 checked by the decoder; SUPERSEDED: length 0, record
 * seq (after fork_seq) writes the block; UNAVAILABLE: length 0, the leader
 * cannot answer now (not primary, records after fork_seq released).
 */
#define GR_HEAL_HDR_SIZE	(72 + GR_DATA_SEAL_SIZE)
enum gr_heal_status {
	GR_HEAL_DATA = 0,
	GR_HEAL_SUPERSEDED = 1,
	GR_HEAL_UNAVAILABLE = 2,
	__GR_HEAL_MAX,
};

struct gr_heal {
	uint64_t fork_seq;
	uint64_t block;
	uint64_t version;	/* DATA: the leader's log position it is valid at */
	uint64_t seq;		/* SUPERSEDED: the record that writes the block */
	uint32_t status;	/* enum gr_heal_status */
	uint32_t length;	/* 4096 for DATA, else 0 */
	uint8_t sha256[GEOREP_HASH_LEN];
	struct georep_data_seal seal;	/* DATA: seq is fork_seq; else zero */
	const uint8_t *data;
};

/*
 * Seal-key rotation (Documentation/wire-protocol.rst, "KEY and KEY_ACK").
 * KEY, leader to a site: le64 term, le32 epoch (>= 1), le32 flags (0),
 * key[32] (not all zero). Sent only over a mutually authenticated TLS
 * session, never over --insecure-plaintext. The decoder copies the key
 * into struct gr_key: the receiver wipes it with gr_key_wipe() and its
 * receive buffer with OPENSSL_cleanse(), the sender its encode buffer.
 * KEY_ACK, site to leader: le64 term, le32 epoch (>= 1), le32 status:
 * INSTALLED (in the kernel and on disk, 0600, fsynced), FAILED, or MISSING
 * (the site lacks that epoch and asks the leader for it); framed with
 * version 3 or later, then what the site's ledger holds after it: le32
 * sealing (0 or one of the epochs), le32 count (0..GEOREP_MAX_KEYS), le32
 * epochs[GEOREP_MAX_KEYS], the first count ascending and >= 1, the others
 * 0. Framed with version 1 or 2 the body ends after status (nr_held 0).
 */
#define GR_KEY_SIZE		(16 + GEOREP_KEY_LEN)
#define GR_KEY_ACK_V1_SIZE	16
#define GR_KEY_ACK_SIZE		(24 + 4 * GEOREP_MAX_KEYS)
enum gr_key_status {
	GR_KEY_INSTALLED = 0,
	GR_KEY_FAILED = 1,
	GR_KEY_MISSING = 2,
	__GR_KEY_MAX,
};

struct gr_key {
	uint64_t term;
	uint32_t epoch;
	uint8_t key[GEOREP_KEY_LEN];
};

struct gr_key_ack {
	uint64_t term;
	uint32_t epoch;
	uint32_t status;	/* enum gr_key_status */
	uint32_t sealing;	/* the epoch the site's ledger seals with */
	uint32_t nr_held;	/* the epochs its ledger holds, ascending */
	uint32_t held[GEOREP_MAX_KEYS];
};

int gr_wire_decode_key(const uint8_t *b, uint32_t len, struct gr_key *k,
		       char *err);
int gr_wire_decode_key_ack(const uint8_t *b, uint32_t len, unsigned int version,
			   struct gr_key_ack *a, char *err);
/* KEY_ACK's body size when framed with @version */
uint32_t gr_wire_key_ack_size(unsigned int version);
/* write the body (GR_KEY_SIZE / gr_wire_key_ack_size() bytes) at @b */
void gr_wire_put_key(uint8_t *b, const struct gr_key *k);
void gr_wire_put_key_ack(uint8_t *b, unsigned int version, const struct gr_key_ack *a);
const char *gr_key_status_name(uint32_t status);
/* zero the key bytes of @k (OPENSSL_cleanse) */
void gr_key_wipe(struct gr_key *k);
struct gr_frame;
/* gr_wire_encode() of KEY: the body at @b, checked; wiped when refused */
int gr_wire_check_key(uint8_t *b, const struct gr_frame *f, char *err);

/*
 * Checkpoints and finality (Documentation/wire-protocol.rst, "CKPT,
 * CKPT_RESP and CKPT_FINAL"; Documentation/proofs.rst, "Finality").
 * CKPT and CKPT_FINAL, leader to a site: le64 term, le64 size, le32 flags
 * (0), le32 note_len, note[note_len]: a C2SP signed note whose text is a
 * tlog-checkpoint of tree size @size, followed by 1 to GR_NOTE_MAX_SIGS
 * signature lines (CKPT: the leader's; CKPT_FINAL: the leader's and the
 * cosignatures that made it final). The decoder checks the layout, the
 * checkpoint text and its size; the receiver checks the signatures.
 * CKPT_RESP, site to leader: le64 term, le64 size, le32 status, le32
 * length, text[length]: COSIGNED: one C2SP cosignature line ("\u2014 "
 * name " " base64 "\n"); otherwise the reason of the refusal (printable,
 * no newline, at most GR_WIRE_MAX_REASON bytes).
 */
#define GR_CKPT_HDR_SIZE	24
#define GR_CKPT_NOTE_MAX	8192
#define GR_CKPT_RESP_HDR_SIZE	24
#define GR_CKPT_SIGLINE_MAX	512
enum gr_ckpt_status {
	GR_CKPT_COSIGNED = 0,
	GR_CKPT_ROOT_DIFFERS = 1,	/* this site's tree at that size has another root */
	GR_CKPT_SIZE_UNKNOWN = 2,	/* this site's tree does not reach that size (yet) */
	GR_CKPT_REFUSED = 3,		/* anything else: signature, origin, sender */
	__GR_CKPT_MAX,
};

struct gr_ckpt {
	uint64_t term;
	uint64_t size;			/* tree size, the checkpoint's */
	const char *note;		/* note_len bytes, not NUL terminated */
	uint32_t note_len;
	uint32_t text_len;		/* decode: the checkpoint text is note[0, text_len) */
	uint8_t root[32];		/* decode: the checkpoint's root */
};

struct gr_ckpt_resp {
	uint64_t term;
	uint64_t size;
	uint32_t status;		/* enum gr_ckpt_status */
	uint32_t len;
	const char *text;		/* len bytes, not NUL terminated */
};

/* CKPT and CKPT_FINAL bodies (the same layout), and CKPT_RESP */
int gr_wire_decode_ckpt(const uint8_t *b, uint32_t len, struct gr_ckpt *c, char *err);
int gr_wire_decode_ckpt_resp(const uint8_t *b, uint32_t len, struct gr_ckpt_resp *r,
			     char *err);
/* write the body at @b (GR_CKPT_HDR_SIZE + note_len / GR_CKPT_RESP_HDR_SIZE + len) */
void gr_wire_put_ckpt(uint8_t *b, const struct gr_ckpt *c);
void gr_wire_put_ckpt_resp(uint8_t *b, const struct gr_ckpt_resp *r);
const char *gr_ckpt_status_name(uint32_t status);

/*
 * Day-one setup (Documentation/replication.rst, "Day one"). GENESIS_REQ, a
 * site whose replica does not exist yet, to the volume's other sites: le32
 * flags (0), le32 reserved (0). GENESIS, the answer: le32 status (NONE: no
 * replica here either; HAVE), le32 count (seal keys that follow, 0..8; 0
 * for NONE), uuid[16] (zero for NONE), le64 data_bytes (the volume's size;
 * 0 for NONE), then count x (le32 epoch >= 1, ascending, le32 reserved 0,
 * key[32] not all zero). Keys only over mutual TLS; the decoder copies them
 * into struct gr_genesis, which the receiver wipes (gr_genesis_wipe()).
 */
#define GR_GENESIS_REQ_SIZE	8
#define GR_GENESIS_HDR_SIZE	32
#define GR_GENESIS_KEY_SIZE	(8 + GEOREP_KEY_LEN)
#define GR_GENESIS_MAX_KEYS	8
enum gr_genesis_status {
	GR_GENESIS_NONE = 0,
	GR_GENESIS_HAVE = 1,
	__GR_GENESIS_MAX,
};

struct gr_genesis {
	uint32_t status;
	uint32_t count;
	uint8_t uuid[GEOREP_UUID_LEN];
	uint64_t data_bytes;
	struct {
		uint32_t epoch;
		uint8_t key[GEOREP_KEY_LEN];
	} keys[GR_GENESIS_MAX_KEYS];
};

int gr_wire_decode_genesis(const uint8_t *b, uint32_t len, struct gr_genesis *g,
			   char *err);
/* the body at @b (gr_wire_genesis_size() bytes), checked; wiped when refused */
int gr_wire_put_genesis(uint8_t *b, const struct gr_genesis *g, char *err);
size_t gr_wire_genesis_size(const struct gr_genesis *g);
void gr_genesis_wipe(struct gr_genesis *g);

/*
 * Merkle leaves (Documentation/wire-protocol.rst, "MLEAF_REQ and MLEAF"):
 * a site whose tree lacks leaves of records its log no longer holds (after
 * a full resync) asks a site whose tree has them. MLEAF_REQ: le64
 * first_seq (>= 1), le32 count (1 to GR_MLEAF_MAX), le32 reserved (0).
 * MLEAF: le64 first_seq, le32 count, le32 status; OK: count (1 to
 * GR_MLEAF_MAX) leaves of GEOREP_LEAF_LEN bytes follow, leaf i that of
 * record first_seq + i (the decoder checks each leaf's format and seq);
 * UNAVAILABLE: count 0, the sender's tree does not hold them.
 */
#define GR_MLEAF_REQ_SIZE	16
#define GR_MLEAF_HDR_SIZE	16
#define GR_MLEAF_MAX		4096	/* 576 KiB of leaves */
enum gr_mleaf_status {
	GR_MLEAF_OK = 0,
	GR_MLEAF_UNAVAILABLE = 1,
	__GR_MLEAF_MAX,
};

struct gr_mleaf_req {
	uint64_t first_seq;
	uint32_t count;
};

struct gr_mleaf {
	uint64_t first_seq;
	uint32_t count;
	uint32_t status;	/* enum gr_mleaf_status */
	const uint8_t *leaves;	/* count x GEOREP_LEAF_LEN bytes */
};

int gr_wire_decode_mleaf_req(const uint8_t *b, uint32_t len, struct gr_mleaf_req *r,
			     char *err);
int gr_wire_decode_mleaf(const uint8_t *b, uint32_t len, struct gr_mleaf *m, char *err);
/* write the body at @b (GR_MLEAF_REQ_SIZE / gr_wire_mleaf_size() bytes) */
void gr_wire_put_mleaf_req(uint8_t *b, const struct gr_mleaf_req *r);
void gr_wire_put_mleaf(uint8_t *b, const struct gr_mleaf *m);
size_t gr_wire_mleaf_size(const struct gr_mleaf *m);

/*
 * Tree roots (Documentation/wire-protocol.rst, "ROOT_REQ and ROOT"):
 * `georepctl verify --via` at one site compares the others through it.
 * ROOT_REQ: le64 nonce (not 0), le64 size (0: only the tree's size).
 * ROOT: le64 nonce (the request's), le64 size (the request's), le64 tree
 * (committed leaves of the sender's tree), le32 status, le32 reserved (0),
 * root[32]: OK the root at size (1 <= size <= tree); BEYOND size > tree,
 * or size 0, or the sender's tree could not compute that root (logged
 * there); NO_TREE the sender keeps no tree of the volume (tree 0); the
 * root is all zero unless OK.
 */
#define GR_ROOT_REQ_SIZE	16
#define GR_ROOT_SIZE		(32 + GEOREP_HASH_LEN)
enum gr_root_status {
	GR_ROOT_OK = 0,
	GR_ROOT_BEYOND = 1,
	GR_ROOT_NO_TREE = 2,
	__GR_ROOT_MAX,
};

struct gr_root_req {
	uint64_t nonce;
	uint64_t size;
};

struct gr_root {
	uint64_t nonce;
	uint64_t size;
	uint64_t tree;
	uint32_t status;	/* enum gr_root_status */
	uint8_t root[GEOREP_HASH_LEN];
};

int gr_wire_decode_root_req(const uint8_t *b, uint32_t len, struct gr_root_req *r,
			    char *err);
int gr_wire_decode_root(const uint8_t *b, uint32_t len, struct gr_root *r, char *err);
/* write the body at @b (GR_ROOT_REQ_SIZE / GR_ROOT_SIZE bytes) */
void gr_wire_put_root_req(uint8_t *b, const struct gr_root_req *r);
void gr_wire_put_root(uint8_t *b, const struct gr_root *r);

/*
 * Stored signed checkpoints (Documentation/wire-protocol.rst, "NOTE_REQ
 * and NOTE"): `georepctl verify --via` reads the other sites' final
 * checkpoints and fork files' checkpoints through one site.
 * NOTE_REQ: le64 nonce (not 0), le32 kind, le32 index (FINAL: 0).
 * NOTE: le64 nonce, le32 kind, le32 index (the request's), le32 count
 * (notes of that kind the sender keeps: FINAL 0 or 1), le32 status,
 * le32 path_len, le32 note_len, path[path_len], note[note_len]. OK: the
 * note is a signed checkpoint as CKPT carries it (checked alike), index <
 * count; FORK carries the fork file's path (1..GR_NOTE_PATH_MAX printable
 * bytes), FINAL none. NONE: index >= count, no path, no note. BAD: the
 * stored file at that index is no signed checkpoint: its path (FORK), no
 * note.
 */
#define GR_NOTE_REQ_SIZE	16
#define GR_NOTE_HDR_SIZE	32
#define GR_NOTE_PATH_MAX	1024
enum gr_note_kind {
	GR_NOTE_FINAL = 0,	/* the site's final checkpoint (<volume>.final) */
	GR_NOTE_FORK = 1,	/* a fork file's checkpoint (<fork>.checkpoint) */
	__GR_NOTE_KIND_MAX,
};

enum gr_note_status {
	GR_NOTE_OK = 0,
	GR_NOTE_NONE = 1,
	GR_NOTE_BAD = 2,
	__GR_NOTE_MAX,
};

struct gr_note_req {
	uint64_t nonce;
	uint32_t kind;		/* enum gr_note_kind */
	uint32_t index;
};

struct gr_note {
	uint64_t nonce;
	uint32_t kind;
	uint32_t index;
	uint32_t count;
	uint32_t status;	/* enum gr_note_status */
	uint32_t path_len, note_len;
	const char *path;	/* path_len bytes, not NUL terminated */
	const char *note;	/* note_len bytes, not NUL terminated */
	uint64_t size;		/* decode, OK: the checkpoint's tree size */
};

int gr_wire_decode_note_req(const uint8_t *b, uint32_t len, struct gr_note_req *r, char *err);
int gr_wire_decode_note(const uint8_t *b, uint32_t len, struct gr_note *n, char *err);
/* write the body at @b (GR_NOTE_REQ_SIZE / gr_wire_note_size() bytes) */
void gr_wire_put_note_req(uint8_t *b, const struct gr_note_req *r);
void gr_wire_put_note(uint8_t *b, const struct gr_note *n);
size_t gr_wire_note_size(const struct gr_note *n);
/*
 * @note (@len bytes) is a signed checkpoint as CKPT carries it: its text a
 * tlog-checkpoint (tree size in @size, root in @root), an empty line, then
 * 1 to GR_NOTE_MAX_SIGS signature lines. @what prefixes the error.
 */
int gr_wire_check_note(const char *note, uint32_t len, const char *what, uint64_t *size,
		       uint8_t root[32], uint32_t *text_len, char *err);

struct gr_frame {
	struct gr_frame_hdr hdr;
	union {
		struct gr_hello hello;
		struct gr_error error;
		struct gr_ping ping;		/* PING and PONG */
		struct gr_consensus consensus;
		struct gr_records records;
		struct gr_ack ack;
		struct gr_resync resync;
		struct gr_heal_req heal_req;
		struct gr_heal heal;
		struct gr_key key;
		struct gr_key_ack key_ack;
		struct gr_ckpt ckpt;		/* CKPT and CKPT_FINAL */
		struct gr_ckpt_resp ckpt_resp;
		struct gr_genesis genesis;
		struct gr_part part;
		struct gr_mleaf_req mleaf_req;
		struct gr_mleaf mleaf;
		struct gr_root_req root_req;
		struct gr_root root;
		struct gr_note_req note_req;
		struct gr_note note;
	};
};

/* Block @i (< count) of a decoded HEAL_REQ. */
uint64_t gr_heal_req_block(const struct gr_heal_req *r, uint32_t i);

/* First 8 bytes (little-endian) of SHA-256 of the volume name; never 0. */
uint64_t gr_wire_volume_id(const char *name);

const char *gr_frame_type_name(unsigned int type);

/**
 * gr_wire_decode_hdr() - check a frame header.
 * @buf: at least GR_WIRE_HDR_SIZE bytes
 * @hdr: decoded header
 * @err: GR_WIRE_ERRLEN bytes for a message naming the problem
 *
 * Checks magic, version, type, flags, reserved and length limits, so that
 * garbage is rejected after 24 bytes, before its "length" is trusted.
 * Return: 0 or -EPROTO.
 */
int gr_wire_decode_hdr(const void *buf, struct gr_frame_hdr *hdr, char *err);

/**
 * gr_wire_decode() - decode and check one whole frame.
 * @buf: bytes received
 * @len: how many
 * @f: the frame (pointers into @buf)
 * @consumed: bytes of the frame, header included
 * @err: GR_WIRE_ERRLEN bytes for a message naming the problem
 *
 * Return: 0; -EAGAIN when @buf holds no whole frame yet (after the header
 * checked fine); -EPROTO for a bad frame (@err says why).
 */
int gr_wire_decode(const void *buf, size_t len, struct gr_frame *f,
		   size_t *consumed, char *err);

/**
 * gr_wire_encode() - encode @f into @buf.
 * @f: hdr.type, hdr.volume and hdr.version (0 means 1) are used; hdr.length,
 *     magic and flags are set by the encoder; the body comes from the union
 *     member of the type.
 *
 * Return: the frame size, -ENOSPC when @cap is too small, -EINVAL when @f
 * would not pass gr_wire_decode() (e.g. a bad batch of records).
 */
ssize_t gr_wire_encode(void *buf, size_t cap, const struct gr_frame *f);
/* the same, framed with @version instead of hdr.version (0 means 1) */
ssize_t gr_wire_encode_as(void *buf, size_t cap, const struct gr_frame *f, uint16_t version);

/*
 * The header of a PART frame of @len body bytes, framed with @version, into
 * @hdr (GR_WIRE_HDR_SIZE bytes): for a sender that sends the body from
 * where it already is.
 */
void gr_wire_part_hdr(uint8_t *hdr, uint32_t len, bool more, uint16_t version);

/* Bytes gr_wire_encode() needs for @f (0 for an unknown type). */
size_t gr_wire_frame_size(const struct gr_frame *f);
size_t gr_wire_frame_size_as(const struct gr_frame *f, uint16_t version);

/*
 * Walk the records of a decoded batch: *@pos starts at 0. Return: 1 and the
 * record in *@rec / *@payload, or 0 at the end. Only valid on a batch that
 * gr_wire_decode() accepted.
 */
int gr_records_next(const struct gr_records *r, size_t *pos,
		    const struct georep_record **rec, const uint8_t **payload);

/* Fill @sha with SHA-256 of @data (OpenSSL); for resync chunks. */
void gr_wire_sha256(const void *data, size_t len, uint8_t *sha);

/*
 * Generic consensus message layout, for a core without its own encoding:
 * 64 bytes, le fields in this order, then entries_len bytes of entries.
 */
#define GR_CMSG_SIZE		64
struct gr_cmsg {
	uint32_t type;		/* the core's message type */
	uint32_t flags;		/* the core's flags (reject, pre-vote...) */
	uint64_t term;
	uint32_t from;		/* site ids */
	uint32_t to;
	uint64_t index;		/* log index (seq) the message is about */
	uint64_t log_term;	/* term at index */
	uint64_t commit;	/* sender's commit index */
	uint32_t entries;	/* count of entries that follow */
	uint32_t entries_len;	/* bytes of entries */
	uint64_t hint;		/* reject hint / lease / free for the core */
	const uint8_t *entries_data;
};

ssize_t gr_cmsg_encode(void *buf, size_t cap, const struct gr_cmsg *m);
/* Return: 0 or -EPROTO with @err set. */
int gr_cmsg_decode(const void *buf, size_t len, struct gr_cmsg *m, char *err);

/*
 * The consensus core's own message (struct gr_msg of georep/consensus.h) as
 * a CONSENSUS body, user/lib/wire_consensus.c. Layout (little-endian):
 *
 *   u8 type, u8 flags (bit 0 reject, bit 1 force), le16 reserved (0),
 *   le32 from, le32 to, le32 n_entries,
 *   le64 term, seq, log_term, commit, hint_seq, hint_term, ctx, bytes,
 *   le32 conf_n, conf_n x (le32 site, u8 voter (0/1), 3 bytes 0)
 *   with flag bit 2 (progress), APPEND_RESP and HEARTBEAT_RESP only:
 *   le64 written_seq, commit_seq, applied_seq of the sender's ledger
 *
 * conf is sent for GR_MSG_RESYNC only (conf_n 0 otherwise). The entries of
 * an APPEND are not in the message: they are the records of the RECORDS
 * frame that follows it; the receiver rebuilds m->entries from them.
 */
struct gr_msg;
#define GR_WIRE_MSG_FIXED	80	/* bytes before the conf entries */
#define GR_WIRE_MSG_PROGRESS	24	/* the progress trailer */
/* the largest message (GR_MAX_SITES: georep/consensus.h) */
#define GR_WIRE_MSG_MAX		(GR_WIRE_MSG_FIXED + 4 + 8 * GR_MAX_SITES + GR_WIRE_MSG_PROGRESS)
/* Return: bytes written, -ENOSPC, or -EINVAL for a message the decoder would refuse. */
ssize_t gr_wire_msg_encode(void *buf, size_t cap, const struct gr_msg *m);
/* Return: 0 (m->entries NULL) or -EPROTO with @err (GR_WIRE_ERRLEN) set. */
int gr_wire_msg_decode(const void *buf, size_t len, struct gr_msg *m, char *err);

#endif /* _GEOREP_WIRE_H */
