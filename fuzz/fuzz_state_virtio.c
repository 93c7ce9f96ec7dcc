// SPDX-License-Identifier: Apache-2.0
/*
 * Restore of the virtio devices from a hostile state tree: the virtio-pci
 * transport alone (with a stand-in device), virtio-blk, virtio-scsi and
 * virtio-net, each over its fakes (fuzz/state_devs.h). The input is a state
 * input: byte 0 picks the device (% 4: transport, blk, scsi, net), the tree
 * holds its node "dev", saved by gen_seeds_state from a device a driver
 * brought up. Byte 1: SD_FILL_RINGS puts chains in the rings where the
 * seeds' driver placed them, for the restored device to find.
 *
 * Each run: the tree must pass state_check (as snapshot_read_fd makes
 * sure); the reader walks it whole (state_walk); a fresh device restores
 * from it, and whether that worked or not, a guest and the fake I/O thread
 * then use it (kicks, interrupts, every common-config field, MSI-X table,
 * config space), reset it, check it is reset and bring it up again; then
 * it is freed. A refused restore must say why (err_msg). A state restore
 * accepted is one the device can be in: saved again at once (before any
 * kick is served) it must restore into another fresh device. ASan, UBSan
 * and LeakSanitizer watch the rest.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz/fuzz.h"
#include "fuzz/state_devs.h"
#include "vmm/err.h"
#include "vmm/state.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Save s into a new tree (NULL if the device is busy: a restore may leave
 * used entries to publish, which a save refuses). */
static void *save_again(struct sdev *s, size_t *len)
{
	struct state_tree st;
	void *t = NULL;
	int r;

	FUZZ_CHECK(state_begin(&st) == 0, "%s", err_msg());
	r = sd_save(s, &st, state_add_node(&st, 0, STATE_NODE));
	state_note("save", r);
	FUZZ_CHECK(r == 0 || r == -EBUSY, "save after a restore: %d %s", r, err_msg());
	if (!r)
		t = state_tree_copy(&st, len);
	state_free(&st);
	return t;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sdev s;
	size_t len, len2 = 0;
	void *t = state_input_tree(data, size, &len), *t2 = NULL;
	enum sd_kind kind = (enum sd_kind)(data[0] % SD_NKINDS);
	int r;

	if (!t)
		return 0;
	ram_reset();
	if (data[1] & SD_FILL_RINGS)
		sd_fill_rings(SD_RING_COUNT);
	sd_create(&s, kind);
	err_clear();
	r = sd_restore(&s, t, state_node(t, 0, STATE_NODE));
	if (state_restored(sd_names[kind], r))
		t2 = save_again(&s, &len2);
	sd_exercise(&s);
	sd_destroy(&s);
	free(t);
	if (t2) {
		ram_reset();
		if (data[1] & SD_FILL_RINGS)
			sd_fill_rings(SD_RING_COUNT);
		sd_create(&s, kind);
		r = sd_restore(&s, t2, state_node(t2, 0, STATE_NODE));
		FUZZ_CHECK(r == 0, "%s: a tree saved from a restored device is refused: %s",
			   sd_names[kind], err_msg());
		sd_exercise(&s);
		sd_destroy(&s);
		free(t2);
	}
	return 0;
}
