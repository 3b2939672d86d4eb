/**
 * A fast-check model of the CloudStack side over any ReservationStore: random deploy (k prefixes),
 * destroy, clock advance and restart (the allocator rebuilt from the store), checked after every
 * step against a model of which prefix indices are live and which are quarantined until when.
 * The checks are the properties: no two live instances share or overlap a prefix, every
 * live prefix lies in the pool and is aligned, quarantine is respected, the allocation is the
 * lowest free one, exhaustion is the exact error and takes nothing, and store and allocator agree.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { Allocator, PoolExhaustedError } from '../allocator.ts';
import { Prefix } from '../../addr/prefix.ts';
import type { ReservationStore } from '../reservation-store.ts';

export type Step = { op: 'deploy'; k: number } | { op: 'destroy'; pick: number } | { op: 'advance'; ms: number } | { op: 'restart' };

export const stepArb = (maxK: number, quarantineMs: number): fc.Arbitrary<Step> =>
  fc.oneof(
    { weight: 5, arbitrary: fc.record({ op: fc.constant('deploy' as const), k: fc.integer({ min: 1, max: maxK }) }) },
    { weight: 3, arbitrary: fc.record({ op: fc.constant('destroy' as const), pick: fc.nat() }) },
    { weight: 2, arbitrary: fc.record({ op: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 2 * quarantineMs }) }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant('restart' as const) }) },
  );

export interface ModelOptions {
  pool: string;
  length: number;
  quarantineMs: number;
  /** Distinct MACs per run, so runs against a shared real store never meet. */
  macPrefix: string;
}

/** Runs one sequence of steps against a store that starts empty; leaves it empty again. */
export async function runLifecycle(store: ReservationStore, steps: Step[], o: ModelOptions): Promise<void> {
  const pool = Prefix.parse(o.pool);
  let now = 1_000_000;
  const clock = () => now;
  const opts = { quarantineMs: o.quarantineMs, now: clock };
  const capacity = Number(pool.subprefixCount(o.length));
  const rebuild = async () =>
    Allocator.fromReserved(
      pool,
      o.length,
      (await store.list()).flatMap((r) => r.prefixes),
      { ...opts, quarantined: await store.quarantined() },
    );
  let alloc = await rebuild();
  /** Model: live instances (MAC → indices) and, per index, the time before which it must not be handed out. */
  const live = new Map<string, number[]>();
  const blockedUntil = new Map<number, number>();
  let serial = 0;
  const liveIndices = () => new Set([...live.values()].flat());

  for (const step of steps) {
    if (step.op === 'deploy') {
      const taken = liveIndices();
      const available = [...Array(capacity).keys()].filter((i) => !taken.has(i) && (blockedUntil.get(i) ?? -Infinity) <= now);
      if (available.length < step.k) {
        expect(() => alloc.allocate(step.k)).to.throw(PoolExhaustedError, `pool exhausted: ${pool} has no free /${o.length}`);
        continue;
      }
      const prefixes = alloc.allocate(step.k);
      // Lowest free first: exactly the k lowest indices the model says are free.
      expect(prefixes.map((p) => Number(pool.indexOf(p)))).to.deep.equal(available.slice(0, step.k));
      const mac = `${o.macPrefix}:${((serial >> 8) & 0xff).toString(16).padStart(2, '0')}:${(serial & 0xff).toString(16).padStart(2, '0')}`;
      serial++;
      // The reservation is written in one step; the prefixes are the allocator's until then.
      await store.put([{ mac, prefixes: prefixes.map(String) }]);
      live.set(
        mac,
        prefixes.map((p) => Number(pool.indexOf(p))),
      );
    } else if (step.op === 'destroy') {
      const macs = [...live.keys()];
      if (!macs.length) continue;
      const mac = macs[step.pick % macs.length]!;
      const indices = live.get(mac)!;
      // Destroy: the store forgets the reservation and records the quarantine in one step, then the allocator.
      const until = alloc.quarantineEnd();
      await store.remove([mac], { until, now });
      alloc.release(
        indices.map((i) => pool.carve(o.length, i)),
        until,
      );
      live.delete(mac);
      for (const i of indices) blockedUntil.set(i, until);
    } else if (step.op === 'advance') {
      now += step.ms;
    } else {
      // A restart: nothing survives but the store, which holds the quarantine too.
      alloc = await rebuild();
    }
    await checkInvariants(store, alloc, pool, o.length, live);
  }
  await store.remove([...live.keys()], { until: 0, now: Number.MAX_SAFE_INTEGER });
}

async function checkInvariants(store: ReservationStore, alloc: Allocator, pool: Prefix, length: number, live: Map<string, number[]>): Promise<void> {
  const stored = await store.list();
  const prefixes = stored.flatMap((r) => r.prefixes.map((p) => Prefix.parse(p)));
  for (const p of prefixes) {
    expect(p.length, `${p} length`).to.equal(length);
    expect(pool.containsPrefix(p), `${p} in ${pool}`).to.equal(true);
  }
  const sorted = [...prefixes].sort((a, b) => (a.network < b.network ? -1 : 1));
  for (let i = 1; i < sorted.length; i++) expect(sorted[i - 1]!.overlaps(sorted[i]!), `${sorted[i - 1]} overlaps ${sorted[i]}`).to.equal(false);
  // Store and allocator agree, and both match the model.
  expect(alloc.livePrefixes().map(String)).to.deep.equal(sorted.map(String));
  expect(Object.fromEntries(stored.map((r) => [r.mac, r.prefixes]))).to.deep.equal(
    Object.fromEntries([...live].map(([mac, idx]) => [mac, idx.map((i) => pool.carve(length, i).toString())])),
  );
}
