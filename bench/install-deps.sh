#!/bin/sh
# Installs what `npm run bench` needs from Debian when it is missing and we are root:
# gcc and libc headers (the C load generator), libssl-dev (HMAC-SHA1/MD5 for long-term auth),
# coturn (the reference peer). node-turn comes from npm (devDependency). Never fails the bench:
# a missing peer is skipped with a message, a missing compiler is reported by bench/run.mjs.
set -u
need=""
command -v gcc >/dev/null 2>&1 || need="$need gcc libc6-dev"
[ -f /usr/include/openssl/hmac.h ] || need="$need libssl-dev"
command -v turnserver >/dev/null 2>&1 || need="$need coturn"
command -v taskset >/dev/null 2>&1 || need="$need util-linux"
[ -z "$need" ] && exit 0
if [ "$(id -u)" != 0 ]; then
  echo "bench: missing Debian packages:$need (not root, not installing)" >&2
  exit 0
fi
echo "bench: installing$need" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null 2>&1 || true
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $need >/dev/null 2>&1 || echo "bench: apt-get install$need failed" >&2
exit 0
