/**
 * The scale profile (`v6pod test --pod fixtures/pods/scale-1000.yaml --profile scale`, issue 8):
 * every instance of the pod is verified — SLAAC address, reserved prefixes delivered, a route for
 * each on every router, its security group in force — each check one read per daemon or
 * namespace (harness/probe/fleet.ts), then a sample of the drop matrix on random instances, each
 * drop proved with a positive control, captures entering the port and absent beyond the
 * hypervisor's uplink, and the dropping rule's counter. The sample is derived from the run name
 * and every failure names its instance.
 */
import { expect } from 'chai';
import { scenario } from '../../harness/probe/scenario.ts';
import { currentPod } from '../../harness/probe/pod-context.ts';
import { instances, kernelState } from '../../harness/probe/instance.ts';
import { counted, expectDropped } from '../../harness/probe/api.ts';
import { delegationShortfalls, describeShortfalls, reservationsByMac, routeShortfalls, securityGroupShortfalls, untilNoShortfall, type Shortfall } from '../../harness/probe/fleet.ts';
import { usable } from '../../netns/observe.ts';
import { INFRA, type InstancePlan } from '../../harness/pod/plan.ts';
import { ETHERTYPE_IPV6 } from '../../harness/packet/ethernet.ts';
import type { Frame } from '../../harness/packet/frame.ts';
import { prng } from '../../harness/packet/testing/mutate.ts';

/** How long delegation and routing may take after `up` returned (all SLAAC ready), for the whole pod. */
const DELEGATED_WITHIN_MS = 30_000;
/** Instances the drop-matrix sample covers (one per hypervisor when there are as many). */
const SAMPLE = 4;

/** One instance per hypervisor (round robin), picked with a PRNG seeded by the run name. */
function sample(): InstancePlan[] {
  const seed = [...currentPod().run].reduce((h, c) => (h * 31 + c.charCodeAt(0)) >>> 0, 7);
  const rng = prng(seed);
  const byHv = new Map<string, InstancePlan[]>();
  for (const i of instances()) byHv.set(i.hypervisor, [...(byHv.get(i.hypervisor) ?? []), i]);
  const pools = [...byHv.values()];
  return Array.from({ length: Math.min(SAMPLE, instances().length) }, (_, k) => {
    const pool = pools[k % pools.length]!;
    return rng.pick(pool);
  });
}

/** An Echo Request from the instance's port toward the core, through r1 (the frame the drop variants alter). */
function echoToCore(inst: InstancePlan, over: { src?: string; mac?: string } = {}): Frame {
  const r1 = currentPod().routers[0]!;
  return {
    ethernet: { src: over.mac ?? inst.mac, dst: r1.mac, etherType: ETHERTYPE_IPV6 },
    ipv6: { trafficClass: 0, flowLabel: 0, hopLimit: 64, src: over.src ?? inst.slaac, dst: INFRA.coreAddress },
    icmpv6: { type: 'echo-request', code: 0, identifier: 0x5343, sequence: 1, data: Buffer.from(`scale ${inst.name}`) },
  };
}

describe('SCALE: every instance of a large pod, verified', () => {
  scenario(
    {
      id: 'SCALE-001',
      title: 'every instance holds its computed SLAAC address and a default route via each router',
      reference: 'seed: "CloudStack can calculate which address an Instance will obtain"; RFC 4862 §5.5.3; RFC 4861 §6.3.4',
      proves: 'SLAAC and both routers reach every instance of the pod, kernel and synthetic alike',
    },
    async () => {
      const plan = currentPod();
      const seen = await kernelState();
      const routers = plan.routers.map((r) => r.linkLocal);
      const short = instances().flatMap((i): Shortfall[] => {
        const o = seen.get(i.name)!;
        const addr = o.addresses.find((a) => a.address === i.slaac);
        const lacks = [...(addr && usable(addr) ? [] : [`SLAAC ${i.slaac}`]), ...routers.filter((ll) => !o.defaultRoutes.includes(ll)).map((ll) => `default via ${ll}`)];
        return lacks.length ? [{ instance: i.name, lacks: lacks.join(', ') }] : [];
      });
      expect(short, describeShortfalls(short, instances().length)).to.deep.equal([]);
    },
  );

  scenario(
    {
      id: 'SCALE-002',
      title: 'every synthetic instance is delegated exactly the prefixes reserved for its MAC',
      reference: 'seed: "we pick a new /60 … and record that in the database of the DHCPv6 server"; RFC 8415 §18.2.10.1',
      proves: 'the control plane, the relays (option 37) and Kea deliver the right prefixes to every instance at once',
    },
    async () => {
      const plan = currentPod();
      const reserved = await reservationsByMac(plan);
      const clients = instances().filter((i) => i.kind === 'synthetic' && i.dhcp);
      expect(clients.length, 'synthetic instances running their PD client').to.be.greaterThan(0);
      await untilNoShortfall('every instance delegated its reservation', () => delegationShortfalls(plan, clients, reserved), instances().length, DELEGATED_WITHIN_MS);
    },
  );

  scenario(
    {
      id: 'SCALE-003',
      title: 'both routers route every delegated prefix via its instance’s link-local, exactly once',
      reference: 'seed: "The routers will see the DHCPv6 Reply … and add a route"; RFC 8415 §19',
      proves: 'each relay installed one route per delegation for the whole pod',
    },
    async () => {
      const plan = currentPod();
      const reserved = await reservationsByMac(plan);
      const clients = instances().filter((i) => i.kind === 'synthetic' && i.dhcp);
      await untilNoShortfall('every delegated prefix routed on every router', () => routeShortfalls(plan, clients, reserved), instances().length, DELEGATED_WITHIN_MS);
    },
  );

  scenario(
    {
      id: 'SCALE-004',
      title: 'every instance’s security group is in force on its hypervisor port',
      reference: 'seed: security groups (MAC + source anti-spoofing, delegated prefixes as sources)',
      proves: 'each port dispatches to its own instance’s rules both ways and admits exactly its own sources',
    },
    async () => {
      const plan = currentPod();
      const short = await securityGroupShortfalls(plan, instances(), await reservationsByMac(plan));
      expect(short, describeShortfalls(short, instances().length)).to.deep.equal([]);
    },
  );

  scenario(
    {
      id: 'SCALE-005',
      title: 'sampled instances: a source address of another instance is dropped at the port, their own passes',
      reference: 'seed: "only allow the Instance to send from its own addresses"; RFC 7039',
      proves: 'source anti-spoofing holds on random ports of a full pod (positive control and captures per instance)',
    },
    async () => {
      const picks = sample();
      for (const inst of picks) {
        const victim = instances().find((i) => i.name !== inst.name)!;
        await counted(inst, 'source-spoof', () => expectDropped(echoToCore(inst, { src: victim.slaac }), { from: inst.name, notBeyond: `${inst.hypervisor}:uplink`, control: echoToCore(inst) }));
      }
    },
  );

  scenario(
    {
      id: 'SCALE-006',
      title: 'sampled instances: a frame from a MAC not the instance’s own is dropped at the port',
      reference: 'seed: "only allow the Instance to send from its own MAC"',
      proves: 'MAC anti-spoofing holds on random ports of a full pod',
    },
    async () => {
      for (const inst of sample()) {
        await counted(inst, 'mac-spoof', () => expectDropped(echoToCore(inst, { mac: '02:5c:a1:e0:00:01' }), { from: inst.name, notBeyond: `${inst.hypervisor}:uplink`, control: echoToCore(inst) }));
      }
    },
  );
});
