#!/usr/bin/env bash
# Set-up for a fresh Debian 12 machine, in one command (run as root or with sudo available):
# installs the Debian packages Surgeon needs, restores and builds everything (the build makes TorchSharp's native
# library load on Debian 12), then runs the main job on the model committed in samples/models: load it, print a
# Keras-style summary, save it as .h5 and .keras, reload both and check nothing changed; then packs the Surgeon package
# and runs samples/Quickstart, a surgery plan on that model, from the package.
set -euo pipefail
cd "$(dirname "$0")"
bash build/install-prerequisites.sh
dotnet build Surgeon.sln -c Release -nologo -clp:NoSummary
dotnet run --project src/Surgeon.Cli -c Release --no-build -- roundtrip "${1:-samples/models/lenet.h5}"
# The Quickstart: the Surgeon package packed into artifacts/packages, and a project that consumes it running a surgery
# plan the compiler checked against lenet.h5 (channels and parameters before and after, the difference to the masked
# original, the pruned model saved).
bash samples/run-quickstart.sh
