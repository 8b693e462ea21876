#!/usr/bin/env bash
# The installed .deb used as a person would: the kernels the build compiled, a try-on from the
# command line, the desktop app opened and closed, then removed with apt. The workflow runs it as
# root in its containers, after `apt-get install ./openvino-tryon_*.deb`.
set -euo pipefail
samples=/opt/openvino-tryon/_internal/assets
person="$(ls "$samples"/persons/*.jpg | head -n 1)"
cloth="$(ls "$samples"/garments/*.jpg | head -n 1)"
home="$(mktemp -d)"
clean=(env -i PATH=/usr/bin:/bin HOME="$home" QT_QPA_PLATFORM=offscreen)

"${clean[@]}" tryon warmup | tee "$home/warmup.log"
grep -q "loaded from the cache" "$home/warmup.log"
time "${clean[@]}" tryon run --person "$person" --cloth "$cloth" --out "$home/tryon.png"
test -s "$home/tryon.png"
"${clean[@]}" TRYON_QUIT_AFTER_MS=3000 tryon
# The window saves its settings when it closes: it was shown, and closed the normal way.
test -f "$home/.config/openvino-tryon/openvino-tryon.ini"

# dpkg warns about folders it could not delete (/opt, or one the app wrote into).
apt-get remove -y openvino-tryon 2>&1 | tee "$home/remove.log"
if grep -i warning "$home/remove.log"; then exit 1; fi
test ! -e /opt/openvino-tryon
echo "smoke test passed"
