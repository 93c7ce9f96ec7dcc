// SPDX-License-Identifier: Apache-2.0
#include "vmm/control.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "vmm/err.h"
#include "vmm/seccomp.h"

#define MAX_CLIENTS 8

struct client {
	int fd;
	size_t len;
	char buf[CONTROL_MAX_LINE + 1];
	/* Answers not yet sent: the socket is non-blocking, and while any
	 * are pending the client is not read, which bounds this buffer. */
	char *out;
	size_t out_len, out_off;
	bool closing;		/* drop once `out` has gone */
};

struct control {
	const struct control_ops *ops;
	void *vm;
	char *path;
	int listen_fd;
	int wake[2];		/* a pipe: control_stop wakes the thread */
	pthread_t thread;
	struct client clients[MAX_CLIENTS];
};

static int make_addr(const char *path, struct sockaddr_un *sa)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa->sun_path))
		return err_set(ENAMETOOLONG, "--api-socket %s: path longer than %zu bytes", path,
			       sizeof(sa->sun_path) - 1);
	strcpy(sa->sun_path, path);
	return 0;
}

/* Best effort, for one-shot messages (refusals, the client side). */
static void send_json(int fd, struct json_object *o)
{
	const char *s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
	size_t len = strlen(s), off = 0;

	while (off < len) {
		ssize_t n = send(fd, s + off, len - off, MSG_NOSIGNAL);

		if (n <= 0)
			return;
		off += (size_t)n;
	}
	send(fd, "\n", 1, MSG_NOSIGNAL);
}

/* Queue an answer for a served client (sent by flush_client). */
static void queue_json(struct client *cl, struct json_object *o)
{
	const char *s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
	size_t len = strlen(s);
	char *n = realloc(cl->out, cl->out_len + len + 1);

	if (!n) {
		cl->closing = true;	/* cannot answer: hang up rather than lie */
		return;
	}
	cl->out = n;
	memcpy(cl->out + cl->out_len, s, len);
	cl->out[cl->out_len + len] = '\n';
	cl->out_len += len + 1;
}

static struct json_object *error_reply(const char *fmt, const char *arg)
{
	struct json_object *o = json_object_new_object();
	char msg[512];

	snprintf(msg, sizeof(msg), fmt, arg);
	json_object_object_add(o, "ok", json_object_new_boolean(0));
	json_object_object_add(o, "error", json_object_new_string(msg));
	return o;
}

/* One request line in, one response object out. */
static struct json_object *handle(struct control *c, const char *line)
{
	static const char *const cmds = "info, pause, resume, stop, snapshot, migrate, "
					 "migrate-status, migrate-cancel";
	struct json_object *req = json_tokener_parse(line), *cmd, *out, *path;
	const char *name;
	int r;

	if (!req || !json_object_is_type(req, json_type_object)) {
		json_object_put(req);
		return error_reply("request is not a JSON object (send {\"cmd\": \"%s\"})", "info");
	}
	if (!json_object_object_get_ex(req, "cmd", &cmd) ||
	    !json_object_is_type(cmd, json_type_string)) {
		json_object_put(req);
		return error_reply("request has no \"cmd\" string (one of: %s)", cmds);
	}
	name = json_object_get_string(cmd);
	out = json_object_new_object();
	err_clear();
	if (!strcmp(name, "info"))
		r = c->ops->info(c->vm, out);
	else if (!strcmp(name, "pause"))
		r = c->ops->pause(c->vm);
	else if (!strcmp(name, "resume"))
		r = c->ops->resume(c->vm);
	else if (!strcmp(name, "stop"))
		r = c->ops->stop(c->vm);
	else if (!strcmp(name, "snapshot")) {
		if (!json_object_object_get_ex(req, "path", &path) ||
		    !json_object_is_type(path, json_type_string) ||
		    !json_object_get_string(path)[0]) {
			json_object_put(out);
			json_object_put(req);
			return error_reply("snapshot needs a \"path\" string (%s)",
					   "{\"cmd\": \"snapshot\", \"path\": \"FILE\"}");
		}
		r = c->ops->snapshot ? c->ops->snapshot(c->vm, json_object_get_string(path))
				     : err_set(ENOTSUP, "this VM cannot be snapshotted");
	} else if (!strcmp(name, "migrate") || !strcmp(name, "migrate-status") ||
		   !strcmp(name, "migrate-cancel")) {
		r = c->ops->migrate ? c->ops->migrate(c->vm, name, req, out)
				    : err_set(ENOTSUP, "this VM cannot be migrated");
	} else {
		char what[200];

		snprintf(what, sizeof(what), "unknown cmd \"%.60s\" (one of: %s)", name, cmds);
		json_object_put(out);
		json_object_put(req);
		return error_reply("%s", what);
	}
	json_object_put(req);
	if (r < 0) {
		json_object_put(out);
		return error_reply("%s", err_msg()[0] ? err_msg() : strerror(-r));
	}
	json_object_object_add(out, "ok", json_object_new_boolean(1));
	return out;
}

static bool peer_allowed(int fd)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
		return false;
	return cred.uid == geteuid() || cred.uid == 0;
}

static void accept_client(struct control *c)
{
	int fd = accept4(c->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	unsigned i;

	if (fd < 0)
		return;
	if (!peer_allowed(fd)) {
		struct json_object *e = error_reply("%s", "permission denied: only the owner of "
						    "the socket may control this VM");

		send_json(fd, e);
		json_object_put(e);
		close(fd);
		return;
	}
	for (i = 0; i < MAX_CLIENTS && c->clients[i].fd >= 0; i++)
		;
	if (i == MAX_CLIENTS) {
		struct json_object *e = error_reply("too many clients (at most %s)", "8");

		send_json(fd, e);
		json_object_put(e);
		close(fd);
		return;
	}
	c->clients[i] = (struct client){ .fd = fd };
}

static void drop_client(struct client *cl)
{
	close(cl->fd);
	free(cl->out);
	*cl = (struct client){ .fd = -1 };
}

/* Send what is pending; drop the client on error, or when it was closing
 * and everything went. */
static void flush_client(struct client *cl)
{
	while (cl->out_off < cl->out_len) {
		ssize_t n = send(cl->fd, cl->out + cl->out_off, cl->out_len - cl->out_off,
				 MSG_NOSIGNAL);

		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n <= 0) {
			drop_client(cl);
			return;
		}
		cl->out_off += (size_t)n;
	}
	cl->out_off = cl->out_len = 0;
	if (cl->closing)
		drop_client(cl);
}

/* Read what the client sent and answer every complete line. */
static void serve_client(struct control *c, struct client *cl)
{
	ssize_t n = recv(cl->fd, cl->buf + cl->len, CONTROL_MAX_LINE + 1 - cl->len, 0);
	char *nl;

	if (n <= 0) {
		/* At EOF, answers still owed go out first. */
		if (n == 0 && cl->out_len) {
			cl->closing = true;
			flush_client(cl);
		} else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
			drop_client(cl);
		}
		return;
	}
	cl->len += (size_t)n;
	while ((nl = memchr(cl->buf, '\n', cl->len))) {
		struct json_object *resp;

		*nl = '\0';
		resp = handle(c, cl->buf);
		queue_json(cl, resp);
		json_object_put(resp);
		cl->len -= (size_t)(nl + 1 - cl->buf);
		memmove(cl->buf, nl + 1, cl->len);
	}
	if (cl->len > CONTROL_MAX_LINE) {
		struct json_object *e = error_reply("request longer than %s bytes", "4096");

		queue_json(cl, e);
		json_object_put(e);
		cl->closing = true;
		cl->len = 0;
	}
	flush_client(cl);
}

static void *control_thread(void *arg)
{
	struct control *c = arg;

	pthread_setname_np(pthread_self(), "kite-control");
	seccomp_enter(SECCOMP_MAIN);
	for (;;) {
		struct pollfd p[MAX_CLIENTS + 2];
		unsigned n = 0, idx[MAX_CLIENTS];

		p[n++] = (struct pollfd){ .fd = c->wake[0], .events = POLLIN };
		p[n++] = (struct pollfd){ .fd = c->listen_fd, .events = POLLIN };
		for (unsigned i = 0; i < MAX_CLIENTS; i++) {
			const struct client *cl = &c->clients[i];

			if (cl->fd < 0)
				continue;
			idx[n - 2] = i;
			/* A client with answers pending is not read until they go. */
			p[n++] = (struct pollfd){
				.fd = cl->fd, .events = cl->out_len ? POLLOUT : POLLIN,
			};
		}
		if (poll(p, n, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (p[0].revents)
			break;
		for (unsigned k = 2; k < n; k++) {
			struct client *cl = &c->clients[idx[k - 2]];

			if (!p[k].revents || cl->fd < 0)
				continue;
			if (cl->out_len)
				flush_client(cl);
			else
				serve_client(c, cl);
		}
		if (p[1].revents & POLLIN)
			accept_client(c);
	}
	return NULL;
}

/* Refuse to unlink anything but a socket nobody listens on any more. */
static int clear_stale(const char *path, const struct sockaddr_un *sa)
{
	struct stat st;
	int fd, r;

	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : err_sys(errno, "--api-socket %s", path);
	if (!S_ISSOCK(st.st_mode))
		return err_set(EEXIST, "--api-socket %s: exists and is not a socket", path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return err_sys(errno, "--api-socket %s: socket", path);
	r = connect(fd, (const struct sockaddr *)sa, sizeof(*sa));
	close(fd);
	if (r == 0)
		return err_set(EADDRINUSE, "--api-socket %s: another process is serving it", path);
	if (unlink(path) < 0)
		return err_sys(errno, "--api-socket %s: cannot remove the stale socket", path);
	return 0;
}

int control_start(struct control **out, const char *path, const struct control_ops *ops,
		  void *vm)
{
	struct control *c = calloc(1, sizeof(*c));
	struct sockaddr_un sa;
	mode_t old;
	int r;

	if (!c)
		return err_set(ENOMEM, "out of memory");
	c->ops = ops;
	c->vm = vm;
	c->listen_fd = c->wake[0] = c->wake[1] = -1;
	for (unsigned i = 0; i < MAX_CLIENTS; i++)
		c->clients[i].fd = -1;
	r = make_addr(path, &sa);
	if (!r)
		r = clear_stale(path, &sa);
	if (r)
		goto fail;
	c->path = strdup(path);
	c->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (!c->path || c->listen_fd < 0) {
		r = err_sys(errno ? errno : ENOMEM, "--api-socket %s: socket", path);
		goto fail;
	}
	/* Born 0600: no window in which another user could connect. */
	old = umask(0177);
	r = bind(c->listen_fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (r < 0 || listen(c->listen_fd, 4) < 0) {
		r = err_sys(errno, "--api-socket %s: cannot listen", path);
		goto fail;
	}
	if (pipe2(c->wake, O_CLOEXEC) < 0) {
		r = err_sys(errno, "--api-socket: pipe");
		goto fail;
	}
	r = pthread_create(&c->thread, NULL, control_thread, c);
	if (r) {
		r = err_sys(r, "--api-socket: cannot start its thread");
		goto fail;
	}
	*out = c;
	return 0;
fail:
	if (c->listen_fd >= 0) {
		close(c->listen_fd);
		if (c->path)
			unlink(c->path);
	}
	if (c->wake[0] >= 0) {
		close(c->wake[0]);
		close(c->wake[1]);
	}
	free(c->path);
	free(c);
	return r;
}

void control_stop(struct control *c)
{
	if (!c)
		return;
	if (write(c->wake[1], "x", 1) == 1)
		pthread_join(c->thread, NULL);
	for (unsigned i = 0; i < MAX_CLIENTS; i++)
		if (c->clients[i].fd >= 0)
			drop_client(&c->clients[i]);
	close(c->listen_fd);
	unlink(c->path);
	close(c->wake[0]);
	close(c->wake[1]);
	free(c->path);
	free(c);
}

struct json_object *control_request(const char *path, struct json_object *req)
{
	struct sockaddr_un sa;
	char buf[CONTROL_MAX_LINE + 1];
	size_t len = 0;
	struct json_object *resp;
	int fd;

	if (make_addr(path, &sa))
		return NULL;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		err_sys(errno, "socket");
		return NULL;
	}
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		err_sys(errno, "%s: cannot connect (is kite running with --api-socket %s?)", path,
			path);
		close(fd);
		return NULL;
	}
	send_json(fd, req);
	while (len < sizeof(buf) - 1) {
		ssize_t n = recv(fd, buf + len, sizeof(buf) - 1 - len, 0);

		if (n <= 0)
			break;
		len += (size_t)n;
		if (memchr(buf, '\n', len))
			break;
	}
	close(fd);
	buf[len] = '\0';
	resp = json_tokener_parse(buf);
	if (!resp)
		err_set(EPROTO, "%s: no valid response from kite", path);
	return resp;
}
