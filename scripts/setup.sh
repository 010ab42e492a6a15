#!/usr/bin/env bash
# Installs what the project needs on a fresh Debian machine (run as root):
# the Go reference server (nats-server 2.9.10) and its sources and tests.
# Idempotent: installs only what is missing and says what it did.
set -euo pipefail

GO_SRC=/usr/share/gocode/src/github.com/nats-io/nats-server
packages=()
if ! [ -x /usr/sbin/nats-server ]; then packages+=(nats-server); fi
if ! [ -d "$GO_SRC/server" ]; then packages+=(golang-github-nats-io-nats-server-dev); fi

if [ ${#packages[@]} -eq 0 ]; then
  echo "setup: nats-server and its sources are already installed; nothing to do"
else
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup: must run as root to install: ${packages[*]}" >&2
    exit 1
  fi
  echo "setup: installing ${packages[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
  echo "setup: installed ${packages[*]}"
fi

version=$(/usr/sbin/nats-server --version)
echo "setup: Go reference is $version at /usr/sbin/nats-server; sources at $GO_SRC"
case "$version" in
  *v2.9.10*) ;;
  *) echo "setup: warning: expected nats-server v2.9.10, got $version" >&2 ;;
esac
