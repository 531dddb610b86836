// SPDX-License-Identifier: GPL-2.0
/* Unit tests of what a follower keeps of its log (user/georepd/retain.c). */
#include <string.h>

#include "../retain.h"
#include "ktap.h"

#define MIB (1ULL << 20)
#define CAP 65536ULL		/* the core's default log capacity */

static struct gd_ledger_status log_of(uint64_t tail, uint64_t written, uint64_t used,
				      uint64_t size)
{
	struct gd_ledger_status st;

	memset(&st, 0, sizeof(st));
	st.tail_seq = tail;
	st.written_seq = written;
	st.log_used = used;
	st.log_size = size;
	return st;
}

/* Below half the log and half the core: everything applied stays. */
static void test_keeps_below_half(void)
{
	struct gd_ledger_status st = log_of(1, 10240, 10240 * 8192, 512 * MIB);

	CHECK(gd_follower_keep(&st, 10240, CAP) == 0);
	/* no log size (the mem ledger): only the core's count applies */
	st = log_of(1, 30000, 0, 0);
	CHECK(gd_follower_keep(&st, 30000, CAP) == 0);
	/* nothing held */
	st = log_of(0, 500, 0, 512 * MIB);
	CHECK(gd_follower_keep(&st, 500, CAP) == 0);
}

/*
 * Past half the log: the oldest records go, down to a quarter of it by
 * the average record. 100 records of 1 MiB in a 128 MiB log (78%): keep
 * the last 32, from record 69 on.
 */
static void test_half_log_down_to_quarter(void)
{
	struct gd_ledger_status st = log_of(1, 100, 100 * MIB, 128 * MIB);

	CHECK(gd_follower_keep(&st, 100, CAP) == 69);
	/* never past applied */
	CHECK(gd_follower_keep(&st, 50, CAP) == 50);
	/* a tail further on: the same count from there */
	st = log_of(1001, 1100, 100 * MIB, 128 * MIB);
	CHECK(gd_follower_keep(&st, 1100, CAP) == 1069);
	/* just over half: down to a quarter all the same */
	st = log_of(1, 65, 65 * MIB, 128 * MIB);
	CHECK(gd_follower_keep(&st, 65, CAP) == 34);
}

/*
 * Half the core's capacity of small records in a large log (40000 records
 * of 8 KiB in 2 GiB, 15%): down to a quarter of the capacity, 16384
 * records.
 */
static void test_half_core_down_to_quarter(void)
{
	struct gd_ledger_status st = log_of(1, 40000, 40000ULL * 8192, 2048 * MIB);

	CHECK(gd_follower_keep(&st, 40000, CAP) == 40000 - 16384 + 1);
	/* both rules: the one that drops more wins */
	st = log_of(1, 40000, 40000ULL * 8192, 400 * MIB);
	CHECK(gd_follower_keep(&st, 40000, CAP) ==
	      1 + (40000ULL * 8192 - 100 * MIB + 8191) / 8192);
	/* exactly half the core: kept */
	st = log_of(1, CAP / 2, 0, 0);
	CHECK(gd_follower_keep(&st, CAP / 2, CAP) == 0);
}

static const struct ktap_case cases[] = {
	{ "retain_keeps_below_half", test_keeps_below_half },
	{ "retain_half_log_down_to_quarter", test_half_log_down_to_quarter },
	{ "retain_half_core_down_to_quarter", test_half_core_down_to_quarter },
};

int main(void)
{
	return ktap_run(cases, sizeof(cases) / sizeof(cases[0]));
}
