// SPDX-License-Identifier: Apache-2.0
/*
 * Seeds of the state-tree and snapshot harnesses, written by kite's own
 * save code: each device is built on the same fakes as in its harness
 * (fuzz/state_devs.h), brought to an interesting state the way a guest or
 * the VM would, and saved; the snapshot seeds are streams written by
 * snapshot_write_fd(). Built with the harnesses' objects (clang, ASan),
 * run by `make -f fuzz/fuzz.mk seeds` after gen_seeds.
 *
 * Usage: gen-seeds-state DIR   (writes DIR/snapshot, DIR/state_*)
 */
#include <errno.h>
#include <libfdt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "arch/x86/layout.h"
#include "arch/x86/state.h"
#include "devices/acpi_pm.h"
#include "devices/reset.h"
#include "devices/uart.h"
#include "fuzz/fuzz.h"
#include "fuzz/gen_seeds.h"
#include "fuzz/state_devs.h"
#include "tests/fake_vm.h"
#include "virtio/net_impl.h"
#include "virtio/pci.h"
#include "virtio/scsi_impl.h"
#include "vmm/config.h"
#include "vmm/err.h"
#include "vmm/platform.h"
#include "vmm/snapshot.h"
#include "vmm/state.h"
#include "vmm/vm.h"

/* Die with the reason: a seed that cannot be made is a broken generator. */
static void must(int r, const char *what)
{
	if (r) {
		fprintf(stderr, "gen_seeds_state: %s: %s\n", what, err_msg());
		exit(1);
	}
}

/* A tree being saved: node "dev" under the root. */
struct saving {
	struct state_tree st;
	int node;
};

static void begin(struct saving *s)
{
	must(state_begin(&s->st), "state_begin");
	s->node = state_add_node(&s->st, 0, STATE_NODE);
}

/* Pack, check as an incoming tree, write with its state-input header. */
static void finish(struct saving *s, const char *harness, const char *name, uint8_t which,
		   uint8_t flags)
{
	uint8_t hdr[STATE_HDR] = { which, flags };
	const void *blob;
	size_t len;

	must(state_finish(&s->st, &blob, &len), name);
	must(state_check(blob, len), name);
	write_seed(harness, name, hdr, sizeof(hdr), blob, len);
	state_free(&s->st);
}

/* ---- virtio devices ---- */

enum vcase { V_FRESH, V_MSIX, V_INTX, V_MIN, V_SPECIAL, V_NCASES };

static void virtio_seed(enum sd_kind kind, enum vcase c)
{
	static const char *const cases[V_NCASES] = { "fresh", "msix", "intx", "min-features",
						     "special" };
	struct saving s;
	struct sdev d;
	char name[64];

	ram_reset();
	sd_create(&d, kind);
	switch (c) {
	case V_FRESH:
		break;
	case V_MSIX:
		sd_driver_up(&d, 0, true, d.nq, 16);
		break;
	case V_INTX:
		sd_driver_up(&d, 0, false, 1, 8);
		virtio_pci_notify(d.t, 0);	/* ISR set, INTx raised */
		break;
	case V_MIN:
		sd_driver_up(&d, 1ULL << VIRTQ_F_EVENT_IDX | 1ULL << VIRTQ_F_INDIRECT_DESC, true,
			     2, 4);
		break;
	case V_SPECIAL:
		sd_driver_up(&d, 0, true, d.nq, 16);
		if (kind == SD_SCSI) {
			struct virtio_scsi *sc = d.obj;

			/* Write cache off, a unit attention owed, an event
			 * waiting for a buffer. */
			atomic_store(&sc->luns[0].wce, false);
			atomic_store(&sc->luns[1].ua, 0x103);
			must(virtio_scsi_post_event(sc, VIRTIO_SCSI_T_TRANSPORT_RESET, 1,
						    VIRTIO_SCSI_EVT_RESET_HARD), "scsi event");
		} else if (kind == SD_NET) {
			struct virtio_net *n = d.obj;

			/* What the control queue would have set. */
			atomic_store(&n->active_pairs, 2);
			n->promisc = true;
			n->uc_macs = 3;
			n->mc_macs = 1;
		} else {
			/* Selectors left mid-way, a config change seen. */
			uint64_t v = 1;

			virtio_pci_config_changed(d.t);
			sd_bar_rw(&d, VIRTIO_PCI_COMMON_OFF + 0, &v, 4, true);	/* dfselect */
			v = 2;
			sd_bar_rw(&d, VIRTIO_PCI_COMMON_OFF + 22, &v, 2, true);	/* queue_select */
		}
		break;
	default:
		break;
	}
	begin(&s);
	must(sd_save(&d, &s.st, s.node), "virtio save");
	snprintf(name, sizeof(name), "%s-%s", sd_names[kind], cases[c]);
	/* The queues all up: a guest's chains wait in the rings too. */
	finish(&s, "state_virtio", name, (uint8_t)kind, c == V_MSIX ? SD_FILL_RINGS : 0);
	sd_destroy(&d);
}

/* virtio-net holding receive buffers it had popped (the fake tap never
 * lets it, so they are written in as net_dev_save would have): three
 * chains of the filled ring, taken again (rewind) or given back empty. */
static void net_held_seed(bool rewind)
{
	static const uint64_t heads[3] = { 0, 3, 6 };
	struct saving s;
	struct sdev d;
	int q, t;

	ram_reset();
	sd_fill_rings(SD_RING_COUNT);
	sd_create(&d, SD_NET);
	sd_driver_up(&d, 0, true, d.nq, 16);
	begin(&s);
	must(sd_save(&d, &s.st, s.node), "virtio-net save");
	q = state_add_node(&s.st, s.node, "queue@0");
	state_put_u64_array(&s.st, q, "held", heads, 3);
	state_put_u32(&s.st, q, "rewind", rewind);
	must(state_error(&s.st), "held chains");
	/* The three were popped: the transport's ring index is past them. */
	t = fdt_subnode_offset(s.st.fdt, fdt_subnode_offset(s.st.fdt, s.node, "transport"),
			       "queue@0");
	must(t < 0 || fdt_setprop_inplace_u32(s.st.fdt, t, "last-avail-idx", 3), "last-avail-idx");
	finish(&s, "state_virtio", rewind ? "net-held-rewind" : "net-held-returned", SD_NET,
	       SD_FILL_RINGS);
	sd_destroy(&d);
}

static void virtio_seeds(void)
{
	for (unsigned k = 0; k < SD_NKINDS; k++)
		for (unsigned c = 0; c < V_NCASES; c++)
			virtio_seed((enum sd_kind)k, (enum vcase)c);
	net_held_seed(true);
	net_held_seed(false);
}

/* ---- the fixed devices ---- */

/* Must match fuzz_state_platform.c's list. */
enum { W_PLATFORM, W_UART, W_ACPI, W_RESET, W_PCI };

static void out8(struct bus *b, uint16_t port, uint8_t v)
{
	bus_access(b, port, &v, 1, true);
}

static void out16(struct bus *b, uint16_t port, uint16_t v)
{
	bus_access(b, port, (uint8_t *)&v, 2, true);
}

static uint8_t in8(struct bus *b, uint16_t port)
{
	uint8_t v = 0;

	bus_access(b, port, &v, 1, false);
	return v;
}

/* A guest's serial driver: 115200 8n1, FIFO, interrupts, scratch. */
static void uart_driver(struct bus *pio, bool fifo)
{
	out8(pio, PORT_COM1 + 3, 0x80);
	out8(pio, PORT_COM1 + 0, 0x01);
	out8(pio, PORT_COM1 + 1, 0x00);
	out8(pio, PORT_COM1 + 3, 0x03);
	out8(pio, PORT_COM1 + 2, fifo ? 0xc7 : 0x00);
	out8(pio, PORT_COM1 + 4, 0x0b);
	out8(pio, PORT_COM1 + 7, 0x5a);
	out8(pio, PORT_COM1 + 1, 0x07);
}

static void bar_io(void *opaque, uint64_t off, uint8_t *data, unsigned len, bool is_write)
{
	(void)opaque, (void)off;
	if (!is_write)
		memset(data, 0xab, len);
}

static void platform_seeds(void)
{
	static const uint8_t rx[] = "hello, kite";
	struct vm_config cfg;
	struct vm vm;
	struct bus pio, mmio;
	struct uart u;
	struct acpi_pm pm;
	struct reset_dev rd;
	struct pci_host host;
	struct pci_func fn;
	struct saving s;

	/* The platform, as a VM has it: fresh, then used. */
	for (int used = 0; used < 2; used++) {
		memset(&cfg, 0, sizeof(cfg));
		memset(&vm, 0, sizeof(vm));
		cfg.console.kind = CONSOLE_NONE;
		vm.cfg = &cfg;
		bus_init(&vm.pio, "pio");
		bus_init(&vm.mmio, "mmio");
		fake_vm_reset();
		must(platform_create(&vm), "platform_create");
		if (used) {
			uint32_t a = 0x80000810;

			uart_driver(&vm.pio, true);
			out16(&vm.pio, PORT_ACPI_PM1A_EVT + 2, ACPI_PM1_PWRBTN);
			out16(&vm.pio, PORT_ACPI_PM1A_CNT, 1);
			out8(&vm.pio, PORT_I8042_CMD, 0x60);
			out8(&vm.pio, PORT_I8042_DATA, 0x47);
			bus_access(&vm.pio, PORT_PCI_CONFIG_ADDR, (uint8_t *)&a, 4, true);
		}
		begin(&s);
		must(platform_save(&vm, &s.st, s.node), "platform_save");
		finish(&s, "state_platform", used ? "platform-used" : "platform-fresh",
		       W_PLATFORM, 0);
		platform_destroy(&vm);
		bus_destroy(&vm.pio);
		bus_destroy(&vm.mmio);
	}

	/* COM1: fresh; FIFO on with input waiting; FIFO off with a byte. */
	for (int c = 0; c < 3; c++) {
		static const char *const names[] = { "uart-fresh", "uart-fifo", "uart-nofifo" };

		bus_init(&pio, "pio");
		fake_vm_reset();
		must(uart_init(&u, FAKE_VM, &pio, PORT_COM1, COM1_IRQ), "uart_init");
		if (c) {
			uart_driver(&pio, c == 1);
			uart_receive(&u, rx, sizeof(rx) - 1);
			in8(&pio, PORT_COM1);
			out8(&pio, PORT_COM1, 'x');
		}
		begin(&s);
		must(uart_save(&u, &s.st, s.node), "uart_save");
		finish(&s, "state_platform", names[c], W_UART, 0);
		uart_destroy(&u);
		bus_destroy(&pio);
	}

	/* ACPI PM: fresh; the power button pressed, enabled, pending. */
	for (int c = 0; c < 2; c++) {
		bus_init(&pio, "pio");
		fake_vm_reset();
		must(acpi_pm_init(&pm, FAKE_VM, &pio), "acpi_pm_init");
		if (c) {
			out16(&pio, PORT_ACPI_PM1A_EVT + 2, ACPI_PM1_PWRBTN);
			out16(&pio, PORT_ACPI_GPE0 + 2, 0x0003);
			out16(&pio, PORT_ACPI_PM1A_CNT, 3 << ACPI_PM1_SLP_TYP_SHIFT | ACPI_PM1_BM_RLD);
			acpi_pm_power_button(&pm);
		}
		begin(&s);
		must(acpi_pm_save(&pm, &s.st, s.node), "acpi_pm_save");
		finish(&s, "state_platform", c ? "acpi-button" : "acpi-fresh", W_ACPI, 0);
		acpi_pm_destroy(&pm);
		bus_destroy(&pio);
	}

	/* Reset and i8042: fresh; the CTR written and read back (OBF). */
	for (int c = 0; c < 2; c++) {
		bus_init(&pio, "pio");
		fake_vm_reset();
		must(reset_dev_init(&rd, FAKE_VM, &pio), "reset_dev_init");
		if (c) {
			out8(&pio, PORT_I8042_CMD, 0x60);
			out8(&pio, PORT_I8042_DATA, 0x45);
			out8(&pio, PORT_I8042_CMD, 0x20);
		}
		begin(&s);
		must(reset_dev_save(&rd, &s.st, s.node), "reset_dev_save");
		finish(&s, "state_platform", c ? "reset-obf" : "reset-fresh", W_RESET, 0);
		reset_dev_destroy(&rd);
		bus_destroy(&pio);
	}

	/* A PCI function: as placed; BAR 0 moved, I/O off, capability written. */
	for (int c = 0; c < 2; c++) {
		uint8_t body[6] = { 1, 2, 3, 4, 5, 6 }, wm[6] = { 0, 0, 0xff, 0xff, 0, 0 };

		bus_init(&pio, "pio");
		bus_init(&mmio, "mmio");
		must(pci_host_init(&host, &pio, &mmio), "pci_host_init");
		pci_func_init(&fn, "fuzz-fn", 0x1234, 0x42, 0xff0000, 1, 0x1234, 1);
		fn.cfg[PCI_INTERRUPT_PIN] = 1;
		pci_func_set_bar(&fn, 0, PCI_BAR_MEM32, 0x1000, bar_io, &fn);
		pci_func_set_bar(&fn, 1, PCI_BAR_IO, 0x20, bar_io, &fn);
		if (pci_func_add_cap(&fn, 0x09, body, wm, sizeof(body)) < 0)
			must(-EINVAL, "pci_func_add_cap");
		must(pci_add(&host, &fn), "pci_add");
		if (c) {
			uint32_t v = 0xd0000000;

			pci_config_access(&host, 0, fn.slot << 3, PCI_BASE_ADDRESS_0,
					  (uint8_t *)&v, 4, true);
			v = PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER;
			pci_config_access(&host, 0, fn.slot << 3, PCI_COMMAND, (uint8_t *)&v, 2,
					  true);
			v = 11;
			pci_config_access(&host, 0, fn.slot << 3, PCI_INTERRUPT_LINE,
					  (uint8_t *)&v, 1, true);
			v = 0xbeef;
			pci_config_access(&host, 0, fn.slot << 3, 0x40 + 4, (uint8_t *)&v, 2, true);
		}
		begin(&s);
		must(pci_func_save(&fn, &s.st, s.node), "pci_func_save");
		finish(&s, "state_platform", c ? "pci-moved" : "pci-placed", W_PCI, 0);
		pthread_mutex_destroy(&host.lock);
		bus_destroy(&pio);
		bus_destroy(&mmio);
	}
}

/* ---- x86 ---- */

static void x86_seed(const char *name, uint8_t save_flags, uint8_t restore_flags)
{
	struct x86fake f;
	struct saving s;

	x86fake_init(&f, save_flags);
	begin(&s);
	must(x86_state_save(&x86fake_ops, &f, X86F_CPUS, &s.st, s.node), "x86_state_save");
	finish(&s, "state_x86", name, 0, restore_flags);
}

static void x86_seeds(void)
{
	/* The legacy xsave area keeps most seeds small. */
	x86_seed("xsave4k", X86F_XSAVE_4K, X86F_XSAVE_4K);
	x86_seed("xsave2", 0, 0);
	x86_seed("xsave2-into-4k", 0, X86F_XSAVE_4K);
	x86_seed("fpu-sregs", X86F_NO_XSAVE | X86F_NO_SREGS2, X86F_NO_XSAVE | X86F_NO_SREGS2);
	x86_seed("fpu-into-sregs", X86F_NO_XSAVE, X86F_NO_XSAVE | X86F_NO_SREGS2 | X86F_NO_SMM);
	x86_seed("realtime", X86F_NO_XSAVE, X86F_NO_XSAVE | X86F_REALTIME);
	x86_seed("msrs-refused", X86F_NO_XSAVE, X86F_NO_XSAVE | X86F_MSR_REFUSE | X86F_NO_TSCCTL);
	x86_seed("lapic-fails", X86F_NO_XSAVE, X86F_NO_XSAVE | X86F_FAIL);
}

/* ---- snapshot streams ---- */

static void snapshot_seed(const char *name, uint8_t flags, unsigned nonzero, bool device_tree,
			  bool break_crc, bool args)
{
	static const char cmdline[] = "--cpus\0" "2\0" "--memory\0" "28K\0" "--disk\0"
				      "path=a.img,queues=2\0";
	struct guest_mem mem;
	struct snap_shape shape;
	struct saving s;
	const void *blob;
	uint8_t *buf;
	size_t tlen;
	off_t len;
	int fd;

	snapfuzz_mem(&mem);
	snapfuzz_shape(&shape, &mem);
	if (args) {
		shape.args = cmdline;
		shape.args_len = sizeof(cmdline) - 1;	/* ends in its last NUL */
	}
	for (unsigned i = 0; i < mem.nregions; i++)
		memset(mem.regions[i].host, 0, mem.regions[i].size);
	/* Non-zero pages: the first of region 0, then the last of region 1. */
	if (nonzero > 0)
		memset(mem.regions[0].host, 0x11, 4096);
	if (nonzero > 1)
		memset(mem.regions[1].host + mem.regions[1].size - 4096, 0x22, 4096);
	if (nonzero > 2)
		mem.regions[0].host[2 * 4096 + 100] = 0x33;
	begin(&s);
	if (device_tree) {
		struct uart u;
		struct bus pio;

		bus_init(&pio, "pio");
		must(uart_init(&u, FAKE_VM, &pio, PORT_COM1, COM1_IRQ), "uart_init");
		must(uart_save(&u, &s.st, state_add_node(&s.st, s.node, "uart@3f8")), "uart");
		uart_destroy(&u);
		bus_destroy(&pio);
	} else {
		state_put_u32(&s.st, s.node, "x", 1234);
	}
	must(state_finish(&s.st, &blob, &tlen), "state_finish");
	fd = memfd_create("gen-seeds-snapshot", MFD_CLOEXEC);
	if (fd < 0)
		must(-errno, "memfd_create");
	must(snapshot_write_fd(fd, &shape, &mem, blob, tlen), "snapshot_write_fd");
	state_free(&s.st);
	len = lseek(fd, 0, SEEK_END);
	buf = malloc(len);
	if (!buf || pread(fd, buf, len, 0) != len)
		must(-EIO, "reading the stream back");
	close(fd);
	if (break_crc)
		buf[len - 1] ^= 0xff;		/* the end marker's checksum */
	write_seed("snapshot", name, &flags, 1, buf, len);
	free(buf);
}

static void snapshot_seeds(void)
{
	snapshot_seed("zero-ram", 0, 0, false, false, false);
	snapshot_seed("zero-ram-stale", SNAPIN_STALE, 0, false, false, false);
	snapshot_seed("two-pages", 0, 2, true, false, false);
	snapshot_seed("three-pages-stale", SNAPIN_STALE, 3, false, false, true);
	snapshot_seed("fix-crc", SNAPIN_FIX_CRC, 1, true, false, false);
	snapshot_seed("fix-crc-broken", SNAPIN_FIX_CRC, 0, true, true, false);
	snapshot_seed("bad-crc", 0, 0, false, true, false);
	snapshot_seed("args", 0, 0, false, false, true);
	snapshot_seed("args-fix-crc", SNAPIN_FIX_CRC, 1, true, false, true);
}

int main(int argc, char **argv)
{
	seeds_open(argc, argv);
	virtio_seeds();
	platform_seeds();
	x86_seeds();
	snapshot_seeds();
	seeds_done("gen_seeds_state");
	return 0;
}
