/**
 * What security groups let through (RFC 4890 §4.3.1; seed: "IPv6 Security Grouping … similar to
 * IPv4", "User specified rules"; CloudStack security_group.py): the ICMPv6 IPv6 needs, both ways;
 * new inbound traffic only where a user ingress rule (`I:tcp;start;end;cidr`) opens it; replies to
 * the instance's own connections (stateful); and legitimate traffic between instances on different
 * hypervisors. Each pass is proved by capture beyond the port, each drop by expectDropped.
 */
import { expect } from 'chai';
import { core, datagramToCore, expectDelivered, expectDropped, instance, ping, portOf, router, scenario, withSecurityGroup } from '../harness/probe/api.ts';
import { icmpv6Packet, tcpSyn, udpDatagram } from '../harness/packet/builders.ts';
import { buildFrame } from '../harness/packet/frame.ts';
import type { Icmpv6Message } from '../harness/packet/icmpv6.ts';

/** A source outside every CIDR the rules name. */
const OUTSIDER = '2001:db8:ffff::1';

describe('SG: security groups — allowed traffic and user rules', () => {
  scenario(
    {
      id: 'SG-013',
      title: 'ICMPv6 errors (Packet Too Big, Destination Unreachable, Time Exceeded, Parameter Problem) and echo pass both ways',
      reference: 'RFC 4890 §4.3.1; seed: "ICMP is a essential part of IPv6. Blocking ICMP will break IPv6"',
      proves: 'the group never blocks the ICMPv6 that IPv6 needs, to or from the instance',
    },
    async () => {
      // Set up: the four errors (about a datagram of vm1's) and echo request and reply, each way
      // between vm1's SLAAC address and the core.
      const vm1 = instance('vm1');
      const r1 = router('r1');
      const invoking = buildFrame(datagramToCore(vm1)).subarray(14, 14 + 48);
      const messages = (src: string, dst: string): Icmpv6Message[] => [
        { type: 'packet-too-big', code: 0, mtu: 1280, invoking },
        { type: 'destination-unreachable', code: 4, unused: 0, invoking },
        { type: 'time-exceeded', code: 0, unused: 0, invoking },
        { type: 'parameter-problem', code: 0, pointer: 6, invoking },
        { type: 'echo-request', code: 0, identifier: 7, sequence: 1, data: Buffer.from(`${src}>${dst}`) },
        { type: 'echo-reply', code: 0, identifier: 7, sequence: 1, data: Buffer.from(`${src}>${dst}`) },
      ];
      const out = messages(vm1.slaac, core().address).map((message) =>
        icmpv6Packet({ mac: vm1.mac, dstMac: r1.mac, src: vm1.slaac, dst: core().address, message }),
      );
      const back = messages(core().address, vm1.slaac).map((message) =>
        icmpv6Packet({ mac: r1.mac, dstMac: vm1.mac, src: core().address, dst: vm1.slaac, message }),
      );

      // Act and pass criteria: vm1's six leave hv1's uplink; the core's six, put on r1's LAN, reach
      // vm1's port, every one accepted by the rule icmpv6.
      await expectDelivered(out, { from: vm1 });
      await expectDelivered(back, { to: vm1, via: 'r1:lan', rule: 'icmpv6' });
    },
  );

  scenario(
    {
      id: 'SG-014',
      title: 'an ingress rule opens exactly its port from exactly its CIDR; everything else new inbound is dropped',
      reference: 'seed: "User specified rules"; CloudStack security_group.py add_network_rules (I:tcp;start;end;cidr)',
      proves: 'I:tcp;80;80;fd76:3670:ffff::/48 admits a SYN to port 80 from inside the CIDR and nothing else',
    },
    async () => {
      // Set up: vm2's group with one ingress rule; SYNs to vm2 through r1 from the core (inside the
      // CIDR) and from an outsider.
      const vm2 = instance('vm2');
      const r1 = router('r1');
      const syn = (src: string, port: number) => tcpSyn({ mac: r1.mac, dstMac: vm2.mac, src, dst: vm2.slaac, dport: port });

      await withSecurityGroup('vm2', { rules: ['I:tcp;80;80;fd76:3670:ffff::/48'] }, async () => {
        // Act and pass criteria: the core's SYN to port 80 reaches vm2's port (rule ingress-rule-1)…
        await expectDelivered(syn(core().address, 80), { to: vm2, via: 'r1:lan', rule: 'ingress-rule-1' });
        // …and, with it as control, a SYN to port 81 and the outsider's SYN to port 80 do not (rule ingress-default).
        await expectDropped([syn(core().address, 81), syn(OUTSIDER, 80)], {
          to: vm2,
          via: 'r1:lan',
          control: syn(core().address, 80),
          rule: 'ingress-default',
        });
      });
    },
  );

  scenario(
    {
      id: 'SG-015',
      title: 'replies to the instance’s own connections come in; the same traffic unsolicited is dropped',
      reference: 'seed: "IPv6 Security Grouping … similar to IPv4" (stateful: RELATED,ESTABLISHED); CloudStack security_group.py',
      proves: 'ingress is stateful: a UDP reply to a flow vm1 opened reaches it, an unsolicited datagram does not',
    },
    async () => {
      // Set up: vm1 opens a UDP flow from port 40777 to the core's port 5000; datagrams back to it
      // from port 5000 (a reply) and from port 5001 (unsolicited).
      const vm1 = instance('vm1');
      const r1 = router('r1');
      const reply = (sport: number) =>
        udpDatagram({ mac: r1.mac, dstMac: vm1.mac, src: core().address, dst: vm1.slaac, sport, dport: 40777, payload: Buffer.from('reply') });
      await expectDelivered(datagramToCore(vm1, { sport: 40777, dport: 5000 }), { from: vm1 });

      // Act and pass criteria: the reply reaches vm1's port (rule established); with it as control,
      // the unsolicited datagram does not (rule ingress-default).
      await expectDelivered(reply(5000), { to: vm1, via: 'r1:lan', rule: 'established' });
      await expectDropped(reply(5001), { to: vm1, via: 'r1:lan', control: reply(5000), rule: 'ingress-default' });
    },
  );

  scenario(
    {
      id: 'SG-016',
      title: 'instances on different hypervisors reach each other: ping both ways, a SYN to an opened port',
      reference: 'seed: "IPv6 connectivity for Instances"; "User specified rules"',
      proves: 'the groups of both hypervisors let legitimate instance-to-instance traffic through (ND, echo, an allowed TCP port)',
    },
    async () => {
      // Set up: vm1 and vm2 on hv1, vm3 on hv2; vm2's group (web) admits TCP port 80.
      const [vm1, vm2, vm3] = [instance('vm1'), instance('vm2'), instance('vm3')];

      // Act: the kernels ping each other (ND, then echo), both ways.
      const there = await ping(vm3, vm1.slaac, { count: 2, intervalS: 0.2 });
      const back = await ping(vm1, vm3.slaac, { count: 2, intervalS: 0.2 });
      // Pass criteria: every echo answered.
      expect(there.reachable, `vm3 → vm1: ${there.summary}`).to.equal(true);
      expect(back.reachable, `vm1 → vm3: ${back.summary}`).to.equal(true);

      // Act and pass criteria: vm3's SYN to vm2's port 80 leaves hv2 routed through r1, and, sent
      // on the L2 straight to vm2's MAC, reaches vm2's port on hv1.
      await expectDelivered(tcpSyn({ mac: vm3.mac, dstMac: router('r1').mac, src: vm3.slaac, dst: vm2.slaac, dport: 80 }), { from: vm3 });
      await expectDelivered(tcpSyn({ mac: vm3.mac, dstMac: vm2.mac, src: vm3.slaac, dst: vm2.slaac, dport: 80, sport: 40200 }), {
        from: vm3,
        beyond: portOf(vm2),
      });
    },
  );
});
