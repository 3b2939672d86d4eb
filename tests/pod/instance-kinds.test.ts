/**
 * A synthetic instance stands for a kernel one: the same pod file, once with kernel
 * (namespace) instances and once with synthetic ones, must give the same outcome for the same
 * MACs — SLAAC address, link-local, both default routers, the reserved prefixes delegated (kernel:
 * wide-dhcpv6 dhcp6c with the seed's configuration; synthetic: the emulated PD client), routed on
 * both routers via the instance's link-local, leased by Kea to that MAC — and an instance without a
 * reservation gets no prefix and no route either way.
 */
import { expect } from 'chai';
import { parsePodFile, type InstanceKind } from '../../harness/pod/pod-file.ts';
import { up } from '../../netns/realize.ts';
import { teardownRun } from '../../netns/teardown.ts';
import { runDir, uniqueRunName } from '../../harness/pod/names.ts';
import { observeAll, syntheticSnapshots } from '../../netns/observe.ts';
import type { Plan } from '../../harness/pod/plan.ts';
import { keaCommand } from '../../harness/os/control-socket.ts';
import { keaPaths } from '../../harness/control/kea-config.ts';
import { waitUntil } from '../../harness/os/wait.ts';
import { relayRoutes, startDhcp6c } from '../../harness/probe/dhcp.ts';

const MACS = { vm1: '06:7a:88:00:00:8b', vm2: '02:00:5e:10:00:02', bare: '02:00:5e:10:00:03' };

function podOf(kind: InstanceKind): string {
  const inst = (name: keyof typeof MACS, extra = '') => `      - { name: ${name}, mac: "${MACS[name]}", kind: ${kind}${extra} }`;
  return [
    'name: kinds',
    'pod:',
    '  l2Prefix: 2001:db8:100::/64',
    '  pdPool: 2001:db8:200::/40',
    'hypervisors:',
    '  - name: hv1',
    '    instances:',
    inst('vm1'),
    inst('vm2'),
    inst('bare', ', prefixes: 0'),
    '',
  ].join('\n');
}

interface Outcome {
  addresses: Record<string, string[]>;
  defaultRoutes: Record<string, string[]>;
  routes: Record<string, string[]>;
  leases: string[];
}

const routedVia = (plan: Plan, via: string) =>
  Promise.all(plan.routers.map(async (r) => (await relayRoutes(r)).filter((x) => x.via === via).map((x) => `${r.name} ${x.prefix}`)));

/** What the pod's instances hold once every reserved prefix is routed on both routers. */
async function outcomeOf(plan: Plan, expectRouted: Record<string, number>): Promise<Outcome> {
  const insts = plan.instances;
  let held: string[][] = [];
  await waitUntil(
    async () => {
      held = await Promise.all(insts.map(async (i) => (await routedVia(plan, i.linkLocal)).flat()));
      return insts.every((i, k) => held[k]!.length === (expectRouted[i.name] ?? 0));
    },
    {
      timeoutMs: 30_000,
      what: () => `the routers to route ${JSON.stringify(expectRouted)} prefixes for the ${insts[0]!.kind} instances (routed: ${JSON.stringify(held)})`,
    },
  );
  const seen = await observeAll(plan.run, insts);
  const leases = await keaCommand(keaPaths(plan.run).socket, 'lease6-get-all');
  const rows = (leases.arguments?.leases ?? []) as Array<{ 'hw-address'?: string; 'ip-address': string; 'prefix-len': number; type: string }>;
  // SLAAC and link-local only: a synthetic instance also answers at <delegated prefix>::1, a kernel one configures nothing from it.
  const own = (name: string) =>
    (seen.get(name)?.addresses ?? [])
      .filter((a) => a.prefixLength === 64)
      .map((a) => a.address)
      .sort();
  return {
    addresses: Object.fromEntries(insts.map((i) => [i.name, own(i.name)])),
    defaultRoutes: Object.fromEntries(insts.map((i) => [i.name, [...(seen.get(i.name)?.defaultRoutes ?? [])].sort()])),
    routes: Object.fromEntries(await Promise.all(insts.map(async (i) => [i.name, (await routedVia(plan, i.linkLocal)).flat().sort()] as const))),
    leases: rows
      .filter((l) => l.type === 'IA_PD')
      .map((l) => `${l['hw-address']} ${l['ip-address']}/${l['prefix-len']}`)
      .sort(),
  };
}

describe('instance kinds: a synthetic instance gives what a kernel instance with the same MAC gives', function () {
  this.timeout(180_000);
  const expectRouted = { vm1: 2, vm2: 2, bare: 0 }; // prefixes × 2 routers

  it('same SLAAC address, link-local, default routers, delegated prefixes, routes and Kea leases; no prefix without a reservation', async () => {
    const outcomes: Partial<Record<InstanceKind, Outcome>> = {};
    for (const kind of ['namespace', 'synthetic'] as const) {
      const runName = uniqueRunName('kinds');
      const { plan } = await up(parsePodFile(podOf(kind), `kinds-${kind}.yaml`), runName, { podFile: `kinds-${kind}.yaml`, owner: process.pid });
      const clients = kind === 'namespace' ? plan.instances.map((i) => startDhcp6c(i.ns, `${runDir(runName)}/dhcp6c-${i.name}`)) : [];
      try {
        outcomes[kind] = await outcomeOf(plan, expectRouted);
        if (kind === 'synthetic') {
          // Its Advertise may come after the others' routes (each first Solicit waits up to SOL_MAX_DELAY).
          await waitUntil(async () => (await syntheticSnapshots(plan.run, plan.instances)).get('bare')?.dhcp?.status?.code === 6, {
            timeoutMs: 10_000,
            what: 'the unreserved synthetic instance to be told NoPrefixAvail (status 6)',
          });
        }
      } finally {
        await Promise.all(clients.map((c) => c.stop().catch(() => undefined)));
        await teardownRun(runName);
      }
    }
    const kernel = outcomes.namespace!;
    expect(kernel.routes.vm1, 'the kernel instance got its reserved prefix routed').to.have.length(2);
    expect(kernel.leases, 'Kea leased to the MACs').to.have.length(2);
    expect(outcomes.synthetic).to.deep.equal(kernel);
  });
});
