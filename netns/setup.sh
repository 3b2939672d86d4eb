#!/usr/bin/env bash
# One idempotent setup for v6pod on Debian 12 as root: the Debian packages the harness drives
# (real daemons, the guests' DHCPv6 clients, real attack tools, capture and graph tools) and the
# npm packages, with the native modules (cap, raw-socket) built. Fast when everything is already in
# place. The guest clients (docs/guests.md) run only inside pod namespaces: dhcpcd-base and
# isc-dhcp-client ship no service, systemd-networkd comes with systemd and is never started here,
# and dibbler-client's packaged service is kept from starting by the policy-rc.d below. So is
# isc-dhcp-relay's (ISC dhcrelay, a relay the pod's routers may run instead of v6pod's) and
# pgbouncer's (v6pod runs one per PostgreSQL pod, on the run's own cluster).
#   V6POD_NO_APT=1     skip the Debian packages (e.g. a machine provisioned another way)
set -euo pipefail
cd "$(dirname "$0")/.."

DEBIAN_PACKAGES=(
  iproute2 procps ethtool radvd kea-dhcp6-server kea-admin kea-common nftables iptables ebtables ipset
  tcpdump tshark wide-dhcpv6-client thc-ipv6 ipv6toolkit ndisc6 iputils-ping libpcap-dev
  dhcpcd-base isc-dhcp-client dibbler-client systemd isc-dhcp-relay
  graphviz iperf3 postgresql postgresql-client pgbouncer
  python3 make g++
)

log() { printf 'setup: %s\n' "$*" >&2; }

# Fast path: nothing changed since the last complete setup, checked without running a package tool.
# Each part has a stamp whose mtime must be newer than everything it depends on (find -newer: one
# process, no hashing); a missing input counts as changed. The system part (Debian packages, boot
# services, npm packages, native addons) depends on this script, package.json, the lockfile, the
# addons' sources and binaries and dpkg's status file; the compiled CLI (bin/dist.js: dist/) on
# the TypeScript sources. A stamp is created before its part runs and put in place after it
# succeeds, so a change made meanwhile is seen next time.
SYSTEM_STAMP=node_modules/.v6pod-setup-stamp
SYSTEM_ID="v1 apt=${V6POD_NO_APT:-0} uid=$EUID node=$(type -P node || true)"
SYSTEM_INPUTS=(netns/setup.sh package.json package-lock.json native/frame-io/binding.gyp native/frame-io/*.c
  native/frame-io/build/Release/frame_io.node node_modules/.v6pod-lock-hash
  node_modules/cap/build/Release/cap.node node_modules/raw-socket/build/Release/raw.node)
if [[ "${V6POD_NO_APT:-}" != 1 ]]; then
  SYSTEM_INPUTS+=(/var/lib/dpkg/status)
  for d in /etc/rc2.d /etc/rc3.d /etc/rc4.d /etc/rc5.d; do if [[ -d $d ]]; then SYSTEM_INPUTS+=("$d"); fi; done
fi
BUILD_STAMP=dist/.v6pod-setup-stamp
BUILD_INPUTS=(cli harness netns scenarios bin/dist.js tsconfig.json package-lock.json)

# changed STAMP INPUT…: the stamp is missing, or an input is missing or newer than it.
changed() {
  local stamp=$1
  shift
  [[ ! -f $stamp ]] || [[ -n "$(find "$@" -newer "$stamp" -print -quit 2>&1)" ]]
}

# The compiled CLI: bin/dist.js builds it unless dist/ holds a build of these very sources.
build_dist() {
  mkdir -p dist
  : >"$BUILD_STAMP.$$"
  node bin/dist.js build >/dev/null
  mv -f "$BUILD_STAMP.$$" "$BUILD_STAMP"
}

# A user other than root installs nothing (setup needs root once; rootless pods: docs/rootless.md):
# when root's last setup is stamped and nothing changed since, that is all; otherwise every part is
# checked and what is missing is named, in one line, with exit 2. dist/ is built only where the
# user may write it (else bin/v6pod.js runs the sources through tsx).
check_as_user() {
  local root_id="v1 apt=${V6POD_NO_APT:-0} uid=0 node=$(type -P node || true)" id= missing=()
  if [[ -f $SYSTEM_STAMP ]]; then read -r id <"$SYSTEM_STAMP" || true; fi
  if [[ $id != "$root_id" ]] || changed "$SYSTEM_STAMP" "${SYSTEM_INPUTS[@]}"; then
    if [[ "${V6POD_NO_APT:-}" != 1 ]]; then
      local installed
      installed=$(dpkg-query -W -f='${Package} ${Status}\n' "${DEBIAN_PACKAGES[@]}" 2>/dev/null | awk '$NF == "installed" { print $1 }' || true)
      local p absent=()
      for p in "${DEBIAN_PACKAGES[@]}"; do grep -qx "$p" <<<"$installed" || absent+=("$p"); done
      if ((${#absent[@]})); then missing+=("Debian packages: ${absent[*]}"); fi
    fi
    if ! command -v node >/dev/null || ! node -e 'process.exit(Number(process.versions.node.split(".")[0]) < 20 ? 1 : 0)'; then
      missing+=("Node.js >= 20 (found: $(node --version 2>/dev/null || echo none))")
    fi
    if [[ ! -f node_modules/.v6pod-lock-hash || "$(cat node_modules/.v6pod-lock-hash)" != "$(sha256sum package-lock.json | cut -d' ' -f1)" ]]; then
      missing+=("npm packages of package-lock.json (npm ci)")
    fi
    local a
    for a in node_modules/cap/build/Release/cap.node node_modules/raw-socket/build/Release/raw.node native/frame-io/build/Release/frame_io.node; do
      [[ -f $a ]] || missing+=("native addon $a")
    done
    if [[ -f native/frame-io/build/.v6pod-src-hash && "$(cat native/frame-io/build/.v6pod-src-hash)" != "$(cat native/frame-io/binding.gyp native/frame-io/*.c | sha256sum | cut -d' ' -f1)" ]]; then
      missing+=("a build of native/frame-io from its current sources")
    fi
  fi
  # A user namespace cannot load modules: the bridges' netfilter hooks must be there already.
  [[ -d /proc/sys/net/bridge ]] || missing+=("kernel module br_netfilter (modprobe br_netfilter)")
  if ((${#missing[@]})); then
    local IFS=';'
    echo "setup: missing (run netns/setup.sh as root once; a user installs nothing):${missing[*]/#/ }" >&2
    exit 2
  fi
  if changed "$BUILD_STAMP" "${BUILD_INPUTS[@]}" && [[ -w dist || ( ! -e dist && -w . ) ]]; then build_dist; fi
  exit 0
}
if [[ $EUID -ne 0 ]]; then check_as_user; fi
# Rootless pods need br_netfilter loaded before any user namespace asks for it (cheap when it is).
[[ -d /proc/sys/net/bridge ]] || modprobe br_netfilter 2>/dev/null || true

system_id=
if [[ -f $SYSTEM_STAMP ]]; then read -r system_id <"$SYSTEM_STAMP" || true; fi
if [[ $system_id == "$SYSTEM_ID" ]] && ! changed "$SYSTEM_STAMP" "${SYSTEM_INPUTS[@]}"; then
  if changed "$BUILD_STAMP" "${BUILD_INPUTS[@]}"; then build_dist; fi
  exit 0
fi
if [[ -d node_modules ]]; then echo "$SYSTEM_ID" >"$SYSTEM_STAMP.$$"; fi

if [[ "${V6POD_NO_APT:-}" != 1 ]]; then
  missing=()
  for p in "${DEBIAN_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  if ((${#missing[@]})); then
    [[ $EUID -eq 0 ]] || { echo "setup: installing ${missing[*]} needs root" >&2; exit 2; }
    log "installing Debian packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    # tshark asks whether non-root users may capture; answer no without a prompt.
    echo 'wireshark-common wireshark-common/install-setuid boolean false' | debconf-set-selections
    # Never let package scripts start daemons: v6pod runs its own, inside its namespaces.
    # (Only when no policy is in place already, and only the file created here is removed.)
    if [[ ! -e /usr/sbin/policy-rc.d ]]; then
      printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
      trap 'rm -f /usr/sbin/policy-rc.d' EXIT
    fi
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
fi

# dibbler-client's, isc-dhcp-relay's and pgbouncer's packages enable their init scripts for the next boot, where
# they would run on the host's own interfaces: keep them disabled (v6pod runs them only in its namespaces).
for service in dibbler-client isc-dhcp-relay pgbouncer; do
  if compgen -G "/etc/rc[2-5].d/S*$service" >/dev/null && [[ $EUID -eq 0 ]]; then
    log "disabling $service's boot service (v6pod runs it only in pod namespaces)"
    update-rc.d "$service" disable >/dev/null 2>&1 || true
  fi
done

if ! command -v node >/dev/null || ! node -e 'process.exit(Number(process.versions.node.split(".")[0]) < 20 ? 1 : 0)'; then
  echo "setup: Node.js >= 20 is required (found: $(node --version 2>/dev/null || echo none))" >&2
  exit 2
fi

# npm ci only when the lockfile changed since the last install (its hash is stamped in node_modules).
stamp=node_modules/.v6pod-lock-hash
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [[ ! -f $stamp || "$(cat "$stamp")" != "$want" || ! -f node_modules/cap/build/Release/cap.node || ! -f node_modules/raw-socket/build/Release/raw.node ]]; then
  log "installing npm packages"
  npm ci --no-audit --no-fund --loglevel=error >&2
  for addon in node_modules/cap/build/Release/cap.node node_modules/raw-socket/build/Release/raw.node; do
    [[ -f $addon ]] || { echo "setup: $addon was not built (is it in package.json allowScripts?)" >&2; exit 2; }
  done
  echo "$want" > "$stamp"
fi

# v6pod's own frame I/O addon (native/frame-io: TAP devices, AF_PACKET fanout). Rebuilt when its
# sources change (their hash is stamped next to the binary). node-gyp compiles against the local
# headers (npm's nodedir, else the node install's own include/node), so no header download.
addon=native/frame-io/build/Release/frame_io.node
addon_stamp=native/frame-io/build/.v6pod-src-hash
addon_want=$(cat native/frame-io/binding.gyp native/frame-io/*.c | sha256sum | cut -d' ' -f1)
if [[ ! -f $addon || ! -f $addon_stamp || "$(cat "$addon_stamp")" != "$addon_want" ]]; then
  log "building native/frame-io"
  if [[ "$(npm config get nodedir)" == undefined || -z "$(npm config get nodedir)" ]]; then
    node_prefix=$(dirname "$(dirname "$(readlink -f "$(command -v node)")")")
    if [[ -f $node_prefix/include/node/node_api.h ]]; then export npm_config_nodedir=$node_prefix; fi
  fi
  if ! build_log=$(npm run --silent build:native 2>&1); then
    printf '%s\n' "$build_log" >&2
    echo "setup: building native/frame-io failed (needs make, g++ and the Node headers)" >&2
    exit 2
  fi
  echo "$addon_want" > "$addon_stamp"
fi

# Everything above is in place: stamp it (node_modules exists by now), then the compiled CLI.
if [[ ! -f $SYSTEM_STAMP.$$ ]]; then echo "$SYSTEM_ID" >"$SYSTEM_STAMP.$$"; fi
mv -f "$SYSTEM_STAMP.$$" "$SYSTEM_STAMP"
build_dist
