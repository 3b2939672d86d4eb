/**
 * The delegated-prefix allocator: hands out the lowest free /len of the pod's PD pool, k at a time,
 * and takes prefixes back with a quarantine, so a released prefix is not handed out again before
 * the old lease's valid lifetime has passed (a stale lease or router route must never point a new
 * instance's prefix at the old one).
 *
 * Prefixes are indices into the pool (index i is pool.carve(len, i)), kept as plain numbers:
 *   next        every index >= next has never been handed out
 *   free        released indices whose quarantine is over (a min-heap: lowest first)
 *   quarantine  released indices with the time they become free (a min-heap by that time)
 *   live        indices handed out and not released (a bitmap: they are dense from 0)
 * Each operation is O(log n); memory grows with the highest index handed out, not with the pool,
 * so a /40 at /60 (1,048,576 prefixes) is exhausted in well under a second. Indices past 2^53
 * (pools of more than 2^53 prefixes) are never reached, so plain numbers suffice.
 *
 * The allocator holds no state of its own across restarts: fromReserved() rebuilds it from the
 * reservation store (reservations and quarantine records), the one source of truth.
 */
import { Prefix } from '../addr/prefix.ts';
import { MinHeap } from './min-heap.ts';
import { IndexSet } from './index-set.ts';

export interface AllocatorOptions {
  /** How long a released prefix stays out of use: the valid lifetime of the lease it was delegated in. */
  quarantineMs: number;
  /** Milliseconds since the epoch; injected by tests. */
  now?: () => number;
}

export class PoolExhaustedError extends Error {
  override name = 'PoolExhaustedError';
  constructor(
    readonly pool: string,
    readonly length: number,
    /** Released prefixes that will be free again once their quarantine ends. */
    readonly quarantined: number,
  ) {
    super(`pool exhausted: ${pool} has no free /${length}${quarantined ? ` (${quarantined} released /${length}s are still in quarantine)` : ''}`);
  }
}

function toPrefix(p: Prefix | string): Prefix {
  return typeof p === 'string' ? Prefix.parse(p) : p;
}

export class Allocator {
  readonly pool: Prefix;
  /** How many /length prefixes the allocator may hand out (capped at 2^53: more is never reached). */
  readonly capacity: number;
  private next = 0;
  private readonly live = new IndexSet();
  private readonly free = new MinHeap<number>((a, b) => a - b);
  private readonly quarantine = new MinHeap<{ index: number; until: number }>((a, b) => a.until - b.until);
  private readonly now: () => number;
  private readonly quarantineMs: number;

  constructor(
    pool: Prefix | string,
    readonly length: number,
    opts: AllocatorOptions,
  ) {
    this.pool = toPrefix(pool);
    const count = this.pool.subprefixCount(length);
    this.capacity = count > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(count);
    if (!(opts.quarantineMs >= 0)) throw new Error(`quarantineMs must be >= 0, is ${opts.quarantineMs}`);
    this.quarantineMs = opts.quarantineMs;
    this.now = opts.now ?? Date.now;
  }

  /**
   * An allocator holding exactly `reserved` (the store's prefixes), with the store's quarantine
   * records (those of other pools or lengths are ignored). Without records (a store that keeps none), the free indices below the highest reserved
   * one may have been released moments before the restart: they all go into quarantine from now,
   * which can only delay reuse, never hand a prefix out early.
   */
  static fromReserved(
    pool: Prefix | string,
    length: number,
    reserved: Iterable<Prefix | string>,
    opts: AllocatorOptions & { quarantined?: Iterable<{ prefix: Prefix | string; until: number }> },
  ): Allocator {
    const a = new Allocator(pool, length, opts);
    for (const p of reserved) {
      const index = a.indexOf(toPrefix(p));
      if (a.live.has(index)) throw new Error(`the store reserves ${a.prefixAt(index)} twice`);
      a.live.add(index);
      a.next = Math.max(a.next, index + 1);
    }
    const until = new Map<number, number>();
    if (opts.quarantined) {
      for (const q of opts.quarantined) {
        const p = toPrefix(q.prefix);
        // A record of a prefix outside this pool (a store shared with other pools) says nothing about it.
        if (p.length !== length || !a.pool.containsPrefix(p)) continue;
        const index = a.indexOf(p);
        if (!a.live.has(index)) until.set(index, Math.max(until.get(index) ?? -Infinity, q.until));
      }
    } else {
      const from = a.now() + a.quarantineMs;
      for (let i = 0; i < a.next; i++) if (!a.live.has(i)) until.set(i, from);
    }
    for (const [index, t] of until) {
      a.next = Math.max(a.next, index + 1);
      a.quarantine.push({ index, until: t });
    }
    // Indices below `next` that are neither live nor quarantined are free now.
    for (let i = 0; i < a.next; i++) if (!a.live.has(i) && !until.has(i)) a.free.push(i);
    return a;
  }

  get liveCount(): number {
    return this.live.size;
  }

  get quarantinedCount(): number {
    return this.quarantine.size;
  }

  /** The k lowest free prefixes, all or none: on exhaustion nothing is taken and PoolExhaustedError is thrown. */
  allocate(k = 1): Prefix[] {
    if (!Number.isInteger(k) || k < 1) throw new Error(`cannot allocate ${k} prefixes: k must be a positive integer`);
    this.endQuarantines();
    if (this.free.size + (this.capacity - this.next) < k) {
      throw new PoolExhaustedError(this.pool.toString(), this.length, this.quarantine.size);
    }
    const out: Prefix[] = [];
    for (let i = 0; i < k; i++) {
      // Every free index is below `next`, so the free heap's minimum, when there is one, is the lowest.
      const index = this.free.size ? this.free.pop()! : this.next++;
      this.live.add(index);
      out.push(this.prefixAt(index));
    }
    return out;
  }

  /** When a prefix released now leaves quarantine: what remove() records in the store. */
  quarantineEnd(): number {
    return this.now() + this.quarantineMs;
  }

  /** Takes prefixes back into quarantine until `until`; throws, releasing none, when one is not handed out. */
  release(prefixes: Iterable<Prefix | string>, until = this.quarantineEnd()): void {
    const indices = [...prefixes].map((p) => this.indexOf(toPrefix(p)));
    const seen = new Set<number>();
    for (const index of indices) {
      if (!this.live.has(index) || seen.has(index)) throw new Error(`${this.prefixAt(index)} is not allocated: cannot release it`);
      seen.add(index);
    }
    for (const index of indices) {
      this.live.delete(index);
      this.quarantine.push({ index, until });
    }
  }

  isLive(prefix: Prefix | string): boolean {
    const p = toPrefix(prefix);
    return p.length === this.length && this.pool.containsPrefix(p) && this.live.has(this.indexOf(p));
  }

  /** The prefixes handed out, lowest first. */
  livePrefixes(): Prefix[] {
    return [...this.live].map((i) => this.prefixAt(i));
  }

  private endQuarantines(): void {
    const now = this.now();
    while (this.quarantine.size && this.quarantine.peek()!.until <= now) this.free.push(this.quarantine.pop()!.index);
  }

  private prefixAt(index: number): Prefix {
    return this.pool.carve(this.length, index);
  }

  private indexOf(p: Prefix): number {
    if (p.length !== this.length || !this.pool.containsPrefix(p)) throw new Error(`${p} is not a /${this.length} inside the pool ${this.pool}`);
    const index = this.pool.indexOf(p);
    if (index >= BigInt(this.capacity)) throw new Error(`${p} lies beyond the first 2^53 prefixes of ${this.pool}`);
    return Number(index);
  }
}
