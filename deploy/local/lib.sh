# Shared by deploy/local/stack.sh and deploy/local/tools.sh (sourced, not
# run). The sourcing script sets LOG_PREFIX ("stack", "tools").

log() { printf '%s: %s\n' "$LOG_PREFIX" "$*" >&2; }
die() { printf '%s: error: %s\n' "$LOG_PREFIX" "$*" >&2; exit 1; }

# apt_install PACKAGE...: installs Debian packages, with sudo when not
# root; apt-get update runs once per script.
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
