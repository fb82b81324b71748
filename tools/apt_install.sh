#!/usr/bin/env bash
# Sourced by tools/deps*.sh: install_missing LABEL PKG... installs those of the
# Debian packages that are not installed yet (through sudo when not root); a
# no-op when all are there.
install_missing() {
  local label=$1 p sudo=""
  shift
  local missing=()
  for p in "$@"; do
    [ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" = "install ok installed" ] || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "$label: installing ${missing[*]}"
  [ "$(id -u)" -eq 0 ] || sudo=sudo
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
}
