/**
 * DHCPv6 prefix delegation through the routers' relays to Kea (seed: "DHCPv6+Prefix Delegation";
 * RFC 8415 §6.3, §18, §19; RFC 4649). Each scenario sets up what it needs, drives real clients
 * (wide-dhcpv6 dhcp6c, or the codec client), and checks what the client got, what Kea saw and what
 * both routers route — then undoes what it did.
 */
import { expect } from 'chai';
import {
  core,
  delegatedIn,
  delegatedPrefixes,
  deployVm,
  destroyVm,
  dhcpv6Of,
  ping,
  relayedOf,
  remoteIdOf,
  routers,
  routesVia,
  scenario,
  vm,
  waitNoRoutes,
  waitRoutesOnAllRouters,
  watching,
  withVm,
  type DhcpStep,
} from '../harness/probe/api.ts';
import { DHCPV6_STATUS_CODES } from '../harness/packet/dhcpv6.ts';
import { Prefix } from '../harness/addr/prefix.ts';

const ACQUIRE_AND_RELEASE: DhcpStep[] = [{ op: 'acquire' }, { op: 'release' }];

describe('PD: prefix delegation', () => {
  scenario(
    {
      id: 'PD-001',
      title: "the seed's dhcp6c gets exactly its reserved /60, both routers route it, its Release removes both routes",
      reference: 'seed: "An example dhcp6c.conf … send ia-pd 1" and "The routers see this reply come back and add a route"; RFC 8415 §18.2.7',
      proves: 'a real client identified by its MAC (not its DUID) receives the reservation CloudStack recorded, routed on both routers until it releases it',
    },
    async () => {
      // Set up: vm1's reservation, and a watch on its DHCPv6 traffic.
      const vm1 = vm('vm1');
      const reserved = await vm1.reservedPrefixes();
      expect(reserved, 'vm1 reservation').to.have.length(1);

      await watching(vm1.plan, 'dhcpv6', async (dhcp) => {
        // Act: the seed's dhcp6c runs in vm1.
        const dhcp6c = vm1.startDhcp6c();
        try {
          // Pass criteria: Kea's Reply delegates exactly the reservation; both routers route it via vm1.
          const reply = await dhcp.first((f) => delegatedIn(dhcpv6Of(f, 'reply')).length > 0, 10_000, "Kea's Reply to dhcp6c's Request");
          expect(delegatedIn(dhcpv6Of(reply, 'reply')), `prefixes in the Reply (pcap ${dhcp.file})`).to.deep.equal(reserved);
          await waitRoutesOnAllRouters(reserved, vm1.plan.linkLocal);
        } finally {
          // Act: dhcp6c stops, releasing its binding.
          await dhcp6c.stop();
        }
      });
      // Pass criteria: the Release removed both routes.
      await waitNoRoutes(reserved);
    },
  );

  scenario(
    {
      id: 'PD-002',
      title: 'two IA_PDs get the two reserved prefixes, each routed on both routers via the instance link-local',
      reference: 'seed: "multiple prefixes per Instances should be allowed"; RFC 8415 §21.21',
      proves: 'an instance with k reserved prefixes gets all k, one per IA_PD, and each is routed on both routers',
    },
    async () => {
      // Set up: vm3 has two prefixes reserved.
      const vm3 = vm('vm3');
      const reserved = await vm3.reservedPrefixes();
      expect(reserved, 'vm3 reservation').to.have.length(2);

      // Act: the codec client asks for two IA_PDs.
      const r = await vm3.requestPrefixes({ iaPds: 2 });

      // Pass criteria: a Reply with one prefix per IA_PD, the two reserved, routed on both routers.
      expect(r.steps[0]!.answer, 'Reply').to.equal('reply');
      expect(
        r.steps[0]!.iaPds.map((ia) => ia.prefixes.length),
        'one prefix per IA_PD',
      ).to.deep.equal([1, 1]);
      expect(delegatedPrefixes(r)).to.deep.equal([...reserved].sort());
      await waitRoutesOnAllRouters(reserved, vm3.plan.linkLocal);

      // Undo: release, and no route is left.
      await vm3.requestPrefixes({ iaPds: 2, steps: ACQUIRE_AND_RELEASE });
      await waitNoRoutes(reserved);
    },
  );

  scenario(
    {
      id: 'PD-003',
      title: 'an instance without a reservation gets NoPrefixAvail and no route',
      reference: 'seed: "When an Instance is deployed we pick a new /60 … and record that in the database of the DHCPv6 server"; RFC 8415 §21.13',
      proves: 'Kea delegates only what CloudStack reserved: an unknown MAC gets status NoPrefixAvail, never a prefix, and no router routes anything to it',
    },
    async () => {
      // Set up: pd3 deployed with no prefix reserved; vm4, reserved, as the control.
      await withVm('pd3', { prefixes: 0 }, async ({ instance: pd3 }) => {
        const vm4 = vm('vm4');

        // Act: both ask for a prefix.
        const control = await vm4.requestPrefixes();
        const r = await vm(pd3).requestPrefixes();

        // Pass criteria: vm4 gets its reservation; pd3's one IA_PD carries NoPrefixAvail and no
        // prefix, and no router routes anything via pd3.
        expect(delegatedPrefixes(control), 'the reserved instance vm4 (control)').to.deep.equal(await vm4.reservedPrefixes());
        expect(r.steps[0]!.iaPds, 'IA_PD of the unreserved instance').to.have.length(1);
        expect(r.steps[0]!.iaPds[0]).to.include({ status: DHCPV6_STATUS_CODES.NoPrefixAvail });
        expect(r.steps[0]!.iaPds[0]!.prefixes).to.deep.equal([]);
        expect(await routesVia(pd3.linkLocal), 'routes via pd3 on any router').to.deep.equal([]);

        // Undo: vm4 releases.
        await vm4.requestPrefixes({ steps: ACQUIRE_AND_RELEASE });
      });
    },
  );

  scenario(
    {
      id: 'PD-004',
      title: "option 37 at Kea carries the frame's source MAC; a DUID copied from another instance still gets only its own prefix",
      reference: 'seed: "Since the client generates this DUID we can not trust it … option 37 (remote-id)"; RFC 4649 §3; RFC 8415 §19.1.1',
      proves: 'Kea identifies the client by the MAC the relay saw on the wire, so a client claiming another instance’s DUID cannot take its prefix',
    },
    async () => {
      // Set up: a watch at Kea.
      const [vm2, vm4] = [vm('vm2'), vm('vm4')];
      await watching('kea', 'dhcpv6', async (atKea) => {
        // Act: vm4 claims vm2's DUID (DUID-LL of vm2's MAC), acquires and releases.
        const r = await vm4.requestPrefixes({ duid: vm2.plan.mac, steps: ACQUIRE_AND_RELEASE });

        // Pass criteria: vm4 got its own reservation, and each router's Relay-Forward of the
        // Solicit carries vm4's MAC in option 37.
        expect(delegatedPrefixes(r), 'what vm4 got with vm2’s DUID').to.deep.equal(await vm4.reservedPrefixes());
        const forwards = await atKea.waitFor(
          (fs) => {
            const fw = fs.filter((f) => relayedOf(f, 'solicit'));
            return fw.length >= routers().length ? fw : undefined;
          },
          3000,
          'a Relay-Forward of the Solicit from each router',
        );
        for (const f of forwards) expect(remoteIdOf(f), `option 37 of the Relay-Forward from ${f.frame.ipv6!.src} (pcap ${atKea.file})`).to.equal(vm4.plan.mac);
      });
    },
  );

  scenario(
    {
      id: 'PD-005',
      title: 'a Renew keeps the prefix and both routes; a Release removes the route on both routers',
      reference: 'RFC 8415 §18.2.4, §18.2.7, §18.3.4; seed: "The routers see this reply come back and add a route"',
      proves: 'the relays follow the lease: a renewed prefix stays routed, a released one is no longer routed anywhere',
    },
    async () => {
      // Set up: vm4's reservation.
      const vm4 = vm('vm4');
      const reserved = await vm4.reservedPrefixes();

      // Act: acquire, then renew.
      const r = await vm4.requestPrefixes({ steps: [{ op: 'acquire' }, { op: 'renew' }] });
      // Pass criteria: the Reply to Renew keeps the prefix, routed on both routers.
      expect(r.steps[1]!.answer, 'Reply to Renew').to.equal('reply');
      expect(delegatedPrefixes(r, 1), 'prefixes in the Reply to Renew').to.deep.equal(reserved);
      await waitRoutesOnAllRouters(reserved, vm4.plan.linkLocal);

      // Act: acquire, then release.
      const released = await vm4.requestPrefixes({ steps: ACQUIRE_AND_RELEASE });
      // Pass criteria: the Release is answered and no router routes the prefix any more.
      expect(released.steps[1]!.answer, 'Reply to Release').to.equal('reply');
      await waitNoRoutes(reserved);
    },
  );

  scenario(
    {
      id: 'PD-008',
      title: "a lease's expiry removes the prefix's route on both routers",
      reference: 'RFC 8415 §18.2.10.1 (valid lifetime), §21.22; seed: "Release/expiry removes it"',
      proves: 'a delegated prefix is routed no longer than its lease is valid, even when the client never releases it',
      slow: true,
    },
    async () => {
      // Set up: vm4's reservation; a lease of 2 s asked for (Kea's floor, min-valid-lifetime): long
      // enough to see it routed on both routers, short enough not to wait on it.
      const vm4 = vm('vm4');
      const reserved = await vm4.reservedPrefixes();
      const valid = 2;

      // Act: acquire with the short lifetimes hinted, and never release.
      const r = await vm4.requestPrefixes({ lifetimeHint: { preferred: 1, valid }, steps: [{ op: 'acquire' }] });

      // Pass criteria: granted as asked and routed; the routes outlive none of the lease — gone
      // within its lifetime plus the relays' 1 s expiry sweep.
      expect(
        r.steps[0]!.iaPds.flatMap((ia) => ia.prefixes.map((p) => p.validLifetime)),
        'granted valid lifetime',
      ).to.deep.equal([valid]);
      await waitRoutesOnAllRouters(reserved, vm4.plan.linkLocal);
      await waitNoRoutes(reserved, (valid + 2) * 1000);
    },
  );

  scenario(
    {
      id: 'PD-006',
      title: 'the core reaches an address inside the delegated prefix through the routers',
      reference:
        'seed: "The Layer 3 routers/gateways of the CloudStack POD get a /40 IPv6 subnet routed to them … we also want to route a subnet to the Instance"',
      proves: 'the delegated /60 is routed end to end: core → either router → the instance',
    },
    async () => {
      // Set up: an address inside vm1's reserved prefix on its loopback.
      const vm1 = vm('vm1');
      const [prefix] = await vm1.reservedPrefixes();
      const inside = Prefix.parse(prefix!).address(1n);
      await vm1.addAddress(`${inside}/128`, 'lo');
      try {
        // Pass criteria (control): without a delegation the prefix is unreachable from the core.
        const before = await ping(core().name, inside, { waitS: 1 });
        expect(before.reachable, 'without a delegation the prefix is unreachable (control)').to.equal(false);

        // Act: vm1 acquires its prefix.
        await vm1.requestPrefixes();
        await waitRoutesOnAllRouters([prefix!], vm1.plan.linkLocal);

        // Pass criteria: the core's echo to the address inside is answered.
        const after = await ping(core().name, inside);
        expect(after.reachable, `core → ${inside}: ${after.summary}`).to.equal(true);
      } finally {
        await vm1.requestPrefixes({ steps: ACQUIRE_AND_RELEASE });
        await vm1.removeAddress(`${inside}/128`, 'lo');
      }
    },
  );

  scenario(
    {
      id: 'PD-007',
      title: 'destroy removes the routes on both routers at once; a redeploy with a new DUID gets its reservation',
      reference: 'seed: "When an Instance is deployed we pick a new /60"; docs/facts.md: an old lease blocks a reservation for a new DUID',
      proves: 'destroying an instance deletes its leases and routes (no Release needed), so the same MAC redeployed with a new DUID is served at once',
    },
    async () => {
      // Set up: pd7 deployed, delegated and routed.
      const mac = '02:00:00:00:07:01';
      const first = await deployVm('pd7', { mac });
      const r1 = await vm(first.instance).requestPrefixes({ duid: '02:00:00:00:d0:01' });
      expect(delegatedPrefixes(r1), 'first deployment').to.deep.equal(first.prefixes);
      await waitRoutesOnAllRouters(first.prefixes, first.instance.linkLocal);

      // Act: destroy it (no Release).
      await destroyVm('pd7');
      // Pass criteria: both routes gone at once.
      await waitNoRoutes(first.prefixes, 1000);

      // Act: redeploy the same MAC; its client uses a new DUID.
      await withVm('pd7', { mac }, async (again) => {
        const r2 = await vm(again.instance).requestPrefixes({ duid: '02:00:00:00:d0:02' });
        // Pass criteria: it gets its new reservation, routed on both routers.
        expect(delegatedPrefixes(r2), 'redeployed with a new DUID').to.deep.equal(again.prefixes);
        await waitRoutesOnAllRouters(again.prefixes, again.instance.linkLocal);
      });
    },
  );
});
