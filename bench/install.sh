#!/usr/bin/env bash
# Time `make setup` from a fresh clone, with an empty and then a warm uv cache; print .venv sizes.
# Usage: bash bench/install.sh   (clones this repository's HEAD into a temporary folder; needs the network)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
git clone -q "$root" "$work/clone"
export UV_CACHE_DIR="$work/uv-cache"
for cache in cold warm; do
    rm -rf "$work/clone/.venv"
    start=$(date +%s.%N)
    make -C "$work/clone" setup >"$work/$cache.log" 2>&1 || { cat "$work/$cache.log"; exit 1; }
    end=$(date +%s.%N)
    echo "make setup, $cache cache: $(echo "$end - $start" | bc) s, .venv $(du -sh "$work/clone/.venv" | cut -f1)," \
         "load average $(cut -d' ' -f1-3 /proc/loadavg)"
done
make -C "$work/clone" .venv/.installed-test >/dev/null
echo "with the test tools: .venv $(du -sh "$work/clone/.venv" | cut -f1); uv cache $(du -sh "$UV_CACHE_DIR" | cut -f1)"
