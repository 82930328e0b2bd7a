#!/usr/bin/env bash
# Stage what an mLSTM training run on the lent GPU machine needs, inside the checkout, so that the
# device tool can carry it (at most 64 MB travels; IMDB train + unsup as shipped is 39 MB gzipped,
# SST 1 MB). The machine sees the repository root only, not ../shared, hence the copy. Its image
# has torch, numpy, safetensors, scikit-learn, typer and tqdm but not transformer-lens (which
# interp.mlstm subclasses) nor a few of its imports: their wheels go to .whl/ (14 MB, pure Python).
#
#   bash analyses/stage_gpu_data.sh            # -> .gpu_data/ and .whl/ (both git-ignored)
#
# The device budget is 30 minutes a session and a machine goes back after 30 s idle, so a GPU run is
# one session of back-to-back calls on the same warm machine; runs/ (git-ignored) stays there
# between them. A 2,048-unit checkpoint.pt (fp32 weights + Adam, ~260 MB) can never travel back:
# only the fp16 model does (--save-dtype float16: 44 MB, split into pieces under 16 MB). Each call:
#   python3 -m pip install -q --no-index --no-deps --target /tmp/site .whl/*.whl && export PYTHONPATH=/tmp/site:$PWD
#   INTERP_DATA_DIR=.gpu_data HF_HUB_OFFLINE=1 python3 -m interp.cli train-mlstm runs/<run> --device cuda \
#       --d-hidden 2048 --batch-size 256 --total-chars 2e8 --max-wall-s 500 --save-dtype float16 [--resume]
# (carry [".gpu_data", ".whl"]), and the last call also
#   split -b 15M runs/<run>/model.safetensors $OUT/model.safetensors.part- && cp runs/<run>/*.json* $OUT/
# then here: cat model.safetensors.part-* > model.safetensors. The corpus cache key hashes the
# source files, so the GPU run trains on exactly the bytes a CPU run here would. Untested on a GPU
# so far (no session has been lent one): check the first call's output before the long ones.
set -euo pipefail
src="${INTERP_DATA_DIR:-../shared/data}"
dst=".gpu_data"
mkdir -p "$dst/imdb" "$dst/sst"
cp "$src/imdb/train.jsonl.gz" "$src/imdb/unsup.jsonl.gz" "$dst/imdb/"
cp -r "$src/sst/." "$dst/sst/"
du -sh "$dst"
mkdir -p .whl
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 -d .whl \
  transformer-lens==4.3.0 datasets==5.2.0 dill==0.4.1 multiprocess==0.70.19 httpx2==2.16.2 httpcore2==2.16.2 \
  beartype==0.23.1 typeguard==4.6.1 fancy-einsum==0.0.3
du -sh .whl
