#!/usr/bin/env bash
# Install everything ollama-py and its tests need on a fresh Debian/Ubuntu machine with Python >= 3.11.
# Idempotent: a second run installs nothing new. Run as root or with sudo available.
set -euo pipefail
cd "$(dirname "$0")/.."

# chromium + chromium-driver: the registry web page tests drive a headless browser (selenium).
apt_packages=(postgresql skopeo docker-registry wrk curl chromium chromium-driver zstd)
missing=()
for pkg in "${apt_packages[@]}"; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if ((${#missing[@]})); then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# llama-cpp-python builds from source (about 6 minutes on 2 cores the first time; pip caches the wheel).
python3 -m pip install -q --disable-pip-version-check -e '.[dev,inference,postgres,registry,registry-tests,test-clients]'

# pyenv installs console scripts behind shims: make `ollama-py` resolvable right away.
if command -v pyenv >/dev/null 2>&1; then pyenv rehash || true; fi
