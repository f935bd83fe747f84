# smtpprobe. `make demo` runs the main job on an embedded lab; `make test`
# runs every test, the network-namespace lab tests included (root needed;
# under CI=true a missing lab prerequisite fails instead of skipping).
GO      ?= go
BIN     ?= bin/smtpprobe
PKGS    := ./...

# Installation: `make install PREFIX=/usr DESTDIR=/tmp/pkg` for a package.
PREFIX  ?= /usr/local
DESTDIR ?=
BINDIR  ?= $(PREFIX)/bin
DATADIR ?= $(PREFIX)/share
MANDIR  ?= $(DATADIR)/man
# --version: `git describe` (a tag, commits since and the commit; the
# commit alone before the first tag), or the module version of the build
# information when git has nothing to say (a tarball).
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null)
LDFLAGS := $(if $(VERSION),-X main.version=$(VERSION))

.PHONY: all build test vet lint cross fmt-check unit fuzz fuzz-short bench demo demo-blackhole lab lab-down clean man completion install uninstall

all: build

build:
	$(GO) build -buildvcs=auto -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/smtpprobe

# The man page and the completion scripts, generated from the help text
# (cmd/smtpprobe/internal/help) by the built binary.
man: build
	mkdir -p bin
	$(BIN) help --man > bin/smtpprobe.1

completion: build
	mkdir -p bin
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
	$(GO) test -race -count=1 -timeout 15m -parallel 8 $(PKGS)
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

# Everything at its standard path under $(DESTDIR)$(PREFIX): the binary,
# the man page, the bash, zsh and fish completions, and the deploy files
# (Prometheus scrape config and rules, systemd units, whose ExecStart names
# $(BINDIR)) under share/smtpprobe, to copy from.
install: build man completion
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 \
		$(DESTDIR)$(DATADIR)/bash-completion/completions $(DESTDIR)$(DATADIR)/zsh/site-functions \
		$(DESTDIR)$(DATADIR)/fish/vendor_completions.d $(DESTDIR)$(DATADIR)/smtpprobe/systemd
	install -m 0755 $(BIN) $(DESTDIR)$(BINDIR)/smtpprobe
	install -m 0644 bin/smtpprobe.1 $(DESTDIR)$(MANDIR)/man1/smtpprobe.1
	install -m 0644 bin/smtpprobe.bash $(DESTDIR)$(DATADIR)/bash-completion/completions/smtpprobe
	install -m 0644 bin/smtpprobe.zsh $(DESTDIR)$(DATADIR)/zsh/site-functions/_smtpprobe
	install -m 0644 bin/smtpprobe.fish $(DESTDIR)$(DATADIR)/fish/vendor_completions.d/smtpprobe.fish
	install -m 0644 cmd/smtpprobe/deploy/prometheus.yml cmd/smtpprobe/deploy/smtpprobe.rules.yml \
		cmd/smtpprobe/deploy/smtpprobe.rules.test.yml cmd/smtpprobe/deploy/prometheus-vantages.yml \
		cmd/smtpprobe/deploy/smtpprobe.vantage.rules.yml cmd/smtpprobe/deploy/smtpprobe.vantage.rules.test.yml \
		$(DESTDIR)$(DATADIR)/smtpprobe/
	for f in cmd/smtpprobe/deploy/systemd/*; do \
		sed 's|/usr/local/bin/smtpprobe|$(BINDIR)/smtpprobe|g' $$f > $(DESTDIR)$(DATADIR)/smtpprobe/systemd/$${f##*/} && \
		chmod 0644 $(DESTDIR)$(DATADIR)/smtpprobe/systemd/$${f##*/} || exit 1; \
	done

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/smtpprobe $(DESTDIR)$(MANDIR)/man1/smtpprobe.1 \
		$(DESTDIR)$(DATADIR)/bash-completion/completions/smtpprobe $(DESTDIR)$(DATADIR)/zsh/site-functions/_smtpprobe \
		$(DESTDIR)$(DATADIR)/fish/vendor_completions.d/smtpprobe.fish
	rm -rf $(DESTDIR)$(DATADIR)/smtpprobe

demo:
	$(GO) run ./cmd/smtpprobe demo

# The PMTU black hole on a namespace lab (needs root): mx, mtu and path,
# each output explained, then everything torn down; under 30 s.
demo-blackhole: build
	@bash testdata/lab/demo-blackhole.sh $(BIN)

# A lab left running for manual use: KEY=VALUE lines on stdout, then the
# cheat sheet of its targets on stderr; `make lab-down LAB_ID=...` removes it.
lab:
	@bash testdata/lab/lab.sh up --cheat-sheet

lab-down:
	bash testdata/lab/lab.sh down $(LAB_ID)

clean:
	rm -rf bin
