# Thin wrapper over meson + ninja. `make demo` and `make check` install what
# they need from Debian's packages first (tools/deps.sh).
BUILD     ?= build
BUILD_SAN ?= build-san
MESON     ?= meson
NINJA     ?= ninja
FUZZ_SECONDS ?= 20

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
# takes under 2 minutes; bench-full 5 s per row.
bench: build
	python3 bench/run.py --quick --build $(BUILD)

bench-full: build
	python3 bench/run.py --full --build $(BUILD)

format:
	@git ls-files '*.c' '*.h' | xargs clang-format -i

format-check:
	@git ls-files '*.c' '*.h' | xargs clang-format --dry-run --Werror

fuzz: build-san
	fuzz/run_fuzz.sh $(BUILD_SAN)/fuzz/fuzz_vu_server $(BUILD_SAN)/fuzz/corpus-vu_server \
		fuzz/corpus/vu_server 600

clean:
	rm -rf $(BUILD) $(BUILD_SAN)
