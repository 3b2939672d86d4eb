/**
 * Time as the emulated stack sees it: wall-clock milliseconds and one-shot timers. Injectable, so
 * unit tests step through DAD, RS retransmission and lifetimes without waiting.
 */
export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

interface SystemTimer {
  timeout: NodeJS.Timeout;
  immediate?: NodeJS.Immediate;
}

/**
 * Node's timers, each run after the input that arrived by the time it fired. Node runs due timers
 * before it reads sockets, so a host whose event loop lags (250 instances on a starved core) would
 * retransmit a Solicit whose Advertise already waits in its TAP, and every retransmission is more
 * load for the server: a due timer's callback waits for the I/O phase (setImmediate), and sees it.
 * unref: a host's pending timers never keep the daemon alive on their own.
 */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => {
    const t: Partial<SystemTimer> = {};
    t.timeout = setTimeout(() => (t.immediate = setImmediate(fn).unref()), ms).unref();
    return t;
  },
  clearTimeout: (handle) => {
    const t = handle as SystemTimer | undefined;
    if (!t) return;
    clearTimeout(t.timeout);
    if (t.immediate) clearImmediate(t.immediate);
  },
};
