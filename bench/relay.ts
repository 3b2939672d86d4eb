/**
 * The relay agent's throughput against ISC dhcrelay's. One pod (the default pod with a dynamic
 * pd-pool, no relays started by up) and one perfdhcp load, in the same script:
 *  - direct: Kea's rate with perfdhcp (`-6 -e prefix-only -A1`) playing the relay from r1's
 *    namespace (relayed-form traffic straight to Kea, no relay, no client-side multicast): the
 *    physical ceiling of anything relayed to this Kea on this machine;
 *  - v6pod: perfdhcp as plain clients on the pod's LAN (a namespace on the ToR bridge, link-local
 *    only) through v6pod's relay in r1: option 37 inserted, and every delegated prefix routed via
 *    the client's link-local as its Reply passes, as in a pod;
 *  - dhcrelay: the same clients through ISC `dhcrelay -6` (Debian isc-dhcp-relay 4.4) in r1, in
 *    the foreground with its PID file in the run directory, stopped by its PID. It adds no
 *    option 37 and installs no routes.
 * Only one relay runs at a time, so Kea sees each exchange once. Each repetition measures the
 * three in turn; each relay, freshly started, gets 2 s of warm-up load, a steady run at
 * STEADY_RATE (both complete it: its CPU per exchange) and runs at higher offered rates (its best
 * completed rate). The figures are medians over the repetitions; the v6pod/dhcrelay ratio is taken
 * within each repetition. Before every run Kea and the relay have read their backlog and the
 * leases are wiped.
 *
 * The rates move with whatever else the machine runs; what decides them on 2 shared cores is the
 * CPU each process spends per completed exchange (`cpu_us_per_exchange`, from /proc/PID/stat:
 * user and system separately). A relay's system time is mostly syscalls and the kernel carrying
 * its sends — through the veths and bridges into Kea's or the client's socket, run in the
 * sender's context — which both relays pay alike: one more steady run per relay under
 * `perf record -g` (when perf is installed) measures that part (`send_path`).
 * Also measured: route installs and removals per second through the relay's RouteTable, over
 * rtnetlink (the relay's) and through `ip -batch` (what it used before).
 */
import { readFileSync, rmSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { readState } from '../netns/run-state.ts';
import { parsePodFile, DEFAULT_POD_FILE } from '../harness/pod/pod-file.ts';
import { up } from '../netns/realize.ts';
import { teardownRun } from '../netns/teardown.ts';
import { namespaceName, runDir, uniqueRunName } from '../harness/pod/names.ts';
import { BRIDGES, type Plan, type RouterPlan } from '../harness/pod/plan.ts';
import { keaCommand } from '../harness/os/control-socket.ts';
import { keaPaths } from '../harness/control/kea-config.ts';
import { relayCommand, relayPaths, startRelay } from '../netns/daemons/relay.ts';
import { assertAlive, startDaemon, stopDaemon } from '../netns/daemons/process.ts';
import type { DaemonRecord } from '../netns/run-state.ts';
import { run } from '../harness/os/exec.ts';
import { waitUntil } from '../harness/os/wait.ts';
import { IpBatch } from '../harness/os/ip-batch.ts';
import { IpBatchRoutes, RouteTable, type RouteWriter } from '../harness/relay/routes.ts';
import { NetlinkRoutes } from '../harness/relay/route-netlink.ts';
import { Counters } from '../harness/relay/counters.ts';
import { Prefix } from '../harness/addr/prefix.ts';
import { emit, median, progress } from './_stats.ts';

const PERIOD_S = 3;
const REPS = Number(process.env.V6POD_BENCH_REPS ?? 3);
const ROUTES = 20_000;
/** Offered rates per repetition (perfdhcp -r); each target's best completed rate counts. */
const RATES = { direct: [3000, 6000], relayed: [2500, 4500] };
/**
 * The offered rate of the runs that measure each relay's CPU per exchange (and of the perf run):
 * the same for both, one both complete on a busy 2-core machine, so no CPU goes to exchanges that
 * never complete (an overloaded run's CPU per completed exchange counts those too).
 */
const STEADY_RATE = 1000;
const DHCRELAY = '/usr/sbin/dhcrelay';

const round = (x: number) => Math.round(x);
const round1 = (x: number) => Math.round(x * 10) / 10;

/** perfdhcp's completed exchanges per second: Replies received in its REQUEST-REPLY statistics over the period. */
async function perfdhcp(ns: string, args: string[], periodS = PERIOD_S): Promise<number> {
  const argv = ['perfdhcp', '-6', '-e', 'prefix-only', '-R', '1000000', '-p', String(periodS), ...args];
  const { stdout, stderr, exitCode } = await run(argv, { ns, allowFailure: true, timeoutMs: (periodS + 15) * 1000 });
  const section = stdout.split('***Statistics for: REQUEST-REPLY***')[1] ?? '';
  const replies = Number(/received packets: (\d+)/.exec(section)?.[1] ?? 0);
  if (!replies) {
    const advertised = /received packets: (\d+)/.exec(stdout.split('***Statistics for: SOLICIT-ADVERTISE***')[1] ?? '')?.[1];
    progress(`perfdhcp completed nothing (exit ${exitCode}, Advertises received: ${advertised ?? '?'}): ${stderr.trim().split('\n').slice(-2).join(' / ')}`);
  }
  return replies / periodS;
}

/**
 * A namespace with a link-local-only eth0 (DAD off, so perfdhcp can send at once) whose veth peer
 * `peer` sits in `peerNs`, enslaved to `bridge` there.
 */
async function clientNamespace(ns: string, peerNs: string, peer: string, bridge: string): Promise<void> {
  await run(['ip', 'netns', 'add', ns]);
  await run(['ip', 'link', 'add', 'name', 'eth0', 'netns', ns, 'address', '02:bb:ff:00:00:01', 'type', 'veth', 'peer', 'name', peer, 'netns', peerNs]);
  const noDad = (dev: string) => `for k in accept_ra=0 autoconf=0 accept_dad=0; do echo \${k#*=} > /proc/sys/net/ipv6/conf/${dev}/\${k%=*}; done`;
  await run(['sh', '-ec', `${noDad(peer)}; ip link set ${peer} master ${bridge} up`], { ns: peerNs });
  await run(['sh', '-ec', `${noDad('eth0')}; ip link set lo up; ip link set eth0 up`], { ns });
}

/**
 * Waits until Kea and r1 (the relay's UDP and packet sockets) have read everything queued to them:
 * an overloaded run leaves seconds of backlog (the relay's LAN socket holds 8 MiB), which would
 * otherwise eat into the next run; then 300 ms more for the last answers.
 */
async function drained(namespaces: string[]): Promise<void> {
  await waitUntil(
    async () => {
      for (const ns of namespaces) {
        const { stdout } = await run(['ss', '-Hn', '-u', '-0'], { ns, allowFailure: true });
        // Recv-Q: the first number on each line.
        if (
          stdout.split('\n').some(
            (l) =>
              Number(
                l
                  .trim()
                  .split(/\s+/)
                  .find((f) => /^\d+$/.test(f)) ?? 0,
              ) > 0,
          )
        )
          return false;
      }
      return true;
    },
    { timeoutMs: 60_000, intervalMs: 200, what: 'Kea and the relay to read their backlog' },
  );
  await new Promise((resolve) => setTimeout(resolve, 300));
}

async function wipeLeases(plan: Plan): Promise<void> {
  await drained([plan.kea.ns, plan.routers[0]!.ns]);
  await keaCommand(keaPaths(plan.run).socket, 'lease6-wipe', { 'subnet-id': 1 }, 60_000);
}

/** The children of a process (the relay's `ip -batch`, started with its first route change). */
function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(' ').filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** CPU time a process has used so far, user and system, in µs (Linux counts ticks of 1/CLK_TCK s, 100 on Debian). */
const TICK_US = 10_000;
interface Cpu {
  user: number;
  system: number;
}
function cpuOf(pid: number): Cpu {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { user: Number(fields[11]) * TICK_US, system: Number(fields[12]) * TICK_US }; // utime, stime (fields 14 and 15)
  } catch {
    return { user: 0, system: 0 };
  }
}

/** The processes a run's CPU is charged to: name → PIDs (a relay and its children). */
type Charged = Record<string, () => number[]>;

interface RunResult {
  offered: number;
  done: number;
  /** µs per completed exchange, per charged name. */
  cpu: Record<string, Cpu>;
}

/** One perfdhcp run at `offered`/s, from an empty lease table, with the CPU each charged process spent per exchange. */
async function measure(plan: Plan, offered: number, load: (rate: number) => Promise<number>, charged: Charged): Promise<RunResult> {
  await wipeLeases(plan);
  const before = new Map<number, Cpu>();
  for (const pids of Object.values(charged)) for (const pid of pids()) before.set(pid, cpuOf(pid));
  const done = await load(offered);
  const exchanges = Math.max(1, done * PERIOD_S);
  const cpu: Record<string, Cpu> = {};
  for (const [name, pids] of Object.entries(charged)) {
    let user = 0;
    let system = 0;
    // A process started during the run (the relay's first `ip -batch`) counts from zero.
    for (const pid of pids()) {
      const now = cpuOf(pid);
      const then = before.get(pid) ?? { user: 0, system: 0 };
      user += now.user - then.user;
      system += now.system - then.system;
    }
    cpu[name] = { user: user / exchanges, system: system / exchanges };
  }
  return { offered, done, cpu };
}

/** The best completed run over the offered rates (every rate is run: on a shared machine one can dip). */
async function best(label: string, plan: Plan, rates: number[], load: (rate: number) => Promise<number>, charged: Charged): Promise<RunResult> {
  let top: RunResult | undefined;
  for (const rate of rates) {
    const r = await measure(plan, rate, load, charged);
    progress(`${label}: offered ${rate}/s, completed ${round(r.done)}/s`);
    if (!top || r.done > top.done) top = r;
  }
  return top!;
}

interface SendPath {
  share: number;
  cpu_us_per_exchange: number;
  send_us_per_exchange: number;
  logging_syscalls_us_per_exchange: number;
}

/**
 * Syscalls a relay's per-message logging makes: dhcrelay logs every message it relays to stderr
 * and to syslog, and glibc's syslog() without a syslog daemon (none runs here: no /dev/log) tries
 * socket()/connect()/close() each time.
 */
const LOGGING_SYSCALLS = ['__x64_sys_socket', '__x64_sys_connect', '__x64_sys_close', '__x64_sys_write', '__x64_sys_ioctl'];

/** Kernel functions that carry a send from the syscall to the receiver's socket (softirqs included: veth delivers in the sender's context). */
const SEND_PATHS = ['udpv6_sendmsg', 'packet_sendmsg'];

/**
 * One run at STEADY_RATE with `perf record -g` on the relay: the share of its sampled CPU spent
 * inside the send paths (perf report's inclusive percentages of SEND_PATHS), and its CPU µs per
 * exchange in that run (perf's sampling adds a little). Undefined without perf.
 */
async function sendShare(plan: Plan, label: string, pid: number, load: (rate: number) => Promise<number>): Promise<SendPath | undefined> {
  const data = `${runDir(plan.run)}/perf-${label}.data`;
  await wipeLeases(plan);
  const perf = spawn('perf', ['record', '-q', '-e', 'cpu-clock', '-F', '1000', '-g', '-p', String(pid), '-o', data], { stdio: 'ignore' });
  const started = await new Promise<boolean>((resolve) => {
    perf.once('spawn', () => resolve(true));
    perf.once('error', () => resolve(false));
  });
  if (!started) return undefined;
  const exited = new Promise((resolve) => perf.once('exit', resolve));
  await new Promise((resolve) => setTimeout(resolve, 300));
  const before = cpuOf(pid);
  const done = await load(STEADY_RATE);
  const after = cpuOf(pid);
  if (done === 0) return undefined;
  const cpuUs = (after.user + after.system - before.user - before.system) / (done * PERIOD_S);
  perf.kill('SIGINT');
  await exited;
  const { stdout } = await run(['perf', 'report', '-i', data, '--stdio', '--children', '--sort', 'sym', '-g', 'none'], {
    allowFailure: true,
    timeoutMs: 60_000,
  });
  rmSync(data, { force: true });
  let share = 0;
  let logging = 0;
  for (const line of stdout.split('\n')) {
    const m = /^\s*([\d.]+)%\s+[\d.]+%\s+\[k\] (\S+)\s*$/.exec(line);
    if (m && SEND_PATHS.includes(m[2]!)) share += Number(m[1]) / 100;
    if (m && LOGGING_SYSCALLS.includes(m[2]!)) logging += Number(m[1]) / 100;
  }
  progress(
    `${label} under perf: offered ${STEADY_RATE}/s, completed ${round(done)}/s, ${round(cpuUs)} µs/exchange, ${(share * 100).toFixed(1)}% of it in ${SEND_PATHS.join(' + ')}`,
  );
  return {
    share: +share.toFixed(3),
    cpu_us_per_exchange: round1(cpuUs),
    send_us_per_exchange: round1(share * cpuUs),
    logging_syscalls_us_per_exchange: round1(logging * cpuUs),
  };
}

/**
 * A freshly started relay's runs: 2 s of load to warm it up (V8 compiles v6pod's relay in its first
 * seconds: ~20% of its CPU then), the steady run at STEADY_RATE (its CPU per exchange), then the
 * offered rates (its best completed rate).
 */
async function relayRuns(
  label: string,
  plan: Plan,
  load: (rate: number, periodS?: number) => Promise<number>,
  charged: Charged,
): Promise<{ steady: RunResult; best: RunResult }> {
  await load(STEADY_RATE, 2);
  const steady = await measure(plan, STEADY_RATE, load, charged);
  progress(`${label}: steady ${STEADY_RATE}/s, completed ${round(steady.done)}/s`);
  return { steady, best: await best(label, plan, RATES.relayed, load, charged) };
}

/** ISC dhcrelay -6 in the router's namespace, in the foreground, its PID file and log in the run directory. */
async function startDhcrelay(plan: Plan, router: RouterPlan): Promise<DaemonRecord> {
  const dir = runDir(plan.run);
  const argv = [DHCRELAY, '-6', '-d', '-q', '-pf', `${dir}/dhcrelay-${router.name}.pid`, '-l', `${router.lanAddress}%lan`, '-u', `${plan.kea.address}%svc`];
  // dhcrelay cuts its own argv at the '%'s while parsing, so it is known by PID and start time
  // (`launch`), not by its command line, or stopDaemon would think it gone and never signal it.
  const record = await startDaemon({ name: 'dhcrelay', node: router.name, ns: router.ns, argv, launch: argv, log: `${dir}/dhcrelay-${router.name}.log` });
  // Ready once it listens on port 547.
  await waitUntil(
    async () => {
      assertAlive(record);
      const { stdout } = await run(['ss', '-Hlnu', 'sport = :547'], { ns: router.ns, allowFailure: true });
      return stdout.trim().length > 0;
    },
    { timeoutMs: 10_000, what: `dhcrelay on ${router.name} to listen on port 547` },
  );
  return record;
}

/** Installs and removes ROUTES routes in `ns` through `writer`, as the relay's RouteTable does. */
async function routeInstallRate(ns: string, stateFile: string, writer: RouteWriter): Promise<{ install: number; remove: number }> {
  const table = new RouteTable(writer, { dev: 'eth0', protocol: 201, stateFile }, new Counters());
  const pool = Prefix.parse('2001:db8:200::/40');
  const routes = Array.from({ length: ROUTES }, (_, i) => ({
    prefix: `${pool.address(BigInt(i) << 68n)}/60`,
    via: 'fe80::1',
    expiresAt: Date.now() + 3_600_000,
  }));
  // As the relay does: many Replies in one turn of the event loop share one batch write.
  let t = performance.now();
  await Promise.all(Array.from({ length: ROUTES / 1000 }, (_, k) => table.install(routes.slice(k * 1000, (k + 1) * 1000))));
  const install = ROUTES / ((performance.now() - t) / 1000);
  const { stdout } = await run(['ip', '-n', ns, '-6', 'route', 'show', 'proto', '201']);
  const held = stdout.split('\n').filter(Boolean).length;
  if (held !== ROUTES) throw new Error(`expected ${ROUTES} routes in ${ns}, found ${held}`);
  t = performance.now();
  await table.remove(routes.map((r) => r.prefix));
  const remove = ROUTES / ((performance.now() - t) / 1000);
  table.persist();
  await writer.close();
  return { install, remove };
}

const medianOf = (runs: RunResult[], pick: (r: RunResult) => number) => median(runs.map(pick));
/** Runs that completed exchanges (a run that completed none has no CPU per exchange). */
const completed = (runs: RunResult[]) => (runs.some((r) => r.done > 0) ? runs.filter((r) => r.done > 0) : runs);
/** Median µs per exchange of `name` over the runs: user, system and their sum. */
function cpuFigures(all: RunResult[], name: string) {
  const runs = completed(all);
  const user = medianOf(runs, (r) => r.cpu[name]?.user ?? 0);
  const system = medianOf(runs, (r) => r.cpu[name]?.system ?? 0);
  const total = medianOf(runs, (r) => (r.cpu[name]?.user ?? 0) + (r.cpu[name]?.system ?? 0));
  return { total: round1(total), user: round1(user), system: round1(system) };
}

const pod = parsePodFile(readFileSync(DEFAULT_POD_FILE, 'utf8').replace('backend: config', 'backend: config\n  dynamicPool: true'), 'bench-relay.yaml');
const runName = uniqueRunName('bench');
progress(`bringing up pod ${runName}`);
const started = performance.now();
// No relays at up: perfdhcp -A1 plays r1's relay first, then one relay at a time runs in r1.
const { plan } = await up(pod, runName, { podFile: 'bench-relay.yaml', owner: process.pid, relays: false });
let relay: DaemonRecord | undefined;
let dhcrelay: DaemonRecord | undefined;
try {
  const r1 = plan.routers[0]!;
  const l2 = plan.pod.pod.l2Prefix;
  const kea = readState(runName)!.daemons.find((d) => d.name === 'kea-dhcp6')!.pid;
  const keaRoute = ['-6', 'route', 'add', l2, 'via', r1.serviceAddress, 'dev', BRIDGES.service];
  // A client namespace on the ToR bridge with only a link-local (clients send from it; the relay refuses others).
  const clientNs = namespaceName(runName, 'bench');
  await clientNamespace(clientNs, namespaceName(runName, plan.pod.tor.name), 'bench', BRIDGES.tor);
  const clients = (rate: number, periodS?: number) => perfdhcp(clientNs, ['-l', 'eth0', '-r', String(rate)], periodS);

  const runs: { direct: RunResult[]; v6pod: RunResult[]; dhcrelay: RunResult[] } = { direct: [], v6pod: [], dhcrelay: [] };
  const steady: { v6pod: RunResult[]; dhcrelay: RunResult[] } = { v6pod: [], dhcrelay: [] };
  let counters: unknown;
  const shares: { v6pod?: SendPath; dhcrelay?: SendPath } = {};
  for (let rep = 1; rep <= REPS; rep++) {
    // Direct: Kea answers perfdhcp's Relay-Forwards (link-address = r1's LAN address) back through r1.
    await run(['ip', '-n', plan.kea.ns, ...keaRoute]);
    runs.direct.push(
      await best(
        `${rep}/${REPS} direct (perfdhcp -A1)`,
        plan,
        RATES.direct,
        (rate) => perfdhcp(r1.ns, ['-A1', '-l', r1.lanAddress, '-r', String(rate), plan.kea.address]),
        {
          kea: () => [kea],
        },
      ),
    );
    await run(['ip', '-n', plan.kea.ns, ...keaRoute.map((w) => (w === 'add' ? 'del' : w))]);

    await wipeLeases(plan);
    const v6pod = (relay = await startRelay(plan, r1, { readyTimeoutMs: 60_000 }));
    const ours = await relayRuns(`${rep}/${REPS} v6pod relay`, plan, clients, {
      kea: () => [kea],
      relay: () => [v6pod.pid],
      'relay-children': () => childrenOf(v6pod.pid),
    });
    runs.v6pod.push(ours.best);
    steady.v6pod.push(ours.steady);
    counters = (await relayCommand(relayPaths(runName, r1.name).socket, 'counters')).arguments;
    if (rep === REPS) shares.v6pod = await sendShare(plan, 'v6pod relay', v6pod.pid, clients);
    await stopDaemon(v6pod);
    relay = undefined;

    const isc = (dhcrelay = await startDhcrelay(plan, r1));
    const theirs = await relayRuns(`${rep}/${REPS} dhcrelay`, plan, clients, { kea: () => [kea], dhcrelay: () => [isc.pid] });
    runs.dhcrelay.push(theirs.best);
    steady.dhcrelay.push(theirs.steady);
    if (rep === REPS) shares.dhcrelay = await sendShare(plan, 'dhcrelay', isc.pid, clients);
    await stopDaemon(isc);
    dhcrelay = undefined;
  }

  const routes = await routeInstallRate(clientNs, `${runDir(runName)}/bench-routes.json`, new NetlinkRoutes('eth0', 201, { netns: clientNs }));
  progress(`routes (netlink, the relay's): ${round(routes.install)} installs/s, ${round(routes.remove)} removals/s`);
  const ipRoutes = await routeInstallRate(clientNs, `${runDir(runName)}/bench-routes.json`, new IpBatchRoutes(new IpBatch(clientNs), 'eth0', 201));
  progress(`routes (ip -batch): ${round(ipRoutes.install)} installs/s, ${round(ipRoutes.remove)} removals/s`);

  const rate = (rs: RunResult[]) => round(medianOf(rs, (r) => r.done));
  const direct = rate(runs.direct);
  const v6pod = rate(runs.v6pod);
  const isc = rate(runs.dhcrelay);
  // The same ratio within each repetition, then its median (the machine's load moves both alike).
  const ratio = median(runs.v6pod.map((r, i) => r.done / Math.max(1, runs.dhcrelay[i]!.done)));
  const v6podCpu = {
    node: cpuFigures(steady.v6pod, 'relay'),
    children: cpuFigures(steady.v6pod, 'relay-children'),
    total: round1(
      medianOf(completed(steady.v6pod), (r) => r.cpu.relay!.user + r.cpu.relay!.system + r.cpu['relay-children']!.user + r.cpu['relay-children']!.system),
    ),
  };
  const iscCpu = cpuFigures(steady.dhcrelay, 'dhcrelay');
  const cpus = (await import('node:os')).cpus().length;
  emit({
    bench: 'relay',
    cpus,
    period_s: PERIOD_S,
    repetitions: REPS,
    exchanges_per_s: { direct, v6pod_relay: v6pod, dhcrelay: isc },
    ratio_v6pod_dhcrelay: +ratio.toFixed(3),
    ratio_v6pod_direct: +(v6pod / direct).toFixed(3),
    ratio_dhcrelay_direct: +(isc / direct).toFixed(3),
    // CPU per exchange in the steady runs (both relays offered STEADY_RATE); Kea's direct figure is from its best run.
    steady_rate: STEADY_RATE,
    steady_exchanges_per_s: { v6pod_relay: rate(steady.v6pod), dhcrelay: rate(steady.dhcrelay) },
    cpu_us_per_exchange: {
      v6pod_relay: v6podCpu,
      dhcrelay: iscCpu,
      ratio_v6pod_dhcrelay: +(v6podCpu.total / iscCpu.total).toFixed(2),
      kea: { direct: cpuFigures(runs.direct, 'kea'), v6pod_relay: cpuFigures(steady.v6pod, 'kea'), dhcrelay: cpuFigures(steady.dhcrelay, 'kea') },
    },
    // The kernel's part of each relay's CPU: its system time (syscalls, and carrying its sends through
    // the veths and bridges into the receiver's socket, which both relays pay alike).
    kernel_us_per_exchange: { v6pod_relay: v6podCpu.node.system, dhcrelay: iscCpu.system },
    // One run per relay at the same offered rate under perf: the share of its CPU inside the send
    // paths (udpv6_sendmsg, packet_sendmsg, with the softirqs they run), i.e. the cost of carrying an
    // exchange's 4 sends (2 Relay-Forwards, 2 server messages) into the receivers' sockets, in µs.
    send_path: { v6pod_relay: shares.v6pod ?? null, dhcrelay: shares.dhcrelay ?? null },
    route_installs_per_s: round(routes.install),
    route_removals_per_s: round(routes.remove),
    route_installs_per_s_ip_batch: round(ipRoutes.install),
    route_removals_per_s_ip_batch: round(ipRoutes.remove),
    runs: Object.fromEntries(Object.entries(runs).map(([k, rs]) => [k, rs.map((r) => ({ offered: r.offered, done: round(r.done) }))])),
    relay_counters: counters,
    wall_s: round((performance.now() - started) / 1000),
    goals: { ratio_v6pod_dhcrelay: 0.9, route_installs_per_s: 5000 },
  });
} finally {
  if (relay) await stopDaemon(relay).catch(() => undefined);
  if (dhcrelay) await stopDaemon(dhcrelay).catch(() => undefined);
  await teardownRun(runName);
}
