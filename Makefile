# The two commands of the README's quick start, and a few more.
#   make demo    the whole flow on the embedded broker, live summary until Ctrl-C
#   make test    the whole test suite against real Kafka and ClickHouse
SHELL := /bin/bash
GO ?= go
STACK := deploy/local/stack.sh

.PHONY: demo test test-unit bench faults build stack-up stack-down vet fuzz

build:
	$(GO) build -o bin/accrue ./cmd/accrue

# The demo runs on franz-go's in-process kfake broker; ClickHouse comes from
# the local stack.
demo: build
	$(STACK) up clickhouse
	eval "$$($(STACK) env)" && ./bin/accrue demo $(DEMO_ARGS)

# Brings up the real servers (installing what is missing), then runs every
# test against them. CI=true turns a missing server into a failure.
test: vet
	$(STACK) up
	eval "$$($(STACK) env)" && $(GO) test -count=1 -timeout 40m $(TEST_ARGS) ./...

# Unit tests only (kfake, no servers).
test-unit:
	$(GO) test -count=1 -short ./...

vet:
	$(GO) vet ./...
	$(GO) vet -tags containers ./pipeline/...
	@unformatted=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$unformatted" ]; then echo "gofmt needed: $$unformatted"; exit 1; fi

bench:
	$(STACK) up kafka
	eval "$$($(STACK) env)" && $(GO) test ./benchmarks -run '^$$' -bench . -benchtime 3x -timeout 30m | tee benchmarks/results/latest.txt

# Every fuzz target for FUZZTIME each (default 30s); see deploy/local/fuzz.sh.
fuzz:
	deploy/local/fuzz.sh

# The fault suite's long form (docs/reliability.md): five times the records
# and rounds of faults that `make test` runs; the table goes to
# faults/results/latest.md.
FAULTS_EVENTS ?= 100000
FAULTS_ROUNDS ?= 5
faults:
	$(STACK) up
	mkdir -p faults/results
	eval "$$($(STACK) env)" && ACCRUE_FAULTS_EVENTS=$(FAULTS_EVENTS) ACCRUE_FAULTS_ROUNDS=$(FAULTS_ROUNDS) \
		ACCRUE_FAULTS_REPORT=$(CURDIR)/faults/results/latest.md \
		$(GO) test -count=1 -timeout 90m -run TestFaults -v ./faults

stack-up:
	$(STACK) up

stack-down:
	$(STACK) down
