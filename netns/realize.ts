/**
 * `up`: a pod file becomes a running pod. Executes the plan's phases (plan.ts), starts Kea and
 * radvd, brings the instances up, and returns when the pod is ready: Kea's control socket answers
 * and every instance holds its predicted SLAAC address (a guest that forms stable-privacy or
 * temporary addresses: a usable link-local and an address in the pod /64) and one default route via
 * each router's link-local. Any failure removes everything this run created before the error is reported.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Pod } from '../harness/pod/pod-file.ts';
import { run } from '../harness/os/exec.ts';
import { assignPorts, buildPlan, nsShellScript, type InstancePlan, type Plan } from '../harness/pod/plan.ts';
import { namespaceName, runDir } from '../harness/pod/names.ts';
import { controlDatabase, copyRunLogs, readState, writeState, type DaemonRecord, type RunState } from './run-state.ts';
import { teardownRun, v6podNamespaces } from './teardown.ts';
import { observeAll, usable, type ObservedInstance } from './observe.ts';
import { Prefix } from '../harness/addr/prefix.ts';
import { waitLinkLocalUsable, waitLinksSettled } from './switches.ts';
import { listensOn547 } from './daemons/relay-ready.ts';
import { startKea } from './daemons/kea.ts';
import { ControlTimeout, keaCommand } from '../harness/os/control-socket.ts';
import { keaPaths } from '../harness/control/kea-config.ts';
import { postgresDaemonRecord, privateCluster, startPostgres } from './daemons/postgres.ts';
import { poolerAnswers, poolerTarget, startPgBouncer } from './daemons/pgbouncer.ts';
import { connectPostgres } from '../harness/control/kea-database.ts';
import { assertRootlessSupports } from './userns.ts';
import { keaHostsDatabase } from '../harness/control/pg-store.ts';
import { initialReservations, PodControl } from '../harness/control/pod-control.ts';
import { applyAll, driverFor, instanceModels } from '../harness/sg/pod-groups.ts';
import { NftDriver } from '../harness/sg/nft-driver.ts';
import { hypervisorRef } from '../harness/sg/driver.ts';
import { ConfigStore } from '../harness/control/config-store.ts';
import type { Reservation } from '../harness/control/reservation-store.ts';
import { startRadvd } from './daemons/radvd.ts';
import { startRouterRelay } from './daemons/router-relays.ts';
import { startSynthHost, synthInstance } from './daemons/synth.ts';
import { startGuestClients } from './guest-clients.ts';
import { SOL_MAX_DELAY_MS } from '../harness/synth/pd-client.ts';
import { assertAlive, daemonAlive } from './daemons/process.ts';
import { pollIntervalMs, waitUntil } from '../harness/os/wait.ts';
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
  /** Called as each phase of a new pod ends, with milliseconds since `up` began (bench/up-down.ts). */
  onPhase?: (phase: string, ms: number) => void;
}

/**
 * Phase timing of `up`: `opts.onPhase`, and with V6POD_TRACE set one line per phase on stderr
 * (`v6pod trace: <phase> <ms since up began> (+<ms since the previous phase>)`).
 */
function phaseTimer(opts: UpOptions): (phase: string) => void {
  const start = performance.now();
  let last = start;
  const print = !!process.env.V6POD_TRACE;
  return (phase) => {
    const now = performance.now();
    opts.onPhase?.(phase, now - start);
    if (print) process.stderr.write(`v6pod trace: ${phase} ${(now - start).toFixed(0)} ms (+${(now - last).toFixed(0)})\n`);
    last = now;
  };
}

export function podHash(pod: Pod): string {
  return createHash('sha256').update(JSON.stringify(pod)).digest('hex').slice(0, 16);
}

/**
 * Runs each namespace's script in it, concurrently, from one shell: the orchestrator spawns one
 * process per phase, not one per namespace (a spawn blocks its event loop until the child has
 * exec'd, which on a busy machine is what `up` waited for most). The scripts write /proc/sys/net,
 * run ethtool and `ip -batch`, all of which see the namespace of the process: `nsenter --net`
 * enters the network namespace only, about half the cost of `ip netns exec` (no private mount
 * namespace, no /sys remount). A failure names its namespace and the error's last line.
 */
async function inNamespaces(scripts: Record<string, string>): Promise<void> {
  const jobs = Object.entries(scripts).filter(([, s]) => s.trim());
  if (!jobs.length) return;
  const lines = ['rc=0'];
  jobs.forEach(([ns, script], i) => {
    lines.push(
      '(',
      `err=$(nsenter '--net=/run/netns/${ns}' sh -es 2>&1 >/dev/null <<'V6POD_${i}'`,
      script,
      `V6POD_${i}`,
      `) || { printf '%s\\n' "$err" >&2; echo "in ${ns}: $(printf '%s\\n' "$err" | tail -n 1)" >&2; exit 1; }`,
      ') &',
      `p${i}=$!`,
    );
  });
  jobs.forEach((_, i) => lines.push(`wait $p${i} || rc=1`));
  lines.push('exit $rc');
  await run(['sh', '-s'], { input: `${lines.join('\n')}\n` });
}

/** Records a daemon this `up` started in the run's state (written at once: a crash leaves it findable by `down`). */
function recorder(state: RunState, started: DaemonRecord[]): (d: DaemonRecord) => DaemonRecord {
  return (d) => {
    started.push(d);
    state.daemons = [...state.daemons.filter((x) => !(x.name === d.name && x.node === d.node)), d];
    writeState(state);
    return d;
  };
}

const missingDaemon = (state: RunState, name: string, node: string) => !state.daemons.some((d) => d.name === name && d.node === node && daemonAlive(d));

/** Kea (and its private PostgreSQL cluster, if any), started if not running; resolves once Kea's control socket answers. */
async function startKeaReady(plan: Plan, state: RunState): Promise<void> {
  const started: DaemonRecord[] = [];
  const record = recorder(state, started);
  const db = plan.pod.kea.database;
  if (plan.pod.kea.backend === 'postgresql' && db && !state.pg) {
    // The user's server: v6pod checks it answers and holds Kea's schema, and never stops it.
    state.pg = await connectPostgres({ host: db.host, port: db.port, user: db.user, database: db.name, password: db.password });
    writeState(state);
  } else if (plan.pod.kea.backend === 'postgresql' && !db && missingDaemon(state, 'postgres', plan.pod.kea.name)) {
    // A private cluster in the run directory, unix socket only; Kea reads reservations from it on every packet.
    const pg = await startPostgres(`${runDir(plan.run)}/postgres`);
    state.pg = pg.target;
    record(postgresDaemonRecord(pg, plan.pod.kea.name));
  }
  // The pooler for v6pod's own sessions starts while Kea does (netns/daemons/pgbouncer.ts); one left
  // running is waited for too, since it refuses sessions for a moment after the cluster restarted.
  const pooled = plan.pod.kea.backend === 'postgresql' && !db ? poolerReady(plan, state, record) : Promise.resolve();
  pooled.catch(() => undefined); // awaited below, with Kea: no unhandled rejection meanwhile
  const keaOptions = state.pg ? { hostsDatabase: keaHostsDatabase(state.pg) } : {};
  // A new config-store pod's Kea starts with the declared instances' reservations: up's reserve
  // then finds them in its config and nothing is checked and reloaded.
  const initial = plan.pod.kea.backend === 'config' && !existsSync(keaPaths(plan.run).config) ? initialReservations(plan) : [];
  let kea: DaemonRecord | undefined;
  if (missingDaemon(state, 'kea-dhcp6', plan.pod.kea.name)) {
    await waitLinkLocalUsable(plan.kea.ns, plan.kea.iface);
    kea = record(await startKea(plan, initial, keaOptions));
  }
  const socket = keaPaths(plan.run).socket;
  const keaPid = (kea ?? state.daemons.find((d) => d.name === 'kea-dhcp6' && d.node === plan.pod.kea.name))?.pid;
  const keaAnswers = waitUntil(
    async () => {
      started.forEach(assertAlive);
      // Kea answers its control socket before it has bound its DHCP sockets (it retries while its
      // interface has no carrier or a tentative link-local): a relay's first Relay-Forward then
      // found no port.
      if (keaPid !== undefined && !listensOn547(keaPid, plan.kea.address)) return false;
      return (await keaCommand(socket, 'list-commands').catch(() => undefined))?.result === 0;
    },
    // Kea parses every reservation in its config as it starts (about 0.15 ms each here, docs/facts.md): more time for large pods.
    { timeoutMs: 10_000 + 2 * plan.instances.length, what: `Kea's control socket ${socket} to answer${kea ? ` (log ${kea.log})` : ''}` },
  );
  await Promise.all([keaAnswers, pooled]);
}

/** The run's pooler in front of its private cluster: started if not running; resolves once a session through it answers. */
async function poolerReady(plan: Plan, state: RunState, record: (d: DaemonRecord) => DaemonRecord): Promise<void> {
  const cluster = privateCluster(`${runDir(plan.run)}/postgres`);
  const running = state.daemons.find((d) => d.name === 'pgbouncer' && d.node === plan.pod.kea.name && daemonAlive(d));
  const pooler = running ?? record(await startPgBouncer(cluster, plan.pod.kea.name, plan.kea.ns));
  const target = poolerTarget(cluster);
  await poolerAnswers(pooler, target);
  state.pgControl = target;
  writeState(state);
}

/**
 * radvd on each router that has none running. radvd advertises as it starts (docs/facts.md): started
 * once the instances' IPv6 is on, that first RA reaches every instance together.
 */
async function startRadvds(plan: Plan, state: RunState): Promise<void> {
  const record = recorder(state, []);
  for (const r of plan.routers) if (missingDaemon(state, 'radvd', r.name)) record(await startRadvd(plan, r));
}

/** Kea and radvd, for a running pod whose daemon died (up's reconcile). */
async function startDaemons(plan: Plan, state: RunState): Promise<void> {
  await Promise.all([startKeaReady(plan, state), startRadvds(plan, state)]);
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
  let silent = '';
  await waitUntil(
    async () => {
      state.daemons.forEach(assertAlive);
      // A host daemon alive but too busy to answer in time (thousands of instances booting on two
      // cores) is asked again next round; the deadline's error says so if it never answers.
      const seen = await observeAll(plan.run, [...pending.values()]).catch((err: Error) => {
        if (!(err instanceof ControlTimeout)) throw err;
        silent = err.message;
      });
      if (!seen) return false;
      silent = '';
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
    {
      timeoutMs,
      what: () => `instances to be ready: ${summarize([...missing].map(([n, m]) => `${n} lacks ${m}`))}${silent ? ` (last: ${silent})` : ''}`,
      intervalMs: () => pollIntervalMs(pending.size),
    },
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
  const control = await PodControl.open(plan, controlDatabase(state));
  try {
    return await control.reserve(plan.instances.map((i) => ({ mac: i.mac, count: i.prefixes })));
  } finally {
    await control.close();
  }
}

export async function up(pod: Pod, runName: string, opts: UpOptions): Promise<{ plan: Plan; reused: boolean }> {
  assertRootlessSupports(pod);
  const say = opts.progress ?? (() => undefined);
  const phase = phaseTimer(opts);
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
    phase('root');
    // Every link comes up here, the instances' eth0 with IPv6 off (plan.ts).
    await inNamespaces(Object.fromEntries(Object.entries(plan.setup).map(([ns, s]) => [ns, nsShellScript(s)])));
    phase('setup');
    say('starting Kea; reserving prefixes, applying security groups while the links settle');
    // Many synthetic instances share two cores with their daemons: a little more time for each.
    const timeoutMs = opts.readyTimeoutMs ?? 15_000 + 10 * plan.instances.filter((i) => i.kind === 'synthetic').length;
    const routesAdded = inNamespaces(
      Object.fromEntries(Object.entries(plan.routes).map(([ns, lines]) => [ns, nsShellScript({ sysctls: [], ip: lines })])),
    ).then(() => phase('routes'));
    // The kernel's link watcher settles every port meanwhile (netns/switches.ts).
    const linksSettled = waitLinksSettled(plan).then(() => phase('links-settled'));
    const keaUp = startKeaReady(plan, state).then(() => phase('kea'));
    // The reference driver's base table goes in meanwhile, so the groups are one transaction per hypervisor once reserved.
    const driver = opts.securityGroups === false ? undefined : driverFor();
    const groupsBased =
      driver instanceof NftDriver ? Promise.all(plan.pod.hypervisors.map((h) => driver.addMany(hypervisorRef(plan, h.name), []))) : Promise.resolve();
    const relaysUp = keaUp.then(() => (opts.relays === false ? Promise.resolve() : startRelays(plan, state))).then(() => phase('relays'));
    const groupsApplied = keaUp
      .then(() => reserveDeclared(plan, state))
      .then(async (reserved) => {
        phase('reserve');
        if (!driver) return;
        await groupsBased;
        await applyAll(plan, driver, instanceModels(plan, reserved));
        phase('security-groups');
      });
    // IPv6 on in every kernel instance once its port forwards and its security group is in force: its
    // first DAD probe and RS are not lost (tests/pod/first-frames.test.ts).
    const attached = Promise.all([linksSettled, groupsApplied])
      .then(() => {
        say(`bringing up ${plan.instances.length} instances, then radvd`);
        return inNamespaces(Object.fromEntries(Object.entries(plan.attach).map(([ns, s]) => [ns, nsShellScript(s)])));
      })
      .then(() => phase('attach'));
    // radvd's first RA, sent as it starts, configures every instance at once; each instance's own
    // RS follows when its link-local's DAD ends (a second later), and is answered too.
    const radvdUp = attached.then(() => startRadvds(plan, state)).then(() => phase('radvd'));
    const kernelReady = radvdUp
      .then(() =>
        waitInstancesReady(
          plan,
          state,
          timeoutMs,
          plan.instances.filter((i) => i.kind === 'namespace'),
        ),
      )
      .then(() => phase('instances-ready'));
    // Synthetic instances solicit prefixes as they boot: they boot once every relay listens, or only
    // the relays already up would see their exchange and hold their routes.
    const syntheticReady = Promise.all([relaysUp, radvdUp])
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
    // All settle before any error is thrown, so the rollback sees every daemon that was started; the
    // first failure in this order is the cause (those after it fail because of it).
    const settled = await Promise.allSettled([
      keaUp,
      routesAdded,
      linksSettled,
      groupsBased,
      relaysUp,
      groupsApplied,
      attached,
      radvdUp,
      kernelReady,
      syntheticReady,
      clientsUp,
    ]);
    for (const r of settled) if (r.status === 'rejected') throw r.reason;
    writeState({ ...state, phase: 'ready' });
    phase('ready');
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
