/**
 * Security groups and DHCPv6 (RFC 8415 §7, §18.3, §19; RFC 4649 §3; seed: "DHCPv6 server under
 * control of CloudStack", "Routers/gateways … have to insert the MAC address"): an instance is a
 * DHCPv6 client and nothing else — it may talk only to ff02::1:2 from its client port, never act
 * as a server or a relay (which could forge option 37 and take another instance's reservation),
 * and never answer another client. Its own Solicit is the control. A real rogue server
 * (thc-ipv6 fake_dhcps6) runs inside an instance and its answers are proved absent beyond it.
 */
import {
  core,
  datagramToCore,
  expectDropped,
  instance,
  kea,
  matches,
  portOf,
  router,
  routers,
  scenario,
  send,
  uplinkOf,
  withSecurityGroup,
  type SeenFrame,
} from '../harness/probe/api.ts';
import { dhcpv6Datagram, relayForward, serverMessage, solicit } from '../harness/packet/builders.ts';
import { ALL_DHCP_RELAY_AGENTS_AND_SERVERS, DHCPV6_CLIENT_PORT, DHCPV6_SERVER_PORT } from '../harness/packet/constants.ts';
import { isMulticast } from '../harness/addr/multicast.ts';

/** thc-ipv6's rogue DHCPv6 server, handing out a prefix and a DNS server of its own. */
const ROGUE_SERVER = ['atk6-fake_dhcps6', 'eth0', '2001:db8:bad::/64', '2001:db8:bad::53'];

describe('SG: security groups — DHCPv6', () => {
  scenario(
    {
      id: 'SG-011',
      title: 'DHCPv6 server messages (source port 547) from an instance are dropped, to a link-local and to a global destination',
      reference: 'RFC 8415 §7.2, §18.3; seed: "DHCPv6 server under control of CloudStack"',
      proves: 'an instance cannot act as a rogue DHCPv6 server; its own Solicit to ff02::1:2 passes',
    },
    async () => {
      // Set up: an Advertise from vm1 (server port 547 → 546) to vm3's link-local and to its global address.
      const [vm1, vm3] = [instance('vm1'), instance('vm3')];
      const advertise = (src: string, dst: string) =>
        dhcpv6Datagram({
          mac: vm1.mac,
          dstMac: vm3.mac,
          src,
          dst,
          sport: DHCPV6_SERVER_PORT,
          dport: DHCPV6_CLIENT_PORT,
          message: serverMessage('advertise', { mac: vm1.mac }),
        });

      // Act: vm1 sends its own Solicit to ff02::1:2, then both Advertises.
      // Pass criteria: the Solicit crosses hv1's uplink; no Advertise leaves vm1's port (rule dhcpv6-server).
      await expectDropped([advertise(vm1.linkLocal, vm3.linkLocal), advertise(vm1.slaac, vm3.slaac)], {
        from: vm1,
        control: dhcpv6Datagram({ mac: vm1.mac }),
        rule: 'dhcpv6-server',
      });
    },
  );

  scenario(
    {
      id: 'SG-012',
      title: 'DHCPv6 to anything but ff02::1:2, and a forged Relay-Forward with option 37, are dropped',
      reference: 'RFC 8415 §7.1, §19; RFC 4649 §3; seed: "Routers/gateways … have to insert the MAC address"',
      proves: 'an instance cannot reach Kea directly nor claim another MAC in option 37, so it can never take another instance’s reservation',
    },
    async () => {
      // Set up: vm1's Solicit sent straight to Kea and to r1's link-local; a Relay-Forward claiming
      // vm3's MAC in option 37, sent from the client port, and from the server port to ff02::1:2 and to Kea.
      const [vm1, vm3] = [instance('vm1'), instance('vm3')];
      const r1 = router('r1');
      const ownSolicit = dhcpv6Datagram({ mac: vm1.mac });
      const toKea = dhcpv6Datagram({ mac: vm1.mac, src: vm1.slaac, dst: kea().address, dstMac: r1.mac });
      const toRouter = dhcpv6Datagram({ mac: vm1.mac, dst: r1.linkLocal, dstMac: r1.mac });
      const claimingVm3 = relayForward({ linkAddress: r1.lanAddress, peerAddress: vm3.linkLocal, remoteId: vm3.mac, message: solicit({ mac: vm3.mac }) });
      const forged = (sport: number, dst: string, dstMac?: string) =>
        dhcpv6Datagram({ mac: vm1.mac, src: isMulticast(dst) ? vm1.linkLocal : vm1.slaac, dst, dstMac, sport, message: claimingVm3 });

      // Act: vm1 sends its own Solicit, then each group of forged datagrams.
      // Pass criteria: its Solicit crosses hv1's uplink; the others never leave vm1's port, each
      // counted by its rule.
      await expectDropped([toKea, toRouter], { from: vm1, control: ownSolicit, rule: 'dhcpv6-not-multicast' });
      await expectDropped(forged(DHCPV6_CLIENT_PORT, ALL_DHCP_RELAY_AGENTS_AND_SERVERS), { from: vm1, control: ownSolicit, rule: 'dhcpv6-relay-message' });
      await expectDropped([forged(DHCPV6_SERVER_PORT, ALL_DHCP_RELAY_AGENTS_AND_SERVERS), forged(DHCPV6_SERVER_PORT, kea().address, r1.mac)], {
        from: vm1,
        control: ownSolicit,
        rule: 'dhcpv6-server',
      });
    },
  );

  scenario(
    {
      id: 'SG-018',
      title:
        'real attacker: thc-ipv6 atk6-fake_dhcps6 in an instance answers a Solicit to a link-local and a global destination; both answers are stopped at the port',
      reference: 'RFC 8415 §7.2, §18.3 (only servers and relays answer clients); seed: "DHCPv6 server under control of CloudStack"; thc-ipv6 fake_dhcps6',
      proves:
        "a rogue DHCPv6 server in an instance cannot reach clients: Kea's own Advertise reaches the victim in the same window, the rogue's never leaves the attacker's port — even when the attacker's group lets Solicits in",
    },
    async () => {
      // Set up: fake_dhcps6 is a socket server on udp/547 answering from an ephemeral port to whoever
      // asked, so the rule that stops it is `dhcpv6-to-client` (anything to port 546), not
      // `dhcpv6-server`. The default group never lets a Solicit reach an instance; the attacker is
      // given the ingress rule a tenant running a server would add, so the tool sees real Solicits.
      const [vm1, vm2] = [instance('vm1'), instance('vm2')];
      const rogueAnswerTo = (dst: string) => ({ ethSrc: vm1.mac, dst, dport: DHCPV6_CLIENT_PORT });
      const relaysAnswerTo = (dst: string) => (f: SeenFrame) =>
        routers().some((r) => matches(f, { ethSrc: r.mac, dst, sport: DHCPV6_SERVER_PORT, dport: DHCPV6_CLIENT_PORT }));

      await withSecurityGroup('vm1', { rules: ['I:udp;547;547;::/0'] }, async () => {
        // Act: vm2's own Solicit to ff02::1:2 reaches the relays and the attacker alike.
        // Pass criteria: the relays' Advertise (Kea's) reaches vm2's port; the rogue's never leaves vm1's port.
        await expectDropped(
          { serve: ROGUE_SERVER, answers: rogueAnswerTo(vm2.linkLocal) },
          {
            from: vm1,
            control: { provoke: () => send(vm2, dhcpv6Datagram({ mac: vm2.mac })), expect: relaysAnswerTo(vm2.linkLocal), at: portOf(vm2) },
            rule: 'dhcpv6-to-client',
          },
        );

        // Act: a client outside the pod (the core's address) reaches the attacker by unicast through
        // r1; vm1 then sends an ordinary datagram to the core (the control).
        const fromOutside = dhcpv6Datagram({
          mac: router('r1').mac,
          dstMac: vm1.mac,
          src: core().address,
          dst: vm1.slaac,
          message: solicit({ mac: vm1.mac, transactionId: 0x5348 }),
        });
        const own = datagramToCore(vm1);
        // Pass criteria: vm1's datagram leaves hv1; the rogue's answer to the core never does.
        await expectDropped(
          { serve: ROGUE_SERVER, answers: rogueAnswerTo(core().address) },
          {
            from: vm1,
            control: {
              provoke: async () => {
                await send('r1:lan', fromOutside);
                await send(vm1, own);
              },
              expect: own,
              at: uplinkOf(vm1),
            },
            rule: 'dhcpv6-to-client',
          },
        );
      });
    },
  );
});
