/**
 * What each instance holds now: its IPv6 addresses (with DAD state) and its default routes. For a
 * namespace instance that is its kernel's eth0 — one process spawn reads every namespace asked for,
 * so polling many instances is cheap; for a synthetic one it is its emulated stack, read from the
 * hypervisor's host daemon (one control-socket request per hypervisor).
 */
import { run } from '../harness/os/exec.ts';
import type { InstancePlan } from '../harness/pod/plan.ts';
import { synthCommand, synthPaths } from './daemons/synth.ts';
import type { HostSnapshot } from '../harness/synth/host.ts';

export interface ObservedAddress {
  address: string;
  prefixLength: number;
  scope: string;
  tentative: boolean;
  optimistic: boolean;
  dadFailed: boolean;
}

export interface ObservedInstance {
  addresses: ObservedAddress[];
  /** Gateways of the default routes (RA-learned routes: one per router). */
  defaultRoutes: string[];
}

interface IpAddrInfo {
  local: string;
  prefixlen: number;
  scope: string;
  tentative?: boolean;
  optimistic?: boolean;
  dadfailed?: boolean;
}
interface IpRoute {
  gateway?: string;
  nexthops?: Array<{ gateway?: string }>;
}

const MARK = '@@v6pod@@';

export async function observeInstances(namespaces: readonly string[], iface = 'eth0'): Promise<Map<string, ObservedInstance>> {
  // `ip -j` ends some outputs with a newline and some without: each part gets a marker line of its own.
  const script = namespaces
    .map(
      (ns) =>
        `echo '${MARK}${ns}'; echo '${MARK}addr'; ip -n '${ns}' -j -6 addr show dev ${iface}; echo; echo '${MARK}route'; ip -n '${ns}' -j -6 route show default; echo`,
    )
    .join('\n');
  const { stdout } = await run(['sh', '-c', script], { allowFailure: true });
  const out = new Map<string, ObservedInstance>();
  const parts = stdout.split(MARK).slice(1);
  for (let i = 0; i + 2 < parts.length; i += 3) {
    const ns = parts[i]!.trim();
    const addrJson = parts[i + 1]!.replace(/^addr\n/, '');
    const routeJson = parts[i + 2]!.replace(/^route\n/, '');
    const links = safeJson<Array<{ addr_info?: IpAddrInfo[] }>>(addrJson);
    const routes = safeJson<IpRoute[]>(routeJson);
    out.set(ns, {
      addresses: links
        .flatMap((l) => l.addr_info ?? [])
        .map((a) => ({
          address: a.local,
          prefixLength: a.prefixlen,
          scope: a.scope,
          tentative: a.tentative === true,
          optimistic: a.optimistic === true,
          dadFailed: a.dadfailed === true,
        })),
      defaultRoutes: routes.flatMap((r) => (r.gateway ? [r.gateway] : (r.nexthops ?? []).flatMap((n) => (n.gateway ? [n.gateway] : [])))),
    });
  }
  return out;
}

function safeJson<T>(text: string | undefined): T {
  try {
    return (text?.trim() ? JSON.parse(text) : []) as T;
  } catch {
    return [] as T;
  }
}

/** Usable for traffic: DAD done, or optimistic (RFC 4429). */
export function usable(a: ObservedAddress): boolean {
  return !a.dadFailed && (!a.tentative || a.optimistic);
}

/** A synthetic instance's stack in the kernel's terms (an optimistic address is also tentative, as `ip` shows it). */
export function observedFromSnapshot(s: HostSnapshot): ObservedInstance {
  const all = [{ ...s.linkLocal, prefixLength: 64 }, ...s.addresses.filter((a) => a.address !== s.linkLocal.address)];
  return {
    addresses: all.map((a) => ({
      address: a.address,
      prefixLength: a.prefixLength,
      scope: a.address.startsWith('fe80:') ? 'link' : 'global',
      tentative: a.state === 'tentative' || a.state === 'optimistic',
      optimistic: a.state === 'optimistic',
      dadFailed: a.state === 'duplicate',
    })),
    defaultRoutes: s.defaultRouters.map((r) => r.address),
  };
}

/** The synthetic instances' snapshots, by name, from their hypervisors' host daemons. */
export async function syntheticSnapshots(run: string, instances: readonly InstancePlan[]): Promise<Map<string, HostSnapshot>> {
  const byHv = new Map<string, string[]>();
  for (const i of instances) {
    if (i.kind !== 'synthetic') continue;
    const names = byHv.get(i.hypervisor) ?? [];
    names.push(i.name);
    byHv.set(i.hypervisor, names);
  }
  // Only the instances asked for: at 5,000 a poll of every snapshot costs the hosts and this process most of a core.
  const answers = await Promise.all([...byHv].map(([hv, names]) => synthCommand(synthPaths(run, hv).socket, 'state', { names })));
  const out = new Map<string, HostSnapshot>();
  answers.forEach((a, k) => {
    if (a.result !== 0) throw new Error(`the synthetic host on ${[...byHv.keys()][k]} did not answer 'state': ${a.text ?? `result ${a.result}`}`);
    for (const snap of (a.arguments as { instances: HostSnapshot[] }).instances) out.set(snap.name, snap);
  });
  return out;
}

/** Every instance's addresses and default routes, by instance name, whatever its kind. */
export async function observeAll(run: string, instances: readonly InstancePlan[]): Promise<Map<string, ObservedInstance>> {
  const namespaced = instances.filter((i) => i.kind === 'namespace');
  const [kernel, synthetic] = await Promise.all([observeInstances(namespaced.map((i) => i.ns)), syntheticSnapshots(run, instances)]);
  const out = new Map<string, ObservedInstance>();
  for (const i of instances) {
    const seen = i.kind === 'namespace' ? kernel.get(i.ns) : synthetic.has(i.name) ? observedFromSnapshot(synthetic.get(i.name)!) : undefined;
    if (seen) out.set(i.name, seen);
  }
  return out;
}
