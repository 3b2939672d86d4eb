/**
 * The guests' real DHCPv6 clients as daemons of the run: `up` starts each declared client in its
 * instance (every one gets its reservation, routed on both routers), each with its own state folder
 * and a link-layer DUID, nothing of the host touched (no resolv.conf rewrite, no host lease or DUID
 * files, no /run/dhcpcd); `down` leaves no client process behind, helpers included.
 */
import { expect } from 'chai';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { parsePodFile } from '../../harness/pod/pod-file.ts';
import { uniqueRunName } from '../../harness/pod/names.ts';
import { up } from '../../netns/realize.ts';
import { teardownRun } from '../../netns/teardown.ts';
import { readState } from '../../netns/run-state.ts';
import { daemonAlive } from '../../netns/daemons/process.ts';
import { guestDir } from '../../netns/guest-clients.ts';
import { deployInstance, destroyInstance } from '../../netns/instance-lifecycle.ts';
import { buildPlan } from '../../harness/pod/plan.ts';
import { run as runCommand } from '../../harness/os/exec.ts';
import { relayRoutes } from '../../harness/probe/dhcp.ts';
import { waitUntil } from '../../harness/os/wait.ts';
import { processesInRun, stillRunning, type ProcRef } from '../faults/testing.ts';

const CLIENTS = ['dhcp6c', 'dhcpcd', 'dhclient', 'networkd', 'dibbler'] as const;
const POD = [
  'name: gclients',
  'pod:',
  '  l2Prefix: 2001:db8:100::/64',
  '  pdPool: 2001:db8:200::/40',
  'hypervisors:',
  '  - name: hv1',
  '    instances:',
  ...CLIENTS.map((c) => `      - { name: ${c}, client: ${c} }`),
  '',
].join('\n');

/** Host paths a client would write to if it were not kept inside its namespace. */
const HOST_PATHS = ['/var/lib/dhcpcd', '/var/lib/dhcp', '/var/lib/dhcpv6', '/var/lib/dibbler'];
const hostSnapshot = () => ({
  resolv: existsSync('/etc/resolv.conf') ? `${statSync('/etc/resolv.conf').mtimeMs} ${readFileSync('/etc/resolv.conf', 'utf8')}` : 'absent',
  dirs: HOST_PATHS.map((p) => `${p}: ${existsSync(p) ? readdirSync(p).sort().join(',') : 'absent'}`),
  runDhcpcd: existsSync('/run/dhcpcd'),
});

describe('guest clients: started by up as daemons of the run, stopped by down', function () {
  this.timeout(60_000);
  const run = uniqueRunName('gclients');
  const pod = parsePodFile(POD, 'gclients.yaml');
  const before = hostSnapshot();
  let clientProcs: ProcRef[] = [];

  after(async () => {
    await teardownRun(run);
  });

  it('each declared client runs in its instance, gets its reservation routed on both routers, with its own state and a link-layer DUID', async () => {
    const { plan } = await up(pod, run, { podFile: 'gclients.yaml', owner: process.pid });
    const state = readState(run)!;
    for (const c of CLIENTS) {
      const d = state.daemons.find((x) => x.name === c && x.node === c);
      expect(d, `${c} recorded as a daemon of the run`).to.not.equal(undefined);
      expect(daemonAlive(d!), `${c} alive`).to.equal(true);
      expect(d!.ns, `${c} runs in its instance's namespace`).to.equal(plan.instances.find((i) => i.name === c)!.ns);
    }
    const linkLocals = new Map(plan.instances.map((i) => [i.linkLocal, i.name]));
    await waitUntil(
      async () => {
        for (const r of plan.routers) {
          const via = new Set((await relayRoutes(r)).map((x) => linkLocals.get(x.via ?? '')));
          if (!CLIENTS.every((c) => via.has(c))) return false;
        }
        return true;
      },
      { timeoutMs: 15_000, what: `both routers to route a prefix to each of ${CLIENTS.join(', ')}` },
    );
    // Link-layer DUIDs (type 3) in each client's own state folder.
    const dir = (c: string) => guestDir(run, c);
    expect(readFileSync(`${dir('dhcpcd')}/duid`, 'utf8')).to.match(/^00:03:00:01:/);
    expect(readFileSync(`${dir('dibbler')}/client-duid`, 'utf8')).to.match(/^00:03:00:01:/);
    expect(readFileSync(`${dir('dhclient')}/dhclient6.leases`, 'utf8')).to.match(/default-duid "\\000\\003\\000\\001/);
    expect(readFileSync(`${dir('dhcp6c')}/dhcpv6/dhcp6c_duid`).subarray(2, 6)).to.deep.equal(Buffer.from([0, 3, 0, 1]));
    clientProcs = (await processesInRun(run)).filter((p) => /dhcp6c|dhcpcd|dhclient|networkd|dibbler/.test(p.cmd));
    expect(clientProcs.length, 'client processes seen').to.be.at.least(CLIENTS.length);
    expect(hostSnapshot(), 'the host: resolv.conf, lease and DUID folders, /run/dhcpcd').to.deep.equal(before);
  });

  it('vm deploy --client --addressing: the new instance runs its client with its addressing, gets its prefix routed; vm destroy ends the client and its record', async () => {
    const { instance, prefixes } = await deployInstance(run, { name: 'late', client: 'dhcp6c', addressing: 'temporary', prefixes: 1 });
    expect(prefixes).to.have.length(1);
    const sysctl = async (key: string) => (await runCommand(['ip', 'netns', 'exec', instance.ns, 'sysctl', '-n', `net.ipv6.conf.eth0.${key}`])).stdout.trim();
    expect(await sysctl('use_tempaddr'), 'temporary: use_tempaddr').to.equal('2');
    const d = readState(run)!.daemons.find((x) => x.name === 'dhcp6c' && x.node === 'late');
    expect(d && daemonAlive(d), 'dhcp6c recorded and alive').to.equal(true);
    const plan = buildPlan(readState(run)!.pod, run, readState(run)!.ports);
    await waitUntil(async () => (await Promise.all(plan.routers.map(relayRoutes))).every((routes) => routes.some((r) => r.prefix === prefixes[0])), {
      timeoutMs: 15_000,
      what: `both routers to route ${prefixes[0]} (late's reservation)`,
    });
    await destroyInstance(run, 'late');
    await waitUntil(() => !daemonAlive(d!), { timeoutMs: 5000, what: `late's dhcp6c (pid ${d!.pid}) to be gone after destroy` });
    expect(
      readState(run)!.daemons.filter((x) => x.node === 'late'),
      'records of late after destroy',
    ).to.deep.equal([]);
    // A stable-privacy guest is deployed once it can speak (its RS is dropped by its group: no routes to wait for).
    const priv = await deployInstance(run, { name: 'priv', addressing: 'stable-privacy', prefixes: 0 });
    expect((await runCommand(['ip', 'netns', 'exec', priv.instance.ns, 'sysctl', '-n', 'net.ipv6.conf.eth0.addr_gen_mode'])).stdout.trim()).to.equal('2');
    await destroyInstance(run, 'priv');
  });

  it('down stops every client and its helpers: no client process is left', async () => {
    await teardownRun(run);
    await waitUntil(() => clientProcs.every((p) => !stillRunning(p)), { timeoutMs: 5000, what: 'the client processes to be gone' }).catch(() => undefined);
    expect(
      clientProcs.filter(stillRunning).map((p) => `${p.pid} ${p.cmd}`),
      'client processes left after down',
    ).to.deep.equal([]);
    expect(hostSnapshot(), 'the host after down').to.deep.equal(before);
  });
});
