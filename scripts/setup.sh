#!/usr/bin/env bash
# Idempotent setup for a fresh Debian 12 machine (as root): apt packages,
# .venv at the repo root (Debian's python, so libnm/umockdev GI bindings are
# visible), the package installed editable, npm packages into the repo.
# Fast when everything is already there: each step checks before it acts.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
  python3-venv python3-gi gir1.2-nm-1.0 network-manager modemmanager
  umockdev gir1.2-umockdev-1.0 usb-modeswitch usb-modeswitch-data
  mtools dosfstools fdisk ser2net socat busybox bmap-tools uhubctl
  chromium iw iproute2 bash jq udev wireless-regdb
  curl tinyproxy redsocks
  qemu-system-x86 linux-image-amd64 dnsmasq-base e2fsprogs nftables chrony
  ppp hostapd wpasupplicant
)
# node/npm may come from Debian or from a nodesource package that bundles npm
command -v npm >/dev/null 2>&1 || APT_PACKAGES+=(nodejs npm)

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing apt packages: ${missing[*]}"
  if [ "$(id -u)" != 0 ]; then
    echo "setup: need root to install ${missing[*]}" >&2; exit 1
  fi
  apt-get update -qq
  # chrony is for the virtual rig's guest, which runs its own chronyd: installing it
  # must neither start a chronyd that sets this host's clock (policy-rc.d: no service
  # starts during the install) nor enable one for the host's next boot
  policy=""
  if [[ " ${missing[*]} " == *" chrony "* && ! -e /usr/sbin/policy-rc.d ]]; then
    policy=/usr/sbin/policy-rc.d
    printf '#!/bin/sh\nexit 101\n' > "$policy" && chmod 0755 "$policy"
    trap 'rm -f "$policy"' EXIT
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  if [[ " ${missing[*]} " == *" chrony "* ]]; then
    systemctl disable chrony.service >/dev/null 2>&1 || true
  fi
  if [ -n "$policy" ]; then rm -f "$policy"; trap - EXIT; fi
fi

stamp=.venv/.hil-setup-stamp
want=$(cat pyproject.toml | sha256sum | cut -d' ' -f1)
if [ ! -x .venv/bin/python ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "setup: creating .venv"
  [ -x .venv/bin/python ] || /usr/bin/python3 -m venv --system-site-packages .venv
  log=$(mktemp)
  if ! { .venv/bin/python -m pip install -q --upgrade pip && \
         .venv/bin/python -m pip install -q -e '.[dev]'; } >"$log" 2>&1; then
    grep -v "^WARNING: Location" "$log" >&2; rm -f "$log"; exit 1
  fi
  rm -f "$log"
  echo "$want" > "$stamp"
fi

if [ -f package.json ]; then
  npm_want=$(cat package.json package-lock.json 2>/dev/null | sha256sum | cut -d' ' -f1)
  if [ "$(cat node_modules/.hil-stamp 2>/dev/null)" != "$npm_want" ]; then
    echo "setup: installing npm packages"
    npm ci --no-audit --no-fund --loglevel=error >/dev/null
    echo "$npm_want" > node_modules/.hil-stamp
  fi
fi
