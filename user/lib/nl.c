// SPDX-License-Identifier: GPL-2.0
/*
 * libnl-genl client for the "georep" generic netlink family.
 *
 * Every request goes through do_request(): one message out, callbacks for
 * replies (NL_CB_VALID), the final ack or error, and NLMSG_DONE of dumps.
 * The error callback reads the extended ack (NETLINK_EXT_ACK, enabled at
 * open) so the kernel's message reaches the user.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/netlink.h>
#include <sys/socket.h>

#include <netlink/netlink.h>
#include <netlink/attr.h>
#include <netlink/msg.h>
#include <netlink/genl/genl.h>
#include <netlink/genl/ctrl.h>

#include <openssl/crypto.h>

#include "georep/nl.h"

#ifndef SOL_NETLINK
#define SOL_NETLINK 270
#endif

struct georep_nl {
	struct nl_sock *sk;		/* requests */
	struct nl_sock *ev_sk;		/* events, once subscribed */
	int family;
	char err[512];
};

/* state of one request while its answers come in */
struct req_state {
	struct georep_nl *nl;
	bool done;
	bool dump_intr;
	int error;			/* kernel errno, negative */
	int (*parse)(struct nlattr **tb, void *arg);
	void *arg;
	int parse_err;
};

static struct nla_policy vol_policy[GEOREP_A_MAX + 1] = {
	[GEOREP_A_NAME]			= { .type = NLA_STRING, .maxlen = GEOREP_NAME_MAX },
	[GEOREP_A_UUID]			= { .minlen = GEOREP_UUID_LEN, .maxlen = GEOREP_UUID_LEN },
	[GEOREP_A_SITE_ID]		= { .type = NLA_U32 },
	[GEOREP_A_ROLE]			= { .type = NLA_U8 },
	[GEOREP_A_TERM]			= { .type = NLA_U64 },
	[GEOREP_A_COMMIT_RULE]		= { .type = NLA_U8 },
	[GEOREP_A_COMMIT_SEQ]		= { .type = NLA_U64 },
	[GEOREP_A_LOG_HIGH_WM]		= { .type = NLA_U8 },
	[GEOREP_A_LOG_LOW_WM]		= { .type = NLA_U8 },
	[GEOREP_A_MAX_UNCOMMITTED]	= { .type = NLA_U64 },
	[GEOREP_A_MINOR]		= { .type = NLA_U32 },
	[GEOREP_A_DATA_BYTES]		= { .type = NLA_U64 },
	[GEOREP_A_WRITTEN_SEQ]		= { .type = NLA_U64 },
	[GEOREP_A_APPLIED_SEQ]		= { .type = NLA_U64 },
	[GEOREP_A_TAIL_SEQ]		= { .type = NLA_U64 },
	[GEOREP_A_LOG_USED]		= { .type = NLA_U64 },
	[GEOREP_A_LOG_SIZE]		= { .type = NLA_U64 },
	[GEOREP_A_UNCOMMITTED_BYTES]	= { .type = NLA_U64 },
	[GEOREP_A_THROTTLED]		= { .type = NLA_U8 },
	[GEOREP_A_SEAL_EPOCH]		= { .type = NLA_U32 },
	[GEOREP_A_OPEN_COUNT]		= { .type = NLA_U32 },
	[GEOREP_A_EVENT]		= { .type = NLA_U8 },
	[GEOREP_A_ERROR]		= { .type = NLA_S32 },
	[GEOREP_A_BAD_SEQ]		= { .type = NLA_U64 },
	[GEOREP_A_CHAIN_HASH]		= { .minlen = GEOREP_HASH_LEN, .maxlen = GEOREP_HASH_LEN },
	[GEOREP_A_IO_STATE]		= { .type = NLA_U8 },
	[GEOREP_A_DIVERGED]		= { .type = NLA_U8 },
	[GEOREP_A_STANDALONE]		= { .type = NLA_U8 },
	[GEOREP_A_KEY_EPOCHS]		= { .type = NLA_NESTED },
};

static void set_err(struct georep_nl *nl, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(nl->err, sizeof(nl->err), fmt, ap);
	va_end(ap);
}

bool georep_name_valid(const char *name)
{
	size_t i;

	if (!name || !name[0] || !strcmp(name, ".") || !strcmp(name, ".."))
		return false;
	for (i = 0; name[i]; i++) {
		char c = name[i];

		if (i >= GEOREP_NAME_MAX - 1)
			return false;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-'))
			return false;
	}
	return true;
}

/* libnl error codes are not errnos; keep the few that matter */
static int nlerr_to_errno(int nlerr)
{
	switch (-nlerr) {
	case NLE_NOMEM:
		return -ENOMEM;
	case NLE_PERM:
		return -EPERM;
	case NLE_OBJ_NOTFOUND:
		return -ENOENT;
	case NLE_DUMP_INTR:
		return -EINTR;
	case NLE_MSGSIZE:
		return -EMSGSIZE;
	default:
		return -EIO;
	}
}

int georep_nl_open(struct georep_nl **nlp, char *err, size_t errlen)
{
	struct georep_nl *nl;
	int one = 1, ret;

	nl = calloc(1, sizeof(*nl));
	if (!nl) {
		snprintf(err, errlen, "%s", strerror(ENOMEM));
		return -ENOMEM;
	}
	nl->sk = nl_socket_alloc();
	if (!nl->sk) {
		ret = -ENOMEM;
		snprintf(err, errlen, "cannot allocate a netlink socket");
		goto out_free;
	}
	ret = genl_connect(nl->sk);
	if (ret < 0) {
		snprintf(err, errlen, "cannot open a generic netlink socket: %s",
			 nl_geterror(ret));
		ret = nlerr_to_errno(ret);
		goto out_free_sock;
	}
	/* best effort: kernels without extack still answer with errnos */
	setsockopt(nl_socket_get_fd(nl->sk), SOL_NETLINK, NETLINK_EXT_ACK,
		   &one, sizeof(one));
	setsockopt(nl_socket_get_fd(nl->sk), SOL_NETLINK, NETLINK_CAP_ACK,
		   &one, sizeof(one));
	ret = genl_ctrl_resolve(nl->sk, GEOREP_GENL_NAME);
	if (ret < 0) {
		snprintf(err, errlen,
			 "generic netlink family \"%s\" not found (is georep.ko loaded?): %s",
			 GEOREP_GENL_NAME, nl_geterror(ret));
		ret = -ENOENT;
		goto out_free_sock;
	}
	nl->family = ret;
	*nlp = nl;
	return 0;

out_free_sock:
	nl_socket_free(nl->sk);
out_free:
	free(nl);
	return ret;
}

void georep_nl_close(struct georep_nl *nl)
{
	if (!nl)
		return;
	if (nl->ev_sk)
		nl_socket_free(nl->ev_sk);
	nl_socket_free(nl->sk);
	free(nl);
}

const char *georep_nl_error(const struct georep_nl *nl)
{
	return nl->err;
}

int georep_nl_family(const struct georep_nl *nl)
{
	return nl->family;
}

/* extended ack: the TLVs that follow the (capped) original message */
static const char *extack_msg(struct nlmsgerr *e)
{
	struct nlmsghdr *nlh = (struct nlmsghdr *)((char *)e - NLMSG_HDRLEN);
	struct nlattr *tb[NLMSGERR_ATTR_MAX + 1];
	struct nlattr *attrs;
	size_t off;
	int len;

	if (!(nlh->nlmsg_flags & NLM_F_ACK_TLVS))
		return NULL;
	off = sizeof(*e);
	if (!(nlh->nlmsg_flags & NLM_F_CAPPED))
		off += e->msg.nlmsg_len - NLMSG_HDRLEN;
	len = (int)(nlh->nlmsg_len - NLMSG_HDRLEN) - (int)off;
	if (len <= 0)
		return NULL;
	attrs = (struct nlattr *)((char *)e + off);
	if (nla_parse(tb, NLMSGERR_ATTR_MAX, attrs, len, NULL) < 0)
		return NULL;
	if (!tb[NLMSGERR_ATTR_MSG] || nla_len(tb[NLMSGERR_ATTR_MSG]) < 1)
		return NULL;
	return nla_get_string(tb[NLMSGERR_ATTR_MSG]);
}

static int error_cb(struct sockaddr_nl *who, struct nlmsgerr *e, void *arg)
{
	struct req_state *st = arg;
	const char *msg = extack_msg(e);

	st->error = e->error < 0 ? e->error : -EIO;
	if (msg && msg[0])
		set_err(st->nl, "%s: %s", strerror(-st->error), msg);
	else
		set_err(st->nl, "%s", strerror(-st->error));
	st->done = true;
	return NL_STOP;
}

static int ack_cb(struct nl_msg *msg, void *arg)
{
	struct req_state *st = arg;

	st->done = true;
	return NL_STOP;
}

static int dump_intr_cb(struct nl_msg *msg, void *arg)
{
	struct req_state *st = arg;

	st->dump_intr = true;
	return NL_OK;
}

static int valid_cb(struct nl_msg *msg, void *arg)
{
	struct req_state *st = arg;
	struct nlattr *tb[GEOREP_A_MAX + 1];
	int ret;

	if (!st->parse || st->parse_err)
		return NL_OK;
	ret = genlmsg_parse(nlmsg_hdr(msg), 0, tb, GEOREP_A_MAX, vol_policy);
	if (ret < 0) {
		set_err(st->nl, "malformed reply from the kernel: %s",
			nl_geterror(ret));
		st->parse_err = -EPROTO;
		return NL_OK;
	}
	ret = st->parse(tb, st->arg);
	if (ret) {
		if (!st->nl->err[0])
			set_err(st->nl, "cannot parse reply: %s", strerror(-ret));
		st->parse_err = ret;
	}
	return NL_OK;
}

/* wipe what the message carried (keys) before it is freed */
static void msg_free_clean(struct nl_msg *msg)
{
	struct nlmsghdr *nlh = nlmsg_hdr(msg);

	OPENSSL_cleanse(nlh, nlh->nlmsg_len);
	nlmsg_free(msg);
}

/* send @msg (consumed) and collect the answers; dumps end at NLMSG_DONE */
static int do_request(struct georep_nl *nl, struct nl_msg *msg,
		      int (*parse)(struct nlattr **, void *), void *arg,
		      bool *dump_intr)
{
	struct req_state st = { .nl = nl, .parse = parse, .arg = arg };
	struct nl_cb *cb;
	int ret;

	nl->err[0] = '\0';
	cb = nl_cb_alloc(NL_CB_DEFAULT);
	if (!cb) {
		msg_free_clean(msg);
		set_err(nl, "%s", strerror(ENOMEM));
		return -ENOMEM;
	}
	nl_cb_set(cb, NL_CB_VALID, NL_CB_CUSTOM, valid_cb, &st);
	nl_cb_set(cb, NL_CB_ACK, NL_CB_CUSTOM, ack_cb, &st);
	nl_cb_set(cb, NL_CB_FINISH, NL_CB_CUSTOM, ack_cb, &st);
	nl_cb_set(cb, NL_CB_DUMP_INTR, NL_CB_CUSTOM, dump_intr_cb, &st);
	nl_cb_err(cb, NL_CB_CUSTOM, error_cb, &st);

	ret = nl_send_auto(nl->sk, msg);
	msg_free_clean(msg);
	if (ret < 0) {
		set_err(nl, "cannot send netlink request: %s", nl_geterror(ret));
		ret = nlerr_to_errno(ret);
		goto out_put_cb;
	}
	while (!st.done) {
		ret = nl_recvmsgs(nl->sk, cb);
		if (ret < 0 && !st.done) {
			set_err(nl, "netlink receive failed: %s", nl_geterror(ret));
			ret = nlerr_to_errno(ret);
			goto out_put_cb;
		}
	}
	ret = st.error ? st.error : st.parse_err;
	if (dump_intr)
		*dump_intr = st.dump_intr;
out_put_cb:
	nl_cb_put(cb);
	return ret;
}

static struct nl_msg *new_msg(struct georep_nl *nl, uint8_t cmd, int flags,
			      const char *name)
{
	struct nl_msg *msg = nlmsg_alloc();

	if (!msg)
		return NULL;
	if (!genlmsg_put(msg, NL_AUTO_PORT, NL_AUTO_SEQ, nl->family, 0, flags,
			 cmd, GEOREP_GENL_VERSION))
		goto nla_put_failure;
	if (name)
		NLA_PUT_STRING(msg, GEOREP_A_NAME, name);
	return msg;

nla_put_failure:
	nlmsg_free(msg);
	return NULL;
}

static int no_msg(struct georep_nl *nl)
{
	set_err(nl, "cannot build netlink request: %s", strerror(ENOMEM));
	return -ENOMEM;
}

static int check_name(struct georep_nl *nl, const char *name)
{
	if (georep_name_valid(name))
		return 0;
	set_err(nl, "invalid volume name \"%s\"", name ? name : "");
	return -EINVAL;
}

/* GEOREP_A_KEY_EPOCHS: at most GEOREP_MAX_KEYS u32 entries of type 1 */
static int parse_key_epochs(struct nlattr *nest, struct georep_vol_status *st)
{
	struct nlattr *a;
	int rem;

	nla_for_each_nested(a, nest, rem) {
		if (nla_type(a) != GEOREP_A_KEY || nla_len(a) != sizeof(uint32_t) ||
		    st->nr_key_epochs == GEOREP_MAX_KEYS)
			return -EPROTO;
		st->key_epochs[st->nr_key_epochs++] = nla_get_u32(a);
	}
	return 0;
}

static int parse_status(struct nlattr **tb, void *arg)
{
	struct georep_vol_status *st = arg;
	int i;

	memset(st, 0, sizeof(*st));
	for (i = 1; i <= GEOREP_A_MAX && i < 64; i++)
		if (tb[i])
			st->present |= 1ULL << i;
	if (tb[GEOREP_A_NAME])
		snprintf(st->name, sizeof(st->name), "%s",
			 nla_get_string(tb[GEOREP_A_NAME]));
	if (tb[GEOREP_A_UUID]) {
		st->has_uuid = true;
		memcpy(st->uuid, nla_data(tb[GEOREP_A_UUID]), GEOREP_UUID_LEN);
	}
#define GET(attr, field, type) \
	do { if (tb[attr]) st->field = nla_get_##type(tb[attr]); } while (0)
	GET(GEOREP_A_MINOR, minor, u32);
	GET(GEOREP_A_SITE_ID, site_id, u32);
	GET(GEOREP_A_ROLE, role, u8);
	GET(GEOREP_A_TERM, term, u64);
	GET(GEOREP_A_COMMIT_RULE, commit_rule, u8);
	GET(GEOREP_A_COMMIT_SEQ, commit_seq, u64);
	GET(GEOREP_A_LOG_HIGH_WM, high_wm, u8);
	GET(GEOREP_A_LOG_LOW_WM, low_wm, u8);
	GET(GEOREP_A_MAX_UNCOMMITTED, max_uncommitted, u64);
	GET(GEOREP_A_DATA_BYTES, data_bytes, u64);
	GET(GEOREP_A_WRITTEN_SEQ, written_seq, u64);
	GET(GEOREP_A_APPLIED_SEQ, applied_seq, u64);
	GET(GEOREP_A_TAIL_SEQ, tail_seq, u64);
	GET(GEOREP_A_LOG_USED, log_used, u64);
	GET(GEOREP_A_LOG_SIZE, log_size, u64);
	GET(GEOREP_A_UNCOMMITTED_BYTES, uncommitted_bytes, u64);
	GET(GEOREP_A_THROTTLED, throttled, u8);
	GET(GEOREP_A_SEAL_EPOCH, seal_epoch, u32);
	GET(GEOREP_A_OPEN_COUNT, open_count, u32);
	GET(GEOREP_A_IO_STATE, io_state, u8);
	GET(GEOREP_A_DIVERGED, diverged, u8);
	GET(GEOREP_A_STANDALONE, standalone, u8);
	GET(GEOREP_A_EVENT, event, u8);
	GET(GEOREP_A_ERROR, error, s32);
	GET(GEOREP_A_BAD_SEQ, bad_seq, u64);
#undef GET
	st->has_limits = tb[GEOREP_A_LOG_HIGH_WM] || tb[GEOREP_A_LOG_LOW_WM];
	st->has_bad_seq = !!tb[GEOREP_A_BAD_SEQ];
	if (tb[GEOREP_A_CHAIN_HASH]) {
		st->has_chain_hash = true;
		memcpy(st->chain_hash, nla_data(tb[GEOREP_A_CHAIN_HASH]),
		       GEOREP_HASH_LEN);
	}
	return tb[GEOREP_A_KEY_EPOCHS] ? parse_key_epochs(tb[GEOREP_A_KEY_EPOCHS], st) : 0;
}

static int put_keys(struct nl_msg *msg, const struct georep_keyset *ks)
{
	struct nlattr *keys, *key;
	unsigned int i;

	keys = nla_nest_start(msg, GEOREP_A_KEYS);
	if (!keys)
		return -EMSGSIZE;
	for (i = 0; i < ks->nr; i++) {
		key = nla_nest_start(msg, GEOREP_A_KEY);
		if (!key)
			return -EMSGSIZE;
		NLA_PUT_U32(msg, GEOREP_KEY_A_EPOCH, ks->keys[i].epoch);
		NLA_PUT(msg, GEOREP_KEY_A_DATA, GEOREP_KEY_LEN, ks->keys[i].data);
		nla_nest_end(msg, key);
	}
	nla_nest_end(msg, keys);
	return 0;

nla_put_failure:
	return -EMSGSIZE;
}

int georep_nl_volume_new(struct georep_nl *nl, const struct georep_vol_new *r,
			 struct georep_vol_status *reply)
{
	struct nl_msg *msg;
	int ret;

	ret = check_name(nl, r->name);
	if (ret)
		return ret;
	if (!r->data_path || !r->log_path || !r->keys || !r->keys->nr) {
		set_err(nl, "VOLUME_NEW needs a data path, a log path and keys");
		return -EINVAL;
	}
	msg = new_msg(nl, GEOREP_CMD_VOLUME_NEW, NLM_F_ACK, r->name);
	if (!msg)
		return no_msg(nl);
	NLA_PUT_STRING(msg, GEOREP_A_DATA_PATH, r->data_path);
	NLA_PUT_STRING(msg, GEOREP_A_LOG_PATH, r->log_path);
	if (r->format)
		NLA_PUT_FLAG(msg, GEOREP_A_FORMAT);
	if (r->standalone)
		NLA_PUT_U8(msg, GEOREP_A_STANDALONE, 1);
	if (r->has_uuid)
		NLA_PUT(msg, GEOREP_A_UUID, GEOREP_UUID_LEN, r->uuid);
	if (r->has_site_id)
		NLA_PUT_U32(msg, GEOREP_A_SITE_ID, r->site_id);
	if (r->has_role)
		NLA_PUT_U8(msg, GEOREP_A_ROLE, r->role);
	if (r->has_term)
		NLA_PUT_U64(msg, GEOREP_A_TERM, r->term);
	if (r->has_commit_rule)
		NLA_PUT_U8(msg, GEOREP_A_COMMIT_RULE, r->commit_rule);
	if (r->has_high_wm)
		NLA_PUT_U8(msg, GEOREP_A_LOG_HIGH_WM, r->high_wm);
	if (r->has_low_wm)
		NLA_PUT_U8(msg, GEOREP_A_LOG_LOW_WM, r->low_wm);
	if (r->has_max_uncommitted)
		NLA_PUT_U64(msg, GEOREP_A_MAX_UNCOMMITTED, r->max_uncommitted);
	if (put_keys(msg, r->keys))
		goto nla_put_failure;
	return do_request(nl, msg, parse_status, reply, NULL);

nla_put_failure:
	msg_free_clean(msg);
	return no_msg(nl);
}

/* check @name, then start an acked @cmd request on it in *msg; 0 or -errno */
static int name_msg(struct georep_nl *nl, uint8_t cmd, const char *name,
		    struct nl_msg **msg)
{
	int ret;

	ret = check_name(nl, name);
	if (ret)
		return ret;
	*msg = new_msg(nl, cmd, NLM_F_ACK, name);
	if (!*msg)
		return no_msg(nl);
	return 0;
}

/* @cmd on volume @name alone; a status reply is parsed into *st when @st */
static int name_request(struct georep_nl *nl, uint8_t cmd, const char *name,
			struct georep_vol_status *st)
{
	struct nl_msg *msg;
	int ret;

	ret = name_msg(nl, cmd, name, &msg);
	if (ret)
		return ret;
	if (!st)
		return do_request(nl, msg, NULL, NULL, NULL);
	memset(st, 0, sizeof(*st));
	return do_request(nl, msg, parse_status, st, NULL);
}

static bool has_epoch(const uint32_t *epochs, unsigned int nr, uint32_t epoch)
{
	unsigned int i;

	for (i = 0; i < nr; i++)
		if (epochs[i] == epoch)
			return true;
	return false;
}

/* @ks: the epochs of @need, then the newest others of @all, at most MAX */
static void attach_keys(const struct georep_keyset *all, const uint32_t *need,
			unsigned int nneed, struct georep_keyset *ks)
{
	unsigned int i;

	ks->nr = 0;
	for (i = 0; i < nneed; i++)
		ks->keys[ks->nr++] = *georep_keyset_find(all, need[i]);
	for (i = all->nr; i-- > 0 && ks->nr < GEOREP_MAX_KEYS;)
		if (!has_epoch(need, nneed, all->keys[i].epoch))
			ks->keys[ks->nr++] = all->keys[i];
}

int georep_nl_volume_attach(struct georep_nl *nl, struct georep_vol_new *req,
			    const struct georep_keyset *all, struct georep_vol_status *reply)
{
	uint32_t need[GEOREP_MAX_KEYS - 1];
	struct georep_keyset ks;
	unsigned int nneed = 0;
	int ret;

	for (;;) {
		attach_keys(all, need, nneed, &ks);
		req->keys = &ks;
		memset(reply, 0, sizeof(*reply));
		ret = georep_nl_volume_new(nl, req, reply);
		if (ret != -ENOKEY || !reply->has_bad_seq || !reply->seal_epoch ||
		    nneed == GEOREP_MAX_KEYS - 1 || !georep_keyset_find(all, reply->seal_epoch) ||
		    has_epoch(need, nneed, reply->seal_epoch))
			break;
		need[nneed++] = reply->seal_epoch;
	}
	georep_keyset_clear(&ks);
	req->keys = NULL;
	return ret;
}

int georep_nl_volume_del(struct georep_nl *nl, const char *name)
{
	return name_request(nl, GEOREP_CMD_VOLUME_DEL, name, NULL);
}

int georep_nl_volume_get(struct georep_nl *nl, const char *name,
			 struct georep_vol_status *st)
{
	return name_request(nl, GEOREP_CMD_VOLUME_GET, name, st);
}

struct vol_list {
	struct georep_vol_status *v;
	size_t nr, cap;
};

static int parse_list_entry(struct nlattr **tb, void *arg)
{
	struct vol_list *l = arg;

	if (l->nr == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 8;
		void *v = realloc(l->v, cap * sizeof(*l->v));

		if (!v)
			return -ENOMEM;
		l->v = v;
		l->cap = cap;
	}
	return parse_status(tb, &l->v[l->nr++]);
}

static int cmp_minor(const void *a, const void *b)
{
	const struct georep_vol_status *x = a, *y = b;

	return x->minor < y->minor ? -1 : x->minor > y->minor;
}

int georep_nl_volume_list(struct georep_nl *nl, struct georep_vol_status **vols,
			  size_t *nr)
{
	struct vol_list l = { 0 };
	struct nl_msg *msg;
	int tries, ret = -EINTR;
	bool intr = true;

	/* a dump interrupted by a concurrent change is simply redone */
	for (tries = 0; tries < 5 && intr; tries++) {
		l.nr = 0;
		msg = new_msg(nl, GEOREP_CMD_VOLUME_GET, NLM_F_DUMP, NULL);
		if (!msg) {
			free(l.v);
			return no_msg(nl);
		}
		ret = do_request(nl, msg, parse_list_entry, &l, &intr);
		if (ret) {
			free(l.v);
			return ret;
		}
	}
	if (intr) {
		free(l.v);
		set_err(nl, "volume dump kept being interrupted by changes");
		return -EINTR;
	}
	if (l.nr > 1)
		qsort(l.v, l.nr, sizeof(*l.v), cmp_minor);
	*vols = l.v;
	*nr = l.nr;
	return 0;
}

int georep_nl_volume_set(struct georep_nl *nl, const struct georep_vol_set *r)
{
	struct nl_msg *msg;
	int ret;

	ret = name_msg(nl, GEOREP_CMD_VOLUME_SET, r->name, &msg);
	if (ret)
		return ret;
	if (r->has_role) {
		NLA_PUT_U8(msg, GEOREP_A_ROLE, r->role);
		NLA_PUT_U64(msg, GEOREP_A_TERM, r->term);
	}
	if (r->has_commit_seq)
		NLA_PUT_U64(msg, GEOREP_A_COMMIT_SEQ, r->commit_seq);
	if (r->has_commit_rule)
		NLA_PUT_U8(msg, GEOREP_A_COMMIT_RULE, r->commit_rule);
	if (r->has_wm) {
		NLA_PUT_U8(msg, GEOREP_A_LOG_HIGH_WM, r->high_wm);
		NLA_PUT_U8(msg, GEOREP_A_LOG_LOW_WM, r->low_wm);
	}
	if (r->has_max_uncommitted)
		NLA_PUT_U64(msg, GEOREP_A_MAX_UNCOMMITTED, r->max_uncommitted);
	if (r->has_io_state)
		NLA_PUT_U8(msg, GEOREP_A_IO_STATE, r->io_state);
	if (r->clear_diverged)
		NLA_PUT_U8(msg, GEOREP_A_DIVERGED, 0);
	return do_request(nl, msg, NULL, NULL, NULL);

nla_put_failure:
	msg_free_clean(msg);
	return no_msg(nl);
}

int georep_nl_key_set(struct georep_nl *nl, const char *name,
		      const struct georep_keyset *keys)
{
	return georep_nl_key_set_seal(nl, name, keys, 0);
}

int georep_nl_key_set_seal(struct georep_nl *nl, const char *name,
			   const struct georep_keyset *keys, uint32_t seal)
{
	struct nl_msg *msg;
	int ret;

	ret = check_name(nl, name);
	if (ret)
		return ret;
	if (!keys->nr || keys->nr > GEOREP_MAX_KEYS) {
		set_err(nl, "KEY_SET needs 1 to %d keys, not %u", GEOREP_MAX_KEYS,
			keys->nr);
		return -EINVAL;
	}
	msg = new_msg(nl, GEOREP_CMD_KEY_SET, NLM_F_ACK, name);
	if (!msg)
		return no_msg(nl);
	if (put_keys(msg, keys) || (seal && nla_put_u32(msg, GEOREP_A_SEAL_EPOCH, seal))) {
		msg_free_clean(msg);
		return no_msg(nl);
	}
	return do_request(nl, msg, NULL, NULL, NULL);
}

int georep_nl_log_release(struct georep_nl *nl, const char *name, uint64_t seq)
{
	struct nl_msg *msg;
	int ret;

	ret = name_msg(nl, GEOREP_CMD_LOG_RELEASE, name, &msg);
	if (ret)
		return ret;
	NLA_PUT_U64(msg, GEOREP_A_RELEASE_SEQ, seq);
	return do_request(nl, msg, NULL, NULL, NULL);

nla_put_failure:
	nlmsg_free(msg);
	return no_msg(nl);
}

/*
 * The kernel sends BAD_SEQ in a reply before the EBADMSG error; should a
 * kernel only send the error, take the seq from its message
 * ("record N ..." or "... seq N ...").
 */
static void bad_seq_from_msg(const char *msg, struct georep_vol_status *st)
{
	const char *p = strstr(msg, "record ");
	char *end;
	unsigned long long v;

	if (p)
		p += 7;
	else if ((p = strstr(msg, "seq ")))
		p += 4;
	else
		return;
	if (*p < '0' || *p > '9')
		return;
	errno = 0;
	v = strtoull(p, &end, 10);
	if (errno || end == p)
		return;
	st->has_bad_seq = true;
	st->bad_seq = v;
}

int georep_nl_ledger_verify(struct georep_nl *nl, const char *name,
			    struct georep_vol_status *st)
{
	int ret;

	ret = name_request(nl, GEOREP_CMD_LEDGER_VERIFY, name, st);
	if (ret == -EBADMSG && !st->has_bad_seq)
		bad_seq_from_msg(nl->err, st);
	return ret;
}

static int event_cb(struct nl_msg *msg, void *arg)
{
	struct nlattr *tb[GEOREP_A_MAX + 1];
	struct georep_vol_status *ev = arg;

	if (genlmsg_parse(nlmsg_hdr(msg), 0, tb, GEOREP_A_MAX, vol_policy) < 0)
		return NL_SKIP;
	parse_status(tb, ev);
	ev->present |= 1ULL << 63;	/* marks "one event received" */
	return NL_STOP;
}

int georep_nl_subscribe(struct georep_nl *nl)
{
	int grp, ret;

	if (nl->ev_sk)
		return 0;
	nl->ev_sk = nl_socket_alloc();
	if (!nl->ev_sk) {
		set_err(nl, "cannot allocate a netlink socket");
		return -ENOMEM;
	}
	nl_socket_disable_seq_check(nl->ev_sk);
	ret = genl_connect(nl->ev_sk);
	if (ret < 0)
		goto out_free_sock;
	grp = genl_ctrl_resolve_grp(nl->ev_sk, GEOREP_GENL_NAME,
				    GEOREP_MCGRP_EVENTS);
	if (grp < 0) {
		ret = grp;
		goto out_free_sock;
	}
	ret = nl_socket_add_membership(nl->ev_sk, grp);
	if (ret < 0)
		goto out_free_sock;
	return 0;

out_free_sock:
	set_err(nl, "cannot join the \"%s\" group: %s", GEOREP_MCGRP_EVENTS,
		nl_geterror(ret));
	nl_socket_free(nl->ev_sk);
	nl->ev_sk = NULL;
	return nlerr_to_errno(ret);
}

int georep_nl_event_fd(const struct georep_nl *nl)
{
	return nl->ev_sk ? nl_socket_get_fd(nl->ev_sk) : -1;
}

int georep_nl_recv_event(struct georep_nl *nl, struct georep_vol_status *ev)
{
	struct nl_cb *cb;
	int ret;

	if (!nl->ev_sk) {
		set_err(nl, "not subscribed to events");
		return -EINVAL;
	}
	cb = nl_cb_alloc(NL_CB_DEFAULT);
	if (!cb)
		return -ENOMEM;
	nl_cb_set(cb, NL_CB_VALID, NL_CB_CUSTOM, event_cb, ev);
	memset(ev, 0, sizeof(*ev));
	do {
		ret = nl_recvmsgs(nl->ev_sk, cb);
	} while (ret >= 0 && !(ev->present & (1ULL << 63)));
	nl_cb_put(cb);
	if (ret < 0 && !(ev->present & (1ULL << 63))) {
		set_err(nl, "cannot receive events: %s", nl_geterror(ret));
		return ret == -NLE_AGAIN ? -EAGAIN : nlerr_to_errno(ret);
	}
	ev->present &= ~(1ULL << 63);
	return 0;
}

const char *georep_role_name(unsigned int role)
{
	switch (role) {
	case GEOREP_ROLE_PRIMARY:
		return "primary";
	case GEOREP_ROLE_SECONDARY:
		return "secondary";
	}
	return "unknown";
}

const char *georep_io_state_name(unsigned int state)
{
	switch (state) {
	case GEOREP_IO_RUN:
		return "run";
	case GEOREP_IO_SUSPEND:
		return "suspend";
	case GEOREP_IO_FAIL:
		return "fail";
	}
	return "unknown";
}

const char *georep_commit_rule_name(unsigned int rule)
{
	switch (rule) {
	case GEOREP_COMMIT_LOCAL:
		return "local";
	case GEOREP_COMMIT_QUORUM:
		return "quorum";
	}
	return "unknown";
}
