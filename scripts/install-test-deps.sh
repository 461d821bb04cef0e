#!/usr/bin/env bash
# Installs the Debian packages the tests need, when they are missing.
# The tool -> package list lives in scripts/test-deps.txt so the test helpers
# can name the same package in their skip messages.
#
# As root: installs only what is missing (one apt-get update, one install).
# Not root: prints one line per missing tool naming the tests that will be
# skipped, and exits 0 so a developer without root can still run the suite.
# Exit status is non-zero only when an install was attempted and failed.
set -uo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
deps_file="${TEST_DEPS_FILE:-$here/test-deps.txt}"
# Tools are looked up without node_modules/.bin, where npm puts packages' commands: the npm
# `stun` package's `stun` (a STUN server) must not pass for Debian's stun-client.
sys_path="$(printf '%s' "$PATH" | tr ':' '\n' | grep -v '/node_modules/\.bin/\?$' | paste -sd: -)"

missing_tools=()
missing_pkgs=()
declare -A why=()
declare -A seen_pkg=()

# A tool on the system PATH, or (a path starting with /) a file such as a header.
present() {
  if [[ "$1" == /* ]]; then [[ -e "$1" ]]; else PATH="$sys_path" command -v "$1" >/dev/null 2>&1; fi
}

while read -r tool pkg reason; do
  [[ -z "${tool:-}" || "$tool" == \#* ]] && continue
  if ! present "$tool"; then
    missing_tools+=("$tool")
    why["$tool"]="$pkg|$reason"
    if [[ -z "${seen_pkg[$pkg]:-}" ]]; then
      seen_pkg["$pkg"]=1
      missing_pkgs+=("$pkg")
    fi
  fi
done < "$deps_file"

if [[ ${#missing_tools[@]} -eq 0 ]]; then
  echo "test deps: all tools present"
  exit 0
fi

report_missing() {
  local prefix="$1" tool
  for tool in "${missing_tools[@]}"; do
    present "$tool" && continue
    IFS='|' read -r pkg reason <<< "${why[$tool]}"
    echo "test deps: $tool missing (Debian package $pkg): $reason will be skipped$prefix"
  done
}

if [[ "$(id -u)" -ne 0 ]]; then
  report_missing " (run npm test as root to install it)"
  exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
  report_missing " (no apt-get on this machine; install it by hand)"
  exit 0
fi

echo "test deps: installing ${missing_pkgs[*]}"

# Debian packages with a daemon (coturn) start it from postinst. A test run must
# not leave a system turnserver holding port 3478, so forbid service starts for
# the duration of the install via policy-rc.d (exit 101 = action forbidden;
# honoured by invoke-rc.d and deb-systemd-invoke). An existing policy-rc.d is
# left alone: it already decides, and it is not ours to replace.
policy=/usr/sbin/policy-rc.d
own_policy=0
if [[ ! -e "$policy" ]]; then
  printf '#!/bin/sh\n# temporary, from turnkit scripts/install-test-deps.sh\nexit 101\n' > "$policy"
  chmod 755 "$policy"
  own_policy=1
fi
cleanup() { if [[ $own_policy -eq 1 ]]; then rm -f "$policy"; fi; }
trap cleanup EXIT

# Note the turnserver processes (if any) that exist before, so that afterwards
# only ones this install started are considered ours.
before_pids=" $(pidof turnserver 2>/dev/null || true) "

export DEBIAN_FRONTEND=noninteractive
apt_opts=(-o DPkg::Lock::Timeout=300 -o Dpkg::Use-Pty=0 -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold)
rc=0
apt-get "${apt_opts[@]}" update -q || rc=$?
if [[ $rc -eq 0 ]]; then
  apt-get "${apt_opts[@]}" install -y -q --no-install-recommends "${missing_pkgs[@]}" || rc=$?
fi

# Defence in depth: if a turnserver appeared anyway (a policy-rc.d that allowed
# it, a systemd unit started by other means), stop the service we just
# installed, and only if that fails kill exactly the new PIDs.
new_pids=()
for pid in $(pidof turnserver 2>/dev/null || true); do
  [[ "$before_pids" == *" $pid "* ]] || new_pids+=("$pid")
done
if [[ ${#new_pids[@]} -gt 0 ]]; then
  echo "test deps: coturn service was started by the install; stopping it" >&2
  if [[ -d /run/systemd/system ]] && command -v systemctl >/dev/null 2>&1; then
    systemctl stop coturn.service >/dev/null 2>&1 || true
    systemctl disable coturn.service >/dev/null 2>&1 || true
  elif command -v service >/dev/null 2>&1; then
    service coturn stop >/dev/null 2>&1 || true
  fi
  sleep 1
  for pid in "${new_pids[@]}"; do
    kill -0 "$pid" 2>/dev/null && kill "$pid" 2>/dev/null || true
  done
fi

if [[ $rc -ne 0 ]]; then
  echo "test deps: apt-get failed (exit $rc)" >&2
  report_missing " (install failed)"
  exit "$rc"
fi

still=0
for tool in "${missing_tools[@]}"; do
  if ! present "$tool"; then
    IFS='|' read -r pkg reason <<< "${why[$tool]}"
    echo "test deps: $tool still missing after installing $pkg: $reason will be skipped" >&2
    still=1
  fi
done
[[ $still -eq 0 ]] && echo "test deps: installed"
exit "$still"
