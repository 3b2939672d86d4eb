/**
 * Security groups and Neighbor Discovery (RFC 4861 §7.2.4, §7.2.6; RFC 4862 §5.4.5; seed: "prevent
 * source address spoofing"): an instance may advertise only its own addresses with its own MAC, so
 * it can poison no neighbor cache — of another instance or of a router — and fail no one's DAD.
 * Crafted NAs come from the packet builders; real attackers (thc-ipv6 fake_advertise6, dos-new-ip6,
 * parasite6) run inside the instance and their frames are proved absent beyond it.
 */
import { expect } from 'chai';
import { expectDelivered, expectDropped, instance, podPrefix, portOf, router, scenario, send, startTool, vm, type FramePattern } from '../harness/probe/api.ts';
import { neighborAdvertisement, neighborSolicitation } from '../harness/packet/builders.ts';
import { Prefix } from '../harness/addr/prefix.ts';

describe('SG: security groups — Neighbor Discovery', () => {
  scenario(
    {
      id: 'SG-009',
      title: "an NA for another instance's address, for a router's link-local, or carrying another MAC is dropped; its own NA passes",
      reference: 'RFC 4861 §7.2.4, §7.2.6; seed: "prevent source address spoofing"',
      proves: 'an instance can advertise only its own addresses with its own MAC: no neighbor-cache poisoning of instances or routers',
    },
    async () => {
      // Set up: unsolicited NAs from vm1 — for its own address (the control), for vm3's, for r1's
      // link-local with the router flag, and for its own address with vm3's MAC as link-layer address.
      const [vm1, vm3] = [instance('vm1'), instance('vm3')];
      const own = neighborAdvertisement({ mac: vm1.mac, target: vm1.slaac });
      const forVm3 = neighborAdvertisement({ mac: vm1.mac, target: vm3.slaac });
      const forRouter = neighborAdvertisement({ mac: vm1.mac, target: router('r1').linkLocal, router: true });
      const withVm3Mac = neighborAdvertisement({ mac: vm1.mac, target: vm1.slaac, tlla: vm3.mac });

      // Act: vm1 sends its own NA, then the forged ones.
      // Pass criteria: its own crosses hv1's uplink; the other targets (rule na-target) and the
      // other MAC (rule na-tlla) never leave vm1's port.
      await expectDropped([forVm3, forRouter], { from: vm1, control: own, rule: 'na-target' });
      await expectDropped(withVm3Mac, { from: vm1, control: own, rule: 'na-tlla' });
    },
  );

  scenario(
    {
      id: 'SG-010',
      title: "real attackers: atk6-fake_advertise6 for another instance's address is stopped; atk6-dos-new-ip6 cannot fail another instance's DAD",
      reference: 'RFC 4861 §7.2.6; RFC 4862 §5.4.5; thc-ipv6 fake_advertise6, dos-new-ip6',
      proves: "forged NAs never leave the port, so a new address on another instance passes DAD while the attacker runs; the instance's own DAD probe passes",
    },
    async () => {
      // Set up: fake_advertise6 claims vm3's address from vm1's own link-local and MAC, so only the
      // NA's target is wrong (the tool's default source would be vm3's address).
      const [vm1, vm3] = [instance('vm1'), instance('vm3')];
      const fakeAdvertise = ['atk6-fake_advertise6', '-n', '1', 'eth0', vm3.slaac, 'ff02::1', vm1.mac, vm1.linkLocal];
      const naForVm3: FramePattern = { ethSrc: vm1.mac, icmpv6: 'neighbor-advertisement', target: vm3.slaac };

      // Act: vm1 sends its own NA, then runs fake_advertise6.
      // Pass criteria: its own NA crosses; the tool's never leaves vm1's port (rule na-target).
      await expectDropped(
        { run: fakeAdvertise, sends: naForVm3 },
        { from: vm1, control: neighborAdvertisement({ mac: vm1.mac, target: vm1.slaac }), rule: 'na-target' },
      );

      // Set up: vm1's own DAD probe (from ::, for its own address) passes — the control of the DAD case.
      await expectDelivered(neighborSolicitation({ mac: vm1.mac, target: vm1.slaac, purpose: 'dad' }), { from: vm1 });
      const fresh = Prefix.parse(podPrefix()).address(0x5347n);
      const attacker = await startTool(vm1, ['atk6-dos-new-ip6', 'eth0']);
      try {
        // Act: while dos-new-ip6 answers every DAD probe it sees, vm3 configures a new address.
        await vm('vm3').addAddress(`${fresh}/64`);

        // Pass criteria: DAD of the new address succeeds (a forged NA getting through would fail it).
        expect(await vm('vm3').dadOutcome(fresh), `DAD of ${fresh} on vm3 while vm1 runs dos-new-ip6 ('duplicate': a forged NA got through)`).to.equal('valid');
      } finally {
        await attacker.stop();
        await vm('vm3').removeAddress(`${fresh}/64`);
      }
    },
  );

  scenario(
    {
      id: 'SG-019',
      title:
        "real attacker: thc-ipv6 atk6-parasite6 answers every NS it sees; its NAs for an instance's and a router's address are stopped, the owners' own NAs pass",
      reference: 'RFC 4861 §7.2.4, §7.2.6; seed: "prevent source address spoofing"; thc-ipv6 parasite6',
      proves:
        "neighbor-cache poisoning from an instance fails: vm2 asks for vm3's address and for r1's link-local, the owners' NAs reach vm2 and the attacker's spoofed NAs (the victim's address as source, its own MAC as target link-layer address) never leave its port",
    },
    async () => {
      // Set up: parasite6 runs in vm1; vm2 will ask for vm3's address and for r1's link-local.
      // parasite6 answers from the NS's target address, so `source-spoof` stops it before the NA rules.
      const [vm1, vm2, vm3] = [instance('vm1'), instance('vm2'), instance('vm3')];
      const r1 = router('r1');
      const victims = [
        { target: vm3.slaac, owner: vm3.mac, askFrom: vm2.slaac },
        { target: r1.linkLocal, owner: r1.mac, askFrom: vm2.linkLocal },
      ];

      for (const v of victims) {
        const naFrom = (mac: string): FramePattern => ({ ethSrc: mac, icmpv6: 'neighbor-advertisement', target: v.target });
        // Act: vm2 sends an NS for the victim's address; the owner and parasite6 both answer.
        // Pass criteria: the owner's NA reaches vm2's port; parasite6's never leaves vm1's port (rule source-spoof).
        await expectDropped(
          { serve: ['atk6-parasite6', 'eth0'], answers: naFrom(vm1.mac) },
          {
            from: vm1,
            control: {
              provoke: () => send(vm2, neighborSolicitation({ mac: vm2.mac, src: v.askFrom, target: v.target })),
              expect: naFrom(v.owner),
              at: portOf(vm2),
            },
            rule: 'source-spoof',
          },
        );
      }
    },
  );
});
