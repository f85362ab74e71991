#!/usr/bin/env bash
# The README's "Your own images" pictures: a folder data set of 3,000 colour
# 32x32 shapes (Scripts/make-shapes.py), a conv VAE trained on it, its
# reconstructions of test images and its samples.
#   usage: Scripts/shapes-example.sh [VAE] [EPOCHS] [OUT_DIR]
set -euo pipefail
vae=${1:-.build/release/vae}
epochs=${2:-120}
out=${3:-shapes-run}
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$out"
python3 "$here/make-shapes.py" "$out/shapes" 1000
"$vae" train --data "$out/shapes" --arch conv --latent 16 --epochs "$epochs" --threads 2 --model "$out/shapes.safetensors" | tail -2
"$vae" reconstruct --data "$out/shapes" --split test --limit 10 --model "$out/shapes.safetensors" -o "$out/shapes-reconstruct.png"
"$vae" sample -n 20 --nrow 10 --model "$out/shapes.safetensors" -o "$out/shapes-samples.png"
