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
import { runLifecycle, stepArb } from '../../harness/control/testing/lifecycle-model.ts';
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
});
