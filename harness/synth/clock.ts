/**
 * Time as the emulated stack sees it: wall-clock milliseconds and one-shot timers. Injectable, so
 * unit tests step through DAD, RS retransmission and lifetimes without waiting.
 */
export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  // unref: a host's pending timers never keep the daemon alive on their own.
  setTimeout: (fn, ms) => setTimeout(fn, ms).unref(),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};
