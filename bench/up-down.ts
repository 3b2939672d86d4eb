/**
 * Time from `up` to a ready pod (Kea answering, every instance with its SLAAC address and a default
 * route per router) and time for `down`, medians of several runs: the default pod (goal: up ≤ 1.5 s,
 * down ≤ 0.3 s on 2 cores) and a 50-instance pod; the baseline ratio is the 50-instance pod over the
 * default. `up_phases_ms` holds, per phase of `up` (netns/realize.ts), the median time from the
 * start of `up` to its end (phases overlap: see the ordering in realize.ts). Peak memory is this
 * process's maximum RSS (the orchestrator; daemons are separate). The figures are wall-clock time
 * on a machine that may be shared: `loadavg` is the 1-minute load average before and after, and
 * `before` the figures of the ordering this one replaced (docs/facts.md, "Bringing a pod up").
 * `up` and `down` run compiled, as `v6pod up` runs them (bench/_lifecycle.ts; `form` says which ran).
 */
import { loadavg } from 'node:os';
import { loadPodFile, parsePodFile, type Pod, DEFAULT_POD_FILE } from '../harness/pod/pod-file.ts';
import { uniqueRunName } from '../harness/pod/names.ts';
import { emit, median, progress } from './_stats.ts';
import { podLifecycle } from './_lifecycle.ts';

const { form, up, teardownRun } = await podLifecycle();

function fiftyInstancePod(): Pod {
  const hv = (h: number) => `  - name: hv${h}\n    instances:\n${Array.from({ length: 25 }, (_, i) => `      - name: h${h}vm${i}`).join('\n')}`;
  return parsePodFile(`name: fifty\npod:\n  l2Prefix: 2001:db8:100::/64\n  pdPool: 2001:db8:200::/40\nhypervisors:\n${hv(1)}\n${hv(2)}\n`, 'fifty.yaml');
}

interface Measured {
  up: number;
  down: number;
  phases: Record<string, number>;
}

async function measure(label: string, pod: Pod, runs: number): Promise<Measured> {
  const ups: number[] = [];
  const downs: number[] = [];
  const phases = new Map<string, number[]>();
  for (let i = 1; i <= runs; i++) {
    const runName = uniqueRunName('bench');
    let t = performance.now();
    const onPhase = (phase: string, ms: number) => phases.set(phase, [...(phases.get(phase) ?? []), ms]);
    await up(pod, runName, { podFile: label, owner: process.pid, onPhase });
    ups.push((performance.now() - t) / 1000);
    t = performance.now();
    await teardownRun(runName);
    downs.push((performance.now() - t) / 1000);
    progress(`${label} run ${i}/${runs}: up ${ups.at(-1)!.toFixed(2)} s, down ${downs.at(-1)!.toFixed(2)} s (load ${loadavg()[0]!.toFixed(1)})`);
  }
  const byEnd = [...phases].map(([p, ms]) => [p, Math.round(median(ms))] as const).sort((a, b) => a[1] - b[1]);
  return { up: median(ups), down: median(downs), phases: Object.fromEntries(byEnd) };
}

const round = (x: number) => +x.toFixed(3);
const RUNS = { default: Number(process.env.V6POD_BENCH_RUNS ?? 9), fifty: 3 };
const loadBefore = loadavg()[0]!;
const small = await measure('default', loadPodFile(DEFAULT_POD_FILE), RUNS.default);
const fifty = await measure('50 instances', fiftyInstancePod(), RUNS.fifty);
emit({
  bench: 'up-down',
  form,
  runs: RUNS,
  default_up_s: round(small.up),
  default_down_s: round(small.down),
  up_phases_ms: small.phases,
  fifty_up_s: round(fifty.up),
  fifty_down_s: round(fifty.down),
  baseline: 'default pod (4 instances)',
  fifty_up_ratio_vs_default: round(fifty.up / small.up),
  fifty_down_ratio_vs_default: round(fifty.down / small.down),
  peak_rss_mb: Math.round(process.resourceUsage().maxRSS / 1024),
  loadavg: { before: round(loadBefore), after: round(loadavg()[0]!) },
  // The ordering before issue 17's (instances' eth0 up only after Kea, radvd and the groups, then a
  // wait for its port and its link-local's DAD second): docs/facts.md.
  before: { default_up_s: 2.58, default_down_s: 0.22 },
  goals: { default_up_s: 1.5, default_down_s: 0.3 },
});
