// SPDX-License-Identifier: GPL-2.0
/*
 * georepctl status: the cluster view, from georepd's control socket.
 *
 * The daemon's {"cmd":"status"} reply is kept as it is (it is the "cluster"
 * member of `status --json`); this file only finds the socket, asks, and
 * renders a table per volume with one row per site. What the daemon does
 * not know (a follower's seqs, seen from another follower) is shown as "-";
 * a leader knows every follower's seqs from their answers.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include <jansson.h>

#include "georep/ctlsock.h"
#include "georepctl.h"
#include "cmd_cluster_status.h"

#define RUN_DIR		"/run/georep"
#define QUERY_TIMEOUT_MS	5000

/* The only *.sock in RUN_DIR; 0 or -ENOENT (none, or more than one). */
static int find_socket(char *path, size_t len)
{
	struct dirent *de;
	int found = 0;
	DIR *dir = opendir(RUN_DIR);

	if (!dir)
		return -ENOENT;
	while ((de = readdir(dir))) {
		size_t n = strlen(de->d_name);

		if (n > 5 && !strcmp(de->d_name + n - 5, ".sock") &&
		    snprintf(path, len, RUN_DIR "/%s", de->d_name) < (int)len)
			found++;
	}
	closedir(dir);
	return found == 1 ? 0 : -ENOENT;
}

/* Keep only @volume in st.volumes. */
static void keep_volume(json_t *st, const char *volume)
{
	json_t *vols = json_object_get(st, "volumes"), *v;
	size_t i = 0;

	while (i < json_array_size(vols)) {
		v = json_array_get(vols, i);
		if (strcmp(json_string_value(json_object_get(v, "name")) ?: "", volume))
			json_array_remove(vols, i);
		else
			i++;
	}
}

int cluster_status_query(const char *socket, const char *site, const char *volume,
			 json_t **out)
{
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char err[GR_CTL_ERRLEN] = "";
	bool named = socket || site;
	json_t *req, *resp = NULL;
	int ret;

	*out = NULL;
	if (socket)
		ret = snprintf(path, sizeof(path), "%s", socket) < (int)sizeof(path) ? 0 : -1;
	else if (site)
		ret = snprintf(path, sizeof(path), RUN_DIR "/%s.sock", site) <
		      (int)sizeof(path) ? 0 : -1;
	else
		ret = find_socket(path, sizeof(path));
	if (ret < 0 && named)
		return grctl_fail("control socket path too long");
	if (ret < 0)
		return 0;
	req = json_pack("{s:s}", "cmd", "status");
	if (!req)
		return grctl_fail("%s", strerror(ENOMEM));
	ret = gr_ctl_call(path, req, QUERY_TIMEOUT_MS, &resp, err);
	json_decref(req);
	if (!ret && !json_is_true(json_object_get(resp, "ok"))) {
		snprintf(err, sizeof(err), "%s",
			 json_string_value(json_object_get(resp, "error")) ?: "request failed");
		ret = -EPROTO;
	}
	if (ret) {
		json_decref(resp);
		if (!named)
			return 0;	/* a stale socket: the kernel view only */
		return grctl_fail("georepd at %s: %s", path, err[0] ? err : strerror(-ret));
	}
	json_object_del(resp, "ok");
	json_object_del(resp, "id");
	if (volume)
		keep_volume(resp, volume);
	*out = resp;
	return 0;
}

/* Accessors that tolerate missing members (older daemons, other engines). */
static const char *jstr(json_t *o, const char *key, const char *dflt)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s ? s : dflt;
}

/* An integer member as text, "-" when absent. */
static const char *jnum(json_t *o, const char *key, char *buf, size_t len)
{
	json_t *v = json_object_get(o, key);

	if (json_is_integer(v))
		snprintf(buf, len, "%lld", (long long)json_integer_value(v));
	else if (json_is_real(v))
		snprintf(buf, len, "%.1f", json_real_value(v));
	else
		snprintf(buf, len, "-");
	return buf;
}

static const char *jbytes(json_t *o, const char *key, char *buf, size_t len)
{
	static const char units[] = "BKMGTPE";
	json_t *v = json_object_get(o, key);
	double d;
	int u = 0;

	if (!json_is_integer(v)) {
		snprintf(buf, len, "-");
		return buf;
	}
	d = (double)json_integer_value(v);
	while (d >= 1024 && u < 6) {
		d /= 1024;
		u++;
	}
	if (u)
		snprintf(buf, len, "%.1f%c", d, units[u]);
	else
		snprintf(buf, len, "%lldB", (long long)json_integer_value(v));
	return buf;
}

static json_t *peer_by_name(json_t *st, const char *name)
{
	json_t *peers = json_object_get(st, "peers"), *p;
	size_t i;

	json_array_foreach(peers, i, p)
		if (!strcmp(jstr(p, "name", ""), name))
			return p;
	return NULL;
}

/* The LINK column: self, up, connecting, down (from the daemon's peer table). */
static const char *link_state(json_t *st, json_t *site, bool self)
{
	json_t *peer;

	if (self)
		return "self";
	peer = peer_by_name(st, jstr(site, "site", ""));
	if (peer && json_is_string(json_object_get(peer, "state")) &&
	    strcmp(jstr(peer, "state", ""), "up"))
		return jstr(peer, "state", "down");
	return json_is_true(json_object_get(site, "connected")) ? "up" : "down";
}

static void print_sites(json_t *st, json_t *rep)
{
	const char *me = jstr(st, "site", "");
	const char *leader = jstr(rep, "leader", "");
	json_t *sites = json_object_get(rep, "sites"), *s;
	size_t i;

	printf("  %-1s %-12s %4s %-9s %6s %10s %10s %10s %10s %8s %9s %7s %8s %s\n",
	       "", "SITE", "ID", "ROLE", "TERM", "WRITTEN", "COMMITTED", "APPLIED",
	       "MATCH", "LAG REC", "LAG BYTES", "LAG S", "RTT MS", "LINK");
	json_array_foreach(sites, i, s) {
		const char *name = jstr(s, "site", "?");
		bool self = !strcmp(name, me);
		char id[24], term[24], w[24], c[24], a[24], m[24], lr[24], lb[24], ls[24], rtt[24];

		/* a site's term is known for this site and for the leader */
		if (self || !strcmp(name, leader))
			jnum(rep, "term", term, sizeof(term));
		else
			snprintf(term, sizeof(term), "-");
		printf("  %-1s %-12s %4s %-9s %6s %10s %10s %10s %10s %8s %9s %7s %8s %s\n",
		       self ? "*" : "", name, jnum(s, "site_id", id, sizeof(id)),
		       jstr(s, "role", "?"), term,
		       jnum(s, "written_seq", w, sizeof(w)),
		       jnum(s, "commit_seq", c, sizeof(c)),
		       jnum(s, "applied_seq", a, sizeof(a)),
		       jnum(s, "match_seq", m, sizeof(m)),
		       jnum(s, "lag_records", lr, sizeof(lr)),
		       jbytes(s, "lag_bytes", lb, sizeof(lb)),
		       jnum(s, "lag_s", ls, sizeof(ls)),
		       jnum(s, "rtt_ms", rtt, sizeof(rtt)),
		       link_state(st, s, self));
	}
}

static void print_forks(json_t *rep)
{
	json_t *forks = json_object_get(rep, "forks"), *f;
	char n[24], from[24], to[24], recs[24], bytes[24];
	size_t i;

	printf("  forks kept: %zu (%s since start)\n", json_array_size(forks),
	       jnum(rep, "forks_total", n, sizeof(n)));
	json_array_foreach(forks, i, f)
		printf("    %s  seq %s..%s  %s records  %s\n", jstr(f, "path", "?"),
		       jnum(f, "from", from, sizeof(from)), jnum(f, "to", to, sizeof(to)),
		       jnum(f, "records", recs, sizeof(recs)),
		       jbytes(f, "bytes", bytes, sizeof(bytes)));
}

/* leader: a full resync's read of this site's device that keeps failing */
static void print_resync_failing(json_t *rep)
{
	json_t *f = json_object_get(rep, "resync_read_failing");
	char at[24], n[24];
	bool anchor;

	if (!json_is_object(f))
		return;
	anchor = !strcmp(jstr(f, "what", ""), "anchor");
	printf("  RESYNC STALLED: cannot read %s %s: %s (%s failures in a row, for %.0f s)\n",
	       anchor ? "the record at seq" : "the data device at",
	       jnum(f, anchor ? "seq" : "offset", at, sizeof(at)), jstr(f, "error", "?"),
	       jnum(f, "failures", n, sizeof(n)),
	       json_number_value(json_object_get(f, "for_s")));
}

/* the heal of a fork (engine_heal.c): "in sync" or what is left */
static void print_heal(json_t *rep)
{
	json_t *h = json_object_get(rep, "heal");
	char seq[24], blocks[24], pend[24], wait[24];

	if (!json_object_get(rep, "in_sync"))
		return;
	if (json_is_object(json_object_get(rep, "resync"))) {
		json_t *r = json_object_get(rep, "resync");
		char copied[24], size[24];

		printf("  data: full resync from %s to seq %s: %s of %s copied\n",
		       jstr(r, "from", "?"), jnum(r, "seq", seq, sizeof(seq)),
		       jbytes(r, "copied_bytes", copied, sizeof(copied)),
		       jbytes(r, "size_bytes", size, sizeof(size)));
		return;
	}
	if (!json_is_object(h)) {
		printf("  data: %s%s\n", json_is_true(json_object_get(rep, "in_sync")) ?
		       "in sync" : "not in sync (resync in progress or diverged)",
		       json_is_true(json_object_get(rep, "diverged")) ? ", DIVERGED" : "");
		return;
	}
	printf("  data: healing a fork after seq %s: %s blocks, %s to fetch, %s until records apply\n",
	       jnum(h, "fork_seq", seq, sizeof(seq)), jnum(h, "blocks", blocks, sizeof(blocks)),
	       jnum(h, "pending", pend, sizeof(pend)),
	       jnum(h, "waiting_records", wait, sizeof(wait)));
}

/* the ledger's Merkle tree (Documentation/proofs.rst): size and root, or why it stopped */
static void print_merkle(json_t *rep)
{
	json_t *m = json_object_get(rep, "merkle");
	char size[24];

	if (!json_is_object(m))
		return;
	if (!strcmp(jstr(m, "state", "?"), "fetching")) {
		char to[24], got[24];

		printf("  merkle: %s leaves, fetching leaves up to %s from %s (%s so far)\n",
		       jnum(m, "size", size, sizeof(size)), jnum(m, "fetch_to", to, sizeof(to)),
		       *jstr(m, "from", "") ? jstr(m, "from", "") : "the leader (not asked yet)",
		       jnum(m, "fetched", got, sizeof(got)));
		return;
	}
	if (strcmp(jstr(m, "state", "?"), "ok"))
		printf("  merkle: stopped: %s\n", jstr(m, "why", "?"));
	else
		printf("  merkle: %s leaves, root %.16s...\n", jnum(m, "size", size, sizeof(size)),
		       jstr(m, "root", "?"));
}

/* the scrub (Documentation/proofs.rst, "Scrub"): the log checked against the tree */
static void print_scrub(json_t *rep)
{
	json_t *s = json_object_get(rep, "scrub"), *d;
	char rate[24], n[24], seq[24], every[24];

	if (!json_is_object(s))
		return;
	d = json_object_get(s, "damaged");
	if (json_is_object(d)) {
		printf("  scrub: DAMAGED from record %s: %s\n", jnum(d, "seq", seq, sizeof(seq)),
		       jstr(d, "why", "?"));
		return;
	}
	if (!json_integer_value(json_object_get(s, "mib_s"))) {
		printf("  scrub: off\n");
		return;
	}
	printf("  scrub: no damage, %s passes, %s records checked at %s MiB/s, a pass every %s s\n",
	       jnum(s, "passes", n, sizeof(n)), jnum(s, "checked", seq, sizeof(seq)),
	       jnum(s, "mib_s", rate, sizeof(rate)), jnum(s, "pass_s", every, sizeof(every)));
}

/* checkpoints (Documentation/proofs.rst, "Finality"): what is final, what is pending */
static void print_checkpoint(json_t *rep)
{
	json_t *c = json_object_get(rep, "checkpoint"), *p;
	char a[24], b[24], n[24];

	if (!json_is_object(c))
		return;
	if (strcmp(jstr(c, "state", "?"), "ok")) {
		printf("  checkpoints: off: %s\n", jstr(c, "why", "?"));
		return;
	}
	printf("  checkpoints: final %s (%s behind commit)", jnum(c, "final_seq", a, sizeof(a)),
	       jnum(c, "behind_commit", b, sizeof(b)));
	p = json_object_get(c, "pending");
	if (json_is_object(p))
		printf(", pending %s with %s of %s sites", jnum(p, "size", a, sizeof(a)),
		       jnum(p, "vouched", b, sizeof(b)), jnum(p, "needed", n, sizeof(n)));
	printf("\n");
	if (json_is_string(json_object_get(c, "last_refusal")))
		printf("  last cosign refusal: %s\n", jstr(c, "last_refusal", ""));
}

void cluster_status_print(json_t *st)
{
	json_t *vols = json_object_get(st, "volumes"), *v, *rep;
	char id[24], pid[24], up[24], term[24], last[24], commit[24], fin[24];
	size_t i;

	printf("cluster %s: site %s (id %s), georepd pid %s, up %ss, peers %s/%s up%s\n",
	       jstr(st, "cluster", "?"), jstr(st, "site", "?"),
	       jnum(st, "site_id", id, sizeof(id)), jnum(st, "pid", pid, sizeof(pid)),
	       jnum(st, "uptime_s", up, sizeof(up)), jnum(st, "peers_up", last, sizeof(last)),
	       jnum(st, "peers_total", commit, sizeof(commit)),
	       !strcmp(jstr(st, "transport", ""), "tls") ? " (mutual TLS 1.3)" :
	       !strcmp(jstr(st, "transport", ""), "tcp") ? " (PLAIN TCP, lab only)" : "");
	json_array_foreach(vols, i, v) {
		printf("\nvolume %s: commit %s, quorum loss %s\n", jstr(v, "name", "?"),
		       jstr(v, "commit_rule", "?"), jstr(v, "quorum_loss", "?"));
		rep = json_object_get(v, "replica");
		if (!json_is_object(rep)) {
			printf("  no replication engine attached at this site\n");
			continue;
		}
		if (!strcmp(jstr(rep, "engine", ""), "genesis")) {
			/* day one: no kernel volume yet (Documentation/replication.rst) */
			printf("  no replica yet (kernel volume %s): %s: %s (creator: %s)\n",
			       jstr(rep, "kernel_volume", "?"), jstr(rep, "state", "?"),
			       jstr(rep, "why", ""), jstr(rep, "creator", "?"));
			continue;
		}
		printf("  leader %s, term %s, this site %s, writable %s, policy: %s, io %s\n",
		       jstr(rep, "leader", "none"), jnum(rep, "term", term, sizeof(term)),
		       jstr(rep, "role", "?"),
		       json_is_true(json_object_get(rep, "writable")) ? "yes" : "no",
		       jstr(rep, "policy", "?"), jstr(rep, "io_state", "-"));
		printf("  log: last %s, committed %s, final %s, ledger %s (%s)\n",
		       jnum(rep, "last_seq", last, sizeof(last)),
		       jnum(rep, "commit_seq", commit, sizeof(commit)),
		       jnum(rep, "final_seq", fin, sizeof(fin)),
		       jstr(rep, "ledger", "?"), jstr(rep, "ledger_role", "?"));
		if (json_is_string(json_object_get(rep, "error")))
			printf("  ERROR: %s\n", jstr(rep, "error", ""));
		print_sites(st, rep);
		print_forks(rep);
		print_heal(rep);
		print_resync_failing(rep);
		print_merkle(rep);
		print_scrub(rep);
		print_checkpoint(rep);
	}
	if (!json_array_size(vols))
		printf("\nno replicated volume at this site\n");
	printf("\n");
}
