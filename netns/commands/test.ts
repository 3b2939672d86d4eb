/**
 * `v6pod test`: the main job. Brings up a pod under a run name of its own, runs the conformance
 * scenarios (scenarios/*.scenario.ts) against it with mocha, writes JUnit XML and keeps the
 * evidence in the artifacts directory, tears the pod down. Exit 0 only when every selected
 * scenario passes; 1 when one fails; 2 for usage or environment errors.
 */
import type { Command } from 'commander';
import Mocha from 'mocha';
import { readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { up } from '../net/realize.ts';
import { teardownRun } from '../net/teardown.ts';
import { uniqueRunName } from '../net/names.ts';
import { assertNetAdmin } from '../net/privileges.ts';
import { clearCurrentPod, setCurrentPod } from '../../harness/probe/pod-context.ts';
import { DEFAULT_POD_FILE } from './run-option.ts';
import { loadPod } from './up.ts';
import { progressPrinter } from './progress.ts';
import { JUnitReport } from '../../harness/report/junit.ts';

const SCENARIO_DIR = new URL('../../scenarios/', import.meta.url).pathname;

interface TestOptions {
  pod: string;
  grep?: string;
  keep?: boolean;
  artifacts?: string;
}

interface Counts {
  passed: number;
  failed: number;
  pending: number;
}

/** Runs the scenario files; prints one line per scenario and writes JUnit XML to `junitPath`. */
async function runScenarios(files: string[], grep: string | undefined, junitPath: string): Promise<Counts> {
  const mocha = new Mocha({ reporter: Mocha.reporters.Base, timeout: 60_000, ...(grep ? { grep } : {}) });
  files.forEach((f) => mocha.addFile(f));
  await mocha.loadFilesAsync();
  const report = new JUnitReport('v6pod conformance');
  const counts: Counts = { passed: 0, failed: 0, pending: 0 };
  await new Promise<void>((done) => {
    const runner = mocha.run(() => done());
    runner.on('pass', (t) => {
      counts.passed++;
      report.pass(t);
      process.stdout.write(`  ✔ ${t.title} (${t.duration ?? 0} ms)\n`);
    });
    runner.on('fail', (t, err: Error) => {
      counts.failed++;
      report.fail(t, err);
      process.stdout.write(`  ✘ ${t.title}\n      ${err.message.split('\n').join('\n      ')}\n`);
    });
    runner.on('pending', (t) => {
      counts.pending++;
      report.skip(t);
    });
  });
  report.write(junitPath);
  return counts;
}

export function registerTest(program: Command): void {
  program
    .command('test')
    .description('bring up a pod, run the conformance scenarios, write the report, tear the pod down')
    .option('--pod <file>', 'pod file', DEFAULT_POD_FILE)
    .option('--grep <pattern>', 'only scenarios whose "ID title" matches')
    .option('--keep', 'leave the pod up afterwards (v6pod down RUN removes it)')
    .option('--artifacts <dir>', 'where JUnit XML and captures go (default: artifacts/<run>)')
    .action(async (opts: TestOptions) => {
      assertNetAdmin('v6pod test');
      const pod = loadPod(opts.pod);
      const runName = uniqueRunName(pod.name);
      const artifacts = resolve(opts.artifacts ?? join('artifacts', runName));
      const say = progressPrinter();
      const started = Date.now();
      let result: Counts;
      try {
        const { plan } = await up(pod, runName, { podFile: resolve(opts.pod), owner: opts.keep ? null : process.pid, progress: say });
        say(`pod ${runName} ready in ${((Date.now() - started) / 1000).toFixed(2)} s; running scenarios`);
        setCurrentPod(plan, artifacts);
        const files = readdirSync(SCENARIO_DIR).filter((f) => f.endsWith('.scenario.ts')).sort().map((f) => join(SCENARIO_DIR, f));
        result = await runScenarios(files, opts.grep, join(artifacts, 'junit.xml'));
      } finally {
        clearCurrentPod();
        if (!opts.keep) await teardownRun(runName);
      }
      const secs = ((Date.now() - started) / 1000).toFixed(1);
      process.stdout.write(`\nv6pod test: run ${runName}, ${secs} s wall, report ${join(artifacts, 'junit.xml')}${opts.keep ? ` (pod kept: v6pod down ${runName})` : ''}\n`);
      process.stdout.write(`${result.passed} passed, ${result.failed} failed${result.pending ? `, ${result.pending} skipped` : ''}\n`);
      if (result.failed > 0 || result.passed === 0) process.exitCode = 1;
    });
}
