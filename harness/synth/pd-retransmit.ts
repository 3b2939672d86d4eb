/**
 * DHCPv6 client retransmission (RFC 8415 §15) and the client's parameters (§7.6): each exchange
 * sends its first message, waits RT = IRT + RAND·IRT, then doubles RT (2·RTprev + RAND·RTprev,
 * capped near MRT as MRT + RAND·MRT) until an answer, MRC transmissions or MRD elapsed. RAND is
 * uniform in [-0.1, 0.1]; for the first Solicit it is strictly positive, so every Advertise of the
 * first RT is collected.
 */
import type { Clock } from './clock.ts';

/** Times in ms; 0 = no limit (MRT, MRC, MRD). */
export interface RetransmissionParams {
  irt: number;
  mrt: number;
  mrc: number;
  mrd: number;
}

const s = 1000;
/** RFC 8415 §7.6. Renew's MRD is the time left until T2, Rebind's until the last valid lifetime ends: set per exchange. */
export const CLIENT_PARAMS = {
  solicit: { irt: 1 * s, mrt: 3600 * s, mrc: 0, mrd: 0 },
  request: { irt: 1 * s, mrt: 30 * s, mrc: 10, mrd: 0 },
  renew: { irt: 10 * s, mrt: 600 * s, mrc: 0, mrd: 0 },
  rebind: { irt: 10 * s, mrt: 600 * s, mrc: 0, mrd: 0 },
  release: { irt: 1 * s, mrt: 0, mrc: 4, mrd: 0 },
} as const satisfies Record<string, RetransmissionParams>;

/** Node's setTimeout fires at once beyond 2^31-1 ms: longer waits are taken in steps. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** RAND of §15 from a [0, 1) source: [-0.1, 0.1), or (0, 0.1] when it must be strictly positive. */
export function rand(random: () => number, positive = false): number {
  return positive ? (1 - random()) * 0.1 : random() * 0.2 - 0.1;
}

export function initialRt(p: RetransmissionParams, random: () => number, firstSolicit = false): number {
  return p.irt + rand(random, firstSolicit) * p.irt;
}

export function nextRt(prev: number, p: RetransmissionParams, random: () => number): number {
  const r = rand(random);
  const rt = 2 * prev + r * prev;
  return p.mrt && rt > p.mrt ? p.mrt + r * p.mrt : rt;
}

/**
 * One exchange's transmissions: `transmit` is called for the first message and each retransmission;
 * `beforeRetransmit` may end the exchange instead (a Solicit that collected an Advertise during its
 * first RT); `exhausted` runs once MRC or MRD is reached. `cancel` ends it silently.
 */
export class Retransmission {
  readonly startedAt: number;
  /** Messages sent so far. */
  count = 0;
  rt = 0;
  private timer: unknown;
  private done = false;

  constructor(
    private readonly clock: Clock,
    private readonly random: () => number,
    readonly params: RetransmissionParams,
    private readonly hooks: { transmit: (r: Retransmission) => void; exhausted: () => void; beforeRetransmit?: () => boolean; firstSolicit?: boolean },
  ) {
    this.startedAt = clock.now();
    this.count = 1;
    this.rt = initialRt(params, random, hooks.firstSolicit);
    hooks.transmit(this);
    this.arm();
  }

  /** Time since the first transmission, for the Elapsed Time option. */
  elapsedMs(): number {
    return this.clock.now() - this.startedAt;
  }

  cancel(): void {
    this.done = true;
    this.clock.clearTimeout(this.timer);
  }

  /** Waits RT, cut short where MRD ends. */
  private arm(): void {
    let wait = this.rt;
    if (this.params.mrd) wait = Math.min(wait, Math.max(0, this.startedAt + this.params.mrd - this.clock.now()));
    // RT stays under MRT·1.1 (≤ 66 min), well inside a Node timer.
    this.timer = this.clock.setTimeout(() => this.fire(), wait);
  }

  private fire(): void {
    if (this.done) return;
    const p = this.params;
    if ((p.mrc && this.count >= p.mrc) || (p.mrd && this.clock.now() - this.startedAt >= p.mrd)) {
      this.done = true;
      this.hooks.exhausted();
      return;
    }
    if (this.hooks.beforeRetransmit?.() === false || this.done) {
      this.done = true;
      return;
    }
    this.rt = nextRt(this.rt, p, this.random);
    this.count++;
    this.hooks.transmit(this);
    this.arm();
  }
}
