// SPDX-License-Identifier: Apache-2.0
/* io_uring restrictions of the I/O threads' rings: see uring_restrict.h. */
#include "vmm/uring_restrict.h"

#include <errno.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Each with the code that prepares it. */
static const unsigned char allowed_ops[] = {
	IORING_OP_NOP,		/* nothing in kite; harmless, and tests use it */
	IORING_OP_READV,	/* disk reads, tap receive */
	IORING_OP_WRITEV,	/* disk writes, tap transmit */
	IORING_OP_FSYNC,	/* disk flush (fdatasync) */
	IORING_OP_FALLOCATE,	/* disk discard and write-zeroes */
	IORING_OP_POLL_ADD,	/* guest kicks (eventfds), tap and netlink readiness */
	IORING_OP_ASYNC_CANCEL,	/* virtio-net cancels waits on its tap */
};

#define NOPS (sizeof(allowed_ops) / sizeof(allowed_ops[0]))

int uring_restrict(struct io_uring *ring)
{
	struct io_uring_restriction res[NOPS + 1];
	unsigned n = 0;

	memset(res, 0, sizeof(res));
	for (unsigned i = 0; i < NOPS; i++) {
		res[n].opcode = IORING_RESTRICTION_SQE_OP;
		res[n++].sqe_op = allowed_ops[i];
	}
	res[n].opcode = IORING_RESTRICTION_SQE_FLAGS_ALLOWED;
	res[n++].sqe_flags = IOSQE_IO_LINK | IOSQE_FIXED_FILE;
	/* No IORING_RESTRICTION_REGISTER_OP: once enabled, the ring takes
	 * no io_uring_register call at all. Raw syscall: liburing 2.3
	 * declares io_uring_register_restrictions but does not export it. */
	if (syscall(__NR_io_uring_register, ring->ring_fd, IORING_REGISTER_RESTRICTIONS, res,
		    n) < 0)
		return -errno;
	return 0;
}
