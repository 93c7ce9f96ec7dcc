/* SPDX-License-Identifier: Apache-2.0 */
/*
 * io_uring restrictions (IORING_REGISTER_RESTRICTIONS): an I/O thread's
 * ring accepts only the opcodes kite's devices prepare, so a bug that lets
 * a guest steer an SQE cannot turn the ring into an open/connect/socket
 * gadget (io_uring requests pass no seccomp filter). Refused SQEs complete
 * with -EACCES.
 *
 *   opcodes    NOP, READV, WRITEV, FSYNC, FALLOCATE, POLL_ADD, ASYNC_CANCEL
 *   SQE flags  IOSQE_IO_LINK (the tap's ordered transmit batches)
 *   register   nothing once the ring is enabled
 *
 * Only a ring created with IORING_SETUP_R_DISABLED takes restrictions, and
 * only before it is enabled (IORING_REGISTER_ENABLE_RINGS, which works
 * while it is still unrestricted). A device that needs another opcode adds
 * it here.
 *
 * Not done: fixed files. The rings are created before the devices that
 * use them, and every prep site (virtio/disk.c, virtio/tap.c, the eventfd
 * polls in vmm/iothread.c) passes a plain fd; with the fds registered and
 * IOSQE_FIXED_FILE required, a ring could reach no other file.
 */
#ifndef KITE_VMM_URING_RESTRICT_H
#define KITE_VMM_URING_RESTRICT_H

#include <liburing.h>

/* Register the restrictions on a ring created disabled. 0 or -errno. */
int uring_restrict(struct io_uring *ring);

#endif
