// SPDX-License-Identifier: GPL-2.0
/*
 * georep-nl-priv: who may use the "georep" generic netlink family
 * (Documentation/netlink.rst, "Privileges"), and what a caller that may
 * not costs the ones that may. Run as root in the VM by
 * selftests/kmod/53-netlink-priv.sh.
 *
 *   georep-nl-priv [--as WHO] probe VOLUME
 *	every command (with the attributes it needs, so that only the
 *	privilege check can stop it), the dump, and joining "events" then
 *	listening while root (this process, before it dropped) makes ROLE
 *	events on VOLUME: KTAP, one line per check.
 *   georep-nl-priv foreign-netns VOLUME
 *	root (CAP_NET_ADMIN in the initial user namespace) moves into a
 *	network namespace owned by another user namespace: VOLUME_GET and the
 *	dump are EPERM with the extack message of georep_nl_pre_doit(). KTAP.
 *   georep-nl-priv [--as WHO] hammer VOLUME SECONDS
 *	LEDGER_VERIFY in a loop for SECONDS or until SIGTERM (after the call
 *	under way); prints "started" before the first call, then "verify ok
 *	N refused N other N longest_ms N"; SECONDS 0: one call.
 *   georep-nl-priv latency VOLUME COUNT
 *	COUNT VOLUME_SET COMMIT_SEQ (the current WRITTEN_SEQ) 20 ms apart,
 *	each followed by a lookup of the "nlctrl" family (the genetlink
 *	controller, which runs under the genetlink mutex: what every other
 *	family's users wait for); prints "set max_ms N p50_ms N" and
 *	"ctrl max_ms N p50_ms N".
 *   georep-nl-priv quorum VOLUME DEVICE COUNT
 *	COUNT 4 KiB O_DIRECT writes to DEVICE (VOLUME's block device, commit
 *	rule quorum) while a thread plays the daemon: it polls VOLUME_GET and
 *	sets COMMIT_SEQ to WRITTEN_SEQ; prints "quorum max_ms N p50_ms N".
 *
 * WHO: root (default), nobody (uid/gid 65534 in the initial namespaces),
 * userns (nobody, then a new user and network namespace where it is root,
 * as `unshare -Urn` does), rootns (root, then the same). Exit status: 0
 * pass, 1 failure, 2 usage, 4 skip.
 */
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <time.h>

#include "netlink_abi.h"

int family;
int test_nr;
int failures;

enum who { WHO_ROOT, WHO_NOBODY, WHO_USERNS, WHO_ROOTNS };

static const char *const who_names[] = { "root", "nobody", "userns", "rootns" };

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = write(fd, text, strlen(text));
	close(fd);
	return n == (ssize_t)strlen(text) ? 0 : -1;
}

/* become @who; 0 or -1 (errno set) */
static int become(enum who who)
{
	uid_t uid = who == WHO_ROOTNS ? 0 : NOBODY_ID;
	char map[64];

	if (who == WHO_ROOT)
		return 0;
	if (who != WHO_ROOTNS &&
	    (setgroups(0, NULL) || setresgid(NOBODY_ID, NOBODY_ID, NOBODY_ID) ||
	     setresuid(NOBODY_ID, NOBODY_ID, NOBODY_ID)))
		return -1;
	if (who == WHO_NOBODY)
		return 0;
	/* the uid change made it undumpable: /proc/self/ would be root's */
	prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
	if (unshare(CLONE_NEWUSER | CLONE_NEWNET))
		return -1;
	snprintf(map, sizeof(map), "0 %u 1\n", uid);
	if (write_file("/proc/self/setgroups", "deny") ||
	    write_file("/proc/self/uid_map", map) ||
	    write_file("/proc/self/gid_map", map))
		return -1;
	return 0;
}

/* a request that only the privilege check may refuse */
static struct nl_msg *full_req(uint8_t cmd, const char *volume, uint64_t seq)
{
	static const uint8_t hash[GEOREP_HASH_LEN], anchor[GEOREP_RECORD_HDR_SIZE];
	struct nl_msg *msg = req(cmd, 0);

	switch (cmd) {
	case GEOREP_CMD_VOLUME_NEW:
		nla_put_string(msg, GEOREP_A_NAME, "priv-new");
		nla_put_string(msg, GEOREP_A_DATA_PATH, "/nonexistent/data");
		nla_put_string(msg, GEOREP_A_LOG_PATH, "/nonexistent/log");
		put_keys(msg, 1);
		return msg;
	case GEOREP_CMD_VOLUME_SET:
		nla_put_u64(msg, GEOREP_A_COMMIT_SEQ, seq);
		break;
	case GEOREP_CMD_KEY_SET:
		put_keys(msg, 1);
		break;
	case GEOREP_CMD_LOG_RELEASE:
		nla_put_u64(msg, GEOREP_A_RELEASE_SEQ, seq);
		break;
	case GEOREP_CMD_LOG_TRUNCATE:
		nla_put_u64(msg, GEOREP_A_TRUNCATE_SEQ, seq);
		break;
	case GEOREP_CMD_LOG_RESET:
		nla_put_u64(msg, GEOREP_A_RESET_SEQ, seq);
		nla_put_u64(msg, GEOREP_A_TERM, 1);
		nla_put(msg, GEOREP_A_CHAIN_HASH, sizeof(hash), hash);
		nla_put(msg, GEOREP_A_RECORD, GEOREP_RECORD_HDR_SIZE, anchor);
		break;
	default:
		break;
	}
	nla_put_string(msg, GEOREP_A_NAME, volume);
	return msg;
}

static int resolve(struct nl_sock *sk)
{
	family = genl_ctrl_resolve(sk, GEOREP_GENL_NAME);
	return family;
}

/* ---- probe ---- */

/* every request command: refused with EPERM (EVENT is no request) */
static void probe_cmds(struct nl_sock *sk, const char *volume, const char *who)
{
	struct result r;
	uint8_t cmd;

	for (cmd = GEOREP_CMD_VOLUME_NEW; cmd <= GEOREP_CMD_MAX; cmd++) {
		if (cmd == GEOREP_CMD_EVENT)
			continue;
		xfer(sk, full_req(cmd, volume, 0), &r);
		ktap(r.error == -EPERM, "%s: command %u refused (errno %d \"%s\")",
		     who, cmd, -r.error, r.msg);
	}
	xfer(sk, req(GEOREP_CMD_VOLUME_GET, NLM_F_DUMP), &r);
	ktap(r.error == -EPERM && r.replies == 0,
	     "%s: dump refused (errno %d, %d volumes seen)", who, -r.error,
	     r.replies);
}

static int count_event(struct nl_msg *msg, void *arg)
{
	(*(int *)arg)++;
	return NL_OK;
}

/* events carry seq 0 */
static int any_seq(struct nl_msg *msg, void *arg)
{
	return NL_OK;
}

/* events that reach @ev within @ms */
static int listen_events(struct nl_sock *ev, int ms)
{
	struct nl_cb *cb = nl_cb_alloc(NL_CB_CUSTOM);
	double end = now_ms() + ms;
	int n = 0;

	nl_cb_set(cb, NL_CB_VALID, NL_CB_CUSTOM, count_event, &n);
	nl_cb_set(cb, NL_CB_SEQ_CHECK, NL_CB_CUSTOM, any_seq, NULL);
	while (now_ms() < end) {
		struct pollfd pfd = { .fd = nl_socket_get_fd(ev), .events = POLLIN };

		if (poll(&pfd, 1, (int)(end - now_ms()) + 1) > 0)
			nl_recvmsgs(ev, cb);
	}
	nl_cb_put(cb);
	return n;
}

/* one ROLE event: the volume's term + 1, role kept (secondary) */
static int role_event(struct nl_sock *sk, const char *volume, uint64_t term)
{
	struct nl_msg *msg = req(GEOREP_CMD_VOLUME_SET, 0);
	struct result r;

	nla_put_string(msg, GEOREP_A_NAME, volume);
	nla_put_u8(msg, GEOREP_A_ROLE, GEOREP_ROLE_SECONDARY);
	nla_put_u64(msg, GEOREP_A_TERM, term);
	xfer(sk, msg, &r);
	return r.error;
}

/* VOLUME_GET; false when it failed */
static bool volume_get(struct nl_sock *sk, const char *volume, struct result *r)
{
	struct nl_msg *msg = req(GEOREP_CMD_VOLUME_GET, 0);

	nla_put_string(msg, GEOREP_A_NAME, volume);
	xfer(sk, msg, r);
	return !r->error && r->replies == 1;
}

/*
 * The child: drops to @who, probes the commands, joins "events" (EPERM is
 * the expected answer in the initial network namespace; in its own one
 * the join may work), tells the parent, then counts events for 3 s.
 */
static int probe_child(enum who who, const char *volume, int ready_fd)
{
	const char *name = who_names[who];
	struct nl_sock *sk, *ev;
	int grp, err, events;

	if (become(who)) {
		printf("# %s: cannot become it: %s\n", name, strerror(errno));
		return 1;
	}
	sk = nl_open();
	if (resolve(sk) < 0) {
		/* a namespace that does not see the family cannot use it */
		ktap(true, "%s: family not visible (%s)", name, nl_geterror(family));
		printf("1..%d\n", test_nr);
		(void)!write(ready_fd, "x", 1);
		return 0;
	}
	probe_cmds(sk, volume, name);

	ev = nl_open();
	nl_socket_disable_seq_check(ev);
	grp = genl_ctrl_resolve_grp(ev, GEOREP_GENL_NAME, GEOREP_MCGRP_EVENTS);
	err = grp > 0 ? nl_socket_add_membership(ev, grp) : grp;
	if (who != WHO_USERNS && who != WHO_ROOTNS)
		ktap(err == -NLE_PERM, "%s: joining \"events\" refused (%s)",
		     name, nl_geterror(err));
	else
		printf("# %s: joining \"events\" in its own namespace: %s\n",
		       name, err ? nl_geterror(err) : "joined");
	fflush(stdout);
	(void)!write(ready_fd, "x", 1);
	events = err ? 0 : listen_events(ev, 3000);
	ktap(events == 0, "%s: no event reached it (%d)", name, events);
	printf("1..%d\n", test_nr);
	nl_socket_free(ev);
	nl_socket_free(sk);
	return failures ? 1 : 0;
}

static int probe(enum who who, const char *volume)
{
	struct nl_sock *sk = nl_open(), *ev = nl_open();
	int pfd[2], status, grp, events, i;
	struct result r;
	uint64_t term;
	char c;
	pid_t pid;

	printf("KTAP version 1\n");
	if (resolve(sk) < 0) {
		printf("1..0 # SKIP family %s not registered\n", GEOREP_GENL_NAME);
		return 4;
	}
	term = volume_get(sk, volume, &r) ? r.term : 0;
	if (!term) {
		printf("1..0 # SKIP no volume %s with a term\n", volume);
		return 4;
	}
	/* root's own listener: proof that the events were sent */
	nl_socket_disable_seq_check(ev);
	grp = genl_ctrl_resolve_grp(ev, GEOREP_GENL_NAME, GEOREP_MCGRP_EVENTS);
	if (grp < 0 || nl_socket_add_membership(ev, grp)) {
		printf("Bail out! root cannot join \"events\"\n");
		return 1;
	}
	if (pipe(pfd))
		return 1;
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		close(pfd[0]);
		/* its KTAP numbers continue in the parent's after it */
		_exit(probe_child(who, volume, pfd[1]));
	}
	close(pfd[1]);
	if (pid < 0 || read(pfd[0], &c, 1) != 1) {
		printf("Bail out! the %s child did not start\n", who_names[who]);
		return 1;
	}
	for (i = 1; i <= 3; i++)
		if (role_event(sk, volume, term + i))
			printf("# root: VOLUME_SET term %llu failed\n",
			       (unsigned long long)(term + i));
	events = listen_events(ev, 1000);
	waitpid(pid, &status, 0);
	/* the child printed the KTAP lines; this is their control */
	printf("# root's own listener got %d of the 3 ROLE events\n", events);
	if (events < 3)
		printf("# root missed events: the checks above prove nothing\n");
	nl_socket_free(ev);
	nl_socket_free(sk);
	return events < 3 || !WIFEXITED(status) || WEXITSTATUS(status) ? 1 : 0;
}

/* ---- root in a foreign network namespace ---- */

static int foreign_netns(const char *volume)
{
	static const char want[] =
		"georep serves only network namespaces of the initial user namespace";
	struct nl_msg *msg;
	struct nl_sock *sk;
	int pfd[2], fd, status;
	struct result r;
	char path[64], c;
	pid_t pid;

	printf("KTAP version 1\n");
	if (pipe(pfd))
		return 1;
	pid = fork();
	if (pid == 0) {
		/* holds the namespaces open until the parent is done */
		close(pfd[0]);
		if (become(WHO_ROOTNS))
			_exit(1);
		(void)!write(pfd[1], "x", 1);
		pause();
		_exit(0);
	}
	close(pfd[1]);
	if (pid < 0 || read(pfd[0], &c, 1) != 1) {
		printf("Bail out! no namespace child\n");
		return 1;
	}
	snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)pid);
	fd = open(path, O_RDONLY);
	if (fd < 0 || setns(fd, CLONE_NEWNET)) {
		printf("Bail out! setns %s: %s\n", path, strerror(errno));
		kill(pid, SIGKILL);
		return 1;
	}
	close(fd);
	sk = nl_open();
	if (resolve(sk) < 0) {
		ktap(true, "root in a foreign netns: family not visible");
	} else {
		msg = req(GEOREP_CMD_VOLUME_GET, 0);
		nla_put_string(msg, GEOREP_A_NAME, volume);
		xfer(sk, msg, &r);
		ktap(r.error == -EPERM && !strcmp(r.msg, want),
		     "root in a foreign netns: VOLUME_GET refused (errno %d \"%s\")",
		     -r.error, r.msg);
		xfer(sk, req(GEOREP_CMD_VOLUME_GET, NLM_F_DUMP), &r);
		ktap(r.error == -EPERM && r.replies == 0,
		     "root in a foreign netns: dump refused (errno %d \"%s\", %d volumes)",
		     -r.error, r.msg, r.replies);
	}
	nl_socket_free(sk);
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	printf("1..%d\n", test_nr);
	return failures ? 1 : 0;
}

/* ---- hammer, latency, quorum ---- */

static uint64_t written(struct nl_sock *sk, const char *volume)
{
	struct result r;

	return volume_get(sk, volume, &r) ? r.written_seq : 0;
}

static volatile sig_atomic_t hammer_stop;

static void on_term(int sig)
{
	hammer_stop = 1;
}

static int hammer(enum who who, const char *volume, int seconds)
{
	int ok = 0, refused = 0, other = 0, last = 0;
	double end, t, longest = 0;
	struct nl_sock *sk;
	struct result r;

	if (become(who)) {
		fprintf(stderr, "cannot become %s: %s\n", who_names[who], strerror(errno));
		return 1;
	}
	sk = nl_open();
	if (resolve(sk) < 0) {
		printf("verify family not visible\n");
		return 0;
	}
	signal(SIGTERM, on_term);
	printf("started\n");
	end = now_ms() + seconds * 1e3;
	do {
		struct nl_msg *msg = req(GEOREP_CMD_LEDGER_VERIFY, 0);

		nla_put_string(msg, GEOREP_A_NAME, volume);
		t = now_ms();
		xfer(sk, msg, &r);
		t = now_ms() - t;
		if (t > longest)
			longest = t;
		if (!r.error)
			ok++;
		else if (r.error == -EPERM)
			refused++;
		else
			other++, last = r.error;
	} while (now_ms() < end && !hammer_stop);
	printf("verify ok %d refused %d other %d longest_ms %.0f\n", ok, refused,
	       other, longest);
	if (other)
		fprintf(stderr, "last other error: %s\n", strerror(-last));
	nl_socket_free(sk);
	return 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void print_stats(const char *what, double *ms, int n)
{
	qsort(ms, n, sizeof(*ms), cmp_double);
	printf("%s max_ms %.1f p50_ms %.1f\n", what, ms[n - 1], ms[n / 2]);
}

static int latency(const char *volume, int count)
{
	struct nl_sock *sk = nl_open();
	double *ms = calloc(count, sizeof(*ms));
	double *ctrl = calloc(count, sizeof(*ctrl));
	struct result r;
	int i;

	if (resolve(sk) < 0 || !ms || !ctrl)
		return 4;
	for (i = 0; i < count; i++) {
		struct nl_msg *msg;
		uint64_t w = written(sk, volume);
		double t;

		msg = req(GEOREP_CMD_VOLUME_SET, 0);
		nla_put_string(msg, GEOREP_A_NAME, volume);
		nla_put_u64(msg, GEOREP_A_COMMIT_SEQ, w);
		t = now_ms();
		xfer(sk, msg, &r);
		ms[i] = now_ms() - t;
		if (r.error) {
			fprintf(stderr, "VOLUME_SET COMMIT_SEQ %llu: %s \"%s\"\n",
				(unsigned long long)w, strerror(-r.error), r.msg);
			return 1;
		}
		t = now_ms();
		if (genl_ctrl_resolve(sk, "nlctrl") < 0) {
			fprintf(stderr, "cannot resolve nlctrl\n");
			return 1;
		}
		ctrl[i] = now_ms() - t;
		usleep(20000);
	}
	print_stats("set", ms, count);
	print_stats("ctrl", ctrl, count);
	free(ctrl);
	free(ms);
	nl_socket_free(sk);
	return 0;
}

struct committer {
	const char *volume;
	volatile bool stop;
	int errors;
};

/* the daemon's part of a quorum write: commit what is written */
static void *commit_loop(void *arg)
{
	struct committer *c = arg;
	struct nl_sock *sk = nl_open();
	uint64_t done = 0;

	while (!c->stop) {
		uint64_t w = written(sk, c->volume);
		struct result r;

		if (w > done) {
			struct nl_msg *msg = req(GEOREP_CMD_VOLUME_SET, 0);

			nla_put_string(msg, GEOREP_A_NAME, c->volume);
			nla_put_u64(msg, GEOREP_A_COMMIT_SEQ, w);
			xfer(sk, msg, &r);
			if (r.error)
				c->errors++;
			else
				done = w;
		}
		usleep(2000);
	}
	nl_socket_free(sk);
	return NULL;
}

static int quorum(const char *volume, const char *dev, int count)
{
	struct committer c = { .volume = volume };
	struct nl_sock *sk = nl_open();
	double *ms = calloc(count, sizeof(*ms));
	pthread_t thr;
	void *buf;
	int fd, i, ret = 0;

	if (resolve(sk) < 0 || !ms || posix_memalign(&buf, 4096, 4096))
		return 4;
	memset(buf, 0x42, 4096);
	fd = open(dev, O_WRONLY | O_DIRECT);
	if (fd < 0) {
		perror(dev);
		return 1;
	}
	pthread_create(&thr, NULL, commit_loop, &c);
	for (i = 0; i < count; i++) {
		double t = now_ms();

		if (pwrite(fd, buf, 4096, (off_t)(i % 64) * 4096) != 4096) {
			perror("pwrite");
			ret = 1;
			break;
		}
		ms[i] = now_ms() - t;
		usleep(20000);
	}
	c.stop = true;
	pthread_join(thr, NULL);
	close(fd);
	if (!ret)
		print_stats("quorum", ms, count);
	if (c.errors)
		fprintf(stderr, "%d COMMIT_SEQ updates failed\n", c.errors);
	free(ms);
	free(buf);
	nl_socket_free(sk);
	return ret || c.errors;
}

static int usage(const char *argv0)
{
	fprintf(stderr,
		"usage: %s [--as root|nobody|userns|rootns] probe VOLUME\n"
		"       %s foreign-netns VOLUME\n"
		"       %s [--as WHO] hammer VOLUME SECONDS\n"
		"       %s latency VOLUME COUNT\n"
		"       %s quorum VOLUME DEVICE COUNT\n",
		argv0, argv0, argv0, argv0, argv0);
	return 2;
}

int main(int argc, char **argv)
{
	enum who who = WHO_ROOT;
	char **a = argv + 1;
	int n = argc - 1;
	unsigned int i;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (n >= 2 && !strcmp(a[0], "--as")) {
		for (i = 0; i < 4 && strcmp(a[1], who_names[i]); i++)
			;
		if (i == 4)
			return usage(argv[0]);
		who = i;
		a += 2;
		n -= 2;
	}
	if (geteuid() != 0) {
		fprintf(stderr, "needs root (it drops privileges itself)\n");
		return 4;
	}
	if (n == 2 && !strcmp(a[0], "probe"))
		return probe(who, a[1]);
	if (n == 2 && !strcmp(a[0], "foreign-netns") && who == WHO_ROOT)
		return foreign_netns(a[1]);
	if (n == 3 && !strcmp(a[0], "hammer"))
		return hammer(who, a[1], atoi(a[2]));
	if (n == 3 && !strcmp(a[0], "latency") && who == WHO_ROOT)
		return latency(a[1], atoi(a[2]) > 0 ? atoi(a[2]) : 1);
	if (n == 4 && !strcmp(a[0], "quorum") && who == WHO_ROOT)
		return quorum(a[1], a[2], atoi(a[3]) > 0 ? atoi(a[3]) : 1);
	return usage(argv[0]);
}
