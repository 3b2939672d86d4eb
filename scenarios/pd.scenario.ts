/**
 * DHCPv6 prefix delegation through the routers' relays to Kea (seed: "DHCPv6+Prefix Delegation";
 * RFC 8415 §6.3, §18, §19; RFC 4649). Each scenario sets up what it needs, drives real clients
 * (wide-dhcpv6 dhcp6c, or the codec client), and checks what the client got, what Kea saw and what
 * both routers route — then undoes what it did.
 */
import { expect } from 'chai';
import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { scenario } from '../harness/probe/scenario.ts';
import { artifactPath, currentPod } from '../harness/probe/pod-context.ts';
import { inNode, instance } from '../harness/probe/instance.ts';
import { Capture } from '../harness/probe/agent-client.ts';
import { dhcpClient, reservedPrefixes, relayRoutes, startDhcp6c, waitNoRoutes, waitRoutesOnAllRouters } from '../harness/probe/dhcp.ts';
import { deployInstance, destroyInstance } from '../netns/instance-lifecycle.ts';
import { findOption, findOptions, innermostMessage } from '../harness/packet/dhcpv6.ts';
import type { DhcpClientResult } from '../harness/probe/dhcp-client.ts';

const NO_PREFIX_AVAIL = 6;
const delegated = (r: DhcpClientResult, step = 0) => r.steps[step]!.iaPds.flatMap((ia) => ia.prefixes.map((p) => p.prefix)).sort();

describe('PD: prefix delegation', () => {
  scenario(
    {
      id: 'PD-001',
      title: "the seed's dhcp6c gets exactly its reserved /60, both routers route it, its Release removes both routes",
      reference: 'seed: "An example dhcp6c.conf … send ia-pd 1" and "The routers see this reply come back and add a route"; RFC 8415 §18.2.7',
      proves: 'a real client identified by its MAC (not its DUID) receives the reservation CloudStack recorded, routed on both routers until it releases it',
    },
    async () => {
      const vm = instance('vm1');
      const reserved = await reservedPrefixes(vm);
      expect(reserved, 'vm1 reservation').to.have.length(1);
      const capture = await Capture.start(vm.ns, 'eth0', artifactPath('PD-001.pcap'), 'udp port 546 or udp port 547');
      const dhcp6c = startDhcp6c(vm.ns, mkdtempSync(join(artifactPath(''), 'PD-001-dhcp6c-')));
      try {
        const reply = await capture.waitFor(
          (frames) => frames.find((f) => f.frame.dhcpv6?.type === 'reply' && 'options' in f.frame.dhcpv6 && findOptions(f.frame.dhcpv6.options, 'ia-pd').length > 0),
          10_000,
          "Kea's Reply to dhcp6c's Request",
        );
        const msg = reply.frame.dhcpv6 as { options: Parameters<typeof findOptions>[0] };
        const got = findOptions(msg.options, 'ia-pd').flatMap((ia) => findOptions(ia.options, 'iaprefix').map((p) => `${p.prefix}/${p.prefixLength}`));
        expect(got, `prefixes in the Reply (pcap ${capture.file})`).to.deep.equal(reserved);
        await waitRoutesOnAllRouters(reserved, vm.linkLocal);
      } finally {
        await dhcp6c.stop();
        await capture.stop();
      }
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
      const vm = instance('vm3');
      const reserved = await reservedPrefixes(vm);
      expect(reserved, 'vm3 reservation').to.have.length(2);
      const r = await dhcpClient(vm, { iaPds: 2, steps: [{ op: 'acquire' }] });
      expect(r.steps[0]!.answer, 'Reply').to.equal('reply');
      expect(r.steps[0]!.iaPds.map((ia) => ia.prefixes.length), 'one prefix per IA_PD').to.deep.equal([1, 1]);
      expect(delegated(r)).to.deep.equal([...reserved].sort());
      await waitRoutesOnAllRouters(reserved, vm.linkLocal);
      await dhcpClient(vm, { iaPds: 2, steps: [{ op: 'acquire' }, { op: 'release' }] });
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
      const { instance: vm } = await deployInstance(currentPod().run, { name: 'pd3', prefixes: 0 });
      try {
        const control = await dhcpClient(instance('vm4'), { steps: [{ op: 'acquire' }] });
        expect(delegated(control), 'the reserved instance vm4 (control)').to.deep.equal(await reservedPrefixes(instance('vm4')));
        const r = await dhcpClient(vm, { steps: [{ op: 'acquire' }] });
        expect(r.steps[0]!.iaPds, 'IA_PD of the unreserved instance').to.have.length(1);
        expect(r.steps[0]!.iaPds[0]).to.include({ status: NO_PREFIX_AVAIL });
        expect(r.steps[0]!.iaPds[0]!.prefixes).to.deep.equal([]);
        for (const router of currentPod().routers) expect((await relayRoutes(router)).filter((x) => x.via === vm.linkLocal), `${router.name} routes via pd3`).to.deep.equal([]);
        await dhcpClient(instance('vm4'), { steps: [{ op: 'acquire' }, { op: 'release' }] });
      } finally {
        await destroyInstance(currentPod().run, 'pd3');
      }
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
      const [vm2, vm4] = [instance('vm2'), instance('vm4')];
      const capture = await Capture.start(currentPod().kea.ns, 'svc0', artifactPath('PD-004.pcap'), 'udp port 547');
      try {
        // vm4 claims vm2's DUID (DUID-LL from vm2's MAC).
        const r = await dhcpClient(vm4, { duid: vm2.mac, steps: [{ op: 'acquire' }, { op: 'release' }] });
        expect(delegated(r), 'what vm4 got with vm2’s DUID').to.deep.equal(await reservedPrefixes(vm4));
        const forwards = await capture.waitFor(
          (frames) => {
            const fw = frames.filter((f) => f.frame.dhcpv6?.type === 'relay-forward' && innermostMessage(f.frame.dhcpv6)?.type === 'solicit');
            return fw.length >= currentPod().routers.length ? fw : undefined;
          },
          3000,
          'a Relay-Forward of the Solicit from each router',
        );
        for (const f of forwards) {
          const remoteId = findOption((f.frame.dhcpv6 as { options: Parameters<typeof findOption>[0] }).options, 'remote-id');
          expect(remoteId?.remoteId, `option 37 of the Relay-Forward from ${f.frame.ipv6!.src} (pcap ${capture.file})`).to.equal(vm4.mac);
        }
      } finally {
        await capture.stop();
      }
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
      const vm = instance('vm4');
      const reserved = await reservedPrefixes(vm);
      const r = await dhcpClient(vm, { steps: [{ op: 'acquire' }, { op: 'renew' }] });
      expect(r.steps[1]!.answer, 'Reply to Renew').to.equal('reply');
      expect(delegated(r, 1), 'prefixes in the Reply to Renew').to.deep.equal(reserved);
      await waitRoutesOnAllRouters(reserved, vm.linkLocal);
      const released = await dhcpClient(vm, { steps: [{ op: 'acquire' }, { op: 'release' }] });
      expect(released.steps[1]!.answer, 'Reply to Release').to.equal('reply');
      await waitNoRoutes(reserved);
    },
  );

  scenario(
    {
      id: 'PD-008',
      title: "a lease's expiry removes the prefix's route on both routers",
      reference: 'RFC 8415 §18.2.10.1 (valid lifetime), §21.22; seed: "Release/expiry removes it" (DESIGN.md)',
      proves: 'a delegated prefix is routed no longer than its lease is valid, even when the client never releases it',
      slow: true,
    },
    async () => {
      const vm = instance('vm4');
      const reserved = await reservedPrefixes(vm);
      const valid = 4;
      const r = await dhcpClient(vm, { lifetimeHint: { preferred: 2, valid }, steps: [{ op: 'acquire' }] });
      expect(r.steps[0]!.iaPds.flatMap((ia) => ia.prefixes.map((p) => p.validLifetime)), 'granted valid lifetime').to.deep.equal([valid]);
      await waitRoutesOnAllRouters(reserved, vm.linkLocal);
      // The routes must outlive none of the lease: gone within its lifetime plus the relays' 1 s expiry sweep.
      await waitNoRoutes(reserved, (valid + 2) * 1000);
    },
  );

  scenario(
    {
      id: 'PD-006',
      title: 'the core reaches an address inside the delegated prefix through the routers',
      reference: 'seed: "The Layer 3 routers/gateways of the CloudStack POD get a /40 IPv6 subnet routed to them … we also want to route a subnet to the Instance"',
      proves: 'the delegated /60 is routed end to end: core → either router → the instance',
    },
    async () => {
      const vm = instance('vm1');
      const [prefix] = await reservedPrefixes(vm);
      const inside = `${prefix!.split('/')[0]!.replace(/::$/, '')}::1`;
      await inNode(vm.name, ['ip', '-6', 'address', 'add', `${inside}/128`, 'dev', 'lo']);
      try {
        const before = await inNode(currentPod().pod.core.name, ['ping', '-6', '-c', '1', '-W', '1', inside], { allowFailure: true });
        expect(before.exitCode, 'without a delegation the prefix is unreachable (control)').to.not.equal(0);
        await dhcpClient(vm, { steps: [{ op: 'acquire' }] });
        await waitRoutesOnAllRouters([prefix!], vm.linkLocal);
        const ping = await inNode(currentPod().pod.core.name, ['ping', '-6', '-c', '1', '-W', '2', inside], { allowFailure: true });
        expect(ping.exitCode, `core → ${inside}: ${ping.stdout.trim().split('\n').slice(-2).join(' ')}`).to.equal(0);
      } finally {
        await dhcpClient(vm, { steps: [{ op: 'acquire' }, { op: 'release' }] });
        await inNode(vm.name, ['ip', '-6', 'address', 'del', `${inside}/128`, 'dev', 'lo'], { allowFailure: true });
      }
    },
  );

  scenario(
    {
      id: 'PD-007',
      title: 'destroy removes the routes on both routers at once; a redeploy with a new DUID gets its reservation',
      reference: 'seed: "When an Instance is deployed we pick a new /60"; DESIGN.md: an old lease blocks a reservation for a new DUID',
      proves: 'destroying an instance deletes its leases and routes (no Release needed), so the same MAC redeployed with a new DUID is served at once',
    },
    async () => {
      const run = currentPod().run;
      const first = await deployInstance(run, { name: 'pd7', mac: '02:00:00:00:07:01' });
      const r1 = await dhcpClient(first.instance, { duid: '02:00:00:00:d0:01', steps: [{ op: 'acquire' }] });
      expect(delegated(r1), 'first deployment').to.deep.equal(first.prefixes);
      await waitRoutesOnAllRouters(first.prefixes, first.instance.linkLocal);
      await destroyInstance(run, 'pd7');
      await waitNoRoutes(first.prefixes, 1000);
      const again = await deployInstance(run, { name: 'pd7', mac: '02:00:00:00:07:01' });
      try {
        const r2 = await dhcpClient(again.instance, { duid: '02:00:00:00:d0:02', steps: [{ op: 'acquire' }] });
        expect(delegated(r2), 'redeployed with a new DUID').to.deep.equal(again.prefixes);
        await waitRoutesOnAllRouters(again.prefixes, again.instance.linkLocal);
      } finally {
        await destroyInstance(run, 'pd7');
      }
    },
  );
});
