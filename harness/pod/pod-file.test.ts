import { expect } from 'chai';
import fc from 'fast-check';
import { fileURLToPath } from 'node:url';
import { generateMac, isMulticastMac } from '../addr/mac.ts';
import { loadPodFile, parsePodFile, type AddressMode } from './pod-file.ts';
import { errorsOf } from './testing/errors-of.ts';
import { buildPlan, instanceSysctls, stableSecret } from './plan.ts';

const pods = fileURLToPath(new URL('../../fixtures/pods/', import.meta.url));
const invalid = `${pods}invalid/`;

const HEAD = 'name: bad\npod:\n  l2Prefix: 2001:db8:100::/64\n  pdPool: 2001:db8:200::/40\n';

describe('pod file: fixtures/pods/default.yaml', () => {
  it('loads the seed pod with every default filled in', () => {
    expect(loadPodFile(`${pods}default.yaml`)).to.deep.equal({
      name: 'default',
      pod: { l2Prefix: '2001:db8:100::/64', pdPool: '2001:db8:200::/40', delegatedLength: 60, prefixesPerInstance: 1, dad: 'optimistic', mldSnooping: false },
      routers: [
        { name: 'r1', mac: '00:0c:db:f9:cf:00' },
        { name: 'r2', mac: '00:12:f2:9c:33:00' },
      ],
      core: { name: 'core' },
      kea: { name: 'kea', backend: 'config', dynamicPool: false, renewTimer: 1000, rebindTimer: 2000, macSources: ['remote-id'] },
      tor: { name: 'tor' },
      relay: 'v6pod',
      hypervisors: [
        {
          name: 'hv1',
          instances: [
            {
              name: 'vm1',
              mac: '06:7a:88:00:00:8b',
              prefixes: 1,
              securityGroup: 'default',
              kind: 'namespace',
              dhcp: false,
              client: 'none',
              addressing: 'eui64',
            },
            {
              name: 'vm2',
              mac: generateMac('default/vm2'),
              prefixes: 1,
              securityGroup: 'web',
              kind: 'namespace',
              dhcp: false,
              client: 'none',
              addressing: 'eui64',
            },
          ],
        },
        {
          name: 'hv2',
          instances: [
            {
              name: 'vm3',
              mac: generateMac('default/vm3'),
              prefixes: 2,
              securityGroup: 'default',
              kind: 'namespace',
              dhcp: false,
              client: 'none',
              addressing: 'eui64',
            },
            {
              name: 'vm4',
              mac: generateMac('default/vm4'),
              prefixes: 1,
              securityGroup: 'default',
              kind: 'namespace',
              dhcp: false,
              client: 'none',
              addressing: 'eui64',
            },
          ],
        },
      ],
      securityGroups: { default: { rules: [] }, web: { rules: ['I:tcp;22;22;::/0', 'I:tcp;80;80;::/0'] } },
    });
  });

  it('defaults a minimal file: two routers, core, kea, tor, canonical prefixes, the default group', () => {
    const pod = parsePodFile('name: mini\npod:\n  l2Prefix: 2001:DB8:0100:0::/64\n  pdPool: 2001:db8:0200::/40\nhypervisors:\n  - name: hv1\n', 'mini.yaml');
    expect(pod.pod).to.deep.equal({
      l2Prefix: '2001:db8:100::/64',
      pdPool: '2001:db8:200::/40',
      delegatedLength: 60,
      prefixesPerInstance: 1,
      dad: 'optimistic',
      mldSnooping: false,
    });
    expect(pod.routers).to.deep.equal([
      { name: 'r1', mac: generateMac('mini/r1') },
      { name: 'r2', mac: generateMac('mini/r2') },
    ]);
    expect([pod.core.name, pod.kea.name, pod.tor.name]).to.deep.equal(['core', 'kea', 'tor']);
    expect(pod.hypervisors).to.deep.equal([{ name: 'hv1', instances: [] }]);
    expect(pod.securityGroups).to.deep.equal({ default: { rules: [] } });
  });
});

describe('pod file: synthetic instances and counted entries', () => {
  it('expands a count into named instances with counted-up MACs, synthetic with DHCP from boot', () => {
    const pod = parsePodFile(
      `${HEAD}hypervisors:\n  - name: hv1\n    instances:\n      - name: vm1\n      - name: s\n        kind: synthetic\n        mac: 02:00:00:00:00:fe\n        count: 3\n      - name: q\n        kind: synthetic\n        dhcp: false\n`,
      'pod.yaml',
    );
    expect(pod.hypervisors[0]!.instances).to.deep.equal([
      { name: 'vm1', mac: generateMac('bad/vm1'), prefixes: 1, securityGroup: 'default', kind: 'namespace', dhcp: false, client: 'none', addressing: 'eui64' },
      { name: 's-1', mac: '02:00:00:00:00:fe', prefixes: 1, securityGroup: 'default', kind: 'synthetic', dhcp: true, client: 'synthetic', addressing: 'eui64' },
      { name: 's-2', mac: '02:00:00:00:00:ff', prefixes: 1, securityGroup: 'default', kind: 'synthetic', dhcp: true, client: 'synthetic', addressing: 'eui64' },
      { name: 's-3', mac: '02:00:00:00:01:00', prefixes: 1, securityGroup: 'default', kind: 'synthetic', dhcp: true, client: 'synthetic', addressing: 'eui64' },
      { name: 'q', mac: generateMac('bad/q'), prefixes: 1, securityGroup: 'default', kind: 'synthetic', dhcp: false, client: 'none', addressing: 'eui64' },
    ]);
  });

  it('generates a MAC per counted name when none is declared', () => {
    const pod = parsePodFile(`${HEAD}hypervisors:\n  - name: hv1\n    instances:\n      - name: s\n        count: 2\n`, 'pod.yaml');
    expect(pod.hypervisors[0]!.instances.map((i) => [i.name, i.mac])).to.deep.equal([
      ['s-1', generateMac('bad/s-1')],
      ['s-2', generateMac('bad/s-2')],
    ]);
  });
});

describe('pod file: guest clients and address modes', () => {
  const guests = `${HEAD}hypervisors:\n  - name: hv1\n    instances:\n      - name: a\n        client: dhclient\n      - name: b\n        addressing: stable-privacy\n      - name: c\n        client: dhcpcd\n        addressing: temporary\n      - name: s\n        kind: synthetic\n        client: none\n`;

  it('defaults keep today: no client in a namespace instance, the emulated one in a synthetic one, EUI-64 addressing', () => {
    const pod = parsePodFile(guests, 'pod.yaml');
    expect(pod.hypervisors[0]!.instances.map((i) => [i.name, i.client, i.addressing, i.dhcp])).to.deep.equal([
      ['a', 'dhclient', 'eui64', false],
      ['b', 'none', 'stable-privacy', false],
      ['c', 'dhcpcd', 'temporary', false],
      ['s', 'none', 'eui64', false],
    ]);
  });

  it('maps each address mode to the kernel sysctls of eth0 (the secret before the mode, as the kernel requires)', () => {
    const only = (mode: AddressMode) =>
      instanceSysctls('optimistic', mode, stableSecret('p', 'vm')).filter((s) => /addr_gen_mode|use_tempaddr|stable_secret/.test(s));
    expect(only('eui64')).to.deep.equal(['net/ipv6/conf/eth0/addr_gen_mode=0', 'net/ipv6/conf/eth0/use_tempaddr=0']);
    expect(only('temporary')).to.deep.equal(['net/ipv6/conf/eth0/addr_gen_mode=0', 'net/ipv6/conf/eth0/use_tempaddr=2']);
    expect(only('stable-privacy')).to.deep.equal([
      `net/ipv6/conf/eth0/stable_secret=${stableSecret('p', 'vm')}`,
      'net/ipv6/conf/eth0/addr_gen_mode=2',
      'net/ipv6/conf/eth0/use_tempaddr=0',
    ]);
    expect(stableSecret('p', 'vm')).to.match(/^([0-9a-f]{4}:){7}[0-9a-f]{4}$/);
    expect(stableSecret('p', 'vm')).to.not.equal(stableSecret('p', 'vm2'));
  });

  it('puts the client and addressing in the plan, and the Kea timers in its config', () => {
    const pod = parsePodFile(guests.replace('hypervisors:', 'kea:\n  renewTimer: 3\n  rebindTimer: 5\nhypervisors:'), 'pod.yaml');
    const plan = buildPlan(pod, 'r');
    expect(plan.instances.map((i) => `${i.name} ${i.client} ${i.addressing}`)).to.deep.equal([
      'a dhclient eui64',
      'b none stable-privacy',
      'c dhcpcd temporary',
      's none eui64',
    ]);
    expect(plan.setup[plan.instances[1]!.ns]!.sysctls).to.include('net/ipv6/conf/eth0/addr_gen_mode=2');
    expect([pod.kea.renewTimer, pod.kea.rebindTimer]).to.deep.equal([3, 5]);
  });
});

describe('pod file: every broken rule is one line, <file>:<line>: <path> <rule>', () => {
  const files: [string, string[]][] = [
    ['l2-not-64.yaml', ['4: pod.l2Prefix 2001:db8::/56 must be exactly a /64 (SLAAC needs it)']],
    ['host-bits.yaml', ['3: pod.l2Prefix 2001:db8:100::1/64 has host bits set (the network is 2001:db8:100::/64)']],
    ['pool-overlaps-l2.yaml', ['5: pod.pdPool 2001:db8:100::/40 overlaps pod.l2Prefix 2001:db8:100::/64 (the pod /64 must not be in the delegation pool)']],
    ['delegated-length.yaml', ["5: pod.delegatedLength 40 must be longer than pod.pdPool's /40 and at most 64"]],
    ['pool-too-small.yaml', ['4: pod.pdPool 2001:db8:200::/62 holds 4 /64s; the 3 instances need 5']],
    [
      'duplicate-names.yaml',
      ["11: hypervisors[1].instances[0].name 'vm1' is already the name of hypervisors[0].instances[0] (node names share one namespace)"],
    ],
    ['duplicate-macs.yaml', ['12: hypervisors[0].instances[0].mac 00:0c:db:f9:cf:00 is already used by routers[0].mac']],
    ['multicast-mac.yaml', ['9: hypervisors[0].instances[0].mac 33:33:00:00:00:01 is a multicast MAC (I/G bit set); an interface needs a unicast MAC']],
    [
      'name-too-long.yaml',
      ["6: hypervisors[0].name 'hypervisor1' is 11 characters; at most 8 fit (kernel interface names hold 15: 4 run prefix + 8 name + 3 suffix)"],
    ],
    ['unknown-key.yaml', ['5: pod.prefixLength is not a known key (known: l2Prefix, pdPool, delegatedLength, prefixesPerInstance, dad, mldSnooping)']],
    ['missing-pool.yaml', ['2: pod.pdPool is required']],
    ['mld-snooping.yaml', ['5: pod.mldSnooping must be true or false']],
    [
      'wrong-types.yaml',
      ['5: pod.delegatedLength must be an integer', "6: pod.dad 'fast' must be one of optimistic, full", '8: kea.dynamicPool must be true or false'],
    ],
    ['syntax.yaml', ['4: Map keys must be unique', '8: Flow sequence in block collection must be sufficiently indented and end with a ]']],
    [
      'guest-client.yaml',
      [
        "9: hypervisors[0].instances[0].client 'udhcpc6' must be one of dhcp6c, dhcpcd, dhclient, networkd, dibbler, synthetic, none",
        "11: hypervisors[0].instances[1].client 'synthetic' is the emulated client of synthetic instances only (set kind: synthetic, or name a real client)",
        "14: hypervisors[0].instances[2].client 'dhcpcd' runs in a namespace instance; a synthetic instance runs the emulated client (synthetic) or none",
        "18: hypervisors[0].instances[3].client 'synthetic' contradicts dhcp: false (give one of them)",
      ],
    ],
    [
      'guest-addressing.yaml',
      [
        '7: kea.rebindTimer 5 must be greater than kea.renewTimer 10 (RFC 8415 §21.21: T1 < T2)',
        "12: hypervisors[0].instances[0].addressing 'random' must be one of eui64, stable-privacy, temporary",
        "15: hypervisors[0].instances[1].addressing 'stable-privacy' needs a kernel instance (the emulated stack of a synthetic one forms EUI-64 addresses only)",
      ],
    ],
    [
      'security-groups.yaml',
      [
        "9: hypervisors[0].instances[0].securityGroup 'web' is not declared in securityGroups",
        "13: securityGroups.ssh.rules[0] '10.0.0.0/8' is not an IPv6 prefix (want address/length, e.g. 2001:db8::/64)",
        "14: securityGroups.ssh.rules[1] 'allow ssh from anywhere' must be a rule like I:tcp;22;22;::/0 (direction:protocol;start;end;cidr[,cidr])",
      ],
    ],
  ];
  for (const [file, lines] of files) {
    it(`invalid/${file}`, () => {
      expect(errorsOf(() => loadPodFile(`${invalid}${file}`))).to.deep.equal(lines.map((l) => `${invalid}${file}:${l}`));
    });
  }

  const snippets: [string, string, string[]][] = [
    ['an empty file', '', ['pod.yaml:1: (top level) must be a mapping']],
    [
      'a bad pod name',
      HEAD.replace('name: bad', 'name: Pod_1') + 'hypervisors:\n  - name: hv1\n',
      ["pod.yaml:1: name 'Pod_1' must be lower-case letters, digits and '-' (not leading)"],
    ],
    ['no hypervisors', `${HEAD}hypervisors: []\n`, ['pod.yaml:5: hypervisors must have at least 1 entry']],
    ['two documents', `${HEAD}---\nname: other\n`, ['pod.yaml:5: a pod file holds one YAML document']],
    [
      'an unknown top-level key',
      `${HEAD}hypervisors:\n  - name: hv1\nswitch: tor\n`,
      ['pod.yaml:7: switch is not a known key (known: name, pod, routers, core, kea, tor, hypervisors, securityGroups, relay, relayCommand)'],
    ],
    [
      'an instance named like a service node',
      `${HEAD}hypervisors:\n  - name: hv1\n    instances:\n      - name: kea\n`,
      ["pod.yaml:8: hypervisors[0].instances[0].name 'kea' is already the name of kea (node names share one namespace)"],
    ],
    [
      'a declared MAC equal to a generated one',
      `${HEAD}routers:\n  - name: r1\n    mac: ${generateMac('bad/vm1')}\nhypervisors:\n  - name: hv1\n    instances:\n      - name: vm1\n`,
      [`pod.yaml:11: hypervisors[0].instances[0] generated MAC ${generateMac('bad/vm1')} is already used by routers[0].mac`],
    ],
    [
      'a malformed MAC',
      `${HEAD}hypervisors:\n  - name: hv1\n    instances:\n      - name: vm1\n        mac: 06-7a-88-00-00-8b\n`,
      ["pod.yaml:9: hypervisors[0].instances[0].mac '06-7a-88-00-00-8b' must be a MAC like 06:7a:88:00:00:8b"],
    ],
    [
      'an unknown instance kind',
      `${HEAD}hypervisors:\n  - name: hv1\n    instances:\n      - name: vm1\n        kind: container\n`,
      ["pod.yaml:9: hypervisors[0].instances[0].kind 'container' must be one of namespace, synthetic"],
    ],
    [
      'dhcp on a namespace instance',
      `${HEAD}hypervisors:\n  - name: hv1\n    instances:\n      - name: vm1\n        dhcp: true\n`,
      ['pod.yaml:9: hypervisors[0].instances[0].dhcp applies to synthetic instances only (a namespace instance names its guest client with client)'],
    ],
    [
      'a count of 0',
      `${HEAD}hypervisors:\n  - name: hv1\n    instances:\n      - name: s\n        count: 0\n`,
      ['pod.yaml:9: hypervisors[0].instances[0].count 0 must be at least 1'],
    ],
    [
      'a counted name that collides',
      `${HEAD}hypervisors:\n  - name: hv1\n    instances:\n      - name: s-2\n      - name: s\n        count: 3\n`,
      [
        "pod.yaml:9: hypervisors[0].instances[1].name 's' (from count: s-2) is already the name of hypervisors[0].instances[0] (node names share one namespace)",
      ],
    ],
    [
      'counted MACs that run into a declared one',
      `${HEAD}hypervisors:\n  - name: hv1\n    instances:\n      - name: vm1\n        mac: 02:00:00:00:00:03\n      - name: s\n        mac: 02:00:00:00:00:01\n        count: 4\n`,
      ['pod.yaml:11: hypervisors[0].instances[1].mac 02:00:00:00:00:03 is already used by hypervisors[0].instances[0].mac'],
    ],
    [
      'a counted name too long for the kernel',
      `${HEAD}hypervisors:\n  - name: hv1\n    instances:\n      - name: sixchr\n        count: 10\n`,
      [
        "pod.yaml:8: hypervisors[0].instances[0].name 'sixchr-10' is 9 characters; at most 8 fit (kernel interface names hold 15: 4 run prefix + 8 name + 3 suffix)",
      ],
    ],
    [
      'counted instances that need more prefixes than the pool holds',
      'name: bad\npod:\n  l2Prefix: 2001:db8:100::/64\n  pdPool: 2001:db8:200::/62\n  delegatedLength: 64\nhypervisors:\n  - name: hv1\n    instances:\n      - name: s\n        count: 5\n',
      ['pod.yaml:4: pod.pdPool 2001:db8:200::/62 holds 4 /64s; the 5 instances need 5'],
    ],
  ];
  for (const [what, text, lines] of snippets) {
    it(what, () => {
      expect(errorsOf(() => parsePodFile(text, 'pod.yaml'))).to.deep.equal(lines);
    });
  }

  it('a missing file is one line too', () => {
    expect(errorsOf(() => loadPodFile(`${invalid}absent.yaml`))).to.deep.equal([`${invalid}absent.yaml: cannot read: no such file or directory`]);
  });

  it('reports every problem at once, shape and meaning alike, in line order', () => {
    const file = `${invalid}many-errors.yaml`;
    expect(errorsOf(() => loadPodFile(file))).to.deep.equal(
      [
        "2: name 'Bad' must be lower-case letters, digits and '-' (not leading)",
        '4: pod.l2Prefix 2001:db8::/56 must be exactly a /64 (SLAAC needs it)',
        '5: pod.pdPool 2001:db8::/40 overlaps pod.l2Prefix 2001:db8::/56 (the pod /64 must not be in the delegation pool)',
        "6: pod.dad 'fast' must be one of optimistic, full",
        '9: routers[0].colour is not a known key (known: name, mac)',
        "13: hypervisors[0].instances[0].name 'r1' is already the name of routers[0] (node names share one namespace)",
        '14: hypervisors[0].instances[0].mac 01:00:5e:00:00:01 is a multicast MAC (I/G bit set); an interface needs a unicast MAC',
      ].map((l) => `${file}:${l}`),
    );
  });
});

describe('pod file: generated MACs', () => {
  it('property: every MAC in a loaded pod is unicast and unique', () => {
    const names = fc.uniqueArray(
      fc.stringMatching(/^[a-z0-9-]{1,7}$/).map((s) => `i${s}`),
      { minLength: 1, maxLength: 40 },
    );
    fc.assert(
      fc.property(names, fc.integer({ min: 1, max: 4 }), (instances, hypervisors) => {
        const hvs = Array.from({ length: hypervisors }, (_, h) => {
          const mine = instances.filter((_, i) => i % hypervisors === h).map((n) => `      - name: ${n}\n`);
          return `  - name: hv${h}\n    instances:\n${mine.join('') || '      []\n'}`;
        });
        const pod = parsePodFile(`${HEAD}hypervisors:\n${hvs.join('')}`, 'prop.yaml');
        const macs = [...pod.routers, ...pod.hypervisors.flatMap((h) => h.instances)].map((n) => n.mac);
        expect(macs).to.have.length(instances.length + 2);
        expect(new Set(macs).size).to.equal(macs.length);
        for (const mac of macs) expect(isMulticastMac(mac), mac).to.equal(false);
      }),
    );
  });
});
