// SPDX-License-Identifier: GPL-2.0
/*
 * georep-nl-abi: malformed and missing attributes, the other commands, permissions.
 */
#include "netlink_abi.h"

void test_family(void)
{
	struct nl_sock *sk = nl_open();
	int grp;

	grp = genl_ctrl_resolve_grp(sk, GEOREP_GENL_NAME, GEOREP_MCGRP_EVENTS);
	ktap(grp > 0, "family has multicast group \"events\"");
	nl_socket_free(sk);
}

/* NEW: required attributes and volume names */
static void test_new_names(struct nl_sock *sk)
{
	char buf[64];

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
}

/* NEW: attribute types, ranges and the pairs that go together */
static void test_new_ranges(struct nl_sock *sk)
{
	struct nl_msg *msg;
	char buf[64] = { 0 };

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
}

/* NEW: the nest of seal keys */
static void test_new_keys(struct nl_sock *sk)
{
	struct nl_msg *msg;
	struct nlattr *nest;
	char buf[64];
	int i;

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
}

void test_new_attrs(struct nl_sock *sk)
{
	struct nl_msg *msg;

	test_new_names(sk);
	test_new_ranges(sk);
	test_new_keys(sk);
	msg = new_req("abi", 0);
	nla_put_u32(msg, GEOREP_A_MAX + 1, 1);
	expect(sk, msg, EINVAL, "Unknown attribute type", 0,
	       "new: attribute beyond GEOREP_A_MAX");

	msg = new_req("abi", 0);
	nla_put_u32(msg, GEOREP_A_MINOR, 1);
	expect(sk, msg, EINVAL, "Unsupported attribute", 0,
	       "new: kernel-only attribute MINOR");
}

void test_other_cmds(struct nl_sock *sk)
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

	msg = req(GEOREP_CMD_VOLUME_SET, 0);
	nla_put_string(msg, GEOREP_A_NAME, "abi-none");
	nla_put_u8(msg, GEOREP_A_IO_STATE, __GEOREP_IO_MAX);
	expect(sk, msg, ERANGE, "integer out of range", 0,
	       "set: io state 3");

	msg = req(GEOREP_CMD_VOLUME_SET, 0);
	nla_put_string(msg, GEOREP_A_NAME, "abi-none");
	nla_put_u8(msg, GEOREP_A_IO_STATE, GEOREP_IO_SUSPEND);
	expect(sk, msg, ENOENT, "no volume with this name", 0,
	       "set: io state alone is a change (ENOENT)");

	msg = req(GEOREP_CMD_VOLUME_SET, 0);
	nla_put_string(msg, GEOREP_A_NAME, "abi-none");
	nla_put_u8(msg, GEOREP_A_DIVERGED, 1);
	expect(sk, msg, ERANGE, "integer out of range", 0,
	       "set: diverged 1 (only 0 can be set)");

	msg = req(GEOREP_CMD_VOLUME_SET, 0);
	nla_put_string(msg, GEOREP_A_NAME, "abi-none");
	nla_put_u8(msg, GEOREP_A_DIVERGED, 0);
	expect(sk, msg, ENOENT, "no volume with this name", 0,
	       "set: diverged 0 alone is a change (ENOENT)");

	msg = req(GEOREP_CMD_LOG_TRUNCATE, 0);
	nla_put_string(msg, GEOREP_A_NAME, "abi-none");
	nla_put_u64(msg, GEOREP_A_TRUNCATE_SEQ, 1);
	nla_put_flag(msg, GEOREP_A_TRUNCATE_APPLIED);
	expect(sk, msg, ENOENT, "no volume with this name", 0,
	       "truncate: TRUNCATE_APPLIED accepted (ENOENT)");

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

/*
 * In a child without CAP_NET_ADMIN every command is EPERM, reads and the
 * dump too (selftests/kmod/53-netlink-priv.sh goes further).
 */
void test_eperm(const char *volume)
{
	static const uint8_t cmds[] = {
		GEOREP_CMD_VOLUME_NEW, GEOREP_CMD_VOLUME_DEL,
		GEOREP_CMD_VOLUME_GET, GEOREP_CMD_VOLUME_SET,
		GEOREP_CMD_KEY_SET, GEOREP_CMD_LOG_RELEASE,
		GEOREP_CMD_LEDGER_VERIFY, GEOREP_CMD_LOG_TRUNCATE,
		GEOREP_CMD_LOG_RESET, GEOREP_CMD_LOG_NOOP,
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
		if (r.error != -EPERM) {
			printf("# dump as uid %d: errno %d, want EPERM\n",
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
	     "eperm: every command and the dump need CAP_NET_ADMIN (%s)",
	     volume);
}
