/**
 * A run's record in its run directory: what was asked for, who owns it, which daemons run where.
 * Written before any kernel object is created (so a crash mid-`up` leaves a record `down` can use)
 * and replaced atomically (write to a temp file, rename).
 */
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { runDir, RUN_ROOT } from '../harness/pod/names.ts';
import type { Pod } from '../harness/pod/pod-file.ts';
import type { PgTarget } from '../harness/control/kea-database.ts';

export interface DaemonRecord {
  /** e.g. "radvd", "kea-dhcp6" */
  name: string;
  node: string;
  ns: string;
  pid: number;
  argv: string[];
  log: string;
  /** Start time of a daemon known by PID and start time rather than its command line (see StartOptions.launch). */
  starttime?: number;
}

export interface RunState {
  run: string;
  podFile: string;
  /** Hash of the pod file's normalized model: a re-run `up` with the same hash reconciles. */
  podHash: string;
  /** PID of the process that owns the run (v6pod test), or null for a pod left up on purpose. */
  owner: number | null;
  /** PID of the `up` that is building the run (while phase is 'creating'). */
  creator?: number;
  phase: 'creating' | 'ready' | 'removing';
  createdAt: string;
  namespaces: string[];
  daemons: DaemonRecord[];
  /** The pod as it runs now: the pod file's, plus instances deployed, minus instances destroyed. */
  pod: Pod;
  /** Each instance's hypervisor port (vnetN), fixed for its lifetime. */
  ports: Record<string, string>;
  /** The PostgreSQL host database, with the postgresql backend: where Kea reads reservations. */
  pg?: PgTarget;
  /** The same database through the run's pooler (a private cluster's PgBouncer): where v6pod's control sessions go. */
  pgControl?: PgTarget;
  /** Instances in the middle of a deploy or destroy (what a crash interrupted). */
  pending: Record<string, 'deploying' | 'destroying'>;
}

export function statePath(run: string): string {
  return `${runDir(run)}/state.json`;
}

export function readState(run: string): RunState | undefined {
  try {
    return JSON.parse(readFileSync(statePath(run), 'utf8')) as RunState;
  } catch {
    return undefined;
  }
}

export function writeState(state: RunState): void {
  mkdirSync(runDir(state.run), { recursive: true });
  const tmp = `${statePath(state.run)}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(state, null, 2)}\n`);
  renameSync(tmp, statePath(state.run));
}

/** Runs that have a run directory. */
export function listRuns(): string[] {
  if (!existsSync(RUN_ROOT)) return [];
  return readdirSync(RUN_ROOT, { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => d.name)
    .sort();
}

export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  // A zombie has exited: one whose parent died waits for init to reap it, which a container's
  // init may never do (a killed rootless command's inner half, netns/userns.ts, is one).
  try {
    return !/^\d+ \(.*\) Z /s.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch (err) {
    return (err as NodeJS.ErrnoException).code !== 'ENOENT';
  }
}

/** Copies a run's daemon logs, configs and state (its evidence) into `dest`. */
export function copyRunLogs(run: string, dest: string): void {
  mkdirSync(dest, { recursive: true });
  for (const f of readdirSync(runDir(run)).filter((n) => /\.(log|out|conf|json)$/.test(n))) cpSync(`${runDir(run)}/${f}`, `${dest}/${f}`);
}

/** Where v6pod's own sessions reach the host database: through the run's pooler when it has one. */
export function controlDatabase(state: RunState): PgTarget | undefined {
  return state.pgControl ?? state.pg;
}
