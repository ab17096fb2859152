#!/usr/bin/env bash
# Packs the Surgeon package into artifacts/packages, then builds and runs samples/Quickstart against it, as a user
# of the package would (the sample has no project reference into src/). Arguments go to the sample.
# CONFIGURATION=Debug to use a Debug build (default Release).
set -euo pipefail
cd "$(dirname "$0")/.."
config=${CONFIGURATION:-Release}
dotnet pack src/Surgeon.Package -c "$config" -o artifacts/packages -nologo -clp:NoSummary -v:q
# NuGet caches a package by id and version, so a re-packed Surgeon of the same version would be ignored: drop the
# cached copy of that version (only Surgeon's) and let the restore take the new one from artifacts/packages.
version=$(sed -n 's:.*<SurgeonVersion>\(.*\)</SurgeonVersion>.*:\1:p' build/Surgeon.Version.props)
cache=$(dotnet nuget locals global-packages --list | sed -n 's/^global-packages: //p')
[[ -n "$version" && -n "$cache" ]] && rm -rf -- "${cache%/}/surgeon/$version"
dotnet build samples/Quickstart -c "$config" -nologo -clp:NoSummary -v:q
dotnet run --project samples/Quickstart -c "$config" --no-build -- "$@"
