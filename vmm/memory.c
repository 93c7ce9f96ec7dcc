// SPDX-License-Identifier: Apache-2.0
#include "vmm/memory.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/memfd.h>
#include <numa.h>
#include <numaif.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "arch/x86/layout.h"
#include "vmm/err.h"

unsigned guest_mem_layout(uint64_t size, struct guest_region *regions)
{
	uint64_t low = size < MMIO_HOLE_START ? size : MMIO_HOLE_START;

	regions[0] = (struct guest_region){ .gpa = 0, .size = low, .offset = 0 };
	if (size == low)
		return 1;
	regions[1] = (struct guest_region){
		.gpa = RAM_ABOVE_4G_START, .size = size - low, .offset = low,
	};
	return 2;
}

uint64_t guest_mem_low_end(const struct guest_mem *mem)
{
	return mem->regions[0].gpa + mem->regions[0].size;
}

/* Free hugepages of `size` bytes on `node` (or system-wide for node < 0). */
static long free_hugepages(uint64_t size, int node)
{
	char path[160];
	long n = -1;
	FILE *f;

	if (node >= 0)
		snprintf(path, sizeof(path),
			 "/sys/devices/system/node/node%d/hugepages/hugepages-%llukB/free_hugepages",
			 node, (unsigned long long)(size >> 10));
	else
		snprintf(path, sizeof(path), "/sys/kernel/mm/hugepages/hugepages-%llukB/free_hugepages",
			 (unsigned long long)(size >> 10));
	f = fopen(path, "r");
	if (!f)
		return -1;
	if (fscanf(f, "%ld", &n) != 1)
		n = -1;
	fclose(f);
	return n;
}

static int check_hugepages(const struct guest_mem_opts *o)
{
	const char *name = o->hugepage_size == GiB(1) ? "1G" : "2M";
	uint64_t need = o->size / o->hugepage_size;
	long have = free_hugepages(o->hugepage_size, o->numa_node);

	if (o->size % o->hugepage_size)
		return err_set(EINVAL, "--hugepages %s: --memory %llu MiB is not a multiple of the page size",
			       name, (unsigned long long)(o->size >> 20));
	if (have < 0 && o->numa_node >= 0)
		have = free_hugepages(o->hugepage_size, -1);
	if (have < 0)
		return err_set(ENOENT, "--hugepages %s: this host's kernel offers no %s hugepages "
			       "(no /sys/kernel/mm/hugepages/hugepages-%llukB)", name, name,
			       (unsigned long long)(o->hugepage_size >> 10));
	if ((uint64_t)have < need) {
		if (o->hugepage_size == GiB(1))
			return err_set(ENOMEM, "--hugepages 1G: need %llu free 1 GiB hugepages, %ld free; "
				       "reserve them with: echo %llu > "
				       "/sys/kernel/mm/hugepages/hugepages-1048576kB/nr_hugepages",
				       (unsigned long long)need, have, (unsigned long long)need);
		return err_set(ENOMEM, "--hugepages 2M: need %llu free 2 MiB hugepages, %ld free; "
			       "reserve them with: echo %llu > /proc/sys/vm/nr_hugepages",
			       (unsigned long long)need, have, (unsigned long long)need);
	}
	return 0;
}

int guest_mem_create(struct guest_mem *mem, const struct guest_mem_opts *o)
{
	unsigned flags = MFD_CLOEXEC;
	int ret;

	memset(mem, 0, sizeof(*mem));
	mem->fd = -1;
	mem->page_size = o->hugepage_size ? o->hugepage_size : 4096;
	if (o->hugepage_size) {
		ret = check_hugepages(o);
		if (ret)
			return ret;
		flags |= MFD_HUGETLB | (o->hugepage_size == GiB(1) ? MFD_HUGE_1GB : MFD_HUGE_2MB);
	}
	mem->fd = memfd_create("kite-guest-ram", flags);
	if (mem->fd < 0)
		return err_sys(errno, "guest RAM: memfd_create");
	if (ftruncate(mem->fd, (off_t)o->size) < 0) {
		ret = err_sys(errno, "guest RAM: cannot size memfd to %llu MiB",
			      (unsigned long long)(o->size >> 20));
		goto fail;
	}
	/* hugetlb: no MAP_NORESERVE, so a shortfall fails here, not as a
	 * SIGBUS when the guest first touches the page. */
	mem->base = mmap(NULL, o->size, PROT_READ | PROT_WRITE,
			 MAP_SHARED | (o->hugepage_size ? 0 : MAP_NORESERVE), mem->fd, 0);
	if (mem->base == MAP_FAILED) {
		mem->base = NULL;
		ret = err_sys(errno, "guest RAM: cannot map %llu MiB",
			      (unsigned long long)(o->size >> 20));
		goto fail;
	}
	mem->size = o->size;
	if (o->numa_node >= 0) {
		unsigned long nodemask[16] = { 0 };

		if (o->numa_node >= (int)(sizeof(nodemask) * 8)) {
			ret = err_set(EINVAL, "--numa-node %d: out of range", o->numa_node);
			goto fail;
		}
		nodemask[o->numa_node / (8 * sizeof(long))] |= 1UL << (o->numa_node % (8 * sizeof(long)));
		/* Bind before the first touch so every page lands on the node. */
		if (mbind(mem->base, o->size, MPOL_BIND, nodemask, sizeof(nodemask) * 8,
			  MPOL_MF_STRICT) < 0) {
			ret = err_sys(errno, "--numa-node %d: cannot bind guest RAM", o->numa_node);
			goto fail;
		}
	}
	/* Keep guest RAM out of core dumps of kite and let THP back it when no
	 * hugetlb pages were asked for. */
	madvise(mem->base, o->size, MADV_DONTDUMP);
	if (!o->hugepage_size)
		madvise(mem->base, o->size, MADV_HUGEPAGE);
	mem->nregions = guest_mem_layout(o->size, mem->regions);
	for (unsigned i = 0; i < mem->nregions; i++)
		mem->regions[i].host = mem->base + mem->regions[i].offset;
	return 0;
fail:
	guest_mem_destroy(mem);
	return ret;
}

void guest_mem_destroy(struct guest_mem *mem)
{
	if (mem->base)
		munmap(mem->base, mem->size);
	if (mem->fd >= 0)
		close(mem->fd);
	memset(mem, 0, sizeof(*mem));
	mem->fd = -1;
}

int guest_mem_placement(const struct guest_mem *mem, char *buf, size_t len)
{
	enum { SAMPLES = 64 };
	void *pages[SAMPLES];
	int status[SAMPLES];
	unsigned counts[64] = { 0 };
	unsigned n = 0, resident = 0;
	uint64_t step = mem->size / SAMPLES;
	size_t off = 0;

	step -= step % mem->page_size;
	if (!step)
		step = mem->page_size;
	for (uint64_t o = 0; o < mem->size && n < SAMPLES; o += step)
		pages[n++] = mem->base + o;
	/* move_pages with nodes == NULL only reports where each page is. */
	if (move_pages(0, n, pages, NULL, status, 0) < 0)
		return snprintf(buf, len, "unknown (move_pages: %s)", strerror(errno));
	for (unsigned i = 0; i < n; i++) {
		if (status[i] >= 0 && status[i] < 64) {
			counts[status[i]]++;
			resident++;
		}
	}
	off += snprintf(buf + off, len - off, "%u of %u sampled pages resident", resident, n);
	for (int node = 0; node < 64 && off < len; node++)
		if (counts[node])
			off += snprintf(buf + off, len - off, ", %u on node %d", counts[node], node);
	return 0;
}
