/* SPDX-License-Identifier: Apache-2.0 */
/* The command line of `kite run`, parsed and checked before any VM exists. */
#ifndef KITE_VMM_CONFIG_H
#define KITE_VMM_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include "arch/x86/boot.h"
#include "virtio/disk.h"
#include "virtio/net.h"
#include "vmm/console.h"
#include "vmm/sandbox.h"
#include "vmm/seccomp.h"

#define KITE_MAX_CPUS		254	/* xAPIC ids 0..253; 255 is broadcast */
#define KITE_MIN_MEMORY		(16ULL << 20)
#define KITE_MAX_MEMORY		(1ULL << 40)
#define KITE_DEFAULT_MEMORY	(256ULL << 20)
#define KITE_MAX_DISKS		16
#define KITE_MAX_NETS		8

struct vm_config {
	const char *kernel;
	const char *initrd;
	const char *cmdline;
	unsigned cpus;
	uint64_t memory;
	uint64_t hugepage_size;		/* 0, 2 MiB or 1 GiB */
	int numa_node;			/* -1: none */
	struct console_opts console;	/* --console */
	enum boot_proto boot;
	struct disk_opts disks[KITE_MAX_DISKS];	/* --disk, in the order given */
	unsigned ndisks;
	struct net_opts nets[KITE_MAX_NETS];	/* --net, in the order given */
	unsigned nnets;
	const char *api_socket;		/* --api-socket PATH, or NULL */
	const char *restore;		/* --restore FILE: resume a snapshot */
	const char *incoming;		/* --incoming tcp:HOST:PORT: receive a VM */
	/* The options that shape the VM (--cpus, --memory, --disk, --net) as
	 * NUL-terminated strings, option then value: a snapshot stores them,
	 * so --restore builds the same VM. */
	char *shape_args;
	size_t shape_args_len;
	char *restored_args;		/* the snapshot's, while cfg points into it */
	uint64_t given;			/* options on the command line (bit per option) */
	struct sandbox_opts sandbox;	/* --user */
	enum seccomp_mode seccomp;	/* --seccomp (0: kill) */
	bool verbose;
	bool help;			/* --help given: print usage, run nothing */
};

/*
 * Parse `kite run` arguments (argv[0] is "run"). Returns 0, or a negative
 * errno with a one-line message (err_msg) naming the option, the value and
 * what was expected. With --restore FILE it reads the snapshot's header
 * for the VM's shape (the options the snapshot was taken with).
 */
int config_parse(struct vm_config *cfg, int argc, char **argv);

/* Free what config_parse allocated (the --disk strings). */
void config_free(struct vm_config *cfg);

/* tcp:HOST:PORT (HOST may be [IPv6]) into host[hlen] and *port; `opt`
 * names the option in messages. */
int parse_tcp_endpoint(const char *opt, const char *v, char *host, size_t hlen, unsigned *port);

/* "512M" -> 536870912. Accepts K, M, G, T (binary), optional "iB"/"B",
 * and a decimal fraction with a suffix ("3.5G"). -EINVAL or -ERANGE. */
int parse_size(const char *s, uint64_t *out);
/* Decimal unsigned in [min, max]. */
int parse_uint(const char *s, unsigned long long min, unsigned long long max,
	       unsigned long long *out);

/* The text of `kite run --help`. */
extern const char config_run_usage[];

#endif
