/**
 * Security groups as RA guard (RFC 6105; RFC 7113 for extension headers and fragments; RFC 6980;
 * RFC 4890 §4.4.1): an instance is a host, so nothing it sends may act as a router's message — no
 * Router Advertisement, however it is wrapped or fragmented, and no Redirect — while its own Router
 * Solicitation (the control of every case) passes. Crafted frames come from the packet builders;
 * real attackers (thc-ipv6 fake_router26, ipv6toolkit ra6) run inside the instance and their
 * frames are proved absent beyond its hypervisor.
 */
import { core, expectDropped, instance, scenario, type InstancePlan } from '../harness/probe/api.ts';
import { echoRequest, fragments, redirect, routerAdvertisement, routerSolicitation } from '../harness/packet/builders.ts';
import { ALL_NODES_MAC } from '../harness/packet/constants.ts';
import type { ExtensionHeader } from '../harness/packet/ipv6.ts';

/** The prefix a rogue router advertises. */
const ROGUE_PREFIX = '2001:db8:bad::/64';
/** A PadN option: an extension header with nothing in it. */
const PAD = { optionType: 1, data: Buffer.alloc(4) };

/** An RA from the instance claiming to be a high-preference default router for ROGUE_PREFIX. */
const rogueRa = (vm: InstancePlan, extensions?: ExtensionHeader[]) =>
  routerAdvertisement({ mac: vm.mac, preference: 'high', prefixes: [ROGUE_PREFIX], extensions });

describe('SG: security groups — RA guard', () => {
  scenario(
    {
      id: 'SG-005',
      title: "a rogue RA is dropped — plain, behind Hop-by-Hop, behind Destination Options; the instance's RS passes",
      reference: 'RFC 6105 §3; RFC 7113 §2 (extension headers); RFC 4890 §4.4.1',
      proves: 'an instance cannot advertise itself as a router, whatever extension headers precede the RA',
    },
    async () => {
      // Set up: vm1's RS, and its rogue RA three ways.
      const vm1 = instance('vm1');
      const rs = routerSolicitation({ mac: vm1.mac });
      const rogue = [rogueRa(vm1), rogueRa(vm1, [{ type: 'hop-by-hop', options: [PAD] }]), rogueRa(vm1, [{ type: 'destination-options', options: [PAD] }])];

      // Act: vm1 sends its RS, then the three RAs.
      // Pass criteria: the RS crosses hv1's uplink; no RA leaves vm1's port (rule router-advertisement).
      await expectDropped(rogue, { from: vm1, control: rs, rule: 'router-advertisement' });
    },
  );

  scenario(
    {
      id: 'SG-006',
      title: 'a rogue RA as an atomic fragment, and with its ICMPv6 header in the second fragment, is dropped (both fragments)',
      reference: 'RFC 6980 §5; RFC 7113 §3, §5; RFC 6946',
      proves: 'fragmentation cannot smuggle an RA past the port: ND from a link-local source is never fragmented',
    },
    async () => {
      // Set up: the rogue RA as an atomic fragment (RFC 6946), and split so that 16 bytes of
      // Destination Options fill the first fragment and the RA's ICMPv6 header starts the second.
      const vm1 = instance('vm1');
      const atomic = rogueRa(vm1, [{ type: 'fragment', offset: 0, more: false, identification: 0x5347 }]);
      const hidden = fragments(rogueRa(vm1, [{ type: 'destination-options', options: [{ optionType: 1, data: Buffer.alloc(12) }] }]), {
        firstBytes: 16,
        identification: 0x53470002,
      });

      // Act: vm1 sends its RS, then the atomic fragment and both fragments of the hidden RA.
      // Pass criteria: the RS crosses; none of the three fragments leaves vm1's port — the atomic fragment
      // (rule link-local-fragment), the hidden RA's two fragments (rule fragmented-header-chain, checked first).
      await expectDropped(atomic, { from: vm1, control: routerSolicitation({ mac: vm1.mac }), rule: 'link-local-fragment' });
      await expectDropped(hidden, { from: vm1, control: routerSolicitation({ mac: vm1.mac }), rule: 'fragmented-header-chain' });
    },
  );

  scenario(
    {
      id: 'SG-007',
      title:
        'real attackers: thc-ipv6 atk6-fake_router26 (plain, -E H, -E D, -E 1) and ipv6toolkit ra6 (plain, Hop-by-Hop, Destination Options, fragmented) are stopped at the port',
      reference: 'RFC 7113 §2-§3; thc-ipv6 fake_router26 -E; ipv6toolkit ra6(1)',
      proves: "the evasions real tools implement don't get an RA past the hypervisor",
    },
    async () => {
      // Set up: each tool advertises ROGUE_PREFIX from vm1 to all-nodes, with one evasion each.
      const vm1 = instance('vm1');
      const tools = [
        ['atk6-fake_router26', '-n', '1', '-A', ROGUE_PREFIX, 'eth0'],
        ['atk6-fake_router26', '-n', '1', '-E', 'H', '-A', ROGUE_PREFIX, 'eth0'],
        ['atk6-fake_router26', '-n', '1', '-E', 'D', '-A', ROGUE_PREFIX, 'eth0'],
        ['atk6-fake_router26', '-n', '1', '-E', '1', '-A', ROGUE_PREFIX, 'eth0'],
        ['ra6', '-i', 'eth0', '-d', 'ff02::1', '-e', '-P', ROGUE_PREFIX],
        ['ra6', '-i', 'eth0', '-d', 'ff02::1', '-e', '-H', '8', '-P', ROGUE_PREFIX],
        ['ra6', '-i', 'eth0', '-d', 'ff02::1', '-e', '-u', '8', '-P', ROGUE_PREFIX],
        ['ra6', '-i', 'eth0', '-d', 'ff02::1', '-e', '-y', '32', '-P', ROGUE_PREFIX],
      ];
      // Every frame of theirs: from vm1's MAC to the all-nodes MAC (fragments included, decoded or not).
      const toAllNodes = { ethSrc: vm1.mac, ethDst: ALL_NODES_MAC };

      for (const argv of tools) {
        // Act: vm1 sends its RS, then the tool runs in vm1.
        // Pass criteria: the RS crosses; the tool's frames enter vm1's port and go no further.
        await expectDropped({ run: argv, sends: toAllNodes }, { from: vm1, control: routerSolicitation({ mac: vm1.mac }) });
      }
    },
  );

  scenario(
    {
      id: 'SG-008',
      title: 'a Redirect from an instance is dropped',
      reference: 'RFC 4861 §8.2 (only routers send Redirects); RFC 4890 §4.4.1',
      proves: 'an instance cannot redirect another instance’s traffic to itself',
    },
    async () => {
      // Set up: vm1 tells vm3 to send its traffic for the core through vm1; an echo to vm3 as control.
      const [vm1, vm3] = [instance('vm1'), instance('vm3')];
      const toVm3 = { mac: vm1.mac, dstMac: vm3.mac, src: vm1.linkLocal, dst: vm3.linkLocal };
      const forged = redirect({ ...toVm3, target: vm1.linkLocal, destination: core().address });
      const echo = echoRequest({ ...toVm3, identifier: 0x5347, data: Buffer.from('sg') });

      // Act: vm1 sends the echo, then the Redirect.
      // Pass criteria: the echo crosses hv1's uplink; the Redirect does not (rule redirect).
      await expectDropped(forged, { from: vm1, control: echo, rule: 'redirect' });
    },
  );
});
