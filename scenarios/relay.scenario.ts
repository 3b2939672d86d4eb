/**
 * The routers' DHCPv6 relay under hostile input (RFC 8415 §7.6 hop limit, §19; RFC 4649): an
 * instance must never inject its own option 37, and bad messages are dropped and counted while
 * the relay keeps serving. Every drop has its positive control in the same window (a legitimate
 * Solicit from the same instance reaches Kea) and its evidence (the capture at Kea, the counters).
 * The hostile frames are put on the wire past the instance's security group (which stops most of
 * them first, see SG-012): this is the relay's own defence, in depth.
 */
import { expect } from 'chai';
import { scenario } from '../harness/probe/scenario.ts';
import { artifactPath, currentPod } from '../harness/probe/pod-context.ts';
import { instance } from '../harness/probe/instance.ts';
import { Capture, ProbeAgent } from '../harness/probe/agent-client.ts';
import { dhcpClient, relayCounters } from '../harness/probe/dhcp.ts';
import { encodeDhcpv6, findOption, innermostMessage, relayChain, type ClientServerMessage, type Dhcpv6Message } from '../harness/packet/dhcpv6.ts';
import { buildFrame, type DecodedFrame } from '../harness/packet/frame.ts';
import { ETHERTYPE_IPV6 } from '../harness/packet/ethernet.ts';
import { namespaceName } from '../harness/pod/names.ts';

const solicitFrom = (duid: string): ClientServerMessage => ({
  type: 'solicit',
  transactionId: 0x5eed01,
  options: [
    { type: 'client-id', duid: { type: 'll', hardwareType: 1, linkLayerAddress: duid } },
    { type: 'elapsed-time', centiseconds: 0 },
    { type: 'ia-pd', iaid: 9, t1: 0, t2: 0, options: [] },
  ],
});

const remoteIdOf = (f: DecodedFrame) => (f.dhcpv6 && 'options' in f.dhcpv6 ? findOption(f.dhcpv6.options, 'remote-id')?.remoteId : undefined);

/**
 * vm1's DHCPv6 datagram as a frame on the pod L2. It is injected on vm1's hypervisor uplink, past
 * vm1's security group (which drops most of these first): the relay must refuse them on its own.
 */
function fromVm1(payload: Buffer): Buffer {
  const vm = instance('vm1');
  return buildFrame({
    ethernet: { src: vm.mac, dst: '33:33:00:01:00:02', etherType: ETHERTYPE_IPV6 },
    ipv6: { trafficClass: 0, flowLabel: 0, hopLimit: 1, src: vm.linkLocal, dst: 'ff02::1:2' },
    udp: { srcPort: 546, dstPort: 547 },
    payload,
  });
}

/**
 * Sends the bad datagrams and then a legitimate Solicit from the same instance, capturing at Kea:
 * returns what Kea received in that window and how much each router's counter for `reason` grew.
 */
async function hostileWindow(id: string, bad: Buffer[], reason: string): Promise<{ atKea: DecodedFrame[]; grew: number[] }> {
  const vm = instance('vm1');
  const routers = currentPod().routers;
  const before = await Promise.all(routers.map(async (r) => (await relayCounters(r)).dropped[reason] ?? 0));
  const capture = await Capture.start(currentPod().kea.ns, 'svc0', artifactPath(`${id}.pcap`), 'udp port 547');
  try {
    const uplink = await ProbeAgent.in(namespaceName(currentPod().run, vm.hypervisor));
    for (const payload of bad) await uplink.inject('uplink', fromVm1(payload));
    await dhcpClient(vm, { steps: [{ op: 'acquire' }, { op: 'release' }] });
    // The control: vm1's own Solicit reached Kea from every router, with option 37 = vm1's MAC.
    const frames = await capture.waitFor(
      (fs) => (fs.filter((f) => f.frame.dhcpv6?.type === 'relay-forward' && remoteIdOf(f.frame) === vm.mac && innermostMessage(f.frame.dhcpv6)?.type === 'solicit').length >= routers.length ? fs : undefined),
      3000,
      "vm1's legitimate Solicit relayed by every router (positive control)",
    );
    const after = await Promise.all(routers.map(async (r) => (await relayCounters(r)).dropped[reason] ?? 0));
    return { atKea: frames.map((f) => f.frame), grew: after.map((n, i) => n - before[i]!) };
  } finally {
    await capture.stop();
  }
}

describe('RELAY: the relay agent under hostile input', () => {
  scenario(
    {
      id: 'RELAY-001',
      title: 'a forged Relay-Forward from an instance (its own option 37 claiming another MAC) is dropped by both relays and never reaches Kea',
      reference: 'seed: "Routers … have to insert the MAC address of the Instance" (option 37 must come from the router); RFC 8415 §19.1; RFC 4649 §3',
      proves: 'an instance cannot pose as another by sending its own Relay-Forward: the relays drop it, count it, and Kea sees only the relays’ own',
    },
    async () => {
      const victim = instance('vm2');
      const forged: Dhcpv6Message = {
        type: 'relay-forward',
        hopCount: 0,
        linkAddress: currentPod().routers[0]!.lanAddress,
        peerAddress: victim.linkLocal,
        options: [
          { type: 'remote-id', enterpriseNumber: 4491, remoteId: victim.mac },
          { type: 'relay-message', message: solicitFrom(victim.mac) },
        ],
      };
      const { atKea, grew } = await hostileWindow('RELAY-001', [encodeDhcpv6(forged)], 'from-client:relay-forward');
      const claimingVictim = atKea.filter((f) => f.dhcpv6?.type === 'relay-forward' && (remoteIdOf(f) === victim.mac || relayChain(f.dhcpv6!).length > 1));
      expect(claimingVictim, 'Relay-Forwards at Kea claiming vm2 or nesting the forged one').to.deep.equal([]);
      expect(grew, 'each relay counted one forged Relay-Forward').to.deep.equal(currentPod().routers.map(() => 1));
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
      const tooFar: Dhcpv6Message = { type: 'relay-forward', hopCount: 8, linkAddress: '::', peerAddress: instance('vm1').linkLocal, options: [{ type: 'relay-message', message: solicitFrom('02:00:00:00:08:08') }] };
      const { grew } = await hostileWindow('RELAY-002', [encodeDhcpv6(tooFar)], 'hop-count-exceeded');
      expect(grew, 'each relay counted one message over the hop limit').to.deep.equal(currentPod().routers.map(() => 1));
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
      const truncated = encodeDhcpv6(solicitFrom('02:00:00:00:03:03')).subarray(0, 9);
      const malformed = await hostileWindow('RELAY-003', [truncated], 'malformed');
      expect(malformed.grew, 'each relay counted the malformed message').to.deep.equal(currentPod().routers.map(() => 1));
      const big = solicitFrom('02:00:00:00:03:04');
      const huge = encodeDhcpv6({ ...big, options: [...big.options, { type: 'unknown', optionCode: 65000, data: Buffer.alloc(1400) }] });
      const oversize = await hostileWindow('RELAY-003-oversize', [huge], 'oversize');
      expect(oversize.grew, 'each relay counted the oversize message').to.deep.equal(currentPod().routers.map(() => 1));
    },
  );
});
