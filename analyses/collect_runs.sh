#!/bin/bash
# Copy finished run folders' records (result.json, run.json, a patch run's summarization.json and
# heatmap.json, and an ablate run's directions/) into
# analyses/results/<dest>/<folder name>/, leaving out the sweep cells, saved steps and report.html
# (rebuilt offline with `interp report`). A folder whose run.json is not complete is skipped, said.
#   analyses/collect_runs.sh analyses/results/scale-study-runs runs/scale/*-ablate runs/scale/*-find ...
set -euo pipefail
dest=$1; shift
mkdir -p "$dest"
for src in "$@"; do
  name=$(basename "$src")
  if ! python -c "import sys; from interp.runs import RunFolder; sys.exit((RunFolder.read_meta(sys.argv[1]) or {}).get('status') != 'complete')" "$src"; then
    echo "skipped $src: its run is not complete" >&2; continue
  fi
  mkdir -p "$dest/$name"
  cp "$src/result.json" "$src/run.json" "$dest/$name/"
  for f in summarization.json heatmap.json; do if [ -f "$src/$f" ]; then cp "$src/$f" "$dest/$name/"; fi; done
  if [ -d "$src/directions" ] && [[ "$name" == *-ablate ]]; then rm -rf "$dest/$name/directions"; cp -r "$src/directions" "$dest/$name/"; fi
  echo "copied $src -> $dest/$name"
done
