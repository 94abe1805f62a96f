#!/bin/sh
# Builds the accrue binary exactly as the container image does, so that CI
# can build the same thing without Docker (cmd/accrue/deploy_test.go):
# static (CGO_ENABLED=0, no libc to match in a distroless image), paths
# trimmed, symbols stripped, and stamped with version, commit and build time
# (printed by `accrue version` and logged by every long-running command).
#
#   deploy/docker/build.sh [OUT]     default OUT: bin/accrue
#
# VERSION, COMMIT and BUILD_TIME override what git and the clock say (the
# image's build has no .git: its build arguments pass them in).
set -eu
cd "$(dirname "$0")/../.."
out=${1:-bin/accrue}
version=${VERSION:-$(git describe --tags --always --dirty 2>/dev/null || echo dev)}
commit=${COMMIT:-$(git rev-parse HEAD 2>/dev/null || echo unknown)}
build_time=${BUILD_TIME:-$(date -u +%Y-%m-%dT%H:%M:%SZ)}
CGO_ENABLED=0 exec go build -trimpath -buildvcs=false \
  -ldflags "-s -w -X main.version=$version -X main.commit=$commit -X main.buildTime=$build_time" \
  -o "$out" ./cmd/accrue
