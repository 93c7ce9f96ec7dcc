// SPDX-License-Identifier: Apache-2.0
/* kite: one process, one VM. `kite run ...` boots a kernel. */
#include <netdb.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "vmm/config.h"
#include "vmm/control.h"
#include "vmm/err.h"
#include "vmm/migrate.h"
#include "vmm/vm.h"

#ifndef KITE_VERSION
#define KITE_VERSION "0.1.0"
#endif

static const char usage[] =
"Usage: kite COMMAND [options]\n"
"\n"
"kite is a small, fast virtual machine monitor for Linux/KVM.\n"
"\n"
"Commands:\n"
"  run        boot a kernel in a new VM (kite run --help for its options)\n"
"  ctl        control a running VM through its --api-socket (kite ctl --help)\n"
"\n"
"  kite --help       this text\n"
"  kite --version    print the version\n";

static const char ctl_usage[] =
"Usage: kite ctl SOCKET COMMAND [--json]\n"
"       kite ctl SOCKET snapshot FILE [--json]\n"
"       kite ctl SOCKET migrate tcp:HOST:PORT [--max-downtime MS] [--timeout S] [--json]\n"
"\n"
"Control the VM of a kite started with --api-socket SOCKET.\n"
"\n"
"Commands:\n"
"  info      state, CPUs, memory, kernel, devices\n"
"  pause     stop every vCPU (devices finish what they started)\n"
"  resume    run the vCPUs again\n"
"  stop      end the VM; that kite exits with status 0\n"
"  snapshot FILE  pause, save the VM to FILE (written whole or not at all),\n"
"            then run on unless it was paused\n"
"  migrate tcp:HOST:PORT [--max-downtime MS] [--timeout S]\n"
"            live-migrate the VM to a kite started with --incoming\n"
"            tcp:HOST:PORT; shows progress and waits for the end. Pre-copy\n"
"            stops when the rest should go within MS (default 300) at the\n"
"            observed speed; --timeout cancels after S seconds. On success\n"
"            the source kite exits 0; on any failure its VM runs on\n"
"  migrate-status  progress of the current or last migration\n"
"  migrate-cancel  stop a migration; the VM runs on here\n"
"\n"
"  --json    print the response as the JSON the socket sent\n"
"Exit status: 0 done, 1 kite refused or cannot be reached, 2 bad usage.\n";

static long long jint(struct json_object *o, const char *k)
{
	struct json_object *v;

	return json_object_object_get_ex(o, k, &v) ? (long long)json_object_get_int64(v) : 0;
}

static const char *jstr(struct json_object *o, const char *k)
{
	struct json_object *v;

	return json_object_object_get_ex(o, k, &v) ? json_object_get_string(v) : "";
}

/* One line of a migration's progress. */
static void print_migration(FILE *f, struct json_object *st, const char *end)
{
	long long total = jint(st, "ram_total");

	fprintf(f, "migration %s: iteration %lld, %lld MiB sent, %lld of %lld MiB dirty, "
		"%lld MiB/s, %lld ms%s", jstr(st, "state"), jint(st, "iteration"),
		jint(st, "bytes_sent") >> 20, jint(st, "ram_remaining") >> 20, total >> 20,
		jint(st, "bandwidth") >> 20, jint(st, "total_ms"), end);
}

static void print_human(const char *cmd, struct json_object *resp)
{
	struct json_object *v;

	if (!strcmp(cmd, "migrate-status")) {
		print_migration(stdout, resp, "\n");
		if (!strcmp(jstr(resp, "state"), "completed"))
			printf("downtime %lld ms\n", jint(resp, "downtime_ms"));
		if (jstr(resp, "error")[0])
			printf("error: %s\n", jstr(resp, "error"));
		return;
	}
	if (strcmp(cmd, "info")) {
		printf("%s: done\n", cmd);
		return;
	}
	json_object_object_foreach(resp, key, val) {
		char label[32];

		if (!strcmp(key, "ok"))
			continue;
		snprintf(label, sizeof(label), "%s:", key);
		if (!strcmp(key, "memory")) {
			printf("%-8s %lld MiB\n", label, (long long)(json_object_get_int64(val) >> 20));
			continue;
		}
		printf("%-8s ", label);
		if (json_object_is_type(val, json_type_array)) {
			for (size_t i = 0; i < json_object_array_length(val); i++) {
				v = json_object_array_get_idx(val, i);
				printf("%s%s", i ? ", " : "", json_object_get_string(v));
			}
			printf("\n");
		} else {
			printf("%s\n", json_object_get_string(val));
		}
	}
}

/* Send one request; NULL (message printed) if kite cannot be reached. */
static struct json_object *ask(const char *path, struct json_object *req)
{
	struct json_object *resp = control_request(path, req);

	json_object_put(req);
	if (!resp)
		fprintf(stderr, "kite: ctl: %s\n", err_msg());
	return resp;
}

static bool resp_ok(struct json_object *resp)
{
	struct json_object *ok;

	return json_object_object_get_ex(resp, "ok", &ok) && json_object_get_boolean(ok);
}

/* `kite ctl SOCKET migrate tcp:HOST:PORT`: resolve HOST here (kite's own
 * threads are not allowed name lookups), start, follow to the end. */
static int ctl_migrate(const char *path, const char *to, unsigned long long downtime,
		       unsigned long long timeout, bool json)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV };
	struct addrinfo *ai = NULL;
	struct json_object *req, *resp, *last = NULL;
	char host[256], addr[64], portstr[8];
	bool tty = isatty(STDERR_FILENO), seen = false;
	unsigned port;
	int r, status = KITE_EXIT_ERROR;

	if (!to || parse_tcp_endpoint("migrate", to, host, sizeof(host), &port)) {
		fprintf(stderr, "kite: ctl: migrate needs tcp:HOST:PORT (%s)\n",
			to ? err_msg() : "kite ctl SOCKET migrate tcp:HOST:PORT");
		return KITE_EXIT_USAGE;
	}
	snprintf(portstr, sizeof(portstr), "%u", port);
	r = getaddrinfo(host, portstr, &hints, &ai);
	if (r) {
		fprintf(stderr, "kite: ctl: migrate: cannot resolve %s: %s\n", host, gai_strerror(r));
		return KITE_EXIT_ERROR;
	}
	getnameinfo(ai->ai_addr, ai->ai_addrlen, addr, sizeof(addr), NULL, 0, NI_NUMERICHOST);
	freeaddrinfo(ai);
	req = json_object_new_object();
	json_object_object_add(req, "cmd", json_object_new_string("migrate"));
	json_object_object_add(req, "host", json_object_new_string(addr));
	json_object_object_add(req, "port", json_object_new_int((int)port));
	json_object_object_add(req, "max_downtime_ms", json_object_new_int((int)downtime));
	json_object_object_add(req, "timeout_s", json_object_new_int((int)timeout));
	resp = ask(path, req);
	if (!resp)
		return KITE_EXIT_ERROR;
	if (!resp_ok(resp)) {
		fprintf(stderr, "kite: ctl: migrate: %s\n", jstr(resp, "error"));
		json_object_put(resp);
		return KITE_EXIT_ERROR;
	}
	json_object_put(resp);
	for (;;) {
		const char *state;

		req = json_object_new_object();
		json_object_object_add(req, "cmd", json_object_new_string("migrate-status"));
		resp = control_request(path, req);
		json_object_put(req);
		if (!resp) {
			/* The source ends once the destination runs the VM; if it
			 * went before we read "completed", say what we know. */
			fprintf(stderr, "%skite: ctl: migrate: the source kite went away before "
				"reporting the end (%s); check the destination\n", tty ? "\n" : "",
				err_msg());
			break;
		}
		json_object_put(last);
		last = resp;
		state = jstr(resp, "state");
		if (strcmp(state, "active") && strcmp(state, "completing")) {
			if (!json) {
				if (tty)
					fputc('\r', stderr);
				print_migration(stderr, resp, "\n");
			}
			if (!strcmp(state, "completed")) {
				status = KITE_EXIT_OK;
				if (!json)
					printf("migrated to %s port %u: total %lld ms, downtime %lld ms, "
					       "%lld iterations, %lld MiB sent\n", addr, port,
					       jint(resp, "total_ms"), jint(resp, "downtime_ms"),
					       jint(resp, "iteration"), jint(resp, "bytes_sent") >> 20);
			} else if (!json) {
				fprintf(stderr, "kite: ctl: migrate: %s%s%s\n", state,
					jstr(resp, "error")[0] ? ": " : "", jstr(resp, "error"));
			}
			break;
		}
		if (!json && (tty || !seen))
			print_migration(stderr, resp, tty ? "\r" : "\n");
		seen = true;
		usleep(100000);
	}
	if (json && last)
		printf("%s\n", json_object_to_json_string_ext(last, JSON_C_TO_STRING_PLAIN));
	json_object_put(last);
	return status;
}

static int cmd_ctl(int argc, char **argv)
{
	static const char *const cmds[] = { "info", "pause", "resume", "stop", "snapshot",
					    "migrate", "migrate-status", "migrate-cancel" };
	struct json_object *req, *resp, *msg;
	const char *path = NULL, *cmd = NULL, *file = NULL;
	unsigned long long downtime = MIG_DEFAULT_DOWNTIME_MS, timeout = 0;
	bool json = false, known = false;
	int status;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--help")) {
			fputs(ctl_usage, stdout);
			return KITE_EXIT_OK;
		} else if (!strcmp(argv[i], "--json")) {
			json = true;
		} else if (cmd && !strcmp(cmd, "migrate") && (!strcmp(argv[i], "--max-downtime") ||
							      !strcmp(argv[i], "--timeout"))) {
			bool dt = !strcmp(argv[i], "--max-downtime");

			if (i + 1 == argc || parse_uint(argv[i + 1], 0, dt ? 600000 : 86400,
							dt ? &downtime : &timeout)) {
				fprintf(stderr, "kite: ctl: %s: expected %s\n", argv[i], dt ?
					"milliseconds, 0 to 600000" : "seconds, 0 to 86400");
				return KITE_EXIT_USAGE;
			}
			i++;
		} else if (!path) {
			path = argv[i];
		} else if (!cmd) {
			cmd = argv[i];
		} else if ((!strcmp(cmd, "snapshot") || !strcmp(cmd, "migrate")) && !file) {
			file = argv[i];
		} else {
			fprintf(stderr, "kite: ctl: unexpected argument '%s' (see kite ctl --help)\n",
				argv[i]);
			return KITE_EXIT_USAGE;
		}
	}
	if (!path || !cmd) {
		fprintf(stderr, "kite: ctl: expected SOCKET COMMAND (see kite ctl --help)\n");
		return KITE_EXIT_USAGE;
	}
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		known |= !strcmp(cmd, cmds[i]);
	if (!known) {
		fprintf(stderr, "kite: ctl: unknown command '%s' (expected info, pause, resume, "
			"stop, snapshot, migrate, migrate-status or migrate-cancel)\n", cmd);
		return KITE_EXIT_USAGE;
	}
	if (!strcmp(cmd, "snapshot") && (!file || !file[0])) {
		fprintf(stderr, "kite: ctl: snapshot needs a FILE (kite ctl SOCKET snapshot FILE)\n");
		return KITE_EXIT_USAGE;
	}
	if (!strcmp(cmd, "migrate"))
		return ctl_migrate(path, file, downtime, timeout, json);
	req = json_object_new_object();
	json_object_object_add(req, "cmd", json_object_new_string(cmd));
	if (file)
		json_object_object_add(req, "path", json_object_new_string(file));
	resp = ask(path, req);
	if (!resp)
		return KITE_EXIT_ERROR;
	status = resp_ok(resp) ? KITE_EXIT_OK : KITE_EXIT_ERROR;
	if (json)
		printf("%s\n", json_object_to_json_string_ext(resp, JSON_C_TO_STRING_PLAIN));
	else if (status == KITE_EXIT_OK)
		print_human(cmd, resp);
	else
		fprintf(stderr, "kite: ctl: %s\n",
			json_object_object_get_ex(resp, "error", &msg) ?
			json_object_get_string(msg) : "request refused");
	json_object_put(resp);
	return status;
}

static int cmd_run(int argc, char **argv)
{
	struct vm_config cfg;
	struct vm vm;
	int status;

	if (config_parse(&cfg, argc, argv)) {
		fprintf(stderr, "kite: %s\n", err_msg());
		config_free(&cfg);
		return KITE_EXIT_USAGE;
	}
	if (cfg.help) {
		fputs(config_run_usage, stdout);
		status = KITE_EXIT_OK;
	} else if (vm_create(&vm, &cfg)) {
		fprintf(stderr, "kite: %s\n", err_msg());
		vm_destroy(&vm);
		status = KITE_EXIT_ERROR;
	} else {
		status = vm_run(&vm);
		vm_destroy(&vm);
	}
	config_free(&cfg);
	return status;
}

int main(int argc, char **argv)
{
	sigset_t block;

	/* Block the signals the main thread waits for before any thread
	 * exists, so every thread inherits the mask. */
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGHUP);
	sigaddset(&block, SIGUSR1);
	sigaddset(&block, SIGUSR2);
	pthread_sigmask(SIG_BLOCK, &block, NULL);
	/* A peer that goes away (migration, control clients) is an error
	 * to report, not a reason to die. */
	signal(SIGPIPE, SIG_IGN);

	if (argc < 2) {
		fprintf(stderr, "kite: missing command (expected run or ctl; see kite --help)\n");
		return KITE_EXIT_USAGE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		fputs(usage, stdout);
		return KITE_EXIT_OK;
	}
	if (!strcmp(argv[1], "--version")) {
		printf("kite %s\n", KITE_VERSION);
		return KITE_EXIT_OK;
	}
	if (!strcmp(argv[1], "run"))
		return cmd_run(argc - 1, argv + 1);
	if (!strcmp(argv[1], "ctl"))
		return cmd_ctl(argc - 1, argv + 1);
	fprintf(stderr, "kite: unknown command '%s' (expected run or ctl; see kite --help)\n",
		argv[1]);
	return KITE_EXIT_USAGE;
}
