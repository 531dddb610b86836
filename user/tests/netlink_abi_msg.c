// SPDX-License-Identifier: GPL-2.0
/*
 * georep-nl-abi: requests, replies, extended acks and KTAP output.
 */
#include "netlink_abi.h"

void ktap(bool ok, const char *fmt, ...)
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

void diag(const char *fmt, ...)
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


/* KEY_EPOCHS: u32 entries of type 1, at most GEOREP_MAX_KEYS */
static void parse_key_epochs(struct nlattr *nest, struct result *r)
{
	struct nlattr *a;
	int rem;

	r->nr_key_epochs = 0;
	nla_for_each_nested(a, nest, rem) {
		if (nla_type(a) != GEOREP_A_KEY || nla_len(a) != 4 ||
		    r->nr_key_epochs == GEOREP_MAX_KEYS) {
			r->nr_key_epochs = -1;
			return;
		}
		r->key_epochs[r->nr_key_epochs++] = nla_get_u32(a);
	}
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
	if (tb[GEOREP_A_KEY_EPOCHS])
		parse_key_epochs(tb[GEOREP_A_KEY_EPOCHS], r);
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

struct nl_sock *nl_open(void)
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

struct nl_msg *req(uint8_t cmd, int flags)
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
void xfer(struct nl_sock *sk, struct nl_msg *msg, struct result *r)
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

void put_key(struct nl_msg *msg, uint32_t epoch, int len)
{
	struct nlattr *key = nla_nest_start(msg, GEOREP_A_KEY | NLA_F_NESTED);
	uint8_t data[64];

	memset(data, 0x5a, sizeof(data));
	nla_put_u32(msg, GEOREP_KEY_A_EPOCH, epoch);
	nla_put(msg, GEOREP_KEY_A_DATA, len, data);
	nla_nest_end(msg, key);
}

void put_keys(struct nl_msg *msg, int nr)
{
	struct nlattr *keys = nla_nest_start(msg, GEOREP_A_KEYS | NLA_F_NESTED);
	int i;

	for (i = 1; i <= nr; i++)
		put_key(msg, i, GEOREP_KEY_LEN);
	nla_nest_end(msg, keys);
}


struct nl_msg *new_req(const char *name, int omit)
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
void expect(struct nl_sock *sk, struct nl_msg *msg, int err,
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
