#!/usr/bin/env bash
# The README's sample-quality table: each model trained here for 10 epochs
# (seed 0, 2 threads), 1,000 of its samples read by the shipped judge
# (`vae eval --sample-quality 1000`), and with PYTHON set to a Python that
# has torch, the same architectures trained by ../shared/reference/torch_vae.py
# for the same epochs, their samples read by `vae judge read`.
# About 25 minutes on 2 cores (the VQ-VAE's prior is most of it).
#   usage: [PYTHON=~/torchenv/bin/python] Scripts/sample-quality-table.sh [VAE] [OUT_DIR]
set -euo pipefail
vae=${1:-.build/release/vae}
out=${2:-sample-quality}
python=${PYTHON:-}
reference=${REFERENCE:-../shared/reference/torch_vae.py}
mkdir -p "$out"

train() {
    local name=$1; shift
    [ -f "$out/$name.safetensors" ] || "$vae" train --threads 2 --seed 0 --model "$out/$name.safetensors" "$@" | tail -1
}
train mlp
train mlp400 --hidden 400
train conv --arch conv
train beta4 --beta 4
train two-layer --latent 100,50
train conditional-mlp --conditional
train conditional-conv --arch conv --conditional
# The VQ-VAE becomes vq.safetensors once its prior is trained too.
if [ ! -f "$out/vq.safetensors" ]; then
    train vq-autoencoder --vq 128
    "$vae" train-prior --threads 2 --epochs 5 --model "$out/vq-autoencoder.safetensors" | tail -1
    mv "$out/vq-autoencoder.safetensors" "$out/vq.safetensors"
fi

# One row: the figures of a JSON file (eval's sample_quality, or judge read's top level).
row() {
    python3 - "$1" "$2" <<'EOF'
import json, sys
name, path = sys.argv[1], sys.argv[2]
doc = json.load(open(path))
q = doc.get("sample_quality", doc)
recon = q.get("reconstruction_frechet_distance")
share = q.get("conditional_share")
print(f"| {name} | {q['class_entropy']:.3f} | {q['mean_confidence']:.3f} | {100 * q['confident_share']:.1f}% | "
      f"{q['frechet_distance']:.1f} | {'' if recon is None else f'{recon:.1f}'} | {'' if share is None else f'{100 * share:.1f}%'} |")
EOF
}

echo "| model (10 epochs) | class entropy | mean confidence | p > 0.9 | Fréchet distance, samples | reconstructions | read as the class asked for |"
echo "| --- | --- | --- | --- | --- | --- | --- |"
"$vae" judge read --split test --json "$out/test.json" > /dev/null
row "MNIST test split" "$out/test.json"
for name in mlp mlp400 conv beta4 two-layer vq conditional-mlp conditional-conv; do
    "$vae" eval --threads 2 --model "$out/$name.safetensors" --sample-quality 1000 --json "$out/$name.json" > /dev/null
    row "vae $name" "$out/$name.json"
done
if [ -n "$python" ]; then
    for arch in mlp mlp400 conv; do
        if [ ! -f "$out/torch-$arch.idx.gz" ]; then
            "$python" "$reference" --arch "$arch" --epochs 10 --reps 1 --save-samples "$out/torch-$arch.idx.gz" > "$out/torch-$arch.log"
        fi
        "$vae" judge read "$out/torch-$arch.idx.gz" --json "$out/torch-$arch.json" > /dev/null
        row "torch_vae.py $arch" "$out/torch-$arch.json"
    done
fi
