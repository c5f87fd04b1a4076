#!/usr/bin/env bash
# The SVG differential against headless Chromium with many generated variants (CI runs 60):
# every SVG the gateway accepts must run no script in Chromium (tests/it/browser_svg.rs).
# usage: scripts/svg-differential.sh [VARIANTS]   (default 2400)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/prereqs.sh
SVG_DIFF_VARIANTS=${1:-2400} cargo test --locked --no-default-features --test it browser_svg:: -- --nocapture
