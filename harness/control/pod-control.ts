/**
 * The CloudStack side of a running pod: the reservation store (Kea's config, or its PostgreSQL
 * host database) and the prefix allocator rebuilt from it at every start — the store is the one
 * source of truth, so any process (`up`, `vm deploy`, `vm destroy`) opens it afresh.
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

export class PodControl {
  private constructor(
    readonly plan: Plan,
    readonly store: ReservationStore,
    readonly allocator: Allocator,
  ) {}

  static async open(plan: Plan, pg?: PgTarget): Promise<PodControl> {
    let store: ReservationStore;
    if (plan.pod.kea.backend === 'postgresql') {
      if (!pg) throw new Error(`run ${plan.run}: the postgresql backend has no database recorded`);
      store = await PgStore.connect(pg, { subnetId: POD_SUBNET_ID });
    } else {
      // Opening reloads nothing: every write reloads Kea, and `up` catches a Kea left behind by a
      // crash between rename and reload (a reload resets Kea's allocator; `vm show` must not).
      store = new ConfigStore(plan);
    }
    const allocator = Allocator.fromReserved(
      plan.pod.pod.pdPool,
      plan.pod.pod.delegatedLength,
      (await store.list()).flatMap((r) => r.prefixes),
      {
        quarantineMs: KEA_VALID_LIFETIME_S * 1000,
        quarantined: await store.quarantined(),
      },
    );
    return new PodControl(plan, store, allocator);
  }

  async reservationOf(mac: string): Promise<Reservation | undefined> {
    return (await this.store.list()).find((r) => r.mac === mac);
  }

  /**
   * Allocates `count` prefixes for each MAC that has no reservation yet and writes them all in one
   * atomic store write. On failure the allocation is undone (nothing reached Kea: no quarantine).
   */
  async reserve(wanted: ReadonlyArray<{ mac: string; count: number }>): Promise<Reservation[]> {
    const existing = new Map((await this.store.list()).map((r) => [r.mac, r]));
    const fresh: Reservation[] = [];
    try {
      for (const w of wanted)
        if (!existing.has(w.mac) && w.count > 0) fresh.push({ mac: w.mac, prefixes: this.allocator.allocate(w.count).map((p) => p.toString()) });
      if (fresh.length) await this.store.put(fresh);
    } catch (err) {
      for (const r of fresh) this.allocator.release(r.prefixes, 0);
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
    const until = quarantineMs === undefined ? this.allocator.quarantineEnd() : Date.now() + quarantineMs;
    await this.store.remove([mac], { until, now: Date.now() });
    this.allocator.release(r.prefixes, until);
    return r.prefixes;
  }

  close(): Promise<void> {
    return this.store.close();
  }
}
