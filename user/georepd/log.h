/* SPDX-License-Identifier: GPL-2.0 */
/*
 * georepd logging: "georepd[<site>]: <message>" on stderr in the foreground,
 * syslog (daemon facility) otherwise. Per-event-source rate limiting for
 * anything a peer can trigger at will.
 */
#ifndef _GEOREPD_LOG_H
#define _GEOREPD_LOG_H

#include <stdbool.h>
#include <stdint.h>
#include <syslog.h>

void gd_log_init(const char *site, bool use_syslog, bool verbose);
void gd_log(int prio, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define gd_err(...)	gd_log(LOG_ERR, __VA_ARGS__)
#define gd_warn(...)	gd_log(LOG_WARNING, __VA_ARGS__)
#define gd_info(...)	gd_log(LOG_INFO, __VA_ARGS__)
#define gd_dbg(...)	gd_log(LOG_DEBUG, __VA_ARGS__)

/* at most @burst messages per @interval_ms; the rest are counted */
struct gd_ratelimit {
	unsigned int interval_ms, burst;
	uint64_t begin_ms;
	unsigned int printed, missed;
};

#define GD_RATELIMIT_INIT	{ .interval_ms = 5000, .burst = 10 }

bool gd_ratelimit(struct gd_ratelimit *rl);

#endif /* _GEOREPD_LOG_H */
