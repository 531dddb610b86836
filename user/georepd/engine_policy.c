// SPDX-License-Identifier: GPL-2.0
/*
 * What the replication engine makes the block device do with writes:
 *
 *  - the quorum-loss policy (Documentation/admin-guide.rst): when this site
 *    was the last primary it knows of and cannot reach a majority, the
 *    ledger's io state becomes suspend (writes wait, no seq taken) or fail
 *    (writes fail with EIO), and run again once this site leads with a
 *    quorum or follows another leader;
 *  - switchover with the device in use: refused (EBUSY) while the
 *    primary's block device is open, or held until it is closed (--wait).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "georep/nl.h"
#include "engine_internal.h"

/* Majority of voters reachable (this site counts)? */
bool eng_have_quorum(const struct engine *e)
{
	const struct gr_conf *conf = gr_conf_active(e->n);
	unsigned int voters = 0, up = 0, i;

	for (i = 0; i < conf->n; i++) {
		int idx;

		if (!conf->voter[i])
			continue;
		voters++;
		idx = eng_site_index(e, conf->site[i]);
		if (conf->site[i] == e->self_id ||
		    (idx >= 0 && gd_peer_up(e->d, idx) && !e->drop[idx]))
			up++;
	}
	return 2 * up > voters;
}

/*
 * The quorum-loss policy's state: "ok", or, when this site was the last
 * primary it knows of and cannot reach a majority, "suspended: no quorum"
 * (writes wait) or "failing: no quorum" (writes fail with EIO).
 */
const char *eng_policy_state(const struct engine *e)
{
	if (e->failed)
		return "failed";
	if (e->last_leader != e->self_id || eng_have_quorum(e))
		return "ok";
	return e->vol->cfg->quorum_loss == GR_QLOSS_FAIL ? "failing: no quorum" :
	       "suspended: no quorum";
}

/*
 * Apply the quorum-loss policy to the ledger's io state. A leader that
 * loses its majority gets ENG_QLOSS_GRACE_MS first (a connection that
 * comes back at once changes nothing); a leader being deposed without a
 * successor (@demoting: check-quorum step-down) or a site that is no longer
 * leader gets the policy's state at once, before its ledger becomes
 * secondary, so the application's new writes wait (suspend) or fail
 * (fail) instead of reaching a secondary. The state is only written when
 * the policy's wish changes: an admin's `georepctl volume set --io-state`
 * stays until then.
 */
void eng_io_policy(struct engine *e, uint64_t now, bool demoting)
{
	uint8_t want = GEOREP_IO_RUN;
	int ret;

	if (e->failed || !e->lg->ops->set_io_state)
		return;
	if (e->last_leader == e->self_id && !eng_have_quorum(e)) {
		if (!e->noq_since_ns)
			e->noq_since_ns = now;
		if (demoting || e->role != GR_LEADER ||
		    now - e->noq_since_ns >= ENG_QLOSS_GRACE_MS * 1000000ULL)
			want = e->vol->cfg->quorum_loss == GR_QLOSS_FAIL ? GEOREP_IO_FAIL :
			       GEOREP_IO_SUSPEND;
		else
			want = e->io_state;
	} else {
		e->noq_since_ns = 0;
	}
	if (want == e->io_state)
		return;
	ret = e->lg->ops->set_io_state(e->lg, want);
	if (ret) {
		if (gd_ratelimit(&e->rl))
			gd_warn("volume %s: cannot set io state %s: %s", e->name,
				georep_io_state_name(want), strerror(-ret));
		return;
	}
	gd_info("volume %s: io state %s -> %s (policy: %s)", e->name,
		georep_io_state_name(e->io_state), georep_io_state_name(want), eng_policy_state(e));
	gd_event(e->d, "io-state", json_pack("{s:s, s:s, s:s}", "volume", e->name,
					     "io_state", georep_io_state_name(want),
					     "policy", eng_policy_state(e)));
	e->io_state = want;
}

/* a pending switchover --wait: give up, with @why in the log and an event */
static void sw_cancel(struct engine *e, const char *why)
{
	const char *to = gd_cluster(e->d)->sites[e->sw_to].name;

	gd_warn("volume %s: switchover to %s abandoned: %s", e->name, to, why);
	gd_event(e->d, "switchover", json_pack("{s:s, s:s, s:s, s:s}", "volume", e->name,
					       "to", to, "result", "abandoned", "reason", why));
	e->sw_pending = false;
}

static int transfer(struct engine *e, unsigned int to, char *err)
{
	int ret = gr_transfer(e->n, e->ids[to], gr_now_ns());

	if (ret) {
		snprintf(err, GR_CTL_ERRLEN, "transfer to %s refused by the consensus core: %s",
			 gd_cluster(e->d)->sites[to].name, strerror(-ret));
		return ret;
	}
	gd_event(e->d, "switchover", json_pack("{s:s, s:s, s:s}", "volume", e->name,
					       "to", gd_cluster(e->d)->sites[to].name,
					       "result", "started"));
	engine_process(e, NULL);
	return 0;
}

/* Every tick: a held switchover goes once the device is closed. */
void eng_switchover_poll(struct engine *e, uint64_t now)
{
	struct gd_ledger_status st;
	char err[GR_CTL_ERRLEN];

	if (!e->sw_pending)
		return;
	if (e->failed || e->role != GR_LEADER) {
		sw_cancel(e, "this site is no longer the primary");
		return;
	}
	if (e->lg->ops->status(e->lg, &st))
		return;
	if (st.open_count) {
		if (now >= e->sw_deadline_ns)
			sw_cancel(e, "the device is still in use");
		return;
	}
	e->sw_pending = false;
	gd_info("volume %s: device closed, switchover to %s", e->name,
		gd_cluster(e->d)->sites[e->sw_to].name);
	if (transfer(e, e->sw_to, err))
		gd_warn("volume %s: %s", e->name, err);
}

/*
 * Planned switchover, asked at the primary. The primary's block device
 * open (a mount, a writer) would see its next writes fail once this site
 * is secondary, so, as DRBD refuses to demote a device in use: with
 * @wait_s 0 it is refused with -EBUSY and a message naming the openers;
 * with @wait_s it is held (return 1) and done by eng_switchover_poll() as
 * soon as the device is closed, or abandoned after @wait_s seconds.
 * Return: 0 (transfer started), 1 (held), -errno with @err.
 */
int eng_switchover(struct gr_replica *r, unsigned int to, unsigned int wait_s, char *err)
{
	struct engine *e = (struct engine *)r;
	const char *here = gd_cluster(e->d)->sites[gd_self(e->d)].name;
	struct gd_ledger_status st;
	int ret;

	if (e->failed) {
		snprintf(err, GR_CTL_ERRLEN, "replication of %s stopped: %s", e->name,
			 e->fail_reason);
		return -EIO;
	}
	if (to == gd_self(e->d) && e->role == GR_LEADER)
		return 0;
	if (e->role != GR_LEADER) {
		snprintf(err, GR_CTL_ERRLEN, "site %s is not the primary of %s (primary: %s); ask it",
			 here, e->name, e->leader ? eng_site_name(e, e->leader) : "unknown");
		return -ENOTCONN;
	}
	ret = e->lg->ops->status(e->lg, &st);
	if (ret) {
		snprintf(err, GR_CTL_ERRLEN, "cannot read the ledger's status: %s",
			 strerror(-ret));
		return ret;
	}
	if (st.open_count && !wait_s) {
		snprintf(err, GR_CTL_ERRLEN,
			 "%s is in use at %s (open %u time%s): unmount or stop the writer first, or --wait SEC",
			 e->name, here, st.open_count, st.open_count == 1 ? "" : "s");
		return -EBUSY;
	}
	if (st.open_count) {
		e->sw_pending = true;
		e->sw_to = to;
		e->sw_deadline_ns = gr_now_ns() + wait_s * 1000000000ULL;
		gd_info("volume %s: switchover to %s held until the device is closed (%u s)",
			e->name, gd_cluster(e->d)->sites[to].name, wait_s);
		gd_event(e->d, "switchover", json_pack("{s:s, s:s, s:s, s:I}", "volume", e->name,
						       "to", gd_cluster(e->d)->sites[to].name,
						       "result", "waiting",
						       "open_count", (json_int_t)st.open_count));
		return 1;
	}
	e->sw_pending = false;
	return transfer(e, to, err);
}
