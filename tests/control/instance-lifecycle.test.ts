/**
 * The instance lifecycle on a real pod (namespaces, Kea, the config store): deploy reserves and
 * creates, destroy removes and releases, errors leave nothing behind, and a deploy or destroy
 * killed at any step is finished by running it again with the store and allocator in agreement.
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { upTestPod, type TestPod } from '../support/kea-pod.ts';
import { deployInstance, destroyInstance } from '../../netns/instance-lifecycle.ts';
import { instanceReport } from '../../netns/instance-report.ts';
import { PodControl } from '../../harness/control/pod-control.ts';
import { readState } from '../../netns/run-state.ts';
import { buildPlan } from '../../harness/pod/plan.ts';
import { v6podNamespaces } from '../../netns/teardown.ts';
import { observeInstances, usable } from '../../netns/observe.ts';
import { daemonAlive, stopDaemon } from '../../netns/daemons/process.ts';
import { up } from '../../netns/realize.ts';

const CLI = new URL('../../bin/v6pod.js', import.meta.url).pathname;

describe('instance lifecycle on a real pod', function () {
  this.timeout(120_000);
  let pod: TestPod;

  before(async () => {
    pod = await upTestPod('t4life');
  });
  after(() => pod?.down());

  const namespaces = () => new Set(v6podNamespaces().get(pod.run) ?? []);
  const control = async () => {
    const state = readState(pod.run)!;
    return PodControl.open(buildPlan(state.pod, pod.run, state.ports), state.pg);
  };
  /** The store's reservations and the allocator rebuilt from them agree, and no prefix is reserved twice. */
  async function assertConsistent(): Promise<Map<string, string[]>> {
    const c = await control();
    try {
      const reserved = await c.store.list();
      const prefixes = reserved.flatMap((r) => r.prefixes);
      expect(new Set(prefixes).size, 'a prefix reserved twice').to.equal(prefixes.length);
      const rebuilt = await c.rebuiltAllocator();
      expect([...rebuilt.livePrefixes()].map(String).sort()).to.deep.equal([...prefixes].sort());
      expect(await c.nextPrefixes(2), 'the next allocation').to.deep.equal(rebuilt.allocate(2).map(String));
      return new Map(reserved.map((r) => [r.mac, r.prefixes]));
    } finally {
      await c.close();
    }
  }

  it('deploy: reservation in Kea, namespace and port created, SLAAC ready; Kea delegates exactly the reservation', async () => {
    const { instance, prefixes } = await deployInstance(pod.run, { name: 'vm5', hypervisor: 'hv2', prefixes: 2 });
    expect(prefixes).to.have.length(2);
    expect(namespaces().has(instance.ns)).to.equal(true);
    const seen = (await observeInstances([instance.ns])).get(instance.ns)!;
    expect(
      seen.addresses.some((a) => a.address === instance.slaac && usable(a)),
      'SLAAC address',
    ).to.equal(true);
    expect((await assertConsistent()).get(instance.mac)).to.deep.equal(prefixes);
    const [answer] = await pod.relay([{ mac: instance.mac, duid: '02:00:00:00:aa:01', iaids: [1, 2], request: true }]);
    expect(answer!.reply!.flatMap((ia) => ia.prefixes).sort()).to.deep.equal([...prefixes].sort());
    const report = await instanceReport(pod.run, 'vm5');
    expect(report).to.include({ mac: instance.mac, slaac: instance.slaac, hypervisor: 'hv2' });
    expect(report.leases.map((l) => l.prefix).sort()).to.deep.equal([...prefixes].sort());
  });

  it('destroy: namespace, leases and reservation gone; the MAC gets NoPrefixAvail; prefixes are not reused at once', async () => {
    const before = readState(pod.run)!
      .pod.hypervisors.flatMap((h) => h.instances)
      .find((i) => i.name === 'vm5')!;
    const { instance, prefixes } = await destroyInstance(pod.run, 'vm5');
    expect(namespaces().has(instance.ns)).to.equal(false);
    expect((await assertConsistent()).has(before.mac)).to.equal(false);
    const leases = (await pod.kea('lease6-get-all')).arguments?.leases as Array<{ 'hw-address'?: string }>;
    expect(leases.filter((l) => l['hw-address'] === before.mac)).to.deep.equal([]);
    const [answer] = await pod.relay([{ mac: before.mac, duid: '02:00:00:00:aa:02', iaids: [1] }]);
    expect(answer!.advertise[0]!.status).to.equal(6);
    const again = await deployInstance(pod.run, { name: 'vm5', mac: before.mac, prefixes: 2 });
    expect(
      again.prefixes.filter((p) => prefixes.includes(p)),
      'quarantined prefixes handed out again',
    ).to.deep.equal([]);
    const [fresh] = await pod.relay([{ mac: before.mac, duid: '02:00:00:00:aa:03', iaids: [1, 2] }]);
    expect(fresh!.advertise.flatMap((ia) => ia.prefixes).sort(), 'a new DUID gets the new reservation').to.deep.equal([...again.prefixes].sort());
    await destroyInstance(pod.run, 'vm5');
  });

  it('bad requests fail with one clear line and change nothing', async () => {
    const snapshot = JSON.stringify(readState(pod.run)!.pod);
    const cases: Array<[Parameters<typeof deployInstance>[1], RegExp]> = [
      [{ name: 'vm9', hypervisor: 'hv9' }, /unknown hypervisor 'hv9'/],
      [{ name: 'vm1' }, /name 'vm1' is taken/],
      [{ name: 'vm9', mac: '06:7a:88:00:00:8b' }, /belongs to instance vm1/],
      [{ name: 'vm9', mac: '01:00:5e:00:00:01' }, /--mac 01:00:5e:00:00:01/],
      [{ name: 'vm9', securityGroup: 'nope' }, /unknown security group 'nope'/],
      [{ name: 'vm9', prefixes: 2 ** 21 }, /pool exhausted: 2001:db8:200::\/40 has no free \/60/],
    ];
    for (const [spec, message] of cases) {
      let error = '';
      await deployInstance(pod.run, spec).catch((e: Error) => (error = e.message));
      expect(error, JSON.stringify(spec)).to.match(message);
      expect(JSON.stringify(readState(pod.run)!.pod), `state after ${JSON.stringify(spec)}`).to.equal(snapshot);
      expect(namespaces().has(`v6p-${pod.run}.vm9`)).to.equal(false);
    }
    await assertConsistent();
  });

  it('Kea not answering: deploy fails naming Kea, leaves nothing; after up restarts Kea it works', async () => {
    const kea = readState(pod.run)!.daemons.find((d) => d.name === 'kea-dhcp6')!;
    await stopDaemon(kea);
    let error = '';
    await deployInstance(pod.run, { name: 'vm8' }).catch((e: Error) => (error = e.message));
    expect(error).to.match(/Kea is not answering/);
    expect(
      readState(pod.run)!
        .pod.hypervisors.flatMap((h) => h.instances)
        .map((i) => i.name),
    ).to.not.include('vm8');
    expect(namespaces().has(`v6p-${pod.run}.vm8`)).to.equal(false);
    const state = readState(pod.run)!;
    await up(state.pod, pod.run, { podFile: state.podFile, owner: process.pid });
    expect(
      readState(pod.run)!
        .daemons.filter((d) => d.name === 'kea-dhcp6')
        .every((d) => daemonAlive(d)),
    ).to.equal(true);
    await deployInstance(pod.run, { name: 'vm8' });
    await destroyInstance(pod.run, 'vm8');
  });

  for (const crashAt of ['after-intent', 'after-reservation', 'after-namespace']) {
    it(`a deploy killed ${crashAt} is finished by deploying again; store and allocator agree throughout`, async () => {
      const killed = spawnSync('node', [CLI, 'vm', 'deploy', 'vmc', '--run', pod.run], { env: { ...process.env, V6POD_CRASH_AT: crashAt }, encoding: 'utf8' });
      expect(killed.signal, killed.stderr).to.equal('SIGKILL');
      expect(readState(pod.run)!.pending.vmc).to.equal('deploying');
      await assertConsistent();
      const { instance, prefixes } = await deployInstance(pod.run, { name: 'vmc' });
      expect(readState(pod.run)!.pending.vmc).to.equal(undefined);
      expect((await assertConsistent()).get(instance.mac)).to.deep.equal(prefixes);
      expect(namespaces().has(instance.ns)).to.equal(true);
      const killedDestroy = spawnSync('node', [CLI, 'vm', 'destroy', 'vmc', '--run', pod.run], {
        env: { ...process.env, V6POD_CRASH_AT: 'after-namespace-removed' },
        encoding: 'utf8',
      });
      expect(killedDestroy.signal, killedDestroy.stderr).to.equal('SIGKILL');
      await destroyInstance(pod.run, 'vmc');
      expect((await assertConsistent()).has(instance.mac)).to.equal(false);
      expect(namespaces().has(instance.ns)).to.equal(false);
    });
  }
});
