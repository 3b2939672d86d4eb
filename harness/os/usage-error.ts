/** An error in what the user gave (file, argument, environment): printed as one line, exit code 2. */
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

export class UsageError extends Error {
  override name = 'UsageError';
}

const IO_WORDS: Record<string, string> = {
  ENOENT: 'no such file or directory',
  ENOTDIR: 'not a directory',
  EISDIR: 'is a directory',
  EACCES: 'permission denied',
  EROFS: 'read-only file system',
  ENOSPC: 'no space left on device',
};

/** A file-system error in a few words ("is a directory"), for one-line messages. */
export function ioReason(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  return IO_WORDS[e.code ?? ''] ?? e.message;
}

/**
 * mkdir -p that fails cleanly: Node's recursive mkdirSync spins forever where mkdir keeps failing
 * with ENOENT (under /proc). Throws a UsageError naming `what` and the reason.
 */
export function makeDir(dir: string, what: string): void {
  try {
    const missing: string[] = [];
    for (let d = resolve(dir); !existsSync(d); d = dirname(d)) missing.unshift(d);
    for (const d of missing) mkdirSync(d);
  } catch (err) {
    throw new UsageError(`${what}: cannot create: ${ioReason(err)}`);
  }
}
