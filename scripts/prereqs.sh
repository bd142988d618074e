#!/usr/bin/env bash
# Checks, and where it can installs, what building Eddy needs on Debian:
# Go (>= the go.mod version) and gcc (cgo: -race, later RocksDB).
# Installs with apt-get when running as root; otherwise says what to run.
set -euo pipefail

need_apt=()
command -v gcc >/dev/null 2>&1 || need_apt+=(gcc libc6-dev)
command -v git >/dev/null 2>&1 || need_apt+=(git)

if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "prereqs: installing ${need_apt[*]} with apt-get"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
  else
    echo "prereqs: missing ${need_apt[*]}; install them, e.g.: sudo apt-get install ${need_apt[*]}" >&2
    exit 1
  fi
fi

if ! command -v go >/dev/null 2>&1; then
  echo "prereqs: Go is not on PATH; install Go $(sed -n 's/^go //p' go.mod) or newer from your distribution or go.dev" >&2
  exit 1
fi
