#!/usr/bin/env bash
# Installs what Surgeon needs from Debian 12's packages, only where missing (idempotent):
#   g++, patchelf  - build the one-symbol libstdc++ shim TorchSharp's native library needs on Debian 12
#                    (build/Surgeon.TorchSharp.targets applies it after every build)
#   hdf5-tools     - h5dump, the reference HDF5 reader the tests check every written file with
#   dataset-fashion-mnist - Fashion-MNIST's IDX files in /usr/share/datasets/fashion-mnist, for the training
#                    tests and the samples (FashionMnist.Load)
# and checks that the .NET 10 SDK is on PATH (Debian does not package it).
set -euo pipefail

packages=(g++ patchelf hdf5-tools dataset-fashion-mnist)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "Installing Debian packages: ${missing[*]}"
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "error: run as root (or install sudo) to install: ${missing[*]}" >&2; exit 1; }
    sudo="sudo"
  fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! command -v dotnet >/dev/null || ! dotnet --list-sdks | grep -q '^10\.'; then
  echo "error: the .NET 10 SDK is required (dotnet on PATH). Install it from Microsoft's packages, then rerun." >&2
  exit 1
fi
