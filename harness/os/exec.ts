/**
 * Running external commands (ip, sysctl writes, daemons' tools): argument vectors only, never a
 * shell string built from input; a failure becomes one line naming the command and its stderr.
 */
import { spawn } from 'node:child_process';

export class CommandError extends Error {
  override name = 'CommandError';
  constructor(
    readonly argv: string[],
    readonly exitCode: number | null,
    readonly stderr: string,
  ) {
    const last = stderr.trim().split('\n').filter(Boolean).slice(-1)[0] ?? '';
    super(`'${argv.join(' ')}' failed (${exitCode === null ? 'killed' : `exit ${exitCode}`})${last ? `: ${last}` : ''}`);
  }
}

export interface RunOptions {
  /** Run inside this network namespace (ip netns exec). */
  ns?: string;
  /** Written to the command's stdin. */
  input?: string;
  timeoutMs?: number;
  /** Resolve instead of throwing on a non-zero exit. */
  allowFailure?: boolean;
}

export interface RunResult {
  stdout: string;
  stderr: string;
  exitCode: number | null;
}

export function nsArgv(ns: string | undefined, argv: string[]): string[] {
  return ns ? ['ip', 'netns', 'exec', ns, ...argv] : argv;
}

export function run(argv: string[], opts: RunOptions = {}): Promise<RunResult> {
  const full = nsArgv(opts.ns, argv);
  return new Promise((resolve, reject) => {
    const child = spawn(full[0]!, full.slice(1), { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = opts.timeoutMs
      ? setTimeout(() => {
          stderr += `\ntimed out after ${opts.timeoutMs} ms`;
          child.kill('SIGKILL');
        }, opts.timeoutMs)
      : undefined;
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(new CommandError(full, null, err.message));
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      if (code === 0 || opts.allowFailure) resolve({ stdout, stderr, exitCode: code });
      else reject(new CommandError(full, code, stderr));
    });
    child.stdin.on('error', () => undefined); // a command that exits early closes its stdin
    child.stdin.end(opts.input ?? '');
  });
}

/** Runs and parses `ip -json` output. */
export async function ipJson<T>(ns: string | undefined, args: string[]): Promise<T> {
  const { stdout } = await run(['ip', ...(ns ? ['-n', ns] : []), '-json', ...args]);
  return (stdout.trim() ? JSON.parse(stdout) : []) as T;
}
