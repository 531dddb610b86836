// SPDX-License-Identifier: GPL-2.0
/*
 * georep generic netlink family "georep", version 1.
 *
 * Documentation/netlink/georep.yaml is the contract; the per-command
 * policies below are written by hand to match it (6.1 has no YNL code
 * generator). Every command that changes state needs CAP_NET_ADMIN
 * (GENL_ADMIN_PERM). Validation is strict: unknown or unexpected
 * attributes, wrong lengths, out-of-range values and nests without
 * NLA_F_NESTED are rejected by the core with an extack message; what the
 * policies cannot say (required attributes, pairs that travel together,
 * low < high) is checked here, again with an extack message naming the
 * attribute. Every message on success is a volume's status, built by
 * georep_nl_put_status().
 *
 * Who may do what (Documentation/netlink.rst, "Privileges"): volumes are
 * global, so every command, reads included, needs CAP_NET_ADMIN in the
 * initial user namespace (GENL_ADMIN_PERM; GENL_UNS_ADMIN_PERM would let
 * any user namespace's root in). The family is visible in every network
 * namespace (netnsok: sites of the VM lab run georepd in their own), but
 * georep_nl_pre_doit() serves only namespaces owned by the initial user
 * namespace, and events go only there, to listeners with CAP_NET_ADMIN
 * (GENL_MCAST_CAP_NET_ADMIN).
 *
 * Locking: parallel_ops, so that a LEDGER_VERIFY pass over the whole log
 * holds no lock that the daemon's commit updates or other genetlink
 * families need. georep_nl_pre_doit() takes what each command needs:
 * georep_nl_mutex serialises every command but VOLUME_GET and
 * LEDGER_VERIFY; georep_nl_pass_sem keeps VOLUME_DEL out while a verify
 * pass runs (the pass uses the volume's devices, which delete closes).
 */
#include <linux/ctype.h>
#include <linux/kernel.h>
#include <linux/limits.h>
#include <linux/mutex.h>
#include <linux/rwsem.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/user_namespace.h>
#include <net/genetlink.h>
#include <net/net_namespace.h>
#include <net/sock.h>
#include <asm/unaligned.h>

#include "georep.h"
#include "nl.h"

/* every command but VOLUME_GET and LEDGER_VERIFY */
static DEFINE_MUTEX(georep_nl_mutex);
/* LEDGER_VERIFY shared, VOLUME_DEL exclusive */
static DECLARE_RWSEM(georep_nl_pass_sem);
/* bumped by VOLUME_NEW and VOLUME_DEL: dumps see when they were cut */
static atomic_t georep_nl_generation = ATOMIC_INIT(1);

/* Report a missing attribute: miss_type/miss_nest plus a message. */
#define GEOREP_NL_REQUIRE(extack, nest, tb, type, msg) ({		\
	struct netlink_ext_ack *__ext = (extack);			\
	bool __missing = NL_REQ_ATTR_CHECK(__ext, nest, tb, type);	\
									\
	if (__missing)							\
		NL_SET_ERR_MSG(__ext, msg);				\
	__missing;							\
})

/* ---- policies ---- */

static int georep_nl_check_name(const struct nlattr *attr,
				struct netlink_ext_ack *extack)
{
	const char *name = nla_data(attr);
	size_t len = strnlen(name, nla_len(attr));
	size_t i;

	if (len == 0) {
		NL_SET_ERR_MSG_ATTR(extack, attr, "volume name is empty");
		return -EINVAL;
	}
	if (len >= GEOREP_NAME_MAX) {
		NL_SET_ERR_MSG_ATTR(extack, attr,
				    "volume name is longer than 31 characters");
		return -EINVAL;
	}
	if (len + 1 != nla_len(attr)) {
		NL_SET_ERR_MSG_ATTR(extack, attr,
				    "volume name must end with its only NUL byte");
		return -EINVAL;
	}
	for (i = 0; i < len; i++) {
		if (!isalnum(name[i]) && name[i] != '_' && name[i] != '.' &&
		    name[i] != '-') {
			NL_SET_ERR_MSG_ATTR(extack, attr,
					    "volume name may only hold [a-zA-Z0-9_.-]");
			return -EINVAL;
		}
	}
	if (!strcmp(name, ".") || !strcmp(name, "..")) {
		NL_SET_ERR_MSG_ATTR(extack, attr,
				    "volume name may not be \".\" or \"..\"");
		return -EINVAL;
	}
	return 0;
}

/*
 * NLA_NUL_STRING without a length: the core only checks that a NUL is
 * there, georep_nl_check_name() gives each failure its own message.
 */
#define GEOREP_NL_NAME_POLICY \
	NLA_POLICY_VALIDATE_FN(NLA_NUL_STRING, georep_nl_check_name)
#define GEOREP_NL_PATH_POLICY	{ .type = NLA_NUL_STRING, .len = PATH_MAX - 1 }
#define GEOREP_NL_ROLE_POLICY \
	NLA_POLICY_RANGE(NLA_U8, GEOREP_ROLE_SECONDARY, GEOREP_ROLE_PRIMARY)
#define GEOREP_NL_RULE_POLICY \
	NLA_POLICY_RANGE(NLA_U8, GEOREP_COMMIT_LOCAL, GEOREP_COMMIT_QUORUM)
#define GEOREP_NL_WM_POLICY	NLA_POLICY_RANGE(NLA_U8, 1, 100)

static const struct nla_policy georep_nl_key_policy[GEOREP_KEY_A_MAX + 1] = {
	[GEOREP_KEY_A_EPOCH]	= NLA_POLICY_MIN(NLA_U32, 1),
	[GEOREP_KEY_A_DATA]	= NLA_POLICY_EXACT_LEN(GEOREP_KEY_LEN),
};

#define GEOREP_NL_KEYS_POLICY	NLA_POLICY_NESTED_ARRAY(georep_nl_key_policy)

static const struct nla_policy georep_nl_new_policy[GEOREP_A_MAX + 1] = {
	[GEOREP_A_NAME]			= GEOREP_NL_NAME_POLICY,
	[GEOREP_A_DATA_PATH]		= GEOREP_NL_PATH_POLICY,
	[GEOREP_A_LOG_PATH]		= GEOREP_NL_PATH_POLICY,
	[GEOREP_A_FORMAT]		= { .type = NLA_FLAG },
	[GEOREP_A_UUID]			= NLA_POLICY_EXACT_LEN(GEOREP_UUID_LEN),
	[GEOREP_A_SITE_ID]		= { .type = NLA_U32 },
	[GEOREP_A_ROLE]			= GEOREP_NL_ROLE_POLICY,
	[GEOREP_A_TERM]			= { .type = NLA_U64 },
	[GEOREP_A_COMMIT_RULE]		= GEOREP_NL_RULE_POLICY,
	[GEOREP_A_LOG_HIGH_WM]		= GEOREP_NL_WM_POLICY,
	[GEOREP_A_LOG_LOW_WM]		= GEOREP_NL_WM_POLICY,
	[GEOREP_A_MAX_UNCOMMITTED]	= { .type = NLA_U64 },
	[GEOREP_A_KEYS]			= GEOREP_NL_KEYS_POLICY,
	[GEOREP_A_STANDALONE]		= NLA_POLICY_MAX(NLA_U8, 1),
};

/* VOLUME_DEL, VOLUME_GET, LEDGER_VERIFY */
static const struct nla_policy georep_nl_name_policy[GEOREP_A_NAME + 1] = {
	[GEOREP_A_NAME]			= GEOREP_NL_NAME_POLICY,
};

static const struct nla_policy georep_nl_set_policy[GEOREP_A_MAX + 1] = {
	[GEOREP_A_NAME]			= GEOREP_NL_NAME_POLICY,
	[GEOREP_A_ROLE]			= GEOREP_NL_ROLE_POLICY,
	[GEOREP_A_TERM]			= { .type = NLA_U64 },
	[GEOREP_A_COMMIT_RULE]		= GEOREP_NL_RULE_POLICY,
	[GEOREP_A_COMMIT_SEQ]		= { .type = NLA_U64 },
	[GEOREP_A_LOG_HIGH_WM]		= GEOREP_NL_WM_POLICY,
	[GEOREP_A_LOG_LOW_WM]		= GEOREP_NL_WM_POLICY,
	[GEOREP_A_MAX_UNCOMMITTED]	= { .type = NLA_U64 },
	[GEOREP_A_IO_STATE]		=
		NLA_POLICY_RANGE(NLA_U8, GEOREP_IO_RUN, GEOREP_IO_FAIL),
	[GEOREP_A_DIVERGED]		= NLA_POLICY_MAX(NLA_U8, 0),
};

static const struct nla_policy georep_nl_key_set_policy[GEOREP_A_MAX + 1] = {
	[GEOREP_A_NAME]			= GEOREP_NL_NAME_POLICY,
	[GEOREP_A_KEYS]			= GEOREP_NL_KEYS_POLICY,
	[GEOREP_A_SEAL_EPOCH]		= NLA_POLICY_MIN(NLA_U32, 1),
};

static const struct nla_policy georep_nl_release_policy[GEOREP_A_MAX + 1] = {
	[GEOREP_A_NAME]			= GEOREP_NL_NAME_POLICY,
	[GEOREP_A_RELEASE_SEQ]		= { .type = NLA_U64 },
};

static const struct nla_policy georep_nl_truncate_policy[GEOREP_A_MAX + 1] = {
	[GEOREP_A_NAME]			= GEOREP_NL_NAME_POLICY,
	[GEOREP_A_TRUNCATE_SEQ]		= { .type = NLA_U64 },
	[GEOREP_A_TRUNCATE_APPLIED]	= { .type = NLA_FLAG },
};

static const struct nla_policy georep_nl_reset_policy[GEOREP_A_MAX + 1] = {
	[GEOREP_A_NAME]			= GEOREP_NL_NAME_POLICY,
	[GEOREP_A_RESET_SEQ]		= { .type = NLA_U64 },
	[GEOREP_A_TERM]			= { .type = NLA_U64 },
	[GEOREP_A_CHAIN_HASH]		= NLA_POLICY_EXACT_LEN(GEOREP_HASH_LEN),
	[GEOREP_A_RECORD]		= NLA_POLICY_EXACT_LEN(GEOREP_RECORD_HDR_SIZE),
};

/* EBADMSG from the volume half: cookie and message name the bad seq too */
static void georep_nl_bad_record(struct genl_info *info, u64 bad_seq)
{
	nl_set_extack_cookie_u64(info->extack, bad_seq);
	if (!info->extack->_msg)
		GENL_SET_ERR_MSG(info,
				 "ledger record failed verification, its seq is in GEOREP_A_BAD_SEQ and the extack cookie");
}

/* make sure a failure from the volume half never goes out without a text */
static void georep_nl_default_msg(struct genl_info *info, int err)
{
	if (err && !info->extack->_msg)
		GENL_SET_ERR_MSG(info, "volume operation failed");
}

/* ---- request parsing ---- */

/*
 * Wipe the key bytes in the request itself once copied, so that no copy
 * outlives the command (an error ack would otherwise echo them back).
 */
static void georep_nl_wipe_keys(struct nlattr *keys)
{
	struct nlattr *entry, *attr;
	int rem, rem2;

	if (!keys)
		return;
	nla_for_each_nested(entry, keys, rem)
		nla_for_each_nested(attr, entry, rem2)
			if (nla_type(attr) == GEOREP_KEY_A_DATA)
				memzero_explicit(nla_data(attr), nla_len(attr));
}

/*
 * Copy the GEOREP_A_KEYS array into @keys (GEOREP_MAX_KEYS entries). The
 * caller zeroes @keys on every path, whatever this returns.
 */
static int georep_nl_parse_keys(struct genl_info *info, struct georep_key *keys,
				unsigned int *nr)
{
	struct netlink_ext_ack *extack = info->extack;
	struct nlattr *tb[GEOREP_KEY_A_MAX + 1];
	struct nlattr *keys_attr, *entry;
	unsigned int n = 0, i;
	int rem, ret;

	keys_attr = info->attrs[GEOREP_A_KEYS];
	if (GEOREP_NL_REQUIRE(extack, NULL, info->attrs, GEOREP_A_KEYS,
			      "missing attribute GEOREP_A_KEYS"))
		return -EINVAL;

	nla_for_each_nested(entry, keys_attr, rem) {
		if (nla_type(entry) != GEOREP_A_KEY) {
			NL_SET_ERR_MSG_ATTR(extack, entry,
					    "GEOREP_A_KEYS may only hold GEOREP_A_KEY entries");
			return -EINVAL;
		}
		if (n == GEOREP_MAX_KEYS) {
			NL_SET_ERR_MSG_ATTR(extack, entry,
					    "GEOREP_A_KEYS holds more than 8 keys");
			return -EINVAL;
		}
		ret = nla_parse_nested(tb, GEOREP_KEY_A_MAX, entry,
				       georep_nl_key_policy, extack);
		if (ret)
			return ret;
		if (GEOREP_NL_REQUIRE(extack, entry, tb, GEOREP_KEY_A_EPOCH,
				      "missing attribute GEOREP_KEY_A_EPOCH") ||
		    GEOREP_NL_REQUIRE(extack, entry, tb, GEOREP_KEY_A_DATA,
				      "missing attribute GEOREP_KEY_A_DATA"))
			return -EINVAL;

		keys[n].epoch = nla_get_u32(tb[GEOREP_KEY_A_EPOCH]);
		for (i = 0; i < n; i++) {
			if (keys[i].epoch == keys[n].epoch) {
				NL_SET_ERR_MSG_ATTR(extack, tb[GEOREP_KEY_A_EPOCH],
						    "key epoch given twice");
				return -EINVAL;
			}
		}
		memcpy(keys[n].data, nla_data(tb[GEOREP_KEY_A_DATA]),
		       GEOREP_KEY_LEN);
		n++;
	}
	if (!n) {
		NL_SET_ERR_MSG_ATTR(extack, keys_attr,
				    "GEOREP_A_KEYS holds no key");
		return -EINVAL;
	}
	*nr = n;
	return 0;
}

/* ROLE and TERM travel together */
static int georep_nl_parse_role(struct genl_info *info, bool *has_role,
				enum georep_role *role, u64 *term)
{
	struct nlattr **attrs = info->attrs;

	*has_role = attrs[GEOREP_A_ROLE] || attrs[GEOREP_A_TERM];
	if (!*has_role)
		return 0;
	if (GEOREP_NL_REQUIRE(info->extack, NULL, attrs, GEOREP_A_ROLE,
			      "GEOREP_A_TERM needs GEOREP_A_ROLE with it") ||
	    GEOREP_NL_REQUIRE(info->extack, NULL, attrs, GEOREP_A_TERM,
			      "GEOREP_A_ROLE needs GEOREP_A_TERM with it"))
		return -EINVAL;
	*role = nla_get_u8(attrs[GEOREP_A_ROLE]);
	*term = nla_get_u64(attrs[GEOREP_A_TERM]);
	return 0;
}

/*
 * LOG_HIGH_WM and LOG_LOW_WM travel together, low below high; *has_wm
 * says whether they were given. MAX_UNCOMMITTED may come alone.
 */
static int georep_nl_parse_wm(struct genl_info *info, bool *has_wm,
			      u8 *high, u8 *low)
{
	struct nlattr **attrs = info->attrs;

	*has_wm = attrs[GEOREP_A_LOG_HIGH_WM] || attrs[GEOREP_A_LOG_LOW_WM];
	if (!*has_wm)
		return 0;
	if (GEOREP_NL_REQUIRE(info->extack, NULL, attrs, GEOREP_A_LOG_HIGH_WM,
			      "GEOREP_A_LOG_LOW_WM needs GEOREP_A_LOG_HIGH_WM with it") ||
	    GEOREP_NL_REQUIRE(info->extack, NULL, attrs, GEOREP_A_LOG_LOW_WM,
			      "GEOREP_A_LOG_HIGH_WM needs GEOREP_A_LOG_LOW_WM with it"))
		return -EINVAL;
	*high = nla_get_u8(attrs[GEOREP_A_LOG_HIGH_WM]);
	*low = nla_get_u8(attrs[GEOREP_A_LOG_LOW_WM]);
	if (*low >= *high) {
		NL_SET_ERR_MSG_ATTR(info->extack, attrs[GEOREP_A_LOG_LOW_WM],
				    "GEOREP_A_LOG_LOW_WM must be below GEOREP_A_LOG_HIGH_WM");
		return -EINVAL;
	}
	return 0;
}

static int georep_nl_parse_new(struct genl_info *info,
			       struct georep_volume_params *p)
{
	struct netlink_ext_ack *extack = info->extack;
	struct nlattr **attrs = info->attrs;
	bool has_wm;
	int ret;

	if (GEOREP_NL_REQUIRE(extack, NULL, attrs, GEOREP_A_NAME,
			      "missing attribute GEOREP_A_NAME") ||
	    GEOREP_NL_REQUIRE(extack, NULL, attrs, GEOREP_A_DATA_PATH,
			      "missing attribute GEOREP_A_DATA_PATH") ||
	    GEOREP_NL_REQUIRE(extack, NULL, attrs, GEOREP_A_LOG_PATH,
			      "missing attribute GEOREP_A_LOG_PATH"))
		return -EINVAL;

	/* checked by georep_nl_check_name(): fits, NUL terminated */
	strscpy(p->name, nla_data(attrs[GEOREP_A_NAME]), sizeof(p->name));
	p->data_path = nla_data(attrs[GEOREP_A_DATA_PATH]);
	p->log_path = nla_data(attrs[GEOREP_A_LOG_PATH]);
	if (!p->data_path[0] || !p->log_path[0]) {
		NL_SET_ERR_MSG_ATTR(extack, !p->data_path[0] ?
				    attrs[GEOREP_A_DATA_PATH] :
				    attrs[GEOREP_A_LOG_PATH],
				    "device path is empty");
		return -EINVAL;
	}
	p->format = nla_get_flag(attrs[GEOREP_A_FORMAT]);
	p->standalone = attrs[GEOREP_A_STANDALONE] &&
			nla_get_u8(attrs[GEOREP_A_STANDALONE]);
	if (attrs[GEOREP_A_UUID]) {
		p->has_uuid = true;
		nla_memcpy(p->uuid, attrs[GEOREP_A_UUID], GEOREP_UUID_LEN);
	}
	if (attrs[GEOREP_A_SITE_ID])
		p->site_id = nla_get_u32(attrs[GEOREP_A_SITE_ID]);

	ret = georep_nl_parse_role(info, &p->has_role, &p->role, &p->term);
	if (ret)
		return ret;
	if (attrs[GEOREP_A_COMMIT_RULE]) {
		p->has_commit_rule = true;
		p->commit_rule = nla_get_u8(attrs[GEOREP_A_COMMIT_RULE]);
	}
	ret = georep_nl_parse_wm(info, &has_wm, &p->high_wm, &p->low_wm);
	if (ret)
		return ret;
	if (attrs[GEOREP_A_MAX_UNCOMMITTED])
		p->max_uncommitted = nla_get_u64(attrs[GEOREP_A_MAX_UNCOMMITTED]);
	p->has_limits = has_wm || attrs[GEOREP_A_MAX_UNCOMMITTED];
	if (p->has_limits && !has_wm) {
		p->high_wm = GEOREP_DEFAULT_HIGH_WM;
		p->low_wm = GEOREP_DEFAULT_LOW_WM;
	}

	return georep_nl_parse_keys(info, p->keys, &p->nr_keys);
}

/*
 * VOLUME_SET: everything but the volume. Limits not given keep their
 * current values: the caller fills them in once it has the volume.
 */
static int georep_nl_parse_set(struct genl_info *info,
			       struct georep_volume_update *u, bool *has_wm)
{
	struct nlattr **attrs = info->attrs;
	int ret;

	ret = georep_nl_parse_role(info, &u->has_role, &u->role, &u->term);
	if (ret)
		return ret;
	if (attrs[GEOREP_A_COMMIT_SEQ]) {
		u->has_commit_seq = true;
		u->commit_seq = nla_get_u64(attrs[GEOREP_A_COMMIT_SEQ]);
	}
	if (attrs[GEOREP_A_COMMIT_RULE]) {
		u->has_commit_rule = true;
		u->commit_rule = nla_get_u8(attrs[GEOREP_A_COMMIT_RULE]);
	}
	ret = georep_nl_parse_wm(info, has_wm, &u->high_wm, &u->low_wm);
	if (ret)
		return ret;
	u->has_limits = *has_wm || attrs[GEOREP_A_MAX_UNCOMMITTED];
	u->has_io_state = attrs[GEOREP_A_IO_STATE];
	if (u->has_io_state)
		u->io_state = nla_get_u8(attrs[GEOREP_A_IO_STATE]);
	u->clear_diverged = attrs[GEOREP_A_DIVERGED];
	if (!u->has_role && !u->has_commit_seq && !u->has_commit_rule &&
	    !u->has_limits && !u->has_io_state && !u->clear_diverged) {
		GENL_SET_ERR_MSG(info, "nothing to change in VOLUME_SET");
		return -EINVAL;
	}
	return 0;
}

/* VOLUME_SET checked on its own, before the volume is looked up */
static int georep_nl_check_set(struct genl_info *info)
{
	struct georep_volume_update u = {};
	bool has_wm;

	return georep_nl_parse_set(info, &u, &has_wm);
}

/*
 * LOG_RESET: RESET_SEQ, TERM and CHAIN_HASH are optional, but when given
 * they must be the anchor record's (a caller's statement of what it resets
 * to, checked against what it sends)
 */
static int georep_nl_check_reset(struct genl_info *info)
{
	const struct georep_record *r = nla_data(info->attrs[GEOREP_A_RECORD]);
	struct nlattr **attrs = info->attrs;

	if (attrs[GEOREP_A_RESET_SEQ] &&
	    nla_get_u64(attrs[GEOREP_A_RESET_SEQ]) != get_unaligned_le64(&r->seq)) {
		GENL_SET_ERR_MSG(info, "RESET_SEQ is not the anchor record's seq");
		return -EINVAL;
	}
	if (attrs[GEOREP_A_TERM] &&
	    nla_get_u64(attrs[GEOREP_A_TERM]) != get_unaligned_le64(&r->term)) {
		GENL_SET_ERR_MSG(info, "TERM is not the anchor record's term");
		return -EINVAL;
	}
	if (attrs[GEOREP_A_CHAIN_HASH] &&
	    memcmp(nla_data(attrs[GEOREP_A_CHAIN_HASH]), r->chain_hash,
		   GEOREP_HASH_LEN)) {
		GENL_SET_ERR_MSG(info, "CHAIN_HASH is not the anchor record's chain hash");
		return -EINVAL;
	}
	return 0;
}

/* ---- what every command shares: georep_nl_pre_doit() ---- */

/* internal_flags of an op */
#define GEOREP_NL_F_VOL		BIT(0)	/* looks NAME up: info->user_ptr[0] */
#define GEOREP_NL_F_SERIAL	BIT(1)	/* holds georep_nl_mutex */
#define GEOREP_NL_F_PASS	BIT(2)	/* a log pass: georep_nl_pass_sem shared */
#define GEOREP_NL_F_EXCL	BIT(3)	/* no pass runs: georep_nl_pass_sem */

#define GEOREP_NL_NEED(attr) { GEOREP_A_##attr, "missing attribute GEOREP_A_" #attr }

/*
 * Per command: the attributes the request must carry, in the order they
 * are reported, and the checks of the request alone (pairs, relations),
 * which come before the volume lookup. VOLUME_NEW checks its own request.
 */
static const struct georep_nl_cmd {
	struct {
		u16 type;
		const char *msg;
	} need[4];
	int (*check)(struct genl_info *info);
} georep_nl_cmds[__GEOREP_CMD_MAX] = {
	[GEOREP_CMD_VOLUME_DEL]		= { { GEOREP_NL_NEED(NAME) } },
	[GEOREP_CMD_VOLUME_GET]		= { { GEOREP_NL_NEED(NAME) } },
	[GEOREP_CMD_VOLUME_SET]		= { { GEOREP_NL_NEED(NAME) },
					    georep_nl_check_set },
	[GEOREP_CMD_KEY_SET]		= { { GEOREP_NL_NEED(NAME),
					      GEOREP_NL_NEED(KEYS) } },
	[GEOREP_CMD_LOG_RELEASE]	= { { GEOREP_NL_NEED(NAME),
					      GEOREP_NL_NEED(RELEASE_SEQ) } },
	[GEOREP_CMD_LEDGER_VERIFY]	= { { GEOREP_NL_NEED(NAME) } },
	[GEOREP_CMD_LOG_TRUNCATE]	= { { GEOREP_NL_NEED(NAME),
					      GEOREP_NL_NEED(TRUNCATE_SEQ) } },
	[GEOREP_CMD_LOG_RESET]		= { { GEOREP_NL_NEED(NAME),
					      GEOREP_NL_NEED(RECORD) },
					    georep_nl_check_reset },
	[GEOREP_CMD_LOG_NOOP]		= { { GEOREP_NL_NEED(NAME) } },
};

/*
 * Volumes are global: only a network namespace of the initial user
 * namespace is served, the same ones events go to. (Every op also has
 * GENL_ADMIN_PERM: CAP_NET_ADMIN in the initial user namespace.)
 */
static int georep_nl_net_ok(struct sk_buff *skb, struct netlink_ext_ack *extack)
{
	if (sock_net(skb->sk)->user_ns == &init_user_ns)
		return 0;
	NL_SET_ERR_MSG(extack,
		       "georep serves only network namespaces of the initial user namespace");
	return -EPERM;
}

static int georep_nl_check_request(const struct genl_ops *ops,
				   struct genl_info *info)
{
	const struct georep_nl_cmd *c = &georep_nl_cmds[ops->cmd];
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(c->need) && c->need[i].msg; i++) {
		if (NL_REQ_ATTR_CHECK(info->extack, NULL, info->attrs,
				      c->need[i].type)) {
			/* static strings, as NL_SET_ERR_MSG() wants */
			info->extack->_msg = c->need[i].msg;
			return -EINVAL;
		}
	}
	return c->check ? c->check(info) : 0;
}

static void georep_nl_unlock(u8 flags)
{
	if (flags & GEOREP_NL_F_SERIAL)
		mutex_unlock(&georep_nl_mutex);
	if (flags & GEOREP_NL_F_EXCL)
		up_write(&georep_nl_pass_sem);
	else if (flags & GEOREP_NL_F_PASS)
		up_read(&georep_nl_pass_sem);
}

/* a caller waiting for a long pass can be killed */
static int georep_nl_lock(u8 flags)
{
	int ret = 0;

	if (flags & GEOREP_NL_F_EXCL)
		ret = down_write_killable(&georep_nl_pass_sem);
	else if (flags & GEOREP_NL_F_PASS)
		ret = down_read_killable(&georep_nl_pass_sem);
	if (ret)
		return ret;
	if ((flags & GEOREP_NL_F_SERIAL) &&
	    mutex_lock_killable(&georep_nl_mutex)) {
		georep_nl_unlock(flags & ~GEOREP_NL_F_SERIAL);
		return -EINTR;
	}
	return 0;
}

/*
 * Namespace, the request on its own, locks, then the volume; undone by
 * georep_nl_post_doit(), or here when something fails (the core calls no
 * post_doit then). The core has checked GENL_ADMIN_PERM and the policy.
 */
static int georep_nl_pre_doit(const struct genl_ops *ops, struct sk_buff *skb,
			      struct genl_info *info)
{
	struct georep_volume *vol;
	int ret;

	info->user_ptr[0] = NULL;
	ret = georep_nl_net_ok(skb, info->extack);
	if (!ret)
		ret = georep_nl_check_request(ops, info);
	if (!ret)
		ret = georep_nl_lock(ops->internal_flags);
	if (ret)
		goto out_wipe;
	if (!(ops->internal_flags & GEOREP_NL_F_VOL))
		return 0;

	vol = georep_volume_get(nla_data(info->attrs[GEOREP_A_NAME]));
	if (!IS_ERR_OR_NULL(vol)) {
		info->user_ptr[0] = vol;
		return 0;
	}
	NL_SET_ERR_MSG_ATTR(info->extack, info->attrs[GEOREP_A_NAME],
			    "no volume with this name");
	ret = -ENOENT;
	georep_nl_unlock(ops->internal_flags);
out_wipe:
	/* the doit that would have wiped them does not run */
	if (ops->maxattr >= GEOREP_A_KEYS)
		georep_nl_wipe_keys(info->attrs[GEOREP_A_KEYS]);
	return ret;
}

static void georep_nl_post_doit(const struct genl_ops *ops,
				struct sk_buff *skb, struct genl_info *info)
{
	georep_volume_put(info->user_ptr[0]);
	info->user_ptr[0] = NULL;
	georep_nl_unlock(ops->internal_flags);
}

/* dumps get no pre_doit: the namespace rule again */
static int georep_nl_dump_start(struct netlink_callback *cb)
{
	return georep_nl_net_ok(cb->skb, cb->extack);
}

/* ---- commands ---- */

static int georep_nl_volume_new_doit(struct sk_buff *skb, struct genl_info *info)
{
	struct georep_volume_params *p;
	struct georep_volume *vol;
	u32 bad_epoch = 0;
	u64 bad_seq = 0;
	int ret;

	p = kzalloc(sizeof(*p), GFP_KERNEL);
	if (!p) {
		georep_nl_wipe_keys(info->attrs[GEOREP_A_KEYS]);
		return -ENOMEM;
	}

	ret = georep_nl_parse_new(info, p);
	georep_nl_wipe_keys(info->attrs[GEOREP_A_KEYS]);
	if (ret)
		goto out_free_params;

	vol = georep_volume_create(p, &bad_seq, &bad_epoch, info->extack);
	memzero_explicit(p->keys, sizeof(p->keys));
	if (IS_ERR(vol)) {
		ret = PTR_ERR(vol);
		if (ret == -EBADMSG || ret == -ENOKEY) {
			georep_nl_bad_record(info, bad_seq);
			georep_nl_reply_bad_seq(info, p->name, bad_seq, ret,
						ret == -ENOKEY ? bad_epoch : 0);
		}
		georep_nl_default_msg(info, ret);
		goto out_free_params;
	}
	atomic_inc(&georep_nl_generation);

	/* the volume exists now: a failed reply does not undo it */
	ret = georep_nl_reply_status(info, vol, NULL);
	if (ret)
		GENL_SET_ERR_MSG(info, "volume created, but the reply failed");
	georep_volume_put(vol);

out_free_params:
	memzero_explicit(p->keys, sizeof(p->keys));
	kfree(p);
	return ret;
}

static int georep_nl_volume_del_doit(struct sk_buff *skb, struct genl_info *info)
{
	int ret;

	ret = georep_volume_destroy(nla_data(info->attrs[GEOREP_A_NAME]),
				    info->extack);
	if (ret == -EBUSY && !info->extack->_msg)
		GENL_SET_ERR_MSG(info, "volume is in use (device open)");
	if (ret == -ENOENT && !info->extack->_msg)
		NL_SET_ERR_MSG_ATTR(info->extack, info->attrs[GEOREP_A_NAME],
				    "no volume with this name");
	georep_nl_default_msg(info, ret);
	if (!ret)
		atomic_inc(&georep_nl_generation);
	return ret;
}

static int georep_nl_volume_get_doit(struct sk_buff *skb, struct genl_info *info)
{
	return georep_nl_reply_status(info, info->user_ptr[0], NULL);
}

/* cb->args[0]: georep_volume_next() cursor of the next volume to send */
static int georep_nl_volume_get_dumpit(struct sk_buff *skb,
				       struct netlink_callback *cb)
{
	struct georep_status *st;
	struct georep_volume *vol;
	u32 minor = cb->args[0];
	u32 prev;
	void *hdr;
	int ret = 0;

	st = kmalloc(sizeof(*st), GFP_KERNEL);
	if (!st)
		return -ENOMEM;

	cb->seq = atomic_read(&georep_nl_generation);
	for (;;) {
		prev = minor;
		vol = georep_volume_next(&minor);
		if (IS_ERR_OR_NULL(vol))
			break;
		georep_volume_status(vol, st);
		georep_volume_put(vol);

		hdr = genlmsg_put(skb, NETLINK_CB(cb->skb).portid,
				  cb->nlh->nlmsg_seq, &georep_nl_family,
				  NLM_F_MULTI, GEOREP_CMD_VOLUME_GET);
		if (!hdr) {
			minor = prev;	/* send this volume in the next round */
			break;
		}
		genl_dump_check_consistent(cb, hdr);
		if (georep_nl_put_status(skb, st)) {
			genlmsg_cancel(skb, hdr);
			minor = prev;
			break;
		}
		genlmsg_end(skb, hdr);
	}
	cb->args[0] = minor;
	kfree(st);
	/* a volume that fits in no empty skb would loop forever */
	if (!skb->len && vol && !IS_ERR(vol))
		ret = -EMSGSIZE;
	return ret ? ret : skb->len;
}

static int georep_nl_volume_set_doit(struct sk_buff *skb, struct genl_info *info)
{
	struct georep_volume *vol = info->user_ptr[0];
	struct georep_volume_update u = {};
	struct georep_status *st;
	bool has_wm;
	int ret;

	/* checked in georep_nl_pre_doit() already */
	ret = georep_nl_parse_set(info, &u, &has_wm);
	if (ret)
		return ret;
	if (u.has_limits) {
		/* limits not given keep their current values */
		st = kmalloc(sizeof(*st), GFP_KERNEL);
		if (!st)
			return -ENOMEM;
		georep_volume_status(vol, st);
		if (!has_wm) {
			u.high_wm = st->high_wm;
			u.low_wm = st->low_wm;
		}
		u.max_uncommitted = st->max_uncommitted;
		kfree(st);
		if (info->attrs[GEOREP_A_MAX_UNCOMMITTED])
			u.max_uncommitted =
				nla_get_u64(info->attrs[GEOREP_A_MAX_UNCOMMITTED]);
	}

	ret = georep_volume_update(vol, &u, info->extack);
	georep_nl_default_msg(info, ret);
	return ret;
}

static int georep_nl_key_set_doit(struct sk_buff *skb, struct genl_info *info)
{
	struct nlattr *seal = info->attrs[GEOREP_A_SEAL_EPOCH];
	struct georep_key *keys;
	unsigned int nr = 0;
	int ret;

	keys = kcalloc(GEOREP_MAX_KEYS, sizeof(*keys), GFP_KERNEL);
	if (!keys) {
		ret = -ENOMEM;
		goto out_wipe;
	}
	ret = georep_nl_parse_keys(info, keys, &nr);
	if (!ret) {
		ret = georep_volume_set_keys(info->user_ptr[0], keys, nr,
					     seal ? nla_get_u32(seal) : 0,
					     info->extack);
		georep_nl_default_msg(info, ret);
	}
	memzero_explicit(keys, GEOREP_MAX_KEYS * sizeof(*keys));
	kfree(keys);
out_wipe:
	georep_nl_wipe_keys(info->attrs[GEOREP_A_KEYS]);
	return ret;
}

static int georep_nl_log_release_doit(struct sk_buff *skb,
				      struct genl_info *info)
{
	int ret;

	ret = georep_volume_release(info->user_ptr[0],
				    nla_get_u64(info->attrs[GEOREP_A_RELEASE_SEQ]),
				    info->extack);
	georep_nl_default_msg(info, ret);
	return ret;
}

/* holds no lock of the family's but georep_nl_pass_sem, shared */
static int georep_nl_ledger_verify_doit(struct sk_buff *skb,
					struct genl_info *info)
{
	struct georep_volume *vol = info->user_ptr[0];
	u64 bad_seq = 0;
	int ret;

	ret = georep_volume_verify(vol, &bad_seq, info->extack);
	if (ret == -EBADMSG) {
		georep_nl_bad_record(info, bad_seq);
		/* the error-path reply; the request still fails */
		georep_nl_reply_status(info, vol, &bad_seq);
	} else if (!ret) {
		ret = georep_nl_reply_status(info, vol, NULL);
	}
	georep_nl_default_msg(info, ret);
	return ret;
}

static int georep_nl_log_truncate_doit(struct sk_buff *skb,
				       struct genl_info *info)
{
	struct georep_volume *vol = info->user_ptr[0];
	u64 seq = nla_get_u64(info->attrs[GEOREP_A_TRUNCATE_SEQ]);
	int ret;

	if (nla_get_flag(info->attrs[GEOREP_A_TRUNCATE_APPLIED]))
		ret = georep_log_truncate_applied(vol, seq, info->extack);
	else
		ret = georep_log_truncate(vol, seq, info->extack);
	if (!ret)
		ret = georep_nl_reply_status(info, vol, NULL);
	georep_nl_default_msg(info, ret);
	return ret;
}

static int georep_nl_log_reset_doit(struct sk_buff *skb,
				    struct genl_info *info)
{
	struct georep_volume *vol = info->user_ptr[0];
	struct georep_record *anchor;
	int ret;

	/* a copy: nla_data() need not be aligned for the header's fields */
	anchor = kmemdup(nla_data(info->attrs[GEOREP_A_RECORD]),
			 GEOREP_RECORD_HDR_SIZE, GFP_KERNEL);
	if (!anchor)
		return -ENOMEM;
	ret = georep_log_reset(vol, anchor, info->extack);
	kfree(anchor);
	if (!ret)
		ret = georep_nl_reply_status(info, vol, NULL);
	georep_nl_default_msg(info, ret);
	return ret;
}

/* the reply's WRITTEN_SEQ is the no-op's seq, even if writes followed */
static int georep_nl_log_noop_doit(struct sk_buff *skb, struct genl_info *info)
{
	struct georep_volume *vol = info->user_ptr[0];
	u64 seq = 0;
	int ret;

	ret = georep_log_noop(vol, &seq, info->extack);
	if (!ret)
		ret = georep_nl_reply_status_seq(info, vol, NULL, &seq);
	georep_nl_default_msg(info, ret);
	return ret;
}

#define GEOREP_NL_SERIAL_VOL	(GEOREP_NL_F_SERIAL | GEOREP_NL_F_VOL)

/* every op needs CAP_NET_ADMIN in the initial user namespace */
static const struct genl_ops georep_nl_ops[] = {
	{
		.cmd		= GEOREP_CMD_VOLUME_NEW,
		.flags		= GENL_ADMIN_PERM,
		.internal_flags	= GEOREP_NL_F_SERIAL,
		.doit		= georep_nl_volume_new_doit,
		.policy		= georep_nl_new_policy,
		.maxattr	= ARRAY_SIZE(georep_nl_new_policy) - 1,
	},
	{
		.cmd		= GEOREP_CMD_VOLUME_DEL,
		.flags		= GENL_ADMIN_PERM,
		.internal_flags	= GEOREP_NL_F_EXCL | GEOREP_NL_F_SERIAL,
		.doit		= georep_nl_volume_del_doit,
		.policy		= georep_nl_name_policy,
		.maxattr	= ARRAY_SIZE(georep_nl_name_policy) - 1,
	},
	{
		.cmd		= GEOREP_CMD_VOLUME_GET,
		.flags		= GENL_ADMIN_PERM,
		.internal_flags	= GEOREP_NL_F_VOL,
		.doit		= georep_nl_volume_get_doit,
		.start		= georep_nl_dump_start,
		.dumpit		= georep_nl_volume_get_dumpit,
		.policy		= georep_nl_name_policy,
		.maxattr	= ARRAY_SIZE(georep_nl_name_policy) - 1,
	},
	{
		.cmd		= GEOREP_CMD_VOLUME_SET,
		.flags		= GENL_ADMIN_PERM,
		.internal_flags	= GEOREP_NL_SERIAL_VOL,
		.doit		= georep_nl_volume_set_doit,
		.policy		= georep_nl_set_policy,
		.maxattr	= ARRAY_SIZE(georep_nl_set_policy) - 1,
	},
	{
		.cmd		= GEOREP_CMD_KEY_SET,
		.flags		= GENL_ADMIN_PERM,
		.internal_flags	= GEOREP_NL_SERIAL_VOL,
		.doit		= georep_nl_key_set_doit,
		.policy		= georep_nl_key_set_policy,
		.maxattr	= ARRAY_SIZE(georep_nl_key_set_policy) - 1,
	},
	{
		.cmd		= GEOREP_CMD_LOG_RELEASE,
		.flags		= GENL_ADMIN_PERM,
		.internal_flags	= GEOREP_NL_SERIAL_VOL,
		.doit		= georep_nl_log_release_doit,
		.policy		= georep_nl_release_policy,
		.maxattr	= ARRAY_SIZE(georep_nl_release_policy) - 1,
	},
	{
		.cmd		= GEOREP_CMD_LEDGER_VERIFY,
		.flags		= GENL_ADMIN_PERM,
		.internal_flags	= GEOREP_NL_F_PASS | GEOREP_NL_F_VOL,
		.doit		= georep_nl_ledger_verify_doit,
		.policy		= georep_nl_name_policy,
		.maxattr	= ARRAY_SIZE(georep_nl_name_policy) - 1,
	},
	{
		.cmd		= GEOREP_CMD_LOG_TRUNCATE,
		.flags		= GENL_ADMIN_PERM,
		.internal_flags	= GEOREP_NL_SERIAL_VOL,
		.doit		= georep_nl_log_truncate_doit,
		.policy		= georep_nl_truncate_policy,
		.maxattr	= ARRAY_SIZE(georep_nl_truncate_policy) - 1,
	},
	{
		.cmd		= GEOREP_CMD_LOG_RESET,
		.flags		= GENL_ADMIN_PERM,
		.internal_flags	= GEOREP_NL_SERIAL_VOL,
		.doit		= georep_nl_log_reset_doit,
		.policy		= georep_nl_reset_policy,
		.maxattr	= ARRAY_SIZE(georep_nl_reset_policy) - 1,
	},
	{
		.cmd		= GEOREP_CMD_LOG_NOOP,
		.flags		= GENL_ADMIN_PERM,
		.internal_flags	= GEOREP_NL_SERIAL_VOL,
		.doit		= georep_nl_log_noop_doit,
		.policy		= georep_nl_name_policy,
		.maxattr	= ARRAY_SIZE(georep_nl_name_policy) - 1,
	},
};

/* joining needs CAP_NET_ADMIN in the owner of the socket's namespace */
static const struct genl_multicast_group georep_nl_mcgrps[] = {
	[GEOREP_NL_MCGRP_EVENTS] = {
		.name	= GEOREP_MCGRP_EVENTS,
		.flags	= GENL_MCAST_CAP_NET_ADMIN,
	},
};

struct genl_family georep_nl_family __ro_after_init = {
	.name		= GEOREP_GENL_NAME,
	.version	= GEOREP_GENL_VERSION,
	.module		= THIS_MODULE,
	.ops		= georep_nl_ops,
	.n_ops		= ARRAY_SIZE(georep_nl_ops),
	.mcgrps		= georep_nl_mcgrps,
	.n_mcgrps	= ARRAY_SIZE(georep_nl_mcgrps),
	.resv_start_op	= 0,		/* strict for every command */
	.pre_doit	= georep_nl_pre_doit,
	.post_doit	= georep_nl_post_doit,
	/* visible everywhere, served by georep_nl_net_ok() */
	.netnsok	= true,
	.parallel_ops	= true,
};

int georep_netlink_init(void)
{
	int ret;

	ret = genl_register_family(&georep_nl_family);
	if (ret)
		return ret;
	georep_nl_events_start();
	return 0;
}

/*
 * Events stop first, and a send under way finishes before the family goes
 * (a notify work item of a volume may still run until georep_volumes_exit()
 * cancels it); genl_unregister_family() then waits for commands under way.
 */
void georep_netlink_exit(void)
{
	georep_nl_events_stop();
	genl_unregister_family(&georep_nl_family);
}
