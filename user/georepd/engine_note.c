// SPDX-License-Identifier: GPL-2.0
/*
 * The signed checkpoints a site stores, read by another site over the
 * replication link (NOTE_REQ/NOTE, Documentation/wire-protocol.rst), so
 * that `georepctl verify --via` sees every site's fork evidence through one
 * (Documentation/proofs.rst, "Comparing sites"):
 *
 *   {"cmd": "remote-note", "volume": V, "site": S, "kind": "final"|"fork",
 *    "index": I, "nonce": X}
 *	{"pending": true} until site S answered the request X (slots and
 *	resends as remote-root, engine_root.c), then {"site", "kind",
 *	"index", "count", "status"} and, by status: "ok" the "checkpoint"
 *	(and a fork file's "path"); "none" (no such note: index >= count);
 *	"bad" (S's stored file is no signed checkpoint; a fork file's "path").
 *
 * A site keeps one final checkpoint (<volume>.final) and one checkpoint per
 * fork file (<fork>.checkpoint), listed in the order of their names. Each is
 * sent as it is stored, once it passed the checks a CKPT's note passes.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "final.h"

#include "engine_internal.h"

/* "<volume>.fork-<from>-<to>-<time>.checkpoint" of volume @name? */
static bool fork_ckpt_name(const char *file, const char *name)
{
	size_t n = strlen(name), l = strlen(file);
	static const char sfx[] = ".checkpoint";

	return !strncmp(file, name, n) && !strncmp(file + n, ".fork-", 6) &&
	       l > n + 6 + sizeof(sfx) - 1 && !strcmp(file + l - (sizeof(sfx) - 1), sfx);
}

/* the note of @dir/@file (at most GD_FINAL_MAX bytes), NULL if unreadable */
static json_t *read_note(int dfd, const char *file)
{
	char note[GD_FINAL_MAX + 1];
	/* non-blocking: a FIFO of that name must not stall the event loop */
	int fd = openat(dfd, file, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	struct stat st;
	ssize_t n = -1;

	if (fd >= 0 && !fstat(fd, &st) && S_ISREG(st.st_mode))
		n = read(fd, note, sizeof(note));
	if (fd >= 0)
		close(fd);
	if (n <= 0 || n > GD_FINAL_MAX || memchr(note, 0, n))
		return NULL;
	return json_stringn(note, n);
}

/*
 * {"path", "checkpoint"} of one fork file; a path that is no UTF-8 (any
 * bytes but '/' and NUL are allowed) with each such byte as '?': listed,
 * not dropped. @note is taken. NULL: out of memory.
 */
static json_t *fork_entry(const char *path, json_t *note)
{
	json_t *p = json_string(path);
	char *lossy;
	size_t i;

	if (!p) {
		lossy = strdup(path);
		for (i = 0; lossy && lossy[i]; i++)
			if ((unsigned char)lossy[i] >= 0x80)
				lossy[i] = '?';
		p = lossy ? json_string(lossy) : NULL;
		free(lossy);
	}
	if (!p) {
		json_decref(note);
		return NULL;
	}
	return json_pack("{s:o, s:o*}", "path", p, "checkpoint", note);
}

/*
 * [{"path", "checkpoint"}]: the signed checkpoint this site wrote for each
 * fork file of the volume in its state directory ("<fork>.checkpoint",
 * eng_ckpt_sign_fork()), as it is, in the order of the paths; an unreadable
 * one (not a regular file, too long, not UTF-8 text) without "checkpoint".
 * NULL with @err on failure.
 */
json_t *eng_fork_notes(struct engine *e, char *err)
{
	const char *dir = gd_statedir_path(e->d->sd);
	struct dirent **names = NULL;
	char path[PATH_MAX];
	json_t *forks, *note;
	int dfd, i, n;

	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	n = dfd < 0 ? -1 : scandir(dir, &names, NULL, alphasort);
	if (n < 0) {
		snprintf(err, GR_CTL_ERRLEN, "state directory %s: %s", dir, strerror(errno));
		if (dfd >= 0)
			close(dfd);
		return NULL;
	}
	forks = json_array();
	for (i = 0; i < n; i++) {
		const char *name = names[i]->d_name;

		if (forks && fork_ckpt_name(name, e->name)) {
			note = read_note(dfd, name);
			/* the fork file's path: the name without ".checkpoint" */
			snprintf(path, sizeof(path), "%s/%.*s", dir,
				 (int)(strlen(name) - strlen(".checkpoint")), name);
			if (json_array_append_new(forks, fork_entry(path, note))) {
				json_decref(forks);
				forks = NULL;
			}
		}
		free(names[i]);
	}
	free(names);
	close(dfd);
	if (!forks)
		snprintf(err, GR_CTL_ERRLEN, "out of memory");
	return forks;
}

/*
 * A fork file's path for the frame, in @buf: a control byte (a path may
 * hold any) as '?'; longer than GR_NOTE_PATH_MAX: its file name (cut).
 */
static const char *frame_path(const char *path, char *buf)
{
	size_t i;

	if (strlen(path) > GR_NOTE_PATH_MAX && strrchr(path, '/'))
		path = strrchr(path, '/') + 1;
	snprintf(buf, GR_NOTE_PATH_MAX + 1, "%s", path);
	for (i = 0; buf[i]; i++)
		if (gr_ctl_byte(buf[i]))
			buf[i] = '?';
	return buf;
}

/* NOTE for @q: @note (or none) of @count at @index, @path for a fork file */
static void note_send(struct engine *e, unsigned int from, const struct gr_note_req *q,
		      uint32_t count, const char *path, const char *note)
{
	struct gr_frame f = { .hdr.type = GR_FT_NOTE, .hdr.version = GR_WIRE_VERSION_NOTE };
	char err[GR_WIRE_ERRLEN], pbuf[GR_NOTE_PATH_MAX + 1];
	uint8_t root[32];
	uint32_t text_len;
	uint64_t size;

	f.hdr.volume = e->vol->cfg->wire_id;
	f.note.nonce = q->nonce;
	f.note.kind = q->kind;
	f.note.index = q->index;
	f.note.count = count;
	f.note.status = GR_NOTE_NONE;
	if (q->index < count) {
		f.note.status = GR_NOTE_OK;
		f.note.note = note;
		f.note.note_len = note ? strlen(note) : 0;
		if (gr_wire_check_note(note, f.note.note_len, "stored", &size, root, &text_len,
				       err)) {
			f.note.status = GR_NOTE_BAD;
			f.note.note_len = 0;
			if (gd_ratelimit(&e->rl))
				gd_warn("volume %s: %s checkpoint %u asked by %s answered bad: %s%s%s",
					e->name, q->kind == GR_NOTE_FORK ? "fork" : "final",
					q->index, gd_cluster(e->d)->sites[from].name, err,
					path ? " in " : "", path ?: "");
		}
		if (q->kind == GR_NOTE_FORK) {
			f.note.path = frame_path(path ?: "?", pbuf);
			f.note.path_len = strlen(f.note.path);
		}
	}
	eng_send_frame(e, from, &f);
}

/*
 * The fork listing for NOTE_REQs: one directory scan per ENG_NOTES_NS at
 * most, however many requests come (one per fork file from each `verify
 * --via`, or a peer asking in a loop), and the same list throughout one
 * verify. A fork file made here drops it (eng_fork_notes_stale()).
 */
static json_t *cached_fork_notes(struct engine *e, char *err)
{
	uint64_t now = gr_now_ns();

	if (e->fork_notes && now - e->fork_notes_ns < ENG_NOTES_NS)
		return e->fork_notes;
	eng_fork_notes_stale(e);
	e->fork_notes = eng_fork_notes(e, err);
	e->fork_notes_ns = now;
	return e->fork_notes;
}

void eng_fork_notes_stale(struct engine *e)
{
	json_decref(e->fork_notes);
	e->fork_notes = NULL;
}

/* any site: its final checkpoint, or its fork files' checkpoint @q->index */
static void note_answer(struct engine *e, unsigned int from, const struct gr_note_req *q)
{
	char err[GR_CTL_ERRLEN];
	const char *note;
	json_t *forks, *fk;
	uint64_t size;

	if (q->kind == GR_NOTE_FINAL) {
		note = eng_ckpt_final(e, &size);
		note_send(e, from, q, note ? 1 : 0, NULL, note);
		return;
	}
	forks = cached_fork_notes(e, err);
	if (!forks) {
		/*
		 * no answer: "none" would say there are no fork files; the
		 * asker times out and says its listing is incomplete
		 */
		if (gd_ratelimit(&e->rl))
			gd_warn("volume %s: fork checkpoints asked by %s, not answered: %s",
				e->name, gd_cluster(e->d)->sites[from].name, err);
		return;
	}
	fk = json_array_get(forks, q->index);
	note_send(e, from, q, json_array_size(forks),
		  json_string_value(json_object_get(fk, "path")),
		  json_string_value(json_object_get(fk, "checkpoint")));
}

static const char *const kind_names[] = { [GR_NOTE_FINAL] = "final", [GR_NOTE_FORK] = "fork" };
static const char *const status_names[] = {
	[GR_NOTE_OK] = "ok", [GR_NOTE_NONE] = "none", [GR_NOTE_BAD] = "bad",
};

/* the asking site: the answer, kept as the control reply until it is read */
static void note_take(struct engine *e, unsigned int from, const struct gr_note *n)
{
	struct eng_root_slot *s = eng_remote_waiting(e, from, n->nonce, GR_FT_NOTE_REQ,
						     (uint64_t)n->kind << 32 | n->index);

	if (!s)
		return;		/* an answer nobody waits for any more: dropped */
	s->note = json_pack("{s:s, s:s, s:I, s:I, s:s}", "site",
			    gd_cluster(e->d)->sites[from].name, "kind", kind_names[n->kind],
			    "index", (json_int_t)n->index, "count", (json_int_t)n->count,
			    "status", status_names[n->status]);
	/* bytes that are no UTF-8 cannot be JSON: said, not dropped */
	if (s->note && n->path_len && json_object_set_new(s->note, "path",
						json_stringn(n->path, n->path_len)))
		json_object_set_new(s->note, "path", json_string("(not UTF-8)"));
	if (s->note && n->note_len && json_object_set_new(s->note, "checkpoint",
						json_stringn(n->note, n->note_len)))
		json_object_set_new(s->note, "status", json_string("bad"));
	if (s->note)
		eng_remote_answered(s);
}

int eng_note_frame(struct engine *e, unsigned int from, const struct gr_frame *f)
{
	if (f->hdr.type == GR_FT_NOTE_REQ)
		note_answer(e, from, &f->note_req);
	else
		note_take(e, from, &f->note);
	return 0;
}

int eng_note_remote(struct gr_ctl_client *cl, json_t *req, json_t **resp, char *err, void *arg)
{
	struct engine *e = eng_lookup(arg, req, err);
	const char *name = NULL, *kind = NULL;
	json_int_t index = 0, nonce = 0;
	struct eng_root_slot *s;
	uint32_t k;
	int site, ret;

	if (!e)
		return -EINVAL;
	if (json_unpack(req, "{s:s, s:s, s?I, s:I}", "site", &name, "kind", &kind, "index",
			&index, "nonce", &nonce) || !nonce || index < 0 || index > UINT32_MAX ||
	    (strcmp(kind, "final") && strcmp(kind, "fork")) ||
	    (!strcmp(kind, "final") && index)) {
		snprintf(err, GR_CTL_ERRLEN, "remote-note: needs site, kind (final or fork), "
			 "nonce (not 0), index 0..%u (final: 0)", UINT32_MAX);
		return -EINVAL;
	}
	k = strcmp(kind, "final") ? GR_NOTE_FORK : GR_NOTE_FINAL;
	site = eng_remote_site(e, name, GR_WIRE_VERSION_NOTE, "stored checkpoints", err);
	if (site < 0)
		return site;
	ret = eng_remote_poll(e, site, (uint64_t)nonce, GR_FT_NOTE_REQ,
			      (uint64_t)k << 32 | (uint32_t)index, &s, resp, err);
	if (ret || !s)
		return ret;
	*resp = json_incref(s->note);
	eng_remote_done(s);
	return 0;
}
