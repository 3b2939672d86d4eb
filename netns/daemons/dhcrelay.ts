/**
 * Debian's ISC DHCP relay (`isc-dhcp-relay` 4.4, /usr/sbin/dhcrelay) as a router's DHCPv6 relay
 * (pod file `relay: isc-dhcrelay`, docs/relays.md): `dhcrelay -6 -d` in the router's namespace,
 * in the foreground, clients on the LAN (lower), Kea through the service link (upper), its PID
 * file and log in the run directory. It inserts no option 37 and installs no routes: what it
 * does and does not do is measured in docs/relays.md.
 */
import type { Plan, RouterPlan } from '../../harness/pod/plan.ts';
import type { DaemonRecord } from '../run-state.ts';
import { runDir } from '../../harness/pod/names.ts';
import { startDaemon } from './process.ts';
import { waitRelayListening } from './relay-ready.ts';

export const DHCRELAY = '/usr/sbin/dhcrelay';
/** The daemon's name in the run's records, whichever relay runs: the router's DHCPv6 relay. */
export const RELAY_DAEMON = 'dhcp6-relay';

export function dhcrelayPaths(run: string, router: string) {
  const dir = runDir(run);
  return { pid: `${dir}/dhcrelay-${router}.pid`, log: `${dir}/dhcrelay-${router}.log` };
}

/** dhcrelay's command line for the router: LAN `lan` downstream, Kea via `svc` upstream. */
export function dhcrelayArgv(plan: Plan, router: RouterPlan): string[] {
  const p = dhcrelayPaths(plan.run, router.name);
  return [DHCRELAY, '-6', '-d', '-pf', p.pid, '-l', 'lan', '-u', `${plan.kea.address}%svc`];
}

/** Starts dhcrelay in the router's namespace; resolves once it listens on UDP 547. */
export async function startDhcrelay(plan: Plan, router: RouterPlan, readyTimeoutMs = 15_000): Promise<DaemonRecord> {
  const p = dhcrelayPaths(plan.run, router.name);
  const argv = dhcrelayArgv(plan, router);
  // dhcrelay cuts its `-u ADDR%IFACE` argument in place (the '%' becomes a NUL), so its command line
  // never reads as started: it is known by PID and start time (launch), as a wrapped daemon is.
  const record = await startDaemon({ name: RELAY_DAEMON, node: router.name, ns: router.ns, argv, launch: argv, log: p.log });
  return waitRelayListening(record, `dhcrelay on ${router.name}`, readyTimeoutMs);
}
