#!/usr/bin/env bash
# Runs every test of the solution (Release), then packs the Surgeon package and builds and runs the samples against
# it. Installs missing prerequisites first, so it works on a fresh clone.
# Tests read real Keras files from ../shared (beside the repository); under CI=true their absence is a failure.
set -euo pipefail
cd "$(dirname "$0")"
# libtorch's OpenMP threads spin while waiting; on 2 busy cores (tests run in parallel) that starves the others.
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}
bash build/install-prerequisites.sh
mkdir -p .tmp
status=0
dotnet test Surgeon.sln -c Release -nologo 2>&1 | tee .tmp/test.log || status=$?
# The samples, built as a user builds them: from the Surgeon package packed into artifacts/packages (after the
# solution's build above, so packing only collects files), then run in their small settings. Quickstart fails if its
# plan's result differs from the masked original; the two Fashion-MNIST samples if training, pruning or fine-tuning
# stops working. Each counts as one more test below.
samples_passed=0
samples_failed=0
for sample in Quickstart LeNetFashion ResNetFashion; do
  if [[ $sample == Quickstart ]]; then pack=0; else pack=1; fi
  if SKIP_PACK=$pack bash samples/run-sample.sh "$sample" 2>&1 | tee ".tmp/$sample.log"; then
    samples_passed=$((samples_passed + 1)); echo "samples/$sample from the packed package: passed"
  else
    samples_failed=$((samples_failed + 1)); status=1; echo "samples/$sample from the packed package: failed"
  fi
done
# One plain closing line over all test projects and the samples: "N passed, N failed, N skipped".
awk -v sp="$samples_passed" -v sf="$samples_failed" '/(Passed|Failed)! +- +Failed: +[0-9]+, +Passed: +[0-9]+, +Skipped: +[0-9]+/ {
       for (i = 1; i <= NF; i++) { if ($i == "Failed:") f += $(i+1); if ($i == "Passed:") p += $(i+1); if ($i == "Skipped:") s += $(i+1) }
     } END { printf "%d passed, %d failed, %d skipped\n", p + sp, f + sf, s }' .tmp/test.log
exit $status
