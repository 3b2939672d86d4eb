/**
 * What the pod's relay is (pod file `relay:`, `v6pod test --relay`, docs/relays.md) and what Kea
 * learns MACs from (`kea.macSources`), for scenarios that state what a relay must do and for
 * failures that say which relay did not do it: a missing route names the relay that installs none.
 */
import { currentPod } from './pod-context.ts';
import type { MacSource, RelayKind } from '../pod/pod-file.ts';

/** The routers' DHCPv6 relay in this run. */
export function relayKind(): RelayKind {
  return currentPod().pod.relay ?? 'v6pod';
}

/** The relay in words, for messages: `v6pod`, `isc-dhcrelay`, `external: CMD`. */
export function relayName(): string {
  const pod = currentPod().pod;
  return pod.relay === 'external' ? `external: ${pod.relayCommand ?? '?'}` : relayKind();
}

/** Kea's mac-sources in this run, in order. */
export function macSources(): readonly MacSource[] {
  return currentPod().pod.kea.macSources ?? ['remote-id'];
}

/** Whether the relay is known to install routes for delegated prefixes (v6pod's does; dhcrelay does not; an external one must, by contract). */
export function relayInstallsRoutes(): boolean {
  return relayKind() !== 'isc-dhcrelay';
}

/** Whether the relay inserts option 37 with the client's MAC (v6pod's does; dhcrelay 4.4 cannot; an external one may). */
export function relayInsertsRemoteId(): boolean | undefined {
  const kind = relayKind();
  return kind === 'v6pod' ? true : kind === 'isc-dhcrelay' ? false : undefined;
}

/** Why a router lacks a route for a delegated prefix, in the relay's terms (docs/relays.md). */
export function missingRouteReason(router: string, prefix: string): string {
  const kind = relayKind();
  if (kind === 'isc-dhcrelay') return `no route for ${prefix} on ${router}: the relay (isc-dhcrelay) installs no routes for delegated prefixes`;
  if (kind === 'external')
    return `no route for ${prefix} on ${router}: the relay (${relayName()}) installed none (docs/relays.md: it must route every delegated prefix via the client's link-local, proto 201, on lan)`;
  return `no route for ${prefix} on ${router}`;
}
