# mapbench — a thin wrapper over CMake, the mapbench CLI, gnuplot and pytest.
# `make help` lists the targets.

BUILD    ?= build
DB       ?= results/mapbench.db
PLOTS    ?= results/plots
REPORT   ?= results/report.html
JOBS     ?= $(shell nproc)
PYTHON   := /usr/bin/python3
MAPBENCH := $(BUILD)/mapbench
CMAKE_CFG = cmake -S . -B

.PHONY: help deps build build-asan build-tsan build-plant bench plots report gate test clean

help:
	@echo "mapbench — hash map benchmark suite"
	@echo "  make bench     install what is missing, build, run the quick suite into $(DB), write the report"
	@echo "  make test      install what is missing, build (also ASan/UBSan and TSan builds), run every test"
	@echo "                 (the CLI tests again on the ASan/UBSan mapbench, and a short fuzz run)"
	@echo "  make fuzz      run the libFuzzer targets (fuzz/) for FUZZ_SECONDS each (default $(FUZZ_SECONDS))"
	@echo "  make plots     render $(PLOTS)/*.png and *.svg from $(DB) (RUN=id for an older run)"
	@echo "  make report    write $(REPORT) (and its plots) from $(DB) (RUN=id for an older run)"
	@echo "  make gate      compare the latest run in $(DB) with the previous one (exit 1 on regression)"
	@echo "  make build     configure and build into $(BUILD)/"
	@echo "  make deps      install missing Debian packages (ci/packages.txt)"
	@echo "  make clean     remove build directories, plots and the report (keeps the database)"
	@echo "variables: DB=path BUILD=dir JOBS=n PLOTS=dir REPORT=file RUN=id"

deps:
	@sh ci/install-deps.sh

build: deps
	@$(CMAKE_CFG) $(BUILD) -DCMAKE_BUILD_TYPE=Release >/dev/null
	@cmake --build $(BUILD) -j$(JOBS)

RUN_FLAG = $(if $(RUN),--run $(RUN))

bench: build
	$(MAPBENCH) run --suite quick --db $(DB)
	@$(MAPBENCH) report --db $(DB) --out $(REPORT)
	@echo
	@echo "database: $(abspath $(DB))"
	@echo "plots:    $(abspath $(dir $(REPORT))plots)/"
	@echo "report:   $(abspath $(REPORT))"
	@echo "try:      $(MAPBENCH) query 'SELECT * FROM claim_verdicts' --db $(DB)"

plots: build
	@$(MAPBENCH) plot --db $(DB) --out $(PLOTS) $(RUN_FLAG)

report: build
	@$(MAPBENCH) report --db $(DB) --out $(REPORT) $(RUN_FLAG)

gate: build
	$(MAPBENCH) gate --db $(DB)

build-asan: deps
	@$(CMAKE_CFG) build-asan -DCMAKE_BUILD_TYPE=Debug -DMB_SANITIZE=address,undefined >/dev/null
	@cmake --build build-asan -j$(JOBS) --target mbtest mapbench

build-tsan: deps
	@$(CMAKE_CFG) build-tsan -DCMAKE_BUILD_TYPE=Debug -DMB_SANITIZE=thread >/dev/null
	@cmake --build build-tsan -j$(JOBS) --target mbtest

build-plant: deps
	@$(CMAKE_CFG) build-plant -DCMAKE_BUILD_TYPE=Release -DMB_PLANT=ON >/dev/null
	@cmake --build build-plant -j$(JOBS) --target mapbench mb_lookup_loop

# The CLI tests run twice: against $(BUILD)/mapbench, then against the ASan/UBSan
# build of mapbench itself (MB_SANITIZED=1: the quick-suite and callgrind tests
# skip there).  Then a short seeded run of each fuzz target.
CLI_TESTS = tests/test_cli_db.py tests/test_safety.py

test: build build-asan build-tsan build-plant
	MB_BUILD_DIR=$(BUILD) MB_ASAN_BUILD_DIR=build-asan MB_TSAN_BUILD_DIR=build-tsan \
	  MB_PLANT_BUILD_DIR=build-plant \
	  $(PYTHON) -m pytest -q -p no:cacheprovider tests
	MB_BUILD_DIR=build-asan MB_SANITIZED=1 $(PYTHON) -m pytest -q -p no:cacheprovider $(CLI_TESTS)
	@$(MAKE) --no-print-directory fuzz-smoke

clean:
	rm -rf $(BUILD) build-asan build-tsan build-plant build-dev $(PLOTS) $(REPORT)

# ---- fuzzing (fuzz/): libFuzzer targets built with clang-14 -------------------
# fuzz_args: the argument parsers (base/args.c, plan/selection.c); fuzz_record:
# the child-protocol reader (base/record.c).  `make fuzz` runs each for
# FUZZ_SECONDS; `make fuzz-smoke` (part of `make test`) runs each briefly from
# the seeds.  Findings land in build-fuzz/ as crash-* files.
FUZZ_CC      ?= clang-14
FUZZ_SECONDS ?= 120
FUZZ_SMOKE_SECONDS ?= 12
FUZZ_DIR     := build-fuzz
FUZZ_FLAGS   := -g -O1 -std=gnu11 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
                -DMB_FUZZ -Iharness/base -Iharness/plan -Iimpls -Iworkloads
FUZZ_IMPLS   := $(filter-out impls/peers/%,$(wildcard impls/*/*.c))
FUZZ_ARGS_SRC := fuzz/fuzz_args.c $(FUZZ_DIR)/peers_stub.c harness/base/args.c harness/plan/selection.c \
                 harness/plan/allocators.c impls/registry.c $(FUZZ_IMPLS) $(wildcard workloads/*.c)
FUZZ_RECORD_SRC := fuzz/fuzz_record.c harness/base/record.c

.PHONY: fuzz fuzz-build fuzz-smoke

# the peers' names only, derived from the registry (fuzz/peers_stub.sh)
$(FUZZ_DIR)/peers_stub.c: impls/registry.c fuzz/peers_stub.sh $(FUZZ_IMPLS)
	@mkdir -p $(FUZZ_DIR)
	sh fuzz/peers_stub.sh impls/registry.c $(FUZZ_IMPLS) > $@

$(FUZZ_DIR)/fuzz_args: $(FUZZ_ARGS_SRC) harness/base/args.h harness/plan/plan.h
	@mkdir -p $(FUZZ_DIR)
	$(FUZZ_CC) $(FUZZ_FLAGS) $(FUZZ_ARGS_SRC) -lpthread -lm -ldl -o $@

$(FUZZ_DIR)/fuzz_record: $(FUZZ_RECORD_SRC) harness/base/record.h
	@mkdir -p $(FUZZ_DIR)
	$(FUZZ_CC) $(FUZZ_FLAGS) $(FUZZ_RECORD_SRC) -o $@

fuzz-build: $(FUZZ_DIR)/fuzz_args $(FUZZ_DIR)/fuzz_record

# Runs target $(1) for $(2) seconds on a corpus grown from fuzz/seeds/$(3).
FUZZ_RUN = mkdir -p $(FUZZ_DIR)/corpus-$(3) && \
  cd $(FUZZ_DIR) && ./$(1) -max_total_time=$(2) -max_len=4096 -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 corpus-$(3) ../fuzz/seeds/$(3)

fuzz: fuzz-build
	$(call FUZZ_RUN,fuzz_args,$(FUZZ_SECONDS),args)
	$(call FUZZ_RUN,fuzz_record,$(FUZZ_SECONDS),record)

fuzz-smoke: fuzz-build
	@($(call FUZZ_RUN,fuzz_args,$(FUZZ_SMOKE_SECONDS),args)) > $(FUZZ_DIR)/smoke-args.log 2>&1 \
	  || (tail -60 $(FUZZ_DIR)/smoke-args.log; exit 1)
	@($(call FUZZ_RUN,fuzz_record,$(FUZZ_SMOKE_SECONDS),record)) > $(FUZZ_DIR)/smoke-record.log 2>&1 \
	  || (tail -60 $(FUZZ_DIR)/smoke-record.log; exit 1)
	@grep -h "^Done" $(FUZZ_DIR)/smoke-args.log $(FUZZ_DIR)/smoke-record.log
