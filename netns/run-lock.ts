/**
 * One writer at a time: an exclusive lock file holding its holder's PID (`withPidLock`); a lock
 * whose holder died is taken over, so a crash never wedges anything. Per run (deploy, destroy, up):
 * `withRunLock`; the rootless keeper's start, entry and stop use one too (netns/userns-keeper.ts).
 */
import { openSync, closeSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { runDir } from '../harness/pod/names.ts';
import { processAlive } from './run-state.ts';
import { waitUntil } from '../harness/os/wait.ts';

function tryLock(path: string): boolean {
  try {
    const fd = openSync(path, 'wx');
    writeSync(fd, String(process.pid));
    closeSync(fd);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    const holder = Number(readFileSync(path, 'utf8').trim() || NaN);
    if (Number.isInteger(holder) && holder !== process.pid && processAlive(holder)) return false;
    rmSync(path, { force: true }); // its holder is gone
    return tryLock(path);
  }
}

/** Runs `fn` holding the lock file `path` (waiting up to `timeoutMs` for it); `what` names it in the timeout. */
export async function withPidLock<T>(path: string, what: string, fn: () => Promise<T> | T, opts: { timeoutMs?: number; intervalMs?: number } = {}): Promise<T> {
  await waitUntil(() => tryLock(path), {
    timeoutMs: opts.timeoutMs ?? 30_000,
    what: `${what} (${path}) to be free`,
    ...(opts.intervalMs ? { intervalMs: opts.intervalMs } : {}),
  });
  try {
    return await fn();
  } finally {
    rmSync(path, { force: true }); // gone already when the run directory went away with the run
  }
}

export function withRunLock<T>(run: string, fn: () => Promise<T>, timeoutMs = 30_000): Promise<T> {
  return withPidLock(`${runDir(run)}/lock`, `the lock of run ${run}`, fn, { timeoutMs });
}
