/**
 * `up` overlaps the kernel's settling of new links with Kea, reservations and security groups, then
 * turns each instance's IPv6 on and starts radvd (netns/realize.ts). This proves that ordering loses
 * no instance's first frames: every DAD probe (the link-local's is the instance's first frame) crossed
 * its port and security group, which counted it (a port that did not forward yet drops a frame
 * before any rule sees it); every instance's first RS reached both routers' LANs (the routers'
 * per-interface counters hold every RS the instances sent) and was answered (each router sent an RA
 * beyond the one it sends as it starts); every RA reached every instance. A reordering that sends
 * before the ports forward, before the groups are in force or before radvd listens fails here.
 */
import { expect } from 'chai';
import { loadPodFile, DEFAULT_POD_FILE } from '../../harness/pod/pod-file.ts';
import { up } from '../../netns/realize.ts';
import { teardownRun } from '../../netns/teardown.ts';
import { uniqueRunName } from '../../harness/pod/names.ts';
import type { Plan } from '../../harness/pod/plan.ts';
import { run } from '../../harness/os/exec.ts';
import { waitUntil } from '../../harness/os/wait.ts';
import { observeInstances } from '../../netns/observe.ts';
import { ruleCounters } from '../../harness/sg/nft-inspect.ts';
import { chainsOf } from '../../harness/sg/nft-driver.ts';

/** ICMPv6 counters of one interface (/proc/net/dev_snmp6/IFACE) inside a namespace. */
async function icmpCounters(ns: string, iface: string): Promise<Record<string, number>> {
  const { stdout } = await run(['cat', `/proc/net/dev_snmp6/${iface}`], { ns });
  return Object.fromEntries(stdout.split('\n').flatMap((l) => (l.trim() ? [[l.split(/\s+/)[0]!, Number(l.split(/\s+/)[1])]] : [])));
}

interface Counts {
  instances: Map<string, Record<string, number>>;
  routers: Map<string, Record<string, number>>;
}

async function counts(plan: Plan): Promise<Counts> {
  const [i, r] = await Promise.all([
    Promise.all(plan.instances.map(async (inst) => [inst.name, await icmpCounters(inst.ns, 'eth0')] as const)),
    Promise.all(plan.routers.map(async (rt) => [rt.name, await icmpCounters(rt.ns, 'lan')] as const)),
  ]);
  return { instances: new Map(i), routers: new Map(r) };
}

const sum = (m: Map<string, Record<string, number>>, key: string) => [...m.values()].reduce((s, c) => s + (c[key] ?? 0), 0);

describe("up loses no instance's first DAD probe or RS", function () {
  this.timeout(60_000);
  const pod = loadPodFile(DEFAULT_POD_FILE);
  const runName = uniqueRunName('ff');
  let plan: Plan;

  before(async () => {
    ({ plan } = await up(pod, runName, { podFile: DEFAULT_POD_FILE, owner: process.pid }));
  });
  after(() => teardownRun(runName));

  it("every instance's DAD probes (link-local first, then its SLAAC address) crossed its port and were counted by its group", async () => {
    // Both addresses finish DAD (one probe each, dad_transmits=1) within about a second of ready.
    await waitUntil(
      async () => {
        const seen = await observeInstances(plan.instances.map((i) => i.ns));
        return plan.instances.every((i) => {
          const addrs = seen.get(i.ns)?.addresses ?? [];
          return [i.linkLocal, i.slaac].every((a) => addrs.some((x) => x.address === a && !x.tentative));
        });
      },
      { timeoutMs: 5000, what: "every instance's link-local and SLAAC address to finish DAD" },
    );
    for (const inst of plan.instances) {
      const hv = plan.nodes.find((n) => n.name === inst.hypervisor)!;
      const sg = await ruleCounters(hv.ns, chainsOf(inst.name).out);
      const sent = (await icmpCounters(inst.ns, 'eth0')).Icmp6OutNeighborSolicits ?? 0;
      expect(sg.get('dad'), `${inst.name}: DAD probes counted at its port (it sent ${sent} NS)`).to.equal(2);
      expect(sg.get('port-without-group') ?? 0, `${inst.name}: frames before its group`).to.equal(0);
    }
  });

  it("every instance's first RS reached both routers and was answered; every RA reached every instance", async () => {
    let last: Counts | undefined;
    const problems = (c: Counts): string[] => {
      const rs = sum(c.instances, 'Icmp6OutRouterSolicits');
      return [
        ...[...c.instances].filter(([, x]) => !x.Icmp6OutRouterSolicits).map(([n]) => `${n} sent no RS yet`),
        ...[...c.routers].filter(([, x]) => x.Icmp6InRouterSolicits !== rs).map(([n, x]) => `${n} received ${x.Icmp6InRouterSolicits} of ${rs} RSs`),
        // One RA as radvd starts; any more within the next 16 s (its initial interval) answers an RS.
        ...[...c.routers].filter(([, x]) => (x.Icmp6OutRouterAdvertisements ?? 0) < 2).map(([n]) => `${n} answered no RS yet`),
        ...[...c.instances]
          .filter(([, x]) => x.Icmp6InRouterAdvertisements !== sum(c.routers, 'Icmp6OutRouterAdvertisements'))
          .map(([n, x]) => `${n} received ${x.Icmp6InRouterAdvertisements} of ${sum(c.routers, 'Icmp6OutRouterAdvertisements')} RAs`),
      ];
    };
    await waitUntil(
      async () => {
        last = await counts(plan);
        return problems(last).length === 0;
      },
      { timeoutMs: 5000, what: () => (last ? problems(last).join('; ') : 'counters') },
    );
    // Each instance solicited once: the answer came before its next RS (4 s later) was due.
    for (const [name, c] of last!.instances) expect(c.Icmp6OutRouterSolicits, `${name} RSs`).to.equal(1);
  });
});
