/**
 * The routers' DHCPv6 relay, by the pod's choice (`relay:`, docs/relays.md): v6pod's own
 * (harness/relay/, netns/daemons/relay.ts), Debian's ISC dhcrelay -6 (dhcrelay.ts), or the
 * user's command under the contract (external-relay.ts). Each is recorded as the run's
 * `dhcp6-relay` daemon on its router.
 */
import type { Plan, RouterPlan } from '../../harness/pod/plan.ts';
import type { RelayKind } from '../../harness/pod/pod-file.ts';
import type { DaemonRecord } from '../run-state.ts';
import { startRelay } from './relay.ts';
import { startDhcrelay } from './dhcrelay.ts';
import { startExternalRelay } from './external-relay.ts';

/** The relay a pod runs (a run state from before the field: v6pod's). */
export function relayKind(plan: Plan): RelayKind {
  return plan.pod.relay ?? 'v6pod';
}

/** Whether the pod's relay is v6pod's own: it alone has a control socket, counters and a route table to ask. */
export function relayIsV6pod(plan: Plan): boolean {
  return relayKind(plan) === 'v6pod';
}

/** Starts the pod's relay on one router; resolves once it is ready. */
export function startRouterRelay(plan: Plan, router: RouterPlan): Promise<DaemonRecord> {
  switch (relayKind(plan)) {
    case 'isc-dhcrelay':
      return startDhcrelay(plan, router);
    case 'external':
      return startExternalRelay(plan, router, plan.pod.relayCommand ?? '');
    default:
      return startRelay(plan, router);
  }
}
