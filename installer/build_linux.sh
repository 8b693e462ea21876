#!/usr/bin/env bash
# Linux installers: the PyInstaller bundle as dist/openvino-tryon_<version>_<arch>.deb and
# dist/openvino-tryon-<version>-linux-<machine>.tar.gz.
#
#   installer/build_linux.sh [--python PY] [--models DIR] [--assets DIR] [--build-dir DIR] [--dist DIR]
#                            [--deb-compression TYPE:LEVEL] [--no-tarball]
#
#   --python PY        an interpreter that has the runtime and PyInstaller installed (default: a
#                      runtime-only venv made in <build-dir>/venv with `pip install -e ".[build]"`)
#   --models DIR       folder bundled as models/, must hold default/ (default: models/, or
#                      $TRYON_MODELS_DIR)
#   --assets DIR       folder bundled as assets/ (default: assets/, or $TRYON_ASSETS_DIR)
#   --build-dir DIR    PyInstaller's work, the bundle and the .deb tree (default build/)
#   --dist DIR         where the packages go (default dist/)
#   --deb-compression  the package's compressor and level: zstd, xz or gzip (default zstd:12;
#                      xz:6 is a fifth smaller and ten times slower; gzip:6 suits dpkg older than
#                      1.21.18 that its distribution did not patch, as Ubuntu's since 21.10)
#   --no-tarball       only the .deb
#
# No AppImage: appimagetool is neither a Debian nor a PyPI package, and the PyPI tools that make
# AppImages download their runtime from elsewhere at build time.
set -euo pipefail

REPO="$(cd "$(dirname "$0")/.." && pwd)"
PYTHON=""
MODELS="${TRYON_MODELS_DIR:-$REPO/models}"
ASSETS="${TRYON_ASSETS_DIR:-$REPO/assets}"
BUILD="$REPO/build"
DIST="$REPO/dist"
DEB_COMPRESSION="zstd:12"
TARBALL=1

die() {
    echo "build_linux.sh: $*" >&2
    exit 1
}

while [[ $# -gt 0 ]]; do
    case "$1" in
        --python) PYTHON="$2"; shift 2 ;;
        --models) MODELS="$2"; shift 2 ;;
        --assets) ASSETS="$2"; shift 2 ;;
        --build-dir) BUILD="$2"; shift 2 ;;
        --dist) DIST="$2"; shift 2 ;;
        --deb-compression) DEB_COMPRESSION="$2"; shift 2 ;;
        --no-tarball) TARBALL=0; shift ;;
        -h | --help) sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown argument $1 (see --help)" ;;
    esac
done

MODELS="$(realpath -m "$MODELS")"
ASSETS="$(realpath -m "$ASSETS")"
BUILD="$(realpath -m "$BUILD")"
DIST="$(realpath -m "$DIST")"
[[ -f "$MODELS/default/metadata.json" ]] \
    || die "no shipped model: $MODELS/default/metadata.json is missing (export the default model there, or pass --models DIR)"
[[ -d "$ASSETS" ]] || die "no assets folder at $ASSETS (pass --assets DIR)"
command -v dpkg-deb >/dev/null || die "dpkg-deb not found (apt install dpkg)"
for TOOL in objdump ar; do command -v $TOOL >/dev/null || die "$TOOL not found (apt install binutils)"; done
LEVEL="${DEB_COMPRESSION##*:}"
case "${DEB_COMPRESSION%%:*}" in
    zstd) COMPRESS=(zstd -q -T0 "-$LEVEL") DATA=data.tar.zst FROM=zstd ;;
    xz) COMPRESS=(xz -T0 "-$LEVEL") DATA=data.tar.xz FROM=xz-utils ;;
    gzip) COMPRESS=(gzip -n "-$LEVEL") DATA=data.tar.gz FROM=gzip ;;
    *) die "--deb-compression: zstd, xz or gzip, not ${DEB_COMPRESSION%%:*}" ;;
esac
command -v "${COMPRESS[0]}" >/dev/null || die "${COMPRESS[0]} not found (apt install $FROM)"

cd "$REPO"
if [[ -z "$PYTHON" ]]; then
    # A venv with the runtime only: torch and the rest of the optimize extra never come near the
    # bundle, and the build does not depend on what a developer's own venv holds.
    [[ -x "$BUILD/venv/bin/python" ]] || python3 -m venv "$BUILD/venv"
    "$BUILD/venv/bin/python" -m pip install --quiet -c constraints.txt -e ".[build]"
    PYTHON="$BUILD/venv/bin/python"
fi
"$PYTHON" -m PyInstaller --version >/dev/null 2>&1 \
    || die "$PYTHON has no PyInstaller (pip install -c constraints.txt -e \".[build]\")"

VERSION="$("$PYTHON" -c 'import re, sys; print(re.search(r"__version__ = \"(.+)\"", open(sys.argv[1]).read())[1])' tryon_app/__init__.py)"
ARCH="$(dpkg --print-architecture)"
BUNDLE="$BUILD/pyinstaller/openvino-tryon"

echo "== PyInstaller bundle (models: $MODELS, assets: $ASSETS)"
TRYON_MODELS_DIR="$MODELS" TRYON_ASSETS_DIR="$ASSETS" "$PYTHON" -m PyInstaller installer/tryon.spec \
    --noconfirm --log-level WARN --distpath "$BUILD/pyinstaller" --workpath "$BUILD/pyinstaller-work"
# The bundle must run without any of this machine's Python: check the shipped models with it.
CHECK_HOME="$(mktemp -d)"
env -i PATH=/usr/bin:/bin HOME="$CHECK_HOME" "$BUNDLE/tryon" models \
    || die "the bundle does not run: $BUNDLE/tryon models failed"
# The correlation kernels, compiled for each x86-64 level this machine runs (kernels.precompiled):
# the installed app copies the best level its CPU runs into the user's cache instead of compiling
# for half a minute at its first start. The cache is stamped with the bundle's executable, which
# is why the bundle itself compiles it.
SEED="$BUNDLE/_internal/numba-seed/tryon"
rm -rf "$SEED"
for LEVEL in $("$PYTHON" -c 'from kernels.precompiled import runnable_levels; print(*runnable_levels())'); do
    echo "== correlation kernels for $LEVEL"
    NUMBA_CACHE="$(mktemp -d)"
    env -i PATH=/usr/bin:/bin HOME="$CHECK_HOME" NUMBA_CACHE_DIR="$NUMBA_CACHE" \
        NUMBA_CPU_NAME="$LEVEL" NUMBA_CPU_FEATURES= "$BUNDLE/tryon" warmup \
        || die "the bundle could not compile its kernels for $LEVEL"
    "$PYTHON" -c 'import sys; from pathlib import Path; from kernels.precompiled import build_seed
sys.exit(0 if build_seed(Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]) else 1)' \
        "$NUMBA_CACHE" "$SEED" "$LEVEL" || die "no kernel cache for $LEVEL"
    rm -rf "$NUMBA_CACHE"
done
rm -rf "$CHECK_HOME"
mkdir -p "$DIST"

if [[ "$TARBALL" == 1 ]]; then
    TARBALL_PATH="$DIST/openvino-tryon-$VERSION-linux-$(uname -m).tar.gz"
    echo "== $TARBALL_PATH"
    tar -C "$(dirname "$BUNDLE")" --owner=0 --group=0 -czf "$TARBALL_PATH" openvino-tryon
fi

DEB_PATH="$DIST/openvino-tryon_${VERSION}_${ARCH}.deb"
echo "== $DEB_PATH"
ROOT="$BUILD/deb/openvino-tryon_${VERSION}_${ARCH}"
rm -rf "$ROOT"
mkdir -p "$ROOT/DEBIAN" "$ROOT/opt" "$ROOT/usr/bin" "$ROOT/usr/share/applications" \
    "$ROOT/usr/share/icons/hicolor/256x256/apps" "$ROOT/usr/share/icons/hicolor/scalable/apps"
cp -a "$BUNDLE" "$ROOT/opt/openvino-tryon"
# Relative, so that the link also works in a tree unpacked elsewhere (dpkg -x).
ln -s ../../opt/openvino-tryon/tryon "$ROOT/usr/bin/tryon"
install -m 644 installer/linux/openvino-tryon.desktop "$ROOT/usr/share/applications/"
install -m 644 assets/icons/openvino-tryon.png "$ROOT/usr/share/icons/hicolor/256x256/apps/"
install -m 644 assets/icons/openvino-tryon.svg "$ROOT/usr/share/icons/hicolor/scalable/apps/"

install -m 755 installer/linux/prerm "$ROOT/DEBIAN/prerm"

# What the bundled binaries need of the system's C and C++ runtime (tryon.spec leaves libstdc++,
# libgcc_s and libexpat to the system): for each package, the oldest version that has every symbol
# version they use, read from the package's symbols file as dpkg-shlibdeps would (GLIBC_2.34 ->
# libc6 (>= 2.34), GLIBCXX_3.4.29 -> libstdc++6 (>= 11)). Then the system libraries PyInstaller
# leaves out: the GL/EGL drivers, and what the X11 and Wayland platform plugins need.
NEEDED="$(find "$ROOT/opt" -type f \( -name '*.so*' -o -name tryon \) -exec objdump -T {} + 2>/dev/null || true)"
requirement() { # PACKAGE SYMBOL_VERSION_PREFIX
    local node symbols minimum=""
    node="$({ grep -oE "\b$2_[0-9][0-9.]*" <<<"$NEEDED" || true; } | sort -uV | tail -1)"
    symbols="$(dpkg-query --control-path "$1:$ARCH" symbols 2>/dev/null || true)"
    if [[ -n "$node" && -f "$symbols" ]]; then
        minimum="$(awk -v node="$node@$node" '$1 == node { print $2; exit }' "$symbols")"
    fi
    echo "$1${minimum:+ (>= $minimum)}"
}
DEPENDS="$(requirement libc6 GLIBC), $(requirement libstdc++6 GLIBCXX), $(requirement libgcc-s1 GCC),"
DEPENDS+=" libexpat1, libgl1, libegl1, libxcb1, libxcb-icccm4, libxcb-keysyms1, libxcb-cursor0,"
DEPENDS+=" libwayland-client0, libwayland-cursor0, libwayland-egl1"
cat > "$ROOT/DEBIAN/control" <<EOF
Package: openvino-tryon
Version: $VERSION
Architecture: $ARCH
Maintainer: openvino-tryon developers
Installed-Size: $(du -sk --exclude=DEBIAN "$ROOT" | cut -f1)
Depends: $DEPENDS
Section: graphics
Priority: optional
Description: offline virtual try-on on the CPU
 See yourself in a garment: a person photo and a garment photo go in, a
 try-on image comes out. PF-AFN runs through OpenVINO on an ordinary CPU,
 offline. Installs the desktop app and the tryon command.
EOF
chmod -R u+rwX,go+rX,go-w "$ROOT"

# The archive is put together here, not by dpkg-deb --build: that lists every folder of the tree,
# /opt included, and dpkg would then take /opt for a folder of the package, try to delete it on
# removal and warn that it is not empty. The package's files list everything but ./opt/.
PACKING="$BUILD/deb/packing"
rm -rf "$PACKING" "$DEB_PATH"
mkdir -p "$PACKING"
(cd "$ROOT" && find . -path ./DEBIAN -prune -o -path ./opt -o -print | LC_ALL=C sort) >"$PACKING/files"
tar -C "$ROOT" --format=gnu --owner=0 --group=0 --numeric-owner --no-recursion -T "$PACKING/files" -cf - \
    | "${COMPRESS[@]}" >"$PACKING/$DATA"
tar -C "$ROOT/DEBIAN" --format=gnu --owner=0 --group=0 --numeric-owner -czf "$PACKING/control.tar.gz" .
echo 2.0 >"$PACKING/debian-binary"
(cd "$PACKING" && ar rc "$DEB_PATH" debian-binary control.tar.gz "$DATA")
dpkg-deb --info "$DEB_PATH" >/dev/null || die "dpkg-deb cannot read $DEB_PATH"
rm -rf "$ROOT" "$PACKING"

du -sh "$BUNDLE" | sed 's/\t.*/  bundle (unpacked)/'
ls -s --block-size=M "$DIST"/openvino-tryon*"$VERSION"* | sed 's/^ *//'
