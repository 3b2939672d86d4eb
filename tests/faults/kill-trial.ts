/**
 * One kill trial (shared by kill-trials.test.ts and bench/reliability.ts): `v6pod VERB` spawned,
 * frozen (SIGSTOP) at the trial's kill point so what it started can be recorded, SIGKILLed; the
 * commands it left running in the root namespace (an `ip -batch` half-way) are waited for; then
 * `v6pod down <run>` for each run it left (or `down --all` first, only when no run of anyone
 * else is sweepable). Returns what `down` refused and what was left behind (both empty when clean).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Pod } from '../../harness/pod/pod-file.ts';
import { up } from '../../netns/realize.ts';
import { sweepableRuns, v6podNamespaces } from '../../netns/teardown.ts';
import { readState } from '../../netns/run-state.ts';
import { waitUntil } from '../../harness/os/wait.ts';
import { descendants, leftovers, netnsOf, prng, procRef, processesInRun, runsWithPrefix, spawnV6pod, stillRunning, v6pod, type ProcRef } from './testing.ts';

/**
 * Kill windows: for up and test, ms after spawn (node + tsx start ~0.7 s, then the verb's work on a
 * 7-node pod); for down, ms after it marked the run 'removing' (its teardown takes ~0.3 s).
 */
export const KILL_WINDOW = { up: [500, 2200], test: [500, 2500], down: [0, 120] } as const;
export type KillVerb = keyof typeof KILL_WINDOW;

export interface KillTrial {
  i: number;
  verb: KillVerb;
  delayMs: number;
  /** `down --all` before `down <run>` (only when nobody else's run is sweepable at that moment). */
  all: boolean;
}

export function killSchedule(seed: number, verbs: readonly KillVerb[], window: Record<KillVerb, readonly [number, number]> = KILL_WINDOW): KillTrial[] {
  const rng = prng(seed);
  return verbs.map((verb, i) => ({ i, verb, delayMs: rng.between(window[verb][0], window[verb][1]), all: verb !== 'down' && i % 6 === 5 }));
}

export interface KillOutcome {
  killed: boolean;
  /** Where it was when it died: each run's phase, namespaces and daemons. */
  at: string;
  downFailures: string[];
  leaked: string[];
  /** What the killed v6pod printed. */
  output: string;
}

const delay = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Runs one trial; `pod`/`podFile` name a pod whose name no one else's run starts with. */
export async function killTrial(t: KillTrial, pod: Pod, podFile: string): Promise<KillOutcome> {
  const prefix = `${pod.name}-`;
  const named = t.verb === 'test' ? undefined : `${prefix}${t.verb[0]}${t.i}`;
  if (t.verb === 'down') await up(pod, named!, { podFile, owner: process.pid });
  const artifacts = mkdtempSync(join(tmpdir(), `${pod.name}-art-`));
  const args =
    t.verb === 'up'
      ? ['up', podFile, '--run', named!]
      : t.verb === 'down'
        ? ['down', named!]
        : ['test', '--pod', podFile, '--grep', 'SLAAC-00[12] ', '--profile', 'quick', '--artifacts', artifacts];
  const { child, output, exited } = spawnV6pod(args);
  let done = false;
  void exited.then(() => (done = true));
  // down's own work is short and starts after node's: its kill point counts from the run marked 'removing'.
  if (t.verb === 'down')
    await waitUntil(() => done || readState(named!)?.phase !== 'ready', { timeoutMs: 15_000, intervalMs: 2, what: `down ${named} to start removing` });
  const finished = await Promise.race([exited.then(() => true), delay(t.delayMs).then(() => done)]);

  const seen: ProcRef[] = [];
  if (!finished) child.kill('SIGSTOP');
  const started = finished ? [] : descendants(child.pid!);
  for (const r of runsWithPrefix(prefix)) {
    seen.push(...(await processesInRun(r)));
    for (const d of readState(r)?.daemons ?? []) {
      const ref = procRef(d.pid);
      if (ref?.cmd.endsWith(d.argv.join(' '))) seen.push(ref);
    }
  }
  if (!finished) child.kill('SIGKILL');
  await exited;
  const at =
    runsWithPrefix(prefix)
      .map(
        (r) => `${r}: ${readState(r)?.phase ?? 'no state'}, ${v6podNamespaces().get(r)?.length ?? 0} namespaces, ${readState(r)?.daemons.length ?? 0} daemons`,
      )
      .join('; ') || 'no run yet';

  const rootNs = netnsOf(process.pid);
  await waitUntil(() => started.every((p) => !stillRunning(p) || netnsOf(p.pid) !== rootNs), {
    timeoutMs: 15_000,
    what: () =>
      `commands the killed v6pod left in the root namespace to end: ${started
        .filter(stillRunning)
        .map((p) => p.cmd)
        .join('; ')}`,
  });
  const runs = [...new Set([...runsWithPrefix(prefix), ...(named ? [named] : [])])];
  for (const r of runs) seen.push(...(await processesInRun(r)));
  seen.push(...started.filter((p) => stillRunning(p) && netnsOf(p.pid) !== rootNs));

  const downFailures: string[] = [];
  if (t.all && sweepableRuns().every((r) => r.startsWith(prefix))) {
    const res = await v6pod(['down', '--all']);
    if (res.status !== 0) downFailures.push(`down --all (exit ${res.status}): ${res.stderr.trim()}`);
  }
  for (const r of runs) {
    const res = await v6pod(['down', r]);
    // A run swept by down --all, or killed before it made its run directory, is "no run": fine when nothing is left.
    const noRun = res.status === 2 && /^v6pod: no run '/.test(res.stderr) && (await leftovers(r)).length === 0;
    if (res.status !== 0 && !noRun) downFailures.push(`down ${r} (exit ${res.status}): ${res.stderr.trim()}`);
  }

  const leaked: string[] = [];
  for (const r of runs) leaked.push(...(await leftovers(r)));
  leaked.push(...runsWithPrefix(prefix).map((r) => `run ${r}`));
  // SIGKILLed by down a moment ago: gone once the kernel has finished them.
  const survivors = () => seen.filter(stillRunning);
  await waitUntil(() => survivors().length === 0, { timeoutMs: 5000, what: 'processes of the run to be gone' }).catch(() => undefined);
  leaked.push(...survivors().map((p) => `process ${p.pid} ${p.cmd}`));
  rmSync(artifacts, { recursive: true, force: true });
  return { killed: !finished, at, downFailures, leaked: [...new Set(leaked)], output: output() };
}
