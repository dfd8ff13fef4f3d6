#!/usr/bin/env bash
# setup.sh — installs the Debian packages portico builds, tests and runs with, when missing.
# Idempotent: packages already installed are not touched; apt-get runs only if something is missing.
set -euo pipefail

PACKAGES=(
  build-essential cmake pkg-config clang libclang-rt-14-dev
  libh2o-evloop-dev libnghttp2-dev libprotobuf-c-dev protobuf-c-compiler
  libgrpc-dev libjansson-dev libssl-dev protobuf-compiler libprotobuf-dev libprotoc-dev
  golang-github-gogo-googleapis-dev python3 python3-protobuf
  curl nghttp2-client wrk redis-server valgrind openssl
  chromium
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
# node and npm: the machine image may bring its own build (with npm inside); Debian's only when absent
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
