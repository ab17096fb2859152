#!/usr/bin/env bash
# Runs every test of the solution (Release), then packs the Surgeon package and builds and runs samples/Quickstart
# against it. Installs missing prerequisites first, so it works on a fresh clone.
# Tests read real Keras files from ../shared (beside the repository); under CI=true their absence is a failure.
set -euo pipefail
cd "$(dirname "$0")"
bash build/install-prerequisites.sh
mkdir -p .tmp
status=0
dotnet test Surgeon.sln -c Release -nologo 2>&1 | tee .tmp/test.log || status=$?
# The Quickstart sample, built as a user builds it: from the Surgeon package packed into artifacts/packages (after the
# solution's build above, so packing it only collects files), then run; it fails if its plan's result differs from
# the masked original. Counted as one more test below.
quickstart=passed
bash samples/run-quickstart.sh 2>&1 | tee .tmp/quickstart.log || { quickstart=failed; status=1; }
echo "samples/Quickstart from the packed package: $quickstart"
# One plain closing line over all test projects and the sample: "N passed, N failed, N skipped".
awk -v quickstart="$quickstart" '/(Passed|Failed)! +- +Failed: +[0-9]+, +Passed: +[0-9]+, +Skipped: +[0-9]+/ {
       for (i = 1; i <= NF; i++) { if ($i == "Failed:") f += $(i+1); if ($i == "Passed:") p += $(i+1); if ($i == "Skipped:") s += $(i+1) }
     } END { if (quickstart == "passed") p++; else f++; printf "%d passed, %d failed, %d skipped\n", p, f, s }' .tmp/test.log
exit $status
