#!/usr/bin/env bash
# Browser tests need Debian's Chromium and CJK fonts. Install them when missing (CI and developer
# machines run as root with apt); a machine that cannot install them fails the browser tests loudly.
set -euo pipefail
need=()
[ -x /usr/bin/chromium ] || need+=(chromium)
dpkg -s fonts-noto-cjk >/dev/null 2>&1 || need+=(fonts-noto-cjk)
if [ ${#need[@]} -eq 0 ]; then exit 0; fi
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
  echo "ensure_browser: please install ${need[*]} (Debian packages) for the browser tests" >&2
  exit 1
fi
echo "ensure_browser: installing ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
