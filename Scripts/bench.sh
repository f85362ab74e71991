#!/usr/bin/env bash
# Training throughput and peak memory of the default model (784-512-256-20,
# batch 128) on full MNIST, beside the PyTorch reference measured on the
# same kind of machine (../shared/reference/README.md).
#   usage: Scripts/bench.sh [VAE_BINARY] [THREADS] [EPOCHS]
set -euo pipefail
vae=${1:-.build/release/vae}
threads=${2:-2}
epochs=${3:-3}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "bench: default model, batch 128, $threads threads, $epochs epochs on 60,000 images"
"$vae" train --epochs "$epochs" --threads "$threads" --model "$work/bench.safetensors" --json "$work/bench.json" >/dev/null
python3 - "$work/bench.json" "$threads" <<'PY'
import json, statistics, sys
doc = json.load(open(sys.argv[1]))
threads = int(sys.argv[2])
rates = [e["samples_per_s"] for e in doc["epochs"]]
secs = [e["train_seconds"] for e in doc["epochs"]]
torch = {2: (14334, 4.19), 1: (8938, 6.71)}.get(threads)
print(f"train samples/s  min {min(rates):8.0f}  median {statistics.median(rates):8.0f}  max {max(rates):8.0f}")
print(f"train s/epoch    min {min(secs):8.2f}  median {statistics.median(secs):8.2f}")
print(f"peak RSS         {doc['peak_rss_mib']:.0f} MiB")
print(f"test -ELBO       {doc['epochs'][-1]['test_nelbo']:.2f} after {len(rates)} epochs")
if torch:
    print(f"PyTorch ({threads} thread(s), same machine kind): {torch[0]:,} samples/s, {torch[1]} s/epoch, peak RSS 1041 MiB")
    print(f"ratio vae/PyTorch (median): {statistics.median(rates) / torch[0]:.2f}x")
PY
