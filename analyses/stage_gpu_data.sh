#!/usr/bin/env bash
# Stage what an mLSTM training run on the lent GPU machine needs, inside the checkout, so that the
# device tool can carry it (at most 64 MB travels; IMDB train + unsup as shipped is 39 MB gzipped,
# SST 1 MB). The machine sees the repository root only, not ../shared, hence the copy.
#
#   bash analyses/stage_gpu_data.sh            # -> .gpu_data/ (git-ignored)
#
# then, with the device tool, carry [".gpu_data", "runs/<run>"] and run e.g.
#   pip install -q -e . && INTERP_DATA_DIR=.gpu_data interp train-mlstm runs/<run> --device cuda \
#       --d-hidden 2048 --batch-size 256 --total-chars 2e8 --max-wall-s 540 [--resume]
# and bring runs/<run> back (files over 16 MB do not come back: keep model.safetensors in fp16 or
# split the checkpoint). The corpus cache key hashes the source files, so the GPU run trains on
# exactly the bytes a CPU run here would.
set -euo pipefail
src="${INTERP_DATA_DIR:-../shared/data}"
dst=".gpu_data"
mkdir -p "$dst/imdb" "$dst/sst"
cp "$src/imdb/train.jsonl.gz" "$src/imdb/unsup.jsonl.gz" "$dst/imdb/"
cp -r "$src/sst/." "$dst/sst/"
du -sh "$dst"
