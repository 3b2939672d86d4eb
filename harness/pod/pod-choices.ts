/**
 * What the command line names before it reads a pod file: the default pod file and the choices
 * some fields take. A module of its own, without the parser and schema (yaml, ajv) of
 * pod-file.ts, which re-exports all of it: `v6pod --help` lists the choices without loading them.
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
