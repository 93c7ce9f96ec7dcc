// SPDX-License-Identifier: Apache-2.0
/* kite: one process, one VM. `kite run ...` boots a kernel. */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "vmm/config.h"
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
"\n"
"  kite --help       this text\n"
"  kite --version    print the version\n";

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
		fprintf(stderr, "kite: missing command (expected run; see kite --help)\n");
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
	fprintf(stderr, "kite: unknown command '%s' (expected run; see kite --help)\n", argv[1]);
	return KITE_EXIT_USAGE;
}
