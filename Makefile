# cxsms: every command line lives here; CI, the README and developers call it.
# `make help` lists the targets.

GO       ?= go
BIN      := bin/cxsms
PGDIR    := .data/pg
export GOFLAGS ?= -buildvcs=false

.DEFAULT_GOAL := help

.PHONY: help
help: ## list the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

.PHONY: build
build: ## build bin/cxsms
	$(GO) build -o $(BIN) ./cmd/cxsms

.PHONY: run
run: build ## run the service (starts a private PostgreSQL under .data/ unless DATABASE_URL is set)
	@scripts/run.sh $(BIN) $(PGDIR)

.PHONY: test
test: ## run every test (race detector, real PostgreSQL in a temporary cluster, short fuzz runs)
	@scripts/test.sh

.PHONY: test-browser
test-browser: ## drive the dashboard in headless Chromium against a real service; prints where the screenshots are
	@scripts/test-browser.sh

.PHONY: bench
bench: build ## benchmark ingest, projections and rebuild against PostgreSQL's own ceiling
	@scripts/bench.sh $(BIN)

.PHONY: demo
demo: build ## fake CXone + the service + a burst of reports, end to end
	@scripts/demo.sh $(BIN)

.PHONY: lint
lint: ## gofmt, go vet, and the layering rule (domain imports only the standard library)
	@# safe.directory: git refuses a checkout another user owns (as root in a
	@# developer's tree), listed nothing, and gofmt given no files passed.
	@files=$$(git -c safe.directory="$$PWD" ls-files '*.go') && [ -n "$$files" ] || { echo "lint: git ls-files found no Go files"; exit 1; }; \
	out=$$(gofmt -l $$files) || exit 1; test -z "$$out" || { echo "$$out"; echo "gofmt needed"; exit 1; }
	$(GO) vet ./...
	@scripts/layers.sh

.PHONY: fuzz
fuzz: ## fuzz the parser for a minute
	$(GO) test -run=NONE -fuzz=FuzzParse -fuzztime=60s ./domain/

.PHONY: db
db: ## start the private PostgreSQL under .data/ and print its URL
	@scripts/pg.sh start $(PGDIR)

.PHONY: db-stop
db-stop: ## stop the private PostgreSQL under .data/
	@scripts/pg.sh stop $(PGDIR)

.PHONY: clean
clean: ## stop and delete the private PostgreSQL, and remove build output and .data/
	-@scripts/pg.sh destroy $(PGDIR)
	rm -rf bin .data
