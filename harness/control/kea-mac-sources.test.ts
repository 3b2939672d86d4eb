/** Kea's mac-sources come from the pod file's kea.macSources, in order (docs/relays.md); the default is option 37 alone. */
import { expect } from 'chai';
import { parsePodFile } from '../pod/pod-file.ts';
import { buildPlan } from '../pod/plan.ts';
import { keaConfig } from './kea-config.ts';

const POD = 'name: macs\npod:\n  l2Prefix: 2001:db8:100::/64\n  pdPool: 2001:db8:200::/40\nhypervisors:\n  - name: hv1\n';

function macSourcesOf(text: string): unknown {
  const config = keaConfig(buildPlan(parsePodFile(text, 'pod.yaml'), 'macs')) as { Dhcp6: Record<string, unknown> };
  return config.Dhcp6['mac-sources'];
}

describe("Kea's mac-sources from the pod file", () => {
  it('default: remote-id only (the relay’s option 37)', () => {
    expect(macSourcesOf(POD)).to.deep.equal(['remote-id']);
  });

  it('kea.macSources, in the order given', () => {
    expect(macSourcesOf(`${POD}kea:\n  macSources: [duid, client-link-addr-option, ipv6-link-local, remote-id]\n`)).to.deep.equal([
      'duid',
      'client-link-addr-option',
      'ipv6-link-local',
      'remote-id',
    ]);
  });
});
