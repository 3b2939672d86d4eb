/**
 * Waiting for a condition with a bounded deadline: the condition is checked at once and then each
 * time `intervalMs` passes; on the deadline the error names what did not happen.
 */
export class WaitTimeout extends Error {
  override name = 'WaitTimeout';
}

export interface WaitOptions {
  timeoutMs: number;
  /** What is being waited for, in words: "vm1 to hold 2001:db8::1". */
  what: string | (() => string);
  /** Between checks (default 20 ms); a function is asked after each check. */
  intervalMs?: number | (() => number);
}

/**
 * An interval for polling a check whose cost grows with the things it reads: 20 ms, and 0.1 ms more
 * per thing (0.12 s at 1,000, 0.52 s at 5,000), so a large pod's poll is not most of the work.
 */
export function pollIntervalMs(count: number): number {
  return 20 + Math.round(count / 10);
}

export async function waitUntil<T>(check: () => T | undefined | false | Promise<T | undefined | false>, opts: WaitOptions): Promise<T> {
  const deadline = Date.now() + opts.timeoutMs;
  const { intervalMs = 20 } = opts;
  const interval = typeof intervalMs === 'function' ? intervalMs : () => intervalMs;
  for (;;) {
    const result = await check();
    if (result !== undefined && result !== false) return result;
    const left = deadline - Date.now();
    if (left <= 0) {
      const what = typeof opts.what === 'function' ? opts.what() : opts.what;
      throw new WaitTimeout(`timed out after ${(opts.timeoutMs / 1000).toFixed(1)} s waiting for ${what}`);
    }
    await new Promise((r) => setTimeout(r, Math.min(interval(), left)));
  }
}
