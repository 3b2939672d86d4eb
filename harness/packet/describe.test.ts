/** `v6pod decode`'s two forms: JSON with protocol numbers as numbers and names beside them, text with `name (number)`. */
import { expect } from 'chai';
import { readPcap } from './pcap.ts';
import { recordLine } from './describe.ts';

const { records } = readPcap(new URL('../../fixtures/golden/link.pcap', import.meta.url).pathname);
const lines = (json: boolean) => records.map((r, i) => recordLine(r, i + 1, json).line);

describe('decode output', () => {
  it('JSON: numbers stay numbers, so a filter like jq select(.dhcpv6.type == 7) finds every Reply', () => {
    const objects = lines(true).map((l) => JSON.parse(l) as { dhcpv6?: { type: number; typeName: string }; protocol?: number; protocolName?: string });
    const replies = objects.filter((o) => o.dhcpv6?.type === 7);
    expect(replies.length).to.be.greaterThan(0);
    for (const o of replies) expect(o.dhcpv6!.typeName).to.equal('reply');
    const udp = objects.find((o) => o.protocol === 17)!;
    expect(udp.protocolName).to.equal('udp');
  });

  it('JSON: options and status codes carry their number and name; text reads name (number)', () => {
    const json = lines(true).join('\n');
    expect(json).to.include('"type":25,"typeName":"ia-pd"');
    expect(json).to.match(/"etherType":34525/);
    const text = lines(false).join('\n');
    expect(text).to.include('ia-pd (25){');
    expect(text).to.include('etherType=0x86dd');
    expect(text).to.match(/protocol udp \(17\)/);
    expect(text).to.match(/transactionId=0x[0-9a-f]{6}/);
  });
});
