/**
 * Scenario helpers for prefix delegation: the codec client and wide-dhcpv6 dhcp6c as actors in an
 * instance, what the control plane reserved, what each router routes, and the relays' counters.
 */
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { currentPod } from './pod-context.ts';
import { ipJson } from '../os/exec.ts';
import { waitUntil, WaitTimeout } from '../os/wait.ts';
import { missingRouteReason, relayKind, relayName } from './relay-choice.ts';
import { readState } from '../../netns/run-state.ts';
import { buildPlan, type InstancePlan, type RouterPlan } from '../pod/plan.ts';
import { relayCommand, relayPaths } from '../../netns/daemons/relay.ts';
import { RELAY_DEFAULTS } from '../relay/config.ts';
import { PodControl } from '../control/pod-control.ts';
import type { CounterSnapshot } from '../relay/counters.ts';
import type { DhcpClientResult, DhcpClientScript, DhcpStep } from './dhcp-client.ts';
import { ProbeAgent } from './agent-client.ts';

/** The routes the relays install carry this protocol number. */
const RELAY_ROUTE_PROTO = String(RELAY_DEFAULTS.routeProtocol);

export interface ClientOptions {
  iaPds?: number;
  /** DUID-LL link-layer address the client claims (default: its own MAC). */
  duid?: string;
  steps?: DhcpStep[];
  lifetimeHint?: { preferred: number; valid: number };
  /** How long each step waits for its answer (default 3 s). */
  answerWithinMs?: number;
}

/** Runs the codec DHCPv6 client in the instance, through its namespace's probe agent (default: one IA_PD, acquire). */
export async function dhcpClient(inst: InstancePlan, opts: ClientOptions = {}): Promise<DhcpClientResult> {
  const script: DhcpClientScript = {
    iface: 'eth0',
    linkLocal: inst.linkLocal,
    duid: opts.duid ?? inst.mac,
    iaids: Array.from({ length: opts.iaPds ?? 1 }, (_, i) => i + 1),
    steps: opts.steps ?? [{ op: 'acquire' }],
    lifetimeHint: opts.lifetimeHint,
    timeoutMs: opts.answerWithinMs,
  };
  // The namespace's probe agent runs it: no process to start per exchange.
  return (await ProbeAgent.in(inst.ns)).dhcp(script);
}

/** The prefixes the control plane reserved for the instance's MAC (Kea's store). */
export async function reservedPrefixes(inst: InstancePlan): Promise<string[]> {
  const state = readState(currentPod().run)!;
  const control = await PodControl.open(buildPlan(state.pod, state.run, state.ports), state.pg);
  try {
    return (await control.reservationOf(inst.mac))?.prefixes ?? [];
  } finally {
    await control.close();
  }
}

export interface RelayRoute {
  prefix: string;
  via?: string;
  expires?: number;
}

/** The delegated-prefix routes a router holds (the relay's, on its LAN). */
export async function relayRoutes(router: RouterPlan): Promise<RelayRoute[]> {
  const rows = await ipJson<Array<{ dst: string; gateway?: string; expires?: number }>>(router.ns, [
    '-6',
    'route',
    'show',
    'proto',
    RELAY_ROUTE_PROTO,
    'dev',
    'lan',
  ]);
  return rows.map((r) => ({ prefix: r.dst, via: r.gateway, expires: r.expires }));
}

/** The prefixes a client's step was delegated (default: its first step), sorted. */
export function delegatedPrefixes(result: DhcpClientResult, step = 0): string[] {
  const s = result.steps[step];
  if (!s) throw new Error(`the client ran ${result.steps.length} steps, not ${step + 1}`);
  return s.iaPds.flatMap((ia) => ia.prefixes.map((p) => p.prefix)).sort();
}

/** Asserts the router routes `prefix` (the relay's route on its LAN), via the given next hop. */
export async function expectRoute(r: RouterPlan, prefix: string, opts: { via: string }): Promise<void> {
  const held = await relayRoutes(r);
  if (!held.some((x) => x.prefix === prefix)) expect.fail(missingRouteReason(r.name, prefix));
  expect(
    held.filter((x) => x.prefix === prefix).map((x) => x.via),
    `${r.name} routes ${prefix}: expected exactly one route via ${opts.via}, saw ${JSON.stringify(held.filter((x) => x.prefix === prefix))}`,
  ).to.deep.equal([opts.via]);
}

/** Routes any router holds via `via` (a client's link-local). */
export async function routesVia(via: string): Promise<Array<RelayRoute & { router: string }>> {
  const all = await Promise.all(
    currentPod().routers.map(async (r) => (await relayRoutes(r)).filter((x) => x.via === via).map((x) => ({ ...x, router: r.name }))),
  );
  return all.flat();
}

/**
 * Waits until every router holds exactly one route for each prefix, via `via`. On the deadline a
 * prefix a router does not route at all is named with the relay that should have routed it
 * (relay-choice.ts).
 */
export async function waitRoutesOnAllRouters(prefixes: readonly string[], via: string, timeoutMs = 5000): Promise<true> {
  let unrouted: { router: string; prefix: string } | undefined;
  try {
    return await waitUntil(
      async () => {
        unrouted = undefined;
        for (const r of currentPod().routers) {
          const held = await relayRoutes(r);
          const missing = prefixes.find((p) => !held.some((x) => x.prefix === p));
          if (missing) unrouted = { router: r.name, prefix: missing };
          if (!prefixes.every((p) => held.filter((x) => x.prefix === p && x.via === via).length === 1)) return false;
        }
        return true;
      },
      { timeoutMs, what: `every router to route ${prefixes.join(', ')} via ${via}` },
    );
  } catch (err) {
    if (err instanceof WaitTimeout && unrouted) throw new WaitTimeout(`${missingRouteReason(unrouted.router, unrouted.prefix)} (${err.message})`);
    throw err;
  }
}

/** Waits until no router holds a route for any of the prefixes. */
export function waitNoRoutes(prefixes: readonly string[], timeoutMs = 5000): Promise<true> {
  return waitUntil(
    async () => {
      for (const r of currentPod().routers) if ((await relayRoutes(r)).some((x) => prefixes.includes(x.prefix))) return false;
      return true;
    },
    { timeoutMs, what: `no router to route ${prefixes.join(', ')}` },
  );
}

export async function relayCounters(router: RouterPlan): Promise<CounterSnapshot> {
  // Only v6pod's relay counts what it drops; another relay's drops are not observable this way (docs/relays.md).
  if (relayKind() !== 'v6pod') expect.fail(`the relay (${relayName()}) on ${router.name} keeps no drop counters v6pod can read: this check needs relay: v6pod`);
  const answer = await relayCommand(relayPaths(currentPod().run, router.name).socket, 'counters');
  return answer.arguments as unknown as CounterSnapshot;
}

/** wide-dhcpv6 dhcp6c with the seed's configuration in namespace `ns`, its DUID folder private to this actor. */
export function startDhcp6c(ns: string, dir: string): { pid: number; stop(): Promise<void> } {
  mkdirSync(`${dir}/dhcpv6`, { recursive: true });
  // The seed's dhcp6c.conf, as CloudStack documents it for instances.
  writeFileSync(
    `${dir}/dhcp6c.conf`,
    'interface eth0 {\n  send ia-pd 1;\n  send ia-na 0;\n  request domain-name-servers;\n  request domain-name;\n};\nid-assoc pd 1 { };\nid-assoc na 0 { };\n',
  );
  // dhcp6c keeps its DUID under /var/lib/dhcpv6: a bind mount inside ip netns exec's private mount namespace.
  const child = spawn(
    'ip',
    ['netns', 'exec', ns, 'sh', '-c', `mount --bind '${dir}/dhcpv6' /var/lib/dhcpv6 && exec dhcp6c -f -c '${dir}/dhcp6c.conf' -p '${dir}/dhcp6c.pid' eth0`],
    {
      detached: true,
      stdio: 'ignore',
    },
  );
  child.unref();
  const pid = child.pid!;
  // Ours while it runs with this actor's config file (a recycled PID is never signalled).
  const ours = () => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(`${dir}/dhcp6c.conf`);
    } catch {
      return false;
    }
  };
  return {
    pid,
    async stop() {
      // SIGTERM makes dhcp6c send a Release before it exits.
      if (ours()) process.kill(pid, 'SIGTERM');
      await waitUntil(() => !ours(), { timeoutMs: 10_000, what: `dhcp6c (pid ${pid}) to release and exit` });
    },
  };
}
