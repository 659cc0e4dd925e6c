# Thin wrapper over meson + ninja. `make demo` and `make check` install what
# they need from Debian's packages first (tools/deps.sh).
BUILD     ?= build
BUILD_SAN ?= build-san
MESON     ?= meson
NINJA     ?= ninja
FUZZ_SECONDS ?= 20
FUZZ_TIME ?= 600
FUZZ_TARGETS ?= vu_server nvme_ctrl nvme_ctrl_mt dptr rpc_server

.PHONY: all deps build build-san demo check test format format-check fuzz bench bench-full clean

all: build

deps:
	@tools/deps.sh

$(BUILD)/build.ninja:
	CC=gcc $(MESON) setup $(BUILD) -Dwerror=true

$(BUILD_SAN)/build.ninja:
	CC=clang $(MESON) setup $(BUILD_SAN) -Dwerror=true \
		-Db_sanitize=address,undefined -Db_lundef=false \
		-Dfuzz=true -Dfuzz_seconds=$(FUZZ_SECONDS)

build: deps $(BUILD)/build.ninja
	$(NINJA) -C $(BUILD)

build-san: deps $(BUILD_SAN)/build.ninja
	@$(MESON) configure $(BUILD_SAN) -Dfuzz_seconds=$(FUZZ_SECONDS) >/dev/null
	$(NINJA) -C $(BUILD_SAN)

demo: build
	@tools/demo.sh $(BUILD)

# The whole suite: gcc build (unit, integration, style), then the clang
# ASan+UBSan build (unit, integration, bounded fuzz). Last line:
# "N passed, N failed".
check: build build-san
	@tools/check.sh $(BUILD) $(BUILD_SAN)

test: check

# Benchmarks against the protocol ceiling (docs/performance.md): quick mode
# takes about 6 minutes (slices of 0.5 s, each row beside its own
# ceiling); bench-full slices of 2 s.
bench: build
	python3 bench/run.py --quick --build $(BUILD)

bench-full: build
	python3 bench/run.py --full --build $(BUILD)

format:
	@git ls-files '*.c' '*.h' | xargs clang-format -i

format-check:
	@git ls-files '*.c' '*.h' | xargs clang-format --dry-run --Werror

# Each fuzz target in turn for FUZZ_TIME seconds (FUZZ_TIME_<target> for one
# of them), keeping what it finds in build-san/fuzz/corpus-<target>; stops at
# the first crash (the input is written next to that corpus).
fuzz: build-san
	$(foreach t,$(FUZZ_TARGETS),fuzz/run_fuzz.sh $(BUILD_SAN)/fuzz/fuzz_$(t) \
		$(BUILD_SAN)/fuzz/corpus-$(t) fuzz/corpus/$(patsubst %_mt,%,$(t)) $(or $(FUZZ_TIME_$(t)),$(FUZZ_TIME)) &&) true

clean:
	rm -rf $(BUILD) $(BUILD_SAN)
