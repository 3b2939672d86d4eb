/**
 * The conformance run (`v6pod test`): brings up a pod under a run name of its own, runs the
 * catalogue (scenarios/*.scenario.ts, scenarios/scale/ or scenarios/guests/) against it with mocha, keeps the
 * evidence, tears the pod down and returns the run's result; the caller writes the reports.
 */
import Mocha from 'mocha';
import { readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { copyRunLogs } from '../../netns/run-state.ts';
import { up } from '../../netns/realize.ts';
import { teardownRun } from '../../netns/teardown.ts';
import { uniqueRunName } from '../pod/names.ts';
import type { Plan } from '../pod/plan.ts';
import type { Pod } from '../pod/pod-file.ts';
import { podGraph, toDot } from '../pod/graph.ts';
import { run } from '../os/exec.ts';
import { makeDir, UsageError } from '../os/usage-error.ts';
import { clearCurrentPod, setCurrentPod } from '../probe/pod-context.ts';
import { ProbeAgent } from '../probe/agent-client.ts';
import { evidenceOf, scenarioFiles, scenarioOf } from '../probe/scenario.ts';
import { areaOf, totalsOf, type RunResult, type ScenarioResult } from './result.ts';
import { endpointNames, packetLadder } from './ladder.ts';

export interface ConformanceRunOptions {
  /** The pod file's path (recorded in the result). */
  podFile: string;
  grep?: string;
  profile: 'quick' | 'full' | 'scale' | 'guests';
  /** "I/N": the I-th of N deterministic slices of the catalogue. */
  shard?: string;
  /** Leave the pod up afterwards. */
  keep?: boolean;
  /** Keep the captures of passing scenarios too. */
  keepArtifacts?: boolean;
  /** Where reports and evidence go (default: artifacts/<run>). */
  artifacts?: string;
}

export function parseShard(text: string | undefined): { index: number; count: number } | undefined {
  if (text === undefined) return undefined;
  const m = /^(\d+)\/(\d+)$/.exec(text);
  const shard = m ? { index: Number(m[1]), count: Number(m[2]) } : undefined;
  if (!shard || shard.count < 1 || shard.index < 1 || shard.index > shard.count) throw new UsageError(`--shard '${text}' must be I/N with 1 ≤ I ≤ N`);
  return shard;
}

/** Keeps the I-th of N slices of the catalogue: scenario k (in ID order) belongs to shard k mod N + 1. */
function keepShard(suite: Mocha.Suite, shard: { index: number; count: number }): void {
  const all: Mocha.Test[] = [];
  const walk = (s: Mocha.Suite) => {
    all.push(...s.tests);
    s.suites.forEach(walk);
  };
  walk(suite);
  const ids = all.map((t) => t.title).sort();
  const mine = new Set(ids.filter((_, k) => k % shard.count === shard.index - 1));
  const prune = (s: Mocha.Suite) => {
    s.tests = s.tests.filter((t) => mine.has(t.title));
    s.suites.forEach(prune);
  };
  prune(suite);
}

interface Scenarios {
  results: ScenarioResult[];
  seconds: number;
}

async function runScenarios(plan: Plan, artifacts: string, opts: ConformanceRunOptions): Promise<Scenarios> {
  const started = Date.now();
  const mocha = new Mocha({ reporter: Mocha.reporters.Base, timeout: 60_000, ...(opts.grep ? { grep: opts.grep } : {}) });
  scenarioFiles(opts.profile === 'scale' || opts.profile === 'guests' ? opts.profile : 'conformance').forEach((f) => mocha.addFile(f));
  await mocha.loadFilesAsync();
  // Scenarios that share work (the matrix's capture windows) do it only for what this run selects: the grep as mocha applies it.
  const grep = mocha.options.grep;
  if (grep instanceof RegExp) setCurrentPod(plan, artifacts, { profile: opts.profile, grep });
  const shard = parseShard(opts.shard);
  if (shard) keepShard(mocha.suite, shard);
  const names = endpointNames(plan);
  const results: ScenarioResult[] = [];
  const record = (t: Mocha.Runnable, verdict: ScenarioResult['verdict'], err?: Error & { expected?: unknown; actual?: unknown; showDiff?: boolean }) => {
    const meta = scenarioOf(t.title) ?? { id: t.title.split(' ')[0]!, title: t.title, reference: '', proves: '' };
    const named = readdirSync(artifacts).filter((f) => f.startsWith(`${meta.id}`) && f.endsWith('.pcap'));
    const pcaps = [...new Set([...named, ...evidenceOf(meta.id).map((f) => relative(artifacts, f))])];
    const result: ScenarioResult = { ...meta, area: areaOf(meta.id), verdict, durationMs: t.duration ?? 0, pcaps };
    if (err) {
      result.failure = {
        message: err.message,
        ...(err.showDiff !== false && err.expected !== undefined ? { expected: JSON.stringify(err.expected), actual: JSON.stringify(err.actual) } : {}),
      };
      result.ladders = Object.fromEntries(pcaps.map((p) => [p, packetLadder(join(artifacts, p), names)]));
    }
    results.push(result);
  };
  await new Promise<void>((done) => {
    const runner = mocha.run(() => done());
    runner.on('test', (t) => {
      const meta = scenarioOf(t.title);
      if ((meta?.slow || meta?.notInQuickSample) && opts.profile === 'quick') t.pending = true;
    });
    runner.on('pass', (t) => {
      record(t, 'pass');
      process.stdout.write(`  ✔ ${t.title} (${t.duration ?? 0} ms)\n`);
    });
    runner.on('fail', (t, err: Error) => {
      record(t, 'fail', err);
      process.stdout.write(`  ✘ ${t.title}\n      ${err.message.split('\n').join('\n      ')}\n`);
    });
    runner.on('pending', (t) => {
      record(t, 'skip');
      const unsupported = scenarioOf(t.title)?.unsupported;
      process.stdout.write(`  - ${t.title} (${unsupported ? `unsupported: ${unsupported}` : 'skipped'})\n`);
    });
  });
  if (!opts.keepArtifacts) dropPassingEvidence(artifacts, results);
  return { results, seconds: (Date.now() - started) / 1000 };
}

/**
 * Evidence is kept for failures; passes keep theirs only with --keep-artifacts. A capture shared by
 * several scenarios (one window proving many matrix cells) stays while any of them failed.
 */
function dropPassingEvidence(artifacts: string, results: ScenarioResult[]): void {
  const failing = new Set(results.filter((r) => r.verdict === 'fail').flatMap((r) => r.pcaps));
  for (const r of results) {
    if (r.verdict !== 'pass') continue;
    for (const p of r.pcaps) if (!failing.has(p)) rmSync(join(artifacts, p), { force: true });
    r.pcaps = [];
  }
}

/** The topology as SVG (Graphviz) and the daemons' logs, next to the reports. */
async function saveEvidence(plan: Plan, artifacts: string): Promise<void> {
  const dot = toDot(podGraph(plan));
  writeFileSync(join(artifacts, 'topology.dot'), dot);
  const svg = await run(['dot', '-Tsvg'], { input: dot, allowFailure: true });
  if (svg.exitCode === 0) writeFileSync(join(artifacts, 'topology.svg'), svg.stdout);
  copyRunLogs(plan.run, join(artifacts, 'logs'));
}

/**
 * Runs the catalogue on `pod`: up, scenarios, evidence, down (unless `keep`). `say` gets progress lines.
 * Returns the result and the artifacts directory.
 */
export async function conformanceRun(pod: Pod, opts: ConformanceRunOptions, say: (line: string) => void): Promise<{ result: RunResult; artifacts: string }> {
  const runName = uniqueRunName(pod.name);
  const artifacts = resolve(opts.artifacts ?? join('artifacts', runName));
  makeDir(artifacts, `--artifacts ${opts.artifacts ?? artifacts}`);
  const started = Date.now();
  let upSeconds: number;
  let scenarios: Scenarios;
  let downStarted: number;
  try {
    const { plan } = await up(pod, runName, { podFile: resolve(opts.podFile), owner: opts.keep ? null : process.pid, progress: say });
    upSeconds = (Date.now() - started) / 1000;
    say(`pod ${runName} ready in ${upSeconds.toFixed(2)} s; running scenarios`);
    setCurrentPod(plan, artifacts, { profile: opts.profile });
    scenarios = await runScenarios(plan, artifacts, opts);
    await saveEvidence(plan, artifacts);
  } finally {
    await ProbeAgent.closeShared();
    clearCurrentPod();
    downStarted = Date.now();
    if (!opts.keep) await teardownRun(runName);
  }
  const now = Date.now();
  const result: RunResult = {
    tool: 'v6pod',
    schema: 1,
    run: runName,
    podFile: resolve(opts.podFile),
    relay: { kind: pod.relay, ...(pod.relayCommand ? { command: pod.relayCommand } : {}), macSources: [...pod.kea.macSources] },
    ...(opts.shard ? { shard: parseShard(opts.shard)! } : {}),
    startedAt: new Date(started).toISOString(),
    figures: {
      wallSeconds: +((now - started) / 1000).toFixed(3),
      upSeconds: +upSeconds.toFixed(3),
      scenariosSeconds: +scenarios.seconds.toFixed(3),
      downSeconds: +((now - downStarted) / 1000).toFixed(3),
    },
    totals: totalsOf(scenarios.results),
    scenarios: scenarios.results,
  };
  return { result, artifacts };
}
