#!/usr/bin/env bash
# Install what the console's browser tests need, when it is missing: Debian's Chromium
# (Playwright drives it through its executable_path; a test tool's own browser download
# does not work on a closed network) and axe-core from the npm registry (AXE_VERSION), for the
# accessibility checks, into /var/cache/qcb-axe/VERSION. Idempotent; about a minute the first time.
set -euo pipefail

AXE_VERSION="${AXE_VERSION:-4.11.0}"
AXE_DIR="${QCB_AXE_DIR:-/var/cache/qcb-axe/$AXE_VERSION}"

if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" != 0 ]; then
    echo "chromium is missing; run this as root, or:" \
      "sudo apt-get install -y --no-install-recommends chromium" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt_install() { apt-get install -y -qq --no-install-recommends chromium >/dev/null; }
  apt_install 2>/dev/null || { apt-get update -qq && apt_install; }
fi
chromium --version 2>/dev/null

if [ ! -f "$AXE_DIR/node_modules/axe-core/axe.min.js" ]; then
  command -v npm >/dev/null 2>&1 || {
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -qq --no-install-recommends npm >/dev/null 2>&1 \
      || { apt-get update -qq && apt-get install -y -qq --no-install-recommends npm >/dev/null; }
  }
  mkdir -p "$AXE_DIR"
  npm install --silent --no-audit --no-fund --prefix "$AXE_DIR" "axe-core@$AXE_VERSION" >/dev/null
fi
echo "axe-core $(node -p "require('$AXE_DIR/node_modules/axe-core/package.json').version" 2>/dev/null || echo "$AXE_VERSION") in $AXE_DIR"
