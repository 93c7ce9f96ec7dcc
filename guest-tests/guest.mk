# The freestanding test guest, built by the host gcc (included by the top Makefile).
#   $(BUILD)/testguest.elf     PVH note + 64-bit e_entry (linux64); QEMU/kite -kernel
#   $(BUILD)/testguest-mb.elf  the same objects with a Multiboot v1 header, as an
#                              ELF32 container (QEMU refuses ELF64 Multiboot images)

GUEST_CC      ?= $(CC)
GUEST_OBJCOPY ?= objcopy
GUEST_DIR     := guest-tests
GUEST_OUT     := $(BUILD)/guest

GUEST_CFLAGS := -std=gnu11 -O2 -g -Wall -Wextra -Werror \
	-ffreestanding -nostdlib -static -fno-pic -fno-pie -mno-red-zone \
	-mgeneral-regs-only -fno-stack-protector -fno-asynchronous-unwind-tables \
	-fno-unwind-tables -fcf-protection=none -fno-tree-loop-distribute-patterns \
	-fno-omit-frame-pointer -I$(GUEST_DIR) -MMD -MP
GUEST_LDFLAGS := -nostdlib -static -no-pie -Wl,-T,$(GUEST_DIR)/link.ld \
	-Wl,--build-id=none -Wl,-z,max-page-size=0x1000

GUEST_CSRCS := $(filter-out $(GUEST_DIR)/linux64-shim.c,$(wildcard $(GUEST_DIR)/*.c))
GUEST_COMMON := $(GUEST_CSRCS:$(GUEST_DIR)/%.c=$(GUEST_OUT)/%.o) \
	$(addprefix $(GUEST_OUT)/,head.o isr.o pagetables.o trampoline.o)

guest: $(BUILD)/testguest.elf $(BUILD)/testguest-mb.elf $(GUEST_OUT)/linux64-shim.elf

$(GUEST_OUT)/%.o: $(GUEST_DIR)/%.c
	@mkdir -p $(dir $@)
	$(GUEST_CC) $(GUEST_CFLAGS) -c -o $@ $<

$(GUEST_OUT)/%.o: $(GUEST_DIR)/%.S
	@mkdir -p $(dir $@)
	$(GUEST_CC) $(GUEST_CFLAGS) -c -o $@ $<

$(BUILD)/testguest.elf: $(GUEST_COMMON) $(GUEST_OUT)/pvhnote.o $(GUEST_DIR)/link.ld
	$(GUEST_CC) $(GUEST_LDFLAGS) -Wl,-e,linux64_entry -o $@ $(GUEST_COMMON) $(GUEST_OUT)/pvhnote.o

# Linked as ELF64 first (the code is 64-bit), then rewrapped as ELF32.
$(GUEST_OUT)/testguest-mb64.elf: $(GUEST_COMMON) $(GUEST_OUT)/mbheader.o $(GUEST_DIR)/link.ld
	$(GUEST_CC) $(GUEST_LDFLAGS) -Wl,-e,mb_entry -o $@ $(GUEST_OUT)/mbheader.o $(GUEST_COMMON)

$(BUILD)/testguest-mb.elf: $(GUEST_OUT)/testguest-mb64.elf
	$(GUEST_OBJCOPY) -O elf32-i386 $< $@

# Test aid for qemu-guest.sh: enters testguest.elf the way kite's linux64
# protocol does, since QEMU has no such protocol (see linux64-shim.S).
$(GUEST_OUT)/linux64-shim64.elf: $(GUEST_OUT)/linux64-shim.o $(GUEST_OUT)/linux64-shim-entry.o $(GUEST_DIR)/linux64-shim.ld
	$(GUEST_CC) -nostdlib -static -no-pie -Wl,-T,$(GUEST_DIR)/linux64-shim.ld -Wl,--build-id=none \
		-Wl,-z,max-page-size=0x1000 -o $@ $(GUEST_OUT)/linux64-shim-entry.o $(GUEST_OUT)/linux64-shim.o

$(GUEST_OUT)/linux64-shim-entry.o: $(GUEST_DIR)/linux64-shim.S
	@mkdir -p $(dir $@)
	$(GUEST_CC) $(GUEST_CFLAGS) -c -o $@ $<

$(GUEST_OUT)/linux64-shim.elf: $(GUEST_OUT)/linux64-shim64.elf
	$(GUEST_OBJCOPY) -O elf32-i386 $< $@

-include $(wildcard $(GUEST_OUT)/*.d)
