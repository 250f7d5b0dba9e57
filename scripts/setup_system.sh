#!/usr/bin/env bash
# Debian packages eureka-kit needs outside Python:
#   bubblewrap        Linux namespaces for the strict sandbox of reward programs
#   chromium          headless browser for the ranking-page tests (tests/test_rank_page.py)
#   libegl1, libgl1-mesa-dri   EGL offscreen rendering of MuJoCo videos (GPU or Mesa software)
#   libosmesa6        OSMesa: pure-software fallback when EGL does not work
# Installs only what is missing, and only as root; otherwise prints what to run and exits 0.
set -euo pipefail

PACKAGES=(bubblewrap chromium libegl1 libgl1-mesa-dri libosmesa6)

if ! command -v dpkg-query >/dev/null 2>&1; then
  echo "setup_system: warning: not a Debian-based system (no dpkg-query); install these yourself: ${PACKAGES[*]}" >&2
  exit 0
fi

missing=()
for pkg in "${PACKAGES[@]}"; do
  if dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
    echo "setup_system: $pkg is installed"
  else
    missing+=("$pkg")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup_system: all system packages present"
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "setup_system: warning: missing ${missing[*]}; not root, so not installing. Run:" >&2
  echo "  sudo apt-get update && sudo apt-get install -y --no-install-recommends ${missing[*]}" >&2
  exit 0
fi

echo "setup_system: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}"
echo "setup_system: installed ${missing[*]}"
