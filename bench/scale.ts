/**
 * Scale: pods of N synthetic instances (4 hypervisors × N/4, one /60 each, security
 * groups on, half the instances in a group with user rules), for N = 100, 250, 500, 1,000 —
 * `npm run bench -- scale [N…]` picks other sizes. Per N, medians of several runs, all from the
 * moment `up` is called:
 *   ready_s      `up` returned: every instance holds its SLAAC address and both default routes
 *   sg_apply_s   the security-group phase of `up` (every instance's rules, one transaction per hypervisor)
 *   delegated_s  every instance holds exactly its reserved prefixes and both routers route each one
 *   verified_s   and the scale profile's checks passed for all: SLAAC, delegation, routes, groups in force
 *   peak_rss_mb  the peak resident memory of v6pod's processes (this orchestrator, the relays, the
 *                synthetic hosts), summed; kea_rss_mb Kea's
 * Time per instance at each N against N = the smallest (the baseline) says whether growth is linear.
 * Writes an SVG plot of the times against N (artifacts/bench-scale.svg, or V6POD_BENCH_PLOT).
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parsePodFile, type Pod } from '../harness/pod/pod-file.ts';
import { up } from '../netns/realize.ts';
import { teardownRun } from '../netns/teardown.ts';
import { uniqueRunName } from '../harness/pod/names.ts';
import { readState } from '../netns/run-state.ts';
import { observeAll, usable } from '../netns/observe.ts';
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
import { lineChart } from './_plot.ts';

const SIZES = process.argv
  .slice(3)
  .map(Number)
  .filter((n) => n > 0);
const NS = SIZES.length ? SIZES : [100, 250, 500, 1000];
const RUNS = Number(process.env.V6POD_BENCH_RUNS ?? 3);
const HYPERVISORS = 4;
const PLOT = resolve(process.env.V6POD_BENCH_PLOT ?? 'artifacts/bench-scale.svg');

function scalePod(n: number): Pod {
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

interface Sample {
  ready: number;
  sgApply: number;
  delegated: number;
  verified: number;
  v6podMb: number;
  keaMb: number;
}

async function once(n: number, pod: Pod): Promise<Sample> {
  const runName = uniqueRunName('bsc');
  const t0 = performance.now();
  const since = () => (performance.now() - t0) / 1000;
  let sgStart = 0;
  let sgEnd = 0;
  const say = (msg: string) => {
    if (msg.startsWith('applying security groups')) sgStart = since();
    else if (sgStart && !sgEnd) sgEnd = since();
  };
  try {
    const { plan } = await up(pod, runName, { podFile: `scale-${n}.yaml`, owner: process.pid, progress: say, readyTimeoutMs: 120_000 });
    const ready = since();
    const reserved = await reservationsByMac(plan);
    const clients = plan.instances.filter((i) => i.dhcp);
    await untilNoShortfall('delegated', () => delegationShortfalls(plan, clients, reserved), n, 120_000);
    await untilNoShortfall('routed', () => routeShortfalls(plan, clients, reserved), n, 120_000);
    const delegated = since();
    await verifyAll(plan, reserved);
    const verified = since();
    const daemons = readState(runName)!.daemons;
    const ours = daemons.filter((d) => d.name === 'dhcp6-relay' || d.name === 'synth-host').map((d) => d.pid);
    const kea = daemons.find((d) => d.name === 'kea-dhcp6')!.pid;
    return {
      ready,
      sgApply: sgEnd - sgStart,
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
  const sg = await securityGroupShortfalls(plan, plan.instances, reserved);
  if (sg.length) throw new Error(describeShortfalls(sg, plan.instances.length));
}

const rows: Array<Record<string, number>> = [];
for (const n of NS) {
  const pod = scalePod(n);
  const samples: Sample[] = [];
  for (let r = 1; r <= RUNS; r++) {
    samples.push(await once(n, pod));
    const s = samples.at(-1)!;
    progress(
      `N=${n} run ${r}/${RUNS}: ready ${s.ready.toFixed(2)} s, SG ${s.sgApply.toFixed(2)} s, delegated+routed ${s.delegated.toFixed(2)} s, verified ${s.verified.toFixed(2)} s, v6pod ${s.v6podMb.toFixed(0)} MiB, Kea ${s.keaMb.toFixed(0)} MiB`,
    );
  }
  const m = (k: keyof Sample) => +median(samples.map((s) => s[k])).toFixed(3);
  rows.push({
    n,
    ready_s: m('ready'),
    delegated_s: m('delegated'),
    sg_apply_s: m('sgApply'),
    verified_s: m('verified'),
    peak_rss_mb: Math.round(m('v6podMb')),
    kea_rss_mb: Math.round(m('keaMb')),
  });
}

const base = rows[0]!;
const perInstance = (row: Record<string, number>) => row.verified_s! / row.n!;
mkdirSync(dirname(PLOT), { recursive: true });
writeFileSync(
  PLOT,
  lineChart(
    'v6pod: time from up, synthetic instances (medians)',
    'instances (N)',
    'seconds from up',
    (['ready_s', 'sg_apply_s', 'delegated_s', 'verified_s'] as const).map((k) => ({ label: k, points: rows.map((r) => [r.n!, r[k]!] as [number, number]) })),
  ),
);
const last = rows.at(-1)!;
emit({
  bench: 'scale',
  runs: RUNS,
  cpus: (await import('node:os')).cpus().length,
  rows,
  baseline: `N=${base.n}`,
  // Above 1: time per instance grew with N (worse than linear); at or below 1: linear or better.
  per_instance_ratio_vs_baseline: Object.fromEntries(rows.map((r) => [r.n, +(perInstance(r) / perInstance(base)).toFixed(3)])),
  plot: PLOT,
  goals: { n: 1000, verified_s: 30, per_instance_ratio_vs_baseline: '≤ 1 (no worse than linear)' },
  met: last.n! >= 1000 ? last.verified_s! <= 30 : null,
});
