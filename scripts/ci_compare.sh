#!/usr/bin/env bash
# Metric-drift check: re-run the committed quick baseline's configuration and compare every value with it.
#
# The run covers exactly the denoisers, noise settings and metrics pinned in the baseline's config header, so a
# denoiser registered later (e.g. a new plugin) joins the check only when the baseline is re-exported with it:
#   denoisebench run --quick --output reports/quick-run && \
#   denoisebench baseline export reports/quick-run reports/baselines/quick.jsonl
# Exit status: 0 no drift, 1 drift (diff printed and written to $DIFF_MD), 3 could not compare.
set -euo pipefail
cd "$(dirname "$0")/.."
DENOISEBENCH=${DENOISEBENCH:-.venv/bin/denoisebench}
BASELINE=${BASELINE:-reports/baselines/quick.jsonl}
DIFF_MD=${DIFF_MD:-reports/ci-compare.md}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
start=$(date +%s)
"$DENOISEBENCH" run --from "$BASELINE" --output "$tmp/run" --quiet
echo "quick run: $(( $(date +%s) - start )) s"
"$DENOISEBENCH" compare "$BASELINE" "$tmp/run" --markdown "$DIFF_MD"
