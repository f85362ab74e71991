SHELL := /bin/bash
# vae — the two commands a new user needs are `make test` and `make demo`;
# each installs what is missing (Debian packages), builds, and runs.
PREFIX   ?= /usr/local
SWIFT    ?= swift
BUILD    := .build/release
VAE      := $(BUILD)/vae
PACKAGES := pkg-config libopenblas-dev zlib1g-dev libpng-dev libcairo2-dev libfontconfig-dev fonts-dejavu-core
# What only the tests need: pdftotext reads back the PDF charts.
TEST_PACKAGES := poppler-utils
# Faster, not required: OpenBLAS's OpenMP build shares its threads with vae's
# elementwise passes (see Sources/VAEEngine/Parallel.swift).
OPTIONAL := libopenblas0-openmp
THREADS  ?= 2
# The product links the Swift runtime and Foundation statically: one binary
# that runs where no Swift toolchain is installed, and starts in 6–7 ms
# instead of 10–12 (`vae --version`; no symbol resolution across a dozen
# shared Swift libraries), which a command run once per image in a loop feels.
PRODUCT  := --product vae --static-swift-stdlib

.PHONY: setup setup-required build test demo bench fuzz install clean

## setup: install the C libraries (OpenBLAS, zlib, libpng, Cairo with fontconfig
## and the DejaVu fonts) if any is missing,
## and OpenBLAS's OpenMP build if it can (without it vae is slower, not broken).
setup: setup-required
	@dpkg-query -W -f='$${Status}' $(OPTIONAL) 2>/dev/null | grep -q "install ok installed" && exit 0; \
	if [ "$$(id -u)" = 0 ]; then sudo=""; \
	elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then sudo="sudo"; \
	else echo "setup: $(OPTIONAL) is not installed (optional: vae runs faster with it)"; exit 0; fi; \
	echo "setup: installing $(OPTIONAL)"; \
	{ $$sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq $(OPTIONAL); } \
	  || echo "setup: could not install $(OPTIONAL) (optional: vae runs faster with it)"

setup-required:
	@missing=""; \
	for p in $(PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -z "$$missing" ]; then echo "setup: $(PACKAGES) already installed"; exit 0; fi; \
	if ! command -v apt-get >/dev/null 2>&1; then \
	  echo "setup: missing$$missing and no apt-get here: install OpenBLAS, zlib, libpng, Cairo and fontconfig development files and a font by hand" >&2; exit 1; fi; \
	if [ "$$(id -u)" = 0 ]; then sudo=""; \
	elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then sudo="sudo"; \
	else echo "setup: need root or password-less sudo to run: apt-get install -y$$missing" >&2; exit 1; fi; \
	echo "setup: installing$$missing"; \
	$$sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq$$missing

## build: the optimised `vae` binary in .build/release/vae.
build: setup
	$(SWIFT) build -c release $(PRODUCT)

## test: unit tests and end-to-end tests of the built binary (release build, a few minutes).
## The tests build in their own folder (.build-test: a test build compiles every
## module differently), so the product build in .build serves `make demo` as is.
TEST_BUILD := .build-test
test: PACKAGES += $(TEST_PACKAGES)
test: setup
	$(SWIFT) build -c release $(PRODUCT)
	$(SWIFT) test -c release --disable-swift-testing --scratch-path $(TEST_BUILD)

## demo: train briefly on MNIST and draw a grid of new digits.
demo: build
	@mkdir -p demo
	$(VAE) train --epochs 3 --threads $(THREADS) --model demo/model.safetensors --json demo/train.json
	$(VAE) sample -n 64 --model demo/model.safetensors -o demo/samples.png
	@echo "demo: model in demo/model.safetensors, 64 new digits in demo/samples.png"

## bench: training throughput (mlp, mlp400, conv and the iwae2, planar, iaf and vq families), matrix-product share, coding speed and memory, batch 128.
bench: build
	$(VAE) bench --arch all --threads $(THREADS)
	@dir=$$(mktemp -d) && $(VAE) train --epochs 2 --threads $(THREADS) --model $$dir/bench.safetensors; rm -rf $$dir
	@echo "PyTorch reference, same machine kind, $(THREADS) threads (../shared/reference): mlp 14,334 samples/s (4.19 s/epoch), mlp400 22,311 samples/s, conv 4,393 samples/s (13.6 s/epoch), peak RSS 1041 MiB"
	@echo "Side by side with a local PyTorch: PYTHON=/path/to/python-with-torch Scripts/bench-vs-pytorch.sh"

## fuzz: libFuzzer + AddressSanitizer on every parser (IDX, PNG grey and
## colour, PGM, safetensors), FUZZ_SECONDS each (default 60), from
## Tests/Fuzz/corpus. -malloc_limit_mb=96 makes any single allocation above
## 96 MiB a finding: no input of -max_len bytes may size one that large.
FUZZ_SECONDS ?= 60
FUZZ_BUILD   := .build-fuzz
fuzz: setup
	@mkdir -p $(FUZZ_BUILD)
	swiftc -sanitize=fuzzer,address -parse-as-library -O -module-name FuzzParsers \
	  Sources/VAEData/*.swift Tests/Fuzz/FuzzParsers.swift \
	  -Xcc -fmodule-map-file=Sources/CZlib/module.modulemap -Xcc -fmodule-map-file=Sources/CPNG/module.modulemap \
	  -I Sources/CZlib -I Sources/CPNG $$(pkg-config --cflags-only-I libpng | sed 's/-I/-Xcc -I/g') \
	  -lz -lpng16 -o $(FUZZ_BUILD)/fuzz-parsers 2>&1 | grep -v warning || true
	@for t in idx png pgm safetensors; do \
	  rm -rf $(FUZZ_BUILD)/corpus-$$t && cp -r Tests/Fuzz/corpus/$$t $(FUZZ_BUILD)/corpus-$$t; \
	  echo "fuzz: $$t for $(FUZZ_SECONDS) s"; \
	  FUZZ_TARGET=$$t $(FUZZ_BUILD)/fuzz-parsers -max_total_time=$(FUZZ_SECONDS) -rss_limit_mb=2560 -malloc_limit_mb=96 -max_len=8192 \
	    -print_final_stats=1 -artifact_prefix=$(FUZZ_BUILD)/finding-$$t- $(FUZZ_BUILD)/corpus-$$t 2>&1 \
	    | grep -E "^(stat::number_of_executed_units|stat::new_units_added|stat::peak_rss_mb)|ERROR|SUMMARY|Done" ; \
	  status=$${PIPESTATUS[0]}; [ $$status -eq 0 ] || { echo "fuzz: $$t found a problem (see $(FUZZ_BUILD)/finding-$$t-*)"; exit 1; }; \
	done

## install: the binary to $(PREFIX)/bin, the MNIST files to $(PREFIX)/share/vae/mnist,
## the judge to $(PREFIX)/share/vae/judge.safetensors.
install: build
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/vae/mnist
	install -m 755 $(VAE) $(DESTDIR)$(PREFIX)/bin/vae
	install -m 644 Data/mnist/*.gz $(DESTDIR)$(PREFIX)/share/vae/mnist/
	install -m 644 Data/judge.safetensors $(DESTDIR)$(PREFIX)/share/vae/judge.safetensors

clean:
	rm -rf .build $(TEST_BUILD) .build-fuzz demo
