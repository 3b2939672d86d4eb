/**
 * `v6pod graph [FILE] [--run NAME] [--format mermaid|dot|svg] [-o OUT]`: the pod's topology from
 * its plan. FILE needs no running pod; without FILE, the pod of the run (named, or the only one),
 * or the default pod when none is up. svg is Graphviz's rendering of the dot text.
 */
import { writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import type { Plan } from '../harness/pod/plan.ts';
import { run } from '../harness/os/exec.ts';
import { ioReason, UsageError } from '../harness/os/usage-error.ts';
import { checkRunName } from '../harness/pod/names.ts';
import { DEFAULT_POD_FILE } from '../harness/pod/pod-choices.ts';
import { loadPod } from './up.ts';

const FORMATS = ['mermaid', 'dot', 'svg'] as const;
type Format = (typeof FORMATS)[number];

export async function renderGraph(plan: Plan, format: Format): Promise<string> {
  const { podGraph, toDot, toMermaid } = await import('../harness/pod/graph.ts');
  const g = podGraph(plan);
  if (format === 'mermaid') return toMermaid(g);
  if (format === 'dot') return toDot(g);
  return (await run(['dot', '-Tsvg'], { input: toDot(g) })).stdout;
}

async function planFor(file: string | undefined, runName: string | undefined): Promise<Plan> {
  const [{ buildPlan }, { planOfRun }, { listRuns }, { resolveRun }] = await Promise.all([
    import('../harness/pod/plan.ts'),
    import('../netns/inspect.ts'),
    import('../netns/run-state.ts'),
    import('./run-option.ts'),
  ]);
  const bad = runName ? checkRunName(runName) : undefined;
  if (bad) throw new UsageError(bad);
  if (file) {
    const pod = await loadPod(file);
    return buildPlan(pod, runName ?? pod.name);
  }
  if (!runName && listRuns().length === 0) {
    const pod = await loadPod(DEFAULT_POD_FILE);
    return buildPlan(pod, pod.name);
  }
  return planOfRun(resolveRun(runName)).plan;
}

export function registerGraph(program: Command): void {
  program
    .command('graph')
    .description('draw the pod topology (nodes by role with key addresses, links with interface names)')
    .argument('[file]', 'pod file (default: the running pod, else the default pod)')
    .option('--run <name>', 'run whose pod to draw')
    .option('--format <format>', `${FORMATS.join(', ')} (svg needs Graphviz)`, 'mermaid')
    .option('-o, --output <file>', 'write to this file instead of stdout')
    .action(async (file: string | undefined, opts: { run?: string; format: string; output?: string }) => {
      if (!FORMATS.includes(opts.format as Format)) throw new UsageError(`--format ${opts.format}: expected one of ${FORMATS.join(', ')}`);
      const text = await renderGraph(await planFor(file, opts.run), opts.format as Format);
      if (opts.output) {
        try {
          writeFileSync(opts.output, text);
        } catch (err) {
          throw new UsageError(`${opts.output}: cannot write: ${ioReason(err)}`);
        }
      } else process.stdout.write(text);
    });
}
