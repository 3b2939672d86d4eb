/**
 * Bad pod files and CLI arguments, every verb. Each case gives the EXACT one line v6pod
 * must print on stderr, exit 2, and leaves no state: no namespace, no run directory, nothing in
 * the working directory, the fake run untouched.
 *
 * The CLI runs with a private run root (V6POD_RUN_ROOT), so messages that list runs are the same
 * on every host, and one fake run in it ("fake": the default pod recorded as ready, no kernel
 * objects) gives the verbs that need a run something to refuse. NEVER add `down --all` here: with
 * a private run root every v6pod namespace on the host looks orphaned to it.
 *
 * Cases marked `proposed` print something poor today (a stack trace, exit 1, or nothing at all);
 * their expected line is the one proposed, so they fail until v6pod is fixed.
 */
import { expect } from 'chai';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadPodFile } from '../../harness/pod/pod-file.ts';
import { assignPorts } from '../../harness/pod/plan.ts';
import { podHash } from '../../netns/realize.ts';
import type { RunState } from '../../netns/run-state.ts';
import { v6podNamespaces } from '../../netns/teardown.ts';
import { v6pod } from './testing.ts';
import { DEFAULT_POD_FILE } from '../../harness/pod/pod-file.ts';

const INVALID = fileURLToPath(new URL('../../fixtures/pods/invalid/', import.meta.url));
const RUN_NAME_RULE = "must be 1-31 characters of a-z, 0-9 and '-', not starting with '-'";
const NODES = 'core, r1, r2, kea, tor, hv1, hv2, vm1, vm2, vm3, vm4';

interface Case {
  args: string[];
  /** The one line on stderr. */
  line: string;
  /** Set when today's output is poor: what it prints now, in short (the case fails until fixed). */
  proposed?: string;
}

/** The scratch directory D: fixtures of bad input, and the CLI's working directory. */
function scratch(): { dir: string; cwd: string; root: string } {
  const dir = mkdtempSync(join(tmpdir(), 'v6bad-'));
  const cwd = join(dir, 'cwd');
  const root = join(dir, 'run');
  mkdirSync(cwd);
  writeFileSync(join(dir, 'empty.yaml'), '');
  writeFileSync(join(dir, 'empty.pcap'), '');
  writeFileSync(join(dir, 'text.pcap'), 'hello, this is not a capture file\n');
  // A classic pcap header (little-endian, v2.4) with link type 101 (raw IP), no records.
  const header = Buffer.alloc(24);
  header.writeUInt32LE(0xa1b2c3d4, 0);
  header.writeUInt16LE(2, 4);
  header.writeUInt16LE(4, 6);
  header.writeUInt32LE(65535, 16);
  header.writeUInt32LE(101, 20);
  writeFileSync(join(dir, 'raw.pcap'), header);
  writeFileSync(join(dir, 'file.txt'), 'a file, not a directory\n');
  mkdirSync(join(dir, 'other'));
  writeFileSync(join(dir, 'other', 'result.json'), '{"tool":"junit"}\n');
  mkdirSync(join(dir, 'partial'));
  writeFileSync(join(dir, 'partial', 'result.json'), '{"tool":"v6pod","schema":1}\n');
  mkdirSync(join(dir, 'shard'));
  const result = {
    tool: 'v6pod',
    schema: 1,
    run: 'x',
    podFile: DEFAULT_POD_FILE,
    startedAt: '2025-01-01T00:00:00.000Z',
    figures: { wallSeconds: 1, upSeconds: 1, scenariosSeconds: 0, downSeconds: 0 },
    totals: { passed: 1, failed: 0, skipped: 0 },
    scenarios: [{ id: 'SLAAC-001', title: 't', reference: 'r', proves: 'p', area: 'SLAAC', verdict: 'pass', durationMs: 1, pcaps: [] }],
  };
  writeFileSync(join(dir, 'shard', 'result.json'), JSON.stringify(result));
  // The fake run: the default pod recorded as ready, with no kernel object at all.
  const pod = loadPodFile(DEFAULT_POD_FILE);
  const state: RunState = {
    run: 'fake',
    podFile: DEFAULT_POD_FILE,
    podHash: podHash(pod),
    owner: null,
    phase: 'ready',
    createdAt: new Date(0).toISOString(),
    namespaces: [],
    daemons: [],
    pod,
    ports: assignPorts(pod),
    pending: {},
  };
  mkdirSync(join(root, 'fake'), { recursive: true });
  writeFileSync(join(root, 'fake', 'state.json'), `${JSON.stringify(state, null, 2)}\n`);
  return { dir, cwd, root };
}

function cases(D: string): Array<[string, Case]> {
  const inv = (f: string) => join(INVALID, f);
  const P = DEFAULT_POD_FILE;
  const c = (verb: string, args: string[], line: string, proposed?: string): [string, Case] => [verb, { args, line, ...(proposed ? { proposed } : {}) }];
  return [
    // validate: the pod file's own lines carry file:line and no "v6pod:" (like a compiler's).
    c('validate', ['validate'], "error: missing required argument 'file'"),
    c('validate', ['validate', 'a.yaml', 'b.yaml'], "error: too many arguments for 'validate'. Expected 1 argument but got 2."),
    c('validate', ['validate', `${D}/missing.yaml`], `${D}/missing.yaml: cannot read: no such file or directory`),
    c('validate', ['validate', D], `${D}: cannot read: is a directory`),
    c('validate', ['validate', `${D}/empty.yaml`], `${D}/empty.yaml:1: (top level) must be a mapping`),
    c('validate', ['validate', inv('l2-not-64.yaml')], `${inv('l2-not-64.yaml')}:4: pod.l2Prefix 2001:db8::/56 must be exactly a /64 (SLAAC needs it)`),
    c('validate', ['validate', inv('missing-pool.yaml')], `${inv('missing-pool.yaml')}:2: pod.pdPool is required`),
    c(
      'validate',
      ['validate', inv('relay-external.yaml')],
      `${inv('relay-external.yaml')}:7: relay 'external' needs relayCommand, the command run on each router (docs/relays.md)`,
    ),
    c('validate', ['validate', inv('mac-sources.yaml')], `${inv('mac-sources.yaml')}:6: kea.macSources[2] 'remote-id' is listed twice`),
    c('validate', ['validate', inv('mld-snooping.yaml')], `${inv('mld-snooping.yaml')}:5: pod.mldSnooping must be true or false`),
    c(
      'validate',
      ['validate', inv('multicast-mac.yaml')],
      `${inv('multicast-mac.yaml')}:9: hypervisors[0].instances[0].mac 33:33:00:00:00:01 is a multicast MAC (I/G bit set); an interface needs a unicast MAC`,
    ),
    c(
      'validate',
      ['validate', inv('unknown-key.yaml')],
      `${inv('unknown-key.yaml')}:5: pod.prefixLength is not a known key (known: l2Prefix, pdPool, delegatedLength, prefixesPerInstance, dad, mldSnooping)`,
    ),
    c(
      'validate',
      ['validate', inv('pool-overlaps-l2.yaml')],
      `${inv('pool-overlaps-l2.yaml')}:5: pod.pdPool 2001:db8:100::/40 overlaps pod.l2Prefix 2001:db8:100::/64 (the pod /64 must not be in the delegation pool)`,
    ),
    c(
      'validate',
      ['validate', inv('name-too-long.yaml')],
      `${inv('name-too-long.yaml')}:6: hypervisors[0].name 'hypervisor1' is 11 characters; at most 8 fit (kernel interface names hold 15: 4 run prefix + 8 name + 3 suffix)`,
    ),
    c(
      'validate',
      ['validate', inv('duplicate-names.yaml')],
      `${inv('duplicate-names.yaml')}:11: hypervisors[1].instances[0].name 'vm1' is already the name of hypervisors[0].instances[0] (node names share one namespace)`,
    ),
    c(
      'validate',
      ['validate', inv('duplicate-macs.yaml')],
      `${inv('duplicate-macs.yaml')}:12: hypervisors[0].instances[0].mac 00:0c:db:f9:cf:00 is already used by routers[0].mac`,
    ),
    c(
      'validate',
      ['validate', inv('host-bits.yaml')],
      `${inv('host-bits.yaml')}:3: pod.l2Prefix 2001:db8:100::1/64 has host bits set (the network is 2001:db8:100::/64)`,
    ),
    c(
      'validate',
      ['validate', inv('delegated-length.yaml')],
      `${inv('delegated-length.yaml')}:5: pod.delegatedLength 40 must be longer than pod.pdPool's /40 and at most 64`,
    ),
    c(
      'validate',
      ['validate', inv('pool-too-small.yaml')],
      `${inv('pool-too-small.yaml')}:4: pod.pdPool 2001:db8:200::/62 holds 4 /64s; the 3 instances need 5`,
    ),
    // up
    c('up', ['up', `${D}/missing.yaml`], `v6pod: ${D}/missing.yaml: cannot read: no such file or directory`),
    c(
      'up',
      ['up', inv('host-bits.yaml'), '--run', 'bad-input'],
      `v6pod: ${inv('host-bits.yaml')}:3: pod.l2Prefix 2001:db8:100::1/64 has host bits set (the network is 2001:db8:100::/64)`,
    ),
    c('up', ['up', P, '--run', 'BAD'], `v6pod: run name 'BAD' ${RUN_NAME_RULE}`),
    c('up', ['up', P, '--run', 'a'.repeat(32)], `v6pod: run name '${'a'.repeat(32)}' ${RUN_NAME_RULE}`),
    c('up', ['up', P, '--bogus'], "error: unknown option '--bogus'"),
    c('up', ['up', '--dry-run', inv('l2-not-64.yaml')], `v6pod: ${inv('l2-not-64.yaml')}:4: pod.l2Prefix 2001:db8::/56 must be exactly a /64 (SLAAC needs it)`),
    c('up', ['up', P, 'extra.yaml'], "error: too many arguments for 'up'. Expected 1 argument but got 2."),
    // down
    c('down', ['down', 'nosuch'], "v6pod: no run 'nosuch' (runs: fake)"),
    c('down', ['down', 'BAD_NAME'], `v6pod: run name 'BAD_NAME' ${RUN_NAME_RULE}`),
    c('down', ['down', 'fake', 'other'], "error: too many arguments for 'down'. Expected 1 argument but got 2."),
    // status
    c('status', ['status', '--run', 'nosuch'], "v6pod: no run 'nosuch' (runs: fake)"),
    c('status', ['status', '--run', '-x'], `v6pod: run name '-x' ${RUN_NAME_RULE}`),
    c('status', ['status', '--json', '--bogus'], "error: unknown option '--bogus'"),
    // exec
    c('exec', ['exec', '--run', 'fake'], "error: missing required argument 'node'"),
    c('exec', ['exec', '--run', 'fake', 'nosuch', '--', 'true'], `v6pod: no node 'nosuch' in run 'fake' (nodes: ${NODES})`),
    c('exec', ['exec', '--run', 'fake', 'vm1'], "error: missing required argument 'cmd'"),
    c('exec', ['exec', '--run', 'nosuch', 'vm1', '--', 'true'], "v6pod: no run 'nosuch' (runs: fake)"),
    // graph
    c('graph', ['graph', '--format', 'png'], 'v6pod: --format png: expected one of mermaid, dot, svg'),
    c('graph', ['graph', `${D}/missing.yaml`], `v6pod: ${D}/missing.yaml: cannot read: no such file or directory`),
    c('graph', ['graph', '--run', 'nosuch'], "v6pod: no run 'nosuch' (runs: fake)"),
    c('graph', ['graph', P, '--run', 'BAD'], `v6pod: run name 'BAD' ${RUN_NAME_RULE}`),
    c('graph', ['graph', P, '-o', `${D}/no-dir/pod.mmd`], `v6pod: ${D}/no-dir/pod.mmd: cannot write: no such file or directory`),
    // capture
    c('capture', ['capture', '--run', 'fake', 'vm1', 'eth0', '-c', '0'], 'v6pod: -c 0: expected a positive count'),
    c('capture', ['capture', '--run', 'fake', 'nosuch', 'eth0'], `v6pod: no node 'nosuch' in run 'fake' (nodes: ${NODES})`),
    c('capture', ['capture', '--run', 'nosuch', 'vm1', 'eth0'], "v6pod: no run 'nosuch' (runs: fake)"),
    c('capture', ['capture', '--run', 'fake', 'vm1'], "error: missing required argument 'iface'"),
    // decode
    c('decode', ['decode'], "error: missing required argument 'file'"),
    c('decode', ['decode', `${D}/missing.pcap`], `v6pod: ${D}/missing.pcap: cannot read: no such file or directory`),
    c('decode', ['decode', `${D}/empty.pcap`], `v6pod: ${D}/empty.pcap: not a pcap file (0 bytes, header needs 24)`),
    c('decode', ['decode', `${D}/text.pcap`], `v6pod: ${D}/text.pcap: not a pcap file (magic 0x68656c6c)`),
    c('decode', ['decode', `${D}/raw.pcap`], `v6pod: ${D}/raw.pcap: link type 101 is not Ethernet (1)`),
    c('decode', ['decode', D], `v6pod: ${D}: cannot read: is a directory`),
    // vm deploy / destroy / show (the checks before anything is touched)
    c('vm deploy', ['vm', 'deploy', 'vm9', '--run', 'nosuch'], "v6pod: no run 'nosuch' (runs: fake)"),
    c('vm deploy', ['vm', 'deploy', 'vm9', '--run', 'fake', '--prefixes', 'abc'], "v6pod: --prefixes 'abc' must be a whole number"),
    c('vm deploy', ['vm', 'deploy', 'Bad_Name', '--run', 'fake'], "v6pod: instance name 'Bad_Name' must be 1-8 characters of a-z, 0-9 and '-'"),
    c('vm deploy', ['vm', 'deploy', 'vm1', '--run', 'fake'], "v6pod: name 'vm1' is taken in run fake"),
    c('vm deploy', ['vm', 'deploy', 'vm9', '--run', 'fake', '--hv', 'hv9'], "v6pod: unknown hypervisor 'hv9' (hypervisors: hv1, hv2)"),
    c(
      'vm deploy',
      ['vm', 'deploy', 'vm9', '--run', 'fake', '--mac', '01:00:5e:00:00:01'],
      'v6pod: --mac 01:00:5e:00:00:01: 01:00:5e:00:00:01 is a multicast MAC (I/G bit set); an interface needs a unicast MAC',
    ),
    c('vm deploy', ['vm', 'deploy', 'vm9', '--run', 'fake', '--mac', '06:7a:88:00:00:8b'], 'v6pod: MAC 06:7a:88:00:00:8b belongs to instance vm1 already'),
    c('vm deploy', ['vm', 'deploy', 'vm9', '--run', 'fake', '--sg', 'nosuch'], "v6pod: unknown security group 'nosuch' (groups: default, web)"),
    c(
      'vm deploy',
      ['vm', 'deploy', 'vm9', '--run', 'fake', '--client', 'udhcpc'],
      "v6pod: --client 'udhcpc' must be dhcp6c, dhcpcd, dhclient, networkd, dibbler, none for a namespace instance",
    ),
    c(
      'vm deploy',
      ['vm', 'deploy', 'vm9', '--run', 'fake', '--kind', 'synthetic', '--client', 'dhcpcd'],
      "v6pod: --client 'dhcpcd' must be synthetic, none for a synthetic instance",
    ),
    c('vm deploy', ['vm', 'deploy', 'vm9', '--run', 'fake', '--addressing', 'random'], "v6pod: --addressing 'random' must be eui64, stable-privacy, temporary"),
    c(
      'vm deploy',
      ['vm', 'deploy', 'vm9', '--run', 'fake', '--kind', 'synthetic', '--addressing', 'temporary'],
      "v6pod: --addressing 'temporary' needs a namespace instance (the emulated stack forms EUI-64 addresses only)",
    ),
    c('vm destroy', ['vm', 'destroy', 'vm9', '--run', 'fake'], "v6pod: no instance 'vm9' in run fake"),
    c('vm destroy', ['vm', 'destroy'], "error: missing required argument 'name'"),
    c('vm show', ['vm', 'show', 'vm9', '--run', 'fake'], "v6pod: no instance 'vm9' in run fake"),
    c('vm show', ['vm', 'show', 'vm1', '--run', 'BAD'], `v6pod: run name 'BAD' ${RUN_NAME_RULE}`),
    c('vm', ['vm', 'bogus'], "error: unknown command 'bogus'"),
    // test (refused before any pod is built)
    c('test', ['test', '--profile', 'slow'], "v6pod: --profile 'slow' must be quick, full, scale or guests"),
    c('test', ['test', '--shard', '3/2'], "v6pod: --shard '3/2' must be I/N with 1 ≤ I ≤ N"),
    c('test', ['test', '--shard', 'x'], "v6pod: --shard 'x' must be I/N with 1 ≤ I ≤ N"),
    c('test', ['test', '--pod', `${D}/missing.yaml`], `v6pod: ${D}/missing.yaml: cannot read: no such file or directory`),
    c('test', ['test', '--pod', P, '--artifacts', `${D}/file.txt/art`], `v6pod: --artifacts ${D}/file.txt/art: cannot create: not a directory`),
    c('test', ['test', '--relay', 'dnsmasq'], "v6pod: --relay 'dnsmasq' must be one of v6pod, isc-dhcrelay, external"),
    c('test', ['test', '--relay', 'external'], 'v6pod: --relay external needs --relay-command CMD, the command run on each router (docs/relays.md)'),
    c(
      'test',
      ['test', '--mac-sources', 'remote-id,eui64'],
      "v6pod: --mac-sources 'eui64' must be one of remote-id, client-link-addr-option, ipv6-link-local, duid",
    ),
    // report merge
    c('report merge', ['report', 'merge'], "error: missing required argument 'dirs'"),
    c('report merge', ['report', 'merge', `${D}/nosuch`], `v6pod: ${D}/nosuch/result.json: no such file (is it a v6pod test artifacts directory?)`),
    c('report merge', ['report', 'merge', `${D}/other`], `v6pod: ${D}/other/result.json: not a v6pod result (schema 1)`),
    c('report merge', ['report', 'merge', `${D}/shard`, `${D}/shard`], 'v6pod: scenario SLAAC-001 appears in more than one result: merge disjoint shards'),
    c('report merge', ['report', 'merge', `${D}/partial`], `v6pod: ${D}/partial/result.json: not a v6pod result (schema 1)`),
    c('report merge', ['report', 'merge', `${D}/shard`, '--out', `${D}/file.txt/merged`], `v6pod: --out ${D}/file.txt/merged: cannot create: not a directory`),
    c('(none)', ['bogus'], "error: unknown command 'bogus'"),
  ];
}

describe('bad pod files and CLI arguments: the exact one-line error, exit 2, no state left', function () {
  this.timeout(60_000);
  const { dir: D, cwd, root } = scratch();
  const env = { ...process.env, V6POD_RUN_ROOT: root };
  const fakeState = readFileSync(join(root, 'fake', 'state.json'), 'utf8');
  const table = cases(D);
  const ours = () => [...v6podNamespaces().keys()].filter((r) => r === 'fake' || r === 'bad-input' || r.startsWith('a'.repeat(8)));

  after(() => rmSync(D, { recursive: true, force: true }));

  it(`has at least 30 cases over every verb`, () => {
    expect(table.length).to.be.at.least(30);
    const verbs = new Set(table.map(([v]) => v.split(' ')[0]));
    for (const v of ['validate', 'up', 'down', 'status', 'exec', 'graph', 'capture', 'decode', 'vm', 'test', 'report']) expect(verbs.has(v), v).to.equal(true);
  });

  for (const [verb, k] of table) {
    it(`${verb}: v6pod ${k.args.join(' ').replaceAll(D, 'D').replaceAll(INVALID, 'invalid/')}${k.proposed ? ` (EXPECTED TO FAIL until fixed; today: ${k.proposed})` : ''}`, async () => {
      const res = await v6pod(k.args, { env, cwd, timeoutMs: 30_000 });
      expect({ stderr: res.stderr, status: res.status }).to.deep.equal({ stderr: `${k.line}\n`, status: 2 });
      expect(res.stdout, 'stdout').to.equal('');
      // No state left: the run root holds the fake run alone, as it was; no namespace of ours; nothing written in the working directory.
      expect(readdirSync(root)).to.deep.equal(['fake']);
      expect(readdirSync(join(root, 'fake'))).to.deep.equal(['state.json']);
      expect(readFileSync(join(root, 'fake', 'state.json'), 'utf8')).to.equal(fakeState);
      expect(ours(), 'namespaces').to.deep.equal([]);
      expect(readdirSync(cwd), 'working directory').to.deep.equal([]);
    });
  }
});
