// SPDX-License-Identifier: GPL-2.0
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "georep/evloop.h"
#include "log.h"

static char prefix[64] = "georepd";
static bool to_syslog;
static bool debug;

void gd_log_init(const char *site, bool use_syslog, bool verbose)
{
	snprintf(prefix, sizeof(prefix), "georepd[%s]", site);
	to_syslog = use_syslog;
	debug = verbose;
	if (use_syslog)
		openlog(prefix, LOG_PID, LOG_DAEMON);
}

void gd_log(int prio, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	if (prio == LOG_DEBUG && !debug)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (to_syslog) {
		syslog(prio, "%s", msg);
		return;
	}
	fprintf(stderr, "%s: %s\n", prefix, msg);
	fflush(stderr);
}

bool gd_ratelimit(struct gd_ratelimit *rl)
{
	uint64_t now = gr_now_ms();

	if (!rl->begin_ms || now - rl->begin_ms >= rl->interval_ms) {
		if (rl->missed)
			gd_warn("%u messages suppressed", rl->missed);
		rl->begin_ms = now;
		rl->printed = 0;
		rl->missed = 0;
	}
	if (rl->printed < rl->burst) {
		rl->printed++;
		return true;
	}
	rl->missed++;
	return false;
}
