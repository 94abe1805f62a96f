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

LOG_PREFIX=tools
# shellcheck source=deploy/local/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

[ $# -gt 0 ] || die "usage: $0 TOOL... (known: xmllint)"
for tool in "$@"; do
  case $tool in
    xmllint) command -v xmllint >/dev/null || apt_install libxml2-utils ;;
    *) die "unknown tool $tool (known: xmllint)" ;;
  esac
  command -v "$tool" || die "$tool is still missing"
done
