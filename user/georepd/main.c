// SPDX-License-Identifier: GPL-2.0
/*
 * georepd: the per-site replication daemon.
 *
 *   georepd --config FILE --site NAME [--state-dir DIR] [--socket PATH]
 *           [--foreground] [--verbose] [--ledger KIND] [--insecure-plaintext]
 *           [--bpf off|auto|on]
 *
 * Start-up, in order: validate the configuration (refusing to start on any
 * error, with the messages of `georepctl config check`), load the site's
 * TLS identity (or refuse to run without one unless --insecure-plaintext
 * allows plain TCP, lab only), lock and read the
 * state directory, listen on the site's replication address, serve the
 * control socket, connect to the peers; then run the event loop until
 * SIGTERM or SIGINT.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "georepd.h"
#include "engine.h"
#include "ledger.h"
#include "georep/tls.h"
#include "bpf.h"
#include "genesis.h"
#include "georep/keys.h"

int (*gd_replica_factory)(struct georepd *d, struct gd_volume *vol,
			  struct gr_replica **out);

#define DEFAULT_STATE_DIR	"/var/lib/georep"
#define DEFAULT_RUN_DIR		"/run/georep"

static const char usage[] =
	"Usage: georepd --config FILE --site NAME [--state-dir DIR] [--socket PATH]\n"
	"               [--foreground] [--verbose] [--ledger kernel|mem|none]\n"
	"               [--insecure-plaintext] [--bpf off|auto|on] [--key-dir DIR]\n"
	"\n"
	"  -c, --config FILE     cluster configuration (JSON)\n"
	"  -s, --site NAME       which site of the configuration this is\n"
	"  -d, --state-dir DIR   durable state (default " DEFAULT_STATE_DIR "/<site>)\n"
	"  -S, --socket PATH     control socket (default <state-dir>/<site>.sock when\n"
	"                        --state-dir is given, else " DEFAULT_RUN_DIR "/<site>.sock)\n"
	"  -f, --foreground      stay in the foreground, log to stderr\n"
	"  -v, --verbose         debug messages\n"
	"  -L, --ledger KIND     replication engine ledger: kernel (georep.ko; default),\n"
	"                        mem (in-process, tests) or none (transport only)\n"
	"      --insecure-plaintext  LAB ONLY: run with plain TCP between sites when the\n"
	"                        configuration has no \"tls\" section (no encryption, no\n"
	"                        authentication: anyone who can reach the port can pose\n"
	"                        as a site). Without it georepd refuses to start.\n"
	"  -B, --bpf MODE        BPF programs (write admission; routing on the site's\n"
	"                        route_cgroup; Documentation/ebpf.rst): off (default),\n"
	"                        auto (load where the kernel allows, else log libbpf's\n"
	"                        reason and go on), on (or fail)\n"
	"  -K, --key-dir DIR     seal keys, DIR/<volume>/<epoch>.key (default\n"
	"                        " GEOREP_DEFAULT_KEY_DIR "); a volume without a kernel\n"
	"                        volume here is attached from, or created on, the\n"
	"                        devices of the configuration (day one)\n"
	"      --site-prefixed-names  LAB ONLY: kernel volumes are <site>.<volume>\n"
	"                        (several sites sharing one kernel)\n";

/*
 * The transport between sites: mutual TLS 1.3 with this site's identity,
 * or plain TCP only when the operator asked for it. Messages on stderr:
 * this runs before daemonizing.
 */
static struct gr_tls_opts tls_opts(const struct gr_cluster *cfg,
				   const struct gr_site_cfg *me)
{
	return (struct gr_tls_opts){
		.ca = cfg->tls.ca,
		.cert = me->cert,
		.key = me->key,
		.rekey_bytes = cfg->tls.rekey_bytes,
		.rekey_seconds = cfg->tls.rekey_seconds,
	};
}

static struct gr_transport *make_transport(const struct gr_cluster *cfg,
					   const struct gr_site_cfg *me, bool plaintext)
{
	struct gr_tls_opts o = tls_opts(cfg, me);
	struct gr_transport *t;
	char err[512];

	if (!cfg->tls.enabled && !plaintext) {
		fprintf(stderr, "georepd: refusing to start: the configuration has no \"tls\" section, so replication would be plain TCP, unencrypted and unauthenticated; add one (see georepd(8), \"Site identities and TLS\" in the admin guide) or pass --insecure-plaintext (lab only)\n");
		return NULL;
	}
	if (!cfg->tls.enabled) {
		t = gr_transport_tcp();
		if (!t)
			fprintf(stderr, "georepd: out of memory\n");
		return t;
	}
	if (plaintext)
		fprintf(stderr, "georepd: --insecure-plaintext ignored: the configuration has a \"tls\" section\n");
	t = gr_transport_tls(&o, err, sizeof(err));
	if (!t)
		fprintf(stderr, "georepd: refusing to start: site %s: %s\n", me->name, err);
	return t;
}

const struct gr_cluster *gd_cluster(const struct georepd *d)
{
	return d->cfg;
}

unsigned int gd_self(const struct georepd *d)
{
	return d->self;
}

struct gr_loop *gd_loop(const struct georepd *d)
{
	return d->loop;
}

int gd_volume_save_state(struct georepd *d, struct gd_volume *vol,
			 const struct gd_vstate *st)
{
	int ret = gd_vstate_save(d->sd, vol->cfg->name, st);

	if (ret) {
		gd_err("volume %s: cannot save state: %s", vol->cfg->name, strerror(-ret));
		return ret;
	}
	vol->state = *st;
	return 0;
}

/* Load (or create, for a new volume) the durable state of every local replica. */
static int volumes_open(struct georepd *d)
{
	char err[256];
	size_t i, j;
	int ret;

	d->vols = calloc(d->cfg->nvolumes ? d->cfg->nvolumes : 1, sizeof(*d->vols));
	if (!d->vols)
		return -ENOMEM;
	for (i = 0; i < d->cfg->nvolumes; i++) {
		const struct gr_volume_cfg *vc = &d->cfg->volumes[i];
		struct gd_volume *v;

		if (!gr_volume_replica(vc, d->self))
			continue;
		v = &d->vols[d->nvols++];
		v->cfg = vc;
		ret = gd_vstate_load(d->sd, vc->name, &v->state, err);
		if (ret && ret != -ENOENT) {
			gd_err("volume %s: %s", vc->name, err);
			return ret;
		}
		if (ret == -ENOENT) {
			/* a new volume: every configured replica votes */
			memset(&v->state, 0, sizeof(v->state));
			for (j = 0; j < vc->nreplicas; j++) {
				v->state.members[j].site_id =
					d->cfg->sites[vc->replicas[j].site].site_id;
				v->state.members[j].voter = true;
			}
			v->state.nmembers = vc->nreplicas;
			ret = gd_volume_save_state(d, v, &v->state);
			if (ret)
				return ret;
			gd_info("volume %s: new, %u members", vc->name, v->state.nmembers);
		} else {
			gd_info("volume %s: term %llu, %u members", vc->name,
				(unsigned long long)v->state.term, v->state.nmembers);
		}
		if (gd_replica_factory) {
			ret = gd_replica_factory(d, v, &v->replica);
			if (ret) {
				gd_err("volume %s: cannot start its replica: %s", vc->name,
				       strerror(-ret));
				return ret;
			}
		}
	}
	return 0;
}

static void volumes_close(struct georepd *d)
{
	size_t i;

	for (i = 0; i < d->nvols; i++)
		if (d->vols[i].replica && d->vols[i].replica->ops->destroy)
			d->vols[i].replica->ops->destroy(d->vols[i].replica);
	free(d->vols);
}

/* what ran longest in the latest slow turn: "fd 7 (/dev/georep0-log)" */
static void slow_cb_name(const struct gr_loop_stats *st, char *buf, size_t len)
{
	char path[64], target[128];
	ssize_t n;

	if (st->last_slow_cb_fd < 0) {
		snprintf(buf, len, "%s", st->last_slow_cb_name ?: "a timer");
		return;
	}
	snprintf(path, sizeof(path), "/proc/self/fd/%d", st->last_slow_cb_fd);
	n = readlink(path, target, sizeof(target) - 1);
	target[n > 0 ? n : 0] = 0;
	snprintf(buf, len, "fd %d (%s)", st->last_slow_cb_fd, n > 0 ? target : "closed since");
}

/* One line when turns of the loop took a second or more since the last tick. */
static void report_slow_turns(struct georepd *d)
{
	struct gr_loop_stats st;
	char what[200];

	gr_loop_stats(d->loop, &st);
	if (st.slow_turns == d->slow_seen)
		return;
	slow_cb_name(&st, what, sizeof(what));
	gd_warn("event loop: %llu turn%s of %llu ms or more (the latest %llu ms, %llu ms of it in %s): peers and the control socket waited",
		(unsigned long long)(st.slow_turns - d->slow_seen),
		st.slow_turns - d->slow_seen == 1 ? "" : "s",
		GR_LOOP_SLOW_NS / 1000000, (unsigned long long)st.last_slow_ns / 1000000,
		(unsigned long long)st.last_slow_cb_ns / 1000000, what);
	d->slow_seen = st.slow_turns;
}

static void on_tick(struct gr_timer *t, void *arg)
{
	struct georepd *d = arg;
	uint64_t now = gr_now_ns();
	size_t i;

	gd_peers_tick(d);
	for (i = 0; i < d->nvols; i++)
		if (d->vols[i].replica && d->vols[i].replica->ops->on_tick)
			d->vols[i].replica->ops->on_tick(d->vols[i].replica, now);
	gd_bpf_tick(d, d->bpf);
	report_slow_turns(d);
	gr_timer_arm(t, GD_TICK_MS);
}

/*
 * SIGHUP: read this site's certificate, key and the CA bundle again (a
 * certificate or CA rollover, Documentation/admin-guide.rst), then renew
 * every peer connection so that both ends verify the new ones.
 */
static void reload_tls(struct georepd *d)
{
	struct gr_tls_opts o = tls_opts(d->cfg, d->me);
	char err[512];

	if (!d->cfg->tls.enabled) {
		gd_warn("SIGHUP: nothing to reload (plain TCP, no \"tls\" section)");
		return;
	}
	if (gr_transport_tls_reload(d->tp, &o, err, sizeof(err))) {
		gd_err("SIGHUP: TLS credentials not reloaded, keeping the old ones: %s", err);
		return;
	}
	gd_info("SIGHUP: TLS credentials reloaded (certificate %s, CA %s); renewing peer connections",
		o.cert, o.ca);
	gd_peers_renew(d);
	gd_engine_ckpt_reload(d);
}

static void on_signal(struct gr_io *io, uint32_t events, void *arg)
{
	struct georepd *d = arg;
	struct signalfd_siginfo si;

	if (read(d->sigfd, &si, sizeof(si)) != sizeof(si))
		return;
	if (si.ssi_signo == SIGHUP) {
		reload_tls(d);
		return;
	}
	gd_info("signal %u: shutting down", si.ssi_signo);
	gr_loop_stop(d->loop);
}

static int signals_start(struct georepd *d)
{
	sigset_t set;

	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &set, NULL))
		return -errno;
	d->sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (d->sigfd < 0)
		return -errno;
	d->sigio = gr_io_add(d->loop, d->sigfd, EPOLLIN, on_signal, d);
	return d->sigio ? 0 : -errno;
}

/* Tell the parent (waiting in daemonize()) that start-up finished. */
static void notify_ready(int fd)
{
	int null;

	if (fd < 0)
		return;
	if (write(fd, "1", 1) != 1)
		gd_warn("cannot notify the parent process");
	close(fd);
	null = open("/dev/null", O_RDWR);
	if (null >= 0) {
		dup2(null, 0);
		dup2(null, 1);
		dup2(null, 2);
		if (null > 2)
			close(null);
	}
}

/*
 * Fork; the parent exits 0 once the child reports it is serving, 1 if the
 * child dies first. Return: in the child, the fd to notify_ready() on.
 */
static int daemonize(void)
{
	int pfd[2];
	char c;
	pid_t pid;

	if (pipe2(pfd, O_CLOEXEC)) {
		perror("georepd: pipe");
		exit(1);
	}
	pid = fork();
	if (pid < 0) {
		perror("georepd: fork");
		exit(1);
	}
	if (pid > 0) {
		close(pfd[1]);
		exit(read(pfd[0], &c, 1) == 1 ? 0 : 1);
	}
	close(pfd[0]);
	setsid();
	return pfd[1];
}

struct args {
	const char *config, *site, *state_dir, *sock;
	bool foreground, verbose, plaintext;
	enum gd_bpf_mode bpf_mode;
};

/* the command line; Return: -1 to go on, else the exit status */
static int parse_args(int argc, char *argv[], struct args *a)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "site", required_argument, NULL, 's' },
		{ "state-dir", required_argument, NULL, 'd' },
		{ "socket", required_argument, NULL, 'S' },
		{ "foreground", no_argument, NULL, 'f' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "ledger", required_argument, NULL, 'L' },
		{ "insecure-plaintext", no_argument, NULL, 'P' },
		{ "bpf", required_argument, NULL, 'B' },
		{ "key-dir", required_argument, NULL, 'K' },
		{ "site-prefixed-names", no_argument, NULL, 'N' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL }
	};
	const char *ledger = "kernel";
	int opt;

	while ((opt = getopt_long(argc, argv, "c:s:d:S:fvhL:B:K:", opts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			a->config = optarg;
			break;
		case 's':
			a->site = optarg;
			break;
		case 'd':
			a->state_dir = optarg;
			break;
		case 'S':
			a->sock = optarg;
			break;
		case 'f':
			a->foreground = true;
			break;
		case 'v':
			a->verbose = true;
			break;
		case 'L':
			ledger = optarg;
			break;
		case 'P':
			a->plaintext = true;
			break;
		case 'B':
			if (gd_bpf_parse_mode(optarg, &a->bpf_mode)) {
				fprintf(stderr, "georepd: --bpf: off, auto or on, not \"%s\"\n",
					optarg);
				return 2;
			}
			break;
		case 'K':
			if (optarg[0] != '/') {
				fprintf(stderr, "georepd: --key-dir: an absolute path, not \"%s\"\n",
					optarg);
				return 2;
			}
			gd_key_dir = optarg;
			break;
		case 'N':
			gd_site_prefixed = true;
			break;
		case 'h':
			fputs(usage, stdout);
			return 0;
		default:
			fputs(usage, stderr);
			return 2;
		}
	}
	/* the engine, unless a test build registered its own (probe_replica.c) */
	if (!strcmp(ledger, "kernel") || !strcmp(ledger, "mem")) {
		gd_ledger_kind = ledger[0] == 'm' ? GD_LEDGER_MEM : GD_LEDGER_KERNEL;
		if (!gd_replica_factory)
			gd_replica_factory = gd_engine_new;
	} else if (strcmp(ledger, "none")) {
		fprintf(stderr, "georepd: --ledger: kernel, mem or none, not \"%s\"\n", ledger);
		return 2;
	}
	if (!a->config || !a->site || optind != argc) {
		fprintf(stderr, "georepd: %s\n%s", optind != argc ?
			"unexpected argument" : "--config and --site are required", usage);
		return 2;
	}
	return -1;
}

/* the configuration and this site's place in it; Return: 0 or -1 (printed) */
static int load_config(struct georepd *d, const char *config, const char *site)
{
	struct gr_errlist errs = { 0 };
	size_t i;
	int ret;

	/* the same messages as `georepctl config check` */
	if (gr_cluster_load(config, &d->cfg, &errs)) {
		for (i = 0; i < errs.n; i++)
			fprintf(stderr, "%s\n", errs.msg[i]);
		if (errs.dropped)
			fprintf(stderr, "... and %zu more errors\n", errs.dropped);
		fprintf(stderr, "georepd: refusing to start: %s is not a valid configuration\n",
			config);
		gr_errlist_free(&errs);
		return -1;
	}
	ret = gr_cluster_site_index(d->cfg, site);
	if (ret < 0) {
		fprintf(stderr, "georepd: site \"%s\" is not in %s; its sites are:", site, config);
		for (i = 0; i < d->cfg->nsites; i++)
			fprintf(stderr, " %s", d->cfg->sites[i].name);
		fprintf(stderr, "\n");
		gr_cluster_free(d->cfg);
		return -1;
	}
	d->self = ret;
	d->me = &d->cfg->sites[d->self];
	return 0;
}

/*
 * The control socket: @sock, else in @state_dir when one was given, else
 * DEFAULT_RUN_DIR/<site>.sock. Return: 0, or -1 when it does not fit.
 */
static int set_ctl_path(struct georepd *d, const char *sock, const char *state_dir,
			const char *site)
{
	int n;

	if (sock)
		n = snprintf(d->ctl_path, sizeof(d->ctl_path), "%s", sock);
	else if (state_dir)
		n = snprintf(d->ctl_path, sizeof(d->ctl_path), "%s/%s.sock", state_dir, site);
	else
		n = snprintf(d->ctl_path, sizeof(d->ctl_path), DEFAULT_RUN_DIR "/%s.sock", site);
	if (n < (int)sizeof(d->ctl_path))
		return 0;
	fprintf(stderr, "georepd: control socket path too long (max %zu): %s\n",
		sizeof(d->ctl_path) - 1, d->ctl_path);
	return -1;
}

static void register_engine_cmds(struct georepd *d)
{
	if (gd_replica_factory != gd_engine_new)
		return;
	if (gd_ledger_kind == GD_LEDGER_MEM)
		gd_engine_register_test_cmds(d);
	gd_engine_register_proof_cmds(d);
	gd_engine_register_key_cmds(d);
}

static void announce(struct georepd *d)
{
	gd_info("site %s (id %u) of cluster %s: listening on %s:%u, control socket %s, %zu local replicas",
		d->me->name, d->me->site_id, d->cfg->cluster, d->me->host,
		gr_listener_port(d->listener), d->ctl_path, d->nvols);
	if (d->cfg->tls.enabled) {
		char why[192];

		gr_tls_suites(why, sizeof(why));
		gd_info("TLS 1.3: %s", why);
	}
}

/*
 * georepd is in the I/O path of its volumes: a primary's writeback waits
 * for the records georepd ships, a follower's answer for the records it
 * appends. So its allocations must not start I/O in reclaim (a filesystem
 * on one of its own volumes, waiting for georepd), and dirty pages it did
 * not write must not throttle its own writes: what the loop driver's
 * worker and userspace block servers (nbd, ublk) ask of the kernel too,
 * with PR_SET_IO_FLUSHER (Linux 5.6, CAP_SYS_RESOURCE). The threads
 * started later inherit it.
 */
static void io_flusher(void)
{
	if (prctl(PR_SET_IO_FLUSHER, 1, 0, 0, 0))
		gd_warn("PR_SET_IO_FLUSHER: %s: georepd's memory reclaim may wait for the writeback of its own volumes",
			strerror(errno));
}

int main(int argc, char *argv[])
{
	struct args a = { .bpf_mode = GD_BPF_OFF };
	const char *site, *state_dir, *sock;
	struct georepd d = { .sigfd = -1 };
	char dirbuf[4096], err[256];
	int ret, ready_fd = -1;

	ret = parse_args(argc, argv, &a);
	if (ret >= 0)
		return ret;
	site = a.site;
	state_dir = a.state_dir;
	sock = a.sock;
	if (load_config(&d, a.config, site))
		return 1;
	d.tp = make_transport(d.cfg, d.me, a.plaintext);
	if (!d.tp) {
		gr_cluster_free(d.cfg);
		return 1;
	}

	if (!state_dir) {
		snprintf(dirbuf, sizeof(dirbuf), DEFAULT_STATE_DIR "/%s", site);
		state_dir = dirbuf;
	}
	if (set_ctl_path(&d, sock, dirbuf != state_dir ? state_dir : NULL, site)) {
		gr_transport_free(d.tp);
		gr_cluster_free(d.cfg);
		return 1;
	}

	if (!a.foreground)
		ready_fd = daemonize();
	gd_log_init(site, false, a.verbose);
	io_flusher();
	d.rl = (struct gd_ratelimit)GD_RATELIMIT_INIT;
	d.start_ms = gr_now_ms();

	ret = gd_statedir_open(state_dir, &d.sd, err);
	if (ret) {
		gd_err("%s", err);
		goto out_free_cfg;
	}
	if (gd_statedir_cleaned(d.sd))
		gd_warn("removed %u unfinished state files (crash during a save)",
			gd_statedir_cleaned(d.sd));
	if (!sock && dirbuf == state_dir)
		mkdir(DEFAULT_RUN_DIR, 0755);
	ret = gr_loop_new(&d.loop);
	if (ret)
		goto out_close_state;
	if (!d.cfg->tls.enabled)
		gd_warn("replication is plain TCP (--insecure-plaintext): no encryption, no authentication; lab use only");
	ret = volumes_open(&d);
	if (ret)
		goto out_close_volumes;
	ret = signals_start(&d);
	if (ret) {
		gd_err("signals: %s", strerror(-ret));
		goto out_close_volumes;
	}
	ret = gd_control_start(&d);
	if (ret)
		goto out_stop_control;
	ret = gd_bpf_start(&d, a.bpf_mode, &d.bpf);
	if (ret)
		goto out_stop_control;
	register_engine_cmds(&d);
	ret = gd_peers_start(&d);
	if (ret)
		goto out_stop_peers;
	d.tick = gr_timer_new(d.loop, on_tick, &d);
	if (!d.tick) {
		ret = -ENOMEM;
		goto out_stop_peers;
	}
	gr_timer_name(d.tick, "the daemon's tick");
	gr_timer_arm(d.tick, GD_TICK_MS);

	announce(&d);
	if (!a.foreground) {
		gd_log_init(site, true, a.verbose);
		notify_ready(ready_fd);
	}
	ret = gr_loop_run(d.loop);
	if (ret)
		gd_err("event loop: %s", strerror(-ret));

out_stop_peers:
	gd_peers_stop(&d);
	free(d.peers);
out_stop_control:
	gd_bpf_stop(d.bpf);
	gr_ctl_free(d.ctl);
	gr_io_del(d.sigio);
	if (d.sigfd >= 0)
		close(d.sigfd);
out_close_volumes:
	volumes_close(&d);
	gr_loop_free(d.loop);	/* runs deferred frees of closed connections */
out_close_state:
	gd_statedir_close(d.sd);
out_free_cfg:
	gr_transport_free(d.tp);
	gr_cluster_free(d.cfg);
	return ret ? 1 : 0;
}
