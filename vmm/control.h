/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The control socket (--api-socket PATH): a Unix stream socket speaking
 * JSON, one request and one response per line:
 *
 *   {"cmd": "info"}            -> {"ok": true, "state": "running", ...}
 *   {"cmd": "pause"|"resume"|"stop"}
 *   {"cmd": "snapshot", "path": "FILE"}  -> save the VM to FILE (vmm/snapshot.h)
 *   {"cmd": "migrate", "host": "IP", "port": N[, "max_downtime_ms": N]
 *    [, "timeout_s": N]}       -> start a live migration (vmm/migrate.h)
 *   {"cmd": "migrate-status"}  -> {"ok": true, "state": "active", "iteration": ...}
 *   {"cmd": "migrate-cancel"}
 *   anything wrong             -> {"ok": false, "error": "what to do about it"}
 *
 * Only the socket's owner may connect: the file is mode 0600 and each
 * peer's uid (SO_PEERCRED) must be kite's own or root's. The server runs
 * on a thread of its own and calls into the VM through control_ops, so it
 * can be tested without one.
 */
#ifndef KITE_VMM_CONTROL_H
#define KITE_VMM_CONTROL_H

#include <json-c/json.h>

/* Each returns 0, or a negative errno with err_set describing why. */
struct control_ops {
	/* Fill `out` (an object) with the VM's description. */
	int (*info)(void *vm, struct json_object *out);
	int (*pause)(void *vm);
	int (*resume)(void *vm);
	int (*stop)(void *vm);
	/* Save the VM to `path` (non-empty); it runs on afterwards unless it
	 * was paused. */
	int (*snapshot)(void *vm, const char *path);
	/* "migrate", "migrate-status", "migrate-cancel": the request as
	 * sent (checked there), results added to `out`. */
	int (*migrate)(void *vm, const char *cmd, struct json_object *req,
		       struct json_object *out);
};

struct control;

/* Create the socket at `path` (refusing to replace anything but a stale
 * socket) and start serving. */
int control_start(struct control **out, const char *path, const struct control_ops *ops,
		  void *vm);
/* Stop serving, close clients, remove the socket file. NULL is allowed. */
void control_stop(struct control *c);

/* Longest request line accepted; a longer one is answered with an error
 * and the connection is closed. */
#define CONTROL_MAX_LINE 4096

/* The client side, for `kite ctl`: send one request, return the parsed
 * response (caller puts it) or NULL with err_set. */
struct json_object *control_request(const char *path, struct json_object *req);

#endif
