#!/usr/bin/env bash
# Command-line tools that some tests call, installed with apt-get when
# missing (as deploy/local/stack.sh installs Java and ClickHouse):
#
#   deploy/local/tools.sh xmllint     XML Schema validator (libxml2-utils),
#                                     used by the pain.001 tests of
#                                     sinks/payoutfile
#
# Idempotent: a tool already on PATH is left as it is. Prints the path of
# each tool on standard output.
set -euo pipefail

log() { printf 'tools: %s\n' "$*" >&2; }
die() { printf 'tools: error: %s\n' "$*" >&2; exit 1; }

apt_updated=
apt_install() {
  if [ "$(id -u)" -ne 0 ] && ! command -v sudo >/dev/null; then
    die "need $* but cannot install it (not root and no sudo)"
  fi
  local sudo=; [ "$(id -u)" -ne 0 ] && sudo=sudo
  if [ -z "$apt_updated" ]; then
    log "apt-get update"
    $sudo apt-get update -qq >&2
    apt_updated=1
  fi
  log "apt-get install $*"
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$@" >&2
}

[ $# -gt 0 ] || die "usage: $0 TOOL... (known: xmllint)"
for tool in "$@"; do
  case $tool in
    xmllint) command -v xmllint >/dev/null || apt_install libxml2-utils ;;
    *) die "unknown tool $tool (known: xmllint)" ;;
  esac
  command -v "$tool" || die "$tool is still missing"
done
