# Release Desk. The two commands a newcomer needs: `make run` and `make test`.
# Both install what is missing first (scripts/setup.sh is idempotent).

EXE      := $(if $(filter Windows_NT,$(OS)),.exe,)
BIN      := build/bin/releasedesk$(EXE)
TAGS     := desktop,production,webkit2_41
VERSION  := 0.1.0+$(shell git rev-parse --short HEAD 2>/dev/null || echo dev)
LDFLAGS  := -s -w -X releasedesk/app.Version=$(VERSION)
# Windows: the GUI subsystem, so a double-click opens the window with no
# console beside it (the command line takes its terminal back: cli.AttachConsole).
WINGUI   := -H windowsgui
LDFLAGS  += $(if $(filter Windows_NT,$(OS)),$(WINGUI),)
DATA     ?=
DATAFLAG := $(if $(DATA),--data $(DATA),)
GO_TEST_FLAGS ?= -count=1 -timeout 20m

.PHONY: all setup frontend wire build cross dist run serve test test-go test-frontend test-desktop vet bench chaos clean

all: build

setup:
	scripts/setup.sh

frontend:
	cd frontend && npm run build

# The frontend's TypeScript types of the API's JSON (frontend/src/lib/wire/),
# generated from the Go types by tygo (tygo.yaml; a tool of go.mod).
# TestWireTypes fails while they are stale: run this after changing a wire
# type, and commit what it writes.
wire:
	rm -f frontend/src/lib/wire/*.ts
	go tool tygo generate

# The desktop binary: frontend first (it is embedded), then Go with the
# Wails tags. `go tool wails` is not needed (see docs/DEVELOPING.md).
build: setup frontend
	go build -tags $(TAGS) -ldflags '$(LDFLAGS)' -o $(BIN) .

# The five targets the code must keep building for, into build/cross/,
# each binary's size printed: Linux amd64 as `make build` makes it; Windows
# with the window (Wails uses WebView2 there, which needs no cgo); Linux
# arm64 and macOS without it (CGO_ENABLED=0: the window needs cgo with
# the target's WebKit, an arm64 sysroot or Apple's SDK). The frontend is
# embedded, so frontend/dist must exist (make frontend).
CROSS := build/cross
cross:
	@mkdir -p $(CROSS)
	go build -tags $(TAGS) -ldflags '$(LDFLAGS)' -o $(CROSS)/releasedesk-linux-amd64 .
	GOOS=windows GOARCH=amd64 CGO_ENABLED=0 go build -tags desktop,production -ldflags '$(LDFLAGS) $(WINGUI)' -o $(CROSS)/releasedesk-windows-amd64.exe .
	GOOS=linux GOARCH=arm64 CGO_ENABLED=0 go build -ldflags '$(LDFLAGS)' -o $(CROSS)/releasedesk-linux-arm64 .
	GOOS=darwin GOARCH=amd64 CGO_ENABLED=0 go build -ldflags '$(LDFLAGS)' -o $(CROSS)/releasedesk-darwin-amd64 .
	GOOS=darwin GOARCH=arm64 CGO_ENABLED=0 go build -ldflags '$(LDFLAGS)' -o $(CROSS)/releasedesk-darwin-arm64 .
	@for f in $(CROSS)/releasedesk-*; do wc -c < $$f | awk -v f=$$f '{ printf "%-45s %6.1f MiB\n", f, $$1 / 1048576 }'; done

# The binaries to hand out: the five targets above, named with the
# version, and SHA256SUMS beside them (`sha256sum -c SHA256SUMS` checks a
# download). The macOS window is built on a Mac (README, "On Windows and
# macOS").
DIST := build/dist
dist: setup frontend
	rm -rf $(DIST)
	$(MAKE) --no-print-directory cross CROSS=$(DIST)
	cd $(DIST) && for f in releasedesk-*; do mv "$$f" "$$(echo "$$f" | sed 's/^releasedesk-/releasedesk-$(VERSION)-/')"; done
	cd $(DIST) && sha256sum releasedesk-* > SHA256SUMS && cat SHA256SUMS

# The demo first (a project, its repository and one user per role; silent
# once it is there), then the window where a display exists, otherwise the
# UI at http://127.0.0.1:7788.
run: build
	$(BIN) demo --quiet --log-level warning $(DATAFLAG)
	$(BIN) $(DATAFLAG)

serve: build
	$(BIN) serve $(DATAFLAG)

vet:
	go vet ./...

# Every Go test; then the runner's suite again as a desk without rsync or
# git runs it (a Windows desk): both hidden from the tests' PATH, every
# release sent as a tar stream, local repositories read by go-git.
test-go:
	go test $(GO_TEST_FLAGS) ./...
	RELEASEDESK_TRANSFER=tar go test $(GO_TEST_FLAGS) ./runner/

test-frontend:
	cd frontend && npm run check && npm test

test-desktop:
	scripts/desktop-smoke.sh $(BIN)
	scripts/desktop-join-smoke.sh $(BIN)

test: build vet cross test-go test-frontend test-desktop
	@echo "make test: all suites passed"

# Every benchmark once: the packages', then the whole app at fleet scale
# (BenchmarkFleet), which writes docs/BENCHMARKS.md. About 15 minutes on
# 2 cores; nothing else should run meanwhile.
bench: setup
	scripts/bench.sh

# Crashes, faults and hostile input against the whole running app, at full
# counts; writes docs/RELIABILITY.md. (make test runs a shortened form.)
# Needs root for its tmpfs mounts.
chaos: setup
	scripts/chaos.sh

clean:
	rm -rf build frontend/dist/assets frontend/dist/index.html
