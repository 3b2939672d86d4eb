/**
 * The CloudStack side of a running pod: the reservation store (Kea's config, or its PostgreSQL
 * host database) and the prefix allocator — the store is the one source of truth, so any process
 * (`up`, `vm deploy`, `vm destroy`) opens it afresh. With the config store the allocator is rebuilt
 * from the whole store at every open (a write re-renders and reloads the whole config anyway); with
 * the PostgreSQL store the database allocates (PgStore.reserveNext), so a deploy reads and writes
 * only its own rows, whatever the size of the pod.
 */
import type { Plan } from '../pod/plan.ts';
import type { PgTarget } from './kea-database.ts';
import { CONTROL_RESULT, keaCommand } from '../os/control-socket.ts';
import { KEA_VALID_LIFETIME_S, keaPaths } from './kea-config.ts';
import { Allocator } from './allocator.ts';
import { ConfigStore } from './config-store.ts';
import { PgStore } from './pg-store.ts';
import type { Reservation, ReservationStore } from './reservation-store.ts';

/** Kea's subnet id for the pod /64 (keaConfig renders exactly one subnet). */
const POD_SUBNET_ID = 1;
const QUARANTINE_MS = KEA_VALID_LIFETIME_S * 1000;

export class PodControl {
  private constructor(
    readonly plan: Plan,
    readonly store: ReservationStore,
    /** The config store's allocator, rebuilt at open; undefined with the PostgreSQL store, which allocates itself. */
    private readonly allocator: Allocator | undefined,
  ) {}

  static async open(plan: Plan, pg?: PgTarget): Promise<PodControl> {
    if (plan.pod.kea.backend === 'postgresql') {
      if (!pg) throw new Error(`run ${plan.run}: the postgresql backend has no database recorded`);
      return new PodControl(plan, await PgStore.connect(pg, { subnetId: POD_SUBNET_ID }), undefined);
    }
    // Opening reloads nothing: every write reloads Kea, and `up` catches a Kea left behind by a
    // crash between rename and reload (a reload resets Kea's allocator; `vm show` must not).
    const store = new ConfigStore(plan);
    return new PodControl(plan, store, await rebuild(plan, store));
  }

  /**
   * The allocator rebuilt from everything the store holds (reservations and quarantine records):
   * what the next allocation must agree with. Reads the whole store: for checks, not for deploys.
   */
  rebuiltAllocator(): Promise<Allocator> {
    return rebuild(this.plan, this.store);
  }

  /**
   * The `k` prefixes the next deploy would get (nothing is reserved): the PostgreSQL store's own
   * allocation, or the config store's allocator. Checks compare it with rebuiltAllocator().
   */
  async nextPrefixes(k = 1): Promise<string[]> {
    if (this.store instanceof PgStore) return this.store.peekNext(k, { pool: this.plan.pod.pod.pdPool, length: this.plan.pod.pod.delegatedLength });
    return (await this.rebuiltAllocator()).allocate(k).map(String);
  }

  async reservationOf(mac: string): Promise<Reservation | undefined> {
    return (await this.store.find([mac]))[0];
  }

  /**
   * Allocates `count` prefixes for each MAC that has no reservation yet and writes them all in one
   * atomic store write. On failure the allocation is undone (nothing reached Kea: no quarantine).
   */
  async reserve(wanted: ReadonlyArray<{ mac: string; count: number }>): Promise<Reservation[]> {
    const pool = { pool: this.plan.pod.pod.pdPool, length: this.plan.pod.pod.delegatedLength };
    if (this.store instanceof PgStore) return this.store.reserveNext(wanted, pool);
    const allocator = this.allocator!;
    const existing = new Map((await this.store.find(wanted.map((w) => w.mac))).map((r) => [r.mac, r]));
    const fresh: Reservation[] = [];
    try {
      fresh.push(...allocateFresh(allocator, wanted, existing));
      if (fresh.length) await this.store.put(fresh);
    } catch (err) {
      for (const r of fresh) allocator.release(r.prefixes, 0);
      throw err;
    }
    return wanted.flatMap((w) => existing.get(w.mac) ?? fresh.find((r) => r.mac === w.mac) ?? []);
  }

  /**
   * Forgets an instance: its leases first (an old lease blocks the reservation for a new DUID with
   * the same MAC), then its reservation, its prefixes quarantined for a lease's valid lifetime
   * (or `quarantineMs`: 0 for prefixes no lease can hold, as when a deploy failed before the instance ran).
   */
  async release(mac: string, quarantineMs?: number): Promise<string[]> {
    const r = await this.reservationOf(mac);
    if (!r) return [];
    const socket = keaPaths(this.plan.run).socket;
    for (const p of r.prefixes) {
      const answer = await keaCommand(socket, 'lease6-del', { 'ip-address': p.split('/')[0], type: 'IA_PD' });
      // Empty: no such lease, nothing to delete.
      if (answer.result !== CONTROL_RESULT.success && answer.result !== CONTROL_RESULT.empty)
        throw new Error(`Kea lease6-del ${p}: ${answer.text ?? `result ${answer.result}`}`);
    }
    const until = Date.now() + (quarantineMs ?? QUARANTINE_MS);
    await this.store.remove([mac], { until, now: Date.now() });
    this.allocator?.release(r.prefixes, until);
    return r.prefixes;
  }

  close(): Promise<void> {
    return this.store.close();
  }
}

/**
 * The reservations a new config-store pod starts with: what `reserve` allocates for the declared
 * instances from an empty store. Written into Kea's first config, so `up`'s reserve finds them
 * there and Kea checks and reloads nothing (with 5,000 reservations that was seconds).
 */
export function initialReservations(plan: Plan): Reservation[] {
  const allocator = Allocator.fromReserved(plan.pod.pod.pdPool, plan.pod.pod.delegatedLength, [], { quarantineMs: QUARANTINE_MS });
  return allocateFresh(
    allocator,
    plan.instances.map((i) => ({ mac: i.mac, count: i.prefixes })),
    new Map(),
  );
}

/** `count` prefixes for each MAC wanted that has no reservation (each MAC once, none for a count of 0). */
function allocateFresh(allocator: Allocator, wanted: ReadonlyArray<{ mac: string; count: number }>, existing: ReadonlyMap<string, Reservation>): Reservation[] {
  const fresh: Reservation[] = [];
  const seen = new Set(existing.keys());
  try {
    for (const w of wanted) {
      if (seen.has(w.mac) || w.count <= 0) continue;
      seen.add(w.mac);
      fresh.push({ mac: w.mac, prefixes: allocator.allocate(w.count).map((p) => p.toString()) });
    }
  } catch (err) {
    for (const r of fresh) allocator.release(r.prefixes, 0);
    throw err;
  }
  return fresh;
}

async function rebuild(plan: Plan, store: ReservationStore): Promise<Allocator> {
  return Allocator.fromReserved(
    plan.pod.pod.pdPool,
    plan.pod.pod.delegatedLength,
    (await store.list()).flatMap((r) => r.prefixes),
    { quarantineMs: QUARANTINE_MS, quarantined: await store.quarantined() },
  );
}
