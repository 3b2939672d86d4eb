/**
 * Time from `up` to a ready pod (Kea answering, every instance with its SLAAC address and a default
 * route per router) and time for `down`, medians of several runs: the default pod (goal: up ≤ 1.5 s,
 * down ≤ 0.5 s on 2 cores) and a 50-instance pod; the baseline ratio is the 50-instance pod over the
 * default. Peak memory is this process's maximum RSS (the orchestrator; daemons are separate).
 */
import { loadPodFile, parsePodFile, type Pod, DEFAULT_POD_FILE } from '../harness/pod/pod-file.ts';
import { up } from '../netns/realize.ts';
import { teardownRun } from '../netns/teardown.ts';
import { uniqueRunName } from '../harness/pod/names.ts';
import { emit, median, progress } from './_stats.ts';

function fiftyInstancePod(): Pod {
  const hv = (h: number) => `  - name: hv${h}\n    instances:\n${Array.from({ length: 25 }, (_, i) => `      - name: h${h}vm${i}`).join('\n')}`;
  return parsePodFile(`name: fifty\npod:\n  l2Prefix: 2001:db8:100::/64\n  pdPool: 2001:db8:200::/40\nhypervisors:\n${hv(1)}\n${hv(2)}\n`, 'fifty.yaml');
}

async function measure(label: string, pod: Pod, runs: number): Promise<{ up: number; down: number }> {
  const ups: number[] = [];
  const downs: number[] = [];
  for (let i = 1; i <= runs; i++) {
    const runName = uniqueRunName('bench');
    let t = performance.now();
    await up(pod, runName, { podFile: label, owner: process.pid });
    ups.push((performance.now() - t) / 1000);
    t = performance.now();
    await teardownRun(runName);
    downs.push((performance.now() - t) / 1000);
    progress(`${label} run ${i}/${runs}: up ${ups.at(-1)!.toFixed(2)} s, down ${downs.at(-1)!.toFixed(2)} s`);
  }
  return { up: median(ups), down: median(downs) };
}

const round = (x: number) => +x.toFixed(3);
const small = await measure('default', loadPodFile(DEFAULT_POD_FILE), 5);
const fifty = await measure('50 instances', fiftyInstancePod(), 3);
emit({
  bench: 'up-down',
  runs: { default: 5, fifty: 3 },
  default_up_s: round(small.up),
  default_down_s: round(small.down),
  fifty_up_s: round(fifty.up),
  fifty_down_s: round(fifty.down),
  baseline: 'default pod (4 instances)',
  fifty_up_ratio_vs_default: round(fifty.up / small.up),
  fifty_down_ratio_vs_default: round(fifty.down / small.down),
  peak_rss_mb: Math.round(process.resourceUsage().maxRSS / 1024),
  goals: { default_up_s: 1.5, default_down_s: 0.5 },
});
