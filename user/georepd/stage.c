// SPDX-License-Identifier: GPL-2.0
/*
 * The stages of a replicated write inside georepd (stage.h).
 */
#include <errno.h>
#include <string.h>

#include "georep/pctl.h"
#include "stage.h"

void gd_sample(struct gd_samples *s, uint64_t ns)
{
	s->ns[s->next] = ns;
	s->next = (s->next + 1) % GD_STAGE_SAMPLES;
	if (s->n < GD_STAGE_SAMPLES)
		s->n++;
	s->count++;
}

static void sorted(const struct gd_samples *s, uint64_t *v)
{
	memcpy(v, s->ns, s->n * sizeof(*v));
	georep_sort_u64(v, s->n);
}

int gd_samples_pct(const struct gd_samples *s, unsigned int pct, uint64_t *ns)
{
	uint64_t v[GD_STAGE_SAMPLES];

	if (!s->n || pct > 100)
		return -ENODATA;
	sorted(s, v);
	*ns = georep_nearest_rank(v, s->n, pct);
	return 0;
}

void gd_stage_restart(struct gd_stages *st, uint64_t commit)
{
	memset(st, 0, sizeof(*st));
	st->committed = commit;
}

void gd_stage_read(struct gd_stages *st, uint64_t seq, uint64_t now)
{
	struct gd_stage_rec *r = &st->ring[seq % GD_STAGE_RING];

	r->seq = seq;
	r->read_ns = now;
	r->sent_ns = 0;
}

void gd_stage_sent(struct gd_stages *st, uint64_t first, uint32_t n, uint64_t now)
{
	uint64_t seq;

	/* only the last GD_STAGE_RING seqs can be held */
	if (n > GD_STAGE_RING)
		first += n - GD_STAGE_RING;
	for (seq = first; seq < first + n; seq++) {
		struct gd_stage_rec *r = &st->ring[seq % GD_STAGE_RING];

		if (r->seq == seq && !r->sent_ns)
			r->sent_ns = now;
	}
}

void gd_stage_committed(struct gd_stages *st, uint64_t commit, uint64_t now)
{
	uint64_t seq = st->committed + 1;

	if (commit <= st->committed)
		return;
	if (commit - st->committed > GD_STAGE_RING)
		seq = commit - GD_STAGE_RING + 1;
	for (; seq <= commit; seq++) {
		struct gd_stage_rec *r = &st->ring[seq % GD_STAGE_RING];

		if (r->seq != seq || !r->sent_ns)
			continue;
		gd_sample(&st->send, r->sent_ns - r->read_ns);
		gd_sample(&st->quorum, now - r->sent_ns);
		r->seq = 0;
	}
	st->committed = commit;
}

static json_t *samples_json(const struct gd_samples *s)
{
	uint64_t v[GD_STAGE_SAMPLES];

	sorted(s, v);
	return json_pack("{s:I, s:I, s:I, s:I, s:I}", "count", (json_int_t)s->count,
			 "n", (json_int_t)s->n,
			 "p50_us", (json_int_t)(georep_nearest_rank(v, s->n, 50) / 1000),
			 "p99_us", (json_int_t)(georep_nearest_rank(v, s->n, 99) / 1000),
			 "max_us", (json_int_t)(v[s->n - 1] / 1000));
}

json_t *gd_stages_json(const struct gd_stages *st)
{
	const struct {
		const char *name;
		const struct gd_samples *s;
	} all[] = {
		{ "read_to_sent", &st->send },
		{ "sent_to_quorum", &st->quorum },
		{ "set_commit", &st->set_commit },
		{ "set_commit_cpu", &st->set_commit_cpu },
		{ "follower_rx_to_ack", &st->follower },
	};
	json_t *o = json_object();
	size_t i;

	for (i = 0; o && i < sizeof(all) / sizeof(all[0]); i++)
		if (all[i].s->n)
			json_object_set_new(o, all[i].name, samples_json(all[i].s));
	return o;
}
