# Eddy's two commands: `make run` (the demo, nothing to set up) and
# `make test`. Both install their own prerequisites.

GO        ?= go
BIN       := bin
EXAMPLES  := $(notdir $(wildcard examples/*))
STATICCHECK_VERSION := v0.8.2

.PHONY: run test bench bench-quick build lint prereqs tools clean

## run: the main demo: page views counted in a RocksDB table, embedded broker, generated views.
run: prereqs
	$(GO) run ./examples/pageviews demo

## test: every test, with the race detector.
test: prereqs
	$(GO) test -race -count=1 -timeout 20m ./...

## bench: the benchmark harness, full run (about 1.5 minutes on 2 cores): bench/results.json and bench/results.md.
bench: prereqs
	$(GO) run ./bench

## bench-quick: the benchmark harness, a short run (about 10 seconds once built), same outputs.
bench-quick: prereqs
	$(GO) run ./bench --quick

## build: every example binary into bin/.
build: prereqs
	@mkdir -p $(BIN)
	@for e in $(EXAMPLES); do echo "go build -o $(BIN)/$$e ./examples/$$e"; $(GO) build -o $(BIN)/$$e ./examples/$$e || exit 1; done

## lint: gofmt, go vet, staticcheck.
lint: tools
	@out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$$($(GO) env GOPATH)/bin/staticcheck ./...

## prereqs: what building needs: Go, and a C compiler for cgo and -race.
prereqs:
	@scripts/prereqs.sh

tools: prereqs
	@test -x $$($(GO) env GOPATH)/bin/staticcheck || $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

clean:
	rm -rf $(BIN)
