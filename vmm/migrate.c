// SPDX-License-Identifier: Apache-2.0
/* Live migration, the source, and the messages both ends use: see
 * migrate.h for the protocol; the destination is migrate_dst.c. */
#include "vmm/migrate.h"
#include "vmm/migrate_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "vmm/config.h"
#include "vmm/crc32c.h"
#include "vmm/err.h"
#include "vmm/seccomp.h"
#include "vmm/state.h"

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

const char *migrate_state_name(enum migrate_state s)
{
	static const char *const names[] = {
		[MIG_NONE] = "none", [MIG_ACTIVE] = "active", [MIG_COMPLETING] = "completing",
		[MIG_COMPLETED] = "completed", [MIG_FAILED] = "failed",
		[MIG_CANCELLED] = "cancelled",
	};

	return (unsigned)s < sizeof(names) / sizeof(names[0]) ? names[s] : "?";
}

/* ---- messages both ways ---- */

int migrate_send_msg(int fd, uint32_t type, const char *text)
{
	return stream_write_section(fd, type, text, text ? strlen(text) : 0, WHO);
}

/* Wait up to timeout_ms for the fd to become readable. */
static int wait_readable(int fd, int timeout_ms, const char *what)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	int n;

	do
		n = poll(&p, 1, timeout_ms);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return err_sys(errno, WHO ": waiting for %s", what);
	if (n == 0)
		return err_set(ETIMEDOUT, WHO ": no %s from the peer in %d s", what,
			       timeout_ms / 1000);
	return 0;
}

/* Read one short message; `want` is the expected type. A FAIL carries the
 * peer's reason, which becomes ours. */
int migrate_read_msg(struct stream_in *in, uint32_t want, const char *what, int timeout_ms)
{
	uint8_t sh[SEC_HDR];
	char text[MIG_FAIL_MAX + 1];
	uint64_t len;
	int r = wait_readable(in->fd, timeout_ms, what);

	if (!r)
		r = stream_read_full(in, sh, SEC_HDR, what);
	if (r)
		return r;
	len = stream_get64(sh + 8);
	if (stream_get32(sh + 4) || len > MIG_FAIL_MAX)
		return err_set(EPROTO, WHO ": malformed message where %s was expected", what);
	r = stream_read_payload(in, sh, text, len, what);
	if (r)
		return r;
	text[len] = '\0';
	if (stream_get32(sh) == MIG_SEC_FAIL)
		return err_set(ECONNABORTED, "the destination refused: %s", text);
	if (stream_get32(sh) != want || len)
		return err_set(EPROTO, WHO ": unexpected message 0x%08x where %s was expected",
			       stream_get32(sh), what);
	return 0;
}

/* ---- the source ---- */

struct migration {
	const struct migrate_src_ops *ops;
	void *vm;
	const struct guest_mem *mem;
	pthread_t thread;
	bool thread_ok;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool quit, job;			/* under lock */
	struct migrate_params params;	/* of the job */
	struct migrate_status st;	/* under lock */
	atomic_bool cancel;
	bool handing_over;		/* under lock: cancel is too late */
	atomic_bool final_seen;
	int fd;				/* the connection, -1 (under lock) */
	uint64_t start_ms, pause_ms;
	uint64_t *bm[GUEST_MEM_MAX_REGIONS];	/* pages to send, per region */
	uint8_t *bounce;		/* one chunk of pages, copied before sending */
};

static uint64_t region_pages(const struct guest_region *g)
{
	return g->size / SNAP_PAGE;
}

static void set_progress(struct migration *m, void (*fn)(struct migrate_status *, uint64_t),
			 uint64_t v)
{
	pthread_mutex_lock(&m->lock);
	fn(&m->st, v);
	pthread_mutex_unlock(&m->lock);
}

static void add_sent(struct migrate_status *s, uint64_t v) { s->bytes_sent += v; }

static int check_cancel(struct migration *m)
{
	if (atomic_load(&m->cancel))
		return err_set(ECANCELED, "migration cancelled");
	if (m->params.timeout_s && now_ms() - m->start_ms > m->params.timeout_s * 1000ULL)
		return err_set(ETIMEDOUT, "migration did not finish within --timeout %u s",
			       m->params.timeout_s);
	return 0;
}

static bool bit(const uint64_t *bm, uint64_t i)
{
	return bm[i / 64] >> (i % 64) & 1;
}

/* One PAGE section for the pages of chunk [first, first + n) of region g
 * whose bits are set in bm. Each page is copied before it is checked and
 * sent, so a vCPU writing it meanwhile cannot make the checksum lie (the
 * write is in the dirty log and the page goes again). */
static int send_chunk(struct migration *m, int fd, const struct guest_region *g,
		      uint64_t *bm, uint64_t first, unsigned n, uint64_t *sent)
{
	uint8_t head[SEC_HDR + PAGE_META + 2 * BM_BYTES] = { 0 };
	uint8_t *data_bm = head + SEC_HDR + PAGE_META, *zero_bm;
	unsigned bmlen = (n + 7) / 8, ndata = 0;
	/* Chunk pages: see stream_hole_or_data; without a memfd, all data. */
	uint64_t data_from = 0, data_to = m->mem->fd < 0 ? n : 0;
	uint32_t crc;
	uint8_t c[4];
	int r;

	zero_bm = data_bm + bmlen;
	for (unsigned i = 0; i < n; i++) {
		uint8_t *src;

		if (!bit(bm, first + i))
			continue;
		bm[(first + i) / 64] &= ~(1ULL << ((first + i) % 64));
		/* A page in a hole of the memfd reads as zero: no need to read
		 * it (which would allocate it, on this side too). A write
		 * after the look is in the dirty log and goes next pass. */
		if (i >= data_to)
			stream_hole_or_data(m->mem->fd, g->offset + first * SNAP_PAGE, i, n, &data_from,
				     &data_to);
		if (i < data_from) {
			zero_bm[i / 8] |= 1 << (i % 8);
			continue;
		}
		src = g->host + (first + i) * SNAP_PAGE;
		memcpy(m->bounce + (size_t)ndata * SNAP_PAGE, src, SNAP_PAGE);
		if (stream_page_is_zero(m->bounce + (size_t)ndata * SNAP_PAGE)) {
			zero_bm[i / 8] |= 1 << (i % 8);
		} else {
			data_bm[i / 8] |= 1 << (i % 8);
			ndata++;
		}
	}
	stream_put32(head, MIG_SEC_PAGE);
	stream_put32(head + 4, 0);
	stream_put64(head + 8, PAGE_META + 2 * (uint64_t)bmlen + (uint64_t)ndata * SNAP_PAGE);
	stream_put64(head + SEC_HDR, g->gpa + first * SNAP_PAGE);
	stream_put32(head + SEC_HDR + 8, n);
	stream_put32(head + SEC_HDR + 12, SNAP_PAGE);
	crc = crc32c(0, head, SEC_HDR + PAGE_META + 2 * bmlen);
	crc = crc32c(crc, m->bounce, (size_t)ndata * SNAP_PAGE);
	stream_put32(c, crc);
	r = stream_write_full(fd, head, SEC_HDR + PAGE_META + 2 * bmlen, WHO);
	if (!r && ndata)
		r = stream_write_full(fd, m->bounce, (size_t)ndata * SNAP_PAGE, WHO);
	if (!r)
		r = stream_write_full(fd, c, 4, WHO);
	if (!r)
		*sent += SEC_HDR + PAGE_META + 2 * bmlen + (uint64_t)ndata * SNAP_PAGE + 4;
	return r;
}

/* Is any page of [first, first + n) marked? `first` is a multiple of 64
 * (chunks start every SNAP_CHUNK_PAGES); a region's last chunk may end
 * inside a word. */
static bool any_marked(const uint64_t *bm, uint64_t first, unsigned n)
{
	for (unsigned i = 0; i < n; i += 64) {
		uint64_t w = bm[(first + i) / 64];

		if (n - i < 64)
			w &= (1ULL << (n - i)) - 1;
		if (w)
			return true;
	}
	return false;
}

/* Send every page marked in the bitmaps (clearing them). */
static int send_marked(struct migration *m, int fd, bool may_cancel)
{
	for (unsigned ri = 0; ri < m->mem->nregions; ri++) {
		const struct guest_region *g = &m->mem->regions[ri];
		uint64_t pages = region_pages(g);

		for (uint64_t first = 0; first < pages; first += SNAP_CHUNK_PAGES) {
			unsigned n = pages - first < SNAP_CHUNK_PAGES ? (unsigned)(pages - first)
								     : SNAP_CHUNK_PAGES;
			uint64_t sent = 0;
			int r;

			if (!any_marked(m->bm[ri], first, n))
				continue;
			if (may_cancel && (r = check_cancel(m)))
				return r;
			r = send_chunk(m, fd, g, m->bm[ri], first, n, &sent);
			if (r)
				return r;
			set_progress(m, add_sent, sent);
		}
	}
	return 0;
}

/* Take the dirty log into the bitmaps; returns the pages now marked. */
static int take_dirty(struct migration *m, uint64_t *count)
{
	*count = 0;
	for (unsigned ri = 0; ri < m->mem->nregions; ri++) {
		uint64_t pages = region_pages(&m->mem->regions[ri]);
		int r = m->ops->log_take(m->vm, ri, m->bm[ri]);

		if (r)
			return r;
		for (uint64_t w = 0; w < (pages + 63) / 64; w++)
			*count += (uint64_t)__builtin_popcountll(m->bm[ri][w]);
	}
	return 0;
}

/* The hand-over is a few small messages each way (END, HAVE, GO, RUN):
 * without TCP_NODELAY each can wait for a delayed ACK (40 ms on Linux),
 * and the guest is paused for all of them. */
void migrate_no_delay(int fd)
{
	int one = 1;

	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

static int connect_to(const struct migrate_params *p, int *out)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV };
	struct addrinfo *ai = NULL;
	char port[8];
	int fd, r;

	snprintf(port, sizeof(port), "%u", p->port);
	r = getaddrinfo(p->host, port, &hints, &ai);
	if (r)
		return err_set(EINVAL, WHO ": %s is not an IP address (%s)", p->host,
			       gai_strerror(r));
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		freeaddrinfo(ai);
		return err_sys(errno, WHO ": socket");
	}
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
		r = err_sys(errno, WHO ": cannot connect to %s port %u", p->host, p->port);
		close(fd);
		freeaddrinfo(ai);
		return r;
	}
	freeaddrinfo(ai);
	migrate_no_delay(fd);
	*out = fd;
	return 0;
}

static void fail_job(struct migration *m, int r, enum migrate_state state)
{
	pthread_mutex_lock(&m->lock);
	m->st.state = state;
	snprintf(m->st.error, sizeof(m->st.error), "%s",
		 r == -ECANCELED || state == MIG_CANCELLED ? "migration cancelled" : err_msg());
	m->st.total_ms = now_ms() - m->start_ms;
	pthread_mutex_unlock(&m->lock);
}

static void set_state(struct migration *m, enum migrate_state s)
{
	pthread_mutex_lock(&m->lock);
	m->st.state = s;
	pthread_mutex_unlock(&m->lock);
}

/* Pre-copy until what is left fits the downtime (or the iteration cap). */
static int precopy(struct migration *m, int fd)
{
	unsigned max_iter = m->params.max_iterations ? m->params.max_iterations
						     : MIG_DEFAULT_ITERATIONS;
	uint64_t downtime = m->params.max_downtime_ms;

	for (unsigned it = 1;; it++) {
		uint64_t t0 = now_ms(), before, dirty, dt, bw, expect;
		int r;

		pthread_mutex_lock(&m->lock);
		m->st.iteration = it;
		before = m->st.bytes_sent;
		pthread_mutex_unlock(&m->lock);
		r = send_marked(m, fd, true);
		if (!r)
			r = take_dirty(m, &dirty);
		if (r)
			return r;
		dt = now_ms() - t0;
		pthread_mutex_lock(&m->lock);
		bw = m->st.bytes_sent - before;
		/* Bytes per second; a pass too short to time keeps the last. */
		if (dt >= 5 || !m->st.bandwidth)
			m->st.bandwidth = bw * 1000 / (dt ? dt : 1);
		bw = m->st.bandwidth ? m->st.bandwidth : 1;
		m->st.ram_remaining = dirty * SNAP_PAGE;
		m->st.dirty_rate = dirty * 1000 / (dt ? dt : 1);
		expect = m->st.ram_remaining * 1000 / bw;
		m->st.expected_downtime_ms = expect;
		m->st.total_ms = now_ms() - m->start_ms;
		pthread_mutex_unlock(&m->lock);
		if (!dirty || (downtime && expect <= downtime) || it >= max_iter)
			return 0;
	}
}

static int run_job(struct migration *m)
{
	struct snap_shape *shape = malloc(sizeof(*shape));
	struct stream_in in = { .fd = -1, .who = WHO };
	void *tree = NULL;
	size_t tree_len = 0;
	uint64_t dirty;
	bool logging = false, paused = false, released = false, went = false;
	int fd = -1, r;

	r = shape ? m->ops->shape(m->vm, shape) : err_set(ENOMEM, WHO ": out of memory");
	if (!r)
		r = connect_to(&m->params, &fd);
	if (!r) {
		pthread_mutex_lock(&m->lock);
		m->fd = fd;
		pthread_mutex_unlock(&m->lock);
		in.fd = fd;
		r = stream_write_header(fd, MIG_MAGIC, MIG_VERSION, shape, WHO);
	}
	if (!r)
		r = migrate_read_msg(&in, MIG_SEC_OKAY, "the answer to the header", REPLY_TIMEOUT_MS);
	if (!r)
		r = m->ops->log_start(m->vm);
	logging = !r;
	/* Iteration 1 sends everything. */
	for (unsigned ri = 0; !r && ri < m->mem->nregions; ri++) {
		uint64_t pages = region_pages(&m->mem->regions[ri]);

		for (uint64_t i = 0; i < pages; i++)
			m->bm[ri][i / 64] |= 1ULL << (i % 64);
	}
	if (!r)
		r = precopy(m, fd);
	if (!r)
		r = check_cancel(m);
	if (!r && m->ops->flush)
		r = m->ops->flush(m->vm);
	if (!r) {
		set_state(m, MIG_COMPLETING);
		m->pause_ms = now_ms();
		r = m->ops->pause(m->vm);
		paused = !r;
	}
	if (!r)
		r = take_dirty(m, &dirty);
	if (!r)
		r = send_marked(m, fd, false);
	if (!r)
		r = m->ops->tree(m->vm, &tree, &tree_len);
	if (!r)
		r = stream_write_section(fd, SNAP_SEC_TREE, tree, tree_len, WHO);
	if (!r)
		r = stream_write_section(fd, SNAP_SEC_END, NULL, 0, WHO);
	if (!r)
		r = migrate_read_msg(&in, MIG_SEC_HAVE, "the acknowledgement of the stream",
			     REPLY_TIMEOUT_MS);
	/* Past here a cancel is refused: the destination has everything. */
	if (!r) {
		pthread_mutex_lock(&m->lock);
		if (atomic_load(&m->cancel))
			r = err_set(ECANCELED, "migration cancelled");
		else
			m->handing_over = true;
		pthread_mutex_unlock(&m->lock);
	}
	if (!r)
		r = m->ops->release(m->vm);
	released = !r;
	if (!r)
		r = migrate_send_msg(fd, MIG_SEC_GO, NULL);
	went = !r;
	if (!r)
		r = migrate_read_msg(&in, MIG_SEC_RUN, "the destination's start", REPLY_TIMEOUT_MS);
	free(tree);
	free(shape);
	if (!r) {
		pthread_mutex_lock(&m->lock);
		m->st.state = MIG_COMPLETED;
		m->st.downtime_ms = now_ms() - m->pause_ms;
		m->st.total_ms = now_ms() - m->start_ms;
		m->st.ram_remaining = 0;
		m->fd = -1;
		pthread_mutex_unlock(&m->lock);
		m->ops->log_stop(m->vm);
		close(fd);
		m->ops->done(m->vm);
		return 0;
	}
	/* Failed. Before GO, or after a FAIL answer to it: the VM is ours
	 * again. After GO with no answer, the destination may be running it:
	 * stay paused, keep nothing locked, and say so. */
	if (went && r != -ECONNABORTED) {
		err_prefix(r, "the VM was handed over but the destination did not confirm "
			   "it runs; this kite keeps it paused (check the destination)");
	} else {
		if (released)
			m->ops->reclaim(m->vm);
		if (paused)
			m->ops->unpause(m->vm);
	}
	if (logging)
		m->ops->log_stop(m->vm);
	fail_job(m, r, atomic_load(&m->cancel) && !went ? MIG_CANCELLED : MIG_FAILED);
	pthread_mutex_lock(&m->lock);
	m->fd = -1;
	pthread_mutex_unlock(&m->lock);
	if (fd >= 0)
		close(fd);
	return r;
}

static void *worker(void *arg)
{
	struct migration *m = arg;

	seccomp_enter(SECCOMP_MAIN);
	pthread_mutex_lock(&m->lock);
	for (;;) {
		while (!m->quit && !m->job)
			pthread_cond_wait(&m->cond, &m->lock);
		if (m->quit)
			break;
		pthread_mutex_unlock(&m->lock);
		run_job(m);
		pthread_mutex_lock(&m->lock);
		m->job = false;
	}
	pthread_mutex_unlock(&m->lock);
	return NULL;
}

int migration_create(struct migration **out, const struct migrate_src_ops *ops, void *vm,
		     const struct guest_mem *mem)
{
	struct migration *m = calloc(1, sizeof(*m));

	*out = NULL;
	if (!m)
		return err_set(ENOMEM, WHO ": out of memory");
	m->ops = ops;
	m->vm = vm;
	m->mem = mem;
	m->fd = -1;
	pthread_mutex_init(&m->lock, NULL);
	pthread_cond_init(&m->cond, NULL);
	m->bounce = aligned_alloc(4096, (size_t)SNAP_CHUNK_PAGES * SNAP_PAGE);
	for (unsigned i = 0; i < mem->nregions && m->bounce; i++) {
		m->bm[i] = calloc((region_pages(&mem->regions[i]) + 63) / 64, 8);
		if (!m->bm[i])
			break;
	}
	if (!m->bounce || (mem->nregions && !m->bm[mem->nregions - 1])) {
		migration_destroy(m);
		return err_set(ENOMEM, WHO ": out of memory");
	}
	if (pthread_create(&m->thread, NULL, worker, m)) {
		migration_destroy(m);
		return err_set(EAGAIN, WHO ": cannot create its thread");
	}
	m->thread_ok = true;
	*out = m;
	return 0;
}

void migration_destroy(struct migration *m)
{
	if (!m)
		return;
	if (m->thread_ok) {
		pthread_mutex_lock(&m->lock);
		m->quit = true;
		atomic_store(&m->cancel, true);
		if (m->fd >= 0)
			shutdown(m->fd, SHUT_RDWR);
		pthread_cond_broadcast(&m->cond);
		pthread_mutex_unlock(&m->lock);
		pthread_join(m->thread, NULL);
	}
	for (unsigned i = 0; i < GUEST_MEM_MAX_REGIONS; i++)
		free(m->bm[i]);
	free(m->bounce);
	pthread_mutex_destroy(&m->lock);
	pthread_cond_destroy(&m->cond);
	free(m);
}

int migration_start(struct migration *m, const struct migrate_params *p)
{
	pthread_mutex_lock(&m->lock);
	if (m->job || m->st.state == MIG_COMPLETED) {
		pthread_mutex_unlock(&m->lock);
		return err_set(EBUSY, m->job ? "a migration is already running (see "
			       "migrate-status, or migrate-cancel it)" :
			       "this VM has been migrated already");
	}
	m->params = *p;
	memset(&m->st, 0, sizeof(m->st));
	m->st.state = MIG_ACTIVE;
	m->st.ram_total = m->mem->size;
	m->st.ram_remaining = m->mem->size;
	m->handing_over = false;
	atomic_store(&m->cancel, false);
	m->start_ms = now_ms();
	for (unsigned i = 0; i < m->mem->nregions; i++)
		memset(m->bm[i], 0, (region_pages(&m->mem->regions[i]) + 63) / 64 * 8);
	m->job = true;
	pthread_cond_broadcast(&m->cond);
	pthread_mutex_unlock(&m->lock);
	return 0;
}

void migration_status(struct migration *m, struct migrate_status *st)
{
	pthread_mutex_lock(&m->lock);
	*st = m->st;
	if (st->state == MIG_ACTIVE || st->state == MIG_COMPLETING)
		st->total_ms = now_ms() - m->start_ms;
	if (st->state == MIG_COMPLETED)
		atomic_store(&m->final_seen, true);
	pthread_mutex_unlock(&m->lock);
}

bool migration_final_seen(struct migration *m)
{
	return m && atomic_load(&m->final_seen);
}

int migration_cancel(struct migration *m)
{
	int r = 0;

	pthread_mutex_lock(&m->lock);
	if (!m->job)
		r = err_set(EINVAL, "no migration is running");
	else if (m->handing_over)
		r = err_set(EALREADY, "too late to cancel: the destination has the whole VM "
			    "and is taking it over");
	else {
		atomic_store(&m->cancel, true);
		/* Wakes a blocked send or receive at once. */
		if (m->fd >= 0)
			shutdown(m->fd, SHUT_RDWR);
	}
	pthread_mutex_unlock(&m->lock);
	return r;
}
