/**
 * The delegated routes the relay holds: `prefix via <client link-local> dev <lan>` with the
 * prefix's valid lifetime as the kernel route's `expires`, tagged with the relay's own routing
 * protocol number so removal and reconciliation never touch another route. The table is the
 * relay's memory of them (with the MAC each was delegated to, for `drop-routes`) and is persisted
 * to the state file, so a restarted relay knows each prefix's link-local (Kea does not store it).
 * The kernel is changed through a RouteWriter: rtnetlink straight from the relay (route-netlink.ts),
 * or an `ip -batch` child (IpBatchRoutes).
 */
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import type { IpBatch } from '../os/ip-batch.ts';
import type { Counters } from './counters.ts';

export interface DelegatedRoute {
  /** "2001:db8:200::/60" */
  prefix: string;
  /** The client's link-local. */
  via: string;
  /** The client MAC the prefix was delegated to (from the frame that asked for it). */
  mac?: string;
  /** Epoch milliseconds; null for an infinite valid lifetime. */
  expiresAt: number | null;
}

export const INFINITE_LIFETIME = 0xffffffff;
// The kernel keeps `expires` in jiffies of a 32-bit clock: longer lifetimes are clamped (the relay still removes on time).
const MAX_KERNEL_EXPIRES_S = 2_000_000;
/**
 * Saving the table is synchronous and costs ~1 µs per route (JSON of 90,000 routes: 50–180 ms), so
 * under churn a large table waits longer between saves — this many ms per route held, at least
 * persistDelayMs — keeping saves near 2% of a core. SIGTERM saves at once; after a crash,
 * reconciliation with Kea's leases covers what the last save missed.
 */
const PERSIST_DELAY_MS_PER_ROUTE = 0.05;

/** One change of the kernel's routes: `ip route replace … expires S` or `ip route del …`. */
export type RouteChange = { op: 'replace'; prefix: string; via: string; expiresS: number | null } | { op: 'delete'; prefix: string };

export interface RouteChangeFailure {
  /** Its index among the changes applied. */
  index: number;
  /** ip's message ("RTNETLINK answers: No such process"). */
  error: string;
}

/** Applies route changes in order for one interface and routing protocol; resolves with those that failed. */
export interface RouteWriter {
  apply(changes: readonly RouteChange[]): Promise<RouteChangeFailure[]>;
  close(): Promise<void>;
}

/** The change as an `ip` command line (what IpBatchRoutes runs, and what a failure is logged as). */
export function routeLine(c: RouteChange, dev: string, protocol: number): string {
  return c.op === 'replace'
    ? `route replace ${c.prefix} via ${c.via} dev ${dev} proto ${protocol}${c.expiresS === null ? '' : ` expires ${c.expiresS}`}`
    : `route del ${c.prefix} dev ${dev} proto ${protocol}`;
}

/** Route changes as lines to a long-lived `ip -batch -` (harness/os/ip-batch.ts). */
export class IpBatchRoutes implements RouteWriter {
  constructor(
    private readonly batch: IpBatch,
    private readonly dev: string,
    private readonly protocol: number,
  ) {}

  async apply(changes: readonly RouteChange[]): Promise<RouteChangeFailure[]> {
    const failures = await this.batch.submit(changes.map((c) => routeLine(c, this.dev, this.protocol)));
    return failures.map((f) => ({ index: f.index, error: f.error }));
  }

  close(): Promise<void> {
    return this.batch.close();
  }
}

export interface RouteTableOptions {
  dev: string;
  protocol: number;
  stateFile: string;
  /** Debounce for state-file writes, so bursts of changes write it once (longer for large tables). */
  persistDelayMs?: number;
}

export function expiresAtFor(validLifetime: number, now = Date.now()): number | null {
  return validLifetime >= INFINITE_LIFETIME ? null : now + validLifetime * 1000;
}

export function readPersistedRoutes(file: string): DelegatedRoute[] {
  try {
    const data = JSON.parse(readFileSync(file, 'utf8')) as { routes?: DelegatedRoute[] };
    return Array.isArray(data.routes) ? data.routes : [];
  } catch {
    return [];
  }
}

export class RouteTable {
  private readonly routes = new Map<string, DelegatedRoute>();
  private persistTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly writer: RouteWriter,
    private readonly opts: RouteTableOptions,
    private readonly counters: Counters,
    private readonly log: (msg: string) => void = () => undefined,
  ) {}

  private replace(r: DelegatedRoute, now: number): RouteChange {
    const expiresS = r.expiresAt === null ? null : Math.min(MAX_KERNEL_EXPIRES_S, Math.max(1, Math.ceil((r.expiresAt - now) / 1000)));
    return { op: 'replace', prefix: r.prefix, via: r.via, expiresS };
  }

  private deletions(prefixes: readonly string[]): RouteChange[] {
    return prefixes.map((prefix) => ({ op: 'delete', prefix }));
  }

  /** Installs or refreshes routes (`replace`: a prefix never has two routes). */
  async install(routes: readonly DelegatedRoute[], now = Date.now()): Promise<void> {
    if (!routes.length) return;
    const changes: RouteChange[] = [];
    const fresh: boolean[] = [];
    for (const r of routes) {
      changes.push(this.replace(r, now));
      // One lookup per route in a table of up to ~10^5: a new prefix is one that grew it.
      const size = this.routes.size;
      fresh.push(this.routes.set(r.prefix, r).size > size);
    }
    this.changed();
    const failed = new Set(
      (await this.writer.apply(changes)).map((f) => {
        this.log(`route install failed: ${routeLine(changes[f.index]!, this.opts.dev, this.opts.protocol)}: ${f.error}`);
        return f.index;
      }),
    );
    routes.forEach((r, i) => {
      if (failed.has(i)) {
        this.counters.routes.failed++;
        if (this.routes.get(r.prefix) === r) this.routes.delete(r.prefix);
      } else if (fresh[i]) this.counters.routes.installed++;
      else this.counters.routes.refreshed++;
    });
    if (failed.size) this.changed();
  }

  /** Removes the routes of these prefixes (those the relay holds; others are left alone). */
  async remove(prefixes: readonly string[], reason: 'removed' | 'expired' = 'removed'): Promise<string[]> {
    const held = prefixes.filter((p) => this.routes.delete(p));
    if (!held.length) return [];
    this.counters.routes[reason] += held.length;
    this.changed();
    // A route the kernel expired already fails with "No such process": nothing left to do.
    await this.writer.apply(this.deletions(held));
    return held;
  }

  /** Routes delegated to `mac`, removed (the instance was destroyed: no Release will come). */
  removeByMac(mac: string): Promise<string[]> {
    const m = mac.toLowerCase();
    return this.remove([...this.routes.values()].filter((r) => r.mac === m).map((r) => r.prefix));
  }

  /** Removes routes whose valid lifetime has run out. */
  expire(now = Date.now()): Promise<string[]> {
    const due = [...this.routes.values()].filter((r) => r.expiresAt !== null && r.expiresAt <= now).map((r) => r.prefix);
    return this.remove(due, 'expired');
  }

  /** Deletes kernel routes with the relay's protocol that the table does not hold (left by an earlier run). */
  async deleteStray(prefixes: readonly string[]): Promise<number> {
    const stray = prefixes.filter((p) => !this.routes.has(p));
    if (stray.length) await this.writer.apply(this.deletions(stray));
    return stray.length;
  }

  list(): DelegatedRoute[] {
    return [...this.routes.values()];
  }

  private changed(): void {
    this.counters.routes.current = this.routes.size;
    this.persistTimer ??= setTimeout(() => this.persist(), Math.max(this.opts.persistDelayMs ?? 1000, this.routes.size * PERSIST_DELAY_MS_PER_ROUTE));
  }

  /** Writes the table to the state file now (atomically: temp file, rename); a failure is logged, never fatal. */
  persist(): void {
    clearTimeout(this.persistTimer);
    this.persistTimer = undefined;
    const tmp = `${this.opts.stateFile}.tmp`;
    try {
      writeFileSync(tmp, `${JSON.stringify({ savedAt: new Date().toISOString(), routes: this.list() })}\n`);
      renameSync(tmp, this.opts.stateFile);
    } catch (err) {
      this.log(`could not save the route table to ${this.opts.stateFile}: ${(err as Error).message}`);
    }
  }
}
