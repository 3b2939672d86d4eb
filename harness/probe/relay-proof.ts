/**
 * The relays' own defence, proved in one window: hostile DHCPv6 datagrams from an instance are put
 * on the pod L2 past its security group (on its hypervisor's uplink, as if the group had let them
 * through), then the instance's own legitimate exchange must be relayed by every router to Kea
 * (the positive control). What Kea received in that window, and how much each relay's drop counter
 * grew, are the evidence the scenario judges.
 */
import { currentPod } from './pod-context.ts';
import { instance, routers, uplinkOf } from './nodes.ts';
import { send } from './instance.ts';
import { watching } from './watch.ts';
import { relayedOf, remoteIdOf } from './frame-match.ts';
import { dhcpClient, relayCounters } from './dhcp.ts';
import type { CapturedFrame } from './agent-client.ts';
import { dhcpv6Datagram } from '../packet/builders.ts';

export interface RelayWindow {
  /** Every DHCPv6 frame Kea received in the window. */
  atKea: CapturedFrame[];
  /** How much each router's drop counter for the reason grew, in the pod's router order. */
  dropsCounted: number[];
}

/**
 * Sends `hostile` (DHCPv6 message bytes, forged or malformed) as `from`'s client datagrams to
 * ff02::1:2, past its security group, then runs its legitimate acquire and release; returns what
 * Kea saw once every router had relayed the legitimate Solicit (option 37 = its MAC), and the growth
 * of each relay's drop counter for `reason`.
 */
export async function relayWindow(o: { from: string; hostile: Buffer[]; reason: string }): Promise<RelayWindow> {
  const vm = instance(o.from);
  const all = routers();
  const dropped = async () => Promise.all(all.map(async (r) => (await relayCounters(r)).dropped[o.reason] ?? 0));
  const before = await dropped();
  const atKea = await watching('kea', 'dhcpv6', async (kea) => {
    await send(uplinkOf(vm), ...o.hostile.map((payload) => dhcpv6Datagram({ mac: vm.mac, src: vm.linkLocal, payload })));
    await dhcpClient(vm, { steps: [{ op: 'acquire' }, { op: 'release' }] });
    const relayedSolicit = (f: CapturedFrame) => relayedOf(f, 'solicit') !== undefined && remoteIdOf(f) === vm.mac;
    return kea.waitFor(
      (fs) => (fs.filter(relayedSolicit).length >= all.length ? fs : undefined),
      3000,
      `${vm.name}'s legitimate Solicit relayed by every router (positive control)`,
    );
  });
  const after = await dropped();
  return { atKea, dropsCounted: after.map((n, i) => n - before[i]!) };
}

/** One per router of the pod: what `dropsCounted` is when each relay dropped `n`. */
export function eachRouter<T>(n: T): T[] {
  return currentPod().routers.map(() => n);
}
