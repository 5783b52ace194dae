# The two commands of the README: `make run` serves a node, `make test` runs every test. Both install what is
# missing (scripts/deps.sh) and start the project-local PostgreSQL unless DATABASE_URL is set.
SHELL := /bin/bash
GO ?= go
WITH_ENV := scripts/with-env.sh
GOTEST_FLAGS ?= -race -count=1 -timeout 30m
PROTOC_GEN_GO_VERSION := v1.36.12

.PHONY: run test build deps db stop-db proto bench pgo load fmt vet web-test clean

run: build
	$(WITH_ENV) ./bin/behaviord -config cluster.yaml $(ARGS)

build:
	$(GO) build -o bin/ ./cmd/...

test:
	$(WITH_ENV) bash scripts/test.sh

deps:
	bash scripts/deps.sh

db:
	$(WITH_ENV) true

stop-db:
	bash scripts/pgctl.sh stop

web-test:
	scripts/deps.sh && cd web && npm ci --no-audit --no-fund --loglevel=error && npm test

# Regenerates the committed protobuf code of the actor messages with Debian's protoc.
proto:
	bash scripts/deps.sh
	GOBIN=$(CURDIR)/bin $(GO) install google.golang.org/protobuf/cmd/protoc-gen-go@$(PROTOC_GEN_GO_VERSION)
	PATH=$(CURDIR)/bin:$$PATH protoc -I actors/enginepb --go_out=actors/enginepb --go_opt=paths=source_relative actors/enginepb/engine.proto

bench:
	$(WITH_ENV) bash scripts/bench.sh

# Refreshes the node's profile for profile-guided optimization (cmd/behaviord/default.pgo).
pgo:
	$(WITH_ENV) bash scripts/pgo.sh

fmt:
	gofmt -w $$(git ls-files '*.go' | grep -v '\.pb\.go$$')

vet:
	$(GO) vet ./...

clean:
	rm -rf bin artifacts
