// SPDX-License-Identifier: GPL-2.0
/* Unit tests of the leader's ship buffer (user/georepd/shipbuf.c). */
#include <string.h>

#include "../shipbuf.h"
#include "ktap.h"

/* Read records @seq.. of @len bytes each into the room, filled with seq. */
static int put(struct gd_shipbuf *sb, uint64_t seq, uint64_t term, int count, size_t len)
{
	uint8_t *p = gd_shipbuf_room(sb, seq, term, count * len);

	if (!p)
		return -1;
	for (int i = 0; i < count; i++) {
		memset(p + i * len, (uint8_t)(seq + i), len);
		gd_shipbuf_keep(sb, len);
	}
	return 0;
}

/* @count records from @seq are held, each filled with its seq. */
static bool holds(struct gd_shipbuf *sb, uint64_t seq, uint32_t count, size_t len)
{
	const uint8_t *p;
	size_t got;

	p = gd_shipbuf_get(sb, seq, count, &got);
	if (!p || got != count * len)
		return false;
	for (uint32_t i = 0; i < count; i++)
		if (p[i * len] != (uint8_t)(seq + i) || p[(i + 1) * len - 1] != (uint8_t)(seq + i))
			return false;
	return true;
}

static void test_keep_and_get(void)
{
	struct gd_shipbuf sb;
	size_t len;

	gd_shipbuf_init(&sb, 1 << 20);
	CHECK(!gd_shipbuf_get(&sb, 1, 1, &len));
	CHECK(put(&sb, 10, 3, 5, 1000) == 0);
	CHECK(put(&sb, 15, 3, 5, 1000) == 0);	/* follows: kept on */
	CHECK(sb.first == 10 && sb.n == 10 && sb.len == 10000);
	CHECK(holds(&sb, 10, 10, 1000));
	CHECK(holds(&sb, 12, 3, 1000));
	CHECK(holds(&sb, 19, 1, 1000));
	CHECK(!gd_shipbuf_get(&sb, 9, 2, &len));	/* starts before */
	CHECK(!gd_shipbuf_get(&sb, 18, 3, &len));	/* ends after */
	CHECK(!gd_shipbuf_get(&sb, 12, 0, &len));
	CHECK(sb.hits == 3 && sb.misses == 4);
	gd_shipbuf_free(&sb);
}

/* A new term, or a seq that does not follow, starts over. */
static void test_starts_over(void)
{
	struct gd_shipbuf sb;
	size_t len;

	gd_shipbuf_init(&sb, 1 << 20);
	CHECK(put(&sb, 1, 1, 4, 100) == 0);
	CHECK(put(&sb, 7, 1, 2, 100) == 0);	/* a gap: 5 and 6 never kept */
	CHECK(sb.first == 7 && sb.n == 2);
	CHECK(!gd_shipbuf_get(&sb, 1, 1, &len) && holds(&sb, 7, 2, 100));
	CHECK(put(&sb, 9, 2, 1, 100) == 0);	/* follows, in another term */
	CHECK(sb.first == 9 && sb.n == 1 && sb.term == 2);
	CHECK(!gd_shipbuf_get(&sb, 7, 1, &len) && holds(&sb, 9, 1, 100));
	gd_shipbuf_reset(&sb);
	CHECK(!gd_shipbuf_get(&sb, 9, 1, &len));
	/* a room not kept (the core was full) is read again */
	CHECK(gd_shipbuf_room(&sb, 20, 2, 500) != NULL);
	CHECK(put(&sb, 20, 2, 1, 500) == 0 && holds(&sb, 20, 1, 500) && sb.n == 1);
	gd_shipbuf_free(&sb);
}

/* Past max the oldest go, the newest stay; a record larger than max fits. */
static void test_drops_oldest(void)
{
	struct gd_shipbuf sb;
	size_t len;
	uint64_t seq;

	gd_shipbuf_init(&sb, 64 << 10);
	for (seq = 1; seq <= 100; seq += 4)
		CHECK(put(&sb, seq, 1, 4, 4096) == 0);
	CHECK(sb.len <= 64 << 10 && sb.first + sb.n == 101);
	CHECK(holds(&sb, 101 - sb.n, sb.n, 4096));
	CHECK(!gd_shipbuf_get(&sb, 1, 1, &len));
	CHECK(put(&sb, 101, 1, 1, 200 << 10) == 0);
	CHECK(sb.first == 101 && sb.n == 1 && holds(&sb, 101, 1, 200 << 10));
	CHECK(put(&sb, 102, 1, 2, 4096) == 0);
	CHECK(sb.first == 102 && holds(&sb, 102, 2, 4096));
	gd_shipbuf_free(&sb);
}

static const struct ktap_case cases[] = {
	{ "shipbuf_keep_and_get", test_keep_and_get },
	{ "shipbuf_starts_over", test_starts_over },
	{ "shipbuf_drops_oldest", test_drops_oldest },
};

int main(void)
{
	return ktap_run(cases, sizeof(cases) / sizeof(cases[0]));
}
