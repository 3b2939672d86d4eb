/**
 * The conformance run's figures: `v6pod test` on the default pod, full profile (the release gate),
 * median of 3 runs — wall time including pod up and down (goal ≤ 30 s on 2 cores, issue 17), its parts, and
 * each scenario's median duration. Baseline: the quick profile (slow scenarios skipped), same script.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RunResult } from '../harness/report/result.ts';
import { emit, median, progress } from './_stats.ts';

const CLI = new URL('../bin/v6pod.js', import.meta.url).pathname;
const RUNS = 3;

function conformanceRun(profile: 'full' | 'quick', i: number): RunResult {
  const dir = mkdtempSync(join(tmpdir(), `v6pod-bench-${profile}-`));
  const r = spawnSync('node', [CLI, 'test', '--profile', profile, '--artifacts', dir], { encoding: 'utf8', timeout: 300_000 });
  if (r.status !== 0) throw new Error(`v6pod test --profile ${profile} failed (exit ${r.status}):\n${r.stdout.slice(-2000)}${r.stderr.slice(-2000)}`);
  const result = JSON.parse(readFileSync(join(dir, 'result.json'), 'utf8')) as RunResult;
  progress(`${profile} run ${i}/${RUNS}: ${result.figures.wallSeconds} s wall, ${result.totals.passed} passed`);
  return result;
}

const full = Array.from({ length: RUNS }, (_, i) => conformanceRun('full', i + 1));
const quick = Array.from({ length: RUNS }, (_, i) => conformanceRun('quick', i + 1));
const fig = (runs: RunResult[], k: keyof RunResult['figures']) => +median(runs.map((r) => r.figures[k])).toFixed(3);
const scenarioMs: Record<string, number> = {};
for (const id of full[0]!.scenarios.map((s) => s.id)) scenarioMs[id] = median(full.map((r) => r.scenarios.find((s) => s.id === id)?.durationMs ?? 0));

emit({
  bench: 'conformance',
  runs: RUNS,
  scenarios: full[0]!.scenarios.length,
  wall_s: fig(full, 'wallSeconds'),
  up_s: fig(full, 'upSeconds'),
  scenarios_s: fig(full, 'scenariosSeconds'),
  down_s: fig(full, 'downSeconds'),
  goal_wall_s: 30,
  baseline: 'quick profile (slow scenarios skipped)',
  quick_wall_s: fig(quick, 'wallSeconds'),
  full_over_quick: +(fig(full, 'wallSeconds') / fig(quick, 'wallSeconds')).toFixed(2),
  scenario_ms: scenarioMs,
});
