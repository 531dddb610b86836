// SPDX-License-Identifier: GPL-2.0
/* Control socket commands of georepd: status, events, switchover, failover. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "georep/nl.h"
#include "georepd.h"
#include "bpf.h"

static json_t *volume_json(struct georepd *d, const struct gd_volume *v)
{
	json_t *o, *members = json_array();
	uint32_t i;

	for (i = 0; members && i < v->state.nmembers; i++)
		json_array_append_new(members, json_pack("{s:I, s:b}", "site_id",
				(json_int_t)v->state.members[i].site_id,
				"voter", v->state.members[i].voter));
	o = json_pack("{s:s, s:s, s:s, s:I, s:I, s:I, s:o, s:I, s:I, s:I}",
		      "name", v->cfg->name, "commit_rule", georep_commit_rule_name(v->cfg->commit_rule),
		      "quorum_loss", v->cfg->quorum_loss == GR_QLOSS_FAIL ? "fail" : "suspend",
		      "term", (json_int_t)v->state.term, "vote", (json_int_t)v->state.vote,
		      "commit", (json_int_t)v->state.commit, "members", members,
		      "frames_in", (json_int_t)v->frames_in,
		      "frames_dropped", (json_int_t)v->frames_dropped,
		      "frames_foreign", (json_int_t)v->frames_foreign);
	if (o)
		json_object_set_new(o, "replica", v->replica && v->replica->ops->status_json ?
				    v->replica->ops->status_json(v->replica) : json_null());
	return o;
}

/* the event loop's turns (Documentation/georepd.8, "status") */
static json_t *loop_json(const struct georepd *d)
{
	struct gr_loop_stats st;

	gr_loop_stats(d->loop, &st);
	return json_pack("{s:I, s:f, s:f, s:I, s:I}", "turns", (json_int_t)st.turns,
			 "busy_s", st.busy_ns / 1e9, "max_turn_ms", st.max_turn_ns / 1e6,
			 "slow_turns", (json_int_t)st.slow_turns,
			 "slow_turn_ms", (json_int_t)(GR_LOOP_SLOW_NS / 1000000));
}

static int h_status(struct gr_ctl_client *cl, json_t *req, json_t **resp,
		    char *err, void *arg)
{
	struct georepd *d = arg;
	json_t *peers = json_array(), *vols = json_array();
	unsigned int i, up = 0;

	if (!peers || !vols)
		goto out_nomem;
	for (i = 0; i < d->cfg->nsites; i++) {
		if (i == d->self)
			continue;
		json_array_append_new(peers, gd_peer_json(&d->peers[i]));
		up += d->peers[i].conn != NULL;
	}
	for (i = 0; i < d->nvols; i++)
		json_array_append_new(vols, volume_json(d, &d->vols[i]));
	*resp = json_pack("{s:s, s:I, s:s, s:s, s:i, s:I, s:f, s:I, s:i, s:i, s:o, s:o}",
			  "site", d->me->name, "site_id", (json_int_t)d->me->site_id,
			  "region", d->me->region, "cluster", d->cfg->cluster,
			  "pid", (int)getpid(), "listen_port",
			  (json_int_t)gr_listener_port(d->listener),
			  "uptime_s", (gr_now_ms() - d->start_ms) / 1e3,
			  "rejected_connections", (json_int_t)d->rejected,
			  "peers_up", (int)up, "peers_total", (int)d->cfg->nsites - 1,
			  "peers", peers, "volumes", vols);
	if (*resp) {
		/* "tls" (mutual TLS 1.3) or "tcp" (--insecure-plaintext) */
		json_object_set_new(*resp, "transport", json_string(d->tp->ops->name));
		json_object_set_new(*resp, "loop", loop_json(d));
		return 0;
	}
	peers = vols = NULL;	/* "o" stole them even on failure */
out_nomem:
	json_decref(peers);
	json_decref(vols);
	return -ENOMEM;
}

static int h_events(struct gr_ctl_client *cl, json_t *req, json_t **resp,
		    char *err, void *arg)
{
	gr_ctl_subscribe(cl);
	*resp = json_pack("{s:b}", "subscribed", 1);
	return 0;
}

/* The volume named in the request, with a replica at this site. */
static struct gd_volume *req_volume(struct georepd *d, json_t *req, char *err)
{
	const char *name = json_string_value(json_object_get(req, "volume"));
	size_t i;

	if (!name) {
		snprintf(err, GR_CTL_ERRLEN, "missing \"volume\" (a string)");
		return NULL;
	}
	for (i = 0; i < d->nvols; i++)
		if (!strcmp(d->vols[i].cfg->name, name))
			return &d->vols[i];
	if (gr_cluster_volume(d->cfg, name))
		snprintf(err, GR_CTL_ERRLEN, "volume \"%.64s\" has no replica at site %s",
			 name, d->me->name);
	else
		snprintf(err, GR_CTL_ERRLEN, "unknown volume \"%.64s\"", name);
	return NULL;
}

static int no_engine(struct georepd *d, struct gd_volume *v, char *err)
{
	snprintf(err, GR_CTL_ERRLEN,
		 "volume \"%s\": no replication engine is attached at site %s",
		 v->cfg->name, d->me->name);
	return -EOPNOTSUPP;
}

static int h_switchover(struct gr_ctl_client *cl, json_t *req, json_t **resp,
			char *err, void *arg)
{
	struct georepd *d = arg;
	struct gd_volume *v = req_volume(d, req, err);
	const char *to = json_string_value(json_object_get(req, "to"));
	json_t *wait = json_object_get(req, "wait_s");
	int site, ret;

	if (!v)
		return -EINVAL;
	if (!to) {
		snprintf(err, GR_CTL_ERRLEN, "missing \"to\" (the new primary's site)");
		return -EINVAL;
	}
	site = gr_cluster_site_index(d->cfg, to);
	if (site < 0 || !gr_volume_replica(v->cfg, site)) {
		snprintf(err, GR_CTL_ERRLEN, "site \"%.64s\" has no replica of volume \"%s\"",
			 to, v->cfg->name);
		return -EINVAL;
	}
	if (wait && (!json_is_integer(wait) || json_integer_value(wait) < 0 ||
		     json_integer_value(wait) > 86400)) {
		snprintf(err, GR_CTL_ERRLEN, "\"wait_s\" must be seconds, 0..86400");
		return -EINVAL;
	}
	if (!v->replica || !v->replica->ops->switchover)
		return no_engine(d, v, err);
	ret = v->replica->ops->switchover(v->replica, site,
					  wait ? (unsigned int)json_integer_value(wait) : 0, err);
	if (ret < 0)
		return ret;
	/* held until the device is closed: "waiting": true */
	*resp = ret == 1 ? json_pack("{s:s, s:s, s:b}", "volume", v->cfg->name, "to", to,
				     "waiting", 1) :
		json_pack("{s:s, s:s}", "volume", v->cfg->name, "to", to);
	return 0;
}

static int h_failover(struct gr_ctl_client *cl, json_t *req, json_t **resp,
		      char *err, void *arg)
{
	struct georepd *d = arg;
	struct gd_volume *v = req_volume(d, req, err);
	int ret;

	if (!v)
		return -EINVAL;
	if (!json_is_true(json_object_get(req, "force"))) {
		snprintf(err, GR_CTL_ERRLEN, "%s",
			 "failover promotes this site without the old primary's consent: confirm with \"force\": true");
		return -EPERM;
	}
	if (!v->replica || !v->replica->ops->failover)
		return no_engine(d, v, err);
	ret = v->replica->ops->failover(v->replica, err);
	if (!ret)
		*resp = json_pack("{s:s, s:s}", "volume", v->cfg->name, "primary",
				  d->me->name);
	return ret;
}

static int h_bpf_status(struct gr_ctl_client *cl, json_t *req, json_t **resp,
			char *err, void *arg)
{
	struct georepd *d = arg;

	*resp = gd_bpf_status_json(d, d->bpf);
	return *resp ? 0 : -ENOMEM;
}

/*
 * {"cmd": "bpf-set", "attached": bool [, "program": "admit" | "pace"]}:
 * attach or detach a loaded program (admit when not named)
 */
static int h_bpf_set(struct gr_ctl_client *cl, json_t *req, json_t **resp,
		     char *err, void *arg)
{
	json_t *on = json_object_get(req, "attached"), *prog = json_object_get(req, "program");
	const char *name = prog ? json_string_value(prog) : "admit";
	struct georepd *d = arg;
	int ret;

	if (!json_is_boolean(on)) {
		snprintf(err, GR_CTL_ERRLEN, "missing \"attached\" (true or false)");
		return -EINVAL;
	}
	if (!name || (strcmp(name, "admit") && strcmp(name, "pace"))) {
		snprintf(err, GR_CTL_ERRLEN, "\"program\": expected \"admit\" or \"pace\"");
		return -EINVAL;
	}
	if (!strcmp(name, "pace"))
		ret = gd_bpf_set_pace_attached(d, d->bpf, json_is_true(on), err, GR_CTL_ERRLEN);
	else
		ret = gd_bpf_set_attached(d->bpf, json_is_true(on), err, GR_CTL_ERRLEN);
	if (ret)
		return ret;
	*resp = gd_bpf_status_json(d, d->bpf);
	return *resp ? 0 : -ENOMEM;
}

int gd_control_start(struct georepd *d)
{
	const char *why = "";
	int ret;

	ret = gr_ctl_new(d->loop, d->ctl_path, &d->ctl, &why);
	if (ret) {
		gd_err("control socket %s: %s: %s", d->ctl_path, why, strerror(-ret));
		return ret;
	}
	if (gr_ctl_register(d->ctl, "status", h_status, d) ||
	    gr_ctl_register(d->ctl, "events", h_events, d) ||
	    gr_ctl_register(d->ctl, "switchover", h_switchover, d) ||
	    gr_ctl_register(d->ctl, "failover", h_failover, d) ||
	    gr_ctl_register(d->ctl, "bpf-status", h_bpf_status, d) ||
	    gr_ctl_register(d->ctl, "bpf-set", h_bpf_set, d))
		return -ENOMEM;
	return 0;
}

void gd_event(struct georepd *d, const char *name, json_t *fields)
{
	json_t *ev = json_pack("{s:s, s:f}", "event", name, "time_s",
			       (gr_now_ms() - d->start_ms) / 1e3);

	if (ev && fields)
		json_object_update(ev, fields);
	json_decref(fields);
	if (ev && d->ctl)
		gr_ctl_broadcast(d->ctl, ev);
	json_decref(ev);
}
