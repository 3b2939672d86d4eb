/**
 * Removing a run: its daemons (by recorded PID and command line), any other process left inside
 * its namespaces, the namespaces (and with them every link), then the run directory. Only objects
 * carrying the run's prefix are touched; `sweepAll` also finds namespaces whose run directory is gone.
 */
import { readdirSync, rmSync, statSync } from 'node:fs';
import { run } from '../harness/os/exec.ts';
import { NS_PREFIX, runDir, runOfNamespace } from '../harness/pod/names.ts';
import { listRuns, processAlive, readState, writeState, type RunState } from './run-state.ts';
import { stopDaemon } from './daemons/process.ts';
import { stopPostgres } from './daemons/postgres.ts';
import { waitUntil } from '../harness/os/wait.ts';

/** Namespaces in /run/netns that carry the v6pod prefix, grouped by run. */
export function v6podNamespaces(): Map<string, string[]> {
  let names: string[];
  try {
    names = readdirSync('/run/netns');
  } catch {
    names = [];
  }
  const byRun = new Map<string, string[]>();
  for (const ns of names.filter((n) => n.startsWith(NS_PREFIX))) {
    const r = runOfNamespace(ns);
    if (r) byRun.set(r, [...(byRun.get(r) ?? []), ns]);
  }
  return byRun;
}

/**
 * The processes inside each of `namespaces` (not this one), by namespace: one pass over /proc
 * comparing each process's network namespace with the namespaces' (what `ip netns pids` does for
 * one namespace, without a spawn per namespace).
 */
function pidsByNamespace(namespaces: readonly string[]): Map<string, number[]> {
  const byInode = new Map<number, string>();
  for (const ns of namespaces) {
    try {
      byInode.set(statSync(`/run/netns/${ns}`).ino, ns);
    } catch {
      // gone already
    }
  }
  const out = new Map<string, number[]>(namespaces.map((ns) => [ns, []]));
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    let inode: number;
    try {
      inode = statSync(`/proc/${entry}/ns/net`).ino;
    } catch {
      continue; // exited meanwhile
    }
    const ns = byInode.get(inode);
    if (ns) out.get(ns)!.push(Number(entry));
  }
  return out;
}

/** True while `pid` runs inside namespace `ns` (same network-namespace inode): a recycled PID elsewhere is not. */
function inNamespace(pid: number, ns: string): boolean {
  try {
    return statSync(`/proc/${pid}/ns/net`).ino === statSync(`/run/netns/${ns}`).ino;
  } catch {
    return false;
  }
}

/** Every process still inside the namespace is ours (it was started there): TERM, then KILL. */
async function emptyNamespace(ns: string, pids: readonly number[]): Promise<void> {
  if (!pids.length) return;
  const signal = (sig: NodeJS.Signals) => {
    for (const p of pids) if (inNamespace(p, ns)) process.kill(p, sig);
  };
  signal('SIGTERM');
  try {
    await waitUntil(() => pids.every((p) => !inNamespace(p, ns)), { timeoutMs: 2000, what: `processes ${pids.join(', ')} in ${ns} to exit` });
  } catch {
    signal('SIGKILL');
  }
}

export async function teardownRun(name: string): Promise<{ namespaces: number; daemons: number }> {
  const start = performance.now();
  // With V6POD_TRACE set, one line per phase on stderr, as `up` prints its own (netns/realize.ts).
  const phase = (what: string) => {
    if (process.env.V6POD_TRACE) process.stderr.write(`v6pod trace: down ${what} ${(performance.now() - start).toFixed(0)} ms\n`);
  };
  const state = readState(name);
  if (state) writeState({ ...state, phase: 'removing' });
  const daemons = state?.daemons ?? [];
  await Promise.all(daemons.map((d) => stopDaemon(d).catch(() => undefined)));
  // A private PostgreSQL cluster restarted since its record was written runs under another PID:
  // stopped through its own pidfile (checked against its data directory), or it outlives the run.
  await stopPostgres(`${runDir(name)}/postgres`).catch(() => undefined);
  phase('daemons');
  const namespaces = [...new Set([...(state?.namespaces ?? []), ...(v6podNamespaces().get(name) ?? [])])];
  const removed = await removeNamespaces(name, namespaces);
  phase('namespaces');
  rmSync(runDir(name), { recursive: true, force: true });
  phase('run-dir');
  return { namespaces: removed, daemons: daemons.length };
}

/** Empties and deletes those of `namespaces` that exist (with every link inside them); returns how many. */
export async function removeNamespaces(runName: string, namespaces: readonly string[]): Promise<number> {
  const existing = new Set(v6podNamespaces().get(runName) ?? []);
  const present = namespaces.filter((ns) => existing.has(ns));
  const pids = pidsByNamespace(present);
  await Promise.all(present.map((ns) => emptyNamespace(ns, pids.get(ns) ?? [])));
  const batch = present.map((ns) => `netns del ${ns}`);
  if (batch.length) await run(['ip', '-force', '-batch', '-'], { input: `${batch.join('\n')}\n`, allowFailure: true });
  return batch.length;
}

/** Runs `down --all` removes: pods left up on purpose, runs whose owner died, and namespaces with no run directory. */
export function sweepableRuns(): string[] {
  const runs = new Set<string>();
  for (const r of listRuns()) {
    const s: RunState | undefined = readState(r);
    // An `up` still building its run (or between creating the directory and its first write) is not an orphan.
    if (s?.phase === 'creating' && s.creator !== undefined && processAlive(s.creator)) continue;
    if (!s && Date.now() - statSync(runDir(r)).mtimeMs < 10_000) continue;
    if (!s || s.owner === null || !processAlive(s.owner)) runs.add(r);
  }
  const withDir = new Set(listRuns());
  for (const r of v6podNamespaces().keys()) if (!withDir.has(r)) runs.add(r);
  return [...runs].sort();
}
