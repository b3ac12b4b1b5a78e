# The two things a newcomer does: `make demo` and `make test`. Everything else is a step of those.
BUILD ?= build
JOBS ?= $(shell nproc)
STUDY ?= study

.PHONY: deps build demo test fuzz sanitize bench clean

deps:
	tools/install-deps.sh

build: deps
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Release
	cmake --build $(BUILD) -j $(JOBS)

# The study for one configuration (with the lens and PCA), then a small grid on the same demo model:
# 2 mixtures x 2 answer types, tuned on emotion questions (from the half of the test sets that the
# evaluation leaves out), with its tables; in fp32 on one thread, as `qtalign run` runs the demo, whatever
# the CPU's bf16 support, and at the lr `qtalign run` tunes the demo with (a model directory is not
# "demo", so the demo's defaults do not apply by themselves).
demo: build
	$(BUILD)/qtalign run --out $(STUDY)
	$(BUILD)/qtalign study --out $(STUDY)/grid --models $(STUDY)/model --train-langs zh sw,hi \
		--tasks emotion --labels english same-language \
		--size 96 --eval-limit 16 --epochs 1 --batch 4 --grad-accum 2 --cutoff 512 --lr 5e-3 --dtype fp32 --threads 1

# One ctest entry per GoogleTest suite; each test's result is also in $(BUILD)/tests/results/*.xml.
test: build
	cmake --build $(BUILD) -j $(JOBS) --target benchmarks
	ctest --test-dir $(BUILD) --output-on-failure -j $(JOBS) --timeout 900

# The benchmark programs (bench/; see BENCHMARKS.md), which the default build leaves out.
bench: build
	cmake --build $(BUILD) -j $(JOBS) --target benchmarks

# One clang build with ASan+UBSan serves both the fuzz targets and the sanitized test suite.
ASAN_BUILD ?= build-asan
ASAN_CONFIGURE = CXX=clang++ cmake -S . -B $(ASAN_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	"-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -gline-tables-only" -DQTALIGN_SANITIZE=ON -DQTALIGN_FUZZ=ON -DQTALIGN_BENCH=OFF
# Every finding stops the program with a report. Leak checking stays on: libtorch (1.13, Debian) frees
# or keeps reachable what it allocates; only fontconfig's process-lifetime caches are suppressed (see
# tools/lsan-suppressions.txt).
SANITIZER_ENV = ASAN_OPTIONS=halt_on_error=1:detect_leaks=1 \
	LSAN_OPTIONS=suppressions=$(CURDIR)/tools/lsan-suppressions.txt:print_suppressions=0 \
	UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)

# Runs each libFuzzer target for 60 s (QTALIGN_FUZZ_SECONDS); crashers land in fuzz/corpus/<name>/.
fuzz: deps
	$(ASAN_CONFIGURE)
	$(SANITIZER_ENV) cmake --build $(ASAN_BUILD) -j $(JOBS) --target fuzz

# The whole test suite under AddressSanitizer + UndefinedBehaviorSanitizer.
sanitize: deps
	$(ASAN_CONFIGURE)
	cmake --build $(ASAN_BUILD) -j $(JOBS)
	$(SANITIZER_ENV) ctest --test-dir $(ASAN_BUILD) --output-on-failure -j $(JOBS) --timeout 1800
