// SPDX-License-Identifier: GPL-2.0
/*
 * Consensus simulator: simulated disks (pending writes, fsync, what a crash keeps).
 */
#include "sim_internal.h"

/* ---- disk ------------------------------------------------------------- */

void op_push(struct site *st, const struct dop *op)
{
	if (st->nops == st->opcap) {
		st->opcap = st->opcap ? st->opcap * 2 : 256;
		st->ops = realloc(st->ops, st->opcap * sizeof(*st->ops));
		if (!st->ops)
			abort();
	}
	st->ops[st->nops++] = *op;
}

void op_apply(struct sim *S, struct site *st, const struct dop *op)
{
	switch (op->type) {
	case OP_TRUNC:
		if (st->dur_len > op->seq)
			st->dur_len = op->seq;
		break;
	case OP_APPEND:
		if (op->seq != st->dur_len + 1) {
			fail(S, "site%u disk: append of %llu after %llu",
			     st->id, (unsigned long long)op->seq,
			     (unsigned long long)st->dur_len);
			return;
		}
		st->dur[op->seq] = op->e;
		st->dur_len = op->seq;
		break;
	case OP_RESET:	/* atomic: log, snapshot point and membership */
		memcpy(&st->dur[1], &S->canon[1], op->seq * sizeof(struct sent));
		st->dur_len = op->seq;
		st->snap_seq = op->seq;
		st->snap_term = op->e.term;
		st->snap_conf = op->conf;
		st->conf_seq = op->conf_seq;
		break;
	}
}

void keep(struct site *st, const struct sent *e)
{
	if (st->n_kept == st->kept_cap) {
		st->kept_cap = st->kept_cap ? st->kept_cap * 2 : 64;
		st->kept_ids = realloc(st->kept_ids,
				       st->kept_cap * sizeof(uint64_t));
		if (!st->kept_ids)
			abort();
	}
	st->kept_ids[st->n_kept++] = e->id;
	st->preserved++;
}
