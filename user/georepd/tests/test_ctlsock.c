// SPDX-License-Identifier: GPL-2.0
/* Unit tests of the control socket (user/lib/ctlsock.c). */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <signal.h>
#include <unistd.h>

#include "georep/ctlsock.h"
#include "ktap.h"

static char dir[] = "/tmp/georep-ctl-XXXXXX";
static char path[128];

static int status_calls;

static int h_status(struct gr_ctl_client *cl, json_t *req, json_t **resp,
		    char *err, void *arg)
{
	status_calls++;
	*resp = json_pack("{s:s, s:i}", "site", (const char *)arg, "calls", status_calls);
	return 0;
}

static int h_fail(struct gr_ctl_client *cl, json_t *req, json_t **resp,
		  char *err, void *arg)
{
	const char *vol = json_string_value(json_object_get(req, "volume"));

	if (!vol) {
		snprintf(err, GR_CTL_ERRLEN, "missing \"volume\"");
		return -EINVAL;
	}
	return -ENOENT;	/* no message: the generic one is used */
}

static int h_events(struct gr_ctl_client *cl, json_t *req, json_t **resp,
		    char *err, void *arg)
{
	gr_ctl_subscribe(cl);
	*resp = json_pack("{s:b}", "subscribed", 1);
	return 0;
}

static void pump(struct gr_loop *loop, int n)
{
	while (n--)
		gr_loop_run_once(loop, 5);
}

/* Send @line raw, run the loop, read one reply. */
static json_t *ask(struct gr_loop *loop, int fd, const char *line)
{
	char err[GR_CTL_ERRLEN];
	json_t *r = NULL;

	if (write(fd, line, strlen(line)) != (ssize_t)strlen(line))
		return NULL;
	pump(loop, 5);
	if (gr_ctl_read(fd, 1000, &r, err)) {
		printf("    # read: %s\n", err);
		return NULL;
	}
	return r;
}

static bool is_error(json_t *r, const char *substr)
{
	const char *e = json_string_value(json_object_get(r, "error"));
	bool ok = r && json_is_false(json_object_get(r, "ok")) && e && strstr(e, substr);

	if (!ok && e)
		printf("    # error was: %s\n", e);
	json_decref(r);
	return ok;
}

static struct gr_loop *loop;
static struct gr_ctl *ctl;

static void test_setup(void)
{
	const char *why = "";
	struct stat st;

	CHECK(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/site.sock", dir);
	CHECK(gr_loop_new(&loop) == 0);
	CHECK(gr_ctl_new(loop, path, &ctl, &why) == 0);
	CHECK(stat(path, &st) == 0 && S_ISSOCK(st.st_mode) &&
	      (st.st_mode & 0777) == 0600);
	CHECK(gr_ctl_register(ctl, "status", h_status, "siteA") == 0);
	CHECK(gr_ctl_register(ctl, "fail", h_fail, NULL) == 0);
	CHECK(gr_ctl_register(ctl, "events", h_events, NULL) == 0);
	CHECK(gr_ctl_register(ctl, "status", h_status, NULL) == -EEXIST);
}

static void test_requests(void)
{
	int fd = gr_ctl_connect(path);
	json_t *r;

	CHECK(fd >= 0);
	r = ask(loop, fd, "{\"cmd\": \"status\", \"id\": 7}\n");
	CHECK(r && json_is_true(json_object_get(r, "ok")));
	CHECK(!strcmp(json_string_value(json_object_get(r, "site")), "siteA"));
	CHECK(json_integer_value(json_object_get(r, "id")) == 7);
	json_decref(r);

	/* two requests in one write, answered in order */
	CHECK(write(fd, "{\"cmd\":\"status\",\"id\":1}\n{\"cmd\":\"status\",\"id\":2}\n", 48) == 48);
	pump(loop, 5);
	CHECK(gr_ctl_read(fd, 1000, &r, (char[GR_CTL_ERRLEN]){ 0 }) == 0 &&
	      json_integer_value(json_object_get(r, "id")) == 1);
	json_decref(r);
	CHECK(gr_ctl_read(fd, 1000, &r, (char[GR_CTL_ERRLEN]){ 0 }) == 0 &&
	      json_integer_value(json_object_get(r, "id")) == 2);
	json_decref(r);
	close(fd);
}

static void test_malformed(void)
{
	int fd = gr_ctl_connect(path);
	json_t *r;

	CHECK(fd >= 0);
	CHECK(is_error(ask(loop, fd, "{\"cmd\": \n"), "invalid JSON"));
	CHECK(is_error(ask(loop, fd, "[1, 2]\n"), "a request must be a JSON object"));
	CHECK(is_error(ask(loop, fd, "{\"id\": 3}\n"), "missing \"cmd\""));
	CHECK(is_error(ask(loop, fd, "{\"cmd\": 5}\n"), "missing \"cmd\""));
	CHECK(is_error(ask(loop, fd, "{\"cmd\": \"reboot\"}\n"),
		       "unknown command \"reboot\"; known: status fail events"));
	CHECK(is_error(ask(loop, fd, "{\"cmd\": \"fail\"}\n"), "missing \"volume\""));
	CHECK(is_error(ask(loop, fd, "{\"cmd\": \"fail\", \"volume\": \"v\"}\n"),
		       "fail: No such file or directory"));
	CHECK(is_error(ask(loop, fd, "{\"cmd\": \"status\", \"cmd\": \"x\"}\n"),
		       "duplicate object key"));
	/* still usable after all that */
	r = ask(loop, fd, "{\"cmd\": \"status\"}\n");
	CHECK(r && json_is_true(json_object_get(r, "ok")));
	json_decref(r);
	close(fd);
}

static void test_long_line(void)
{
	char *big = malloc(GR_CTL_MAX_LINE + 20000);
	char err[GR_CTL_ERRLEN];
	json_t *r = NULL;
	int fd = gr_ctl_connect(path);
	size_t off = 0, len = GR_CTL_MAX_LINE + 10000;
	ssize_t n;

	CHECK(fd >= 0);
	memset(big, ' ', len);
	while (off < len) {
		n = send(fd, big + off, len - off, MSG_DONTWAIT);
		if (n > 0)
			off += n;
		pump(loop, 1);
	}
	pump(loop, 5);
	CHECK(gr_ctl_read(fd, 1000, &r, err) == 0);
	CHECK(is_error(r, "request line too long"));
	CHECK(gr_ctl_read(fd, 1000, &r, err) == -ECONNRESET);
	close(fd);
	free(big);
}

static void test_events(void)
{
	int sub = gr_ctl_connect(path), other = gr_ctl_connect(path);
	char err[GR_CTL_ERRLEN];
	json_t *r, *ev;

	pump(loop, 3);
	CHECK(gr_ctl_clients(ctl) == 2);
	r = ask(loop, sub, "{\"cmd\": \"events\"}\n");
	CHECK(r && json_is_true(json_object_get(r, "subscribed")));
	json_decref(r);
	CHECK(gr_ctl_subscribers(ctl) == 1);
	ev = json_pack("{s:s, s:s}", "event", "peer-up", "site", "siteB");
	gr_ctl_broadcast(ctl, ev);
	json_decref(ev);
	pump(loop, 3);
	CHECK(gr_ctl_read(sub, 1000, &r, err) == 0 &&
	      !strcmp(json_string_value(json_object_get(r, "event")), "peer-up"));
	json_decref(r);
	CHECK(gr_ctl_read(other, 50, &r, err) == -ETIMEDOUT);
	close(sub);
	close(other);
	pump(loop, 3);
	CHECK(gr_ctl_clients(ctl) == 0);
}

static void test_call(void)
{
	char err[GR_CTL_ERRLEN];
	json_t *req = json_pack("{s:s}", "cmd", "status"), *r = NULL;
	pid_t pid;

	/* gr_ctl_call() blocks: serve from a child process */
	pid = fork();
	if (pid == 0) {
		for (int i = 0; i < 100; i++)
			gr_loop_run_once(loop, 10);
		_exit(0);
	}
	CHECK(gr_ctl_call(path, req, 2000, &r, err) == 0);
	CHECK(r && json_is_true(json_object_get(r, "ok")));
	json_decref(r);
	json_decref(req);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	CHECK(gr_ctl_call("/nonexistent/x.sock", req, 100, &r, err) == -ENOENT &&
	      strstr(err, "cannot connect"));
}

static void test_restart(void)
{
	struct gr_ctl *second;
	const char *why = "";
	int fd;

	/* a live daemon keeps its socket */
	CHECK(gr_ctl_new(loop, path, &second, &why) == -EADDRINUSE);
	gr_ctl_free(ctl);
	CHECK(access(path, F_OK) && errno == ENOENT);

	/* a stale socket file (crashed daemon) is replaced */
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	{
		struct sockaddr_un sun = { .sun_family = AF_UNIX };

		strcpy(sun.sun_path, path);
		CHECK(bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0);
	}
	close(fd);
	CHECK(access(path, F_OK) == 0);
	CHECK(gr_ctl_new(loop, path, &ctl, &why) == 0);
	gr_ctl_free(ctl);

	/* a regular file in the way is left alone */
	fd = open(path, O_CREAT | O_WRONLY, 0600);
	CHECK(fd >= 0);
	close(fd);
	CHECK(gr_ctl_new(loop, path, &second, &why) == -EEXIST &&
	      strstr(why, "not a socket"));
	CHECK(access(path, F_OK) == 0);
	unlink(path);
	gr_loop_free(loop);
	rmdir(dir);
}

static const struct ktap_case cases[] = {
	{ "ctlsock_setup_mode_0600", test_setup },
	{ "ctlsock_requests", test_requests },
	{ "ctlsock_malformed", test_malformed },
	{ "ctlsock_long_line", test_long_line },
	{ "ctlsock_events", test_events },
	{ "ctlsock_call", test_call },
	{ "ctlsock_restart", test_restart },
};

int main(void)
{
	return ktap_run(cases, sizeof(cases) / sizeof(cases[0]));
}
