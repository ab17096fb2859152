#!/usr/bin/env bash
# fix-libtorchsharp.sh - make TorchSharp's native shim load on Debian 12 (GCC 12's libstdc++).
#
# Usage: fix-libtorchsharp.sh [--from SOURCE_LIB] [--cache CACHE_DIR] DIR
#
# libLibTorchSharp.so (TorchSharp 0.107.0) needs GLIBCXX_3.4.32 for one symbol,
# _ZSt21ios_base_library_initv; Debian 12's libstdc++ stops at GLIBCXX_3.4.30. This script patches
# DIR/libLibTorchSharp.so (a copy in a build output, never the NuGet cache):
#   1. builds libglibcxx_shim.so (glibcxx_shim.cpp), which defines that symbol, and puts it in DIR;
#   2. patchelf --clear-symbol-version _ZSt21ios_base_library_initv --add-needed libglibcxx_shim.so
#      (the library's RUNPATH starts with $ORIGIN/, so the shim beside it is found);
#   3. marks the GLIBCXX_3.4.32 entry of .gnu.version_r weak (elf_weak_verneed.c).
#
# It does nothing (exit 0) when DIR has no libLibTorchSharp.so, when the system libstdc++ already
# provides GLIBCXX_3.4.32, when the library does not need it, or when it is already patched; that
# check costs a few milliseconds. Safe to run concurrently: the slow path holds a lock, and every file
# in DIR is replaced by an atomic rename, never rewritten in place (a running process keeps its copy).
#
#   --from SOURCE_LIB  if DIR/libLibTorchSharp.so does not exist yet, create it as a patched copy of
#                      SOURCE_LIB, if that needs patching here (nothing is created otherwise).
#   --cache CACHE_DIR  where the compiled shim and patcher are kept
#                      (default: <repo>/artifacts/torchsharp-debian12, from this script's location).
#
# Needs (only when a patch is due): g++ and cc (Debian package g++, which brings gcc) and patchelf.
# Set SURGEON_TORCHSHARP_FIX_VERBOSE=1 to log the checks, SURGEON_TORCHSHARP_LIBSTDCXX=FILE to name the
# libstdc++ to test instead of the system's.
set -euo pipefail

readonly LIB_NAME=libLibTorchSharp.so
readonly SHIM_NAME=libglibcxx_shim.so
readonly VERSION=GLIBCXX_3.4.32
readonly SYMBOL=_ZSt21ios_base_library_initv
readonly ME=fix-libtorchsharp

# (The cheap path avoids forks: it runs on every build.)
script_dir=${BASH_SOURCE[0]%/*}
[[ "$script_dir" != "${BASH_SOURCE[0]}" ]] || script_dir=.

die() {
    echo "$ME: error: $*" >&2
    exit 1
}
log() {
    if [[ "${SURGEON_TORCHSHARP_FIX_VERBOSE:-}" == 1 ]]; then echo "$ME: $*" >&2; fi
    return 0
}

from=""
cache=""
dir=""
while (($#)); do
    case "$1" in
        --from) from=${2:?--from needs a file}; shift 2 ;;
        --cache) cache=${2:?--cache needs a directory}; shift 2 ;;
        -h | --help) sed -n '2,/^set -euo/{/^#/s/^# \{0,1\}//p}' "${BASH_SOURCE[0]}"; exit 0 ;;
        -*) die "unknown option $1" ;;
        *) [[ -z "$dir" ]] || die "only one DIR may be given"; dir=$1; shift ;;
    esac
done
[[ -n "$dir" ]] || die "usage: $0 [--from SOURCE_LIB] [--cache CACHE_DIR] DIR"
dir=${dir%/}
[[ -n "$dir" ]] || dir=/
cache=${cache:-$script_dir/../../artifacts/torchsharp-debian12}
cache=${cache%/}

target=$dir/$LIB_NAME
src=$target
if [[ ! -f "$target" ]]; then
    if [[ -n "$from" && -f "$from" ]]; then
        src=$from
    else
        log "no $LIB_NAME in $dir: nothing to do"
        exit 0
    fi
fi

# Copies $1 to $2 through a temporary file in $2's directory and an atomic rename.
install_atomic() {
    local tmp
    tmp=$(mktemp "$(dirname -- "$2")/.$(basename -- "$2").XXXXXX")
    if cp -- "$1" "$tmp" && chmod 755 "$tmp" && mv -f -- "$tmp" "$2"; then return 0; fi
    rm -f -- "$tmp"
    return 1
}

# Nothing to patch (in --from mode nothing is created either: DIR/libLibTorchSharp.so exists only patched).
done_unpatched() {
    log "$1"
    exit 0
}

# 1. Does the system's libstdc++ provide the version already?
libstdcxx=${SURGEON_TORCHSHARP_LIBSTDCXX:-}
[[ -n "$libstdcxx" ]] || for candidate in "/usr/lib/$HOSTTYPE-linux-gnu/libstdc++.so.6" "/lib/$HOSTTYPE-linux-gnu/libstdc++.so.6" \
    /usr/lib64/libstdc++.so.6 /usr/lib/libstdc++.so.6; do
    if [[ -e "$candidate" ]]; then libstdcxx=$candidate; break; fi
done
if [[ -z "$libstdcxx" ]]; then
    libstdcxx=$({ ldconfig -p 2>/dev/null || /sbin/ldconfig -p 2>/dev/null || true; } |
        awk '$1 == "libstdc++.so.6" { print $NF; exit }')
fi
if [[ -n "$libstdcxx" ]] && grep -qaF "$VERSION" "$libstdcxx"; then
    done_unpatched "$libstdcxx provides $VERSION: nothing to do"
fi

# 2. Does the library need it at all (a later TorchSharp may not)?
if ! grep -qaF "$VERSION" "$src"; then
    done_unpatched "$src does not need $VERSION: nothing to do"
fi

patcher=$cache/elf_weak_verneed
shim=$cache/$SHIM_NAME
patcher_src=$script_dir/elf_weak_verneed.c
shim_src=$script_dir/glibcxx_shim.cpp

# Runs the patcher's check on $1: sets state (the missing steps, or "patched"/"not-required") and
# returns 0 if nothing is missing, 1 if something is; exits 0 if $1 is for another machine.
state=""
check() {
    local rc=0
    state=$("$patcher" check "$1" "$VERSION" "$SYMBOL" "$SHIM_NAME") || rc=$?
    case $rc in
        0 | 1) return $rc ;;
        3) echo "$ME: $1 is built for another machine; not patching it" >&2; exit 0 ;;
        *) die "cannot inspect $1 (elf_weak_verneed exit code $rc)" ;;
    esac
}

# 3. Cheap "already patched" check: the shim is in place and the patcher (if already built) agrees.
already_patched() {
    [[ "$src" == "$target" && -f "$dir/$SHIM_NAME" && -x "$patcher" && ! "$patcher_src" -nt "$patcher" ]] || return 1
    if check "$target"; then log "$target: $state"; return 0; fi
    log "$target: missing: $state"
    return 1
}
if already_patched; then exit 0; fi

# Slow path: build the patcher (needs cc) and check again, then build the shim (g++) and patch (patchelf).
missing=()
cc=$(command -v cc || command -v gcc || true)
[[ -n "$cc" ]] || missing+=("cc (Debian package gcc, which g++ brings)")
command -v g++ >/dev/null 2>&1 || missing+=("g++ (Debian package g++)")
command -v patchelf >/dev/null 2>&1 || missing+=("patchelf (Debian package patchelf)")
missing_tools() {
    local list="" tool
    for tool in "${missing[@]}"; do list+="${list:+; }$tool"; done
    die "$target needs $VERSION, which the system libstdc++ ${libstdcxx:+($libstdcxx) }lacks; patching it needs" \
        "$list: not found on PATH. Install them with: sudo apt-get install -y g++ patchelf"
}
if [[ -z "$cc" ]]; then
    # Without cc the patcher cannot be built to verify the file. Only this script adds the shim's name to
    # the library, and only once the patch is complete, so that name plus the shim mean "patched".
    if [[ "$src" == "$target" && -f "$dir/$SHIM_NAME" ]] && grep -qaF "$SHIM_NAME" "$target"; then
        log "$target: patched (no cc to verify in detail)"
        exit 0
    fi
    missing_tools
fi

mkdir -p -- "$cache"
lock=$cache/.lock
if command -v flock >/dev/null 2>&1; then
    exec 9>"$lock"
    flock -w 600 9 || die "timed out waiting for $lock"
fi

tmpfiles=()
cleanup() { if ((${#tmpfiles[@]})); then rm -f -- "${tmpfiles[@]}"; fi; }
trap cleanup EXIT

# Builds $3 from $2 with compiler $1 (and the remaining flags) unless it is up to date.
build_tool() {
    local compiler=$1 source=$2 output=$3 tmp
    shift 3
    if [[ -x "$output" && ! "$source" -nt "$output" ]]; then return 0; fi
    tmp=$(mktemp "$output.XXXXXX")
    tmpfiles+=("$tmp")
    log "building $output"
    "$compiler" "$@" -o "$tmp" "$source" || die "failed to compile $source"
    chmod 755 "$tmp"
    mv -f -- "$tmp" "$output"
}
build_tool "$cc" "$patcher_src" "$patcher" -std=c99 -O2 -Wall

# Already patched after all (the patcher was not built yet), or someone else did it while we waited.
if [[ -f "$target" ]]; then src=$target; fi
if already_patched; then exit 0; fi

((${#missing[@]} == 0)) || missing_tools
build_tool g++ "$shim_src" "$shim" -shared -fPIC -O2 -Wall "-Wl,-soname,$SHIM_NAME"

# The shim goes in first, so that the patched library never refers to a missing file.
mkdir -p -- "$dir"
if ! cmp -s -- "$shim" "$dir/$SHIM_NAME"; then
    install_atomic "$shim" "$dir/$SHIM_NAME" || die "cannot write $dir/$SHIM_NAME"
fi

tmp=$(mktemp "$dir/.$LIB_NAME.XXXXXX")
tmpfiles+=("$tmp")
cp -- "$src" "$tmp"
chmod u+w "$tmp"
if check "$tmp"; then
    # Already patched (only the shim beside it was missing, or --from gave a patched file).
    if [[ "$src" == "$target" ]]; then
        echo "$ME: restored $dir/$SHIM_NAME next to the already patched $target"
        exit 0
    fi
else
    patchelf_args=()
    if [[ " $state " == *" symver "* ]]; then patchelf_args+=(--clear-symbol-version "$SYMBOL"); fi
    if [[ " $state " == *" needed "* ]]; then patchelf_args+=(--add-needed "$SHIM_NAME"); fi
    if ((${#patchelf_args[@]})); then
        patchelf "${patchelf_args[@]}" "$tmp" || die "patchelf failed on a copy of $src"
    fi
    "$patcher" weaken "$tmp" "$VERSION" || die "cannot mark $VERSION weak in a copy of $src"
    check "$tmp" || die "patching a copy of $src left it incomplete (missing: $state)"
fi
chmod 755 "$tmp"
mv -f -- "$tmp" "$target"
echo "$ME: patched $target (the system libstdc++ lacks $VERSION; it now loads $SHIM_NAME beside it)"
