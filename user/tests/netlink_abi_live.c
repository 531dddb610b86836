// SPDX-License-Identifier: GPL-2.0
/*
 * georep-nl-abi: live volumes on real devices: replies, dumps, events, limits.
 */
#include "netlink_abi.h"

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

bool del_volume(struct nl_sock *sk, const char *name, struct result *r)
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

/* a commit index past the log would let the next writes commit at once */
static void test_commit_past(struct nl_sock *sk, const char *name,
			     uint64_t written)
{
	struct nl_msg *msg = req(GEOREP_CMD_VOLUME_SET, 0);
	char want[128];
	struct result r;

	nla_put_string(msg, GEOREP_A_NAME, name);
	nla_put_u64(msg, GEOREP_A_COMMIT_SEQ, written + 1);
	xfer(sk, msg, &r);
	snprintf(want, sizeof(want),
		 "GEOREP_A_COMMIT_SEQ %llu is past the last record %llu",
		 (unsigned long long)written + 1, (unsigned long long)written);
	ktap(r.error == -EINVAL && !strcmp(r.msg, want),
	     "live: COMMIT_SEQ past the last record is EINVAL (errno %d \"%s\")",
	     -r.error, r.msg);
}

/* KEY_SET with KEYS @from..@to and, when not 0, SEAL_EPOCH @seal; then GET */
static void key_set_seal(struct nl_sock *sk, uint32_t from, uint32_t to,
			 uint32_t seal, struct result *r, struct result *get)
{
	struct nl_msg *msg = req(GEOREP_CMD_KEY_SET, 0);
	struct nlattr *keys;
	uint32_t e;

	nla_put_string(msg, GEOREP_A_NAME, "abi0");
	keys = nla_nest_start(msg, GEOREP_A_KEYS | NLA_F_NESTED);
	for (e = from; e <= to; e++)
		put_key(msg, e, GEOREP_KEY_LEN);
	nla_nest_end(msg, keys);
	if (seal)
		nla_put_u32(msg, GEOREP_A_SEAL_EPOCH, seal);
	xfer(sk, msg, r);
	msg = req(GEOREP_CMD_VOLUME_GET, 0);
	nla_put_string(msg, GEOREP_A_NAME, "abi0");
	xfer(sk, msg, get);
}

/*
 * SEAL_EPOCH: a key installed for verification only, the switch to it,
 * an epoch not installed refused; a full ring retires its lowest epoch
 * that no record is sealed with. Ends with 2..9 installed and epoch 2
 * sealing.
 */
static void test_seal_epoch(struct nl_sock *sk)
{
	struct result r, g;

	key_set_seal(sk, 3, 3, 2, &r, &g);
	ktap(!r.error && g.seal_epoch == 2,
	     "live: key-set epoch 3 with SEAL_EPOCH 2 keeps sealing with 2 (errno %d, got %u)",
	     -r.error, g.seal_epoch);
	key_set_seal(sk, 3, 3, 3, &r, &g);
	ktap(!r.error && g.seal_epoch == 3,
	     "live: SEAL_EPOCH 3 switches sealing to 3 (errno %d, got %u)",
	     -r.error, g.seal_epoch);
	key_set_seal(sk, 1, 1, 9, &r, &g);
	ktap(r.error == -ENOKEY && !strcmp(r.msg, "seal epoch 9 is not installed") &&
	     g.seal_epoch == 3,
	     "live: SEAL_EPOCH 9, not installed: ENOKEY, still 3 (errno %d \"%s\", got %u)",
	     -r.error, r.msg, g.seal_epoch);
	key_set_seal(sk, 1, 1, 0, &r, &g);
	ktap(!r.error && g.seal_epoch == 3,
	     "live: no SEAL_EPOCH: the highest, 3, seals (errno %d, got %u)",
	     -r.error, g.seal_epoch);
	key_set_seal(sk, 4, 8, 2, &r, &g);
	ktap(!r.error && g.seal_epoch == 2,
	     "live: epochs 4..8 installed, 2 sealing (errno %d \"%s\", got %u)",
	     -r.error, r.msg, g.seal_epoch);
	/* no record is sealed with epoch 1: the ninth epoch retires it */
	key_set_seal(sk, 9, 9, 2, &r, &g);
	ktap(!r.error && g.seal_epoch == 2 && g.nr_key_epochs == 8 &&
	     g.key_epochs[0] == 2 && g.key_epochs[7] == 9,
	     "live: a ninth epoch retires the lowest unused one: KEY_EPOCHS 2..9 (errno %d \"%s\", got %u, %d epochs from %u)",
	     -r.error, r.msg, g.seal_epoch, g.nr_key_epochs, g.key_epochs[0]);
	key_set_seal(sk, 2, 2, 1, &r, &g);
	ktap(r.error == -ENOKEY && !strcmp(r.msg, "seal epoch 1 is not installed") &&
	     g.seal_epoch == 2,
	     "live: epoch 1 is gone, 2 still seals (errno %d \"%s\", got %u)",
	     -r.error, r.msg, g.seal_epoch);
}

/* events on role change, and a term that goes back */
static void live_role_events(struct nl_sock *sk, uint32_t minor1)
{
	struct nl_sock *ev;
	struct nl_msg *msg;
	struct result r;
	bool ok;
	int grp;

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
}

static void live_delete_with_readers(struct nl_sock *sk, uint32_t minor0, char *path,
				     size_t pathlen, int fd)
{
	char rbuf[8192];
	struct result r;
	pid_t reader;
	int status;
	ssize_t n;
	bool ok;

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
	ktap(ok && !stream_node(minor0, path, pathlen),
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
}

/* after both deletes: the dump no longer lists them */
static void live_dump_gone(struct nl_sock *sk)
{
	bool seen0 = false, seen1 = false;
	struct nl_msg *msg;
	struct result r;
	int i;

	msg = req(GEOREP_CMD_VOLUME_GET, NLM_F_DUMP);
	xfer(sk, msg, &r);
	for (i = 0; i < r.nr_names; i++) {
		seen0 |= !strcmp(r.names[i], "abi0");
		seen1 |= !strcmp(r.names[i], "abi1");
	}
	ktap(!r.error && !seen0 && !seen1, "live: dump no longer lists them");
}

void test_live(struct nl_sock *sk, char **dev)
{
	uint32_t minor0 = 0, minor1 = 0;
	char path[64], bpath[64], spath[64];
	uint64_t written, tail;
	struct nl_msg *msg;
	struct result r;
	int fd, bfd, i;
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
	test_seal_epoch(sk);

	msg = req(GEOREP_CMD_LEDGER_VERIFY, 0);
	nla_put_string(msg, GEOREP_A_NAME, "abi0");
	xfer(sk, msg, &r);
	ktap(!r.error && r.replies == 1 && !r.has_bad_seq,
	     "live: ledger-verify of a fresh volume (errno %d \"%s\")",
	     -r.error, r.msg);

	live_role_events(sk, minor1);

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
	test_commit_past(sk, "abi0", written);

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

	live_delete_with_readers(sk, minor0, path, sizeof(path), fd);
	test_attach(sk, dev, written);
	if (minor1) {
		ok = del_volume(sk, "abi1", &r);
		if (!ok)
			diag("delete abi1: errno %d \"%s\"", -r.error, r.msg);
		ktap(ok, "live: delete abi1");
	}
	live_dump_gone(sk);
}
