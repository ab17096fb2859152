#!/usr/bin/env bash
# Packs the Surgeon package and runs samples/Quickstart against it (see run-sample.sh). Arguments go to the sample.
set -euo pipefail
exec "$(dirname "$0")/run-sample.sh" Quickstart "$@"
