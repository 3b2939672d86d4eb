/**
 * Stability of the conformance catalogue: `v6pod test` on the default pod, full profile, N times in
 * a row (default 20; `npm run bench -- stability 5` or V6POD_BENCH_RUNS=5 for fewer) — issue 17's
 * "no verdict may become flaky: 20 consecutive runs, 0 failures". Unlike bench conformance it does
 * not stop at a failing run: it counts, per scenario, the runs it failed in, with the first failure
 * message, and keeps the artifacts of every failing run. Prints one JSON line: runs, failed runs,
 * failures per scenario, wall time and its parts (median, p90, min, max), the load average before
 * the runs and at the end, and the median wall time against the goal (30 s).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RunResult } from '../harness/report/result.ts';
import { emit, median, progress } from './_stats.ts';

const CLI = new URL('../bin/v6pod.js', import.meta.url).pathname;
// `npm run bench -- stability N`: argv[2] is the bench's name, N follows it.
const RUNS = Number(process.argv[3] ?? process.env.V6POD_BENCH_RUNS ?? 20);
const GOAL_WALL_S = 30;

/** The p-th percentile (nearest rank) of `values`. */
function percentile(values: number[], p: number): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}

const spread = (values: number[]) =>
  values.length
    ? {
        median: +median(values).toFixed(3),
        p90: +percentile(values, 90).toFixed(3),
        min: +Math.min(...values).toFixed(3),
        max: +Math.max(...values).toFixed(3),
      }
    : undefined;

const load = () => loadavg().map((l) => +l.toFixed(2));

interface Outcome {
  result?: RunResult;
  /** Why the run gave no result (the command failed before writing one). */
  error?: string;
  artifacts: string;
}

function once(i: number): Outcome {
  const artifacts = mkdtempSync(join(tmpdir(), 'v6pod-bench-stability-'));
  const r = spawnSync('node', [CLI, 'test', '--artifacts', artifacts], { encoding: 'utf8', timeout: 300_000 });
  const file = join(artifacts, 'result.json');
  if (!existsSync(file)) {
    const error = `exit ${r.status ?? r.signal}: ${(r.stderr || r.stdout).trim().split('\n').slice(-3).join(' | ')}`;
    progress(`run ${i}/${RUNS}: no result (${error})`);
    return { error, artifacts };
  }
  const result = JSON.parse(readFileSync(file, 'utf8')) as RunResult;
  progress(`run ${i}/${RUNS}: ${result.figures.wallSeconds} s wall, ${result.totals.passed} passed, ${result.totals.failed} failed (load ${load().join(' ')})`);
  return { result, artifacts };
}

const loadBefore = load();
const outcomes: Outcome[] = [];
for (let i = 1; i <= RUNS; i++) outcomes.push(once(i));

const failures: Record<string, number> = {};
const firstMessage: Record<string, string> = {};
const kept: string[] = [];
for (const o of outcomes) {
  const failed = o.result?.scenarios.filter((s) => s.verdict === 'fail') ?? [];
  for (const s of failed) {
    failures[s.id] = (failures[s.id] ?? 0) + 1;
    firstMessage[s.id] ??= s.failure?.message ?? '';
  }
  // Evidence of a failing run stays; a passing run's folder goes.
  if (o.error || failed.length || (o.result && o.result.totals.passed === 0)) kept.push(o.artifacts);
  else rmSync(o.artifacts, { recursive: true, force: true });
}
const results = outcomes.flatMap((o) => (o.result ? [o.result] : []));
const figure = (k: keyof RunResult['figures']) => spread(results.map((r) => r.figures[k]));
const wall = figure('wallSeconds');

emit({
  bench: 'stability',
  runs: RUNS,
  runs_with_result: results.length,
  failed_runs: outcomes.filter((o) => o.error || (o.result && o.result.totals.failed > 0)).length,
  scenario_failures: Object.values(failures).reduce((a, b) => a + b, 0),
  failures,
  first_failure_message: firstMessage,
  run_errors: outcomes.flatMap((o) => (o.error ? [o.error] : [])),
  scenarios_per_run: results[0]?.totals ? results[0].totals.passed + results[0].totals.failed + results[0].totals.skipped : 0,
  wall_s: wall,
  up_s: figure('upSeconds'),
  scenarios_s: figure('scenariosSeconds'),
  down_s: figure('downSeconds'),
  goal_wall_s: GOAL_WALL_S,
  median_wall_over_goal: wall ? +(wall.median / GOAL_WALL_S).toFixed(2) : null,
  load_before: loadBefore,
  load_after: load(),
  kept_artifacts: kept,
});
