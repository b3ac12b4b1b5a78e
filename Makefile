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

clean:
	rm -rf $(BUILD)
fuzz:
	CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DQTALIGN_FUZZ=ON -DQTALIGN_TESTS=OFF -DQTALIGN_BENCH=OFF
	cmake --build build-fuzz -j $(JOBS) --target fuzz

