/**
 * The `postgresql` reservation store against real Kea and a private PostgreSQL cluster: the default pod is brought up, a cluster is started in its run
 * directory with Kea's schema from kea-admin, Kea is pointed at it (hosts-database, one reload),
 * and from then on every put/remove is one transaction Kea sees on the next packet.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import pg from 'pg';
import { PgStore, keaHostsDatabase } from '../../harness/control/pg-store.ts';
import { upTestPod, type TestPod } from '../support/kea-pod.ts';
import { runLifecycle, stepArb, type Step } from '../../harness/control/testing/lifecycle-model.ts';
import { Allocator, PoolExhaustedError } from '../../harness/control/allocator.ts';
import { Prefix } from '../../harness/addr/prefix.ts';
import { storeContract } from '../support/store-contract.ts';
import { postgresDaemonRecord, removePostgres, startPostgres, type PgCluster } from '../../netns/daemons/postgres.ts';
import { runDir } from '../../harness/pod/names.ts';
import { readState, writeState } from '../../netns/run-state.ts';

describe('control/pg-store (real Kea, real PostgreSQL)', function () {
  let pod: TestPod;
  let cluster: PgCluster;
  let store: PgStore;

  before(async function () {
    this.timeout(90_000);
    pod = await upTestPod('t4pg');
    cluster = await startPostgres(`${runDir(pod.run)}/postgres`);
    // Recorded as one of the run's daemons, so the run's teardown stops it even if this test dies.
    const state = readState(pod.run)!;
    writeState({ ...state, daemons: [...state.daemons, postgresDaemonRecord(cluster, 'postgres')] });
    await pod.reloadWith({ 'hosts-database': keaHostsDatabase(cluster.target) });
    store = await PgStore.connect(cluster.target, { subnetId: pod.subnetId });
  });
  after(async function () {
    this.timeout(60_000);
    await store?.close();
    await pod?.down();
    if (cluster) await removePostgres(cluster.dir);
  });

  storeContract(() => ({ pod, store }));

  it('writes one transaction per batch: a clash with another MAC rolls the whole batch back', async () => {
    await store.put([{ mac: '02:00:00:00:bb:01', prefixes: ['2001:db8:2ff:ff00::/60'] }]);
    await store
      .put([
        { mac: '02:00:00:00:bb:02', prefixes: ['2001:db8:2ff:ff10::/60'] },
        { mac: '02:00:00:00:bb:03', prefixes: ['2001:db8:2ff:ff00::/60'] },
      ])
      .then(
        () => expect.fail('a prefix reserved to another MAC must be refused'),
        (err: Error) => expect(err.message).to.equal('2001:db8:2ff:ff00::/60 is reserved to 02:00:00:00:bb:01 already'),
      );
    expect(await store.list()).to.deep.equal([{ mac: '02:00:00:00:bb:01', prefixes: ['2001:db8:2ff:ff00::/60'] }]);
    // Rows Kea reads: one hosts row (hw-address, the pod subnet) with one IA_PD reservation.
    const c = new pg.Client(cluster.target);
    await c.connect();
    try {
      const rows = await c.query(
        `SELECT encode(h.dhcp_identifier, 'hex') AS id, h.dhcp_identifier_type AS t, h.dhcp6_subnet_id AS s, r.address, r.prefix_len, r.type
           FROM hosts h JOIN ipv6_reservations r USING (host_id)`,
      );
      expect(rows.rows).to.deep.equal([{ id: '02000000bb01', t: 0, s: String(pod.subnetId), address: '2001:db8:2ff:ff00::', prefix_len: 60, type: 2 }]);
    } finally {
      await c.end();
    }
    await store.remove(['02:00:00:00:bb:01']);
    expect(await store.list()).to.deep.equal([]);
  });

  it('property: random deploy/destroy/restart sequences keep store, allocator and model in agreement', async function () {
    this.timeout(120_000);
    let run = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(stepArb(2, 1000), { maxLength: 12 }), async (steps) => {
        const macPrefix = `02:fd:00:${(run++ & 0xff).toString(16).padStart(2, '0')}`;
        await runLifecycle(store, steps, { pool: '2001:db8:200::/58', length: 60, quarantineMs: 1000, macPrefix });
      }),
      { numRuns: 20 },
    );
    expect(await store.list()).to.deep.equal([]);
  });

  it('property: reserveNext (the allocation in the database) hands out exactly what the allocator rebuilt from the store would', async function () {
    this.timeout(120_000);
    const pool = '2001:db8:2f0::/58';
    const quarantineMs = 1000;
    let run = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(stepArb(3, quarantineMs), { maxLength: 14 }), async (steps: Step[]) => {
        const macPrefix = `02:fe:00:${(run++ & 0xff).toString(16).padStart(2, '0')}`;
        let now = 1_000_000;
        let serial = 0;
        const live: string[] = [];
        for (const step of steps) {
          if (step.op === 'deploy') {
            const rebuilt = Allocator.fromReserved(
              pool,
              60,
              // The store is shared with the other tests, whose prefixes lie outside this pool.
              (await store.list()).flatMap((r) => r.prefixes).filter((p) => Prefix.parse(pool).containsPrefix(Prefix.parse(p))),
              { quarantineMs, now: () => now, quarantined: await store.quarantined() },
            );
            let expected: string[] | 'exhausted';
            try {
              expected = rebuilt.allocate(step.k).map(String);
            } catch (err) {
              if (!(err instanceof PoolExhaustedError)) throw err;
              expected = 'exhausted';
            }
            const mac = `${macPrefix}:00:${(serial++ & 0xff).toString(16).padStart(2, '0')}`;
            const got = await store.reserveNext([{ mac, count: step.k }], { pool, length: 60, now }).then(
              (r) => r[0]!.prefixes,
              (err: Error) => {
                if (!(err instanceof PoolExhaustedError)) throw err;
                return 'exhausted' as const;
              },
            );
            expect(got, `deploy of ${step.k} at ${now}`).to.deep.equal(expected);
            if (got !== 'exhausted') live.push(mac);
            else expect(await store.find([mac]), 'an exhausted reserveNext writes nothing').to.deep.equal([]);
          } else if (step.op === 'destroy') {
            if (!live.length) continue;
            const [mac] = live.splice(step.pick % live.length, 1);
            await store.remove([mac!], { until: now + quarantineMs, now });
          } else if (step.op === 'advance') {
            now += step.ms;
          }
        }
        await store.remove(live, { until: 0, now });
      }),
      { numRuns: 25 },
    );
  });

  it('reserveNext keeps a MAC that has a reservation as it is, and find() reads only the MACs asked for', async () => {
    const pool = '2001:db8:2f8::/56';
    const [a] = await store.reserveNext([{ mac: '02:fe:ff:00:00:01', count: 2 }], { pool, length: 60 });
    const again = await store.reserveNext(
      [
        { mac: '02:fe:ff:00:00:01', count: 2 },
        { mac: '02:fe:ff:00:00:02', count: 1 },
      ],
      { pool, length: 60 },
    );
    expect(a!.prefixes).to.deep.equal(['2001:db8:2f8::/60', '2001:db8:2f8:10::/60']);
    expect(again).to.deep.equal([a, { mac: '02:fe:ff:00:00:02', prefixes: ['2001:db8:2f8:20::/60'] }]);
    expect(await store.find(['02:fe:ff:00:00:02', '02:fe:ff:00:00:99'])).to.deep.equal([again[1]]);
    await store.remove(['02:fe:ff:00:00:01', '02:fe:ff:00:00:02']);
  });

  it('reserveNext after put() wrote past its cursor (a bulk load) skips those prefixes and hands out the next free one', async () => {
    const pool = Prefix.parse('2001:db8:2fc::/54');
    const at = (i: number) => pool.carve(60, i).toString();
    const [first] = await store.reserveNext([{ mac: '02:fe:fe:00:00:01', count: 1 }], { pool, length: 60 });
    expect(first!.prefixes).to.deep.equal([at(0)]);
    // 40 reservations past the cursor, with a hole at 20.
    const bulk = Array.from({ length: 40 }, (_, i) => i + 1)
      .filter((i) => i !== 20)
      .map((i) => ({ mac: `02:fe:fe:00:01:${i.toString(16).padStart(2, '0')}`, prefixes: [at(i)] }));
    await store.put(bulk);
    const next = await store.reserveNext(
      [
        { mac: '02:fe:fe:00:00:02', count: 1 },
        { mac: '02:fe:fe:00:00:03', count: 1 },
      ],
      { pool, length: 60 },
    );
    expect(next.map((r) => r.prefixes[0])).to.deep.equal([at(20), at(41)]);
    await store.remove(['02:fe:fe:00:00:01', '02:fe:fe:00:00:02', '02:fe:fe:00:00:03', ...bulk.map((r) => r.mac)]);
  });
});
