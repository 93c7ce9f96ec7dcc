// SPDX-License-Identifier: Apache-2.0
/* kite: one process, one VM. `kite run ...` boots a kernel. */
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "vmm/config.h"
#include "vmm/control.h"
#include "vmm/err.h"
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
"\n"
"  --json    print the response as the JSON the socket sent\n"
"Exit status: 0 done, 1 kite refused or cannot be reached, 2 bad usage.\n";

static void print_human(const char *cmd, struct json_object *resp)
{
	struct json_object *v;

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

static int cmd_ctl(int argc, char **argv)
{
	static const char *const cmds[] = { "info", "pause", "resume", "stop", "snapshot" };
	struct json_object *req, *resp, *ok, *msg;
	const char *path = NULL, *cmd = NULL, *file = NULL;
	bool json = false, known = false;
	int status;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--help")) {
			fputs(ctl_usage, stdout);
			return KITE_EXIT_OK;
		} else if (!strcmp(argv[i], "--json")) {
			json = true;
		} else if (!path) {
			path = argv[i];
		} else if (!cmd) {
			cmd = argv[i];
		} else if (!strcmp(cmd, "snapshot") && !file) {
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
			"stop or snapshot)\n", cmd);
		return KITE_EXIT_USAGE;
	}
	if (!strcmp(cmd, "snapshot") && (!file || !file[0])) {
		fprintf(stderr, "kite: ctl: snapshot needs a FILE (kite ctl SOCKET snapshot FILE)\n");
		return KITE_EXIT_USAGE;
	}
	req = json_object_new_object();
	json_object_object_add(req, "cmd", json_object_new_string(cmd));
	if (file)
		json_object_object_add(req, "path", json_object_new_string(file));
	resp = control_request(path, req);
	json_object_put(req);
	if (!resp) {
		fprintf(stderr, "kite: ctl: %s\n", err_msg());
		return KITE_EXIT_ERROR;
	}
	status = json_object_object_get_ex(resp, "ok", &ok) && json_object_get_boolean(ok) ?
		 KITE_EXIT_OK : KITE_EXIT_ERROR;
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
