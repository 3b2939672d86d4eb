/**
 * One long-lived `ip -batch -` process that route changes are written to (docs/facts.md: spawning `ip`
 * costs ~2 ms, so one spawn per route would cap the relay near 500 routes/s). `-force` keeps it
 * going past a failed command; each submission ends with a sentinel command whose output line
 * marks it done, and the "Command failed -:N" lines before it name which of its lines failed.
 * Submissions made in the same turn of the event loop share one write and one sentinel; with
 * `coalesceMs`, so do all submissions within that window (under load a relay sees a Reply or two
 * per turn, and each write and each sentinel costs both processes a little).
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface } from 'node:readline';

export interface BatchFailure {
  line: string;
  error: string;
  /** The line's index in its submission (lines may repeat). */
  index: number;
}

interface Waiter {
  /** Its lines' indexes in the group: [from, to). */
  from: number;
  to: number;
  resolve: (failures: BatchFailure[]) => void;
  reject: (err: Error) => void;
}

interface Group {
  lines: string[];
  waiters: Waiter[];
  /** Indexes of failed lines, with ip's message. */
  failures: { index: number; error: string }[];
  /** ip's line number of lines[0]. */
  first: number;
}

// `-o` prints it as exactly one line starting with "1: lo:", and every namespace has lo as ifindex 1.
const SENTINEL = 'link show dev lo';
const SENTINEL_OUTPUT = /^1: lo:/;
const FAILED = /^Command failed -:(\d+)$/;

export class IpBatch {
  private child: ChildProcessWithoutNullStreams | undefined;
  private lineNo = 0;
  private readonly pending: Group[] = [];
  private group: Group | undefined;
  private lastError = '';

  /**
   * `ns`: run in that namespace (`ip -n`); by default in the caller's own. `coalesceMs`: how long a
   * submission may wait for others to share its write (0: the current turn of the event loop only).
   */
  constructor(
    private readonly ns?: string,
    private readonly coalesceMs = 0,
  ) {}

  private start(): ChildProcessWithoutNullStreams {
    const nsArgs = this.ns ? `-n ${this.ns} ` : '';
    if (this.ns && !/^[\w.-]+$/.test(this.ns)) throw new Error(`bad namespace name '${this.ns}'`);
    // stderr joins stdout so errors and sentinels arrive in the order ip wrote them.
    const child = spawn('sh', ['-c', `exec ip ${nsArgs}-o -force -batch - 2>&1`], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.lineNo = 0;
    createInterface({ input: child.stdout }).on('line', (l) => this.onLine(l));
    child.stdin.on('error', () => undefined); // reported through 'exit'
    child.on('exit', (code, signal) => {
      if (this.child === child) this.child = undefined;
      const err = new Error(`ip -batch exited (${signal ?? `exit ${code}`})`);
      for (const g of this.pending.splice(0)) for (const w of g.waiters) w.reject(err);
    });
    return child;
  }

  private onLine(line: string): void {
    const failed = FAILED.exec(line);
    if (failed) {
      const n = Number(failed[1]);
      const g = this.pending.find((q) => n >= q.first && n < q.first + q.lines.length);
      g?.failures.push({ index: n - g.first, error: this.lastError });
      this.lastError = '';
    } else if (SENTINEL_OUTPUT.test(line)) {
      const g = this.pending.shift();
      for (const w of g?.waiters ?? []) {
        w.resolve(
          g!.failures.filter((f) => f.index >= w.from && f.index < w.to).map((f) => ({ line: g!.lines[f.index]!, error: f.error, index: f.index - w.from })),
        );
      }
    } else {
      this.lastError = line.trim();
    }
  }

  /** Runs the lines in order; resolves once all ran, with the ones that failed. */
  submit(lines: readonly string[]): Promise<BatchFailure[]> {
    if (lines.some((l) => l.includes('\n'))) throw new Error('an ip -batch line must not contain a newline');
    if (!this.group) {
      this.group = { lines: [], waiters: [], failures: [], first: 0 };
      if (this.coalesceMs > 0) setTimeout(() => this.flush(), this.coalesceMs);
      else setImmediate(() => this.flush());
    }
    const g = this.group;
    return new Promise((resolve, reject) => {
      g.waiters.push({ from: g.lines.length, to: g.lines.length + lines.length, resolve, reject });
      g.lines.push(...lines);
    });
  }

  private flush(): void {
    const g = this.group!;
    this.group = undefined;
    let child: ChildProcessWithoutNullStreams;
    try {
      child = this.child ??= this.start();
    } catch (err) {
      for (const w of g.waiters) w.reject(err as Error);
      return;
    }
    g.first = this.lineNo + 1;
    this.lineNo += g.lines.length + 1;
    this.pending.push(g);
    child.stdin.write(`${[...g.lines, SENTINEL].join('\n')}\n`);
  }

  async close(): Promise<void> {
    const child = this.child;
    if (!child) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.stdin.end();
    await exited;
  }
}
