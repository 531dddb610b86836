// SPDX-License-Identifier: GPL-2.0
/*
 * Role changes of the replication engine: the ledger made primary or
 * secondary (fencing) as the core elects or deposes this site, the
 * barrier (NOOP) a new leader writes, and a truncated suffix kept in a
 * fork file first.
 */
#include <errno.h>
#include <string.h>

#include "engine_internal.h"

/* Keep a ledger suffix @from..written in a fork file, then truncate it away. */
int eng_fork_and_truncate(struct engine *e, uint64_t from)
{
	struct gd_ledger_status st;
	struct gd_fork fk;
	int ret;

	ret = e->lg->ops->status(e->lg, &st);
	if (ret)
		return ret;
	if (from > st.written_seq)
		return 0;
	ret = gd_fork_save(e->lg, gd_statedir_path(e->d->sd), e->name, from,
			   st.written_seq, &fk);
	if (ret) {
		gd_err("volume %s: cannot keep records %llu..%llu in a fork file: %s", e->name,
		       (unsigned long long)from, (unsigned long long)st.written_seq,
		       strerror(-ret));
		return ret;
	}
	eng_ckpt_sign_fork(e, st.written_seq, fk.path);
	/*
	 * A deposed primary's own records are on its data device: their
	 * blocks are healed from the leader (engine_heal.c), the heal noted
	 * durably before the truncation. The kernel also refuses a plain
	 * truncation (EINVAL) over writes of the deposed primary whose data
	 * landed after the demotion, beyond the applied_seq it reports. During
	 * a heal every truncation joins it (its scan state is rebuilt).
	 */
	ret = st.applied_seq >= from || e->heal.active ? -EINVAL :
	      e->lg->ops->truncate(e->lg, from - 1);
	if (ret == -EINVAL) {
		ret = eng_heal_add(e, fk.path, from - 1);
		if (!ret)
			ret = e->lg->ops->truncate_applied(e->lg, from - 1);
	}
	if (ret) {
		gd_err("volume %s: truncate after %llu: %s", e->name,
		       (unsigned long long)from - 1, strerror(-ret));
		return ret;
	}
	eng_mtree_truncated(e, from - 1);
	gd_warn("volume %s: records %llu..%llu (terms %llu..%llu) truncated, kept in %s",
		e->name, (unsigned long long)fk.from, (unsigned long long)fk.to,
		(unsigned long long)fk.term_first, (unsigned long long)fk.term_last, fk.path);
	if (e->nforks == ENG_MAX_FORKS)
		memmove(e->forks, e->forks + 1, sizeof(e->forks[0]) * --e->nforks);
	e->forks[e->nforks++] = fk;
	e->forks_total++;
	gd_event(e->d, "fork", json_pack("{s:s, s:I, s:I, s:s}", "volume", e->name,
					 "from", (json_int_t)fk.from, "to", (json_int_t)fk.to,
					 "path", fk.path));
	return 0;
}

void eng_on_role(struct engine *e, const struct gr_ready *rd, uint64_t now)
{
	bool was_leader = e->role == GR_LEADER;
	struct gr_status gs;
	int ret;

	if (rd->role == GR_LEADER && !was_leader) {
		ret = e->lg->ops->set_role(e->lg, GEOREP_ROLE_PRIMARY, rd->term);
		if (ret)
			engine_fail(e, "cannot make the ledger primary in term %llu: %s",
				    (unsigned long long)rd->term, strerror(-ret));
		e->elections_won++;
		e->proposed_to = 0;
	} else if (rd->role != GR_LEADER) {
		/*
		 * deposed without a successor (check-quorum): the quorum-loss
		 * policy's io state first, so new writes wait or fail rather
		 * than reach a secondary
		 */
		if (was_leader && !rd->leader)
			eng_io_policy(e, now, true);
		/* fencing first: a deposed primary stops taking writes now */
		ret = e->lg->ops->set_role(e->lg, GEOREP_ROLE_SECONDARY, rd->term);
		if (ret)
			engine_fail(e, "cannot make the ledger secondary in term %llu: %s",
				    (unsigned long long)rd->term, strerror(-ret));
		if (was_leader) {
			/* records the ledger wrote but the core never saw */
			eng_fork_and_truncate(e, e->core_last + 1);
		}
	}
	if (rd->role != e->role || rd->term != e->term || rd->leader != e->leader) {
		gd_info("volume %s: %s in term %llu, leader %s", e->name, eng_role_name(rd->role),
			(unsigned long long)rd->term,
			rd->leader ? eng_site_name(e, rd->leader) ?: "?" : "unknown");
		gd_event(e->d, "role", json_pack("{s:s, s:s, s:I, s:s?}", "volume", e->name,
						 "role", eng_role_name(rd->role),
						 "term", (json_int_t)rd->term, "leader",
						 rd->leader ? eng_site_name(e, rd->leader) : NULL));
	}
	if (rd->role != e->role) {
		e->role_since_ns = now;
		/* the stages measure this role's writes only, a leader's of its term */
		gr_status(e->n, &gs);
		gd_stage_restart(&e->stages, gs.commit_seq);
	}
	if (rd->role != e->role || rd->term != e->term) {
		/* a new term's log: read again */
		gd_shipbuf_reset(&e->sb);
		gd_shipbuf_reset(&e->cb);
		e->cu.want = 0;
		eng_deferred_drop(e);
	}
	e->role = rd->role;
	e->term = rd->term;
	e->leader = rd->leader;
	if (rd->leader)
		e->last_leader = rd->leader;
}

/* Leader: the core appended entries (its barrier) the ledger must write. */
int eng_leader_appends(struct engine *e, uint64_t from, uint64_t to)
{
	struct gd_ledger_status st;
	uint64_t seq;
	struct gr_entry ent;
	int ret;

	/*
	 * records this leader read from its ledger and proposed: there
	 * already (no netlink round trip before the APPENDs go out)
	 */
	if (to <= e->proposed_to)
		return 0;
	ret = e->lg->ops->status(e->lg, &st);
	if (ret)
		return ret;
	for (seq = from; seq <= to; seq++) {
		if (seq <= st.written_seq)
			continue;	/* a proposed record: already there */
		if (gr_entry_get(e->n, seq, &ent) || ent.kind != GR_ENTRY_NOOP) {
			engine_fail(e, "core appended entry %llu of kind %u beyond the ledger",
				    (unsigned long long)seq, ent.kind);
			return -EIO;
		}
		ret = e->lg->ops->noop(e->lg, &st.written_seq);
		if (ret) {
			engine_fail(e, "barrier record: %s", strerror(-ret));
			return ret;
		}
		if (st.written_seq < seq) {
			engine_fail(e, "barrier got seq %llu, the core expects %llu",
				    (unsigned long long)st.written_seq, (unsigned long long)seq);
			return -EIO;
		}
		/*
		 * A client write that raced between set_role and noop holds
		 * seq: it stands for the barrier; the NOOP is proposed later.
		 */
	}
	return 0;
}
