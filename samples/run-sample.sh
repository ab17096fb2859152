#!/usr/bin/env bash
# Packs the Surgeon package into artifacts/packages, then builds and runs one sample against it, as a user of the
# package would (the samples have no project reference into src/).
# Usage: samples/run-sample.sh SAMPLE [ARGS...]   e.g. samples/run-sample.sh LeNetFashion --full
# SKIP_PACK=1 reuses the package already packed (test.sh packs once for all samples); CONFIGURATION=Debug for Debug.
set -euo pipefail
cd "$(dirname "$0")/.."
sample=${1:?usage: samples/run-sample.sh SAMPLE [ARGS...]}
shift
config=${CONFIGURATION:-Release}
if [[ "${SKIP_PACK:-0}" != 1 ]]; then
  dotnet pack src/Surgeon.Package -c "$config" -o artifacts/packages -nologo -clp:NoSummary -v:q
  # NuGet caches a package by id and version, so a re-packed Surgeon of the same version would be ignored: drop the
  # cached copy of that version (only Surgeon's) and let the restore take the new one from artifacts/packages.
  version=$(sed -n 's:.*<SurgeonVersion>\(.*\)</SurgeonVersion>.*:\1:p' build/Surgeon.Version.props)
  cache=$(dotnet nuget locals global-packages --list | sed -n 's/^global-packages: //p')
  [[ -n "$version" && -n "$cache" ]] && rm -rf -- "${cache%/}/surgeon/$version"
fi
dotnet build "samples/$sample" -c "$config" -nologo -clp:NoSummary -v:q
dotnet run --project "samples/$sample" -c "$config" --no-build -- "$@"
