/**
 * The scenario API on a real pod: solicitRouters answers from both routers, requestPrefixes and
 * expectRoute through the real relays, expectDelivered both ways, and the one drop proof,
 * expectDropped, proved in each of its forms — a frame the reference driver drops passes; a frame
 * nothing drops fails naming where it was seen; a frame something else drops fails on the driver's
 * drop counters; a dead path fails on its positive control instead of passing as a drop; several
 * frames in one window, incoming frames, a real tool run to completion and a serving tool provoked
 * by the control are judged the same way.
 */
import { expect } from 'chai';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadPodFile, DEFAULT_POD_FILE } from '../../harness/pod/pod-file.ts';
import { up } from '../../netns/realize.ts';
import { teardownRun } from '../../netns/teardown.ts';
import { uniqueRunName } from '../../harness/pod/names.ts';
import { run } from '../../harness/os/exec.ts';
import type { Plan } from '../../harness/pod/plan.ts';
import { clearCurrentPod, setCurrentPod } from '../../harness/probe/pod-context.ts';
import { ProbeAgent } from '../../harness/probe/agent-client.ts';
import {
  datagramToCore,
  expectDelivered,
  expectDropped,
  expectRoute,
  portOf,
  reservedPrefixes,
  router,
  send,
  startTool,
  vm,
  withSecurityGroup,
} from '../../harness/probe/api.ts';
import { echoRequest, udpDatagram } from '../../harness/packet/builders.ts';

describe('scenario API on a real pod', function () {
  this.timeout(60_000);
  const runName = uniqueRunName('api');
  let plan: Plan;

  before(async () => {
    ({ plan } = await up(loadPodFile(DEFAULT_POD_FILE), runName, { podFile: DEFAULT_POD_FILE, owner: process.pid }));
    setCurrentPod(plan, mkdtempSync(join(tmpdir(), 'v6pod-api-')));
  });
  after(async () => {
    await ProbeAgent.closeShared();
    clearCurrentPod();
    await teardownRun(runName);
  });

  it("vm('vm1').solicitRouters(): one RA per router, within 0.5 s, carrying the pod /64", async () => {
    const ras = await vm('vm1').solicitRouters();
    expect(ras.map((r) => r.router.name)).to.deep.equal(plan.routers.map((r) => r.name));
    for (const r of ras) {
      expect(r.delayMs, r.router.name).to.be.at.most(500);
      expect(r.hopLimit, r.router.name).to.equal(255);
      expect(r.ra.options.find((o) => o.type === 'prefix-information')).to.include({ prefix: '2001:db8:100::', prefixLength: 64 });
    }
  });

  it("requestPrefixes({ iaPds: 2 }) and expectRoute(router('r1'), …) through the real relays", async () => {
    const vm3 = vm('vm3');
    const r = await vm3.requestPrefixes({ iaPds: 2 });
    const got = r.steps[0]!.iaPds.flatMap((ia) => ia.prefixes.map((p) => p.prefix)).sort();
    expect(got).to.deep.equal((await reservedPrefixes(vm3.plan)).sort());
    for (const p of got) await expectRoute(router('r1'), p, { via: vm3.plan.linkLocal });
    let error = '';
    await expectRoute(router('r1'), got[0]!, { via: 'fe80::dead' }).catch((e: Error) => (error = e.message));
    expect(error).to.match(/expected exactly one route via fe80::dead/);
  });

  describe('expectDelivered and expectDropped', () => {
    const vm1 = () => plan.instances.find((i) => i.name === 'vm1')!;
    const udp = (dport: number) => datagramToCore('vm1', { dport, payload: Buffer.from(`probe ${dport}`) });
    /** A datagram from the core to vm1, as r1 delivers it. */
    const fromCore = () => ({ mac: plan.routers[0]!.mac, dstMac: vm1().mac, src: plan.core.address, dst: vm1().slaac });
    const inbound = (sport: number, dport: number) => udpDatagram({ ...fromCore(), sport, dport, payload: Buffer.from(`in ${sport}`) });
    const inboundEcho = (identifier: number) => echoRequest({ ...fromCore(), identifier, data: Buffer.from('in') });
    const hv1 = () => plan.nodes.find((n) => n.name === 'hv1')!.ns;
    const failure = (p: Promise<unknown>) =>
      p.then(
        () => '',
        (e: Error) => e.message,
      );

    before(async () => {
      // A stand-in security group: the bridge drops UDP to port 9 entering from vm1's port or leaving
      // to it, and counts them (the reference driver's own rules allow the outgoing one).
      const port = vm1().port;
      const rules = `table bridge v6podtest {\n chain forward {\n  type filter hook forward priority 0;\n  iifname "${port}" meta l4proto udp udp dport 9 counter drop\n  oifname "${port}" meta l4proto udp udp dport 9 counter drop\n }\n}\n`;
      await run(['nft', '-f', '-'], { ns: hv1(), input: rules });
    });
    after(() => run(['nft', 'delete', 'table', 'bridge', 'v6podtest'], { ns: hv1(), allowFailure: true }));

    /** A datagram from vm1 with vm3's source address: the reference driver drops it (rule source-spoof). */
    const spoofed = (dport: number) =>
      datagramToCore('vm1', { src: plan.instances.find((i) => i.name === 'vm3')!.slaac, dport, payload: Buffer.from(`spoofed ${dport}`) });

    it('expectDelivered: frames out of an instance are seen beyond its uplink, frames to it at its port', async () => {
      const out = await expectDelivered([udp(10), udp(11)], { from: 'vm1' });
      expect(out.latencyMs).to.be.below(2000);
      // ICMPv6 to vm1 is allowed by its group; the reference driver's icmpv6 rule counts it.
      await expectDelivered(inboundEcho(1), { to: 'vm1', via: 'r1:lan', rule: 'icmpv6' });
      expect(await failure(expectDelivered(udp(9), { from: 'vm1' }))).to.match(
        /^the allowed frame from vm1 \(UDP \d+→9 .*\) entered hv1:vnet\d+ but did not cross to hv1:uplink within 2 s: NOT delivered \(captures /,
      );
      expect(await failure(expectDelivered([udp(10), udp(9)], { from: 'vm1' }))).to.match(/^allowed frame 2 of 2 from vm1 \(UDP \d+→9 /);
    });

    it('passes for a frame the reference driver drops, with its control crossing and its rule counter up', async () => {
      const proof = await expectDropped(spoofed(10), { from: 'vm1', notBeyond: 'hv1:uplink', control: udp(10), rule: 'source-spoof' });
      expect(proof.windowMs).to.be.within(50, 1000);
      expect(proof.offending).to.equal(1);
      expect(proof.beyond).to.have.length(1);
    });

    it('fails for a frame nothing drops, saying where it was seen', async () => {
      expect(await failure(expectDropped(udp(11), { from: 'vm1', notBeyond: 'hv1:uplink', control: udp(10) }))).to.match(
        /^the frame from vm1 was NOT dropped: entered hv1:vnet\d+ at \+[\d.]+ ms, seen at hv1:uplink \+[\d.]+ ms.* \(captures /,
      );
    });

    it("fails for a frame something else drops: the reference driver's drop counters did not count it", async () => {
      expect(await failure(expectDropped(udp(9), { from: 'vm1', control: udp(10) }))).to.match(
        /^the frame from vm1 was not proved dropped: the driver's drop counters rose by \d+ for 1 dropped frames \(entered hv1:vnet\d+/,
      );
    });

    it('fails on the positive control when the path is dead, never passing as a drop', async () => {
      // The stand-in group drops the control, so nothing crosses.
      expect(await failure(expectDropped(spoofed(11), { from: 'vm1', control: udp(9) }))).to.match(
        /^the control frame from vm1 \(UDP \d+→9 .*\) entered hv1:vnet\d+ but did not cross to hv1:uplink within 2 s \(positive control: a dead path cannot prove a drop; captures /,
      );
      // Nothing from vm1 crosses another hypervisor's uplink.
      expect(await failure(expectDropped(spoofed(11), { from: 'vm1', notBeyond: 'hv2:uplink', control: udp(10) }))).to.match(
        /^the control frame from vm1 \(UDP \d+→10 .*\) entered hv1:vnet\d+ but did not cross to hv2:uplink within 2 s \(positive control/,
      );
    });

    it('several frames in one window: all must enter, and the one that got through is named', async () => {
      const proof = await expectDropped([spoofed(12), spoofed(13)], { from: 'vm1', control: udp(10), rule: 'source-spoof' });
      expect(proof.offending).to.equal(2);
      expect(await failure(expectDropped([spoofed(14), udp(12)], { from: 'vm1', control: udp(10) }))).to.match(
        /^offending frame 2 of 2 from vm1 was NOT dropped: entered hv1:vnet\d+ at .*, seen at hv1:uplink /,
      );
      // The rule named must have counted them: another rule's drops do not do.
      expect(await failure(expectDropped(spoofed(15), { from: 'vm1', control: udp(10), rule: 'mac-spoof' }))).to.match(
        /^packets counted by rule 'mac-spoof' \(from vm1\) on hv1: expected [+]?0 to be at least 1/,
      );
    });

    it('incoming (to): injected via a router, entering the uplink and absent at the port', async () => {
      const proof = await expectDropped(inbound(40000, 9), { to: 'vm1', via: 'r1:lan', control: inboundEcho(2) });
      expect(proof.beyond).to.have.length(1);
    });

    it('a real tool run to completion in the instance: its frames, recognised by a pattern, are proved dropped', async () => {
      const sender = ['bash', '-c', `echo tool > /dev/udp/${plan.core.address}/9`];
      const proof = await expectDropped({ run: sender, sends: { ethSrc: vm1().mac, dport: 9 } }, { from: 'vm1', control: udp(10) });
      expect(proof.offending).to.be.at.least(1);
      const silent = ['true'];
      expect(await failure(expectDropped({ run: silent, sends: { ethSrc: vm1().mac, dport: 9 } }, { from: 'vm1', control: udp(10) }))).to.match(
        /never entered hv1:vnet\d+: nothing to prove dropped/,
      );
    });

    it('a serving tool provoked by the control: started when ready, its answers proved dropped', async () => {
      // vm1's group lets UDP to 7777 in; a Python UDP echo server answers whoever asks, here from port 9.
      const server = [
        '/usr/bin/python3',
        '-c',
        "import socket\ns=socket.socket(socket.AF_INET6,socket.SOCK_DGRAM)\ns.bind(('::',7777))\nwhile True:\n d,a=s.recvfrom(2048)\n s.sendto(d,a)",
      ];
      const ask = inbound(9, 7777);
      await withSecurityGroup('vm1', { rules: ['I:udp;7777;7777;::/0'] }, async () => {
        // The control: vm1's own datagram, sent right after the question, crosses its uplink.
        const own = udp(10);
        const provoke = async () => {
          await send('r1:lan', ask);
          await send('vm1', own);
        };
        const proof = await expectDropped(
          { serve: server, answers: { ethSrc: vm1().mac, sport: 7777, dport: 9 } },
          { from: 'vm1', control: { provoke, expect: own, at: 'hv1:uplink' } },
        );
        expect(proof.offending).to.be.at.least(1);
        // Where the answers enter cannot also be where they must be absent.
        expect(
          await failure(
            expectDropped({ serve: server, answers: { ethSrc: vm1().mac } }, { from: 'vm1', control: { provoke, expect: ask, at: portOf('vm1') } }),
          ),
        ).to.match(/where the offending frames enter/);
      });
    });

    it('startTool: a tool that exits before it is ready fails with what it said', async () => {
      expect(await failure(startTool('vm1', ['sh', '-c', 'echo bad usage >&2; exit 3']))).to.match(/exited \(exit 3\) before it was ready: bad usage/);
    });
  });
});
