/**
 * The scenario API on a real pod: solicitRouters answers from both routers, requestPrefixes and
 * expectRoute through the real relays, and expectDropped proved three ways — a frame a real
 * nftables rule drops passes; a frame nothing drops fails naming where it was seen; a dead path
 * fails on its positive control instead of passing as a drop.
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
import { expectDropped, expectRoute, router, vm } from '../../harness/probe/api.ts';
import { reservedPrefixes } from '../../harness/probe/dhcp.ts';
import type { Frame } from '../../harness/packet/frame.ts';


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

  describe('expectDropped', () => {
    const vm1 = () => plan.instances.find((i) => i.name === 'vm1')!;
    const udp = (dstPort: number): Frame => ({
      ethernet: { src: vm1().mac, dst: plan.routers[0]!.mac, etherType: 0x86dd },
      ipv6: { trafficClass: 0, flowLabel: 0, hopLimit: 64, src: vm1().slaac, dst: plan.core.address },
      udp: { srcPort: 40000, dstPort },
      payload: Buffer.from(`probe ${dstPort}`),
    });
    const hv1 = () => plan.nodes.find((n) => n.name === 'hv1')!.ns;

    before(async () => {
      // A stand-in security group: the bridge drops UDP to port 9 entering from vm1's port, and counts it.
      const rules = `table bridge v6podtest {\n chain forward {\n  type filter hook forward priority 0;\n  iifname "${vm1().port}" meta l4proto udp udp dport 9 counter drop\n }\n}\n`;
      await run(['nft', '-f', '-'], { ns: hv1(), input: rules });
    });
    after(() => run(['nft', 'delete', 'table', 'bridge', 'v6podtest'], { ns: hv1(), allowFailure: true }));

    it('passes for a frame the bridge drops, with its control crossing and its rule counter up', async () => {
      const proof = await expectDropped(udp(9), { from: 'vm1', notBeyond: 'hv1:uplink', control: udp(10) });
      expect(proof.windowMs).to.be.within(50, 1000);
      const { stdout } = await run(['nft', 'list', 'table', 'bridge', 'v6podtest'], { ns: hv1() });
      expect(stdout).to.match(/counter packets [1-9]/);
    });

    it('fails for a frame nothing drops, saying where it was seen', async () => {
      let error = '';
      await expectDropped(udp(11), { from: 'vm1', notBeyond: 'hv1:uplink', control: udp(10) }).catch((e: Error) => (error = e.message));
      expect(error).to.match(/was NOT dropped: seen on hv1:uplink/);
    });

    it('fails on the positive control when the path is dead, never passing as a drop', async () => {
      let error = '';
      await expectDropped(udp(9), { from: 'vm1', notBeyond: 'hv2:uplink', control: udp(10) }).catch((e: Error) => (error = e.message));
      expect(error).to.match(/positive control: a dead path cannot prove a drop/);
    });
  });
});
