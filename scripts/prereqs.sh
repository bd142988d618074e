#!/usr/bin/env bash
# Checks, and where it can installs, what building Eddy needs on Debian:
# Go (>= the go.mod version), gcc and a C++ runtime to link against (cgo:
# -race, stores/rocksdb), git, and librocksdb-dev (RocksDB 7.8 on bookworm,
# with its compression libraries, for github.com/linxGnu/grocksdb v1.7.15).
# Installs with apt-get when running as root; otherwise says what to run.
# Quick and silent when everything is there.
set -euo pipefail

need_apt=()
command -v gcc >/dev/null 2>&1 || need_apt+=(gcc libc6-dev)
command -v git >/dev/null 2>&1 || need_apt+=(git)
# grocksdb links with -lstdc++: gcc alone does not bring libstdc++.so (g++ does).
if ! command -v gcc >/dev/null 2>&1 || [ "$(gcc -print-file-name=libstdc++.so)" = "libstdc++.so" ]; then
  need_apt+=(g++)
fi
# The header, and dpkg as the authority where there is one (a half-removed
# package can leave the header behind).
if [ ! -f /usr/include/rocksdb/c.h ] ||
   { command -v dpkg >/dev/null 2>&1 && ! dpkg -s librocksdb-dev >/dev/null 2>&1; }; then
  need_apt+=(librocksdb-dev)
fi

if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "prereqs: installing ${need_apt[*]} with apt-get"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
  else
    echo "prereqs: missing ${need_apt[*]}; install them, e.g.: sudo apt-get update && sudo apt-get install ${need_apt[*]}" >&2
    exit 1
  fi
fi

if ! command -v go >/dev/null 2>&1; then
  echo "prereqs: Go is not on PATH; install Go $(sed -n 's/^go //p' go.mod) or newer from your distribution or go.dev" >&2
  exit 1
fi
