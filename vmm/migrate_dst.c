// SPDX-License-Identifier: Apache-2.0
/* Live migration, the destination: see migrate.h for the protocol. */
#include "vmm/migrate.h"
#include "vmm/migrate_int.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "vmm/config.h"
#include "vmm/crc32c.h"
#include "vmm/err.h"
#include "vmm/state.h"

/* Send our reason `r` (err_msg) to the peer, best effort, keeping it as
 * the recorded error whatever the send does. */
static void tell_peer(int fd, int r)
{
	char why[MIG_FAIL_MAX];

	snprintf(why, sizeof(why), "%s", err_msg());
	migrate_send_msg(fd, MIG_SEC_FAIL, why);
	err_set(-r, "%s", why);
}

/*
 * Destination RAM known to read as zero. A zero marker for such a page
 * needs no memset, which would allocate the page: for an idle guest most
 * of RAM is zero, and writing it all would make the destination fall
 * behind the stream, so that the source's pause waited for it. Receiving
 * starts by punching the whole memfd (a destination loads nothing into
 * RAM before; its pages become holes that read as zero, and NUMA policy
 * stays); a page written from the stream is no longer known zero. Without
 * the punch (memory without a memfd, in tests) every zero marker writes.
 */
struct known_zero {
	uint64_t *bits[GUEST_MEM_MAX_REGIONS];
};

static void kz_free(struct known_zero *kz)
{
	for (unsigned i = 0; i < GUEST_MEM_MAX_REGIONS; i++)
		free(kz->bits[i]);
	memset(kz, 0, sizeof(*kz));
}

static void kz_init(struct known_zero *kz, const struct guest_mem *mem)
{
	memset(kz, 0, sizeof(*kz));
	if (mem->fd < 0 || fallocate(mem->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0,
				     (off_t)mem->size) < 0)
		return;
	for (unsigned i = 0; i < mem->nregions; i++) {
		size_t words = (mem->regions[i].size / SNAP_PAGE + 63) / 64;

		kz->bits[i] = malloc(words * 8);
		if (!kz->bits[i]) {
			kz_free(kz);
			return;
		}
		memset(kz->bits[i], 0xff, words * 8);
	}
}

/* The known-zero bits of the region holding [host, host + len), and the
 * index of host's page in it; NULL if none are kept. */
static uint64_t *kz_at(const struct known_zero *kz, const struct guest_mem *mem,
		       const uint8_t *host, uint64_t *page)
{
	for (unsigned i = 0; kz && i < mem->nregions; i++) {
		const struct guest_region *r = &mem->regions[i];

		if (kz->bits[i] && host >= r->host && host < r->host + r->size) {
			*page = (uint64_t)(host - r->host) / SNAP_PAGE;
			return kz->bits[i];
		}
	}
	return NULL;
}

/* One PAGE section (its header read) into guest memory. */
static int recv_pages(struct stream_in *in, const uint8_t *sh, const struct guest_mem *mem,
		      const struct known_zero *kz)
{
	uint64_t *zbits, zpage = 0;
	uint8_t meta[PAGE_META + 2 * BM_BYTES], c[4];
	uint64_t len = stream_get64(sh + 8), gpa;
	uint32_t n, psize, crc = crc32c(0, sh, SEC_HDR);
	unsigned bmlen, ndata = 0;
	const uint8_t *data_bm, *zero_bm;
	uint8_t *host;
	int r = stream_read_full(in, meta, PAGE_META, "a PAGE section");

	if (r)
		return r;
	gpa = stream_get64(meta);
	n = stream_get32(meta + 8);
	psize = stream_get32(meta + 12);
	if (psize != SNAP_PAGE || !n || n > SNAP_CHUNK_PAGES || gpa % SNAP_PAGE)
		return err_set(EINVAL, WHO ": PAGE section at gpa 0x%llx: %u pages of %u bytes",
			       (unsigned long long)gpa, n, psize);
	host = guest_mem_ptr(mem, gpa, (uint64_t)n * SNAP_PAGE);
	if (!host)
		return err_set(EINVAL, WHO ": PAGE section at gpa 0x%llx, %u pages, is not in "
			       "this VM's RAM", (unsigned long long)gpa, n);
	zbits = kz_at(kz, mem, host, &zpage);
	bmlen = (n + 7) / 8;
	r = stream_read_full(in, meta + PAGE_META, 2 * bmlen, "a PAGE section");
	if (r)
		return r;
	data_bm = meta + PAGE_META;
	zero_bm = data_bm + bmlen;
	for (unsigned i = 0; i < bmlen; i++) {
		if (data_bm[i] & zero_bm[i])
			return err_set(EINVAL, WHO ": PAGE section at gpa 0x%llx marks a page both "
				       "sent and zero", (unsigned long long)gpa);
		ndata += (unsigned)__builtin_popcount(data_bm[i]);
	}
	/* Bits past n must be clear. */
	if (n % 8 && ((data_bm[bmlen - 1] | zero_bm[bmlen - 1]) >> (n % 8)))
		return err_set(EINVAL, WHO ": PAGE section at gpa 0x%llx has bits past its %u "
			       "pages", (unsigned long long)gpa, n);
	if (len != PAGE_META + 2 * (uint64_t)bmlen + (uint64_t)ndata * SNAP_PAGE)
		return err_set(EINVAL, WHO ": PAGE section at gpa 0x%llx is %llu bytes, its "
			       "bitmaps say %llu", (unsigned long long)gpa,
			       (unsigned long long)len,
			       (unsigned long long)(PAGE_META + 2 * bmlen +
						    (uint64_t)ndata * SNAP_PAGE));
	crc = crc32c(crc, meta, PAGE_META + 2 * bmlen);
	for (unsigned i = 0; i < n; i++) {
		uint8_t *p = host + (size_t)i * SNAP_PAGE;
		uint64_t z = zpage + i, zmask = 1ULL << (z % 64);

		if (data_bm[i / 8] >> (i % 8) & 1) {
			r = stream_read_full(in, p, SNAP_PAGE, "a PAGE section");
			if (r)
				return r;
			crc = crc32c(crc, p, SNAP_PAGE);
			if (zbits)
				zbits[z / 64] &= ~zmask;
		} else if (zero_bm[i / 8] >> (i % 8) & 1) {
			if (zbits && (zbits[z / 64] & zmask))
				continue;
			memset(p, 0, SNAP_PAGE);
			if (zbits)
				zbits[z / 64] |= zmask;
		}
	}
	r = stream_read_full(in, c, 4, "a PAGE section");
	if (r)
		return r;
	if (crc != stream_get32(c))
		return err_set(EBADMSG, WHO ": checksum mismatch in the PAGE section at gpa "
			       "0x%llx (corrupt)", (unsigned long long)gpa);
	return 0;
}

/* Everything from the header to END; *tree on success (caller frees). */
static int recv_stream(struct stream_in *in, const struct migrate_dst_ops *ops, void *vm,
		       const struct guest_mem *mem, void **tree, size_t *tree_len)
{
	struct snap_shape *got = malloc(sizeof(*got)), *mine = malloc(sizeof(*mine));
	uint8_t sh[SEC_HDR];
	struct known_zero kz;
	void *t = NULL;
	uint64_t len;
	int r;

	kz_init(&kz, mem);
	r = got && mine ? 0 : err_set(ENOMEM, WHO ": out of memory");
	if (!r)
		r = stream_read_header(in, MIG_MAGIC, MIG_VERSION, got);
	if (!r)
		r = ops->shape(vm, mine);
	if (!r) {
		r = stream_check_shape(got, mine);
		if (r)
			err_prefix(r, "the stream does not match this VM");
	}
	free(got);
	free(mine);
	if (!r)
		r = migrate_send_msg(in->fd, MIG_SEC_OKAY, NULL);
	while (!r) {
		r = stream_read_full(in, sh, SEC_HDR, !t ? "RAM" : "the end marker");
		if (r)
			break;
		len = stream_get64(sh + 8);
		if (stream_get32(sh + 4)) {
			r = err_set(EINVAL, WHO ": section header at offset %llu is malformed",
				    (unsigned long long)(in->pos - SEC_HDR));
		} else if (stream_get32(sh) == MIG_SEC_PAGE && !t) {
			r = recv_pages(in, sh, mem, &kz);
		} else if (stream_get32(sh) == SNAP_SEC_TREE && !t) {
			if (len < 64 || len > STATE_MAX_SIZE) {
				r = err_set(EINVAL, WHO ": state tree of %llu bytes",
					    (unsigned long long)len);
				break;
			}
			t = malloc(len);
			r = t ? stream_read_payload(in, sh, t, len, "the state tree")
			      : err_set(ENOMEM, WHO ": out of memory");
			if (!r)
				r = state_check(t, len);
			*tree_len = len;
		} else if (stream_get32(sh) == SNAP_SEC_END && t && !len) {
			r = stream_read_payload(in, sh, NULL, 0, "the end marker");
			if (!r)
				break;
		} else {
			r = err_set(EINVAL, WHO ": unexpected section 0x%08x at offset %llu",
				    stream_get32(sh), (unsigned long long)(in->pos - SEC_HDR));
		}
	}
	kz_free(&kz);
	if (r) {
		free(t);
		return r;
	}
	*tree = t;
	return 0;
}

int migrate_receive_fd(int fd, const struct migrate_dst_ops *ops, void *vm,
		       const struct guest_mem *mem)
{
	struct stream_in in = { .fd = fd, .who = WHO };
	void *tree = NULL;
	size_t len = 0;
	int r = recv_stream(&in, ops, vm, mem, &tree, &len);

	/* Tell the source why, if it still listens (a shape mismatch told
	 * it already; a second FAIL is harmless). */
	if (r)
		tell_peer(fd, r);

	if (!r) {
		r = ops->apply(vm, tree, len);
		if (r) {
			err_prefix(r, "the destination cannot apply the state");
			tell_peer(fd, r);
		}
	}
	free(tree);
	if (!r)
		r = migrate_send_msg(fd, MIG_SEC_HAVE, NULL);
	if (!r)
		r = migrate_read_msg(&in, MIG_SEC_GO, "the source's hand-over", REPLY_TIMEOUT_MS);
	if (r == -ECONNABORTED)	/* a FAIL from the source: its words, not "refused" */
		err_prefix(r, "the source gave up");
	if (!r) {
		r = ops->take_over(vm);
		if (r)
			tell_peer(fd, r);
	}
	if (!r)
		r = migrate_send_msg(fd, MIG_SEC_RUN, NULL);
	return r;
}

/* Wait for the source; the stop signals (blocked in every kite thread, see
 * vmm/main.c) end the wait: -EINTR, the signal in migrate_stop_signal. */
int migrate_stop_signal;

static int accept_or_signal(int lfd, const char *endpoint)
{
	sigset_t set;
	int sfd, fd = -1;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	sfd = signalfd(-1, &set, SFD_CLOEXEC);
	for (;;) {
		struct pollfd p[2] = { { .fd = lfd, .events = POLLIN },
				       { .fd = sfd, .events = POLLIN } };
		struct signalfd_siginfo si;

		if (poll(p, sfd >= 0 ? 2 : 1, -1) < 0) {
			if (errno == EINTR)
				continue;
			fd = err_sys(errno, "--incoming %s: poll", endpoint);
			break;
		}
		if (sfd >= 0 && p[1].revents && read(sfd, &si, sizeof(si)) == sizeof(si)) {
			migrate_stop_signal = (int)si.ssi_signo;
			fd = err_set(EINTR, "--incoming %s: stopped by %s while waiting for the "
				     "migration", endpoint, strsignal((int)si.ssi_signo));
			break;
		}
		if (p[0].revents) {
			fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
			if (fd >= 0)
				break;
			if (errno != EINTR && errno != ECONNABORTED) {
				fd = err_sys(errno, "--incoming %s: accept", endpoint);
				break;
			}
		}
	}
	if (sfd >= 0)
		close(sfd);
	return fd;
}

int migrate_incoming(const char *endpoint, const struct migrate_dst_ops *ops, void *vm,
		     const struct guest_mem *mem, bool verbose)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE |
				  AI_NUMERICSERV };
	struct addrinfo *ai = NULL;
	char host[256], port[8];
	unsigned p;
	int lfd, fd, r, one = 1;

	r = parse_tcp_endpoint("--incoming", endpoint, host, sizeof(host), &p);
	if (r)
		return r;
	snprintf(port, sizeof(port), "%u", p);
	r = getaddrinfo(host, port, &hints, &ai);
	if (r)
		return err_set(EINVAL, "--incoming %s: %s", endpoint, gai_strerror(r));
	lfd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0) {
		freeaddrinfo(ai);
		return err_sys(errno, "--incoming %s: socket", endpoint);
	}
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(lfd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(lfd, 1) < 0) {
		r = err_sys(errno, "--incoming %s: cannot listen", endpoint);
		freeaddrinfo(ai);
		close(lfd);
		return r;
	}
	freeaddrinfo(ai);
	if (verbose)
		fprintf(stderr, "kite: waiting for a migration on %s\n", endpoint);
	fd = accept_or_signal(lfd, endpoint);
	close(lfd);
	if (fd < 0)
		return fd;
	migrate_no_delay(fd);
	/* A source that stalls mid-stream must not hold this kite forever. */
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &(struct timeval){ REPLY_TIMEOUT_MS / 1000, 0 },
		   sizeof(struct timeval));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &(struct timeval){ REPLY_TIMEOUT_MS / 1000, 0 },
		   sizeof(struct timeval));
	r = migrate_receive_fd(fd, ops, vm, mem);
	close(fd);
	return r;
}
