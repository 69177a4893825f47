# mapbench — a thin wrapper over CMake, the mapbench CLI, gnuplot and pytest.
# `make help` lists the targets.

BUILD    ?= build
DB       ?= results/mapbench.db
PLOTS    ?= results/plots
JOBS     ?= $(shell nproc)
PYTHON   := /usr/bin/python3
MAPBENCH := $(BUILD)/mapbench
CMAKE_CFG = cmake -S . -B

.PHONY: help deps build build-asan build-tsan build-plant bench plots gate test clean

help:
	@echo "mapbench — hash map benchmark suite"
	@echo "  make bench     install what is missing, build, run the quick suite into $(DB), render plots"
	@echo "  make test      install what is missing, build (also ASan/UBSan and TSan builds), run every test"
	@echo "  make plots     render $(PLOTS)/*.png and *.svg from $(DB)"
	@echo "  make gate      compare the latest run in $(DB) with the previous one (exit 1 on regression)"
	@echo "  make build     configure and build into $(BUILD)/"
	@echo "  make deps      install missing Debian packages (ci/packages.txt)"
	@echo "  make clean     remove build directories, plots and the report (keeps the database)"
	@echo "variables: DB=path BUILD=dir JOBS=n"

deps:
	@sh ci/install-deps.sh

build: deps
	@$(CMAKE_CFG) $(BUILD) -DCMAKE_BUILD_TYPE=Release >/dev/null
	@cmake --build $(BUILD) -j$(JOBS)

bench: build
	$(MAPBENCH) run --suite quick --db $(DB)
	@sh plots/render.sh $(MAPBENCH) $(DB) $(PLOTS)
	@echo
	@echo "database: $(abspath $(DB))"
	@echo "plots:    $(abspath $(PLOTS))/"
	@echo "try:      $(MAPBENCH) query 'SELECT * FROM latest_medians LIMIT 10' --db $(DB)"

plots: build
	@sh plots/render.sh $(MAPBENCH) $(DB) $(PLOTS)

gate: build
	$(MAPBENCH) gate --db $(DB)

build-asan: deps
	@$(CMAKE_CFG) build-asan -DCMAKE_BUILD_TYPE=Debug -DMB_SANITIZE=address,undefined >/dev/null
	@cmake --build build-asan -j$(JOBS) --target mbtest

build-tsan: deps
	@$(CMAKE_CFG) build-tsan -DCMAKE_BUILD_TYPE=Debug -DMB_SANITIZE=thread >/dev/null
	@cmake --build build-tsan -j$(JOBS) --target mbtest

build-plant: deps
	@$(CMAKE_CFG) build-plant -DCMAKE_BUILD_TYPE=Release -DMB_PLANT=ON >/dev/null
	@cmake --build build-plant -j$(JOBS) --target mapbench

test: build build-asan build-tsan build-plant
	MB_BUILD_DIR=$(BUILD) MB_ASAN_BUILD_DIR=build-asan MB_TSAN_BUILD_DIR=build-tsan \
	  MB_PLANT_BUILD_DIR=build-plant \
	  $(PYTHON) -m pytest -q -p no:cacheprovider tests

clean:
	rm -rf $(BUILD) build-asan build-tsan build-plant $(PLOTS) results/report.html
