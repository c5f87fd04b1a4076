#!/usr/bin/env bash
# The PDF differential against pypdf with many random variants (CI runs the 128 fixed samples):
# every PDF the gateway accepts must hold nothing active pypdf finds (tests/it/pdf_differential.rs).
# usage: scripts/pdf-differential.sh [VARIANTS]   (default 5000)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/prereqs.sh
PDF_DIFF_VARIANTS=${1:-5000} cargo test --locked --no-default-features --test it pdf_differential:: -- --nocapture
