# Tandem's developer entry points. `make help` lists them.
SHELL := /usr/bin/env bash
BIN   := $(CURDIR)/bin
GO    ?= go
# Static binaries everywhere (what the images ship); the tools and the tests
# build with the same setting so their shared packages compile once. Only
# the race detector needs cgo.
export CGO_ENABLED ?= 0
# -trimpath keeps the checkout's path out of every binary, so image digests
# do not depend on where the tree is; set for all builds and tests so that
# they share one compile cache.
export GOFLAGS ?= -trimpath
# go test flags; CI and local runs use the same ones.
TEST_FLAGS ?= -timeout 25m
# Packages whose tests also run under the race detector: the concurrent
# parts (router, scheduler plugin, controller and its integration suite).
RACE_PKGS := ./router/... ./plugins/... ./controller/... ./test/integration/...
MODULE := github.com/tandem-serving/tandem
RACE_RE := ^$(MODULE)/(router|plugins|controller|test/integration)(/|$$)
BINARIES := tandem-scheduler tandem-controller tandem-router tandem-up tandem-sim tandem-bench
# What `make demo` runs, and nothing more: a first run builds only these.
DEMO_TOOLS := etcd kube-apiserver kube-controller-manager kubectl kwok
DEMO_BINARIES := tandem-up tandem-scheduler tandem-controller tandem-router
# e.g. DEMO_FLAGS=--once: exit after the demo's requests instead of staying up.
DEMO_FLAGS ?=
# Images: the one place their names and tag come from (deploy/kustomization.yaml
# names the same images in its images: block). Each is set once, so a file
# edited during a build cannot change the tag half way.
REGISTRY ?= ghcr.io/tandem-serving
# VERSION is the release deploy/kustomization.yaml's newTag names; the commit
# goes into the images' revision label.
VERSION ?= v0.1.0
IMAGES := tandem-controller tandem-router tandem-scheduler tandem-sim
IMAGE_ARCH ?= $(shell $(GO) env GOARCH)
IMAGE_SOURCE ?= https://github.com/tandem-serving/tandem
REVISION ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
REVISION := $(REVISION)
# The commit's time stamps the config and every file: same tree, same digests.
SOURCE_DATE_EPOCH ?= $(shell git log -1 --format=%ct 2>/dev/null || echo 0)
SOURCE_DATE_EPOCH := $(SOURCE_DATE_EPOCH)
# -s -w drops the symbol table and DWARF (a link flag: the compiled packages
# are the ones make build and make test use).
IMAGE_BUILD_FLAGS ?= -ldflags='-s -w'
IMAGE_ARCHIVES := $(foreach i,$(IMAGES),$(BIN)/images/$(i).tar)

.PHONY: help build tools test unit generate manifests verify lint fuzz demo cluster-up cluster-down bench bench-router bench-router-full bench-sim images push

help: ## list targets
	@awk -F':.*## ' '/^[a-z-]+:.*## /{printf "  %-13s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

build: ## build Tandem's binaries into bin/
	$(GO) build -o $(BIN)/ $(addprefix ./cmd/,$(BINARIES))

tools: ## build pinned tools (etcd, kube-apiserver, kubectl, kwok, controller-gen, golangci-lint) into bin/
	hack/build-tools.sh

test: tools build ## unit, integration and end-to-end tests (real apiserver, etcd, kwok, scheduler); router, plugin and controller also under -race
	$(GO) test $(TEST_FLAGS) $$($(GO) list ./... | grep -Ev '$(RACE_RE)')
	CGO_ENABLED=1 $(GO) test -race $(TEST_FLAGS) $(RACE_PKGS)

unit: ## only the tests that need no built tools
	$(GO) test -short ./...

generate: ## regenerate deepcopy code
	$(BIN)/controller-gen object paths=./api/...

manifests: ## regenerate CRD and RBAC YAML into deploy/
	$(BIN)/controller-gen crd:maxDescLen=0,generateEmbeddedObjectMeta=true paths=./api/... output:crd:dir=deploy/crd
	$(BIN)/controller-gen rbac:roleName=tandem-controller paths=./controller/... output:rbac:dir=deploy/rbac

verify: tools generate manifests ## regenerate everything and fail on any difference
	$(GO) mod tidy && (cd hack/etcd && $(GO) mod tidy)
	@if [ -n "$$(git status --porcelain -- go.mod go.sum hack/etcd api deploy)" ]; then \
		git status --short -- go.mod go.sum hack/etcd api deploy; \
		echo "generated files or go.mod differ from the commit: run make generate manifests, go mod tidy, and commit"; exit 1; fi

fuzz: ## every fuzz target for FUZZTIME each (default 10s)
	hack/fuzz.sh

lint: tools ## golangci-lint over the whole tree
	$(BIN)/golangci-lint run ./...

demo: ## the whole request path on the local cluster; builds only what it runs; Ctrl-C stops
	hack/build-tools.sh $(DEMO_TOOLS)
	$(GO) build -o $(BIN)/ $(addprefix ./cmd/,$(DEMO_BINARIES))
	$(BIN)/tandem-up --demo $(DEMO_FLAGS)

cluster-up: tools build ## local cluster only; Ctrl-C stops
	$(BIN)/tandem-up

cluster-down: ## stop a local cluster an earlier run left behind
	@$(GO) run ./cmd/tandem-up --down

bench: tools build ## benchmarks that print figures (see benchmarks/README.md; ~10 minutes)
	$(BIN)/tandem-bench controller --groups 500 --runs 3 --seed 1
	$(BIN)/tandem-bench scheduler -runs 3 -seed 1
	$(BIN)/tandem-bench load --sim 4 --sim-num-gpu-blocks 1200 --workload shared --requests 1024 --rate 300 \
		--policies random,round-robin,sticky --reps 3 --seed 1

# The router benchmarks run the held-out set (benchmarks/README.md, "Workload split"): seed 11, the calibrated
# 27,000 KV blocks, outputs ending on their own, tandem beside the peer baselines in the same run. Every router
# scrapes every 12 ms (stale after 100 ms): llm-d's 50 ms refresh at time scale 0.25, so the baselines that read
# only scraped queues are not handicapped by the router's 200 ms default.
ROUTER_SCRAPE := $(BIN)/router-bench-scrape.yaml
ROUTER_POLICIES := --policies tandem,llm-d,llm-d-sticky,kthena,round-robin
ROUTER_HELDOUT := --router-bin $(BIN)/tandem-router --router-config $(ROUTER_SCRAPE) --engines 4 --sim-time-scale 0.25 --seed 11
PLOTS := benchmarks/results/plots

$(ROUTER_SCRAPE):
	@mkdir -p $(BIN)
	printf 'scrape:\n  interval: 12ms\n  staleAfter: 100ms\n' > $@

bench-router: build $(ROUTER_SCRAPE) ## the recorded subset: agentic and rag (held out), tandem vs llm-d, llm-d-sticky, kthena, round-robin, 1 rep (meant for ~20 minutes idle; not timed)
	$(BIN)/tandem-bench router-policies $(ROUTER_HELDOUT) $(ROUTER_POLICIES) --workloads agentic,rag --sweep 100,200,400 --sweep-extend 1 --reps 1

bench-router-full: tools build $(ROUTER_SCRAPE) ## the whole held-out set, 3 reps, memory-pressured, overhead, replicas, 2P2D (several hours; not yet run whole)
	$(BIN)/tandem-bench router-overhead --router-bin $(BIN)/tandem-router --reps 3
	$(BIN)/tandem-bench router-policies $(ROUTER_HELDOUT) $(ROUTER_POLICIES) --workloads agentic,rag --sweep 100,200,400 --reps 3 --plots $(PLOTS)
	$(BIN)/tandem-bench router-policies $(ROUTER_HELDOUT) $(ROUTER_POLICIES) --workloads trace --sweep 100,200,400 --reps 3 --plots $(PLOTS)
	$(BIN)/tandem-bench router-policies $(ROUTER_HELDOUT) $(ROUTER_POLICIES) --workloads chat \
		--conversations 64 --turns 24 --question-tokens 200 --output-tokens 400 --sweep 50,100,200 --reps 3
	$(BIN)/tandem-bench router-policies $(ROUTER_HELDOUT) $(ROUTER_POLICIES) --sim-kv-memory memory-pressured \
		--workloads agentic,rag --sweep 50,100,200 --reps 2
	$(BIN)/tandem-bench router-policies $(ROUTER_HELDOUT) --policies tandem,llm-d --replicas 1,3 \
		--workloads rag --sweep 100,200,400 --reps 2
	$(BIN)/tandem-bench router-pd --router-bin $(BIN)/tandem-router --reps 3 --seed 11

bench-sim: build ## tandem-sim's curves beside its model and calibration, and engines per core (~2 minutes)
	$(BIN)/tandem-bench sim --seed 1 --plots benchmarks/results/plots --json benchmarks/results/sim.json

images: ## OCI image archives bin/images/<name>.tar (controller, router, scheduler, sim): static, empty base, no daemon; checked
	@mkdir -p $(BIN)/static $(BIN)/images
	CGO_ENABLED=0 GOOS=linux GOARCH=$(IMAGE_ARCH) $(GO) build $(IMAGE_BUILD_FLAGS) -o $(BIN)/static/ $(addprefix ./cmd/,$(IMAGES))
	$(GO) build -o $(BIN)/imagepack ./hack/images
	SOURCE_DATE_EPOCH=$(SOURCE_DATE_EPOCH) $(BIN)/imagepack build -registry $(REGISTRY) -version $(VERSION) \
		-revision $(REVISION) -source $(IMAGE_SOURCE) -arch $(IMAGE_ARCH) -out $(BIN)/images $(addprefix $(BIN)/static/,$(IMAGES))
	$(BIN)/imagepack verify -registry $(REGISTRY) -version $(VERSION) $(IMAGE_ARCHIVES)

push: images ## push each image to REGISTRY/<name>:VERSION (credentials: ~/.docker/config.json, e.g. docker login)
	$(BIN)/imagepack push $(IMAGE_ARCHIVES)
