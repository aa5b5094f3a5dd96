#!/usr/bin/env bash
# Installs Debian's chromium for the dashboard tests when it is missing.
# Playwright drives it through executable_path=/usr/bin/chromium; no browser is downloaded.
set -u
if [ -x /usr/bin/chromium ]; then
  exit 0
fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "==> installing Debian's chromium for the dashboard tests (a minute or two, once)"
  export DEBIAN_FRONTEND=noninteractive
  echo "==> apt-get update"
  apt-get update -q || true
  echo "==> apt-get install chromium"
  apt-get install -y -q chromium || echo "could not install chromium; dashboard tests will skip (and fail under CI=true)" >&2
else
  echo "chromium is missing; install Debian's 'chromium' package for the dashboard tests" >&2
fi
exit 0
