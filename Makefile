# mystp2p — see README.md. Every target works on a fresh machine with Go.
GO        ?= go
BIN       := bin/mystp2p
PKGS      := ./...
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2
# Fuzz targets run for FUZZTIME each in `make fuzz`. Go spends up to a
# minute minimizing each new interesting input, and executes nothing new
# meanwhile, so a brief run caps that at FUZZMIN.
FUZZTIME  ?= 10s
FUZZMIN   ?= 2s
PROVIDERS ?= 5
# make build stamps these into `mystp2p version` (the commit also comes from
# Go's build info when it has one).
VERSION   ?= $(shell git describe --tags --dirty 2>/dev/null || echo dev)
COMMIT    ?= $(shell git rev-parse HEAD 2>/dev/null)
LDFLAGS   := -X main.version=$(VERSION) -X main.commit=$(COMMIT)

# make dist and make deb put their files here (dist/.gitignore keeps them
# out of git).
DIST        := dist
DIST_ARCHES := amd64 arm64
# make deb builds the .deb for this machine's architecture only.
DEB_ARCH    ?= $(shell $(GO) env GOARCH)
# A Debian version: a tag v1.2.3-4-gabc becomes 1.2.3+4+gabc; an untagged
# build 0.0.0~dev+<commit>, which sorts before any release.
DEB_VERSION ?= $(or $(shell echo '$(VERSION)' | sed -n 's/^v\([0-9]\)/\1/p' | tr - +),0.0.0~dev+$(shell echo '$(COMMIT)' | cut -c1-12))
# Computed once: the .deb's name and its control file must agree even if
# HEAD moves during the build.
DEB_VERSION := $(DEB_VERSION)
deb_file     = $(DIST)/mystp2p_$(DEB_VERSION)_$(1).deb

.PHONY: all build test deps cross bench fuzz lint testnet contracts clean dist deb FORCE

all: build

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/mystp2p

# Static binaries for Linux on amd64 and arm64, and a .deb of each: the
# binary, a default provider config and the mystp2p-provider systemd unit
# (packaging/). Needs dpkg-deb.
dist: $(DIST_ARCHES:%=$(DIST)/mystp2p-linux-%) $(foreach a,$(DIST_ARCHES),$(call deb_file,$(a)))

deb: $(call deb_file,$(DEB_ARCH))

$(DIST)/mystp2p-linux-%: FORCE
	@mkdir -p $(DIST) && printf '*\n' >$(DIST)/.gitignore
	CGO_ENABLED=0 GOOS=linux GOARCH=$* $(GO) build -trimpath -ldflags "-s -w $(LDFLAGS)" -o $@ ./cmd/mystp2p

# The host's bin/mystp2p writes the default config into the package.
$(DIST)/mystp2p_$(DEB_VERSION)_%.deb: $(DIST)/mystp2p-linux-% build
	sh packaging/deb/build.sh $* $< $(BIN) $(DEB_VERSION) $@

FORCE:
.PRECIOUS: $(DIST)/mystp2p-linux-%

# Tools the tests use: nftables (and iptables, for the censor lab's NFQUEUE
# rule) for the network-namespace labs (root only; without root those tests
# skip and say so).
deps:
	@if [ "$$(id -u)" = 0 ] && { ! command -v nft >/dev/null 2>&1 || ! command -v iptables >/dev/null 2>&1 || ! command -v chromium >/dev/null 2>&1; }; then \
		echo "installing nftables and iproute2 for the NAT lab tests, chromium for the dashboard's browser test"; \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nftables iptables iproute2 chromium) >/dev/null; \
	fi

# Everything also compiles for macOS and Windows, tests included (go vet
# type-checks them). The Linux-only parts (the NAT lab, TUN mode) return an
# error there that says so.
cross:
	GOOS=darwin $(GO) build $(PKGS)
	GOOS=windows $(GO) build $(PKGS)
	GOOS=darwin $(GO) vet $(PKGS)
	GOOS=windows $(GO) vet $(PKGS)

test: deps cross
	$(GO) vet $(PKGS)
	$(GO) test -race -timeout 25m $(PKGS)
	# Allocation checks mean nothing under the race detector: run them without it.
	$(GO) test -count=1 -run 'DoesNotAllocate|MuxSafeBind' ./tunnel/wgpath/
	# Fifty sessions on one provider: under -race the test runs ten.
	$(GO) test -count=1 -run 'ScenarioLoad' ./testnet/

bench:
	$(GO) test -run '^$$' -bench . -benchtime 3x $(PKGS)

# Every native fuzz target, briefly.
fuzz:
	@for pkg in $$($(GO) list $(PKGS)); do \
		for f in $$($(GO) test -list '^Fuzz' $$pkg 2>/dev/null | grep '^Fuzz'); do \
			echo "fuzz $$pkg $$f"; \
			$(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) -fuzzminimizetime $(FUZZMIN) $$pkg || exit 1; \
		done; \
	done

lint:
	$(GO) vet $(PKGS)
	$(GO) run $(STATICCHECK) $(PKGS)

# A whole network on this machine until Ctrl-C.
testnet: build
	./$(BIN) testnet up --providers $(PROVIDERS)

contracts:
	bash hermes/contracts/build.sh

clean:
	rm -rf bin $(DIST)
