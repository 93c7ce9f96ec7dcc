// SPDX-License-Identifier: Apache-2.0
/*
 * The control socket's JSON requests (vmm/control.h). One server runs for
 * the whole session, with fake VM ops, on a socket in a fresh directory
 * under $TMPDIR (or /tmp; run.sh points it into build/fuzz). Each input is
 * sent as it is over one connection, followed by a marker line
 * {"cmd": "info"} whose answer carries this input's sequence number. An
 * input of many lines is read back only once the server has stopped
 * answering (a burst, as from a script). Checked: every line gets one
 * answer, a line holding a JSON object with an "ok" boolean (and an
 * "error" string when false); the server hangs up exactly when a line is
 * longer than CONTROL_MAX_LINE.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "fuzz/fuzz.h"
#include "vmm/control.h"
#include "vmm/err.h"

#define MARKER	"\n{\"cmd\": \"info\"}\n"
#define BURST	64	/* more lines than this: read the answers only at the end */

static struct control *ctl;
static char dir[96], path[112];
static int fd = -1;
static int seq;
static bool paused;

static int f_info(void *vm, struct json_object *out)
{
	(void)vm;
	json_object_object_add(out, "seq", json_object_new_int(seq));
	return 0;
}

static int f_pause(void *vm)
{
	(void)vm;
	if (paused)
		return err_set(EALREADY, "already paused");
	paused = true;
	return 0;
}

static int f_resume(void *vm)
{
	(void)vm;
	if (!paused)
		return err_set(EALREADY, "not paused");
	paused = false;
	return 0;
}

static int f_stop(void *vm)
{
	(void)vm;
	return 0;
}

static const struct control_ops ops = {
	.info = f_info, .pause = f_pause, .resume = f_resume, .stop = f_stop,
};

static void cleanup(void)
{
	if (fd >= 0)
		close(fd);
	control_stop(ctl);
	rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *tmp = getenv("TMPDIR");

	(void)argc, (void)argv;
	snprintf(dir, sizeof(dir), "%s/kite-fuzz-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	FUZZ_CHECK(mkdtemp(dir), "mkdtemp %s: %s", dir, strerror(errno));
	snprintf(path, sizeof(path), "%s/api.sock", dir);
	FUZZ_CHECK(control_start(&ctl, path, &ops, NULL) == 0, "%s", err_msg());
	atexit(cleanup);
	return 0;
}

static void send_all(const char *p, size_t len)
{
	while (len) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

		if (n < 0)
			return;		/* hung up: the reading side says whether rightly */
		p += n;
		len -= (size_t)n;
	}
}

/* Check one answer; true if it is a successful "info" of this input. */
static bool answer(const char *line)
{
	struct json_object *o = json_tokener_parse(line), *v;
	bool ok, info;

	FUZZ_CHECK(o && json_object_is_type(o, json_type_object), "answer '%.200s'", line);
	FUZZ_CHECK(json_object_object_get_ex(o, "ok", &v) &&
		   json_object_is_type(v, json_type_boolean), "answer '%.200s'", line);
	ok = json_object_get_boolean(v);
	FUZZ_CHECK(ok || (json_object_object_get_ex(o, "error", &v) &&
			  json_object_is_type(v, json_type_string)), "answer '%.200s'", line);
	info = ok && json_object_object_get_ex(o, "seq", &v) && json_object_get_int(v) == seq;
	json_object_put(o);
	return info;
}

/* A client that sends a burst of requests and reads the answers only
 * afterwards, as a script piping commands in may: wait until the server
 * has stopped answering (our receive queue stops growing for 20 ms). */
static void wait_quiet(void)
{
	int queued = -1, now = 0;

	while (ioctl(fd, FIONREAD, &now) == 0 && now != queued) {
		queued = now;
		usleep(20000);
	}
}

/* Read up to `want` answers, fewer if the server hangs up or stays silent
 * for 3 s; the last of `want` must be the marker's. */
static size_t read_answers(size_t want, bool *hung_up)
{
	static char buf[1 << 16];
	size_t len = 0, got = 0;

	*hung_up = false;
	while (got < want) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		char *nl;
		ssize_t n;
		bool info;

		if (poll(&p, 1, 3000) != 1)
			break;
		n = recv(fd, buf + len, sizeof(buf) - 1 - len, 0);
		if (n <= 0) {
			*hung_up = true;
			break;
		}
		len += (size_t)n;
		buf[len] = '\0';
		while (got < want && (nl = strchr(buf, '\n'))) {
			*nl = '\0';
			info = answer(buf);
			FUZZ_CHECK(++got < want || info, "the last answer is not the marker's");
			len -= (size_t)(nl + 1 - buf);
			memmove(buf, nl + 1, len + 1);
		}
		FUZZ_CHECK(len < sizeof(buf) - 1, "an answer longer than %zu bytes", len);
	}
	return got;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t longest = 0, run = 0, lines = 0, got;
	bool hung_up;

	if (fd < 0) {
		struct sockaddr_un sa = { .sun_family = AF_UNIX };

		strcpy(sa.sun_path, path);
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		FUZZ_CHECK(fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0,
			   "connect %s: %s", path, strerror(errno));
	}
	for (size_t i = 0; i < size; i++) {
		lines += data[i] == '\n';
		run = data[i] == '\n' ? 0 : run + 1;
		if (run > longest)
			longest = run;
	}
	seq++;
	paused = false;
	send_all((const char *)data, size);
	send_all(MARKER, strlen(MARKER));
	if (lines > BURST)
		wait_quiet();
	/* One answer a line (the marker's leading newline ends the last),
	 * then the marker's. */
	got = read_answers(lines + 2, &hung_up);
	if (longest > CONTROL_MAX_LINE) {
		FUZZ_CHECK(hung_up, "a line of %zu bytes was taken", longest);
	} else {
		FUZZ_CHECK(got == lines + 2, "%zu answers of %zu (one a line, then the "
			   "marker's)%s", got, lines + 2, hung_up ? ", then a hang-up" : "");
	}
	if (hung_up) {
		close(fd);
		fd = -1;
	}
	return 0;
}
