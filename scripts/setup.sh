#!/usr/bin/env bash
# Installs what the project needs on a fresh Debian machine (run as root):
# the Go reference server (nats-server 2.9.10) and its sources and tests,
# and for the websocket/browser scenarios Debian's chromium and the npm
# packages of conformance/browser (nats.ws, playwright-core).
# Idempotent: installs only what is missing and says what it did.
set -euo pipefail

GO_SRC=/usr/share/gocode/src/github.com/nats-io/nats-server
packages=()
if ! [ -x /usr/sbin/nats-server ]; then packages+=(nats-server); fi
if ! [ -d "$GO_SRC/server" ]; then packages+=(golang-github-nats-io-nats-server-dev); fi
if ! [ -x /usr/bin/chromium ]; then packages+=(chromium); fi

if [ ${#packages[@]} -eq 0 ]; then
  echo "setup: nats-server, its sources and chromium are already installed; nothing to do"
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

# The browser scenarios' npm packages, pinned by conformance/browser/package-lock.json.
BROWSER="$(cd "$(dirname "$0")/../conformance/browser" && pwd)"
if ! command -v npm >/dev/null; then
  echo "setup: warning: npm not found; the websocket/browser scenarios will be skipped (and --check fails)" >&2
elif [ "$BROWSER/node_modules/.package-lock.json" -nt "$BROWSER/package-lock.json" ]; then
  echo "setup: $BROWSER/node_modules is up to date; nothing to do"
else
  echo "setup: npm ci in $BROWSER"
  (cd "$BROWSER" && npm ci --no-audit --no-fund --loglevel=error)
fi
