#!/usr/bin/env bash
# Installs the Debian 12 packages that building and testing Engram Desktop
# need. Idempotent: when every package is already installed it does nothing
# (no apt-get update), so repeated runs are fast. Uses sudo when not root.
#   scripts/install-deps.sh
set -euo pipefail

# The one list of system packages. No GPU packages: the CUDA backend is
# optional (ENGRAM_CUDA=AUTO builds it only where nvcc is already present).
PACKAGES=(
    build-essential cmake ninja-build pkg-config git
    ca-certificates curl
    python3 python3-pip python3-venv
    qt6-base-dev
    libspdlog-dev libfmt-dev libpcre2-dev libutf8proc-dev nlohmann-json3-dev libcli11-dev
    liburing-dev  # the tiered store's batched SSD reads (io_uring; pread fallback)
    # desktop app (DESIGN.md §7: HttpServer's CMake config needs WebSockets; a
    # QML window needs WorkerScript; Charts in QML needs the widgets QApplication)
    qt6-declarative-dev qt6-charts-dev qt6-httpserver-dev qt6-websockets-dev
    libqt6sql6-sqlite libxkbcommon-dev
    qml6-module-qtquick qml6-module-qtquick-controls qml6-module-qtquick-layouts
    qml6-module-qtquick-window qml6-module-qtquick-templates qml6-module-qtquick-dialogs
    qml6-module-qtqml qml6-module-qtqml-models qml6-module-qtqml-workerscript
    qml6-module-qtcharts qml6-module-qttest qml6-module-qtcore qml6-module-qt-labs-folderlistmodel
    libqt6svg6  # the bundled SVG icons
    # end-to-end window test and packaging checks
    xvfb xauth xdotool imagemagick
    appstream desktop-file-utils dpkg-dev
)

missing=()
for p in "${PACKAGES[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$p")
    fi
done

if [[ ${#missing[@]} -eq 0 ]]; then
    echo "install-deps: all ${#PACKAGES[@]} packages already installed"
    exit 0
fi

SUDO=""
if [[ "$(id -u)" -ne 0 ]]; then
    command -v sudo >/dev/null || { echo "install-deps: not root and sudo is missing; install: ${missing[*]}" >&2; exit 1; }
    SUDO=sudo
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}"
