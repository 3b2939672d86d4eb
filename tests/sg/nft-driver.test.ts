/**
 * The reference driver: its rendering (pure), and on a real pod's hypervisor — applied, read back
 * with `nft -j`, one instance changed or removed without touching another's objects, and the
 * external-driver contract (a command receiving the verb and the JSON in the hypervisor namespace).
 */
import { expect } from 'chai';
import { mkdtempSync, readFileSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadPodFile, DEFAULT_POD_FILE } from '../../harness/pod/pod-file.ts';
import { up } from '../../netns/realize.ts';
import { teardownRun } from '../../netns/teardown.ts';
import { uniqueRunName } from '../../harness/pod/names.ts';
import { run } from '../../harness/os/exec.ts';
import type { Plan } from '../../harness/pod/plan.ts';
import { parseRule, type SgInstance } from '../../harness/sg/model.ts';
import { egressRules, ingressRules, NftDriver, renderInstance, renderRemoval, TABLE } from '../../harness/sg/nft-driver.ts';
import { driverRequest, hypervisorRef } from '../../harness/sg/driver.ts';
import { ExternalDriver } from '../../harness/sg/external-driver.ts';
import { podInstanceModels } from '../../harness/sg/pod-groups.ts';
import { sourceSetsAdmitting } from '../../harness/sg/nft-inspect.ts';
import { Prefix } from '../../harness/addr/prefix.ts';

const sample: SgInstance = {
  name: 'vm1',
  hypervisor: 'hv1',
  vif: 'vnet0',
  mac: '06:7a:88:00:00:8b',
  slaac: '2001:db8:100:0:47a:88ff:fe00:8b',
  linkLocal: 'fe80::47a:88ff:fe00:8b',
  prefixes: ['2001:db8:200::/60', '2001:db8:200:10::/60'],
  group: 'web',
  rules: ['I:tcp;22;22;::/0', 'I:tcp;80;80;10.0.0.0/8', 'E:udp;53;53;2001:db8::/32'].map(parseRule),
};

describe('nft reference driver: rendering', () => {
  it("renders one instance's set, chains and port map elements, and nothing else", () => {
    const text = renderInstance(sample);
    expect(text).to.include('add set bridge v6pod src-vm1 { type ifname . ipv6_addr; flags interval; }');
    expect(text).to.include(
      'add element bridge v6pod src-vm1 { "vnet0" . 2001:db8:100:0:47a:88ff:fe00:8b/128, "vnet0" . fe80::47a:88ff:fe00:8b/128, "vnet0" . 2001:db8:200::/60, "vnet0" . 2001:db8:200:10::/60 }',
    );
    expect(text).to.include('add element bridge v6pod from-port { "vnet0" : jump out-vm1 }');
    expect(text).to.include('add element bridge v6pod to-port { "vnet0" : jump in-vm1 }');
    for (const line of text.split('\n')) expect(line, line).to.match(/(vm1|"vnet0")/);
  });

  it('egress: the anti-spoofing and RFC 4890 rules come before the user rules, default drop when egress rules exist', () => {
    const comments = egressRules(sample).map(([, , c]) => c);
    expect(comments.slice(0, 2)).to.deep.equal(['mac-spoof', 'not-ipv6']);
    expect(comments.indexOf('source-spoof')).to.be.below(comments.indexOf('router-advertisement'));
    expect(comments.slice(-2)).to.deep.equal(['egress-rule-1', 'egress-default']);
    expect(egressRules(sample).at(-1)![1]).to.equal('drop');
    expect(egressRules({ ...sample, rules: [] }).at(-1)![1]).to.equal('accept');
    // NA targets compared as raw 128-bit words (nft has no named field for them).
    expect(egressRules(sample).find(([, , c]) => c === 'na-target')![0]).to.include('0x20010db801000000047a88fffe00008b');
  });

  it('ingress: ICMPv6, DHCPv6 replies and established first; IPv6 CIDRs of user rules only', () => {
    const rules = ingressRules(sample);
    expect(rules.map(([, , c]) => c)).to.deep.equal(['not-ipv6', 'icmpv6', 'dhcpv6-reply', 'established', 'ingress-rule-1', 'ingress-default']);
    expect(rules[4]![0]).to.equal('ip6 saddr { ::/0 } tcp dport 22');
  });

  it('removal first re-adds what may be missing, so it is valid whatever a crash left', () => {
    const lines = renderRemoval(sample).split('\n');
    expect(lines.findIndex((l) => l.startsWith('delete element'))).to.be.above(lines.findIndex((l) => l.startsWith('add element')));
    expect(lines.at(-1)).to.equal('delete set bridge v6pod src-vm1');
  });
});

interface NftObject {
  chain?: { name: string };
  set?: { name: string; elem?: unknown[] };
  map?: { name: string; elem?: Array<[string, { jump: { target: string } }]> };
  rule?: { chain: string; comment?: string };
}

async function listTable(ns: string): Promise<NftObject[]> {
  const { stdout } = await run(['nft', '-j', 'list', 'table', 'bridge', TABLE], { ns });
  return (JSON.parse(stdout) as { nftables: NftObject[] }).nftables;
}

describe('nft reference driver on a real pod', function () {
  this.timeout(120_000);
  const runName = uniqueRunName('sg');
  let plan: Plan;
  let models: SgInstance[];
  const driver = new NftDriver();

  before(async () => {
    ({ plan } = await up(loadPodFile(DEFAULT_POD_FILE), runName, { podFile: DEFAULT_POD_FILE, owner: process.pid }));
    models = await podInstanceModels(plan);
  });
  after(() => teardownRun(runName));

  it('applies every instance of a hypervisor and reads them back with nft -j: chains, sets, the port maps', async () => {
    const hv = hypervisorRef(plan, 'hv1');
    const mine = models.filter((m) => m.hypervisor === 'hv1');
    for (const m of mine) await driver.add(hv, m);
    const objects = await listTable(hv.ns);
    const chains = objects.flatMap((o) => (o.chain ? [o.chain.name] : []));
    for (const m of mine) expect(chains).to.include.members([`out-${m.name}`, `in-${m.name}`]);
    const fromPort = objects.find((o) => o.map?.name === 'from-port')!.map!.elem!;
    expect(Object.fromEntries(fromPort.map(([port, v]) => [port, v.jump.target]))).to.deep.equal(Object.fromEntries(mine.map((m) => [m.vif, `out-${m.name}`])));
    const vm2 = objects.find((o) => o.rule?.chain === 'in-vm2' && o.rule.comment === 'ingress-rule-2');
    expect(vm2, "vm2's second web rule (tcp 80)").to.not.equal(undefined);
    const { stdout } = await run(['nft', '-j', 'list', 'table', 'inet', TABLE], { ns: hv.ns });
    expect(stdout).to.include('"ct"');
  });

  it("changes one instance's prefixes without touching another's objects, and removes it cleanly (twice)", async () => {
    const hv = hypervisorRef(plan, 'hv1');
    const [vm1, vm2] = [models.find((m) => m.name === 'vm1')!, models.find((m) => m.name === 'vm2')!];
    // vm2's own objects (its set, chains and rules, with their handles and counters), and its port map entries.
    // vm2's objects as written (its live traffic moves its counters meanwhile: those are left out).
    const vm2Objects = (objects: NftObject[]) =>
      JSON.stringify(objects.filter((o) => !o.map && JSON.stringify(o).includes('vm2'))).replace(/"counter":\{"packets":\d+,"bytes":\d+\}/g, '"counter":{}');
    const portEntries = (objects: NftObject[]) => objects.flatMap((o) => o.map?.elem?.filter(([port]) => port === vm2.vif) ?? []);
    const initially = await listTable(hv.ns);
    await driver.update(hv, { ...vm1, prefixes: ['2001:db8:2ff::/60'] });
    const set = (await listTable(hv.ns)).find((o) => o.set?.name === 'src-vm1')!.set!;
    expect(JSON.stringify(set.elem)).to.include('2001:db8:2ff::').and.not.include(vm1.prefixes[0]!.split('/')[0]);
    // Read back as the scenarios do: the new prefix admitted (for vm1 only), the old one no longer.
    expect(await sourceSetsAdmitting(hv.ns, '2001:db8:2ff::1')).to.deep.equal(['vm1']);
    expect(await sourceSetsAdmitting(hv.ns, vm1.slaac)).to.deep.equal(['vm1']);
    expect(await sourceSetsAdmitting(hv.ns, Prefix.parse(vm1.prefixes[0]!).address(1n))).to.deep.equal([]);
    await driver.remove(hv, vm1);
    await driver.remove(hv, vm1);
    const after = await listTable(hv.ns);
    expect(after.some((o) => JSON.stringify(o).includes('vm1'))).to.equal(false);
    expect(vm2Objects(after)).to.equal(vm2Objects(initially));
    expect(portEntries(after)).to.deep.equal(portEntries(initially)).and.have.length(2);
    await driver.add(hv, vm1);
    await driver.remove(hv, vm2);
    await driver.add(hv, vm2);
  });

  it('an external driver gets the verb as its argument and the instance as JSON on stdin, in the hypervisor namespace', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'v6pod-sg-'));
    const script = join(dir, 'driver.sh');
    writeFileSync(script, `#!/bin/sh\n{ echo "$1 $(ip -o link show cloudbr0 | cut -d' ' -f2)"; cat; } >> ${dir}/calls\n`);
    chmodSync(script, 0o755);
    const external = new ExternalDriver(script);
    const hv = hypervisorRef(plan, 'hv2');
    const vm3 = models.find((m) => m.name === 'vm3')!;
    await external.add(hv, vm3);
    await external.remove(hv, vm3);
    const lines = readFileSync(join(dir, 'calls'), 'utf8').trim().split('\n');
    expect(lines[0]).to.equal('add cloudbr0:');
    expect(JSON.parse(lines[1]!)).to.deep.equal(driverRequest('add', hv, vm3));
    expect(JSON.parse(lines[1]!).instance.prefixes).to.have.length(2);
    expect(lines[2]).to.equal('remove cloudbr0:');

    writeFileSync(script, '#!/bin/sh\necho "cannot program $1" >&2\nexit 3\n');
    let error = '';
    await external.update(hv, vm3).catch((e: Error) => (error = e.message));
    expect(error).to.equal(`security-group driver '${script} update' for vm3 on hv2 failed (exit 3): cannot program update`);
  });
});
