/**
 * Golden packets from the real daemons (fixtures/golden/capture.sh): radvd, the Linux kernel,
 * wide-dhcpv6 dhcp6c and ISC Kea. Every frame decodes, verifies its checksum and re-encodes
 * byte for byte; the decode matches the committed expected decode; and each packet says what
 * the RFCs and the daemons' configuration say it must.
 * V6POD_UPDATE_GOLDEN=1 rewrites fixtures/golden/link.expected.jsonl after a new capture.
 */
import { expect } from 'chai';
import { readFileSync, writeFileSync } from 'node:fs';
import { readPcap } from './pcap.ts';
import { decodeFrame } from './frame.ts';
import { describeFrame } from './describe.ts';
import { goldenSuite } from './testing/golden-suite.ts';

const PCAP = new URL('../../fixtures/golden/link.pcap', import.meta.url).pathname;
const EXPECTED = new URL('../../fixtures/golden/link.expected.jsonl', import.meta.url).pathname;

goldenSuite('golden packets from real daemons (fixtures/golden/link.pcap)', () => PCAP);

describe('golden packets: expected decode', () => {
  it('decodes exactly as the committed expected decode', () => {
    const { records } = readPcap(PCAP);
    const lines = records.map((r, i) =>
      JSON.stringify(describeFrame(decodeFrame(r.data), { index: i + 1, timestampUs: r.timestampUs, length: r.data.length })),
    );
    if (process.env.V6POD_UPDATE_GOLDEN === '1') writeFileSync(EXPECTED, `${lines.join('\n')}\n`);
    const expected = readFileSync(EXPECTED, 'utf8').trimEnd().split('\n');
    expect(lines.length).to.equal(expected.length);
    lines.forEach((line, i) => expect(JSON.parse(line), `frame ${i + 1}`).to.deep.equal(JSON.parse(expected[i]!)));
  });
});
