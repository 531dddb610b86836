// SPDX-License-Identifier: GPL-2.0
/*
 * Consensus simulator: the simulated network.
 */
#include "sim_internal.h"

/* ---- network ---------------------------------------------------------- */

void net_send(struct sim *S, struct site *from, const struct smsg *sm)
{
	uint32_t to = sm->m.to - 1, k, copies = 1;

	if (to >= S->n)
		return;
	if (S->blocked[from->id - 1][to])
		return;
	if (S->faults && chance(S, S->loss_pm))
		return;
	if (S->faults && chance(S, S->dup_pm))
		copies = 2;
	for (k = 0; k < copies; k++) {
		struct smsg *c = malloc(sizeof(*c));
		uint64_t d = rr(S, S->dmin_us, S->dmax_us) * 1000;

		if (!c)
			abort();
		memcpy(c, sm, sizeof(*c));
		push(S, S->now + d, EV_MSG, to, c);
	}
}

const char *mname(uint8_t t)
{
	static const char *const n[] = { "?", "PREVOTE", "PREVOTE_RESP",
		"VOTE", "VOTE_RESP", "APPEND", "APPEND_RESP", "HEARTBEAT",
		"HEARTBEAT_RESP", "TIMEOUT_NOW", "RESYNC" };

	return t <= GR_MSG_RESYNC ? n[t] : "?";
}

const char *rname(enum gr_role r)
{
	static const char *const n[] = { "follower", "precandidate",
		"candidate", "leader" };

	return n[r];
}
