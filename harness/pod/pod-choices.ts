/**
 * What the command line and the pod's daemons name without reading a pod file: the default pod
 * file, the choices some fields take and the name budget. A module of its own, without the parser
 * (yaml) and shape check of pod-file.ts, which re-exports all of it: `v6pod --help` lists the
 * choices without loading them.
 */
import { fileURLToPath } from 'node:url';

/** The seed's pod (two routers, two hypervisors, four instances): what `up`, `graph` and `test` use when no file is named. */
export const DEFAULT_POD_FILE = fileURLToPath(new URL('../../fixtures/pods/default.yaml', import.meta.url));
/** The routers' DHCPv6 relay: v6pod's own (harness/relay/), Debian's ISC dhcrelay -6, or the user's command (docs/relays.md). */
export type RelayKind = 'v6pod' | 'isc-dhcrelay' | 'external';
export const RELAY_KINDS: readonly RelayKind[] = ['v6pod', 'isc-dhcrelay', 'external'];
/** Where Kea learns a client's MAC (Kea's `mac-sources`, tried in order). */
export type MacSource = 'remote-id' | 'client-link-addr-option' | 'ipv6-link-local' | 'duid';
export const MAC_SOURCES: readonly MacSource[] = ['remote-id', 'client-link-addr-option', 'ipv6-link-local', 'duid'];
/** The guest DHCPv6 clients that are real Debian 12 programs (netns/guest-clients.ts). */
export const REAL_CLIENTS = ['dhcp6c', 'dhcpcd', 'dhclient', 'networkd', 'dibbler'] as const;
export type RealClient = (typeof REAL_CLIENTS)[number];

/**
 * Name budget: kernel interface names hold 15 characters (IFNAMSIZ 16 with the NUL). Objects in the
 * root namespace are named <run prefix, 4><node name><suffix, 3> (e.g. "v6k2" + "hv1" + "-p0"), so a
 * node name gets 8. The pod name seeds namespace names and the run prefix, and gets the same limit.
 */
export const IFNAME_MAX = 15;
export const RUN_PREFIX_BUDGET = 4;
export const SUFFIX_BUDGET = 3;
export const NAME_MAX = IFNAME_MAX - RUN_PREFIX_BUDGET - SUFFIX_BUDGET;
