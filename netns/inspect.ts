/**
 * The live state of a run, read back from the kernel and the daemons and set against its plan:
 * every node's namespace, interfaces, IPv6 addresses and routes; every daemon the plan needs
 * (alive by PID and command line); Kea's control socket; and each instance's MAC, SLAAC address
 * (predicted by the plan vs held by the kernel) and default routes (vs the routers' link-locals).
 * One process spawn reads every namespace. The result is the object `v6pod status --json` prints
 * (docs/status.md); anything that falls short of the plan is listed in `problems`.
 */
import { run } from '../harness/os/exec.ts';
import { buildPlan, type Plan } from '../harness/pod/plan.ts';
import { readState, type RunState } from './run-state.ts';
import { v6podNamespaces } from './teardown.ts';
import { observedFromSnapshot, observeInstances, syntheticSnapshots, usable, type ObservedAddress } from './observe.ts';
import type { HostSnapshot } from '../harness/synth/host.ts';
import type { InstanceKind } from '../harness/pod/pod-file.ts';
import { keaCommand } from '../harness/os/control-socket.ts';
import { keaPaths } from '../harness/control/kea-config.ts';
import { relayCommand, relayPaths } from './daemons/relay.ts';
import { relayIsV6pod } from './daemons/router-relays.ts';
import { daemonAlive } from './daemons/process.ts';
import { clientInstances } from './guest-clients.ts';
import { UsageError } from '../harness/os/usage-error.ts';
import { runMode, type RunMode } from './userns.ts';

export const STATUS_SCHEMA_VERSION = 1;

export interface InterfaceStatus {
  name: string;
  /** Kernel operstate: UP, DOWN, LOWERLAYERDOWN, UNKNOWN (lo) … */
  state: string;
  mac: string | null;
  /** The bridge this interface is a port of. */
  master: string | null;
  addresses: ObservedAddress[];
}

export interface RouteStatus {
  destination: string;
  gateway: string | null;
  device: string | null;
  protocol: string | null;
  metric: number | null;
  nexthops: Array<{ gateway: string | null; device: string | null }>;
}

export interface NodeStatus {
  name: string;
  role: Plan['nodes'][number]['role'];
  namespace: string;
  present: boolean;
  interfaces: InterfaceStatus[];
  routes: RouteStatus[];
  ok: boolean;
}

export interface LinkEndStatus {
  node: string;
  interface: string;
  mac: string;
  /** null when the interface is missing. */
  state: string | null;
}

export interface LinkStatus {
  a: LinkEndStatus;
  b: LinkEndStatus;
  ok: boolean;
}

export interface DaemonStatus {
  name: string;
  node: string;
  namespace: string;
  /** null when the run never recorded it. */
  pid: number | null;
  alive: boolean;
  log: string | null;
}

export interface KeaStatus {
  node: string;
  namespace: string;
  address: string;
  socket: string;
  answering: boolean;
  error: string | null;
}

export type SlaacState = 'usable' | 'tentative' | 'dad-failed' | 'missing';

export interface InstanceStatus {
  name: string;
  kind: InstanceKind;
  hypervisor: string;
  port: string;
  mac: string;
  kernelMac: string | null;
  slaac: { predicted: string; state: SlaacState; kernel: string[] };
  linkLocal: { predicted: string; present: boolean };
  defaultRoutes: { expected: string[]; kernel: string[]; missing: string[] };
  ok: boolean;
}

/** A router's DHCPv6 relay: whether its control socket answers, and its counters (harness/relay/counters.ts). */
export interface RelayStatus {
  router: string;
  socket: string;
  answering: boolean;
  counters: Record<string, unknown> | null;
}

export interface RunStatus {
  schemaVersion: typeof STATUS_SCHEMA_VERSION;
  run: string;
  pod: string;
  podFile: string;
  phase: RunState['phase'];
  owner: number | null;
  /** Root's run, or one in the user's own user namespace (docs/rootless.md). */
  mode: RunMode;
  createdAt: string;
  observedAt: string;
  verdict: 'ok' | 'degraded';
  problems: string[];
  nodes: NodeStatus[];
  links: LinkStatus[];
  daemons: DaemonStatus[];
  kea: KeaStatus;
  relays: RelayStatus[];
  instances: InstanceStatus[];
}

/** A run's record and the plan rebuilt from its pod file (what status, exec, capture and graph act on). */
export function planOfRun(runName: string): { state: RunState; plan: Plan } {
  const state = readState(runName);
  if (!state) throw new UsageError(`run '${runName}' has no state (${runName} is not up)`);
  // The pod as it runs now (instances deployed or destroyed since `up`), with each instance's port.
  return { state, plan: buildPlan(state.pod, runName, state.ports) };
}

/** Names a node of the plan, or fails with one line listing them. */
export function planNode(plan: Plan, name: string): Plan['nodes'][number] {
  const node = plan.nodes.find((n) => n.name === name);
  if (!node) throw new UsageError(`no node '${name}' in run '${plan.run}' (nodes: ${plan.nodes.map((n) => n.name).join(', ')})`);
  return node;
}

interface IpLink {
  ifname: string;
  operstate?: string;
  address?: string;
  master?: string;
  addr_info?: Array<{ family: string; local: string; prefixlen: number; scope: string; tentative?: boolean; optimistic?: boolean; dadfailed?: boolean }>;
}
interface IpRoute {
  dst: string;
  gateway?: string;
  dev?: string;
  protocol?: string;
  metric?: number;
  nexthops?: Array<{ gateway?: string; dev?: string }>;
}

const MARK = '@@v6pod-inspect@@';

/** Every namespace's links (with addresses) and IPv6 main-table routes, in one spawn. */
export async function readNamespaces(namespaces: readonly string[]): Promise<Map<string, { links: IpLink[]; routes: IpRoute[] }>> {
  // Each output gets a marker line of its own (`ip -j` ends some outputs without a newline).
  const script = namespaces.map((ns) => `echo '${MARK}'; ip -n '${ns}' -j addr show; echo; echo '${MARK}'; ip -n '${ns}' -j -6 route show; echo`).join('\n');
  const { stdout } = await run(['sh', '-c', script], { allowFailure: true });
  const parts = stdout.split(`${MARK}\n`).slice(1);
  return new Map(namespaces.map((ns, i) => [ns, { links: parseJson<IpLink[]>(parts[2 * i]), routes: parseJson<IpRoute[]>(parts[2 * i + 1]) }]));
}

function parseJson<T>(text: string | undefined): T {
  try {
    return (text?.trim() ? JSON.parse(text) : []) as T;
  } catch {
    return [] as T;
  }
}

function interfaceStatus(l: IpLink): InterfaceStatus {
  return {
    name: l.ifname,
    state: l.operstate ?? 'UNKNOWN',
    mac: l.address ?? null,
    master: l.master ?? null,
    addresses: (l.addr_info ?? [])
      .filter((a) => a.family === 'inet6')
      .map((a) => ({
        address: a.local,
        prefixLength: a.prefixlen,
        scope: a.scope,
        tentative: a.tentative === true,
        optimistic: a.optimistic === true,
        dadFailed: a.dadfailed === true,
      })),
  };
}

function routeStatus(r: IpRoute): RouteStatus {
  return {
    destination: r.dst,
    gateway: r.gateway ?? null,
    device: r.dev ?? null,
    protocol: r.protocol ?? null,
    metric: r.metric ?? null,
    nexthops: (r.nexthops ?? []).map((n) => ({ gateway: n.gateway ?? null, device: n.dev ?? null })),
  };
}

function slaacState(a: ObservedAddress | undefined): SlaacState {
  if (!a) return 'missing';
  if (a.dadFailed) return 'dad-failed';
  return usable(a) ? 'usable' : 'tentative';
}

/** The daemons a pod needs: Kea on its node (with PostgreSQL, in the root namespace, for that backend), radvd and the relay on each router, the synthetic hosts, the guests' clients. */
function expectedDaemons(plan: Plan): Array<{ name: string; node: string; ns: string }> {
  return [
    ...(plan.pod.kea.backend === 'postgresql' ? [{ name: 'postgres', node: plan.pod.kea.name, ns: '' }] : []),
    { name: 'kea-dhcp6', node: plan.pod.kea.name, ns: plan.kea.ns },
    ...plan.routers.flatMap((r) => [
      { name: 'radvd', node: r.name, ns: r.ns },
      { name: 'dhcp6-relay', node: r.name, ns: r.ns },
    ]),
    ...[...new Set(plan.instances.filter((i) => i.kind === 'synthetic').map((i) => i.hypervisor))].map((hv) => ({
      name: 'synth-host',
      node: hv,
      ns: plan.nodes.find((n) => n.name === hv)!.ns,
    })),
    // Each guest's declared DHCPv6 client (the pod file's `client:`).
    ...clientInstances(plan).map((i) => ({ name: i.client, node: i.name, ns: i.ns })),
  ];
}

export async function inspectRun(runName: string): Promise<RunStatus> {
  const { state, plan } = planOfRun(runName);
  const problems: string[] = [];
  if (state.phase !== 'ready') problems.push(`run is in phase '${state.phase}', not ready`);
  for (const [name, what] of Object.entries(state.pending))
    problems.push(
      `instance ${name}: ${what === 'deploying' ? 'a deploy' : 'a destroy'} was interrupted (run 'v6pod vm ${what === 'deploying' ? 'deploy' : 'destroy'} ${name}' again)`,
    );

  const present = new Set(v6podNamespaces().get(runName) ?? []);
  const socket = keaPaths(runName).socket;
  const [seen, observed, synthetic, keaAnswer] = await Promise.all([
    readNamespaces(plan.nodes.filter((n) => present.has(n.ns)).map((n) => n.ns)),
    observeInstances(plan.instances.filter((i) => i.kind === 'namespace' && present.has(i.ns)).map((i) => i.ns)),
    // A dead host daemon is reported with the daemons; its instances then show as missing.
    syntheticSnapshots(runName, plan.instances).catch(() => new Map<string, HostSnapshot>()),
    keaCommand(socket, 'list-commands', undefined, 1000).then(
      (a) => (a.result === 0 ? null : `answered result ${a.result}${a.text ? `: ${a.text}` : ''}`),
      (err: Error) => err.message,
    ),
  ]);

  const ifaceOf = (node: string, ifname: string) => {
    const ns = plan.nodes.find((n) => n.name === node)!.ns;
    return seen.get(ns)?.links.find((l) => l.ifname === ifname);
  };
  const links: LinkStatus[] = plan.links.map((l) => {
    const end = (e: typeof l.a): LinkEndStatus => ({ node: e.node, interface: e.ifname, mac: e.mac, state: ifaceOf(e.node, e.ifname)?.operstate ?? null });
    const a = end(l.a);
    const b = end(l.b);
    const ok = a.state === 'UP' && b.state === 'UP';
    if (!ok) problems.push(`link ${a.node}:${a.interface} (${a.state ?? 'missing'}) - ${b.node}:${b.interface} (${b.state ?? 'missing'}) is not up`);
    return { a, b, ok };
  });

  const nodes: NodeStatus[] = plan.nodes.map((n) => {
    const kernel = seen.get(n.ns);
    if (!present.has(n.ns)) problems.push(`node ${n.name}: namespace ${n.ns} is missing`);
    const ends = links.flatMap((l) => [l.a, l.b]).filter((e) => e.node === n.name);
    return {
      name: n.name,
      role: n.role,
      namespace: n.ns,
      present: present.has(n.ns),
      interfaces: (kernel?.links ?? []).map(interfaceStatus),
      routes: (kernel?.routes ?? []).map(routeStatus),
      ok: present.has(n.ns) && ends.every((e) => e.state === 'UP'),
    };
  });

  const daemons: DaemonStatus[] = expectedDaemons(plan).map((want) => {
    const d = state.daemons.find((x) => x.name === want.name && x.node === want.node);
    const alive = d !== undefined && daemonAlive(d);
    if (!alive) problems.push(`daemon ${want.name} on ${want.node} ${d ? `(pid ${d.pid}) is dead; log ${d.log}` : 'was never started'}`);
    return { name: want.name, node: want.node, namespace: want.ns, pid: d?.pid ?? null, alive, log: d?.log ?? null };
  });

  if (keaAnswer !== null) problems.push(`Kea's control socket ${socket} does not answer: ${keaAnswer}`);
  const kea: KeaStatus = {
    node: plan.pod.kea.name,
    namespace: plan.kea.ns,
    address: plan.kea.address,
    socket,
    answering: keaAnswer === null,
    error: keaAnswer,
  };

  const relays: RelayStatus[] = await Promise.all(
    // Only v6pod's relay has a control socket; another relay (docs/relays.md) is a daemon like radvd.
    (relayIsV6pod(plan) ? plan.routers : []).map(async (r) => {
      const socket = relayPaths(runName, r.name).socket;
      const answer = await relayCommand(socket, 'counters', undefined, 1000).catch(() => undefined);
      const answering = answer?.result === 0;
      if (!answering) problems.push(`the DHCPv6 relay on ${r.name} does not answer on ${socket}`);
      return { router: r.name, socket, answering, counters: answering ? (answer.arguments ?? null) : null };
    }),
  );

  const routerLinkLocals = plan.routers.map((r) => r.linkLocal);
  const instances: InstanceStatus[] = plan.instances.map((i) => {
    const snapshot = synthetic.get(i.name);
    const o = i.kind === 'namespace' ? observed.get(i.ns) : snapshot && observedFromSnapshot(snapshot);
    const addresses = o?.addresses ?? [];
    const kernelMac = i.kind === 'namespace' ? (ifaceOf(i.name, 'eth0')?.address ?? null) : (snapshot?.mac ?? null);
    const state = slaacState(addresses.find((a) => a.address === i.slaac));
    const kernelRoutes = o?.defaultRoutes ?? [];
    const missing = routerLinkLocals.filter((ll) => !kernelRoutes.includes(ll));
    const lacking = [
      ...(kernelMac === i.mac ? [] : [`MAC ${kernelMac ?? 'none'} instead of ${i.mac}`]),
      ...(state === 'usable' ? [] : [`SLAAC address ${i.slaac} is ${state}`]),
      ...missing.map((ll) => `no default route via ${ll}`),
    ];
    if (lacking.length) problems.push(`instance ${i.name}: ${lacking.join(', ')}`);
    return {
      name: i.name,
      kind: i.kind,
      hypervisor: i.hypervisor,
      port: i.port,
      mac: i.mac,
      kernelMac,
      slaac: { predicted: i.slaac, state, kernel: addresses.filter((a) => a.scope === 'global').map((a) => a.address) },
      linkLocal: { predicted: i.linkLocal, present: addresses.some((a) => a.address === i.linkLocal) },
      defaultRoutes: { expected: routerLinkLocals, kernel: kernelRoutes, missing },
      ok: lacking.length === 0,
    };
  });

  return {
    schemaVersion: STATUS_SCHEMA_VERSION,
    run: runName,
    pod: plan.pod.name,
    podFile: state.podFile,
    phase: state.phase,
    owner: state.owner,
    mode: runMode(),
    createdAt: state.createdAt,
    observedAt: new Date().toISOString(),
    verdict: problems.length ? 'degraded' : 'ok',
    problems,
    nodes,
    links,
    daemons,
    kea,
    relays,
    instances,
  };
}
