# Makefile for github.com/opperotel/bridge.
#
# `make` (or `make help`) lists the targets. CI runs `bash .ci/run`, which runs `make test`.
#
# Developer tools (staticcheck, mdatagen, benchstat) are pinned in the separate module tools/go.mod
# and run with `go tool -modfile=tools/go.mod NAME`: nothing is installed globally, and the main
# go.mod stays free of tool dependencies. Go builds and caches them on first use.

# bash for `pipefail` (so `go test ... | tee` fails when go test fails); recipes are otherwise plain sh.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c

.DEFAULT_GOAL := help

GO      ?= go
GOTOOL  := $(GO) tool -modfile=tools/go.mod

# Extra flags for `go test` in test-go, e.g. `make test-go GOTEST_FLAGS='-timeout 15m -v'`.
GOTEST_FLAGS ?=
# The race detector needs cgo and a C compiler; without them test-go runs without -race (and says so).
RACE ?= $(shell [ "$$($(GO) env CGO_ENABLED)" = 1 ] && command -v "$$($(GO) env CC)" >/dev/null 2>&1 && echo -race)

# Package pattern for bench and fuzz, e.g. `make bench PKG=./translator`.
PKG ?= ./...

# bench: which benchmarks (a -bench regexp), how often each runs, and where the output is kept.
BENCH       ?= .
BENCHCOUNT  ?= 1
BENCH_FLAGS ?=
BENCH_STAMP := $(shell date +%Y%m%d-%H%M%S)
BENCH_OUT   ?= bench/$(BENCH_STAMP).txt

# bench-export: rounds, spans per benchmark (x 1,000), and the benchmarks, each its own process.
ROUNDS           ?= 3
EXPORT_BENCHTIME ?= 400x
EXPORT_BENCHES   ?= 'BenchmarkExportNop$$' 'BenchmarkExportOTLPHTTP$$/encoding=proto' \
	'BenchmarkExportOTLPHTTP$$/encoding=json' 'BenchmarkExport$$/bulk/metadata' 'BenchmarkExport$$/bulk/full' \
	'BenchmarkExport$$/per_span_c16/metadata' 'BenchmarkExport$$/per_span_c16/full'

# fuzz: how long each Fuzz* target runs.
FUZZTIME ?= 30s

# Hand-written and generated Go files of the main module, tracked or new (untracked but not ignored);
# tools/ and testdata/ are left out. Files deleted from the work tree but still in the index are skipped.
GOFILES_CMD := git ls-files --cached --others --exclude-standard -- '*.go' ':!:tools/' ':!:testdata/' ':!:**/testdata/**' \
	| while read -r f; do if [ -f "$$f" ]; then echo "$$f"; fi; done

# npm-based test client (OTel SDK for Node); its dependencies are installed only once it exists.
NODE_SDK_DIR := testdata/sdk
# The explorer's browser tests: playwright-core (pinned in its package-lock.json) and Debian's
# chromium. Debian's security archive keeps only the newest build of a package, so the package is
# pinned to its distribution (bookworm) and a major version the tests were written against, not to
# one build that would vanish from the mirror.
BROWSER_DIR     := e2e/browser
GENAI_APP_DIR   := testdata/gen/otel-genai
CHROMIUM        := /usr/bin/chromium
CHROMIUM_MAJOR  := 156

.PHONY: help fmt lint generate deps test-node-deps genai-deps browser-deps postgres-deps test test-go bench bench-export bench-logs bench-e2e bench-e2e-postgres bench-e2e-overload benchstat fuzz build run

## help: list the targets
help:
	@echo "Targets:"
	@sed -n 's/^## \([a-z-]*\): /  \1\t/p' $(MAKEFILE_LIST) | expand -t 18
	@echo
	@echo "Variables: GOTEST_FLAGS, RACE, PKG, BENCH, BENCHCOUNT, BENCH_FLAGS, BENCH_OUT, FUZZTIME, OLD, NEW"

## fmt: gofmt -s -w all Go files (not tools/ or testdata/)
fmt:
	@files=$$($(GOFILES_CMD)); \
	if [ -n "$$files" ]; then echo "$$files" | xargs gofmt -s -w; fi

## lint: gofmt check, go vet, staticcheck
lint:
	@files=$$($(GOFILES_CMD)); \
	bad=$$(if [ -n "$$files" ]; then echo "$$files" | xargs gofmt -s -l; fi); \
	if [ -n "$$bad" ]; then echo "gofmt -s would change these files (run 'make fmt'):"; echo "$$bad"; exit 1; fi
	$(GO) vet ./...
	$(GOTOOL) staticcheck ./...

## generate: go generate ./... (mdatagen for the component packages)
generate:
	$(GO) generate ./...

## deps: download Go modules (main + tools), the Node test clients' packages, the browser and PostgreSQL
deps: test-node-deps genai-deps browser-deps postgres-deps
	$(GO) mod download
	cd tools && $(GO) mod download

# Hook for the npm-based end-to-end tests: a no-op until $(NODE_SDK_DIR)/package.json exists.
## test-node-deps: npm ci in testdata/sdk (once it exists)
test-node-deps:
	@if [ -f $(NODE_SDK_DIR)/package.json ]; then \
		echo "cd $(NODE_SDK_DIR) && npm ci --no-audit --no-fund"; \
		cd $(NODE_SDK_DIR) && npm ci --no-audit --no-fund; \
	else \
		echo "test-node-deps: no $(NODE_SDK_DIR)/package.json yet, nothing to install"; \
	fi

## genai-deps: npm ci in testdata/gen/otel-genai (the npm OpenAI instrumentation the live e2e test runs)
genai-deps:
	@if [ -d $(GENAI_APP_DIR)/node_modules/@opentelemetry/instrumentation-openai ]; then \
		echo "genai-deps: $(GENAI_APP_DIR)/node_modules is there"; \
	else \
		echo "cd $(GENAI_APP_DIR) && npm ci --no-audit --no-fund"; \
		cd $(GENAI_APP_DIR) && npm ci --no-audit --no-fund; \
	fi

## browser-deps: npm ci in e2e/browser (playwright-core) and Debian's chromium, if missing (as root)
browser-deps:
	cd $(BROWSER_DIR) && npm ci --no-audit --no-fund
	@if [ -x $(CHROMIUM) ]; then \
		echo "browser-deps: $$($(CHROMIUM) --version 2>/dev/null)"; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "browser-deps: installing Debian's chromium"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null; \
		$(CHROMIUM) --version; \
	else \
		echo "browser-deps: $(CHROMIUM) is missing; install Debian's chromium package (sudo apt-get install chromium) for the browser tests"; \
	fi
	@v=$$($(CHROMIUM) --version 2>/dev/null | sed -n 's/^Chromium \([0-9]*\)\..*/\1/p'); \
	if [ -n "$$v" ] && [ "$$v" -lt $(CHROMIUM_MAJOR) ]; then \
		echo "browser-deps: chromium $$v is older than $(CHROMIUM_MAJOR), which the browser tests were written against"; exit 1; fi

## postgres-deps: PostgreSQL's server binaries for the tests (Debian's postgresql package, as root), if missing
# The tests start throwaway servers themselves (internal/pgtest): initdb into a temporary directory,
# postgres on a free port of 127.0.0.1, as the postgres user when run as root.
postgres-deps:
	@if ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || [ -n "$${PG_BIN:-}" ]; then \
		echo "postgres-deps: $$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | tail -n 1)$${PG_BIN:-}"; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "postgres-deps: installing Debian's postgresql (server binaries and contrib; the service is not used)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql >/dev/null; \
		ls -d /usr/lib/postgresql/*/bin; \
	else \
		echo "postgres-deps: PostgreSQL's server binaries are missing; install Debian's postgresql package (sudo apt-get install postgresql) or set PG_BIN"; \
	fi

## test: deps, lint, then test-go (what CI runs)
test:
	@$(MAKE) --no-print-directory deps
	@$(MAKE) --no-print-directory lint
	@$(MAKE) --no-print-directory test-go

## test-go: go test -race -count=1 ./...
test-go:
	@[ -n "$(RACE)" ] || echo "test-go: warning: cgo or C compiler missing, running without -race"
	$(GO) test $(RACE) -count=1 $(GOTEST_FLAGS) ./...

## bench: run benchmarks, e.g. make bench BENCH=BenchmarkToOpper PKG=./translator
# BENCH_FLAGS come after the package, so a package's own benchmark flags
# (-export.inputs, -export.cpuprofile in ./exporter/opperexporter) reach it.
bench:
	@mkdir -p $(dir $(BENCH_OUT))
	$(GO) test -run='^$$' -bench='$(BENCH)' -benchmem -count=$(BENCHCOUNT) $(PKG) $(BENCH_FLAGS) | tee $(BENCH_OUT)
	@echo "bench: output kept in $(BENCH_OUT)"

## bench-export: the exporter's CPU against otlp_http and a nop exporter, e.g. make bench-export ROUNDS=5 BENCH_FLAGS=-export.requests=sdk
# Each benchmark runs in a process of its own (peak memory and the heap only grow within one), and
# the rounds interleave them, so a slow minute of the machine does not land on one of them alone.
bench-export:
	@mkdir -p bench
	$(GO) test -c -o bench/opperexporter.test ./exporter/opperexporter
	for r in $$(seq $(ROUNDS)); do \
	  for b in $(EXPORT_BENCHES); do \
	    (cd exporter/opperexporter && ../../bench/opperexporter.test -test.run='^$$' -test.bench="$$b" \
	      -test.benchtime=$(EXPORT_BENCHTIME) $(BENCH_FLAGS)) | grep '^Benchmark'; \
	  done; \
	done | tee $(BENCH_OUT)
	$(GOTOOL) benchstat $(BENCH_OUT)
	@echo "bench-export: output kept in $(BENCH_OUT)"

# bench-e2e: the built collector end to end (internal/cmd/bench-e2e); E2E_FLAGS adds its flags,
# e.g. E2E_FLAGS='-rounds 1 -shapes plain -plain-spans 200000' or -profile-dir bench/.
E2E_FLAGS ?=

## bench-logs: the GenAI log join's CPU per span against traces only (storage mode, SQLite), and the join buffer's bound
# Rounds alternate the three modes so that a noisy neighbour weighs on each alike.
bench-logs:
	@mkdir -p bench
	$(GO) test -c -o bench/opperexporter.test ./exporter/opperexporter
	for r in $$(seq $(ROUNDS)); do \
	  for m in traces_only content_as_events logs_first spans_first; do \
	    (cd exporter/opperexporter && ../../bench/opperexporter.test -test.run='^$$' -test.bench="BenchmarkLogsJoin/$$m\$$" -test.benchtime=100x) | grep '^Benchmark'; \
	  done; \
	done | tee bench/logs-$(BENCH_STAMP).txt
	(cd exporter/opperexporter && ../../bench/opperexporter.test -test.run='^$$' -test.bench='BenchmarkLogsJoinBufferBound' -test.benchtime=200x) | grep '^Benchmark' | tee -a bench/logs-$(BENCH_STAMP).txt

## bench-e2e: the local path end to end: old (exporter -> HTTP -> receiver) and new config/local.yaml, durable spans/s, CPU, RSS
bench-e2e: build
	@mkdir -p bench
	$(GO) run ./internal/cmd/bench-e2e $(E2E_FLAGS) | tee bench/e2e-$(BENCH_STAMP).txt
	@echo "bench-e2e: output kept in bench/e2e-$(BENCH_STAMP).txt"

## bench-e2e-postgres: the local path with the store on PostgreSQL (a throwaway durable server) against SQLite
bench-e2e-postgres: build
	@mkdir -p bench
	$(GO) run ./internal/cmd/bench-e2e -postgres -configs sqlite=config/local.yaml,postgres=internal/cmd/bench-e2e/testdata/local-postgres.yaml $(E2E_FLAGS) | tee bench/e2e-postgres-$(BENCH_STAMP).txt
	@echo "bench-e2e-postgres: output kept in bench/e2e-postgres-$(BENCH_STAMP).txt"

## bench-e2e-overload: 16 connections x 500 spans closed-loop for 60 s against config/local.yaml: push-back, RSS, nothing acknowledged lost
bench-e2e-overload: build
	@mkdir -p bench
	$(GO) run ./internal/cmd/bench-e2e -overload -spans-per-request 500 $(E2E_FLAGS) | tee bench/e2e-overload-$(BENCH_STAMP).txt
	@echo "bench-e2e-overload: output kept in bench/e2e-overload-$(BENCH_STAMP).txt"

## benchstat: compare two bench outputs: make benchstat OLD=bench/a.txt NEW=bench/b.txt
benchstat:
	@[ -n "$(OLD)" ] && [ -n "$(NEW)" ] || { echo "usage: make benchstat OLD=bench/a.txt NEW=bench/b.txt"; exit 2; }
	$(GOTOOL) benchstat $(OLD) $(NEW)

## fuzz: run each Fuzz* target for FUZZTIME (default 30s), e.g. make fuzz PKG=./translator FUZZTIME=10s
# `go test -fuzz` takes one target in one package at a time, so list them first. `go test -list`
# prints a package's matching names, then that package's "ok <pkg> <time>" line. Every target runs;
# the target fails at the end if any of them found a failing input.
fuzz:
	@list=$$($(GO) test -list '^Fuzz' $(PKG)); \
	targets=$$(echo "$$list" | awk '/^Fuzz/ { n[++c] = $$1; next } /^ok/ { for (i = 1; i <= c; i++) print $$2, n[i]; c = 0 }'); \
	if [ -z "$$targets" ]; then echo "fuzz: no Fuzz* targets in $(PKG)"; exit 0; fi; \
	failed=; \
	while read -r pkg name; do \
		echo "== fuzz $$pkg $$name for $(FUZZTIME)"; \
		$(GO) test -run='^$$' -fuzz="^$$name\$$" -fuzztime=$(FUZZTIME) "$$pkg" || failed="$$failed $$pkg.$$name"; \
	done <<< "$$targets"; \
	if [ -n "$$failed" ]; then echo "fuzz: FAILED:$$failed (failing inputs are under each package's testdata/fuzz/)"; exit 1; fi

# The collector distribution: ocb (cmd/builder, pinned) builds builder-config.yaml into
# bin/otelcol-opper. Its generated sources live in _build/ (ignored).
OCB_VERSION := v0.164.0
OCB         := bin/builder
COLLECTOR   := bin/otelcol-opper
RUN_CONFIG  ?= config/local.yaml
# Extra collector flags for run, e.g. RUN_ARGS='--set=receivers.opper.endpoint=localhost:9090'.
RUN_ARGS    ?=

$(OCB):
	@mkdir -p bin
	GOBIN=$(CURDIR)/bin $(GO) install go.opentelemetry.io/collector/cmd/builder@$(OCB_VERSION)

## build: build the collector distribution bin/otelcol-opper with ocb (installs ocb into bin/ first)
build: $(OCB)
	@mkdir -p _build
	$(OCB) --config=builder-config.yaml
	@# Copy, then rename: a plain cp fails with "Text file busy" while the old binary runs (make run).
	cp _build/otelcol-opper/otelcol-opper $(COLLECTOR).tmp
	mv -f $(COLLECTOR).tmp $(COLLECTOR)

## run: build, then start the collector with config/local.yaml (RUN_CONFIG=... for another)
run: build
	@mkdir -p data
	@echo
	@echo "  otelcol-opper starting with $(RUN_CONFIG)"
	@echo "  Trace explorer: http://localhost:8090/          <- open this"
	@echo "  OTLP in:        grpc localhost:4317, http http://localhost:4318/v1/traces"
	@echo "  Opper API:      http://localhost:8090/v2 (Opper SDK base URL), traces at http://localhost:8090/v2/traces"
	@echo "  health:         http://localhost:13133/   own metrics: http://localhost:8889/metrics"
	@echo "  data:           ./data/opper.db           stop with Ctrl-C"
	@echo
	$(COLLECTOR) --config=$(RUN_CONFIG) $(RUN_ARGS)
