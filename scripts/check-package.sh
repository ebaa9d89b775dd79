#!/usr/bin/env bash
# Builds the .deb and the .tar.gz from a configured and built tree with CPack
# and checks what a user would get: the .deb unpacked into a temporary root,
# its engram-desktop --version run from there (offscreen, no LD_LIBRARY_PATH),
# the desktop entry and AppStream metainfo validated, the declared
# dependencies resolvable (when apt's package lists are present), and the
# tarball carrying the same files. Exits non-zero with a message on the first
# failure. The packages are left in BUILD_DIR/packages.
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
shopt -s nullglob
debs=("$OUT"/*.deb)
tgzs=("$OUT"/*.tar.gz)
shopt -u nullglob
[[ ${#debs[@]} -eq 1 ]] || fail "expected one .deb in $OUT, found ${#debs[@]}"
[[ ${#tgzs[@]} -eq 1 ]] || fail "expected one .tar.gz in $OUT, found ${#tgzs[@]}"
DEB="${debs[0]}"
TGZ="${tgzs[0]}"
step "built ${DEB#"$BUILD"/} and ${TGZ#"$BUILD"/}"

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

# --- declared dependencies ----------------------------------------------------------
# apt resolves them against Debian's package lists: a misspelt or missing
# package name fails here, not on a user's machine. Skipped without lists.
if compgen -G '/var/lib/apt/lists/*_Packages*' >/dev/null; then
    if ! apt-get install --simulate --no-install-recommends "$DEB" >"$TMP/apt.log" 2>&1; then
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
# The .deb installs under /usr, the tarball is the same tree relocatable.
(cd "$DEBROOT/usr" && find . -type f | sort) >"$TMP/deb.list"
(cd "$TOP" && find . -type f | sort) >"$TMP/tgz.list"
diff -u "$TMP/deb.list" "$TMP/tgz.list" >&2 || fail "the tarball's files differ from the .deb's (diff above: - .deb, + tarball)"
check_version "$TOP/bin/engram-desktop" "tarball"

step "OK: $(basename "$DEB") and $(basename "$TGZ") in $OUT"
