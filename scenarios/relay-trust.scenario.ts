/**
 * The seed's trust argument, for whichever relay the routers run and wherever Kea learns a client's
 * MAC (`relay:` and `kea.macSources`, docs/relays.md). The seed identifies an instance by the MAC
 * the network saw, never by what the client claims: "Since the client generates this DUID we can not
 * trust it". Each scenario first runs the honest client (the positive control: it gets its own
 * reservation), then the one that forges an identity (its DUID, or its link-local) and must still
 * get only its own reservation. Which relay × MAC source passes which scenario is the matrix of
 * docs/relays.md; a failure says which part of the chain did not hold.
 */
import { expect } from 'chai';
import {
  delegatedPrefixes,
  dhcpClient,
  inNode,
  macSources,
  relayedOf,
  relayName,
  relayOptionsOf,
  scenario,
  sharedVm,
  vm,
  watching,
  type DhcpClientResult,
  type DhcpStep,
} from '../harness/probe/api.ts';

const ACQUIRE_AND_RELEASE: DhcpStep[] = [{ op: 'acquire' }, { op: 'release' }];
/** A universally administered MAC (U/L bit 0), as a NIC's burnt-in one: its EUI-64 link-local carries the u bit. */
const UNIVERSAL_MAC = '00:16:3e:5c:00:01';

/** The chain in words, for failure messages: which relay, which MAC sources. */
function chain(): string {
  return `relay ${relayName()}, Kea mac-sources [${macSources().join(', ')}]`;
}

function got(r: DhcpClientResult): string[] {
  return r.steps[0]?.answer === 'reply' ? delegatedPrefixes(r) : [];
}

describe('TRUST: the client is identified by what the network saw, never by what it claims', () => {
  // tu1: a guest with a universally administered MAC and one prefix reserved, which Kea can also
  // identify by its EUI-64 link-local; TRUST-002 and TRUST-004 share it (deployed once).
  const universalGuest = sharedVm('tu1', { mac: UNIVERSAL_MAC, prefixes: 1 });

  scenario(
    {
      id: 'TRUST-001',
      title: 'an instance with a CloudStack MAC gets its own reservation (positive control)',
      reference: 'seed: "we use option 37 (remote-id) … the MAC address of the Instance"; RFC 4649; RFC 6939; Kea mac-sources',
      proves: 'the relay and Kea together identify an honest instance (locally administered MAC, DUID-LL of that MAC) by its MAC and delegate its reservation',
    },
    async () => {
      // Set up: vm4's reservation; a watch at Kea for what the relays forward.
      const vm4 = vm('vm4');
      const reserved = await vm4.reservedPrefixes();
      await watching('kea', 'dhcpv6', async (atKea) => {
        // Act: vm4 acquires (its own DUID) and releases.
        const r = await vm4.requestPrefixes({ steps: ACQUIRE_AND_RELEASE });

        // Pass criteria: exactly its reservation.
        const forward = atKea.frames().find((f) => relayedOf(f, 'solicit'));
        const options = forward ? relayOptionsOf(forward).join(', ') : 'no Relay-Forward reached Kea';
        expect(got(r), `vm4 (MAC ${vm4.plan.mac}) with ${chain()}; the Relay-Forward at Kea carried [${options}] (pcap ${atKea.file})`).to.deep.equal(reserved);
      });
    },
  );

  scenario(
    {
      id: 'TRUST-002',
      title: 'an EUI-64 guest with a universally administered MAC gets its own reservation (positive control)',
      reference: 'RFC 4291 §2.5.1 and Appendix A (the u bit); Kea mac-sources ipv6-link-local',
      proves: 'a guest whose link-local is the EUI-64 of a burnt-in-style MAC is identified by its MAC, whichever MAC source Kea uses',
    },
    async () => {
      // Set up: tu1 deployed with a universally administered MAC and one prefix reserved.
      const { instance, prefixes } = await universalGuest();

      // Act: tu1 acquires and releases.
      const r = await dhcpClient(instance, { steps: ACQUIRE_AND_RELEASE });

      // Pass criteria: exactly its reservation.
      expect(got(r), `tu1 (MAC ${instance.mac}, link-local ${instance.linkLocal}) with ${chain()}`).to.deep.equal(prefixes);
    },
  );

  scenario(
    {
      id: 'TRUST-003',
      title: "a client claiming another instance's DUID gets only its own reservation, never the other's",
      reference: 'seed: "Since the client generates this DUID we can not trust it"; RFC 8415 §11; Kea mac-sources duid',
      proves: 'forging the DUID (DUID-LL of vm2’s MAC) does not take vm2’s prefix: Kea keys on a MAC the client cannot choose',
    },
    async () => {
      // Set up: both reservations.
      const [vm2, vm4] = [vm('vm2'), vm('vm4')];
      const [own, victims] = [await vm4.reservedPrefixes(), await vm2.reservedPrefixes()];

      // Act (positive control): vm4, honest, gets its own reservation.
      const honest = await vm4.requestPrefixes({ steps: ACQUIRE_AND_RELEASE });
      expect(got(honest), `positive control: honest vm4 with ${chain()}`).to.deep.equal(own);

      // Act: vm4 claims vm2's DUID.
      const forged = await vm4.requestPrefixes({ duid: vm2.plan.mac, steps: ACQUIRE_AND_RELEASE });

      // Pass criteria: never vm2's prefix; exactly its own.
      const taken = got(forged).filter((p) => victims.includes(p));
      expect(taken, `vm4 took vm2's reservation by claiming vm2's DUID (${chain()}: Kea believed the client-chosen DUID)`).to.deep.equal([]);
      expect(got(forged), `vm4 with vm2's DUID (${chain()})`).to.deep.equal(own);
    },
  );

  scenario(
    {
      id: 'TRUST-004',
      title: "a client sending from another instance's link-local gets nothing; that instance keeps its reservation",
      reference: 'RFC 4291 §2.5.1; seed: security groups "only allow traffic from the instance\'s addresses"; Kea mac-sources ipv6-link-local',
      proves:
        'forging the link-local (from which ipv6-link-local derives the MAC) does not take another instance’s prefix: the security group drops the forged source at the port',
    },
    async () => {
      // Set up: tu1, a guest Kea can identify by its EUI-64 link-local, with one prefix reserved.
      const { instance: tu1, prefixes } = await universalGuest();
      const vm4 = vm('vm4');

      // Act (positive control): tu1, honest, gets its reservation.
      const honest = await dhcpClient(tu1, { steps: ACQUIRE_AND_RELEASE });
      expect(got(honest), `positive control: honest tu1 with ${chain()}`).to.deep.equal(prefixes);

      // Act: vm4 takes tu1's link-local (no DAD) and asks from it, with tu1's DUID as well. The
      // honest exchange's latency sets how long its Solicit waits for an Advertise: 10 × it, at
      // least 0.5 s, at most 3 s (Kea answers in a few ms; the group drops the Solicit at the port).
      const answerWithinMs = Math.min(3000, Math.max(500, 10 * honest.steps[0]!.ms));
      const forgedLl = `${tu1.linkLocal}/64`;
      await inNode(vm4.plan, ['ip', '-6', 'address', 'add', forgedLl, 'dev', 'eth0', 'nodad']);
      try {
        const forged = await dhcpClient({ ...vm4.plan, linkLocal: tu1.linkLocal }, { duid: tu1.mac, steps: [{ op: 'acquire' }], answerWithinMs });

        // Pass criteria: none of tu1's prefixes reach vm4.
        expect(
          got(forged).filter((p) => prefixes.includes(p)),
          `vm4 took tu1's reservation from tu1's link-local (${chain()}: the forged source crossed the port)`,
        ).to.deep.equal([]);
      } finally {
        // Undo: vm4 gives the address back.
        await inNode(vm4.plan, ['ip', '-6', 'address', 'del', forgedLl, 'dev', 'eth0'], { allowFailure: true });
      }
    },
  );
});
