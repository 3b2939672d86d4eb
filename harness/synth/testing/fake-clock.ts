/** A Clock for unit tests: time moves only when the test advances it, firing due timers in order. */
import type { Clock } from '../clock.ts';

interface Pending {
  at: number;
  seq: number;
  fn: () => void;
}

export class FakeClock implements Clock {
  private pending: Pending[] = [];
  private seq = 0;

  constructor(private time = 1_700_000_000_000) {}

  now(): number {
    return this.time;
  }

  setTimeout(fn: () => void, ms: number): unknown {
    const p = { at: this.time + Math.max(0, ms), seq: this.seq++, fn };
    this.pending.push(p);
    return p;
  }

  clearTimeout(handle: unknown): void {
    this.pending = this.pending.filter((p) => p !== handle);
  }

  /** Moves time forward by `ms`, running each timer that falls due (timers set meanwhile included). */
  advance(ms: number): void {
    const end = this.time + ms;
    for (;;) {
      const next = this.pending.filter((p) => p.at <= end).sort((a, b) => a.at - b.at || a.seq - b.seq)[0];
      if (!next) break;
      this.pending = this.pending.filter((p) => p !== next);
      this.time = next.at;
      next.fn();
    }
    this.time = end;
  }
}
