// SPDX-License-Identifier: GPL-2.0
/*
 * The replication engine seen from the control socket: status and forced
 * failover (the quorum-loss policy and switchover are in engine_policy.c).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "georep/nl.h"
#include "engine_internal.h"

/* The ledger's side, the counters and the subsystems' objects. */
static void status_more(struct engine *e, json_t *o, const struct gd_ledger_status *lst,
			uint64_t commit_seq, uint64_t now)
{
	json_object_set_new(o, "ledger_role", json_string(lst->role == GEOREP_ROLE_PRIMARY ?
							 "primary" : "secondary"));
	json_object_set_new(o, "frames_dropped", json_integer(e->frames_dropped));
	json_object_set_new(o, "records_refused", json_integer(e->records_refused));
	json_object_set_new(o, "appends_log_full", json_integer(e->log_full));
	/* shipped: from the ship buffer, or read from the ledger for it */
	json_object_set_new(o, "shipped_bytes", json_integer(e->bytes_sent));
	json_object_set_new(o, "ship_read_bytes", json_integer(e->ship_read));
	json_object_set_new(o, "ship_buffered_bytes", json_integer(e->ship_buffered));
	json_object_set_new(o, "ship_joined", json_integer(e->ship_joined));
	/* a follower behind the ship buffer: reads for it, APPENDs that waited */
	json_object_set_new(o, "catchup_reads", json_integer(e->cu.reads));
	json_object_set_new(o, "appends_deferred", json_integer(e->appends_deferred));
	json_object_set_new(o, "resyncs_done", json_integer(e->resyncs_done));
	/* leader: reads of the data device (and anchors) for full resyncs */
	json_object_set_new(o, "resync_reads", json_integer(e->rsb.reads));
	json_object_set_new(o, "resync_read_errors", json_integer(e->rsb.read_errors));
	/* other sites' requests for Merkle leaves: answered, dropped past the rate */
	json_object_set_new(o, "mleaf_answered", json_integer(e->mleaf_answered));
	json_object_set_new(o, "mleaf_dropped", json_integer(e->mleaf_dropped));
	if (e->rsb.fails)	/* failing now: where, why, how often, since when */
		json_object_set_new(o, "resync_read_failing", json_pack(
			"{s:s, s:I, s:s, s:i, s:I, s:f}",
			"what", e->rsb.err_anchor ? "anchor" : "data",
			e->rsb.err_anchor ? "seq" : "offset", (json_int_t)e->rsb.err_at,
			"error", strerror(-e->rsb.err), "errno", -e->rsb.err,
			"failures", (json_int_t)e->rsb.fails,
			"for_s", (gr_now_ns() - e->rsb.fail_since_ns) / 1e9));
	json_object_set_new(o, "stages", gd_stages_json(&e->stages));
	/* a full resync being copied to us: from whom, to which point, how far */
	if (e->rs_in.active)
		json_object_set_new(o, "resync", json_pack(
			"{s:s, s:I, s:I, s:I}", "from",
			gd_cluster(e->d)->sites[e->rs_in.from].name,
			"seq", (json_int_t)e->rs_in.seq, "copied_bytes", (json_int_t)e->rs_in.copied,
			"size_bytes", (json_int_t)lst->data_bytes));
	json_object_set_new(o, "io_state", json_string(georep_io_state_name(lst->io_state)));
	json_object_set_new(o, "open_count", json_integer(lst->open_count));
	if (e->sw_pending)
		json_object_set_new(o, "switchover", json_pack(
			"{s:s, s:f}", "to", gd_cluster(e->d)->sites[e->sw_to].name,
			"wait_s_left", e->sw_deadline_ns > now ?
			(e->sw_deadline_ns - now) / 1e9 : 0.0));
	/* fork heal (engine_heal.c): in sync once nothing is left to heal */
	json_object_set_new(o, "diverged", json_boolean(lst->diverged));
	json_object_set_new(o, "heal", eng_heal_status(e));
	json_object_set_new(o, "merkle", eng_mtree_status(e));
	json_object_set_new(o, "scrub", eng_scrub_status(e));
	json_object_set_new(o, "final_seq", json_integer(eng_ckpt_final_seq(e)));
	json_object_set_new(o, "checkpoint", eng_ckpt_status(e, commit_seq));
	json_object_set_new(o, "keys", eng_key_status(e));
	json_object_set_new(o, "heals_done", json_integer(e->heals_done));
	json_object_set_new(o, "heal_blocks_served", json_integer(e->heal_served));
	json_object_set_new(o, "heal_scan_reads", json_integer(e->heal_scan_reads));
	json_object_set_new(o, "heal_requests",
			    json_pack("{s:I, s:I, s:I}", "received", (json_int_t)e->heal_req_in,
				      "busy", (json_int_t)e->heal_req_busy,
				      "unavailable", (json_int_t)e->heal_req_unavailable));
	json_object_set_new(o, "in_sync", json_boolean(!lst->diverged && !e->heal.active &&
						       !e->diverged_orphan &&
						       !e->rs_in.active));
	if (e->failed)
		json_object_set_new(o, "error", json_string(e->fail_reason));
}

json_t *eng_status(struct gr_replica *r)
{
	struct engine *e = (struct engine *)r;
	const struct gr_cluster *c = gd_cluster(e->d);
	uint64_t now = gr_now_ns();
	struct gd_ledger_status st = { 0 };
	struct gr_status gs;
	json_t *sites = json_array(), *forks = json_array(), *o;
	size_t i;
	unsigned int k;

	gr_status(e->n, &gs);
	e->lg->ops->status(e->lg, &st);
	for (i = 0; i < c->nsites; i++) {
		struct gr_progress_info pi;
		const struct gd_peer *p = &e->d->peers[i];
		bool self = i == gd_self(e->d);
		json_t *so;

		if (!e->ids[i])
			continue;
		so = json_pack("{s:s, s:I, s:s, s:b}", "site", c->sites[i].name,
			       "site_id", (json_int_t)e->ids[i], "role",
			       e->ids[i] == gs.leader ? "primary" : "secondary",
			       "connected", self || (gd_peer_up(e->d, i) && !e->drop[i]));
		if (!so)
			continue;
		if (self) {
			json_object_set_new(so, "term", json_integer(gs.term));
			json_object_set_new(so, "written_seq", json_integer(st.written_seq));
			json_object_set_new(so, "commit_seq", json_integer(st.commit_seq));
			json_object_set_new(so, "applied_seq", json_integer(st.applied_seq));
		} else {
			if (gd_peer_hb_live(p)->have_rtt)
				json_object_set_new(so, "rtt_ms",
						    json_real(gd_peer_hb_live(p)->srtt_ms));
			/* what the follower's last answer said of its ledger */
			if (gs.role == GR_LEADER && e->peer_seqs[i].valid) {
				json_object_set_new(so, "written_seq",
						    json_integer(e->peer_seqs[i].written));
				json_object_set_new(so, "commit_seq",
						    json_integer(e->peer_seqs[i].commit));
				json_object_set_new(so, "applied_seq",
						    json_integer(e->peer_seqs[i].applied));
			}
		}
		if (gs.role == GR_LEADER && !gr_progress(e->n, e->ids[i], &pi)) {
			uint64_t bytes = 0, s;
			struct gr_entry ent;
			static const char *const prs[] = { "probe", "replicate", "resync" };

			for (s = pi.match + 1; s <= gs.last_seq && s <= pi.match + 100000; s++)
				if (!gr_entry_get(e->n, s, &ent))
					bytes += ent.bytes + GEOREP_RECORD_HDR_SIZE;
			json_object_set_new(so, "match_seq", json_integer(pi.match));
			json_object_set_new(so, "state", json_string(pi.state <= GR_PR_RESYNC ?
								     prs[pi.state] : "?"));
			json_object_set_new(so, "lag_records", json_integer(gs.last_seq - pi.match));
			json_object_set_new(so, "lag_bytes", json_integer(bytes));
			json_object_set_new(so, "lag_s", json_real(pi.match >= gs.last_seq ? 0 :
						(now - e->caught_up_ns[i]) / 1e9));
			json_object_set_new(so, "voter", json_boolean(pi.voter));
			json_object_set_new(so, "inflight_msgs", json_integer(pi.inflight_msgs));
			json_object_set_new(so, "inflight_bytes", json_integer(pi.inflight_bytes));
			if (e->rs_out[i].active)
				json_object_set_new(so, "resync", json_pack(
					"{s:I, s:I, s:I}", "seq", (json_int_t)e->rs_out[i].seq,
					"pass", (json_int_t)e->rs_out[i].passes,
					"sent_bytes", (json_int_t)e->rs_out[i].off));
		}
		json_array_append_new(sites, so);
	}
	for (k = 0; k < e->nforks; k++)
		json_array_append_new(forks, json_pack("{s:s, s:I, s:I, s:I, s:I}",
						       "path", e->forks[k].path,
						       "from", (json_int_t)e->forks[k].from,
						       "to", (json_int_t)e->forks[k].to,
						       "records", (json_int_t)e->forks[k].records,
						       "bytes", (json_int_t)e->forks[k].bytes));
	o = json_pack("{s:s, s:s, s:s, s:I, s:s?, s:b, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I,"
		      " s:I, s:I, s:I, s:I, s:o, s:o, s:I}",
		      "engine", "consensus", "ledger", e->lg->ops->name,
		      "role", eng_role_name(gs.role), "term", (json_int_t)gs.term,
		      "leader", gs.leader ? eng_site_name(e, gs.leader) : NULL,
		      "writable", gs.writable, "policy", eng_policy_state(e),
		      "last_seq", (json_int_t)gs.last_seq,
		      "commit_seq", (json_int_t)gs.commit_seq,
		      "written_seq", (json_int_t)st.written_seq,
		      "applied_seq", (json_int_t)st.applied_seq,
		      "tail_seq", (json_int_t)st.tail_seq,
		      "ledger_term", (json_int_t)st.term,
		      "proposed", (json_int_t)e->proposed,
		      "appended", (json_int_t)e->appended,
		      "append_calls", (json_int_t)e->append_calls,
		      "append_us", (json_int_t)(e->append_ns / 1000),
		      "elections_won", (json_int_t)e->elections_won,
		      "sites", sites, "forks", forks,
		      "forks_total", (json_int_t)e->forks_total);
	if (o)
		status_more(e, o, &st, gs.commit_seq, now);
	return o;
}

/* What routing needs (bpf.c's health map): no lag bytes, nothing that scans. */
void eng_health(struct gr_replica *r, struct gd_vol_health *h)
{
	struct engine *e = (struct engine *)r;
	const struct gr_cluster *c = gd_cluster(e->d);
	struct gr_progress_info pi;
	struct gr_status gs;
	size_t i;

	memset(h, 0, sizeof(*h));
	h->leader = -1;
	h->degraded = true;
	if (e->failed || !e->n)
		return;
	gr_status(e->n, &gs);
	if (gs.leader)
		h->leader = eng_site_index(e, gs.leader);
	h->quorum = eng_have_quorum(e);
	h->degraded = strcmp(eng_policy_state(e), "ok") != 0;
	for (i = 0; i < c->nsites; i++) {
		if (!e->ids[i])
			continue;
		h->site[i].member = true;
		h->site[i].reachable = i == gd_self(e->d) ||
				       (gd_peer_up(e->d, i) && !e->drop[i]);
		if (gs.role == GR_LEADER && !gr_progress(e->n, e->ids[i], &pi) &&
		    gs.last_seq > pi.match)
			h->site[i].lag_records = gs.last_seq - pi.match;
		h->site[i].resync_out = e->rs_out[i].active;
	}
}

/*
 * failover --force: make this site the only voter and elect it. The last
 * resort when a majority of the volume's sites is lost for good: records
 * committed only on the lost sites are lost, and the lost sites must not
 * rejoin with their old logs (rebuild them: delete their state and ledger).
 */
int eng_failover(struct gr_replica *r, char *err)
{
	struct engine *e = (struct engine *)r;
	struct gd_vstate st = e->vol->state;
	uint32_t i;
	int ret;

	if (e->role == GR_LEADER) {
		snprintf(err, GR_CTL_ERRLEN, "site %s already is the primary of %s",
			 gd_cluster(e->d)->sites[gd_self(e->d)].name, e->name);
		return -EALREADY;
	}
	/* the last resort takes this site's data device as it is */
	eng_heal_abandon(e);
	for (i = 0; i < st.nmembers; i++)
		st.members[i].voter = st.members[i].site_id == e->self_id;
	st.term++;
	st.vote = 0;
	ret = gd_volume_save_state(e->d, e->vol, &st);
	if (ret) {
		snprintf(err, GR_CTL_ERRLEN, "cannot save the new membership: %s", strerror(-ret));
		return ret;
	}
	gr_node_free(e->n);
	e->n = NULL;
	ret = eng_node_start(e);
	if (ret) {
		snprintf(err, GR_CTL_ERRLEN, "cannot restart consensus: %s", strerror(-ret));
		engine_fail(e, "forced failover: %s", strerror(-ret));
		return ret;
	}
	gd_warn("volume %s: FORCED FAILOVER: this site is now the only voter (term %llu)",
		e->name, (unsigned long long)st.term);
	gd_event(e->d, "forced-failover", json_pack("{s:s, s:I}", "volume", e->name,
						    "term", (json_int_t)st.term));
	return 0;
}
