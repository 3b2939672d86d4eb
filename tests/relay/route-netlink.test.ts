/**
 * The relay's rtnetlink route writer against the kernel: the same changes through it and through
 * `ip -batch` (what the relay used before) leave the same routes in two scratch namespaces and fail
 * the same changes with the same message; the relay's RouteTable works over it.
 */
import { expect } from 'chai';
import { tmpdir } from 'node:os';
import { ScratchNamespace } from '../support/netns.ts';
import { IpBatch } from '../../harness/os/ip-batch.ts';
import { NetlinkRoutes } from '../../harness/relay/route-netlink.ts';
import { IpBatchRoutes, RouteTable, type RouteChange, type RouteWriter } from '../../harness/relay/routes.ts';
import { Counters } from '../../harness/relay/counters.ts';

const PROTO = 201;

async function namespaceWithLan(tag: string): Promise<ScratchNamespace> {
  const ns = await ScratchNamespace.create(tag);
  await ns.ip('link', 'add', 'lan', 'type', 'veth', 'peer', 'name', 'peer');
  await ns.ip('link', 'set', 'lan', 'up');
  await ns.ip('link', 'set', 'peer', 'up');
  return ns;
}

/** `ip -6 route show proto 201` with the seconds left of each `expires` rounded to tens (the two runs are a moment apart). */
async function routes(ns: ScratchNamespace): Promise<string[]> {
  const { stdout } = await ns.ip('-6', 'route', 'show', 'proto', String(PROTO));
  return stdout
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((l) => l.trim().replace(/expires (\d+)sec/, (_, s: string) => `expires ~${Math.round(Number(s) / 10) * 10}sec`));
}

describe('relay route writer over rtnetlink (route-netlink.ts) against the kernel', function () {
  this.timeout(30_000);
  let a: ScratchNamespace;
  let b: ScratchNamespace;
  let netlink: RouteWriter;
  let ipBatch: RouteWriter;

  before(async () => {
    a = await namespaceWithLan('rna');
    b = await namespaceWithLan('rnb');
    netlink = new NetlinkRoutes('lan', PROTO, { netns: a.name });
    ipBatch = new IpBatchRoutes(new IpBatch(b.name), 'lan', PROTO);
  });
  after(async () => {
    await netlink?.close();
    await ipBatch?.close();
    await a?.delete();
    await b?.delete();
  });

  it('leaves the same routes as ip -batch and fails the same changes with the same message', async () => {
    const steps: RouteChange[][] = [
      [
        { op: 'replace', prefix: '2001:db8:200:10::/60', via: 'fe80::1', expiresS: 3600 },
        { op: 'replace', prefix: '2001:db8:200:20::/60', via: 'fe80::2', expiresS: null },
        { op: 'replace', prefix: '2001:db8:201::/56', via: 'fe80::3', expiresS: 120 },
        { op: 'delete', prefix: '2001:db8:200:90::/60' }, // never installed: No such process
      ],
      [
        { op: 'replace', prefix: '2001:db8:200:10::/60', via: 'fe80::4', expiresS: 600 }, // refreshed with another gateway
        { op: 'delete', prefix: '2001:db8:200:20::/60' },
        { op: 'delete', prefix: '2001:db8:200:20::/60' }, // twice: No such process
      ],
    ];
    for (const changes of steps) {
      const [viaNetlink, viaIp] = await Promise.all([netlink.apply(changes), ipBatch.apply(changes)]);
      expect(viaNetlink).to.deep.equal(viaIp);
      expect(await routes(a)).to.deep.equal(await routes(b));
    }
    expect(await routes(a)).to.deep.equal([
      '2001:db8:200:10::/60 via fe80::4 dev lan metric 1024 expires ~600sec pref medium',
      '2001:db8:201::/56 via fe80::3 dev lan metric 1024 expires ~120sec pref medium',
    ]);
  });

  it('leaves the routes of another protocol alone', async () => {
    await a.ip('-6', 'route', 'add', '2001:db8:300::/60', 'via', 'fe80::9', 'dev', 'lan', 'proto', 'static');
    expect(await netlink.apply([{ op: 'delete', prefix: '2001:db8:300::/60' }])).to.deep.equal([{ index: 0, error: 'RTNETLINK answers: No such process' }]);
    const { stdout } = await a.ip('-6', 'route', 'show', '2001:db8:300::/60');
    expect(stdout).to.contain('via fe80::9');
  });

  it("carries the relay's RouteTable: many installs coalesced, then removed", async () => {
    const writer = new NetlinkRoutes('lan', PROTO, { netns: a.name, coalesceMs: 5 });
    const counters = new Counters();
    const table = new RouteTable(writer, { dev: 'lan', protocol: PROTO, stateFile: `${tmpdir()}/route-netlink-${process.pid}.json` }, counters);
    const prefixes = Array.from({ length: 1500 }, (_, i) => `2001:db8:210:${(i * 16).toString(16)}::/60`);
    await Promise.all(prefixes.map((prefix, i) => table.install([{ prefix, via: `fe80::${(i + 1).toString(16)}`, expiresAt: Date.now() + 60_000 }])));
    expect(counters.routes.installed).to.equal(1500);
    const { stdout } = await a.ip('-6', 'route', 'show', 'proto', String(PROTO), 'root', '2001:db8:210::/48');
    expect(stdout.trim().split('\n')).to.have.length(1500);
    expect(await table.remove(prefixes)).to.have.length(1500);
    expect((await a.ip('-6', 'route', 'show', 'proto', String(PROTO), 'root', '2001:db8:210::/48')).stdout.trim()).to.equal('');
    await writer.close();
  });
});
