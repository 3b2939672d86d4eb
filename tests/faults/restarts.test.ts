/**
 * On a real pod (default pod, both relays): one router down — the other keeps the
 * instances' default route, keeps relaying and its routes are complete; the router's radvd and
 * relay restarted by `up()` reconcile (routes from Kea's leases, none lost or duplicated). Kea
 * SIGKILLed by its recorded PID and restarted by `up()`: leases persist, the reservations too, no
 * prefix is ever delegated to two instances, routes stay on both routers, clients renew afterwards.
 */
import { expect } from 'chai';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadPodFile } from '../../harness/pod/pod-file.ts';
import { up } from '../../netns/realize.ts';
import { teardownRun } from '../../netns/teardown.ts';
import { uniqueRunName } from '../../harness/pod/names.ts';
import { readState, type DaemonRecord } from '../../netns/run-state.ts';
import { buildPlan, type InstancePlan, type Plan } from '../../harness/pod/plan.ts';
import { observeInstances } from '../../netns/observe.ts';
import { daemonAlive, stopDaemon } from '../../netns/daemons/process.ts';
import { keaCommand } from '../../harness/os/control-socket.ts';
import { keaPaths } from '../../harness/control/kea-config.ts';
import { waitUntil } from '../../harness/os/wait.ts';
import { PodControl } from '../../harness/control/pod-control.ts';
import { clearCurrentPod, setCurrentPod } from '../../harness/probe/pod-context.ts';
import { dhcpClient, relayCounters, relayRoutes, reservedPrefixes, waitNoRoutes, waitRoutesOnAllRouters } from '../../harness/probe/dhcp.ts';
import { DEFAULT_POD_FILE } from '../../harness/pod/pod-file.ts';

interface Lease {
  prefix: string;
  duid: string;
  iaid: number;
  hw: string | undefined;
  cltt: number;
}

describe('restarts and a router down on a real pod', function () {
  this.timeout(120_000);
  const pod = loadPodFile(DEFAULT_POD_FILE);
  const runName = uniqueRunName('rst');
  const artifacts = mkdtempSync(join(tmpdir(), 'rst-'));
  let plan: Plan;
  /** Each instance's prefixes, as delegated. */
  const delegated = new Map<string, string[]>();

  before(async () => {
    ({ plan } = await up(pod, runName, { podFile: DEFAULT_POD_FILE, owner: process.pid }));
    setCurrentPod(plan, artifacts);
    for (const inst of plan.instances) {
      const r = await dhcpClient(inst, { iaPds: inst.prefixes });
      const got = r.steps[0]!.iaPds.flatMap((ia) => ia.prefixes.map((p) => p.prefix)).sort();
      expect(got, `${inst.name} acquires its reservation`).to.deep.equal([...(await reservedPrefixes(inst))].sort());
      delegated.set(inst.name, got);
      await waitRoutesOnAllRouters(got, inst.linkLocal, 10_000);
    }
  });

  after(async () => {
    clearCurrentPod();
    await teardownRun(runName);
    rmSync(artifacts, { recursive: true, force: true });
  });

  const daemon = (name: string, node: string): DaemonRecord => readState(runName)!.daemons.find((d) => d.name === name && d.node === node)!;
  const kea = (command: string) => keaCommand(keaPaths(runName).socket, command, undefined, 10_000);
  async function leases(): Promise<Lease[]> {
    const all = ((await kea('lease6-get-all')).arguments?.leases ?? []) as Array<Record<string, unknown>>;
    return all
      .filter((l) => l.type === 'IA_PD')
      .map((l) => ({
        prefix: `${String(l['ip-address'])}/${String(l['prefix-len'])}`,
        duid: String(l.duid),
        iaid: Number(l.iaid),
        hw: l['hw-address'] as string | undefined,
        cltt: Number(l.cltt),
      }))
      .sort((a, b) => a.prefix.localeCompare(b.prefix));
  }
  async function reservations(): Promise<Array<{ mac: string; prefixes: string[] }>> {
    const state = readState(runName)!;
    const control = await PodControl.open(buildPlan(state.pod, runName, state.ports), state.pg);
    try {
      return (await control.store.list()).map((r) => ({ mac: r.mac, prefixes: [...r.prefixes].sort() }));
    } finally {
      await control.close();
    }
  }
  /** No prefix leased twice, none to a MAC other than the one it is reserved for. */
  function assertNoDoubleDelegation(ls: Lease[], byName: Map<string, string[]>): void {
    const prefixes = ls.map((l) => l.prefix);
    expect(new Set(prefixes).size, `a prefix leased twice: ${prefixes.join(' ')}`).to.equal(prefixes.length);
    const all = [...byName.values()].flat();
    expect(new Set(all).size, 'a prefix delegated to two instances').to.equal(all.length);
    for (const inst of plan.instances)
      for (const p of byName.get(inst.name) ?? []) expect(ls.find((l) => l.prefix === p)?.hw, `${p} leased to ${inst.name}'s MAC`).to.equal(inst.mac);
  }
  /** Every router holds exactly one route per delegated prefix, via the instance's link-local. */
  async function routesComplete(routers: Plan['routers']): Promise<string[]> {
    const problems: string[] = [];
    for (const r of routers) {
      const held = await relayRoutes(r);
      for (const inst of plan.instances)
        for (const p of delegated.get(inst.name) ?? []) {
          const n = held.filter((x) => x.prefix === p && x.via === inst.linkLocal).length;
          if (n !== 1) problems.push(`${r.name} holds ${n} routes for ${p} via ${inst.linkLocal}`);
        }
      const extra = held.filter((x) => ![...delegated.values()].flat().includes(x.prefix));
      problems.push(...extra.map((x) => `${r.name} holds a stray route ${x.prefix} via ${x.via}`));
    }
    return problems;
  }
  const acquire = async (inst: InstancePlan, steps: Array<{ op: 'acquire' } | { op: 'renew' } | { op: 'release' }>) =>
    dhcpClient(inst, { iaPds: inst.prefixes, steps });

  it('r1 down (radvd and relay stopped): every instance keeps a default route via r2; r2 relays a new acquire and its routes are complete', async () => {
    const [r1, r2] = plan.routers as [Plan['routers'][number], Plan['routers'][number]];
    const vm4 = plan.instances.find((i) => i.name === 'vm4')!;
    // vm4 gives its prefix back first, so acquiring it again with r1 down is new work for r2 alone.
    const released = await acquire(vm4, [{ op: 'acquire' }, { op: 'release' }]);
    expect(released.steps.map((s) => s.answer)).to.deep.equal(['reply', 'reply']);
    await waitNoRoutes(delegated.get('vm4')!, 10_000);

    await Promise.all([stopDaemon(daemon('radvd', 'r1')), stopDaemon(daemon('dhcp6-relay', 'r1'))]);
    const seen = await observeInstances(plan.instances.map((i) => i.ns));
    for (const inst of plan.instances) expect(seen.get(inst.ns)!.defaultRoutes, `${inst.name} default routes with r1 down`).to.include(r2.linkLocal);

    const before = await relayCounters(r2);
    const again = await acquire(vm4, [{ op: 'acquire' }]);
    expect(again.steps[0]!.answer).to.equal('reply');
    expect(again.steps[0]!.iaPds.flatMap((ia) => ia.prefixes.map((p) => p.prefix)).sort()).to.deep.equal(delegated.get('vm4'));
    const after = await relayCounters(r2);
    const total = (c: typeof before) => Object.values(c.received).reduce((n, x) => n + x, 0);
    expect(total(after), "r2's relay received the exchange").to.be.greaterThan(total(before));
    await waitUntil(async () => (await routesComplete([r2])).length === 0, { timeoutMs: 10_000, what: "r2's routes to be complete" }).catch(() => undefined);
    expect(await routesComplete([r2]), "r2's routes with r1 down").to.deep.equal([]);
    assertNoDoubleDelegation(await leases(), delegated);

    // Back up through up()'s reconcile: r1's radvd and relay restarted, the relay reconciles its routes from Kea's leases.
    const { reused } = await up(pod, runName, { podFile: DEFAULT_POD_FILE, owner: process.pid });
    expect(reused).to.equal(true);
    expect(daemonAlive(daemon('radvd', 'r1')) && daemonAlive(daemon('dhcp6-relay', 'r1'))).to.equal(true);
    await waitUntil(async () => (await routesComplete([r1, r2])).length === 0, { timeoutMs: 10_000, what: "both routers' routes to be complete" }).catch(
      () => undefined,
    );
    expect(await routesComplete([r1, r2]), 'routes after r1 came back').to.deep.equal([]);
  });

  it('Kea SIGKILLed and restarted by up(): leases and reservations persist, no double delegation, routes stay, clients renew', async () => {
    const leasesBefore = await leases();
    const reservationsBefore = await reservations();
    assertNoDoubleDelegation(leasesBefore, delegated);
    const old = daemon('kea-dhcp6', 'kea');
    process.kill(old.pid, 'SIGKILL');
    await waitUntil(() => !daemonAlive(old), { timeoutMs: 10_000, what: `Kea (pid ${old.pid}) to die` });
    expect(await routesComplete(plan.routers), 'routes while Kea is down').to.deep.equal([]);

    const { reused } = await up(pod, runName, { podFile: DEFAULT_POD_FILE, owner: process.pid });
    expect(reused).to.equal(true);
    const restarted = daemon('kea-dhcp6', 'kea');
    expect(restarted.pid).to.not.equal(old.pid);
    expect(daemonAlive(restarted)).to.equal(true);

    expect(await leases(), 'leases after the restart').to.deep.equal(leasesBefore);
    expect(await reservations(), 'reservations after the restart (the store is the one source of truth)').to.deep.equal(reservationsBefore);
    expect(await routesComplete(plan.routers), 'routes after the restart').to.deep.equal([]);

    // Clients come back to the restarted Kea: the same prefixes, then a Renew answered with a live lifetime.
    const now = new Map<string, string[]>();
    for (const inst of plan.instances) {
      const r = await acquire(inst, [{ op: 'acquire' }, { op: 'renew' }]);
      expect(
        r.steps.map((s) => s.answer),
        `${inst.name} acquire, renew`,
      ).to.deep.equal(['reply', 'reply']);
      const renewed = r.steps[1]!.iaPds.flatMap((ia) => ia.prefixes);
      expect(renewed.map((p) => p.prefix).sort(), `${inst.name} renewed prefixes`).to.deep.equal(delegated.get(inst.name));
      expect(
        renewed.every((p) => p.validLifetime > 0),
        `${inst.name} renewed with a live lifetime`,
      ).to.equal(true);
      now.set(inst.name, renewed.map((p) => p.prefix).sort());
    }
    assertNoDoubleDelegation(await leases(), now);
    expect(await routesComplete(plan.routers), 'routes after the renewals').to.deep.equal([]);
  });
});
