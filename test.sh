#!/usr/bin/env bash
# Runs every test of the solution (Release). Installs missing prerequisites first, so it works on a fresh clone.
# Tests read real Keras files from ../shared (beside the repository); under CI=true their absence is a failure.
set -euo pipefail
cd "$(dirname "$0")"
bash build/install-prerequisites.sh
mkdir -p .tmp
status=0
dotnet test Surgeon.sln -c Release -nologo 2>&1 | tee .tmp/test.log || status=$?
# One plain closing line over all test projects: "N passed, N failed, N skipped".
awk '/(Passed|Failed)! +- +Failed: +[0-9]+, +Passed: +[0-9]+, +Skipped: +[0-9]+/ {
       for (i = 1; i <= NF; i++) { if ($i == "Failed:") f += $(i+1); if ($i == "Passed:") p += $(i+1); if ($i == "Skipped:") s += $(i+1) }
     } END { printf "%d passed, %d failed, %d skipped\n", p, f, s }' .tmp/test.log
exit $status
