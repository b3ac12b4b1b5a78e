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

demo: build
	$(BUILD)/qtalign run --out $(STUDY)

test: build
	ctest --test-dir $(BUILD) --output-on-failure -j $(JOBS) --timeout 900

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
