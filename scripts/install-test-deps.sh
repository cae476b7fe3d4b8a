#!/usr/bin/env bash
# System packages the test suite needs (Debian). Idempotent; installs only what is missing.
# Always: what WeasyPrint loads at run time for notice PDFs (pango, pangoft2, harfbuzz-subset)
# and the CJK font the notices are set in. Further packages (e.g. postgresql) come as arguments.
set -euo pipefail
always=(libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-noto-cjk)
need=()
for pkg in "${always[@]}" "$@"; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "需要安装系统软件包：${need[*]}（请以 root 运行，或先手动安装）" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
