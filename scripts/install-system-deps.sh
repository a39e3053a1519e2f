#!/usr/bin/env bash
# System packages the test suite needs, from Debian's archive; installs only what is missing.
#   make (C firmware tests), gcc-arm-none-eabi + newlib (the board image cross-compiles),
#   postgresql (a throwaway server for the label store's PostgreSQL tests),
#   chromium (the annotation workbench's headless browser tests, driven by Playwright).
# Idempotent and quiet when everything is there. Run as root (CI is), or with sudo.
set -euo pipefail

need=()
command -v cc >/dev/null 2>&1 || need+=(gcc libc6-dev)
command -v make >/dev/null 2>&1 || need+=(make)
command -v arm-none-eabi-gcc >/dev/null 2>&1 || need+=(gcc-arm-none-eabi libnewlib-arm-none-eabi)
ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || need+=(postgresql)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
for pkg in "${EXTRA_SYSTEM_PACKAGES[@]:-}"; do
    [ -n "$pkg" ] && ! dpkg -s "$pkg" >/dev/null 2>&1 && need+=("$pkg")
done

if [ ${#need[@]} -eq 0 ]; then
    exit 0
fi
echo "installing system packages: ${need[*]}"
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        SUDO=sudo
    else
        echo "error: need root to install ${need[*]}; run: apt-get install ${need[*]}" >&2
        exit 2
    fi
else
    SUDO=
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
