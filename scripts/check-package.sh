#!/usr/bin/env bash
# Builds the .debs and the .tar.gz from a configured and built tree with CPack
# and checks what a user would get: engram-desktop's .deb unpacked alone into
# a temporary root, its engram-desktop --version run from there (offscreen, no
# LD_LIBRARY_PATH) and linking no CUDA library, engram-cli there saying that
# no GPU plugin is installed; the desktop entry and AppStream metainfo
# validated; when the build has CUDA, engram-desktop-cuda's .deb holding the
# plugin alone with the dependencies the README names, and the programs of
# both .debs unpacked together loading it; the declared dependencies
# resolvable (when apt's package lists are present); and the tarball carrying
# the files of both. Exits non-zero with a message on the first failure. The
# packages are left in BUILD_DIR/packages.
#   scripts/check-package.sh BUILD_DIR          (CI: scripts/check-package.sh build)
# Needs: cmake (cpack), dpkg-deb, desktop-file-validate (desktop-file-utils),
# appstreamcli (appstream), tar; dpkg-shlibdeps (dpkg-dev) at configure time.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
APP_ID=org.engram.Desktop

fail() { echo "check-package: FAIL: $*" >&2; exit 1; }
step() { echo "check-package: $*"; }

[[ $# -eq 1 ]] || { echo "usage: $0 BUILD_DIR" >&2; exit 2; }
BUILD="$(cd "$1" 2>/dev/null && pwd)" || fail "build directory '$1' does not exist"
[[ -f "$BUILD/CPackConfig.cmake" ]] ||
    fail "$BUILD has no CPackConfig.cmake: configure it with installer/ added (add_subdirectory(installer))"

need() { # tool debian-package
    command -v "$1" >/dev/null || fail "'$1' is missing (apt-get install $2)"
}
need cpack cmake
need dpkg-deb dpkg
need desktop-file-validate desktop-file-utils
need appstreamcli appstream
need tar tar

VERSION="$(sed -nE 's/^set\(CPACK_PACKAGE_VERSION "([^"]*)"\)$/\1/p' "$BUILD/CPackConfig.cmake")"
[[ -n "$VERSION" ]] || fail "no CPACK_PACKAGE_VERSION in $BUILD/CPackConfig.cmake"

TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT

# --- build the packages --------------------------------------------------------
OUT="$BUILD/packages"
rm -rf "$OUT"
mkdir -p "$OUT"
for gen in DEB TGZ; do
    step "cpack -G $gen (version $VERSION)"
    (cd "$BUILD" && cpack -G "$gen" -B "$OUT") >"$TMP/cpack-$gen.log" 2>&1 || {
        cat "$TMP/cpack-$gen.log" >&2
        fail "cpack -G $gen failed (is the tree built? cmake --build $BUILD)"
    }
done
# The build has the GPU plugin when it has CUDA (engine/CMakeLists.txt).
HAS_CUDA=0
[[ -f "$BUILD/lib/engram-desktop/libengram-cuda.so" ]] && HAS_CUDA=1
shopt -s nullglob
debs=("$OUT"/*.deb)
tgzs=("$OUT"/*.tar.gz)
shopt -u nullglob
[[ ${#debs[@]} -eq $((1 + HAS_CUDA)) ]] ||
    fail "expected $((1 + HAS_CUDA)) .deb(s) in $OUT (CUDA plugin built: $HAS_CUDA), found ${#debs[@]}"
[[ ${#tgzs[@]} -eq 1 ]] || fail "expected one .tar.gz in $OUT, found ${#tgzs[@]}"
DEB="$OUT/engram-desktop_${VERSION}_$(dpkg --print-architecture).deb"
CUDA_DEB="$OUT/engram-desktop-cuda_${VERSION}_$(dpkg --print-architecture).deb"
[[ -f "$DEB" ]] || fail "no $(basename "$DEB") in $OUT"
[[ $HAS_CUDA -eq 0 || -f "$CUDA_DEB" ]] || fail "no $(basename "$CUDA_DEB") in $OUT"
TGZ="${tgzs[0]}"
step "built ${debs[*]#"$BUILD"/} and ${TGZ#"$BUILD"/}"

# --- the .deb --------------------------------------------------------------------
pkg_version="$(dpkg-deb -f "$DEB" Version)"
[[ "$pkg_version" == "$VERSION" ]] || fail ".deb version '$pkg_version', expected '$VERSION'"
step ".deb Depends: $(dpkg-deb -f "$DEB" Depends)"

DEBROOT="$TMP/deb"
dpkg-deb -x "$DEB" "$DEBROOT"

# Every file the desktop integration needs, by its installed path.
expected=(
    usr/bin/engram-desktop
    usr/bin/engram-cli
    usr/bin/engram-bench
    "usr/share/applications/$APP_ID.desktop"
    "usr/share/metainfo/$APP_ID.metainfo.xml"
    "usr/share/icons/hicolor/scalable/apps/$APP_ID.svg"
)
# One PNG per size committed under resources/icons/hicolor (installer/make-icons.sh).
while IFS= read -r png; do
    expected+=("usr/share/icons/hicolor/${png#"$ROOT/resources/icons/hicolor/"}")
done < <(find "$ROOT/resources/icons/hicolor" -name "$APP_ID.png" | sort)
for f in "${expected[@]}"; do
    [[ -f "$DEBROOT/$f" ]] || fail ".deb lacks /$f"
done
step ".deb carries all ${#expected[@]} expected files"

# The installed programs must run from the package alone: no library path into
# the build tree, every shared library found on the system.
check_binary() { # path
    local bin="$1" missing
    [[ -x "$bin" ]] || fail "$bin is not executable"
    if command -v readelf >/dev/null &&
        readelf -d "$bin" | grep -E 'R(UN)?PATH' | grep -qF "$BUILD"; then
        fail "$bin has an RPATH into the build tree: $(readelf -d "$bin" | grep -E 'R(UN)?PATH')"
    fi
    missing="$(env -u LD_LIBRARY_PATH ldd "$bin" 2>&1 | grep 'not found' || true)"
    [[ -z "$missing" ]] || fail "$bin: shared libraries not found: $missing"
}

check_version() { # path-to-engram-desktop where
    local bin="$1" where="$2" out
    check_binary "$bin"
    out="$(env -u LD_LIBRARY_PATH QT_QPA_PLATFORM=offscreen timeout 60 "$bin" --version 2>&1)" ||
        fail "$where: engram-desktop --version exited non-zero: $out"
    [[ "$out" == *"engram-desktop $VERSION"* ]] ||
        fail "$where: engram-desktop --version printed '$out', expected 'engram-desktop $VERSION'"
    step "$where: engram-desktop --version -> $out"
}

check_version "$DEBROOT/usr/bin/engram-desktop" ".deb"
check_binary "$DEBROOT/usr/bin/engram-cli"
check_binary "$DEBROOT/usr/bin/engram-bench"

# The CPU package is CPU only: no CUDA library linked, no plugin shipped, and
# its programs say so in a sentence.
for bin in engram-desktop engram-cli engram-bench; do
    if env -u LD_LIBRARY_PATH ldd "$DEBROOT/usr/bin/$bin" | grep -Ei 'libcuda|libcudart|libcublas'; then
        fail "$bin links a CUDA library (it must load the GPU plugin at run time instead)"
    fi
done
[[ ! -e "$DEBROOT/usr/lib/engram-desktop" ]] || fail "the engram-desktop .deb carries usr/lib/engram-desktop (the plugin's package does)"
gpus_out="$(env -u LD_LIBRARY_PATH -u ENGRAM_GPU_PLUGIN "$DEBROOT/usr/bin/engram-cli" gpus 2>&1 || true)"
[[ "$gpus_out" == *"no GPU plugin is installed"*"engram-desktop-cuda"* ]] ||
    fail "engram-cli gpus from the CPU package alone printed '$gpus_out'"
step ".deb alone: no CUDA library linked; engram-cli gpus -> $gpus_out"

# --- desktop entry and AppStream metainfo ------------------------------------------
desktop="$DEBROOT/usr/share/applications/$APP_ID.desktop"
desktop-file-validate "$desktop" || fail "desktop-file-validate rejects $APP_ID.desktop"
grep -qx 'Exec=engram-desktop.*' "$desktop" || fail "$APP_ID.desktop: Exec is not engram-desktop"
grep -qx "Icon=$APP_ID" "$desktop" || fail "$APP_ID.desktop: Icon is not $APP_ID"
step "desktop-file-validate: ok"

metainfo="$DEBROOT/usr/share/metainfo/$APP_ID.metainfo.xml"
appstreamcli validate --no-net "$metainfo" || fail "appstreamcli validate rejects $APP_ID.metainfo.xml"
# The installed tree as a whole: metainfo, desktop entry and icon agree.
appstreamcli validate-tree --no-net "$DEBROOT" || fail "appstreamcli validate-tree rejects the installed tree"
grep -q "<release version=\"$VERSION\"" "$metainfo" ||
    fail "$APP_ID.metainfo.xml has no <release version=\"$VERSION\"> (add one, newest first)"
step "appstreamcli validate: ok"

# --- the GPU plugin's package -------------------------------------------------------
if [[ $HAS_CUDA -eq 1 ]]; then
    [[ "$(dpkg-deb -f "$CUDA_DEB" Version)" == "$VERSION" ]] || fail "engram-desktop-cuda's version is not $VERSION"
    cuda_depends="$(dpkg-deb -f "$CUDA_DEB" Depends)"
    step "engram-desktop-cuda Depends: $cuda_depends; Suggests: $(dpkg-deb -f "$CUDA_DEB" Suggests)"
    [[ "$cuda_depends" == *"engram-desktop (= $VERSION)"* ]] ||
        fail "engram-desktop-cuda does not depend on engram-desktop (= $VERSION): '$cuda_depends'"
    [[ "$cuda_depends" != *cuda* && "$cuda_depends" != *cublas* ]] ||
        fail "engram-desktop-cuda depends on a CUDA package Debian does not have: '$cuda_depends'"
    dpkg-deb -c "$CUDA_DEB" | awk '{print $NF}' | grep -v '/$' | sed 's|^\./||' >"$TMP/cuda.list"
    [[ "$(cat "$TMP/cuda.list")" == "usr/lib/engram-desktop/libengram-cuda.so" ]] ||
        fail "engram-desktop-cuda should hold usr/lib/engram-desktop/libengram-cuda.so alone, holds: $(tr '\n' ' ' <"$TMP/cuda.list")"
    BOTH="$TMP/both"
    dpkg-deb -x "$DEB" "$BOTH"
    dpkg-deb -x "$CUDA_DEB" "$BOTH"
    plugin="$BOTH/usr/lib/engram-desktop/libengram-cuda.so"
    if command -v readelf >/dev/null && readelf -d "$plugin" | grep -E 'R(UN)?PATH' | grep -qF "$BUILD"; then
        fail "the plugin has an RPATH into the build tree"
    fi
    # Its CUDA runtime is static: only cuBLAS (NVIDIA's) may be a CUDA library it needs.
    if readelf -d "$plugin" | grep NEEDED | grep -Ei 'libcudart|libcuda\.so'; then
        fail "the plugin needs the CUDA runtime or driver library at load time (cudart must be static)"
    fi
    step "plugin needs: $(readelf -d "$plugin" | sed -nE 's/.*NEEDED.*\[(.*)\]/\1/p' | tr '\n' ' ')"
    # The programs of both packages find and load it (here without a GPU
    # it says which of driver or device is missing).
    gpus_json="$(env -u LD_LIBRARY_PATH -u ENGRAM_GPU_PLUGIN "$BOTH/usr/bin/engram-cli" gpus --json 2>/dev/null || true)"
    python3 - "$gpus_json" "$plugin" <<'PY' || fail "engram-cli of both packages did not load the plugin: $gpus_json"
import json, os, sys
j = json.loads(sys.argv[1])
p = j["plugin"]
assert p["loaded"], p
assert os.path.realpath(p["path"]) == os.path.realpath(sys.argv[2]), p
assert j["gpus"] or j["why_none"], j
PY
    step "both .debs: engram-cli loads $(basename "$plugin"): $(python3 -c 'import json,sys; j=json.loads(sys.argv[1]); print(j["plugin"]["describe"], "-", j["why_none"] or "%d GPU(s)" % len(j["gpus"]))' "$gpus_json")"
fi

# --- declared dependencies ----------------------------------------------------------
# apt resolves them against Debian's package lists: a misspelt or missing
# package name fails here, not on a user's machine. Skipped without lists.
if compgen -G '/var/lib/apt/lists/*_Packages*' >/dev/null; then
    pkgs=("$DEB")
    [[ $HAS_CUDA -eq 1 ]] && pkgs+=("$CUDA_DEB")
    if ! apt-get install --simulate --no-install-recommends "${pkgs[@]}" >"$TMP/apt.log" 2>&1; then
        cat "$TMP/apt.log" >&2
        fail "apt cannot satisfy the .deb's dependencies"
    fi
    step "apt-get --simulate install: dependencies resolvable"
else
    step "apt package lists absent (no apt-get update yet): dependency resolution not checked"
fi

# --- the tarball: same files, runnable too -------------------------------------------
TGZROOT="$TMP/tgz"
mkdir -p "$TGZROOT"
tar -xzf "$TGZ" -C "$TGZROOT"
tops=("$TGZROOT"/*)
[[ ${#tops[@]} -eq 1 && -d "${tops[0]}" ]] || fail "$TGZ does not hold a single top-level directory"
TOP="${tops[0]}"
step "tarball contents (${TOP#"$TGZROOT"/}/):"
(cd "$TOP" && find . -type f | sort | sed 's|^\./|    |')
# The .debs install under /usr, the tarball is the same trees relocatable.
ALLDEB="$TMP/alldeb"
for d in "${debs[@]}"; do dpkg-deb -x "$d" "$ALLDEB"; done
(cd "$ALLDEB/usr" && find . -type f | sort) >"$TMP/deb.list"
(cd "$TOP" && find . -type f | sort) >"$TMP/tgz.list"
diff -u "$TMP/deb.list" "$TMP/tgz.list" >&2 || fail "the tarball's files differ from the .debs' (diff above: - .debs, + tarball)"
check_version "$TOP/bin/engram-desktop" "tarball"
if [[ $HAS_CUDA -eq 1 ]]; then
    # (exit 1 without a GPU: the JSON says whether the plugin loaded)
    tgz_gpus="$(env -u LD_LIBRARY_PATH -u ENGRAM_GPU_PLUGIN "$TOP/bin/engram-cli" gpus --json 2>/dev/null || true)"
    python3 -c 'import json,sys; assert json.loads(sys.argv[1])["plugin"]["loaded"]' "$tgz_gpus" ||
        fail "the tarball's engram-cli does not load its lib/engram-desktop/libengram-cuda.so: $tgz_gpus"
    step "tarball: engram-cli loads its GPU plugin"
fi

step "OK: $(for d in "${debs[@]}"; do basename "$d"; done | tr '\n' ' ')and $(basename "$TGZ") in $OUT"
