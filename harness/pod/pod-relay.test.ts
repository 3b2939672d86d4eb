/**
 * The pod file's relay fields (`relay`, `relayCommand`, `kea.macSources`) and the choice
 * `v6pod test --relay/--relay-command/--mac-sources` makes over them: every broken rule is one line
 * naming the path and the rule (docs/relays.md).
 */
import { expect } from 'chai';
import { parsePodFile, withRelayChoice } from './pod-file.ts';
import { errorsOf } from './testing/errors-of.ts';

const POD = [
  'name: relays',
  'pod:',
  '  l2Prefix: 2001:db8:100::/64',
  '  pdPool: 2001:db8:200::/40',
  'kea:',
  '  name: kea',
  'hypervisors:',
  '  - name: hv1',
].join('\n');

const parse = (extraTop: string, extraKea = '') => parsePodFile(`${POD.replace('  name: kea', `  name: kea${extraKea}`)}\n${extraTop}`, 'pod.yaml');

describe('pod file: the relay and Kea MAC sources', () => {
  it('defaults to v6pod and option 37 only', () => {
    const pod = parse('');
    expect(pod.relay).to.equal('v6pod');
    expect(pod.relayCommand).to.equal(undefined);
    expect(pod.kea.macSources).to.deep.equal(['remote-id']);
  });

  it('takes isc-dhcrelay, external with its command, and MAC sources in order into the model', () => {
    expect(parse('relay: isc-dhcrelay\n').relay).to.equal('isc-dhcrelay');
    const ext = parse('relay: external\nrelayCommand: /opt/relay --verbose\n', '\n  macSources: [duid, client-link-addr-option, ipv6-link-local, remote-id]');
    expect([ext.relay, ext.relayCommand]).to.deep.equal(['external', '/opt/relay --verbose']);
    expect(ext.kea.macSources).to.deep.equal(['duid', 'client-link-addr-option', 'ipv6-link-local', 'remote-id']);
  });

  for (const [what, top, kea, line] of [
    ['an unknown relay', 'relay: dnsmasq\n', '', "pod.yaml:9: relay 'dnsmasq' must be one of v6pod, isc-dhcrelay, external"],
    [
      'an unknown relay with a command',
      'relay: dnsmasq\nrelayCommand: /opt/relay\n',
      '',
      "pod.yaml:9: relay 'dnsmasq' must be one of v6pod, isc-dhcrelay, external",
    ],
    ['external without a command', 'relay: external\n', '', "pod.yaml:9: relay 'external' needs relayCommand, the command run on each router (docs/relays.md)"],
    [
      'a command without external',
      'relay: isc-dhcrelay\nrelayCommand: /opt/relay\n',
      '',
      'pod.yaml:10: relayCommand applies to relay: external only (relay is isc-dhcrelay)',
    ],
    ['a command with the default relay', 'relayCommand: /opt/relay\n', '', 'pod.yaml:9: relayCommand applies to relay: external only (relay is v6pod)'],
    ['an empty command', "relay: external\nrelayCommand: ''\n", '', 'pod.yaml:10: relayCommand must not be empty'],
    [
      'an unknown MAC source',
      '',
      '\n  macSources: [remote-id, eui64]',
      "pod.yaml:7: kea.macSources[1] 'eui64' must be one of remote-id, client-link-addr-option, ipv6-link-local, duid",
    ],
    ['a MAC source listed twice', '', '\n  macSources: [duid, remote-id, duid]', "pod.yaml:7: kea.macSources[2] 'duid' is listed twice"],
    ['no MAC source', '', '\n  macSources: []', 'pod.yaml:7: kea.macSources must have at least 1 entry'],
    ['MAC sources not a list', '', '\n  macSources: duid', 'pod.yaml:7: kea.macSources must be a list'],
  ] as const) {
    it(`${what} is one line naming the path and the rule`, () => {
      expect(errorsOf(() => parse(top, kea))).to.deep.equal([line]);
    });
  }
});

describe('v6pod test --relay, --relay-command, --mac-sources over the pod file', () => {
  const pod = parse('');

  it('replaces the relay and the sources, and --relay-command alone means external', () => {
    const chosen = withRelayChoice(pod, { relay: 'isc-dhcrelay', macSources: ['ipv6-link-local', 'duid'] });
    expect([chosen.relay, chosen.relayCommand, chosen.kea.macSources]).to.deep.equal(['isc-dhcrelay', undefined, ['ipv6-link-local', 'duid']]);
    const ext = withRelayChoice(pod, { relayCommand: ' /opt/relay  -v ' });
    expect([ext.relay, ext.relayCommand, ext.kea.macSources]).to.deep.equal(['external', '/opt/relay  -v', ['remote-id']]);
  });

  it('drops the file’s command when another relay is chosen', () => {
    const ext = parse('relay: external\nrelayCommand: /opt/relay\n');
    expect(withRelayChoice(ext, { relay: 'v6pod' })).to.not.have.property('relayCommand');
  });

  for (const [what, choice, line] of [
    ['an unknown relay', { relay: 'dnsmasq' }, "--relay 'dnsmasq' must be one of v6pod, isc-dhcrelay, external"],
    ['external without a command', { relay: 'external' }, '--relay external needs --relay-command CMD, the command run on each router (docs/relays.md)'],
    [
      'an unknown source',
      { macSources: ['remote-id', 'eui64'] },
      "--mac-sources 'eui64' must be one of remote-id, client-link-addr-option, ipv6-link-local, duid",
    ],
    ['a source twice', { macSources: ['duid', 'duid'] }, '--mac-sources lists a source twice (duid,duid)'],
  ] as const) {
    it(`${what} is one line`, () => {
      expect(errorsOf(() => withRelayChoice(pod, choice))).to.deep.equal([line]);
    });
  }
});
