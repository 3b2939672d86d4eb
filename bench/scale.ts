/**
 * Scale: pods of N synthetic instances (N/250 hypervisors × up to 250, one /60 each, security
 * groups on, half the instances in a group with user rules), for N = 1,000 and 5,000 —
 * `npm run bench -- scale [N…]` picks other sizes, V6POD_BENCH_PER_HV other hypervisor sizes,
 * V6POD_BENCH_SNOOPING=on|off|both the switches' MLD snooping (pod.mldSnooping; default on).
 * Per N (and snooping), medians of V6POD_BENCH_RUNS runs (default 3), all from the moment `up` is called:
 *   ready_s      `up` returned: every instance holds its SLAAC address and both default routes
 *   sg_apply_s   the security-group phase of `up` (every instance's rules, one transaction per hypervisor)
 *   instances_up_s  from radvd's start to `up`'s end: synthetic hosts started, every instance configured
 *   delegated_s  every instance holds exactly its reserved prefixes and both routers route each one
 *   verified_s   and the scale profile's checks passed for all: SLAAC, delegation, routes, groups in force
 *   port_frames  frames the hypervisors' bridges handed to instance ports (port_frames_filtered of
 *                them stopped by the TAPs' filters): the flooding's work, independent of the load
 *   pd_retransmissions  Solicits and Requests the PD clients sent again (each one more for Kea through
 *                both relays), kea_socket_drops the Relay-Forwards Kea's socket dropped: how hard the boot was on DHCPv6
 *   cpu_s        CPU time the whole machine spent from `up` to verified (user, system, softirq), and
 *                synth_cpu_s the synthetic hosts' share (their TAPs' bridge flooding runs in their sends),
 *                kea_cpu_s Kea's, relay_cpu_s the relays', orchestrator_cpu_s this process's (up and the checks)
 *   peak_rss_mb  the peak resident memory of v6pod's processes (this orchestrator, the relays, the
 *                synthetic hosts), summed; kea_rss_mb Kea's
 * Time per instance at each N against N = the smallest (the baseline) says whether growth is linear.
 * The machine is shared: the load average at the start of each run is reported (load_1m).
 * `up` and `down` run compiled, as `v6pod up` runs them (bench/_lifecycle.ts; `form` says which ran).
 * Writes an SVG plot of the times against N (artifacts/bench-scale.svg, or V6POD_BENCH_PLOT).
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parsePodFile, type Pod } from '../harness/pod/pod-file.ts';
import { namespaceName, uniqueRunName } from '../harness/pod/names.ts';
import { run } from '../harness/os/exec.ts';
import { udp6RcvbufErrors } from '../harness/os/snmp6.ts';
import { readState, type DaemonRecord } from '../netns/run-state.ts';
import { observeAll, syntheticSnapshots, usable } from '../netns/observe.ts';
import type { Plan } from '../harness/pod/plan.ts';
import {
  delegationShortfalls,
  describeShortfalls,
  reservationsByMac,
  routeShortfalls,
  securityGroupShortfalls,
  untilNoShortfall,
} from '../harness/probe/fleet.ts';
import { emit, median, progress } from './_stats.ts';
import { podLifecycle } from './_lifecycle.ts';

const { form, up, teardownRun } = await podLifecycle();
import { lineChart } from './_plot.ts';

const SIZES = process.argv
  .slice(3)
  .map(Number)
  .filter((n) => n > 0);
const NS = SIZES.length ? SIZES : [1000, 5000];
const RUNS = Number(process.env.V6POD_BENCH_RUNS ?? 3);
const PER_HV = Number(process.env.V6POD_BENCH_PER_HV ?? 250);
const SNOOPING = { on: [true], off: [false], both: [false, true] }[process.env.V6POD_BENCH_SNOOPING ?? 'on'] ?? [true];
const CLK_TCK = 100;
/** V6POD_BENCH_SECURITY_GROUPS=off: no groups (nor their checks), to time the rest where nft alone would take the budget. */
const GROUPS = process.env.V6POD_BENCH_SECURITY_GROUPS !== 'off';
const PLOT = resolve(process.env.V6POD_BENCH_PLOT ?? 'artifacts/bench-scale.svg');

function scalePod(n: number, snooping: boolean): Pod {
  const HYPERVISORS = Math.ceil(n / PER_HV);
  const per = Math.ceil(n / HYPERVISORS);
  const hv = (h: number) => {
    const count = Math.min(per, n - h * per);
    const web = Math.floor(count / 2);
    return [
      `  - name: hv${h + 1}`,
      '    instances:',
      ...(web ? [`      - { name: w${h + 1}, kind: synthetic, count: ${web}, securityGroup: web }`] : []),
      `      - { name: d${h + 1}, kind: synthetic, count: ${count - web} }`,
    ].join('\n');
  };
  const text = [
    `name: sc${n}`,
    'pod:',
    '  l2Prefix: 2001:db8:100::/64',
    '  pdPool: 2001:db8:200::/40',
    `  mldSnooping: ${snooping}`,
    'hypervisors:',
    ...Array.from({ length: HYPERVISORS }, (_, h) => hv(h)).filter((_, h) => h * per < n),
    'securityGroups:',
    '  web:',
    '    rules: [ "I:tcp;22;22;::/0", "I:tcp;80;80;::/0" ]',
  ].join('\n');
  return parsePodFile(`${text}\n`, `scale-${n}.yaml`);
}

/** Peak resident memory (VmHWM) of a process, in MiB; 0 when it is gone. */
function peakMb(pid: number): number {
  try {
    const kb = Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
    return kb / 1024;
  } catch {
    return 0;
  }
}

/** CPU seconds the machine has spent (all CPUs): user+nice, system, softirq. */
function machineCpu(): { user: number; system: number; softirq: number } {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  return { user: (f[0]! + f[1]!) / CLK_TCK, system: f[2]! / CLK_TCK, softirq: f[6]! / CLK_TCK };
}

/** CPU seconds the run's daemons of one kind have used so far, summed. */
function cpuOf(daemons: readonly DaemonRecord[], name: string): number {
  return daemons.filter((d) => d.name === name).reduce((sum, d) => sum + processCpu(d.pid), 0);
}

/** CPU seconds (user + system) a process has used; 0 when it is gone. */
function processCpu(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / CLK_TCK;
  } catch {
    return 0;
  }
}

/**
 * Frames the hypervisors' bridges handed to instance ports (each vnetN's tx, delivered or stopped by
 * the TAP's filter), and of those the ones stopped: the flooding's work, whatever the machine's load.
 */
async function portFrames(plan: Plan): Promise<{ handed: number; filtered: number }> {
  let handed = 0;
  let filtered = 0;
  for (const h of plan.pod.hypervisors) {
    const { stdout } = await run(['ip', '-n', namespaceName(plan.run, h.name), '-s', '-j', 'link', 'show']);
    for (const l of JSON.parse(stdout) as Array<{ ifname: string; stats64?: { tx: { packets: number; dropped: number } } }>) {
      if (!l.ifname.startsWith('vnet') || !l.stats64) continue;
      handed += l.stats64.tx.packets + l.stats64.tx.dropped;
      filtered += l.stats64.tx.dropped;
    }
  }
  return { handed, filtered };
}

/**
 * How hard the boot was on DHCPv6: the PD clients' retransmissions (each one a Solicit or Request
 * more through both relays) and the Relay-Forwards Kea's socket dropped for a full buffer.
 */
async function dhcpLoad(plan: Plan): Promise<{ pdRetransmissions: number; keaSocketDrops: number }> {
  let pdRetransmissions = 0;
  for (const snap of (await syntheticSnapshots(plan.run, plan.instances)).values()) pdRetransmissions += snap.dhcp?.counters.retransmissions ?? 0;
  return { pdRetransmissions, keaSocketDrops: await udp6RcvbufErrors(plan.kea.ns) };
}

interface Sample {
  /** From radvd's start to `up`'s end: the synthetic hosts start, every instance takes SLAAC and both routes. */
  afterRadvd: number;
  portFrames: number;
  portFramesFiltered: number;
  pdRetransmissions: number;
  keaSocketDrops: number;
  load: number;
  cpu: number;
  cpuSystem: number;
  cpuSoftirq: number;
  synthCpu: number;
  keaCpu: number;
  relayCpu: number;
  orchestratorCpu: number;
  ready: number;
  sgApply: number;
  delegated: number;
  verified: number;
  v6podMb: number;
  keaMb: number;
}

async function once(n: number, pod: Pod): Promise<Sample> {
  const runName = uniqueRunName('bsc');
  const load = Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]);
  const cpu0 = machineCpu();
  const own0 = process.cpuUsage();
  const t0 = performance.now();
  const since = () => (performance.now() - t0) / 1000;
  // up's phases (netns/realize.ts onPhase), ms since it began: the groups go in between reserve and security-groups.
  const phases: Record<string, number> = {};
  try {
    const { plan } = await up(pod, runName, {
      podFile: `scale-${n}.yaml`,
      owner: process.pid,
      readyTimeoutMs: 120_000,
      securityGroups: GROUPS,
      onPhase: (phase, ms) => (phases[phase] = ms),
    });
    const ready = since();
    const reserved = await reservationsByMac(plan);
    const clients = plan.instances.filter((i) => i.dhcp);
    await untilNoShortfall('delegated', clients, (some) => delegationShortfalls(plan, some, reserved), 120_000);
    await untilNoShortfall('routed', clients, (some) => routeShortfalls(plan, some, reserved), 120_000);
    const delegated = since();
    await verifyAll(plan, reserved);
    const verified = since();
    const cpu1 = machineCpu();
    const own = process.cpuUsage(own0);
    const frames = await portFrames(plan);
    const dhcp = await dhcpLoad(plan);
    const daemons = readState(runName)!.daemons;
    const ours = daemons.filter((d) => d.name === 'dhcp6-relay' || d.name === 'synth-host').map((d) => d.pid);
    const kea = daemons.find((d) => d.name === 'kea-dhcp6')!.pid;
    return {
      portFrames: frames.handed,
      portFramesFiltered: frames.filtered,
      ...dhcp,
      load,
      cpu: cpu1.user + cpu1.system + cpu1.softirq - (cpu0.user + cpu0.system + cpu0.softirq),
      cpuSystem: cpu1.system - cpu0.system,
      cpuSoftirq: cpu1.softirq - cpu0.softirq,
      synthCpu: cpuOf(daemons, 'synth-host'),
      keaCpu: cpuOf(daemons, 'kea-dhcp6'),
      relayCpu: cpuOf(daemons, 'dhcp6-relay'),
      orchestratorCpu: (own.user + own.system) / 1e6,
      ready,
      sgApply: ((phases['security-groups'] ?? 0) - (phases.reserve ?? 0)) / 1000,
      afterRadvd: ((phases.ready ?? 0) - (phases.radvd ?? 0)) / 1000,
      delegated,
      verified,
      v6podMb: peakMb(process.pid) + ours.reduce((sum, pid) => sum + peakMb(pid), 0),
      keaMb: peakMb(kea),
    };
  } finally {
    await teardownRun(runName);
  }
}

/** The scale profile's every-instance checks (scenarios/scale/), each must find nothing short. */
async function verifyAll(plan: Plan, reserved: Map<string, string[]>): Promise<void> {
  const seen = await observeAll(plan.run, plan.instances);
  const notReady = plan.instances.filter((i) => {
    const a = seen.get(i.name)?.addresses.find((x) => x.address === i.slaac);
    return !(a && usable(a));
  });
  if (notReady.length) throw new Error(`${notReady.length} instances lost their SLAAC address`);
  if (!GROUPS) return;
  const sg = await securityGroupShortfalls(plan, plan.instances, reserved);
  if (sg.length) throw new Error(describeShortfalls(sg, plan.instances.length));
}

const rows: Array<Record<string, number | boolean>> = [];
for (const snooping of SNOOPING)
  for (const n of NS) {
    const pod = scalePod(n, snooping);
    const samples: Sample[] = [];
    for (let r = 1; r <= RUNS; r++) {
      samples.push(await once(n, pod));
      const s = samples.at(-1)!;
      progress(
        `N=${n} snooping ${snooping ? 'on' : 'off'} run ${r}/${RUNS} (load ${s.load}): ready ${s.ready.toFixed(2)} s, SG ${s.sgApply.toFixed(2)} s, instances up ${s.afterRadvd.toFixed(2)} s, delegated+routed ${s.delegated.toFixed(2)} s, verified ${s.verified.toFixed(2)} s, CPU ${s.cpu.toFixed(1)} s (system ${s.cpuSystem.toFixed(1)}, softirq ${s.cpuSoftirq.toFixed(1)}, synthetic hosts ${s.synthCpu.toFixed(1)}, Kea ${s.keaCpu.toFixed(1)}, relays ${s.relayCpu.toFixed(1)}, up and checks ${s.orchestratorCpu.toFixed(1)}), ${s.portFrames} frames to instance ports (${s.portFramesFiltered} filtered), ${s.pdRetransmissions} PD retransmissions, ${s.keaSocketDrops} dropped at Kea's socket, v6pod ${s.v6podMb.toFixed(0)} MiB, Kea ${s.keaMb.toFixed(0)} MiB`,
      );
    }
    const m = (k: keyof Sample) => +median(samples.map((s) => s[k])).toFixed(3);
    rows.push({
      n,
      mld_snooping: snooping,
      hypervisors: pod.hypervisors.length,
      load_1m: m('load'),
      cpu_s: m('cpu'),
      cpu_system_s: m('cpuSystem'),
      cpu_softirq_s: m('cpuSoftirq'),
      synth_cpu_s: m('synthCpu'),
      kea_cpu_s: m('keaCpu'),
      relay_cpu_s: m('relayCpu'),
      orchestrator_cpu_s: m('orchestratorCpu'),
      port_frames: m('portFrames'),
      port_frames_filtered: m('portFramesFiltered'),
      pd_retransmissions: m('pdRetransmissions'),
      kea_socket_drops: m('keaSocketDrops'),
      ready_s: m('ready'),
      delegated_s: m('delegated'),
      sg_apply_s: m('sgApply'),
      instances_up_s: m('afterRadvd'),
      verified_s: m('verified'),
      per_instance_ms: +((m('verified') / n) * 1000).toFixed(3),
      peak_rss_mb: Math.round(m('v6podMb')),
      kea_rss_mb: Math.round(m('keaMb')),
    });
  }

type Row = { n: number; mld_snooping: boolean; verified_s: number; per_instance_ms: number } & Record<string, number | boolean>;
const table = rows as Row[];
mkdirSync(dirname(PLOT), { recursive: true });
writeFileSync(
  PLOT,
  lineChart(
    'v6pod: time from up, synthetic instances (medians)',
    'instances (N)',
    'seconds from up',
    SNOOPING.flatMap((on) =>
      (['ready_s', 'sg_apply_s', 'delegated_s', 'verified_s'] as const).map((k) => ({
        label: SNOOPING.length > 1 ? `${k} (snooping ${on ? 'on' : 'off'})` : k,
        points: table.filter((r) => r.mld_snooping === on).map((r) => [r.n, r[k] as number] as [number, number]),
      })),
    ),
  ),
);
// Per snooping setting: time per instance at each N against the smallest N (above 1: it grew with N).
const ratios = Object.fromEntries(
  SNOOPING.map((on) => {
    const mine = table.filter((r) => r.mld_snooping === on);
    return [on ? 'snooping_on' : 'snooping_off', Object.fromEntries(mine.map((r) => [r.n, +(r.per_instance_ms / mine[0]!.per_instance_ms).toFixed(3)]))];
  }),
);
const largest = table.filter((r) => r.n >= 5000);
emit({
  bench: 'scale',
  form,
  runs: RUNS,
  cpus: (await import('node:os')).cpus().length,
  per_hypervisor: PER_HV,
  security_groups: GROUPS,
  rows: table,
  baseline: `N=${Math.min(...NS)}`,
  per_instance_ratio_vs_baseline: ratios,
  plot: PLOT,
  goals: { n: 5000, verified_s: 60, per_instance_ratio_vs_baseline: '≤ 1 (time per instance not rising with N)' },
  met: largest.length ? largest.every((r) => r.verified_s <= 60) && Object.values(ratios).every((o) => Object.values(o).every((x) => x <= 1.05)) : null,
});
