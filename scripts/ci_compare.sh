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
# One cheap published-model cell (DnCNN-S sigma 25 on two Set12 images, --protocol kair): a change to the metrics,
# the protocol or the loaders that moves a published number is caught. It needs the official weights and Set12
# (../shared here; DENOISEBENCH_WEIGHTS / DENOISEBENCH_DATA elsewhere) and is skipped, saying so, without them.
SHARED=${SHARED:-../shared}
REFERENCE=${REFERENCE:-reports/baselines/reference.jsonl}
if [ -f "$REFERENCE" ] && [ -d "$SHARED/weights" ] && [ -d "$SHARED/datasets/set12" ]; then
  DENOISEBENCH_WEIGHTS=${DENOISEBENCH_WEIGHTS:-$SHARED/weights} DENOISEBENCH_DATA=${DENOISEBENCH_DATA:-$SHARED/datasets} \
    "$DENOISEBENCH" run --from "$REFERENCE" --output "$tmp/reference" --quiet
  "$DENOISEBENCH" compare "$REFERENCE" "$tmp/reference" --markdown "${DIFF_MD%.md}-reference.md"
else
  echo "reference-model drift check skipped: needs $REFERENCE, $SHARED/weights and $SHARED/datasets/set12"
fi
