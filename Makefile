# smtpprobe. `make demo` runs the main job on an embedded lab; `make test`
# runs every test, the network-namespace lab tests included (root needed;
# under CI=true a missing lab prerequisite fails instead of skipping).
GO      ?= go
BIN     ?= bin/smtpprobe
PKGS    := ./...

.PHONY: all build test vet lint cross fmt-check unit fuzz fuzz-short bench demo lab lab-down clean man completion

all: build

build:
	$(GO) build -buildvcs=auto -o $(BIN) ./cmd/smtpprobe

# The man page and the completion scripts, generated from the help text
# (cmd/smtpprobe/internal/help) by the built binary.
man: build
	$(BIN) help --man > bin/smtpprobe.1

completion: build
	for sh in bash zsh fish; do $(BIN) completion $$sh > bin/smtpprobe.$$sh || exit 1; done

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change: $$out"; exit 1; fi

vet:
	$(GO) vet $(PKGS)

# The whole suite: unit tests (in-process go-smtp and miekg/dns peers) and
# the end-to-end lab tests against real Postfix and dnsmasq.
# The syscalls live in _linux.go files; the rest must build elsewhere.
cross:
	GOOS=darwin $(GO) build ./...
	GOOS=freebsd $(GO) build ./...
	GOOS=darwin $(GO) vet ./...

# The static gates: staticcheck and deadcode -test, both clean, and
# promtool's metric lint over the Prometheus golden files. .ci/run installs
# staticcheck and deadcode (pinned, from the Go module proxy) into GOPATH/bin
# and promtool from Debian's prometheus package.
GOBIN_DIR   := $(shell $(GO) env GOPATH)/bin
STATICCHECK ?= $(GOBIN_DIR)/staticcheck
DEADCODE    ?= $(GOBIN_DIR)/deadcode
PROMTOOL    ?= promtool
lint:
	$(STATICCHECK) $(PKGS)
	@out=$$($(DEADCODE) -test $(PKGS)) || exit 1; \
	if [ -n "$$out" ]; then echo "deadcode -test: unreachable functions:"; echo "$$out"; exit 1; fi
	@for f in probe/render/testdata/*.prom.golden; do \
		$(PROMTOOL) check metrics < $$f || { echo "promtool check metrics: $$f"; exit 1; }; \
	done

test: fmt-check vet lint cross
	$(GO) test -race -count=1 -timeout 15m $(PKGS)
	$(MAKE) fuzz-short

# Every fuzz target: briefly in `make test` (3000 executions each; their seed corpora, testdata/fuzz
# included, also run in every `go test`), longer in `make fuzz`.
FUZZTIME ?= 60s
fuzz:
	GO=$(GO) bash testdata/fuzz.sh $(FUZZTIME)

fuzz-short:
	GO=$(GO) bash testdata/fuzz.sh 3000x

# Unit tests only (no root, no lab).
unit:
	$(GO) test -race -count=1 -short $(PKGS)

# Go benchmarks, then lab runs beside the peer tools (swaks, check_smtp,
# tracepath, mtr, tcptraceroute): medians and ratios, printed as tables. Needs root.
bench: build
	$(GO) test -run '^$$' -bench . -benchmem -count 5 ./probe/ ./dnscheck/
	bash testdata/bench/mx.sh $(BIN)
	bash testdata/bench/timeout.sh $(BIN)
	bash testdata/bench/mtu.sh $(BIN)
	bash testdata/bench/check.sh $(BIN)
	bash testdata/bench/path.sh $(BIN)

demo:
	$(GO) run ./cmd/smtpprobe demo

# A lab left running for manual use; `make lab-down LAB_ID=...` removes it.
lab:
	bash testdata/lab/lab.sh up

lab-down:
	bash testdata/lab/lab.sh down $(LAB_ID)

clean:
	rm -rf bin
