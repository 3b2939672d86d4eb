/** `v6pod report merge DIR… [--out DIR]`: join shard results into one JUnit file and one report. */
import type { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { RunResult } from '../harness/report/result.ts';
import { makeDir, UsageError } from '../harness/os/usage-error.ts';

function readResult(dir: string): RunResult {
  const path = join(dir, 'result.json');
  try {
    const r = JSON.parse(readFileSync(path, 'utf8')) as RunResult;
    if (r.tool !== 'v6pod' || r.schema !== 1 || !Array.isArray(r.scenarios)) throw new Error('not a v6pod result (schema 1)');
    return r;
  } catch (err) {
    throw new UsageError(
      `${path}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file (is it a v6pod test artifacts directory?)' : (err as Error).message}`,
    );
  }
}

/** Slices of a `--shard I/N` split merge only when all N are there: a merged report covers the whole selection. */
function assertWholeSplit(parts: readonly RunResult[]): void {
  const shards = parts.flatMap((p) => (p.shard ? [p.shard] : []));
  if (!shards.length) return;
  const counts = [...new Set(shards.map((s) => s.count))];
  if (counts.length > 1) throw new UsageError(`the results come from different splits (/${counts.join(', /')}): merge the slices of one split`);
  const n = counts[0]!;
  const missing = Array.from({ length: n }, (_, i) => i + 1).filter((i) => !shards.some((s) => s.index === i));
  if (missing.length) throw new UsageError(`slice ${missing.map((i) => `${i}/${n}`).join(', ')} missing: merge all ${n} slices`);
}

export function registerReport(program: Command): void {
  const report = program.command('report').description('work with the results of `v6pod test`');
  report
    .command('merge')
    .description('join the results of several runs (e.g. --shard slices) into one JUnit file and one report')
    .argument('<dirs...>', 'artifacts directories of the runs')
    .option('--out <dir>', 'where the merged reports go', 'artifacts/merged')
    .action(async (dirs: string[], opts: { out: string }) => {
      const [{ mergeResults }, { writeReports }] = await Promise.all([import('../harness/report/result.ts'), import('../harness/report/artifacts.ts')]);
      const parts = dirs.map(readResult);
      assertWholeSplit(parts);
      const merged = mergeResults(parts);
      const ids = merged.scenarios.map((s) => s.id);
      const dup = ids.find((id, i) => ids.indexOf(id) !== i);
      if (dup) throw new UsageError(`scenario ${dup} appears in more than one result: merge disjoint shards`);
      const out = resolve(opts.out);
      makeDir(out, `--out ${opts.out}`);
      const paths = writeReports(out, merged);
      process.stdout.write(
        `merged ${dirs.length} results: ${merged.totals.passed} passed, ${merged.totals.failed} failed, ${merged.totals.skipped} skipped\nreport ${paths.html}\njunit  ${paths.junit}\n`,
      );
      if (merged.totals.failed > 0) process.exitCode = 1;
    });
}
