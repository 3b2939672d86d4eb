/**
 * The postgresql backend on a PostgreSQL server the user names (kea.database): `up` checks it and
 * creates Kea's schema, the declared instances' reservations land in it, Kea delegates from it,
 * and `down` leaves the user's server running.
 */
import { expect } from 'chai';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parsePodFile } from '../../harness/pod/pod-file.ts';
import { up } from '../../netns/realize.ts';
import { teardownRun } from '../../netns/teardown.ts';
import { uniqueRunName } from '../../harness/pod/names.ts';
import { removePostgres, startPostgres, type PgCluster } from '../../netns/daemons/postgres.ts';
import { connectPostgres } from '../../harness/control/kea-database.ts';
import { PgStore } from '../../harness/control/pg-store.ts';
import { dhcpClient } from '../../harness/probe/dhcp.ts';
import { clearCurrentPod, setCurrentPod } from '../../harness/probe/pod-context.ts';

describe('postgresql backend on a server the user names', function () {
  this.timeout(120_000);
  let cluster: PgCluster;
  const runName = uniqueRunName('userdb');

  before(async () => {
    cluster = await startPostgres(mkdtempSync(join(tmpdir(), 'v6pod-userdb-')));
  });
  after(async () => {
    clearCurrentPod();
    await teardownRun(runName);
    await removePostgres(cluster.dir);
  });

  it('up uses it: reservations in its Kea schema, Kea delegates from it, down leaves it running', async () => {
    const t = cluster.target;
    const pod = parsePodFile(
      `name: userdb\npod:\n  l2Prefix: 2001:db8:100::/64\n  pdPool: 2001:db8:200::/40\nkea:\n  backend: postgresql\n  database:\n    host: ${t.host}\n    user: ${t.user}\n    name: ${t.database}\nhypervisors:\n  - name: hv1\n    instances:\n      - name: vm1\n`,
      'userdb.yaml',
    );
    const { plan } = await up(pod, runName, { podFile: 'userdb.yaml', owner: process.pid });
    const store = await PgStore.connect(t, { subnetId: 1 });
    const vm1 = plan.instances[0]!;
    let reserved: string[];
    try {
      reserved = (await store.list()).find((r) => r.mac === vm1.mac)?.prefixes ?? [];
    } finally {
      await store.close();
    }
    expect(reserved).to.deep.equal(['2001:db8:200::/60']);
    setCurrentPod(plan, mkdtempSync(join(tmpdir(), 'v6pod-userdb-art-')));
    const r = await dhcpClient(vm1, { steps: [{ op: 'acquire' }, { op: 'release' }] });
    expect(r.steps[0]!.iaPds.flatMap((ia) => ia.prefixes.map((p) => p.prefix))).to.deep.equal(reserved);
    await teardownRun(runName);
    expect(await connectPostgres(t), 'the user’s server after down').to.deep.equal(t);
  });
});
