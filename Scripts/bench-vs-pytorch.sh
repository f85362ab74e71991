#!/usr/bin/env bash
# Speed of vae against the PyTorch reference on this machine, run side by side.
#
#   PYTHON=/tmp/torchenv/bin/python Scripts/bench-vs-pytorch.sh
#
# For each architecture, runs ../shared/reference/torch_vae.py (one epoch) and
# `vae bench` alternately RUNS times, so both see the same machine load, then
# prints samples/s (min / median), encode and decode of 10k images, peak RSS,
# and how many times better vae is (faster, or smaller) in each alternated
# pair of runs: the min and median of those ratios; and the fraction of its
# bound each vae step reaches (`vae bench`: the step's products timed alone
# through sgemm on their own shapes, in the same run), min / median.
# For each family (iwae2: two stochastic layers trained on the IWAE bound
# with K = 5; planar: planar:10 flows), the same with
# ../shared/reference/torch_families.py (one epoch, batch 128, Adam) against
# `vae bench --arch iwae2|planar`: training samples/s only. vq: the VQ-VAE's
# training (`vae bench --arch vq`) and its PixelCNN prior's (one epoch of
# `vae train-prior` on a VQ-VAE trained for one epoch first, untimed) against
# torch_families.py --family vq --prior-epochs 1: grids/s over the epoch and
# its test cross-entropy, as the reference times it.
# Settings (environment): PYTHON, RUNS (3), ARCHS ("mlp mlp400 conv"; empty: none),
# FAMILIES ("iwae2 planar vq"; empty: none), THREADS (2), REFERENCE
# (../shared/reference/torch_vae.py), FAMILY_REFERENCE
# (../shared/reference/torch_families.py), VAE (.build/release/vae).
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
RUNS=${RUNS:-3}
ARCHS=${ARCHS-"mlp mlp400 conv"}
THREADS=${THREADS:-2}
REFERENCE=${REFERENCE:-../shared/reference/torch_vae.py}
FAMILIES=${FAMILIES-"iwae2 planar vq"}
FAMILY_REFERENCE=${FAMILY_REFERENCE:-../shared/reference/torch_families.py}
VAE=${VAE:-.build/release/vae}
DATA=${DATA:-Data/mnist}

if ! "$PYTHON" -c 'import torch, numpy' 2>/dev/null; then
    cat <<HOW
bench-vs-pytorch: no PyTorch found for PYTHON=$PYTHON, so there is nothing to compare with.
Install it (about 1 GB) and run again:
    python3 -m venv /tmp/torchenv && /tmp/torchenv/bin/pip install torch numpy
    PYTHON=/tmp/torchenv/bin/python $0
HOW
    exit 0
fi
[[ -f "$REFERENCE" ]] || { echo "bench-vs-pytorch: $REFERENCE not found (set REFERENCE=...)" >&2; exit 1; }
[[ -z "$FAMILIES" || -f "$FAMILY_REFERENCE" ]] || { echo "bench-vs-pytorch: $FAMILY_REFERENCE not found (set FAMILY_REFERENCE=...)" >&2; exit 1; }
[[ -x "$VAE" ]] || swift build -c release --product vae --static-swift-stdlib

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo "vae vs torch, $THREADS thread(s), $RUNS alternated runs per architecture and family ($(nproc) cores, $(date -u +%Y-%m-%dT%H:%MZ))"
for arch in $ARCHS; do
    batches=400; [[ $arch == conv ]] && batches=150
    for run in $(seq "$RUNS"); do
        "$PYTHON" "$REFERENCE" --arch "$arch" --epochs 1 --threads "$THREADS" --reps 3 --data "$DATA" \
            --json "$work/torch-$arch-$run.json" > /dev/null
        "$VAE" bench --arch "$arch" --threads "$THREADS" --batches "$batches" --data "$DATA" \
            --json "$work/vae-$arch-$run.json" > /dev/null
    done
done
if [[ " $FAMILIES " == *" vq "* ]]; then
    "$VAE" train --vq 128 --epochs 1 --threads "$THREADS" --data "$DATA" --model "$work/vq.safetensors" > /dev/null
fi
for family in $FAMILIES; do
    flags=(--k 5); [[ $family == planar ]] && flags=(--flow-steps 10)
    [[ $family == vq ]] && flags=(--prior-epochs 1)
    for run in $(seq "$RUNS"); do
        # The reference prints each prior epoch as a JSON line: keep them.
        "$PYTHON" "$FAMILY_REFERENCE" --family "$family" "${flags[@]}" --epochs 1 --batch 128 --threads "$THREADS" \
            --eval-n 1 --eval-k 1 --data "$DATA" --json "$work/torchfamily-$family-$run.json" > "$work/torchfamily-$family-$run.out"
        "$VAE" bench --arch "$family" --threads "$THREADS" --batches 200 --data "$DATA" \
            --json "$work/vaefamily-$family-$run.json" > /dev/null
        if [[ $family == vq ]]; then
            "$VAE" train-prior --restart --epochs 1 --threads "$THREADS" --data "$DATA" --model "$work/vq.safetensors" \
                --json "$work/vaeprior-$run.json" > /dev/null
        fi
    done
done

"$PYTHON" - "$work" "$FAMILIES" $ARCHS <<'PY'
import json, statistics, sys, glob, os
work, families, archs = sys.argv[1], sys.argv[2].split(), sys.argv[3:]
def load(pattern): return [json.load(open(p)) for p in sorted(glob.glob(os.path.join(work, pattern)))]
def mm(xs): return min(xs), statistics.median(xs)
def bound(name, runs):
    # vae's step against its own bound (its products timed alone through sgemm in the same run).
    if runs and "bound_fraction" in runs[0]:
        (fmin, fmed), (gmin, gmed) = mm([x["bound_fraction"] for x in runs]), mm([x["bound_gflops"] for x in runs])
        print(f"{name:8} {'bound fraction':16} {fmin:10.2f} / {fmed:9.2f}   (sgemm on the step's shapes: {gmin:.0f} / {gmed:.0f} GFLOP/s)")
print(f"{'arch':8} {'what':16} {'vae min / median':>22} {'torch min / median':>22} {'vae better: min / median':>26}")
for arch in archs:
    v = [d[arch] for d in load(f"vae-{arch}-*.json")]
    t = load(f"torch-{arch}-*.json")
    rows = [
        ("train samples/s", [x["train_samples_per_s"] for x in v], [e["epochs"][0]["train_samples_per_s"] for e in t], True),
        ("encode 10k ms", [x["encode_10k_ms"] for x in v], [1000 * e["encode_test_10k_s"]["median"] for e in t], False),
        ("decode 10k ms", [x["decode_10k_ms"] for x in v], [1000 * e["decode_prior_10k_s"]["median"] for e in t], False),
        ("peak RSS MiB", [x["peak_rss_mib"] for x in v], [e["peak_rss_mib"] for e in t], False),
    ]
    for what, a, b, higher in rows:
        (amin, amed), (bmin, bmed) = mm(a), mm(b)
        # Run i of vae and run i of torch ran back to back: compare them as pairs.
        ratios = [x / y if higher else y / x for x, y in zip(a, b)]
        rmin, rmed = mm(ratios)
        print(f"{arch:8} {what:16} {amin:10.1f} / {amed:9.1f} {bmin:10.1f} / {bmed:9.1f} {rmin:14.2f}x / {rmed:5.2f}x")
    bound(arch, v)
for family in families:
    a = [d[family]["train_samples_per_s"] for d in load(f"vaefamily-{family}-*.json")]
    bound(family, [d[family] for d in load(f"vaefamily-{family}-*.json")])
    b = [e["epochs"][0]["samples_per_s"] for e in load(f"torchfamily-{family}-*.json")]
    (amin, amed), (bmin, bmed) = mm(a), mm(b)
    rmin, rmed = mm([x / y for x, y in zip(a, b)])
    print(f"{family:8} {'train samples/s':16} {amin:10.1f} / {amed:9.1f} {bmin:10.1f} / {bmed:9.1f} {rmin:14.2f}x / {rmed:5.2f}x")
    if family == "vq":
        # The prior's epoch with its test cross-entropy, as the reference's prior_s covers both.
        a = [60000 / (e["train_seconds"] + e["test_seconds"]) for d in load("vaeprior-*.json") for e in d["prior_epochs"]]
        b = []
        for path in sorted(glob.glob(os.path.join(work, "torchfamily-vq-*.out"))):
            lines = [json.loads(l) for l in open(path) if l.startswith("{") and "prior_s" in l]
            b.append(60000 / lines[0]["prior_s"])
        (amin, amed), (bmin, bmed) = mm(a), mm(b)
        rmin, rmed = mm([x / y for x, y in zip(a, b)])
        print(f"{'vq prior':8} {'train grids/s':16} {amin:10.1f} / {amed:9.1f} {bmin:10.1f} / {bmed:9.1f} {rmin:14.2f}x / {rmed:5.2f}x")
PY
