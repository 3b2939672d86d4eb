/**
 * The scale profile (`v6pod test --pod fixtures/pods/scale-1000.yaml --profile scale`): every
 * instance of the pod is verified — SLAAC address, reserved prefixes delivered, a route for each on
 * every router, its security group in force — each check one read per daemon or namespace (the
 * fleet checks of the scenario API), then a sample of the drop matrix on random instances, each
 * drop proved with a positive control, captures entering the port and absent beyond the
 * hypervisor's uplink, and the dropping rule's counter. The sample is derived from the run name
 * and every failure names its instance.
 */
import { expect } from 'chai';
import {
  currentPod,
  delegationShortfalls,
  describeShortfalls,
  echoToCore,
  expectDropped,
  instances,
  kernelState,
  reservationsByMac,
  routeShortfalls,
  routers,
  sampleInstances,
  scenario,
  securityGroupShortfalls,
  untilNoShortfall,
  usable,
  type Shortfall,
} from '../../harness/probe/api.ts';

/** How long delegation and routing may take after `up` returned (all SLAAC ready), for the whole pod. */
const DELEGATED_WITHIN_MS = 30_000;
/** Instances the drop-matrix sample covers (one per hypervisor when there are as many). */
const SAMPLE = 4;
/** A locally administered MAC no instance has. */
const STRANGER_MAC = '02:5c:a1:e0:00:01';

const pdClients = () => instances().filter((i) => i.kind === 'synthetic' && i.dhcp);

describe('SCALE: every instance of a large pod, verified', () => {
  scenario(
    {
      id: 'SCALE-001',
      title: 'every instance holds its computed SLAAC address and a default route via each router',
      reference: 'seed: "CloudStack can calculate which address an Instance will obtain"; RFC 4862 §5.5.3; RFC 4861 §6.3.4',
      proves: 'SLAAC and both routers reach every instance of the pod, kernel and synthetic alike',
    },
    async () => {
      // Act: read every instance's stack (one read per namespace batch and host daemon).
      const seen = await kernelState();
      // Pass criteria: each holds its SLAAC address, usable, and a default route via every router.
      const viaRouters = routers().map((r) => r.linkLocal);
      const short = instances().flatMap((i): Shortfall[] => {
        const o = seen.get(i.name)!;
        const addr = o.addresses.find((a) => a.address === i.slaac);
        const lacks = [
          ...(addr && usable(addr) ? [] : [`SLAAC ${i.slaac}`]),
          ...viaRouters.filter((ll) => !o.defaultRoutes.includes(ll)).map((ll) => `default via ${ll}`),
        ];
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
      // Set up: what the control plane reserved; the synthetic instances running their PD client.
      const reserved = await reservationsByMac(currentPod());
      expect(pdClients().length, 'synthetic instances running their PD client').to.be.greaterThan(0);
      // Pass criteria: within the deadline, each holds exactly its reservation.
      await untilNoShortfall(
        'every instance delegated its reservation',
        pdClients(),
        (some) => delegationShortfalls(currentPod(), some, reserved),
        DELEGATED_WITHIN_MS,
      );
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
      // Set up: what the control plane reserved.
      const reserved = await reservationsByMac(currentPod());
      // Pass criteria: within the deadline, every router routes each prefix once, via its instance.
      await untilNoShortfall(
        'every delegated prefix routed on every router',
        pdClients(),
        (some) => routeShortfalls(currentPod(), some, reserved),
        DELEGATED_WITHIN_MS,
      );
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
      // Act: read every hypervisor's maps and sets once.
      const short = await securityGroupShortfalls(currentPod(), instances(), await reservationsByMac(currentPod()));
      // Pass criteria: no instance lacks its dispatch or its exact sources.
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
      for (const inst of sampleInstances(currentPod(), SAMPLE)) {
        // Set up: an echo to the core from the instance, and the same from another instance's address.
        const victim = instances().find((i) => i.name !== inst.name)!;
        // Act and pass criteria: its own echo crosses its uplink; the spoofed one never leaves its port (rule source-spoof).
        await expectDropped(echoToCore(inst, { src: victim.slaac }), { from: inst, control: echoToCore(inst), rule: 'source-spoof' });
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
      for (const inst of sampleInstances(currentPod(), SAMPLE)) {
        // Act and pass criteria: its own echo crosses; the same from a stranger's MAC never leaves its port (rule mac-spoof).
        await expectDropped(echoToCore(inst, { mac: STRANGER_MAC }), { from: inst, control: echoToCore(inst), rule: 'mac-spoof' });
      }
    },
  );
});
