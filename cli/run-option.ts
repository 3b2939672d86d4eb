/** Which run a command acts on: the one named, or the only one there is. */
import { listRuns } from '../netns/run-state.ts';
import { checkRunName } from '../harness/pod/names.ts';
import { UsageError } from '../harness/os/usage-error.ts';

export function resolveRun(named: string | undefined): string {
  if (named) {
    const bad = checkRunName(named);
    if (bad) throw new UsageError(bad);
    if (!listRuns().includes(named)) throw new UsageError(`no run '${named}' (runs: ${listRuns().join(', ') || 'none'})`);
    return named;
  }
  const runs = listRuns();
  if (runs.length === 1) return runs[0]!;
  throw new UsageError(runs.length ? `several runs are up (${runs.join(', ')}): name one with --run` : 'no pod is up (v6pod up FILE)');
}
