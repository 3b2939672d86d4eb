/**
 * The routers' DHCPv6 relay under hostile input (RFC 8415 §7.6 hop limit, §19; RFC 4649): an
 * instance must never inject its own option 37, and bad messages are dropped and counted while
 * the relay keeps serving. Every drop has its positive control in the same window (a legitimate
 * Solicit from the same instance reaches Kea) and its evidence (the capture at Kea, the counters).
 * The hostile frames are put on the wire past the instance's security group (which stops most of
 * them first, see SG-012): this is the relay's own defence, in depth.
 */
import { expect } from 'chai';
import { eachRouter, instance, relayMessageOf, relayWindow, remoteIdOf, router, scenario } from '../harness/probe/api.ts';
import { relayChain, encodeDhcpv6 } from '../harness/packet/dhcpv6.ts';
import { relayForward, solicit } from '../harness/packet/builders.ts';

/** A client's Solicit for IA_PD 9, claiming the DUID-LL of `mac`. */
const solicitAs = (mac: string) => solicit({ mac, transactionId: 0x5eed01, iaPds: [9] });

describe('RELAY: the relay agent under hostile input', () => {
  scenario(
    {
      id: 'RELAY-001',
      title: 'a forged Relay-Forward from an instance (its own option 37 claiming another MAC) is dropped by both relays and never reaches Kea',
      reference: 'seed: "Routers … have to insert the MAC address of the Instance" (option 37 must come from the router); RFC 8415 §19.1; RFC 4649 §3',
      proves: 'an instance cannot pose as another by sending its own Relay-Forward: the relays drop it, count it, and Kea sees only the relays’ own',
    },
    async () => {
      // Set up: a Relay-Forward as r1 would send it for vm2, with vm2's MAC in option 37.
      const victim = instance('vm2');
      const forged = relayForward({
        linkAddress: router('r1').lanAddress,
        peerAddress: victim.linkLocal,
        remoteId: victim.mac,
        message: solicitAs(victim.mac),
      });

      // Act: vm1 sends it past its group, then runs its own exchange.
      const { atKea, dropsCounted } = await relayWindow({ from: 'vm1', hostile: [encodeDhcpv6(forged)], reason: 'from-client:relay-forward' });

      // Pass criteria: no Relay-Forward at Kea claims vm2 or nests the forged one; each relay counted it.
      const claimingVictim = atKea.filter((f) => {
        const fw = relayMessageOf(f, 'relay-forward');
        return fw && (remoteIdOf(f) === victim.mac || relayChain(fw).length > 1);
      });
      expect(claimingVictim, 'Relay-Forwards at Kea claiming vm2 or nesting the forged one').to.deep.equal([]);
      expect(dropsCounted, 'each relay counted one forged Relay-Forward').to.deep.equal(eachRouter(1));
    },
  );

  scenario(
    {
      id: 'RELAY-002',
      title: 'a Relay-Forward at the hop-count limit is dropped and counted',
      reference: 'RFC 8415 §7.6 (HOP_COUNT_LIMIT 8), §19.1.1',
      proves: 'the relays refuse messages that have crossed too many relays, and keep serving the instance',
    },
    async () => {
      // Set up: a Relay-Forward that has already crossed 8 relays.
      const tooFar = relayForward({ hopCount: 8, linkAddress: '::', peerAddress: instance('vm1').linkLocal, message: solicitAs('02:00:00:00:08:08') });

      // Act: vm1 sends it past its group, then runs its own exchange.
      const { dropsCounted } = await relayWindow({ from: 'vm1', hostile: [encodeDhcpv6(tooFar)], reason: 'hop-count-exceeded' });

      // Pass criteria: each relay counted it (and served vm1: relayWindow's positive control).
      expect(dropsCounted, 'each relay counted one message over the hop limit').to.deep.equal(eachRouter(1));
    },
  );

  scenario(
    {
      id: 'RELAY-003',
      title: 'malformed and oversize DHCPv6 messages are dropped and counted; the relays keep serving',
      reference: 'RFC 8415 §16 (malformed messages are discarded); RFC 8415 §19',
      proves: 'bytes that do not decode never crash a relay nor reach Kea, and the next legitimate exchange is served',
    },
    async () => {
      // Set up: a Solicit cut after 9 bytes, and one padded with a 1,400-byte unknown option.
      const truncated = encodeDhcpv6(solicitAs('02:00:00:00:03:03')).subarray(0, 9);
      const big = solicitAs('02:00:00:00:03:04');
      const huge = encodeDhcpv6({ ...big, options: [...big.options, { type: 'unknown', optionCode: 65000, data: Buffer.alloc(1400) }] });

      // Act and pass criteria: each, sent by vm1 past its group, is counted by each relay, and vm1 is served after it.
      const malformed = await relayWindow({ from: 'vm1', hostile: [truncated], reason: 'malformed' });
      expect(malformed.dropsCounted, 'each relay counted the malformed message').to.deep.equal(eachRouter(1));
      const oversize = await relayWindow({ from: 'vm1', hostile: [huge], reason: 'oversize' });
      expect(oversize.dropsCounted, 'each relay counted the oversize message').to.deep.equal(eachRouter(1));
    },
  );
});
