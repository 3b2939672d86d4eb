/**
 * Both routers hold every route even when the server answers only one router's copy of a Request
 * (it dropped the other's, as Kea does under load for a full socket buffer): the router that saw no
 * Reply routes the binding from Kea's leases (lease-repair.ts). Here Kea's namespace drops every
 * message from r2's service address, so only r1's copy of the client's exchange is ever answered.
 */
import { expect } from 'chai';
import { loadPodFile, DEFAULT_POD_FILE } from '../../harness/pod/pod-file.ts';
import { up } from '../../netns/realize.ts';
import { teardownRun } from '../../netns/teardown.ts';
import { uniqueRunName } from '../../harness/pod/names.ts';
import type { Plan } from '../../harness/pod/plan.ts';
import { relayCommand, relayPaths } from '../../netns/daemons/relay.ts';
import { run } from '../../harness/os/exec.ts';
import { waitUntil } from '../../harness/os/wait.ts';
import { dhcpClient, relayRoutes } from '../../harness/probe/dhcp.ts';
import type { CounterSnapshot } from '../../harness/relay/counters.ts';

const TABLE = 'v6prepair';

describe('relay: a binding answered through the other router only is routed from Kea’s leases', function () {
  this.timeout(60_000);
  const runName = uniqueRunName('repair');
  let plan: Plan;
  const counters = async (router: string) => (await relayCommand(relayPaths(runName, router).socket, 'counters')).arguments as unknown as CounterSnapshot;
  const dropped = async () => Number(/packets (\d+)/.exec((await run(['nft', 'list', 'table', 'inet', TABLE], { ns: plan.kea.ns })).stdout)?.[1] ?? 0);

  before(async () => {
    ({ plan } = await up(loadPodFile(DEFAULT_POD_FILE), runName, { podFile: DEFAULT_POD_FILE, owner: process.pid }));
    const r2 = plan.routers[1]!;
    await run(['nft', '-f', '-'], {
      ns: plan.kea.ns,
      input: `add table inet ${TABLE}\nadd chain inet ${TABLE} in { type filter hook input priority 0; }\nadd rule inet ${TABLE} in ip6 saddr ${r2.serviceAddress} udp dport 547 counter drop\n`,
    });
  });
  after(async () => {
    await teardownRun(runName);
  });

  it("r2 routes vm1's prefix although Kea never saw r2's copy of the exchange; r1 from its Reply", async () => {
    const vm1 = plan.instances.find((i) => i.name === 'vm1')!;
    const [r1, r2] = plan.routers;
    const before = await counters(r2!.name);
    const result = await dhcpClient(vm1);
    const prefixes = result.steps[0]!.iaPds.flatMap((ia) => ia.prefixes.map((p) => p.prefix));
    expect(prefixes, "vm1's delegated prefixes (answered through r1)").to.have.length(1);
    expect(await dropped(), "r2's Relay-Forwards dropped before Kea").to.be.greaterThan(0);
    const via = async (r: typeof r1) => (await relayRoutes(r!)).filter((x) => x.prefix === prefixes[0]).map((x) => x.via);
    expect(await via(r1), 'r1 routes it from the Reply it relayed').to.deep.equal([vm1.linkLocal]);
    await waitUntil(async () => (await via(r2)).length > 0, { timeoutMs: 10_000, what: `r2 to route ${prefixes[0]} from Kea's leases` });
    expect(await via(r2), 'r2 routes it, via the client').to.deep.equal([vm1.linkLocal]);
    const after = await counters(r2!.name);
    expect(after.routes.repaired - before.routes.repaired, "r2's repaired routes").to.equal(1);
    expect(after.sent['client:reply'] ?? 0, 'r2 delivered no Reply: it learned the binding from the leases').to.equal(before.sent['client:reply'] ?? 0);
  });
});
