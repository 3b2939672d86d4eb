/**
 * The host daemon's control commands over a fleet whose ports are fakes: adding and removing
 * instances, snapshots, raw sends, and bad input answered in one line with nothing left half-built.
 */
import { expect } from 'chai';
import { handleSynthCommand } from './control.ts';
import { Fleet, type FleetPorts } from './fleet.ts';
import { FakeLink } from './testing/fake-link.ts';
import { FakeClock } from './testing/fake-clock.ts';
import type { HostSnapshot } from './host.ts';
import { parseSynthHostConfig } from './host-config.ts';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';

function fakePorts(failAttach = false) {
  const links = new Map<string, FakeLink>();
  const attached: string[][] = [];
  const ports: FleetPorts = {
    open(port) {
      const l = new FakeLink(port);
      links.set(port, l);
      return l;
    },
    attach(names) {
      attached.push(names);
      return failAttach ? Promise.reject(new Error("attaching ports to cloudbr0 failed: 'link set dev vnet7 up': Cannot find device")) : Promise.resolve();
    },
  };
  return { links, attached, ports };
}

const vm = (n: number, extra: object = {}) => ({
  name: `vm${n}`,
  mac: `02:00:00:00:00:${n.toString(16).padStart(2, '0')}`,
  port: `vnet${n}`,
  iaids: [1],
  dhcp: false,
  ...extra,
});

describe('synthetic host control commands', () => {
  it('adds a batch in one attach, reports state per instance and for one, removes with the TAP closed', async () => {
    const { links, attached, ports } = fakePorts();
    const fleet = new Fleet({ dad: 'full', ports, clock: new FakeClock() });
    const added = await handleSynthCommand({ command: 'add', arguments: { instances: [vm(1), vm(2)] } }, fleet);
    expect(added).to.deep.equal({ result: 0, arguments: { added: ['vm1', 'vm2'] } });
    expect(attached).to.deep.equal([['vnet1', 'vnet2']]);
    expect(links.get('vnet1')!.sent).to.have.length(2); // its MLD report and link-local DAD probe: started
    const all = await handleSynthCommand({ command: 'state' }, fleet);
    expect((all.arguments!.instances as HostSnapshot[]).map((s) => [s.name, s.port, s.linkLocal.address])).to.deep.equal([
      ['vm1', 'vnet1', 'fe80::ff:fe00:1'],
      ['vm2', 'vnet2', 'fe80::ff:fe00:2'],
    ]);
    const one = await handleSynthCommand({ command: 'state', arguments: { name: 'vm2' } }, fleet);
    expect((one.arguments!.instances as HostSnapshot[]).map((s) => s.name)).to.deep.equal(['vm2']);
    // Those of the names it serves (a poller's pending list; one gone meanwhile is just absent).
    const some = await handleSynthCommand({ command: 'state', arguments: { names: ['vm2', 'gone'] } }, fleet);
    expect((some.arguments!.instances as HostSnapshot[]).map((s) => s.name)).to.deep.equal(['vm2']);
    expect(await handleSynthCommand({ command: 'state', arguments: { names: 'vm2' } }, fleet)).to.deep.equal({
      result: 1,
      text: 'arguments.names must be a list of instance names',
    });
    expect(await handleSynthCommand({ command: 'remove', arguments: { name: 'vm1' } }, fleet)).to.deep.equal({ result: 0, arguments: { removed: 'vm1' } });
    expect(links.get('vnet1')!.closed).to.equal(true);
    expect(links.get('vnet1')!.sent).to.have.length(2); // nothing sent on the way out
    expect((await handleSynthCommand({ command: 'counters' }, fleet)).arguments).to.deep.include({ instances: 1 });
  });

  it('send writes raw frames from the port as given and counts them', async () => {
    const { links, ports } = fakePorts();
    const fleet = new Fleet({ dad: 'full', ports, clock: new FakeClock() });
    await fleet.add([vm(3)]);
    links.get('vnet3')!.sent.splice(0);
    const forged = 'ffffffffffff' + '0200000000aa' + '86dd' + '00'.repeat(40);
    expect(await handleSynthCommand({ command: 'send', arguments: { name: 'vm3', frames: [forged, forged] } }, fleet)).to.deep.equal({
      result: 0,
      arguments: { written: 2 },
    });
    expect(links.get('vnet3')!.sent.map((b) => b.toString('hex'))).to.deep.equal([forged, forged]);
    expect((await handleSynthCommand({ command: 'send', arguments: { name: 'vm3', frames: ['abc'] } }, fleet)).result).to.equal(1);
    // A port with no room takes nothing: written counts only what it took.
    links.get('vnet3')!.send = () => false;
    expect(await handleSynthCommand({ command: 'send', arguments: { name: 'vm3', frames: [forged] } }, fleet)).to.deep.equal({
      result: 0,
      arguments: { written: 0 },
    });
  });

  it('answers bad input in one line naming the field, unknown instances with 3, unknown commands with 2', async () => {
    const { links, ports } = fakePorts();
    const fleet = new Fleet({ dad: 'full', ports, clock: new FakeClock() });
    await fleet.add([vm(1)]);
    const badMac = await handleSynthCommand({ command: 'add', arguments: { instance: vm(2, { mac: '01:00:5e:00:00:01' }) } }, fleet);
    expect(badMac.result).to.equal(1);
    expect(badMac.text).to.match(/^instance vm2\.mac: 01:00:5e:00:00:01 is a multicast MAC/);
    const dupPort = await handleSynthCommand({ command: 'add', arguments: { instance: vm(2, { port: 'vnet1' }) } }, fleet);
    expect(dupPort.text).to.equal("instance vm2.port: 'vnet1' is already used by another instance");
    const badIaid = await handleSynthCommand({ command: 'add', arguments: { instance: vm(2, { iaids: [1, 1] }) } }, fleet);
    expect(badIaid.text).to.equal('instance vm2.iaids: must not repeat an IAID');
    expect(links.has('vnet2')).to.equal(false); // nothing opened for rejected input
    expect(await handleSynthCommand({ command: 'renew', arguments: { name: 'vm9' } }, fleet)).to.deep.equal({
      result: 3,
      text: "no instance 'vm9' on this host",
    });
    expect((await handleSynthCommand({ command: 'release', arguments: {} }, fleet)).text).to.equal('release needs arguments.name (an instance name)');
    expect((await handleSynthCommand({ command: 'frobnicate' }, fleet)).result).to.equal(2);
  });

  it('a batch whose attach fails closes every port it opened and serves none of it', async () => {
    const { links, ports } = fakePorts(true);
    const fleet = new Fleet({ dad: 'full', ports, clock: new FakeClock() });
    const answer = await handleSynthCommand({ command: 'add', arguments: { instances: [vm(6), vm(7)] } }, fleet);
    expect(answer.result).to.equal(1);
    expect(answer.text).to.match(/Cannot find device/);
    expect([...links.values()].map((l) => l.closed)).to.deep.equal([true, true]);
    expect(fleet.size).to.equal(0);
  });

  describe('config', () => {
    const good = { hypervisor: 'hv1', bridge: 'cloudbr0', controlSocket: '/tmp/x.sock', dad: 'optimistic', instances: [vm(1), vm(2)] };
    const cases: Array<[string, object, string]> = [
      ['dad', { ...good, dad: 'sometimes' }, "cfg: dad: must be 'optimistic' or 'full'"],
      ['bridge', { ...good, bridge: 'a b' }, 'cfg: bridge: must be an interface name'],
      ['instances', { ...good, instances: {} }, 'cfg: instances: must be a list'],
      [
        'port',
        { ...good, instances: [vm(1, { port: 'vnet-with-a-long-name' })] },
        'cfg: instances[0] vm1.port: must be an interface name of 1-15 letters, digits, _ . -',
      ],
      ['duid', { ...good, instances: [vm(1, { duid: 'xyz' })] }, 'cfg: instances[0] vm1.duid: must be hex of 3 to 130 bytes'],
      [
        'duplicate mac',
        { ...good, instances: [vm(1), vm(2, { mac: vm(1).mac })] },
        "cfg: instance vm2.mac: '02:00:00:00:00:01' is already used by another instance",
      ],
      ['dhcp', { ...good, instances: [vm(1, { dhcp: 'yes' })] }, 'cfg: instances[0] vm1.dhcp: must be true or false'],
      ['firstSolicitDelayMs', { ...good, firstSolicitDelayMs: -1 }, 'cfg: firstSolicitDelayMs: must be an integer in 0..60000 (ms)'],
      ['mldVersion', { ...good, mldVersion: 3 }, 'cfg: mldVersion: must be 1 or 2'],
    ];
    for (const [what, cfg, message] of cases) {
      it(`rejects a bad ${what} in one line naming the field`, () => {
        expect(() => parseSynthHostConfig(JSON.stringify(cfg), 'cfg')).to.throw(message);
      });
    }

    it('accepts a good one, MACs canonical', () => {
      const cfg = parseSynthHostConfig(JSON.stringify({ ...good, instances: [vm(1, { mac: '02-00-00-00-00-AB', duid: '00030001AABBCCDDEEFF' })] }), 'cfg');
      expect(cfg.instances[0]).to.deep.include({ mac: '02:00:00:00:00:ab', duid: '00030001aabbccddeeff' });
    });

    it('the daemon exits non-zero with one line on a bad config, before opening anything', () => {
      const dir = mkdtempSync(`${tmpdir()}/synth-`);
      writeFileSync(`${dir}/bad.json`, JSON.stringify({ ...good, dad: 'never' }));
      const main = fileURLToPath(new URL('./host-main.ts', import.meta.url));
      const r = spawnSync(process.execPath, ['--import', 'tsx', main, '--config', `${dir}/bad.json`], { encoding: 'utf8' });
      expect(r.status).to.equal(2);
      expect(r.stderr).to.equal(`synth-host: ${dir}/bad.json: dad: must be 'optimistic' or 'full'\n`);
    });
  });
});
