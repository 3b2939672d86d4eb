/**
 * Security groups against spoofing (seed: "ebtables to prevent MAC spoofing", "Do source
 * IP-address checking to prevent source address spoofing", "On Link Local no UDP or TCP is
 * allowed"): an instance sends only with its own MAC, from its own addresses — its SLAAC address,
 * its link-local, addresses in the prefixes delegated to it — and from the link-local only ICMPv6
 * and the DHCPv6 client exchange.
 *
 * Every drop is proved by expectDropped: a legitimate frame from the same instance crosses its
 * hypervisor's uplink first, in the same window; the offending frames are captured entering the
 * instance's port and are absent beyond the uplink; with the reference driver, the rule named counts them.
 */
import { expect } from 'chai';
import { datagramToCore, expectDelivered, expectDropped, instance, router, scenario, securityGroupOf, withSecurityGroup } from '../harness/probe/api.ts';
import { echoRequest, tcpSyn, udpDatagram } from '../harness/packet/builders.ts';
import { Prefix } from '../harness/addr/prefix.ts';

/** A global address no instance of the pod owns. */
const FOREIGN = '2001:db8:ffff::1';

describe('SG: security groups — spoofing', () => {
  scenario(
    {
      id: 'SG-001',
      title: "a frame with another instance's source MAC is dropped at the port; the same frame with its own MAC passes",
      reference: 'seed: "ebtables to prevent MAC spoofing"',
      proves: 'the hypervisor accepts from an instance only frames carrying its own MAC',
    },
    async () => {
      // Set up: vm1's datagram to the core, and the same with vm2's MAC as Ethernet source.
      const [vm1, vm2] = [instance('vm1'), instance('vm2')];
      const own = datagramToCore(vm1);
      const spoofed = datagramToCore(vm1, { mac: vm2.mac });

      // Act: vm1 sends `own`, then `spoofed`.
      // Pass criteria: `own` crosses hv1's uplink; `spoofed` enters vm1's port and goes no further (rule mac-spoof).
      await expectDropped(spoofed, { from: vm1, control: own, rule: 'mac-spoof' });
    },
  );

  scenario(
    {
      id: 'SG-002',
      title: "a source address of another instance, of a foreign network, or inside another instance's delegated prefix is dropped",
      reference: 'seed: "Do source IP-address checking to prevent source address spoofing"',
      proves:
        "the instance can send only from its own addresses: another instance's SLAAC address, a foreign global and an address in another's /60 are all refused",
    },
    async () => {
      // Set up: three sources vm1 does not own.
      const [vm1, vm2] = [instance('vm1'), instance('vm2')];
      const inVm3Prefix = Prefix.parse((await securityGroupOf('vm3')).prefixes[0]!).address(1n);
      const spoofed = [vm2.slaac, FOREIGN, inVm3Prefix].map((src) => datagramToCore(vm1, { src }));

      // Act: vm1 sends a datagram from its own SLAAC address, then one from each of them.
      // Pass criteria: its own crosses; none of the three leaves its port (rule source-spoof).
      await expectDropped(spoofed, { from: vm1, control: datagramToCore(vm1), rule: 'source-spoof' });
    },
  );

  scenario(
    {
      id: 'SG-003',
      title: 'an address in its own delegated prefix is accepted as source, and refused once the prefix is withdrawn',
      reference: 'seed: "We also allow this /60 in the Security Group of the Instance"; "multiple prefixes per Instances should be allowed"',
      proves: "delegated prefixes are sources while the instance holds them; re-rendering one instance's group withdraws them at once",
    },
    async () => {
      // Set up: vm3 holds two delegated prefixes; a datagram from an address in each.
      const vm3 = instance('vm3');
      const { prefixes } = await securityGroupOf('vm3');
      expect(prefixes, 'vm3 reservation').to.have.length(2);
      const [kept, withdrawn] = prefixes.map((p) => datagramToCore(vm3, { src: Prefix.parse(p).address(1n) }));

      // Act and pass criteria: from either prefix, vm3's datagrams leave hv2.
      await expectDelivered([kept!, withdrawn!], { from: vm3 });

      // Act: vm3's group re-rendered with its first prefix only.
      await withSecurityGroup('vm3', { prefixes: [prefixes[0]!] }, async () => {
        // Pass criteria: the kept prefix is still a source; the withdrawn one is dropped at vm3's port.
        await expectDelivered(kept!, { from: vm3 });
        await expectDropped(withdrawn!, { from: vm3, control: datagramToCore(vm3), rule: 'source-spoof' });
      });
    },
  );

  scenario(
    {
      id: 'SG-004',
      title: 'TCP and UDP from the link-local address are dropped; ICMPv6 echo from it passes',
      reference: 'seed: "On Link Local no UDP or TCP is allowed"',
      proves: 'from a link-local source only ICMPv6 and the DHCPv6 client exchange leave the port',
    },
    async () => {
      // Set up: from vm1's link-local to r1's, an echo, a TCP SYN to port 22 and a UDP datagram to port 53.
      const vm1 = instance('vm1');
      const r1 = router('r1');
      const linkLocal = { mac: vm1.mac, dstMac: r1.mac, src: vm1.linkLocal, dst: r1.linkLocal };
      const echo = echoRequest({ ...linkLocal, identifier: 0x5347, data: Buffer.from('sg') });
      const syn = tcpSyn({ ...linkLocal, dport: 22 });
      const dns = udpDatagram({ ...linkLocal, dport: 53 });

      // Act: vm1 sends the echo, then the SYN and the datagram.
      // Pass criteria: the echo crosses hv1's uplink; TCP and UDP do not (rule link-local-not-icmpv6).
      await expectDropped([syn, dns], { from: vm1, control: echo, rule: 'link-local-not-icmpv6' });
    },
  );
});
