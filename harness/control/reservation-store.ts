/**
 * Where CloudStack records delegated prefixes: host reservations in the DHCPv6 server's store,
 * keyed by the instance MAC (the relay's option 37), never by the client-chosen DUID. The store is
 * the one source of truth: the allocator is rebuilt from list(), so each write is one atomic step —
 * a crash before it leaves nothing, a crash after it leaves the whole reservation.
 *
 * Released prefixes stay in the store too, with the time their quarantine ends (the old lease's
 * valid lifetime), written in the same atomic step as the removal: after a restart the allocator
 * still refuses them until then.
 *
 * Implementations: config-store.ts (Kea's JSON config + config-reload) and pg-store.ts (Kea's
 * PostgreSQL host database, read by Kea on every packet).
 */
import type { KeaReservation } from './kea-config.ts';
import { parseMac } from '../addr/mac.ts';
import { canonicalPrefix } from '../addr/prefix.ts';

/** One instance's reservation: its MAC (canonical lower-case colon text) and delegated prefixes (canonical text). */
export type Reservation = KeaReservation;

/** A released prefix and when (ms since the epoch) it may be delegated again. */
export interface Quarantined {
  prefix: string;
  until: number;
}

/** How remove() records the released prefixes: quarantined until `until`; records that ended by `now` are dropped. */
export interface QuarantineOptions {
  until: number;
  now: number;
}

export type StoreKind = 'config' | 'postgresql';

export interface ReservationStore {
  readonly kind: StoreKind;
  /** Every reservation, MACs in ascending order, each one's prefixes in the order written. */
  list(): Promise<Reservation[]>;
  /** The reservations of these MACs (absent ones left out), MACs in ascending order. */
  find(macs: readonly string[]): Promise<Reservation[]>;
  /** Released prefixes still (or recently) in quarantine. */
  quarantined(): Promise<Quarantined[]>;
  /**
   * Adds or replaces (by MAC) the reservations, all in one atomic step; a prefix reserved to another
   * MAC is refused. Reserving a prefix drops its quarantine record.
   */
  put(reservations: readonly Reservation[]): Promise<void>;
  /**
   * Removes the reservations of these MACs (absent ones are ignored) and, with `quarantine`, records
   * their prefixes as quarantined — all in one atomic step.
   */
  remove(macs: readonly string[], quarantine?: QuarantineOptions): Promise<void>;
  close(): Promise<void>;
}

/** Canonical copies (MAC and prefix text), refusing a MAC twice in one batch. */
export function canonicalReservations(reservations: readonly Reservation[]): Reservation[] {
  const seen = new Set<string>();
  return reservations.map((r) => {
    const mac = parseMac(r.mac);
    if (seen.has(mac)) throw new Error(`reservation batch names ${mac} twice`);
    seen.add(mac);
    return { mac, prefixes: r.prefixes.map(canonicalPrefix) };
  });
}

/**
 * The reservations after `put` is applied to `current`; throws when a prefix would be reserved
 * twice (to two MACs, or twice to one), which Kea cannot serve and the allocator never asks for.
 */
export function mergeReservations(current: readonly Reservation[], put: readonly Reservation[]): Reservation[] {
  const byMac = new Map(current.map((r) => [r.mac, r]));
  for (const r of put) byMac.set(r.mac, r);
  const owner = new Map<string, string>();
  for (const r of byMac.values()) {
    for (const p of r.prefixes) {
      const other = owner.get(p);
      if (other !== undefined) throw new Error(`${p} would be reserved to both ${other} and ${r.mac}`);
      owner.set(p, r.mac);
    }
  }
  return sortByMac([...byMac.values()]);
}

export function sortByMac(reservations: Reservation[]): Reservation[] {
  return reservations.sort((a, b) => (a.mac < b.mac ? -1 : a.mac > b.mac ? 1 : 0));
}

/**
 * The quarantine records after removing `removed`: theirs added (until `q.until`), ended ones
 * (until <= q.now) dropped, and none for a prefix that is reserved again.
 */
export function nextQuarantine(
  current: readonly Quarantined[],
  removed: readonly Reservation[],
  q: QuarantineOptions | undefined,
  reserved: ReadonlySet<string>,
): Quarantined[] {
  const byPrefix = new Map(current.map((e) => [e.prefix, e.until]));
  if (q) for (const p of removed.flatMap((r) => r.prefixes)) byPrefix.set(p, Math.max(byPrefix.get(p) ?? -Infinity, q.until));
  return [...byPrefix]
    .filter(([p, until]) => !reserved.has(p) && (!q || until > q.now))
    .map(([prefix, until]) => ({ prefix, until }))
    .sort((a, b) => (a.prefix < b.prefix ? -1 : a.prefix > b.prefix ? 1 : 0));
}
