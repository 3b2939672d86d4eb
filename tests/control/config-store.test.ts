/**
 * The `config` reservation store against real Kea: the
 * default pod is brought up, reservations are written to Kea's config file and applied with one
 * config-reload per batch, and Relay-Forwards with option 37 (built with the codecs, sent from r1's
 * namespace) prove what Kea now hands out.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { ConfigStore } from '../../harness/control/config-store.ts';
import { Allocator } from '../../harness/control/allocator.ts';
import { upTestPod, type TestPod } from '../support/kea-pod.ts';
import { runLifecycle, stepArb } from '../../harness/control/testing/lifecycle-model.ts';
import { storeContract } from '../support/store-contract.ts';

describe('control/config-store (real Kea)', function () {
  let pod: TestPod;
  let store: ConfigStore;

  before(async function () {
    this.timeout(60_000);
    pod = await upTestPod('t4cfg');
    store = new ConfigStore(pod.plan);
    // `up` reserved the pod file's instances; the contract starts from an empty store.
    await store.remove((await store.list()).map((r) => r.mac));
  });
  after(async function () {
    this.timeout(30_000);
    await store?.close();
    await pod?.down();
  });

  storeContract(() => ({ pod, store }));

  it('writes the file atomically: no temp file left, and a refused batch leaves it byte for byte', async () => {
    await store.put([{ mac: '02:00:00:00:aa:01', prefixes: ['2001:db8:2ff:ff00::/60'] }]);
    const before = readFileSync(store.configFile, 'utf8');
    await store.put([{ mac: '02:00:00:00:aa:02', prefixes: ['2001:db8:2ff:ff00::/60'] }]).then(
      () => expect.fail('a prefix reserved twice must be refused'),
      (err: Error) => expect(err.message).to.contain('would be reserved to both'),
    );
    expect(readFileSync(store.configFile, 'utf8')).to.equal(before);
    expect(readdirSync(dirname(store.configFile)).filter((f) => f.endsWith('.tmp'))).to.deep.equal([]);
    await store.remove(['02:00:00:00:aa:01']);
    expect(await store.list()).to.deep.equal([]);
  });

  it('property: random deploy/destroy/restart sequences keep store, allocator and model in agreement', async function () {
    this.timeout(120_000);
    let run = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(stepArb(2, 1000), { maxLength: 10 }), async (steps) => {
        const macPrefix = `02:cf:00:${(run++ & 0xff).toString(16).padStart(2, '0')}`;
        await runLifecycle(store, steps, { pool: '2001:db8:200::/58', length: 60, quarantineMs: 1000, macPrefix });
      }),
      { numRuns: 8 },
    );
    expect(await store.list()).to.deep.equal([]);
    // The allocator rebuilt from an empty store starts at the bottom of the pool again.
    const a = Allocator.fromReserved(pod.plan.pod.pod.pdPool, 60, [], { quarantineMs: 0, quarantined: await store.quarantined() });
    expect(a.allocate().map(String)).to.deep.equal(['2001:db8:200::/60']);
  });
});
