/**
 * A small neighbour cache for the host's own unicast sends (RFC 4861 §7.2-7.3, reduced): entries
 * learnt from RA SLLAO, NS SLLAO and NA TLLAO; a send to an unknown neighbour waits in a short
 * queue while NS go out (MAX_MULTICAST_SOLICIT at RetransTimer), and is dropped when none is answered.
 * No reachability confirmation: entries stay until evicted (the pod's neighbours do not move).
 */
import type { Clock } from './clock.ts';

const MAX_MULTICAST_SOLICIT = 3;
const RETRANS_TIMER_MS = 1000;
/** RFC 4861 §7.2.2: at least one packet per neighbour awaiting resolution; a few absorb a ping burst. */
const QUEUE_PER_NEIGHBOR = 3;
const MAX_ENTRIES = 64;

interface Pending {
  frames: Array<(mac: string) => Buffer>;
  tries: number;
  timer: unknown;
}

export class NeighborCache {
  private readonly entries = new Map<string, string>();
  private readonly pending = new Map<string, Pending>();
  /** Frames given up on: no answer to the solicitations. */
  unresolved = 0;

  constructor(
    private readonly clock: Clock,
    private readonly solicit: (target: string) => void,
    private readonly send: (frame: Buffer) => void,
  ) {}

  lookup(ip: string): string | undefined {
    return this.entries.get(ip);
  }

  learn(ip: string, mac: string): void {
    this.entries.delete(ip); // re-insert: Map order is then least recently learnt first
    this.entries.set(ip, mac);
    if (this.entries.size > MAX_ENTRIES) this.entries.delete(this.entries.keys().next().value!);
    const p = this.pending.get(ip);
    if (!p) return;
    this.pending.delete(ip);
    this.clock.clearTimeout(p.timer);
    for (const build of p.frames) this.send(build(mac));
  }

  /** Sends the frame `build` makes for the neighbour's MAC, now or once the neighbour answers. */
  resolve(ip: string, build: (mac: string) => Buffer): void {
    const mac = this.entries.get(ip);
    if (mac) return this.send(build(mac));
    let p = this.pending.get(ip);
    if (!p) {
      p = { frames: [], tries: 0, timer: undefined };
      this.pending.set(ip, p);
      this.retry(ip, p);
    }
    if (p.frames.length < QUEUE_PER_NEIGHBOR) p.frames.push(build);
    else this.unresolved++;
  }

  private retry(ip: string, p: Pending): void {
    if (p.tries === MAX_MULTICAST_SOLICIT) {
      this.pending.delete(ip);
      this.unresolved += p.frames.length;
      return;
    }
    p.tries++;
    this.solicit(ip);
    p.timer = this.clock.setTimeout(() => this.retry(ip, p), RETRANS_TIMER_MS);
  }

  stop(): void {
    for (const p of this.pending.values()) this.clock.clearTimeout(p.timer);
    this.pending.clear();
  }
}
