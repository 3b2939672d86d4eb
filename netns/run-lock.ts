/**
 * One writer at a time per run (deploy, destroy, up): an exclusive lock file in the run directory
 * holding the writer's PID. A lock whose writer died is taken over, so a crash never wedges a run.
 */
import { openSync, closeSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
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
    unlinkSync(path); // its writer is gone
    return tryLock(path);
  }
}

export async function withRunLock<T>(run: string, fn: () => Promise<T>, timeoutMs = 30_000): Promise<T> {
  const path = `${runDir(run)}/lock`;
  await waitUntil(() => tryLock(path), { timeoutMs, what: `the lock of run ${run} (${path}) to be free` });
  try {
    return await fn();
  } finally {
    try {
      unlinkSync(path);
    } catch {
      // the run directory went away with the run
    }
  }
}
