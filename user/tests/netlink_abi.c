// SPDX-License-Identifier: GPL-2.0
/*
 * georep-nl-abi: ABI test of the "georep" generic netlink family.
 *
 *   georep-nl-abi                      malformed and missing attributes,
 *                                      permissions, unknown volumes
 *   georep-nl-abi --list               dump: "minor name" per volume; fails
 *                                      on a duplicate or out-of-order volume
 *   georep-nl-abi --live D0 L0 D1 L1   also creates volumes "abi0" (D0/L0)
 *                                      and "abi1" (D1/L1) and checks replies,
 *                                      dumps, events, the log stream node,
 *                                      EBUSY while the device is open and
 *                                      ENODEV on a stream file after delete
 *
 * Every request is built with libnl-genl; extended acks are enabled and the
 * errno, the extack message text and the missing-attribute report are
 * checked against Documentation/netlink.rst. Output is KTAP; exit status
 * 0 pass, 1 failure, 4 skip (module not loaded, or not root).
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/genetlink.h>
#include <linux/netlink.h>
#include <netlink/genl/ctrl.h>
#include <netlink/genl/genl.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <netlink/socket.h>

#include <linux/georep.h>

#define NOBODY_ID	65534

static int family;
static int test_nr;
static int failures;

/* what one request brought back */
struct result {
	bool done;
	int error;			/* 0 or negative errno from the ack */
	char msg[256];			/* extack message, "" when none */
	uint32_t miss_type;		/* NLMSGERR_ATTR_MISS_TYPE, 0 when none */
	bool has_offs;			/* NLMSGERR_ATTR_OFFS present */
	bool has_cookie;
	uint64_t cookie;
	int replies;			/* GEOREP messages received */
	/* from the last reply */
	char name[GEOREP_NAME_MAX];
	bool has_minor;
	uint32_t minor;
	uint8_t role;
	uint64_t term;
	uint32_t seal_epoch;
	uint64_t written_seq;
	uint64_t tail_seq;
	uint8_t high_wm, low_wm;
	uint64_t max_uncommitted;
	bool has_bad_seq;
	uint64_t bad_seq;
	/* dumps: names seen */
	char names[64][GEOREP_NAME_MAX];
	uint32_t minors[64];
	int nr_names;
};

static void ktap(bool ok, const char *fmt, ...)
{
	va_list ap;

	test_nr++;
	printf("%s %d ", ok ? "ok" : "not ok", test_nr);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	if (!ok)
		failures++;
}

static void diag(const char *fmt, ...)
{
	va_list ap;

	printf("# ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
}

static int on_error(struct sockaddr_nl *nla, struct nlmsgerr *e, void *arg)
{
	struct nlmsghdr *nlh = (struct nlmsghdr *)((char *)e - NLMSG_HDRLEN);
	struct nlattr *tb[NLMSGERR_ATTR_MAX + 1];
	struct result *r = arg;
	size_t ack_len = sizeof(*e);
	int len;

	r->done = true;
	r->error = e->error;
	if (!(nlh->nlmsg_flags & NLM_F_ACK_TLVS))
		return NL_STOP;
	if (!(nlh->nlmsg_flags & NLM_F_CAPPED))
		ack_len += e->msg.nlmsg_len - NLMSG_HDRLEN;
	len = (int)(nlh->nlmsg_len - NLMSG_HDRLEN - ack_len);
	if (len <= 0 || nla_parse(tb, NLMSGERR_ATTR_MAX,
				  (struct nlattr *)((char *)e + ack_len), len,
				  NULL))
		return NL_STOP;
	if (tb[NLMSGERR_ATTR_MSG])
		snprintf(r->msg, sizeof(r->msg), "%s",
			 nla_get_string(tb[NLMSGERR_ATTR_MSG]));
	if (tb[NLMSGERR_ATTR_MISS_TYPE])
		r->miss_type = nla_get_u32(tb[NLMSGERR_ATTR_MISS_TYPE]);
	r->has_offs = tb[NLMSGERR_ATTR_OFFS];
	if (tb[NLMSGERR_ATTR_COOKIE] &&
	    nla_len(tb[NLMSGERR_ATTR_COOKIE]) == sizeof(uint64_t)) {
		r->has_cookie = true;
		memcpy(&r->cookie, nla_data(tb[NLMSGERR_ATTR_COOKIE]),
		       sizeof(r->cookie));
	}
	return NL_STOP;
}

static int on_ack(struct nl_msg *msg, void *arg)
{
	struct result *r = arg;

	r->done = true;
	return NL_STOP;
}

static int on_finish(struct nl_msg *msg, void *arg)
{
	struct result *r = arg;

	r->done = true;
	return NL_STOP;
}

static int on_valid(struct nl_msg *msg, void *arg)
{
	struct nlattr *tb[GEOREP_A_MAX + 1];
	struct result *r = arg;

	if (genlmsg_parse(nlmsg_hdr(msg), 0, tb, GEOREP_A_MAX, NULL))
		return NL_SKIP;
	r->replies++;
	if (tb[GEOREP_A_NAME]) {
		snprintf(r->name, sizeof(r->name), "%s",
			 nla_get_string(tb[GEOREP_A_NAME]));
		if (r->nr_names < 64) {
			r->minors[r->nr_names] = tb[GEOREP_A_MINOR] ?
				nla_get_u32(tb[GEOREP_A_MINOR]) : UINT32_MAX;
			snprintf(r->names[r->nr_names++], GEOREP_NAME_MAX, "%s",
				 r->name);
		}
	}
	r->has_minor = tb[GEOREP_A_MINOR];
	if (tb[GEOREP_A_MINOR])
		r->minor = nla_get_u32(tb[GEOREP_A_MINOR]);
	if (tb[GEOREP_A_ROLE])
		r->role = nla_get_u8(tb[GEOREP_A_ROLE]);
	if (tb[GEOREP_A_TERM])
		r->term = nla_get_u64(tb[GEOREP_A_TERM]);
	if (tb[GEOREP_A_SEAL_EPOCH])
		r->seal_epoch = nla_get_u32(tb[GEOREP_A_SEAL_EPOCH]);
	if (tb[GEOREP_A_WRITTEN_SEQ])
		r->written_seq = nla_get_u64(tb[GEOREP_A_WRITTEN_SEQ]);
	if (tb[GEOREP_A_TAIL_SEQ])
		r->tail_seq = nla_get_u64(tb[GEOREP_A_TAIL_SEQ]);
	if (tb[GEOREP_A_LOG_HIGH_WM])
		r->high_wm = nla_get_u8(tb[GEOREP_A_LOG_HIGH_WM]);
	if (tb[GEOREP_A_LOG_LOW_WM])
		r->low_wm = nla_get_u8(tb[GEOREP_A_LOG_LOW_WM]);
	if (tb[GEOREP_A_MAX_UNCOMMITTED])
		r->max_uncommitted = nla_get_u64(tb[GEOREP_A_MAX_UNCOMMITTED]);
	r->has_bad_seq = tb[GEOREP_A_BAD_SEQ];
	if (tb[GEOREP_A_BAD_SEQ])
		r->bad_seq = nla_get_u64(tb[GEOREP_A_BAD_SEQ]);
	return NL_OK;
}

static struct nl_sock *nl_open(void)
{
	struct nl_sock *sk = nl_socket_alloc();
	int one = 1;

	if (!sk || genl_connect(sk)) {
		fprintf(stderr, "cannot open a generic netlink socket\n");
		exit(1);
	}
	setsockopt(nl_socket_get_fd(sk), SOL_NETLINK, NETLINK_EXT_ACK, &one,
		   sizeof(one));
	return sk;
}

static struct nl_msg *req(uint8_t cmd, int flags)
{
	struct nl_msg *msg = nlmsg_alloc();

	if (!msg || !genlmsg_put(msg, NL_AUTO_PORT, NL_AUTO_SEQ, family, 0,
				 flags, cmd, GEOREP_GENL_VERSION)) {
		fprintf(stderr, "cannot build a message\n");
		exit(1);
	}
	return msg;
}

/* send @msg (freed), collect replies and the ack into @r */
static void xfer(struct nl_sock *sk, struct nl_msg *msg, struct result *r)
{
	struct nl_cb *cb = nl_cb_alloc(NL_CB_CUSTOM);

	memset(r, 0, sizeof(*r));
	nl_cb_err(cb, NL_CB_CUSTOM, on_error, r);
	nl_cb_set(cb, NL_CB_ACK, NL_CB_CUSTOM, on_ack, r);
	nl_cb_set(cb, NL_CB_FINISH, NL_CB_CUSTOM, on_finish, r);
	nl_cb_set(cb, NL_CB_VALID, NL_CB_CUSTOM, on_valid, r);
	if (nl_send_auto(sk, msg) < 0) {
		r->error = -EIO;
		r->done = true;
	}
	while (!r->done) {
		if (nl_recvmsgs(sk, cb) < 0 && !r->done) {
			r->error = -EIO;
			break;
		}
	}
	nl_cb_put(cb);
	nlmsg_free(msg);
}

static void put_key(struct nl_msg *msg, uint32_t epoch, int len)
{
	struct nlattr *key = nla_nest_start(msg, GEOREP_A_KEY | NLA_F_NESTED);
	uint8_t data[64];

	memset(data, 0x5a, sizeof(data));
	nla_put_u32(msg, GEOREP_KEY_A_EPOCH, epoch);
	nla_put(msg, GEOREP_KEY_A_DATA, len, data);
	nla_nest_end(msg, key);
}

static void put_keys(struct nl_msg *msg, int nr)
{
	struct nlattr *keys = nla_nest_start(msg, GEOREP_A_KEYS | NLA_F_NESTED);
	int i;

	for (i = 1; i <= nr; i++)
		put_key(msg, i, GEOREP_KEY_LEN);
	nla_nest_end(msg, keys);
}

/* VOLUME_NEW with everything valid except what @omit leaves out */
enum { OMIT_NAME = 1, OMIT_DATA = 2, OMIT_KEYS = 4 };

static struct nl_msg *new_req(const char *name, int omit)
{
	struct nl_msg *msg = req(GEOREP_CMD_VOLUME_NEW, 0);

	if (!(omit & OMIT_NAME))
		nla_put_string(msg, GEOREP_A_NAME, name);
	if (!(omit & OMIT_DATA))
		nla_put_string(msg, GEOREP_A_DATA_PATH, "/nonexistent/data");
	nla_put_string(msg, GEOREP_A_LOG_PATH, "/nonexistent/log");
	if (!(omit & OMIT_KEYS))
		put_keys(msg, 1);
	return msg;
}

/*
 * expect(): the request failed with @err, the extack message is @text
 * (NULL: any non-empty message), and the missing attribute is @miss (0: not
 * checked).
 */
static void expect(struct nl_sock *sk, struct nl_msg *msg, int err,
		   const char *text, uint32_t miss, const char *what)
{
	struct result r;
	bool ok;

	xfer(sk, msg, &r);
	ok = r.error == -err &&
	     (text ? !strcmp(r.msg, text) : r.msg[0] != '\0') &&
	     (!miss || r.miss_type == miss);
	if (!ok)
		diag("%s: got errno %d msg \"%s\" miss_type %u; want errno %d msg \"%s\" miss_type %u",
		     what, -r.error, r.msg, r.miss_type, err,
		     text ? text : "(any)", miss);
	ktap(ok, "%s", what);
}

static void test_family(void)
{
	struct nl_sock *sk = nl_open();
	int grp;

	grp = genl_ctrl_resolve_grp(sk, GEOREP_GENL_NAME, GEOREP_MCGRP_EVENTS);
	ktap(grp > 0, "family has multicast group \"events\"");
	nl_socket_free(sk);
}

static void test_new_attrs(struct nl_sock *sk)
{
	struct nl_msg *msg;
	struct nlattr *nest;
	char buf[64];
	int i;

	expect(sk, new_req("abi", OMIT_NAME), EINVAL,
	       "missing attribute GEOREP_A_NAME", GEOREP_A_NAME,
	       "new: missing NAME");
	expect(sk, new_req("abi", OMIT_DATA), EINVAL,
	       "missing attribute GEOREP_A_DATA_PATH", GEOREP_A_DATA_PATH,
	       "new: missing DATA_PATH");
	expect(sk, new_req("abi", OMIT_KEYS), EINVAL,
	       "missing attribute GEOREP_A_KEYS", GEOREP_A_KEYS,
	       "new: missing KEYS");

	expect(sk, new_req("bad/name", 0), EINVAL,
	       "volume name may only hold [a-zA-Z0-9_.-]", 0,
	       "new: name with '/'");
	memset(buf, 'a', 32);
	buf[32] = '\0';
	expect(sk, new_req(buf, 0), EINVAL,
	       "volume name is longer than 31 characters", 0,
	       "new: 32-character name");
	expect(sk, new_req("", 0), EINVAL, "volume name is empty", 0,
	       "new: empty name");
	expect(sk, new_req("..", 0), EINVAL,
	       "volume name may not be \".\" or \"..\"", 0, "new: name \"..\"");

	msg = new_req("abi", OMIT_NAME);
	nla_put(msg, GEOREP_A_NAME, 3, "abc");
	expect(sk, msg, EINVAL, "Attribute failed policy validation", 0,
	       "new: name without NUL");

	msg = new_req("abi", 0);
	nla_put_u8(msg, GEOREP_A_ROLE, 2);
	nla_put_u64(msg, GEOREP_A_TERM, 1);
	expect(sk, msg, ERANGE, "integer out of range", 0, "new: role 2");

	msg = new_req("abi", 0);
	nla_put_u8(msg, GEOREP_A_COMMIT_RULE, 2);
	expect(sk, msg, ERANGE, "integer out of range", 0,
	       "new: commit rule 2");

	msg = new_req("abi", 0);
	nla_put_u8(msg, GEOREP_A_LOG_HIGH_WM, 101);
	nla_put_u8(msg, GEOREP_A_LOG_LOW_WM, 50);
	expect(sk, msg, ERANGE, "integer out of range", 0,
	       "new: high watermark 101");

	msg = new_req("abi", 0);
	nla_put_u8(msg, GEOREP_A_LOG_HIGH_WM, 80);
	nla_put_u8(msg, GEOREP_A_LOG_LOW_WM, 0);
	expect(sk, msg, ERANGE, "integer out of range", 0,
	       "new: low watermark 0");

	msg = new_req("abi", 0);
	nla_put_u8(msg, GEOREP_A_LOG_HIGH_WM, 50);
	nla_put_u8(msg, GEOREP_A_LOG_LOW_WM, 50);
	expect(sk, msg, EINVAL,
	       "GEOREP_A_LOG_LOW_WM must be below GEOREP_A_LOG_HIGH_WM", 0,
	       "new: low watermark not below high");

	msg = new_req("abi", 0);
	nla_put_u8(msg, GEOREP_A_LOG_HIGH_WM, 80);
	expect(sk, msg, EINVAL,
	       "GEOREP_A_LOG_HIGH_WM needs GEOREP_A_LOG_LOW_WM with it",
	       GEOREP_A_LOG_LOW_WM, "new: high watermark alone");

	msg = new_req("abi", 0);
	nla_put_u8(msg, GEOREP_A_ROLE, GEOREP_ROLE_PRIMARY);
	expect(sk, msg, EINVAL, "GEOREP_A_ROLE needs GEOREP_A_TERM with it",
	       GEOREP_A_TERM, "new: role without term");

	msg = new_req("abi", 0);
	nla_put(msg, GEOREP_A_UUID, GEOREP_UUID_LEN - 1, buf);
	expect(sk, msg, ERANGE, "binary attribute size out of range", 0,
	       "new: 15-byte uuid");

	msg = new_req("abi", 0);
	nla_put_u64(msg, GEOREP_A_SITE_ID, 1);
	expect(sk, msg, EINVAL, "invalid attribute length", 0,
	       "new: 8-byte site id");

	msg = new_req("abi", OMIT_KEYS);
	nest = nla_nest_start(msg, GEOREP_A_KEYS | NLA_F_NESTED);
	put_key(msg, 1, GEOREP_KEY_LEN - 1);
	nla_nest_end(msg, nest);
	expect(sk, msg, ERANGE, "binary attribute size out of range", 0,
	       "new: 31-byte key");

	msg = new_req("abi", OMIT_KEYS);
	nest = nla_nest_start(msg, GEOREP_A_KEYS | NLA_F_NESTED);
	put_key(msg, 0, GEOREP_KEY_LEN);
	nla_nest_end(msg, nest);
	expect(sk, msg, ERANGE, "integer out of range", 0,
	       "new: key epoch 0");

	msg = new_req("abi", OMIT_KEYS);
	nest = nla_nest_start(msg, GEOREP_A_KEYS | NLA_F_NESTED);
	{
		struct nlattr *key = nla_nest_start(msg, GEOREP_A_KEY |
						    NLA_F_NESTED);

		memset(buf, 1, sizeof(buf));
		nla_put(msg, GEOREP_KEY_A_DATA, GEOREP_KEY_LEN, buf);
		nla_nest_end(msg, key);
	}
	nla_nest_end(msg, nest);
	expect(sk, msg, EINVAL, "missing attribute GEOREP_KEY_A_EPOCH",
	       GEOREP_KEY_A_EPOCH, "new: key without epoch");

	msg = new_req("abi", OMIT_KEYS);
	nest = nla_nest_start(msg, GEOREP_A_KEYS | NLA_F_NESTED);
	put_key(msg, 1, GEOREP_KEY_LEN);
	put_key(msg, 1, GEOREP_KEY_LEN);
	nla_nest_end(msg, nest);
	expect(sk, msg, EINVAL, "key epoch given twice", 0,
	       "new: duplicate key epoch");

	msg = new_req("abi", OMIT_KEYS);
	nest = nla_nest_start(msg, GEOREP_A_KEYS | NLA_F_NESTED);
	for (i = 1; i <= GEOREP_MAX_KEYS + 1; i++)
		put_key(msg, i, GEOREP_KEY_LEN);
	nla_nest_end(msg, nest);
	expect(sk, msg, EINVAL, "GEOREP_A_KEYS holds more than 8 keys", 0,
	       "new: nine keys");

	/* by hand: nla_nest_end() drops an empty nest */
	msg = new_req("abi", OMIT_KEYS);
	nla_put(msg, GEOREP_A_KEYS | NLA_F_NESTED, 0, NULL);
	expect(sk, msg, EINVAL, "GEOREP_A_KEYS holds no key", 0,
	       "new: empty KEYS");

	msg = new_req("abi", OMIT_KEYS);
	nest = nla_nest_start(msg, GEOREP_A_KEYS | NLA_F_NESTED);
	{
		struct nlattr *key = nla_nest_start(msg, 2 | NLA_F_NESTED);

		memset(buf, 1, sizeof(buf));
		nla_put_u32(msg, GEOREP_KEY_A_EPOCH, 1);
		nla_put(msg, GEOREP_KEY_A_DATA, GEOREP_KEY_LEN, buf);
		nla_nest_end(msg, key);
	}
	nla_nest_end(msg, nest);
	expect(sk, msg, EINVAL,
	       "GEOREP_A_KEYS may only hold GEOREP_A_KEY entries", 0,
	       "new: KEYS entry of the wrong type");

	/* a nest without NLA_F_NESTED, built by hand */
	msg = new_req("abi", OMIT_KEYS);
	{
		struct nl_msg *inner = nlmsg_alloc();
		struct nlattr *key = nla_nest_start(inner, GEOREP_A_KEY |
						    NLA_F_NESTED);

		memset(buf, 1, sizeof(buf));
		nla_put_u32(inner, GEOREP_KEY_A_EPOCH, 1);
		nla_put(inner, GEOREP_KEY_A_DATA, GEOREP_KEY_LEN, buf);
		nla_nest_end(inner, key);
		nla_put(msg, GEOREP_A_KEYS, nla_total_size(nla_len(key)), key);
		nlmsg_free(inner);
	}
	expect(sk, msg, EINVAL, "NLA_F_NESTED is missing", 0,
	       "new: KEYS without NLA_F_NESTED");

	msg = new_req("abi", 0);
	nla_put_u32(msg, GEOREP_A_MAX + 1, 1);
	expect(sk, msg, EINVAL, "Unknown attribute type", 0,
	       "new: attribute beyond GEOREP_A_MAX");

	msg = new_req("abi", 0);
	nla_put_u32(msg, GEOREP_A_MINOR, 1);
	expect(sk, msg, EINVAL, "Unsupported attribute", 0,
	       "new: kernel-only attribute MINOR");
}

static void test_other_cmds(struct nl_sock *sk)
{
	struct nl_msg *msg;

	msg = req(GEOREP_CMD_VOLUME_DEL, 0);
	expect(sk, msg, EINVAL, "missing attribute GEOREP_A_NAME",
	       GEOREP_A_NAME, "del: missing NAME");

	msg = req(GEOREP_CMD_VOLUME_DEL, 0);
	nla_put_string(msg, GEOREP_A_NAME, "abi");
	put_keys(msg, 1);
	expect(sk, msg, EINVAL, "Unknown attribute type", 0,
	       "del: unexpected KEYS");

	msg = req(GEOREP_CMD_VOLUME_DEL, 0);
	nla_put_string(msg, GEOREP_A_NAME, "abi-none");
	expect(sk, msg, ENOENT, NULL, 0, "del: unknown volume is ENOENT");

	msg = req(GEOREP_CMD_VOLUME_GET, 0);
	nla_put_string(msg, GEOREP_A_NAME, "abi-none");
	expect(sk, msg, ENOENT, "no volume with this name", 0,
	       "get: unknown volume is ENOENT");

	msg = req(GEOREP_CMD_VOLUME_GET, 0);
	expect(sk, msg, EINVAL, "missing attribute GEOREP_A_NAME",
	       GEOREP_A_NAME, "get: missing NAME");

	msg = req(GEOREP_CMD_VOLUME_SET, 0);
	nla_put_string(msg, GEOREP_A_NAME, "abi-none");
	expect(sk, msg, EINVAL, "nothing to change in VOLUME_SET", 0,
	       "set: nothing to change");

	msg = req(GEOREP_CMD_VOLUME_SET, 0);
	nla_put_string(msg, GEOREP_A_NAME, "abi-none");
	nla_put_u64(msg, GEOREP_A_TERM, 3);
	expect(sk, msg, EINVAL, "GEOREP_A_TERM needs GEOREP_A_ROLE with it",
	       GEOREP_A_ROLE, "set: term without role");

	msg = req(GEOREP_CMD_VOLUME_SET, 0);
	nla_put_string(msg, GEOREP_A_NAME, "abi-none");
	put_keys(msg, 1);
	expect(sk, msg, EINVAL, "Unsupported attribute", 0,
	       "set: KEYS not accepted");

	msg = req(GEOREP_CMD_VOLUME_SET, 0);
	nla_put_string(msg, GEOREP_A_NAME, "abi-none");
	nla_put_u64(msg, GEOREP_A_COMMIT_SEQ, 1);
	expect(sk, msg, ENOENT, "no volume with this name", 0,
	       "set: unknown volume is ENOENT");

	msg = req(GEOREP_CMD_KEY_SET, 0);
	nla_put_string(msg, GEOREP_A_NAME, "abi-none");
	expect(sk, msg, EINVAL, "missing attribute GEOREP_A_KEYS",
	       GEOREP_A_KEYS, "key-set: missing KEYS");

	msg = req(GEOREP_CMD_KEY_SET, 0);
	nla_put_string(msg, GEOREP_A_NAME, "abi-none");
	put_keys(msg, 2);
	expect(sk, msg, ENOENT, "no volume with this name", 0,
	       "key-set: unknown volume is ENOENT");

	msg = req(GEOREP_CMD_LOG_RELEASE, 0);
	nla_put_string(msg, GEOREP_A_NAME, "abi-none");
	expect(sk, msg, EINVAL, "missing attribute GEOREP_A_RELEASE_SEQ",
	       GEOREP_A_RELEASE_SEQ, "log-release: missing RELEASE_SEQ");

	msg = req(GEOREP_CMD_LEDGER_VERIFY, 0);
	nla_put_string(msg, GEOREP_A_NAME, "abi-none");
	expect(sk, msg, ENOENT, "no volume with this name", 0,
	       "ledger-verify: unknown volume is ENOENT");

	msg = req(GEOREP_CMD_EVENT, 0);
	{
		struct result r;

		xfer(sk, msg, &r);
		ktap(r.error == -EOPNOTSUPP, "event: not a request (errno %d)",
		     -r.error);
	}
}

/* in a child without CAP_NET_ADMIN: state changes are EPERM, reads work */
static void test_eperm(const char *volume)
{
	static const uint8_t cmds[] = {
		GEOREP_CMD_VOLUME_NEW, GEOREP_CMD_VOLUME_DEL,
		GEOREP_CMD_VOLUME_SET, GEOREP_CMD_KEY_SET,
		GEOREP_CMD_LOG_RELEASE,
	};
	int status, fails = 0;
	pid_t pid;

	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		struct nl_sock *sk;
		struct nl_msg *msg;
		struct result r;
		size_t i;

		if (setgroups(0, NULL) || setresgid(NOBODY_ID, NOBODY_ID, NOBODY_ID) ||
		    setresuid(NOBODY_ID, NOBODY_ID, NOBODY_ID))
			_exit(100);
		sk = nl_open();
		for (i = 0; i < sizeof(cmds); i++) {
			msg = req(cmds[i], 0);
			nla_put_string(msg, GEOREP_A_NAME, volume);
			xfer(sk, msg, &r);
			if (r.error != -EPERM) {
				printf("# cmd %u as uid %d: errno %d, want EPERM\n",
				       cmds[i], NOBODY_ID, -r.error);
				fails++;
			}
		}
		msg = req(GEOREP_CMD_VOLUME_GET, NLM_F_DUMP);
		xfer(sk, msg, &r);
		if (r.error) {
			printf("# dump as uid %d: errno %d, want success\n",
			       NOBODY_ID, -r.error);
			fails++;
		}
		fflush(stdout);
		nl_socket_free(sk);
		_exit(fails ? 1 : 0);
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid) {
		ktap(false, "eperm: fork");
		return;
	}
	ktap(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	     "eperm: NEW DEL SET KEY_SET LOG_RELEASE need CAP_NET_ADMIN, dump does not (%s)",
	     volume);
}

/* ---- live tests: real volumes on the given devices ---- */

static struct nl_msg *new_live(const char *name, const char *data,
			       const char *log, uint8_t role, uint64_t term)
{
	struct nl_msg *msg = req(GEOREP_CMD_VOLUME_NEW, 0);

	nla_put_string(msg, GEOREP_A_NAME, name);
	nla_put_string(msg, GEOREP_A_DATA_PATH, data);
	nla_put_string(msg, GEOREP_A_LOG_PATH, log);
	nla_put_flag(msg, GEOREP_A_FORMAT);
	nla_put_u32(msg, GEOREP_A_SITE_ID, 1);
	nla_put_u8(msg, GEOREP_A_ROLE, role);
	nla_put_u64(msg, GEOREP_A_TERM, term);
	put_keys(msg, 1);
	return msg;
}

static bool del_volume(struct nl_sock *sk, const char *name, struct result *r)
{
	struct nl_msg *msg = req(GEOREP_CMD_VOLUME_DEL, 0);

	nla_put_string(msg, GEOREP_A_NAME, name);
	xfer(sk, msg, r);
	return r->error == 0;
}

static bool stream_node(uint32_t minor, char *path, size_t len)
{
	struct stat st;

	snprintf(path, len, "/dev/georep%u-log", minor);
	return !stat(path, &st) && S_ISCHR(st.st_mode);
}

/* wait up to @ms for an ROLE event about @name on @ev */
static bool wait_role_event(struct nl_sock *ev, const char *name,
			    uint8_t role, uint64_t term, int ms)
{
	struct pollfd pfd = { .fd = nl_socket_get_fd(ev), .events = POLLIN };
	bool found = false;

	while (!found && poll(&pfd, 1, ms) == 1) {
		struct nlattr *tb[GEOREP_A_MAX + 1];
		struct sockaddr_nl peer;
		unsigned char *buf = NULL;
		struct nlmsghdr *nlh;
		int len;

		len = nl_recv(ev, &peer, &buf, NULL);
		if (len <= 0)
			break;
		for (nlh = (struct nlmsghdr *)buf; nlmsg_ok(nlh, len);
		     nlh = nlmsg_next(nlh, &len)) {
			struct genlmsghdr *g = nlmsg_data(nlh);

			if (nlh->nlmsg_type != family ||
			    g->cmd != GEOREP_CMD_EVENT ||
			    genlmsg_parse(nlh, 0, tb, GEOREP_A_MAX, NULL))
				continue;
			if (tb[GEOREP_A_NAME] && tb[GEOREP_A_EVENT] &&
			    tb[GEOREP_A_ROLE] && tb[GEOREP_A_TERM] &&
			    !strcmp(nla_get_string(tb[GEOREP_A_NAME]), name) &&
			    nla_get_u8(tb[GEOREP_A_EVENT]) == GEOREP_EVENT_ROLE &&
			    nla_get_u8(tb[GEOREP_A_ROLE]) == role &&
			    nla_get_u64(tb[GEOREP_A_TERM]) == term)
				found = true;
		}
		free(buf);
	}
	return found;
}

/* ---- the log stream of a live primary ---- */

#define REC_BYTES	(GEOREP_RECORD_HDR_SIZE + GEOREP_BLOCK_SIZE)

static uint64_t written_seq(struct nl_sock *sk, const char *name, uint64_t *tail)
{
	struct nl_msg *msg = req(GEOREP_CMD_VOLUME_GET, 0);
	struct result r;

	nla_put_string(msg, GEOREP_A_NAME, name);
	xfer(sk, msg, &r);
	*tail = r.tail_seq;
	return r.written_seq;
}

/* one 4 KiB O_DIRECT write at block @blk of /dev/georepN */
static bool write_block(const char *bpath, int blk)
{
	void *buf;
	bool ok;
	int fd;

	if (posix_memalign(&buf, 4096, 4096))
		return false;
	memset(buf, blk & 0xff, 4096);
	fd = open(bpath, O_WRONLY | O_DIRECT);
	ok = fd >= 0 && pwrite(fd, buf, 4096, (off_t)blk * 4096) == 4096 &&
	     !fsync(fd);
	if (fd >= 0)
		close(fd);
	free(buf);
	return ok;
}

/*
 * Walk @len bytes of records: magic, consecutive seqs from @first, sizes.
 * Returns the number of records, -1 when malformed.
 */
static int check_records(const unsigned char *buf, size_t len, uint64_t first)
{
	const struct georep_record *rec;
	size_t off = 0;
	int nr = 0;

	while (off < len) {
		if (len - off < GEOREP_RECORD_HDR_SIZE)
			return -1;
		rec = (const void *)(buf + off);
		if (le32toh(rec->magic) != GEOREP_RECORD_MAGIC ||
		    le64toh(rec->seq) != first + nr) {
			diag("record at %zu: magic %#x seq %llu, want seq %llu",
			     off, le32toh(rec->magic),
			     (unsigned long long)le64toh(rec->seq),
			     (unsigned long long)(first + nr));
			return -1;
		}
		off += GEOREP_RECORD_HDR_SIZE + le32toh(rec->payload_len);
		nr++;
	}
	return off == len ? nr : -1;
}

static void test_stream(struct nl_sock *sk, const char *path,
			const char *bpath, const char *sec_path)
{
	static unsigned char buf[64 * REC_BYTES];
	uint64_t w, tail, first;
	struct pollfd pfd;
	int fd, nr, status, i;
	ssize_t n;
	pid_t pid;
	bool ok = true;

	for (i = 0; i < 4 && ok; i++)
		ok = write_block(bpath, i);
	ktap(ok, "stream: four 4 KiB writes to %s", bpath);
	w = written_seq(sk, "abi0", &tail);
	first = tail ? tail : 1;

	fd = open(path, O_RDONLY);
	n = fd >= 0 ? read(fd, buf, sizeof(buf)) : -1;
	nr = n > 0 ? check_records(buf, n, first) : -1;
	ktap(nr >= 4 && first + nr - 1 == w,
	     "stream: read from the tail returns records %llu..%llu whole (%d, %zd bytes)",
	     (unsigned long long)first, (unsigned long long)w, nr, n);

	ok = lseek(fd, (off_t)w - 1, SEEK_SET) == (off_t)w - 1 &&
	     read(fd, buf, REC_BYTES) == REC_BYTES &&
	     check_records(buf, REC_BYTES, w - 1) == 1 &&
	     lseek(fd, 0, SEEK_CUR) == (off_t)w;
	ktap(ok, "stream: SEEK_SET to seq %llu reads that record, cursor moves on",
	     (unsigned long long)w - 1);

	ok = lseek(fd, (off_t)w, SEEK_SET) == (off_t)w &&
	     read(fd, buf, 100) < 0 && errno == EMSGSIZE;
	ktap(ok, "stream: a buffer smaller than one record is EMSGSIZE");

	ok = lseek(fd, 0, SEEK_END) == (off_t)w + 1 &&
	     lseek(fd, -1, SEEK_SET) < 0 && errno == EINVAL &&
	     pread(fd, buf, REC_BYTES, 1) < 0 && errno == ESPIPE;
	ktap(ok, "stream: SEEK_END is written_seq+1, negative seek EINVAL, pread ESPIPE");

	/* at the head: no POLLIN; a blocked reader wakes on the next write */
	pfd = (struct pollfd){ .fd = fd, .events = POLLIN | POLLOUT };
	ok = poll(&pfd, 1, 0) == 0;
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		alarm(20);
		n = read(fd, buf, sizeof(buf));
		_exit(n == REC_BYTES && check_records(buf, n, w + 1) == 1 ? 0 : 1);
	}
	usleep(300 * 1000);
	ok = ok && write_block(bpath, 8);
	ok = ok && pid > 0 && waitpid(pid, &status, 0) == pid &&
	     WIFEXITED(status) && WEXITSTATUS(status) == 0;
	ktap(ok, "stream: no POLLIN/POLLOUT at the head of a primary; a blocked read returns the next record");
	pfd.revents = 0;
	ok = lseek(fd, (off_t)w + 1, SEEK_SET) == (off_t)w + 1 &&
	     poll(&pfd, 1, 0) == 1 && (pfd.revents & POLLIN);
	ktap(ok, "stream: POLLIN once a record is at the cursor");
	if (fd >= 0)
		close(fd);

	fd = open(path, O_WRONLY);
	memset(buf, 0, REC_BYTES);
	ok = fd >= 0 && write(fd, buf, REC_BYTES) < 0 && errno == EROFS;
	ktap(ok, "stream: write on a primary is EROFS");
	if (fd >= 0)
		close(fd);

	fd = sec_path ? open(sec_path, O_RDWR | O_NONBLOCK) : -1;
	pfd = (struct pollfd){ .fd = fd, .events = POLLOUT };
	ok = fd >= 0 && poll(&pfd, 1, 0) == 1 && (pfd.revents & POLLOUT);
	ktap(ok, "stream: POLLOUT on a secondary opened for writing");
	if (fd >= 0)
		close(fd);
}

/* ---- a corrupted record: EBADMSG with BAD_SEQ ---- */

/*
 * Flip one byte of the seal of record @seq on the log device (XOR: a
 * second call restores it). The volume holds the device exclusively, but
 * a plain open for writing is still allowed.
 */
static bool flip_seal(const char *logdev, uint64_t seq)
{
	struct georep_record *rec;
	bool done = false;
	off_t size, off;
	void *buf;
	int fd;

	if (posix_memalign(&buf, 4096, 4096))
		return false;
	rec = buf;
	fd = open(logdev, O_RDWR | O_DIRECT);
	size = fd >= 0 ? lseek(fd, 0, SEEK_END) : 0;
	for (off = 0; off + 4096 <= size && !done; off += 4096) {
		if (pread(fd, buf, 4096, off) != 4096)
			break;
		if (le32toh(rec->magic) != GEOREP_RECORD_MAGIC ||
		    le64toh(rec->seq) != seq)
			continue;
		rec->seal[5] ^= 0xff;
		done = pwrite(fd, buf, 4096, off) == 4096 && !fsync(fd);
	}
	if (fd >= 0)
		close(fd);
	free(buf);
	return done;
}

static bool bad_seq_reported(const struct result *r, uint64_t seq)
{
	bool ok = r->error == -EBADMSG && r->has_bad_seq && r->bad_seq == seq &&
		  r->has_cookie && r->cookie == seq && r->msg[0];

	if (!ok)
		diag("errno %d bad_seq %s%llu cookie %s%llu msg \"%s\"", -r->error,
		     r->has_bad_seq ? "" : "(none) ",
		     (unsigned long long)r->bad_seq, r->has_cookie ? "" : "(none) ",
		     (unsigned long long)r->cookie, r->msg);
	return ok;
}

static void test_verify(struct nl_sock *sk, const char *logdev)
{
	struct nl_msg *msg;
	struct result r;
	bool ok;

	ok = flip_seal(logdev, 2);
	msg = req(GEOREP_CMD_LEDGER_VERIFY, 0);
	nla_put_string(msg, GEOREP_A_NAME, "abi0");
	xfer(sk, msg, &r);
	ok = ok && bad_seq_reported(&r, 2) && r.replies == 1 &&
	     !strcmp(r.name, "abi0");
	ktap(ok, "verify: a broken seal at seq 2 is EBADMSG, reply and extack cookie name seq 2");

	ok = flip_seal(logdev, 2);
	msg = req(GEOREP_CMD_LEDGER_VERIFY, 0);
	nla_put_string(msg, GEOREP_A_NAME, "abi0");
	xfer(sk, msg, &r);
	ok = ok && !r.error && !r.has_bad_seq;
	ktap(ok, "verify: passes again once the seal is restored (errno %d)", -r.error);
}

static struct nl_msg *attach_req(const char *name, char **dev)
{
	struct nl_msg *msg = req(GEOREP_CMD_VOLUME_NEW, 0);

	nla_put_string(msg, GEOREP_A_NAME, name);
	nla_put_string(msg, GEOREP_A_DATA_PATH, dev[0]);
	nla_put_string(msg, GEOREP_A_LOG_PATH, dev[1]);
	put_keys(msg, 2);
	return msg;
}

/* abi0 was deleted: attach it again from its devices, first broken */
static void test_attach(struct nl_sock *sk, char **dev, uint64_t written)
{
	struct nl_msg *msg;
	struct result r;
	bool ok;

	ok = flip_seal(dev[1], 2);
	xfer(sk, attach_req("abi0", dev), &r);
	ok = ok && bad_seq_reported(&r, 2) && r.replies == 1 &&
	     !strcmp(r.name, "abi0");
	ktap(ok, "attach: a broken seal at seq 2 is EBADMSG, reply and extack cookie name seq 2");

	/* MAX_UNCOMMITTED alone: the watermarks take their defaults */
	ok = flip_seal(dev[1], 2);
	msg = attach_req("abi0", dev);
	nla_put_u64(msg, GEOREP_A_MAX_UNCOMMITTED, 3 << 20);
	xfer(sk, msg, &r);
	ok = ok && !r.error && r.replies == 1 && r.written_seq == written;
	if (!ok)
		diag("attach: errno %d \"%s\" written_seq %llu, want %llu", -r.error,
		     r.msg, (unsigned long long)r.written_seq,
		     (unsigned long long)written);
	ktap(ok, "attach: the repaired log attaches with written_seq %llu",
	     (unsigned long long)written);
	ktap(!r.error && r.high_wm == 90 && r.low_wm == 70 &&
	     r.max_uncommitted == 3 << 20,
	     "attach: MAX_UNCOMMITTED alone gets watermarks 90/70 (got %u/%u %llu)",
	     r.high_wm, r.low_wm, (unsigned long long)r.max_uncommitted);
	if (!r.error)
		del_volume(sk, "abi0", &r);
}

/* limits: given alone, one keeps the others */
static bool get_limits(struct nl_sock *sk, const char *name, struct result *r)
{
	struct nl_msg *msg = req(GEOREP_CMD_VOLUME_GET, 0);

	nla_put_string(msg, GEOREP_A_NAME, name);
	xfer(sk, msg, r);
	return !r->error;
}

static void test_limits(struct nl_sock *sk)
{
	struct nl_msg *msg;
	struct result r;
	bool ok;

	msg = req(GEOREP_CMD_VOLUME_SET, 0);
	nla_put_string(msg, GEOREP_A_NAME, "abi0");
	nla_put_u8(msg, GEOREP_A_LOG_HIGH_WM, 80);
	nla_put_u8(msg, GEOREP_A_LOG_LOW_WM, 60);
	nla_put_u64(msg, GEOREP_A_MAX_UNCOMMITTED, 1 << 20);
	xfer(sk, msg, &r);
	ok = !r.error && get_limits(sk, "abi0", &r) && r.high_wm == 80 &&
	     r.low_wm == 60 && r.max_uncommitted == 1 << 20;
	ktap(ok, "limits: set 80/60 and 1 MiB (got %u/%u %llu)", r.high_wm,
	     r.low_wm, (unsigned long long)r.max_uncommitted);

	msg = req(GEOREP_CMD_VOLUME_SET, 0);
	nla_put_string(msg, GEOREP_A_NAME, "abi0");
	nla_put_u64(msg, GEOREP_A_MAX_UNCOMMITTED, 2 << 20);
	xfer(sk, msg, &r);
	ok = !r.error && get_limits(sk, "abi0", &r) && r.high_wm == 80 &&
	     r.low_wm == 60 && r.max_uncommitted == 2 << 20;
	ktap(ok, "limits: MAX_UNCOMMITTED alone keeps the watermarks (got %u/%u %llu)",
	     r.high_wm, r.low_wm, (unsigned long long)r.max_uncommitted);

	msg = req(GEOREP_CMD_VOLUME_SET, 0);
	nla_put_string(msg, GEOREP_A_NAME, "abi0");
	nla_put_u8(msg, GEOREP_A_LOG_HIGH_WM, 95);
	nla_put_u8(msg, GEOREP_A_LOG_LOW_WM, 50);
	xfer(sk, msg, &r);
	ok = !r.error && get_limits(sk, "abi0", &r) && r.high_wm == 95 &&
	     r.low_wm == 50 && r.max_uncommitted == 2 << 20;
	ktap(ok, "limits: watermarks alone keep MAX_UNCOMMITTED (got %u/%u %llu)",
	     r.high_wm, r.low_wm, (unsigned long long)r.max_uncommitted);
}

static void test_live(struct nl_sock *sk, char **dev)
{
	uint32_t minor0 = 0, minor1 = 0;
	struct nl_sock *ev;
	char path[64], bpath[64], spath[64];
	uint64_t written, tail;
	pid_t reader;
	int status;
	struct nl_msg *msg;
	struct result r;
	int fd, bfd, grp, i;
	bool seen0 = false, seen1 = false, ok;
	ssize_t n;
	char rbuf[8192];

	xfer(sk, new_live("abi0", dev[0], dev[1], GEOREP_ROLE_PRIMARY, 1), &r);
	ok = !r.error && r.replies == 1 && !strcmp(r.name, "abi0") &&
	     r.has_minor;
	if (!ok)
		diag("create abi0: errno %d \"%s\" replies %d", -r.error, r.msg,
		     r.replies);
	ktap(ok, "live: create abi0 replies with its status");
	if (!ok)
		return;
	minor0 = r.minor;
	ktap(stream_node(minor0, path, sizeof(path)),
	     "live: %s is a char device", path);

	xfer(sk, new_live("abi1", dev[2], dev[3], GEOREP_ROLE_SECONDARY, 1), &r);
	ok = !r.error && r.has_minor && r.minor != minor0;
	if (!ok)
		diag("create abi1: errno %d \"%s\"", -r.error, r.msg);
	ktap(ok, "live: create abi1 (secondary) gets its own minor");
	if (ok)
		minor1 = r.minor;

	xfer(sk, new_live("abi0", dev[2], dev[3], GEOREP_ROLE_PRIMARY, 1), &r);
	ktap(r.error < 0 && r.msg[0], "live: second abi0 refused (errno %d \"%s\")",
	     -r.error, r.msg);

	msg = req(GEOREP_CMD_VOLUME_GET, 0);
	nla_put_string(msg, GEOREP_A_NAME, "abi0");
	xfer(sk, msg, &r);
	ktap(!r.error && r.replies == 1 && !strcmp(r.name, "abi0") &&
	     r.minor == minor0 && r.role == GEOREP_ROLE_PRIMARY && r.term == 1,
	     "live: get abi0");

	msg = req(GEOREP_CMD_VOLUME_GET, NLM_F_DUMP);
	xfer(sk, msg, &r);
	for (i = 0; i < r.nr_names; i++) {
		seen0 |= !strcmp(r.names[i], "abi0");
		seen1 |= !strcmp(r.names[i], "abi1");
	}
	ktap(!r.error && seen0 && (seen1 || !minor1),
	     "live: dump lists abi0 and abi1 (%d volumes)", r.nr_names);

	msg = req(GEOREP_CMD_KEY_SET, 0);
	nla_put_string(msg, GEOREP_A_NAME, "abi0");
	put_keys(msg, 2);
	xfer(sk, msg, &r);
	if (r.error)
		diag("key-set: errno %d \"%s\"", -r.error, r.msg);
	msg = req(GEOREP_CMD_VOLUME_GET, 0);
	nla_put_string(msg, GEOREP_A_NAME, "abi0");
	xfer(sk, msg, &r);
	ktap(!r.error && r.seal_epoch == 2,
	     "live: key-set epochs 1,2 seals with epoch 2 (got %u)",
	     r.seal_epoch);

	msg = req(GEOREP_CMD_LEDGER_VERIFY, 0);
	nla_put_string(msg, GEOREP_A_NAME, "abi0");
	xfer(sk, msg, &r);
	ktap(!r.error && r.replies == 1 && !r.has_bad_seq,
	     "live: ledger-verify of a fresh volume (errno %d \"%s\")",
	     -r.error, r.msg);

	/* events on role change */
	ev = nl_open();
	nl_socket_disable_seq_check(ev);
	grp = genl_ctrl_resolve_grp(ev, GEOREP_GENL_NAME, GEOREP_MCGRP_EVENTS);
	ok = grp > 0 && !nl_socket_add_membership(ev, grp);
	if (ok && minor1) {
		msg = req(GEOREP_CMD_VOLUME_SET, 0);
		nla_put_string(msg, GEOREP_A_NAME, "abi1");
		nla_put_u8(msg, GEOREP_A_ROLE, GEOREP_ROLE_PRIMARY);
		nla_put_u64(msg, GEOREP_A_TERM, 2);
		xfer(sk, msg, &r);
		if (r.error)
			diag("set abi1 primary term 2: errno %d \"%s\"",
			     -r.error, r.msg);
		ok = !r.error && wait_role_event(ev, "abi1", GEOREP_ROLE_PRIMARY,
						 2, 5000);
	}
	ktap(ok, "live: ROLE event on \"events\" after abi1 became primary in term 2");
	nl_socket_free(ev);

	if (minor1) {
		msg = req(GEOREP_CMD_VOLUME_SET, 0);
		nla_put_string(msg, GEOREP_A_NAME, "abi1");
		nla_put_u8(msg, GEOREP_A_ROLE, GEOREP_ROLE_SECONDARY);
		nla_put_u64(msg, GEOREP_A_TERM, 1);
		xfer(sk, msg, &r);
		ktap(r.error == -EINVAL && r.msg[0],
		     "live: term going back is EINVAL (\"%s\")", r.msg);

		msg = req(GEOREP_CMD_VOLUME_SET, 0);
		nla_put_string(msg, GEOREP_A_NAME, "abi1");
		nla_put_u8(msg, GEOREP_A_ROLE, GEOREP_ROLE_SECONDARY);
		nla_put_u64(msg, GEOREP_A_TERM, 3);
		xfer(sk, msg, &r);
		ktap(!r.error, "live: abi1 back to secondary in term 3 (errno %d \"%s\")",
		     -r.error, r.msg);
	}

	/* the stream: nothing past the head, non-blocking read is EAGAIN */
	fd = open(path, O_RDONLY | O_NONBLOCK);
	ok = fd >= 0 && lseek(fd, 0, SEEK_END) > 0;
	if (ok) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };

		n = read(fd, rbuf, sizeof(rbuf));
		ok = n < 0 && errno == EAGAIN && poll(&pfd, 1, 0) == 0;
	}
	ktap(ok, "live: stream at the head: read EAGAIN, no POLLIN");

	snprintf(bpath, sizeof(bpath), "/dev/georep%u", minor0);
	if (minor1)
		snprintf(spath, sizeof(spath), "/dev/georep%u-log", minor1);
	test_stream(sk, path, bpath, minor1 ? spath : NULL);
	test_verify(sk, dev[1]);
	test_limits(sk);
	written = written_seq(sk, "abi0", &tail);

	/* block device open: delete is EBUSY */
	bfd = open(bpath, O_RDONLY);
	if (bfd >= 0) {
		del_volume(sk, "abi0", &r);
		ktap(r.error == -EBUSY && r.msg[0],
		     "live: delete while %s is open is EBUSY (\"%s\")", bpath,
		     r.msg);
		close(bfd);
	} else {
		ktap(false, "live: open %s: %s", bpath, strerror(errno));
	}

	test_eperm("abi0");

	/*
	 * delete with stream files open, one of them in a blocking read at
	 * the head: the node goes, the reader wakes with ENODEV, the other
	 * file gets ENODEV and POLLHUP
	 */
	fflush(stdout);
	reader = fork();
	if (reader == 0) {
		int bfd2 = open(path, O_RDONLY);

		alarm(20);
		if (bfd2 < 0 || lseek(bfd2, 0, SEEK_END) < 0)
			_exit(2);
		n = read(bfd2, rbuf, sizeof(rbuf));
		_exit(n < 0 && errno == ENODEV ? 0 : 1);
	}
	usleep(300 * 1000);
	ok = del_volume(sk, "abi0", &r);
	if (!ok)
		diag("delete abi0: errno %d \"%s\"", -r.error, r.msg);
	ktap(ok && !stream_node(minor0, path, sizeof(path)),
	     "live: delete abi0 removes %s", path);
	ok = reader > 0 && waitpid(reader, &status, 0) == reader &&
	     WIFEXITED(status) && WEXITSTATUS(status) == 0;
	ktap(ok, "live: a reader blocked at the head wakes with ENODEV on delete");
	if (fd >= 0) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };

		n = read(fd, rbuf, sizeof(rbuf));
		ok = n < 0 && errno == ENODEV;
		ok = ok && lseek(fd, 1, SEEK_SET) < 0 && errno == ENODEV;
		ok = ok && poll(&pfd, 1, 0) == 1 && (pfd.revents & POLLHUP);
		ktap(ok, "live: read and lseek on a stream file of a deleted volume are ENODEV, poll POLLHUP");
		close(fd);
	}
	test_attach(sk, dev, written);
	if (minor1) {
		ok = del_volume(sk, "abi1", &r);
		if (!ok)
			diag("delete abi1: errno %d \"%s\"", -r.error, r.msg);
		ktap(ok, "live: delete abi1");
	}
	msg = req(GEOREP_CMD_VOLUME_GET, NLM_F_DUMP);
	xfer(sk, msg, &r);
	seen0 = seen1 = false;
	for (i = 0; i < r.nr_names; i++) {
		seen0 |= !strcmp(r.names[i], "abi0");
		seen1 |= !strcmp(r.names[i], "abi1");
	}
	ktap(!r.error && !seen0 && !seen1, "live: dump no longer lists them");
}

/*
 * --list: dump every volume and print "minor name" lines; fail when a
 * volume comes twice or out of minor order (a dump resumed wrongly).
 */
static int list_volumes(struct nl_sock *sk)
{
	struct nl_msg *msg = req(GEOREP_CMD_VOLUME_GET, NLM_F_DUMP);
	struct result r;
	int i, bad = 0;

	xfer(sk, msg, &r);
	if (r.error) {
		fprintf(stderr, "dump: %s %s\n", strerror(-r.error), r.msg);
		return 1;
	}
	for (i = 0; i < r.nr_names; i++) {
		printf("%u %s\n", r.minors[i], r.names[i]);
		if (i && r.minors[i] <= r.minors[i - 1]) {
			fprintf(stderr, "minor %u after %u\n", r.minors[i],
				r.minors[i - 1]);
			bad = 1;
		}
	}
	return bad;
}

int main(int argc, char **argv)
{
	struct nl_sock *sk;
	bool live = argc == 6 && !strcmp(argv[1], "--live");
	bool list = argc == 2 && !strcmp(argv[1], "--list");
	int ret;

	if (argc != 1 && !live && !list) {
		fprintf(stderr, "usage: %s [--live DATA0 LOG0 DATA1 LOG1 | --list]\n",
			argv[0]);
		return 2;
	}
	if (list) {
		sk = nl_open();
		/*
		 * 4 KiB reads: the kernel sizes dump skbs after the reader's
		 * buffer, so a dozen volumes already need a resumed dump
		 */
		nl_socket_set_msg_buf_size(sk, 4096);
		family = genl_ctrl_resolve(sk, GEOREP_GENL_NAME);
		ret = family < 0 ? 4 : list_volumes(sk);
		nl_socket_free(sk);
		return ret;
	}
	printf("KTAP version 1\n");
	if (geteuid() != 0) {
		printf("1..0 # SKIP needs root\n");
		return 4;
	}
	sk = nl_open();
	family = genl_ctrl_resolve(sk, GEOREP_GENL_NAME);
	if (family < 0) {
		printf("1..0 # SKIP genetlink family %s not registered\n",
		       GEOREP_GENL_NAME);
		nl_socket_free(sk);
		return 4;
	}

	test_family();
	test_new_attrs(sk);
	test_other_cmds(sk);
	test_eperm("abi-none");
	if (live)
		test_live(sk, argv + 2);

	printf("1..%d\n", test_nr);
	nl_socket_free(sk);
	return failures ? 1 : 0;
}
