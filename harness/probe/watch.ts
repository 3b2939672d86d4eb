/**
 * Watching traffic somewhere in the pod: a capture on an instance's eth0, on Kea's service
 * interface, or on any port (`NODE:IFACE`), of one kind of traffic, kept as evidence under the
 * run's artifacts and named after the scenario (the report attaches a scenario's pcaps by its ID).
 */
import { artifactPath, currentScenario } from './pod-context.ts';
import { Capture, ProbeAgent } from './agent-client.ts';
import { instance, kea, resolvePort, type Port } from './nodes.ts';
import type { InstancePlan } from '../pod/plan.ts';

/** What a watch keeps (libpcap filters, so the agent never sends the rest). */
const TRAFFIC = {
  dhcpv6: 'udp port 546 or udp port 547',
  icmpv6: 'icmp6',
  ipv6: 'ip6',
  all: '',
} as const;
export type Traffic = keyof typeof TRAFFIC;

let captures = 0;

/** A pcap path in the artifacts named after the scenario being run. */
export function evidence(label: string): string {
  return artifactPath(`${currentScenario() ?? 'scenario'}-${label.replace(/[^a-z0-9.-]+/gi, '-')}-${++captures}.pcap`);
}

/** Where: an instance (its eth0), 'kea' (its service interface) or `NODE:IFACE`. */
function place(where: string | InstancePlan): { ns: string; iface: string; label: string } {
  if (where === 'kea') return { ns: kea().ns, iface: kea().iface, label: 'kea' };
  if (typeof where === 'string' && where.includes(':')) {
    const p = resolvePort(where as Port);
    return { ns: p.ns, iface: p.iface, label: `${p.node}-${p.iface}` };
  }
  const i = instance(where);
  return { ns: i.ns, iface: 'eth0', label: i.name };
}

/** Starts capturing `traffic` at `where`; stop() the capture when done (in a finally). */
export async function watch(where: string | InstancePlan, traffic: Traffic): Promise<Capture> {
  const at = place(where);
  return (await ProbeAgent.in(at.ns)).capture(at.iface, TRAFFIC[traffic], evidence(`${at.label}-${traffic}`));
}

/** Runs `fn` with a capture of `traffic` at `where`, stopping it afterwards whatever happens. */
export async function watching<T>(where: string | InstancePlan, traffic: Traffic, fn: (capture: Capture) => Promise<T>): Promise<T> {
  const capture = await watch(where, traffic);
  try {
    return await fn(capture);
  } finally {
    await capture.stop();
  }
}
