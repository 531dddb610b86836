// SPDX-License-Identifier: GPL-2.0
/* Unit tests of georepd's durable state (user/georepd/state.c). */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../state.h"
#include "ktap.h"

static char base[] = "/tmp/georep-state-XXXXXX";
static char dir[256];
static char err[256];

static bool exists(const char *name)
{
	char p[512];

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	return access(p, F_OK) == 0;
}

static void test_roundtrip(void)
{
	struct gd_statedir *sd;
	struct gd_vstate st = { .term = 7, .vote = 2, .commit = 1000, .nmembers = 3 }, got;
	struct stat sb;

	CHECK(mkdtemp(base) != NULL);
	/* nested and missing: created */
	snprintf(dir, sizeof(dir), "%s/a/b", base);
	CHECK(gd_statedir_open(dir, &sd, err) == 0);
	CHECK(stat(dir, &sb) == 0 && (sb.st_mode & 0777) == 0700);
	CHECK(gd_vstate_load(sd, "v0", &got, err) == -ENOENT);
	st.members[0] = (struct gd_member){ 1, true };
	st.members[1] = (struct gd_member){ 2, true };
	st.members[2] = (struct gd_member){ 9, false };
	CHECK(gd_vstate_save(sd, "v0", &st) == 0);
	CHECK(gd_vstate_load(sd, "v0", &got, err) == 0);
	CHECK(got.term == 7 && got.vote == 2 && got.commit == 1000 && got.nmembers == 3);
	CHECK(got.members[2].site_id == 9 && !got.members[2].voter && got.members[0].voter);
	st.term = 8;
	st.vote = 0;
	CHECK(gd_vstate_save(sd, "v0", &st) == 0);
	CHECK(gd_vstate_load(sd, "v0", &got, err) == 0 && got.term == 8 && got.vote == 0);
	CHECK(!exists("v0.state.tmp") && exists("v0.state"));
	gd_statedir_close(sd);
}

static void test_lock(void)
{
	struct gd_statedir *a, *b;
	int status;
	pid_t pid;

	CHECK(gd_statedir_open(dir, &a, err) == 0);
	/* flock is per open file: a second process must be refused */
	pid = fork();
	if (pid == 0)
		_exit(gd_statedir_open(dir, &b, err) == -EWOULDBLOCK &&
		      strstr(err, "in use by another georepd") ? 0 : 1);
	CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
	      WEXITSTATUS(status) == 0);
	gd_statedir_close(a);
	CHECK(gd_statedir_open(dir, &b, err) == 0);
	gd_statedir_close(b);
}

static void test_crash_before_rename(void)
{
	struct gd_vstate st = { .term = 20, .vote = 1 }, got;
	struct gd_statedir *sd;

	CHECK(gd_statedir_open(dir, &sd, err) == 0);
	CHECK(gd_statedir_cleaned(sd) == 0);
	/* the daemon "dies" after writing the temp file of term 20 */
	gd_state_fail_point = GD_FAIL_BEFORE_RENAME;
	CHECK(gd_vstate_save(sd, "v0", &st) == -EIO);
	CHECK(exists("v0.state.tmp"));
	gd_statedir_close(sd);

	/* restart: the old state (term 8) is what counts; the leftover goes */
	CHECK(gd_statedir_open(dir, &sd, err) == 0);
	CHECK(gd_statedir_cleaned(sd) == 1);
	CHECK(!exists("v0.state.tmp"));
	CHECK(gd_vstate_load(sd, "v0", &got, err) == 0 && got.term == 8);
	/* and the next save works */
	CHECK(gd_vstate_save(sd, "v0", &st) == 0);
	CHECK(gd_vstate_load(sd, "v0", &got, err) == 0 && got.term == 20);
	gd_statedir_close(sd);
}

static void write_file(const char *name, const char *text)
{
	char p[512];
	int fd;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd >= 0) {
		if (write(fd, text, strlen(text)) < 0)
			CHECK(0);
		close(fd);
	}
}

static void test_corrupt(void)
{
	static const struct {
		const char *text, *why;
	} cases[] = {
		{ "{\"version\": 1, \"volume\": \"bad\", \"term\": 1", "line" },
		{ "{\"version\": 2, \"volume\": \"bad\", \"term\": 1, \"vote\": 0, \"commit\": 0, \"members\": []}",
		  "unsupported version" },
		{ "{\"version\": 1, \"volume\": \"other\", \"term\": 1, \"vote\": 0, \"commit\": 0, \"members\": []}",
		  "belongs to another volume" },
		{ "{\"version\": 1, \"volume\": \"bad\", \"term\": -1, \"vote\": 0, \"commit\": 0, \"members\": []}",
		  "bad term" },
		{ "{\"version\": 1, \"volume\": \"bad\", \"term\": 1, \"vote\": 0, \"commit\": 0, \"members\": [{\"site_id\": 0, \"voter\": true}]}",
		  "bad member 0" },
		{ "{\"version\": 1, \"volume\": \"bad\", \"term\": 1, \"vote\": 0, \"commit\": 0, \"members\": {}}",
		  "bad members" },
	};
	struct gd_statedir *sd;
	struct gd_vstate got;
	size_t i;

	CHECK(gd_statedir_open(dir, &sd, err) == 0);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		write_file("bad.state", cases[i].text);
		CHECK_MSG(gd_vstate_load(sd, "bad", &got, err) == -EBADMSG &&
			  strstr(err, cases[i].why), "case %zu: %s", i, err);
	}
	gd_statedir_close(sd);
}

static void test_cleanup(void)
{
	char cmd[600];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", base);
	CHECK(system(cmd) == 0);
}

static const struct ktap_case cases[] = {
	{ "state_roundtrip", test_roundtrip },
	{ "state_lock", test_lock },
	{ "state_crash_before_rename", test_crash_before_rename },
	{ "state_corrupt", test_corrupt },
	{ "state_cleanup", test_cleanup },
};

int main(void)
{
	return ktap_run(cases, sizeof(cases) / sizeof(cases[0]));
}
