/**
 * Waiting for a condition with a bounded deadline: the condition is checked at once and then each
 * time `intervalMs` passes (or `wake` fires); on the deadline the error names what did not happen.
 */
export class WaitTimeout extends Error {
  override name = 'WaitTimeout';
}

export interface WaitOptions {
  timeoutMs: number;
  /** What is being waited for, in words: "vm1 to hold 2001:db8::1". */
  what: string | (() => string);
  intervalMs?: number;
}

export async function waitUntil<T>(check: () => T | undefined | false | Promise<T | undefined | false>, opts: WaitOptions): Promise<T> {
  const deadline = Date.now() + opts.timeoutMs;
  const interval = opts.intervalMs ?? 20;
  for (;;) {
    const result = await check();
    if (result !== undefined && result !== false) return result;
    const left = deadline - Date.now();
    if (left <= 0) {
      const what = typeof opts.what === 'function' ? opts.what() : opts.what;
      throw new WaitTimeout(`timed out after ${(opts.timeoutMs / 1000).toFixed(1)} s waiting for ${what}`);
    }
    await new Promise((r) => setTimeout(r, Math.min(interval, left)));
  }
}
