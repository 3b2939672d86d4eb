/**
 * What every reservation store must make real Kea do: run by
 * config-store.test.ts and pg-store.test.ts against a pod of their own.
 *   - a Relay-Forward with option 37 = the instance MAC gets exactly the reserved prefix(es), one per IA_PD;
 *   - an unknown MAC gets NoPrefixAvail in its IA_PD;
 *   - destroy (lease6-del + remove) then redeploy with the same MAC and a new DUID gets the reservation again;
 *   - the allocator rebuilt from the store holds exactly what the store holds.
 */
import { expect } from 'chai';
import { Allocator } from '../../harness/control/allocator.ts';
import { DHCPV6_STATUS_CODES } from '../../harness/packet/dhcpv6.ts';
import type { ReservationStore } from '../../harness/control/reservation-store.ts';
import type { TestPod } from './kea-pod.ts';

const VM_A = '02:00:5e:10:00:01';
const VM_B = '02:00:5e:10:00:02';
const STRANGER = '02:00:5e:10:00:99';
const QUARANTINE_MS = 4_000_000;

export function storeContract(ctx: () => { pod: TestPod; store: ReservationStore }): void {
  const allocatorOf = async (pod: TestPod, store: ReservationStore) =>
    Allocator.fromReserved(
      pod.plan.pod.pod.pdPool,
      pod.plan.pod.pod.delegatedLength,
      (await store.list()).flatMap((r) => r.prefixes),
      {
        quarantineMs: QUARANTINE_MS,
        quarantined: await store.quarantined(),
      },
    );

  it('Kea hands each reserved MAC exactly its prefixes, one per IA_PD, and an unknown MAC NoPrefixAvail', async () => {
    const { pod, store } = ctx();
    const alloc = await allocatorOf(pod, store);
    const a = alloc.allocate(1).map(String);
    const b = alloc.allocate(2).map(String);
    await store.put([
      { mac: VM_A, prefixes: a },
      { mac: VM_B, prefixes: b },
    ]);
    const [ra, rb, rs] = await pod.relay([
      { mac: VM_A, duid: '0e:00:00:00:00:01', iaids: [1] },
      { mac: VM_B, duid: '0e:00:00:00:00:02', iaids: [1, 2] },
      { mac: STRANGER, duid: '0e:00:00:00:00:03', iaids: [1] },
    ]);
    expect(ra!.advertise).to.deep.equal([{ iaid: 1, prefixes: a }]);
    expect(rb!.advertise.map((ia) => ia.prefixes.length)).to.deep.equal([1, 1]);
    expect(rb!.advertise.flatMap((ia) => ia.prefixes).sort()).to.deep.equal([...b].sort());
    expect(rs!.advertise).to.have.length(1);
    expect(rs!.advertise[0]!.prefixes).to.deep.equal([]);
    expect(rs!.advertise[0]!.status).to.equal(DHCPV6_STATUS_CODES.NoPrefixAvail);
    // The allocator rebuilt from the store holds exactly these.
    expect((await allocatorOf(pod, store)).livePrefixes().map(String).sort()).to.deep.equal([...a, ...b].sort());
  });

  it('destroy (lease6-del, remove) then redeploy with the same MAC: a new DUID gets the reservation', async () => {
    const { pod, store } = ctx();
    const [mine] = (await store.list()).filter((r) => r.mac === VM_A);
    expect(mine, 'the reservation of the previous test').to.not.equal(undefined);
    const [leased] = await pod.relay([{ mac: VM_A, duid: '0e:00:00:00:00:01', iaids: [1], request: true }]);
    expect(leased!.reply).to.deep.equal([{ iaid: 1, prefixes: mine!.prefixes }]);

    await pod.deleteLeases(mine!.prefixes);
    await store.remove([VM_A], { until: Date.now() + QUARANTINE_MS, now: Date.now() });
    expect((await store.list()).map((r) => r.mac)).to.deep.equal([VM_B]);
    expect((await store.quarantined()).map((q) => q.prefix)).to.deep.equal(mine!.prefixes);
    const [gone] = await pod.relay([{ mac: VM_A, duid: '0e:00:00:00:00:01', iaids: [1] }]);
    expect(gone!.advertise[0]!.status).to.equal(DHCPV6_STATUS_CODES.NoPrefixAvail);

    await store.put([{ mac: VM_A, prefixes: mine!.prefixes }]);
    expect(await store.quarantined()).to.deep.equal([]);
    const [again] = await pod.relay([{ mac: VM_A, duid: '0e:00:00:00:00:a1', iaids: [7], request: true }]);
    expect(again!.advertise).to.deep.equal([{ iaid: 7, prefixes: mine!.prefixes }]);
    expect(again!.reply).to.deep.equal([{ iaid: 7, prefixes: mine!.prefixes }]);

    await pod.deleteLeases((await store.list()).flatMap((r) => r.prefixes));
    await store.remove([VM_A, VM_B]);
    expect(await store.list()).to.deep.equal([]);
  });
}
