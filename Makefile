# kite — one entry point: build, run, test, linux-smoke, asan, clean.
# `make` builds build/kite and the test guest build/testguest.elf.

CC      ?= gcc
BUILD   ?= build
PKGS    := liburing libfdt libcap-ng libnuma libseccomp json-c
CFLAGS  ?= -O2 -g
CFLAGS  += -std=gnu11 -Wall -Wextra -Werror -D_GNU_SOURCE -I. -MMD -MP
LDLIBS  += -luring -lfdt -lcap-ng -lnuma -lseccomp -ljson-c -lpthread

# Build flavours: `make asan` builds into build/asan with sanitizers.
ifeq ($(SANITIZE),1)
BUILD   := build/asan
CFLAGS  += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDFLAGS += -fsanitize=address,undefined
endif

SRCS    := $(wildcard vmm/*.c arch/x86/*.c devices/*.c virtio/*.c)
LIBSRCS := $(filter-out vmm/main.c,$(SRCS))
LIBOBJS := $(LIBSRCS:%.c=$(BUILD)/obj/%.o)
TESTSRCS := $(wildcard tests/*.c)
TESTOBJS := $(TESTSRCS:%.c=$(BUILD)/obj/%.o)

all: deps $(BUILD)/kite guest

# Install missing -dev packages (Debian) once; a stamp avoids asking every time.
deps: $(BUILD)/.deps-ok
$(BUILD)/.deps-ok: tools/install-deps.sh
	@bash tools/install-deps.sh
	@mkdir -p $(BUILD) && touch $@

$(BUILD)/obj/%.o: %.c | $(BUILD)/.deps-ok
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

$(BUILD)/libkite.a: $(LIBOBJS)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/kite: $(BUILD)/obj/vmm/main.o $(BUILD)/libkite.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/unit-tests: $(TESTOBJS) $(BUILD)/libkite.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) $$(pkg-config --libs check)

include guest-tests/guest.mk

# kvmfake (tests/kvmfake/fake.h): a stand-in for /dev/kvm preloaded into a
# real kite, for hosts without KVM (tests/kvmfake.sh). Never sanitized: a
# sanitized kite loads it with ASan's link-order check off.
KVMFAKE_SRCS := $(wildcard tests/kvmfake/*.c)
$(BUILD)/kvmfake.so: $(KVMFAKE_SRCS) $(wildcard tests/kvmfake/*.h)
	@mkdir -p $(BUILD)
	$(CC) -std=gnu11 -O2 -g -Wall -Wextra -Werror -D_GNU_SOURCE -fPIC -shared \
		-o $@ $(KVMFAKE_SRCS) -ldl -lpthread

unit: $(BUILD)/unit-tests
	CK_FORK=yes CK_TIMEOUT_MULTIPLIER=3 $(BUILD)/unit-tests

# `make run`: boot the bundled test guest in demo mode and show what it saw
# (without /dev/kvm, on kvmfake's native CPU: guest-tests/lib.sh kite_cpu).
run: all $(BUILD)/kvmfake.so
	@bash guest-tests/run-demo.sh $(BUILD)

# `make test`: every unit test and every guest test.
test: all $(BUILD)/unit-tests $(BUILD)/kvmfake.so
	@bash tests/run-all.sh $(BUILD)

# Linux early-boot smoke test (fetches the Debian cloud kernel into build/).
linux-smoke: all $(BUILD)/kvmfake.so
	@bash guest-tests/linux-smoke.sh $(BUILD)

# `make bench`: kite's virtio-blk and virtio-scsi beside QEMU's and host fio
# (tools/bench.sh), then virtio-net beside QEMU's (tools/bench-net.sh), then
# kite's blk beside its scsi on kvmfake, the device path alone (tools/bench-kvmfake.sh);
# options through BENCH_ARGS, e.g. make bench BENCH_ARGS=--quick.
bench: all $(BUILD)/kvmfake.so
	@bash tools/bench.sh --build $(BUILD) $(BENCH_ARGS) && bash tools/bench-net.sh --build $(BUILD) $(BENCH_ARGS) && bash tools/bench-kvmfake.sh --build $(BUILD) $(BENCH_ARGS)

asan:
	$(MAKE) SANITIZE=1 test

clean:
	rm -rf build

.PHONY: all deps guest unit run test linux-smoke bench asan clean
-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)

# `make fuzz`: the libFuzzer harnesses in fuzz/ (clang, ASan, UBSan), each run
# on its regression inputs, then for FUZZ_SECONDS (default 60) from its seeds.
# `make fuzz-ci`: the same, never shorter than 60 s a harness.
fuzz:
	@$(MAKE) --no-print-directory -f fuzz/fuzz.mk run FUZZ_LDLIBS='$(LDLIBS)'

fuzz-ci:
	@$(MAKE) --no-print-directory -f fuzz/fuzz.mk run FUZZ_LDLIBS='$(LDLIBS)' FUZZ_MIN_SECONDS=60

.PHONY: fuzz fuzz-ci
