#!/usr/bin/env bash
# Renders the application icon's PNG sizes from the SVG source, so that the
# build and the packages never need an SVG renderer. Run it after editing
# resources/icons/org.engram.Desktop.svg and commit the PNGs it writes to
# resources/icons/hicolor/<N>x<N>/apps/.
#   installer/make-icons.sh
# Needs rsvg-convert (Debian: librsvg2-bin) or, failing that, ImageMagick.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
APP_ID=org.engram.Desktop
SVG="$ROOT/resources/icons/$APP_ID.svg"
OUT="$ROOT/resources/icons/hicolor"
# The sizes installer/CMakeLists.txt installs; keep the two lists together.
SIZES=(16 22 24 32 48 64 128 256 512)

[[ -f "$SVG" ]] || { echo "make-icons: $SVG is missing" >&2; exit 1; }

render() { # size out.png
    if command -v rsvg-convert >/dev/null; then
        rsvg-convert --width "$1" --height "$1" --keep-aspect-ratio "$SVG" --output "$2"
    elif command -v convert >/dev/null; then
        # -strip drops the timestamps ImageMagick writes, so reruns are byte-identical.
        convert -background none -density 1200 "$SVG" -resize "$1x$1" -strip "PNG32:$2"
    else
        echo "make-icons: needs rsvg-convert (apt-get install librsvg2-bin) or ImageMagick" >&2
        exit 1
    fi
}

for size in "${SIZES[@]}"; do
    dir="$OUT/${size}x${size}/apps"
    mkdir -p "$dir"
    render "$size" "$dir/$APP_ID.png"
    echo "make-icons: ${size}x${size} -> ${dir#"$ROOT"/}/$APP_ID.png"
done
