#!/usr/bin/env bash
# Install ollama-py into a virtual environment on Debian 12/13 or Ubuntu 24.04 (Python >= 3.11).
#
#   bash scripts/setup.sh          run models: ollama-py with inference, in .venv (or the active venv)
#   bash scripts/setup.sh --dev    also what the tests need: Debian packages (postgresql, skopeo,
#                                  docker-registry, wrk, curl, docker-compose, chromium, zstd) and the
#                                  dev/test extras
#
# The system Python is never written to (PEP 668: Debian refuses `pip install` there). Debian packages
# are installed only when missing, with sudo unless run as root. Idempotent: a second run installs
# nothing new. Afterwards: `.venv/bin/ollama-py ...`, or `. .venv/bin/activate` then `ollama-py ...`.
set -euo pipefail
cd "$(dirname "$0")/.."

dev=0
for arg in "$@"; do
  case "$arg" in
    --dev) dev=1 ;;
    -h | --help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "setup.sh: unknown argument '$arg' (use --dev or --help)" >&2; exit 2 ;;
  esac
done

step() { printf '==> %s\n' "$*"; }

apt_install() {  # the named Debian packages that are not installed yet
  local missing=() pkg sudo=""
  for pkg in "$@"; do dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg"); done
  ((${#missing[@]})) || return 0
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  step "installing Debian packages: ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

python=${PYTHON:-python3}
if ! command -v "$python" >/dev/null 2>&1 || ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  echo "setup.sh: needs Python >= 3.11 as '$python' (set PYTHON=/path/to/python3.11 to choose one)" >&2
  exit 1
fi

if [ -n "${VIRTUAL_ENV:-}" ]; then
  venv=$VIRTUAL_ENV
  step "using the active virtual environment $venv"
else
  venv=$PWD/.venv
  if [ ! -x "$venv/bin/python" ]; then
    # Debian and Ubuntu ship venv's pip bootstrap separately (python3-venv); a compiler builds llama.cpp.
    if command -v dpkg >/dev/null 2>&1; then
      "$python" -c 'import ensurepip' 2>/dev/null || apt_install python3-venv
      command -v cc >/dev/null 2>&1 || apt_install build-essential
    fi
    step "creating the virtual environment $venv"
    "$python" -m venv "$venv"
  fi
fi

if ((dev)); then
  # chromium + chromium-driver: the registry web page tests drive a headless browser (selenium);
  # zstd unpacks the OCI conformance suite.
  # nodejs (+ npm, which NodeSource's nodejs bundles): the official ollama JS client's tests (tests/js).
  apt_install postgresql skopeo docker-registry wrk curl docker-compose chromium chromium-driver zstd nodejs
  command -v npm >/dev/null 2>&1 || apt_install npm
  extras="dev,inference,postgres,registry,registry-tests,test-clients"
else
  extras="inference"
fi

step "installing ollama-py[$extras] into $venv"
echo "    (the first time, llama-cpp-python compiles from source unless a wheel is at hand: about 6 minutes"
echo "    on 2 cores, with pip's spinner as progress; pip caches the wheel, so later runs take seconds)"
# (pip's own output, less the lines about what is already installed; pipefail keeps pip's exit status)
"$venv/bin/python" -m pip install --disable-pip-version-check --progress-bar on -e ".[$extras]" 2>&1 \
  | { grep --line-buffered -v -e "^Requirement already satisfied" -e "^WARNING: Location '.*' is ignored" || true; }
"$venv/bin/python" -c 'import registry.cli.main' # fails loudly when the install above did not work
if ((dev)); then
  step "installing the ollama JS client for its tests (npm ci in tests/js)"
  npm ci --prefix tests/js --no-audit --no-fund --loglevel=error
fi
step "done: run '$venv/bin/ollama-py serve', or '. $venv/bin/activate' first and then 'ollama-py ...'"
