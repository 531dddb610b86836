/* SPDX-License-Identifier: GPL-2.0 */
/*
 * georepd's BPF programs (ebpf/, Documentation/ebpf.rst), loaded from their
 * libbpf skeletons:
 *
 *   admit  raw_tp.w/georep_admit: write admission in georep.ko; georepd
 *          writes each local volume's follower lag into its lag map once
 *          a second and reads its per-volume counters for `bpf-status`.
 *   route  cgroup/connect4 and connect6 on the site's "route_cgroup":
 *          connects to a volume's service address go to the primary's
 *          backend, or are refused where the volume has no quorum or is
 *          degraded; georepd keeps its health map current (bpf_route.c).
 *   pace   cgroup_skb/egress on georepd's own cgroup: departure times
 *          (EDT, kept by fq) for the replication connections, at the
 *          site's "pace_mbit" per peer (bpf_pace.c).
 *
 * --bpf off (default): nothing is loaded; the kernel's watermark rules.
 * --bpf auto: loaded and attached where the kernel allows; a failure is
 *             logged with libbpf's reason and georepd runs without it.
 * --bpf on:   a program that fails to load or attach stops georepd.
 *
 * The links are file descriptors of this process: georepd's exit, even by
 * kill -9, detaches everything.
 */
#ifndef _GEOREPD_BPF_H
#define _GEOREPD_BPF_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>

struct georepd;
struct gd_bpf;

enum gd_bpf_mode {
	GD_BPF_OFF = 0,
	GD_BPF_AUTO,
	GD_BPF_ON,
};

/* "off", "auto", "on"; -EINVAL for anything else */
int gd_bpf_parse_mode(const char *s, enum gd_bpf_mode *mode);
/* 0 (also when a program failed in auto mode), or -errno in on mode */
int gd_bpf_start(struct georepd *d, enum gd_bpf_mode mode, struct gd_bpf **out);
/* every tick: refreshes the lag map once a second */
void gd_bpf_tick(struct georepd *d, struct gd_bpf *b);
/* attach or detach admit at run time (georepctl bpf attach|detach) */
int gd_bpf_set_attached(struct gd_bpf *b, bool on, char *err, size_t errlen);
json_t *gd_bpf_status_json(struct georepd *d, struct gd_bpf *b);
void gd_bpf_stop(struct gd_bpf *b);

/*
 * bpf.c: attach @progs[i] to the cgroup v2 directory @path, each link into
 * *@links[i] (stops at the first failure). Return: 0 or -errno, and why in
 * @why (with libbpf's reason).
 */
struct bpf_program;
struct bpf_link;
int gd_bpf_attach_cgroup(const char *path, struct bpf_program *const progs[],
			 struct bpf_link **const links[], size_t n, char *why, size_t len);

/* bpf.c: libbpf's first warning since the last reset (the reason of a failure) */
const char *gd_bpf_reason(void);
void gd_bpf_reason_reset(void);

/*
 * bpf_route.c: the route program. *out NULL without a "route_cgroup" for
 * this site; else set even on failure (its status says why). Return: 0 or
 * -errno (load or attach failed).
 */
struct gd_route;
int gd_route_start(struct georepd *d, struct gd_route **out);
/* every tick: the health map, when it changed and once a second */
void gd_route_tick(struct georepd *d, struct gd_route *r);
json_t *gd_route_json(struct georepd *d, struct gd_route *r);
void gd_route_stop(struct gd_route *r);

/*
 * bpf_pace.c: the pace program. *out NULL without "pace_mbit" for this
 * site; else set even on failure (its status says why). Return: 0 or
 * -errno (load or attach failed).
 */
struct gd_pace;
int gd_pace_start(struct georepd *d, struct gd_pace **out);
/* every tick: the rates map follows the peer connections */
void gd_pace_tick(struct georepd *d, struct gd_pace *p);
json_t *gd_pace_json(struct georepd *d, struct gd_pace *p);
/* attach or detach pace at run time (georepctl bpf attach|detach pace) */
int gd_pace_set_attached(struct georepd *d, struct gd_pace *p, bool on, char *err,
			 size_t errlen);
int gd_bpf_set_pace_attached(struct georepd *d, struct gd_bpf *b, bool on, char *err,
			     size_t errlen);
void gd_pace_stop(struct gd_pace *p);

#endif /* _GEOREPD_BPF_H */
