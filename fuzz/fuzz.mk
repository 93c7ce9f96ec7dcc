# libFuzzer harnesses, run from the top directory by `make fuzz`:
#   make -f fuzz/fuzz.mk run [FUZZ_SECONDS=N]   build, then fuzz each harness N s
#   make -f fuzz/fuzz.mk build                  build only (build/fuzz/fuzz_NAME)
#   make -f fuzz/fuzz.mk seeds                  regenerate fuzz/seeds/ (commit them)
#   make -f fuzz/fuzz.mk seeds-state            only the state and snapshot seeds
# The project's sources are compiled again by clang with coverage
# instrumentation, ASan and UBSan, into build/fuzz/obj; every fuzz/fuzz_NAME.c
# is one harness.

FUZZ_CC		?= clang
FUZZ_SECONDS	?= 60
FUZZ_MIN_SECONDS ?= 0
FUZZ_OUT	:= build/fuzz
FUZZ_SAN	:= -fsanitize=address,undefined -fno-sanitize-recover=undefined \
		   -fno-omit-frame-pointer
FUZZ_CFLAGS	:= -std=gnu11 -O1 -g -Wall -Wextra -D_GNU_SOURCE -I. -MMD -MP $(FUZZ_SAN)
FUZZ_CHECK_LIBS	:= $(shell pkg-config --libs check 2>/dev/null || echo -lcheck)
# The top Makefile passes its LDLIBS; these are for running this file alone.
FUZZ_LDLIBS	?= -luring -lfdt -lcap-ng -lnuma -lseccomp -ljson-c -lpthread

FUZZ_LIBSRCS	:= $(filter-out vmm/main.c,$(wildcard vmm/*.c arch/x86/*.c devices/*.c virtio/*.c))
# Shared by the harnesses; the tests/ fakes stand in for KVM and the VM.
FUZZ_HELPERS	:= fuzz/common.c fuzz/state_devs.c fuzz/state_x86fake.c tests/fake_vm.c \
		   tests/fake_kvm.c
FUZZ_NAMES	:= $(patsubst fuzz/fuzz_%.c,%,$(wildcard fuzz/fuzz_*.c))
FUZZ_BINS	:= $(FUZZ_NAMES:%=$(FUZZ_OUT)/fuzz_%)

build: $(FUZZ_BINS)

run: build
	@bash fuzz/run.sh $(FUZZ_OUT) $(FUZZ_SECONDS) $(FUZZ_MIN_SECONDS) $(FUZZ_NAMES)

seeds: $(FUZZ_OUT)/gen-seeds $(FUZZ_OUT)/gen-seeds-state $(FUZZ_OUT)/fuzz_migrate
	rm -rf fuzz/seeds
	$(FUZZ_OUT)/gen-seeds fuzz/seeds
	$(FUZZ_OUT)/gen-seeds-state fuzz/seeds
	mkdir -p fuzz/seeds/migrate
	KITE_FUZZ_WRITE_SEEDS=fuzz/seeds/migrate $(FUZZ_OUT)/fuzz_migrate

# The state-tree and snapshot seeds alone (gen_seeds_state.c).
FUZZ_STATE_SEEDS := snapshot state_virtio state_platform state_x86
seeds-state: $(FUZZ_OUT)/gen-seeds-state
	rm -rf $(FUZZ_STATE_SEEDS:%=fuzz/seeds/%)
	$(FUZZ_OUT)/gen-seeds-state fuzz/seeds

# The project's -dev packages, then clang and its libFuzzer runtime.
$(FUZZ_OUT)/.deps-ok: tools/install-deps.sh fuzz/install-deps.sh
	@bash tools/install-deps.sh
	@bash fuzz/install-deps.sh $(FUZZ_CC)
	@mkdir -p $(@D) && touch $@

$(FUZZ_OUT)/obj/%.o: %.c | $(FUZZ_OUT)/.deps-ok
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(FUZZ_WERROR) -fsanitize=fuzzer-no-link -c -o $@ $<

# Our own code builds without warnings; the project's is checked by gcc.
$(FUZZ_OUT)/obj/fuzz/%.o: FUZZ_WERROR := -Werror

$(FUZZ_OUT)/libkite.a: $(FUZZ_LIBSRCS:%.c=$(FUZZ_OUT)/obj/%.o)
	@rm -f $@
	ar rcs $@ $^

$(FUZZ_OUT)/fuzz_%: $(FUZZ_OUT)/obj/fuzz/fuzz_%.o $(FUZZ_HELPERS:%.c=$(FUZZ_OUT)/obj/%.o) \
		    $(FUZZ_OUT)/libkite.a
	$(FUZZ_CC) $(FUZZ_SAN) -fsanitize=fuzzer -o $@ $^ $(FUZZ_LDLIBS)

# The seed generator: plain host build, with the unit tests' kernel fixtures.
$(FUZZ_OUT)/gen-seeds: fuzz/gen_seeds.c fuzz/gen_seeds_ring.c fuzz/gen_seeds_out.c \
		      tests/boot_fixtures.c | $(FUZZ_OUT)/.deps-ok
	$(CC) -std=gnu11 -O1 -g -Wall -Wextra -Werror -D_GNU_SOURCE -I. -o $@ $^ $(FUZZ_CHECK_LIBS)

# The state seeds come from kite's own save code, so their generator links
# the harnesses' objects (clang, sanitizers, no libFuzzer main).
$(FUZZ_OUT)/gen-seeds-state: $(FUZZ_OUT)/obj/fuzz/gen_seeds_state.o \
			     $(FUZZ_OUT)/obj/fuzz/gen_seeds_out.o \
			     $(FUZZ_HELPERS:%.c=$(FUZZ_OUT)/obj/%.o) $(FUZZ_OUT)/libkite.a
	$(FUZZ_CC) $(FUZZ_SAN) -fsanitize=fuzzer-no-link -o $@ $^ $(FUZZ_LDLIBS)

.PHONY: build run seeds seeds-state
.SECONDARY:
-include $(shell find $(FUZZ_OUT)/obj -name '*.d' 2>/dev/null)
