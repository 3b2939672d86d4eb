/**
 * `up`: a pod file becomes a running pod. Executes the plan's phases (plan.ts), starts Kea and
 * radvd, brings the instances up, and returns when the pod is ready: Kea's control socket answers
 * and every instance holds its predicted SLAAC address (a guest that forms stable-privacy or
 * temporary addresses: a usable link-local and an address in the pod /64) and one default route via
 * each router's link-local. Any failure removes everything this run created before the error is reported.
 */
import { createHash } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Pod } from '../harness/pod/pod-file.ts';
import { run } from '../harness/os/exec.ts';
import { assignPorts, buildPlan, nsShellScript, type InstancePlan, type Plan } from '../harness/pod/plan.ts';
import { namespaceName, runDir } from '../harness/pod/names.ts';
import { copyRunLogs, readState, writeState, type DaemonRecord, type RunState } from './run-state.ts';
import { teardownRun, v6podNamespaces } from './teardown.ts';
import { observeAll, usable, type ObservedInstance } from './observe.ts';
import { Prefix } from '../harness/addr/prefix.ts';
import { waitSwitchesForwarding } from './switches.ts';
import { startKea } from './daemons/kea.ts';
import { keaCommand } from '../harness/os/control-socket.ts';
import { keaPaths } from '../harness/control/kea-config.ts';
import { postgresDaemonRecord, startPostgres } from './daemons/postgres.ts';
import { connectPostgres } from '../harness/control/kea-database.ts';
import { keaHostsDatabase } from '../harness/control/pg-store.ts';
import { PodControl } from '../harness/control/pod-control.ts';
import { applyAll, driverFor, instanceModels } from '../harness/sg/pod-groups.ts';
import { ConfigStore } from '../harness/control/config-store.ts';
import type { Reservation } from '../harness/control/reservation-store.ts';
import { startRadvd } from './daemons/radvd.ts';
import { startRouterRelay } from './daemons/router-relays.ts';
import { startSynthHost, synthInstance } from './daemons/synth.ts';
import { startGuestClients } from './guest-clients.ts';
import { SOL_MAX_DELAY_MS } from '../harness/synth/pd-client.ts';
import { assertAlive, daemonAlive } from './daemons/process.ts';
import { waitUntil } from '../harness/os/wait.ts';
import { UsageError } from '../harness/os/usage-error.ts';

export interface UpOptions {
  podFile: string;
  /** Owner PID for one-shot runs (v6pod test); null leaves the pod up for `down`. */
  owner: number | null;
  progress?: (msg: string) => void;
  readyTimeoutMs?: number;
  /** false: no DHCPv6 relay on the routers (for tests that play the relay themselves). */
  relays?: boolean;
  /** false: no security groups on the hypervisors (for tests of the relay's own defences from an instance). */
  securityGroups?: boolean;
}

export function podHash(pod: Pod): string {
  return createHash('sha256').update(JSON.stringify(pod)).digest('hex').slice(0, 16);
}

async function inNamespaces(scripts: Record<string, string>): Promise<void> {
  await Promise.all(
    Object.entries(scripts)
      .filter(([, s]) => s.trim())
      .map(([ns, script]) => run(['ip', 'netns', 'exec', ns, 'sh', '-es'], { input: script })),
  );
}

async function startDaemons(plan: Plan, state: RunState): Promise<void> {
  const started: DaemonRecord[] = [];
  const record = (d: DaemonRecord) => {
    started.push(d);
    state.daemons = [...state.daemons.filter((x) => !(x.name === d.name && x.node === d.node)), d];
    writeState(state);
    return d;
  };
  const missing = (name: string, node: string) => !state.daemons.some((d) => d.name === name && d.node === node && daemonAlive(d));
  const db = plan.pod.kea.database;
  if (plan.pod.kea.backend === 'postgresql' && db && !state.pg) {
    // The user's server: v6pod checks it answers and holds Kea's schema, and never stops it.
    state.pg = await connectPostgres({ host: db.host, port: db.port, user: db.user, database: db.name, password: db.password });
    writeState(state);
  } else if (plan.pod.kea.backend === 'postgresql' && !db && missing('postgres', plan.pod.kea.name)) {
    // A private cluster in the run directory, unix socket only; Kea reads reservations from it on every packet.
    const pg = await startPostgres(`${runDir(plan.run)}/postgres`);
    state.pg = pg.target;
    record(postgresDaemonRecord(pg, plan.pod.kea.name));
  }
  const keaOptions = state.pg ? { hostsDatabase: keaHostsDatabase(state.pg) } : {};
  const kea = missing('kea-dhcp6', plan.pod.kea.name) ? record(await startKea(plan, [], keaOptions)) : undefined;
  for (const r of plan.routers) if (missing('radvd', r.name)) record(await startRadvd(plan, r));
  const socket = keaPaths(plan.run).socket;
  await waitUntil(
    async () => {
      started.forEach(assertAlive);
      return (await keaCommand(socket, 'list-commands').catch(() => undefined))?.result === 0;
    },
    { timeoutMs: 10_000, what: `Kea's control socket ${socket} to answer${kea ? ` (log ${kea.log})` : ''}` },
  );
}

/** The routers' DHCPv6 relays, after Kea: each reconciles its routes against Kea's leases as it starts. */
async function startRelays(plan: Plan, state: RunState): Promise<void> {
  const missing = plan.routers.filter((r) => !state.daemons.some((d) => d.name === 'dhcp6-relay' && d.node === r.name && daemonAlive(d)));
  const started = await Promise.all(missing.map((r) => startRouterRelay(plan, r)));
  state.daemons = [...state.daemons.filter((d) => !(d.name === 'dhcp6-relay' && missing.some((r) => r.name === d.node))), ...started];
  writeState(state);
}

/** Waits until the instances hold their SLAAC address (usable) and a default route via each router's link-local. */
export async function waitInstancesReady(plan: Plan, state: RunState, timeoutMs: number, instances: readonly InstancePlan[] = plan.instances): Promise<void> {
  const pending = new Map(instances.map((i) => [i.name, i]));
  const routers = plan.routers.map((r) => r.linkLocal);
  const l2 = Prefix.parse(plan.pod.pod.l2Prefix);
  const missing = new Map<string, string>();
  await waitUntil(
    async () => {
      state.daemons.forEach(assertAlive);
      const seen = await observeAll(plan.run, [...pending.values()]);
      for (const [name, inst] of pending) {
        const o = seen.get(name);
        const lacking = [...addressesLacking(inst, o, l2), ...routers.filter((ll) => !o?.defaultRoutes.includes(ll)).map((ll) => `default route via ${ll}`)];
        if (lacking.length) missing.set(name, lacking.join(', '));
        else {
          missing.delete(name);
          pending.delete(name);
        }
      }
      return pending.size === 0;
    },
    { timeoutMs, what: () => `instances to be ready: ${summarize([...missing].map(([n, m]) => `${n} lacks ${m}`))}` },
  );
}

/**
 * What an instance still lacks of its addresses. An EUI-64 guest holds the SLAAC address CloudStack
 * computes. A stable-privacy or temporary guest never holds that one as its source (stable privacy
 * derives its link-local and SLAAC address from its secret; a temporary guest sources from its
 * temporary address): it is ready with a usable link-local and a usable address in the pod /64.
 */
function addressesLacking(inst: InstancePlan, o: ObservedInstance | undefined, l2: Prefix): string[] {
  if (inst.addressing === 'eui64') {
    const addr = o?.addresses.find((a) => a.address === inst.slaac);
    return addr && usable(addr) ? [] : [`SLAAC address ${inst.slaac}${addr ? ' (still tentative)' : ''}`];
  }
  const linkLocal = o?.addresses.some((a) => a.scope === 'link' && usable(a));
  const global = o?.addresses.some((a) => a.scope === 'global' && usable(a) && l2.containsAddress(a.address));
  return [...(linkLocal ? [] : ['a usable link-local address']), ...(global ? [] : [`a usable address in ${l2} (${inst.addressing})`])];
}

/** At most a few of many problems, with how many more there are (1,000 lines name nothing). */
function summarize(problems: string[], shown = 5): string {
  return problems.length <= shown ? problems.join('; ') : `${problems.slice(0, shown).join('; ')}; and ${problems.length - shown} more`;
}

/** The synthetic instances' host daemons, one per hypervisor that has any (harness/synth/). */
async function startSynthHosts(plan: Plan, state: RunState): Promise<void> {
  const byHv = new Map<string, InstancePlan[]>();
  for (const i of plan.instances) if (i.kind === 'synthetic') byHv.set(i.hypervisor, [...(byHv.get(i.hypervisor) ?? []), i]);
  const missing = [...byHv].filter(([hv]) => !state.daemons.some((d) => d.name === 'synth-host' && d.node === hv && daemonAlive(d)));
  // Booting together, the instances spread their first Solicit over SOL_MAX_DELAY as RFC 8415 says they should.
  const started = await Promise.all(
    missing.map(([hv, insts]) => startSynthHost(plan, hv, insts.map(synthInstance), { firstSolicitDelayMs: SOL_MAX_DELAY_MS })),
  );
  state.daemons = [...state.daemons.filter((d) => !(d.name === 'synth-host' && missing.some(([hv]) => hv === d.node))), ...started];
  writeState(state);
}

/** The instances the pod file declares are deployed through the same allocation and reservation path as `vm deploy`. */
async function reserveDeclared(plan: Plan, state: RunState): Promise<Reservation[]> {
  const control = await PodControl.open(plan, state.pg);
  try {
    return await control.reserve(plan.instances.map((i) => ({ mac: i.mac, count: i.prefixes })));
  } finally {
    await control.close();
  }
}

export async function up(pod: Pod, runName: string, opts: UpOptions): Promise<{ plan: Plan; reused: boolean }> {
  const say = opts.progress ?? (() => undefined);
  const hash = podHash(pod);
  const existing = readState(runName);
  if (existing) {
    if (existing.podHash !== hash) throw new UsageError(`run '${runName}' is up with another pod (${existing.podFile}); 'v6pod down ${runName}' first`);
    const present = new Set(v6podNamespaces().get(runName) ?? []);
    // The pod as it runs now (instances deployed or destroyed since), not as the file has it.
    const plan = buildPlan(existing.pod, runName, existing.ports);
    // An instance whose deploy or destroy did not finish is finished by `vm deploy`/`vm destroy`,
    // not here: its namespace may be missing or half-made, which must not make the run look broken.
    const unfinished = plan.instances.filter((i) => existing.pending[i.name]);
    const skip = new Set(unfinished.filter((i) => i.kind === 'namespace').map((i) => i.ns));
    if (existing.phase === 'ready' && plan.nodes.every((n) => present.has(n.ns) || skip.has(n.ns))) {
      say('pod is up already: restarting any daemon that died and checking readiness');
      await startDaemons(plan, existing);
      // A crash between the config file's rename and Kea's reload left Kea behind the store: catch it up.
      if (plan.pod.kea.backend === 'config') await new ConfigStore(plan).apply();
      if (opts.relays !== false) await startRelays(plan, existing);
      await startSynthHosts(plan, existing);
      await startGuestClients({ ...plan, instances: plan.instances.filter((i) => !unfinished.includes(i)) }, existing);
      await waitInstancesReady(
        plan,
        existing,
        opts.readyTimeoutMs ?? 15_000,
        plan.instances.filter((i) => !unfinished.includes(i)),
      );
      return { plan, reused: true };
    }
    say(`run '${runName}' is incomplete (${existing.phase}): removing it and building anew`);
    await teardownRun(runName);
  }

  const ports = assignPorts(pod);
  const plan = buildPlan(pod, runName, ports);
  mkdirSync(runDir(runName), { recursive: true });
  const state: RunState = {
    run: runName,
    podFile: opts.podFile,
    podHash: hash,
    owner: opts.owner,
    creator: process.pid,
    phase: 'creating',
    createdAt: new Date().toISOString(),
    namespaces: plan.nodes.map((n) => namespaceName(runName, n.name)),
    daemons: [],
    pod,
    ports,
    pending: {},
  };
  writeState(state);
  try {
    say(`creating ${plan.nodes.length} namespaces and ${plan.links.length} links`);
    await run(['ip', '-batch', '-'], { input: `${plan.root.join('\n')}\n` });
    await inNamespaces(Object.fromEntries(Object.entries(plan.setup).map(([ns, s]) => [ns, nsShellScript(s)])));
    await inNamespaces(Object.fromEntries(Object.entries(plan.routes).map(([ns, lines]) => [ns, nsShellScript({ sysctls: [], ip: lines })])));
    say('starting Kea and radvd');
    // Meanwhile the switches' ports start forwarding (an instance's first RS must not be lost).
    await Promise.all([startDaemons(plan, state), waitSwitchesForwarding(plan)]);
    say(`reserving prefixes for ${plan.instances.length} instances`);
    const reserved = await reserveDeclared(plan, state);
    if (opts.securityGroups !== false) {
      say('applying security groups');
      await applyAll(plan, await driverFor(), instanceModels(plan, reserved));
    }
    say(`bringing up ${plan.instances.length} instances and the relays`);
    // Many synthetic instances share two cores with their daemons: a little more time for each.
    const timeoutMs = opts.readyTimeoutMs ?? 15_000 + 10 * plan.instances.filter((i) => i.kind === 'synthetic').length;
    const relaysUp = opts.relays === false ? Promise.resolve() : startRelays(plan, state);
    // Kernel instances come up (SLAAC needs only radvd) while the relays start (DHCPv6 needs them).
    const kernelReady = inNamespaces(
      Object.fromEntries(Object.entries(plan.attach).map(([ns, lines]) => [ns, nsShellScript({ sysctls: [], ip: lines })])),
    ).then(() =>
      waitInstancesReady(
        plan,
        state,
        timeoutMs,
        plan.instances.filter((i) => i.kind === 'namespace'),
      ),
    );
    // Synthetic instances solicit prefixes as they boot: they boot once every relay listens, or only
    // the relays already up would see their exchange and hold their routes.
    const syntheticReady = relaysUp
      .then(() => startSynthHosts(plan, state))
      .then(() =>
        waitInstancesReady(
          plan,
          state,
          timeoutMs,
          plan.instances.filter((i) => i.kind === 'synthetic'),
        ),
      );
    // The guests' own DHCPv6 clients start once the relays listen and each link-local is usable.
    const clientsUp = Promise.all([relaysUp, kernelReady]).then(() => startGuestClients(plan, state));
    // All settle before any error is thrown, so the rollback sees every daemon that was started.
    const settled = await Promise.allSettled([relaysUp, kernelReady, syntheticReady, clientsUp]);
    for (const r of settled) if (r.status === 'rejected') throw r.reason;
    writeState({ ...state, phase: 'ready' });
    return { plan, reused: false };
  } catch (err) {
    say(`up failed: removing run '${runName}'`);
    const kept = keepLogs(runName);
    await teardownRun(runName);
    // The error names a log in the run directory, which the rollback removed: point at the copy.
    if (err instanceof Error && kept) err.message = err.message.replaceAll(`${runDir(runName)}/`, `${kept}/`);
    throw err;
  }
}

/** Copies a failed run's logs and configs out of its run directory before the rollback removes it. */
function keepLogs(runName: string): string | undefined {
  const dest = join(tmpdir(), `v6pod-${runName}-failed`);
  try {
    copyRunLogs(runName, dest);
    return dest;
  } catch {
    return undefined;
  }
}
