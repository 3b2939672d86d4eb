import { expect } from 'chai';
import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import { parsePcap } from './pcap.ts';
import { PcapStream } from './pcap-stream.ts';

const GOLDEN = readFileSync(new URL('../../fixtures/golden/link.pcap', import.meta.url));

describe('pcap stream', () => {
  it('property: cut anywhere, the stream yields exactly the records of the whole file', () => {
    const whole = parsePcap(GOLDEN, 'link.pcap');
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: GOLDEN.length }), { maxLength: 20 }), (cuts) => {
        const stream = new PcapStream();
        const at = [0, ...[...new Set(cuts)].sort((a, b) => a - b), GOLDEN.length];
        const records = at.slice(1).flatMap((end, i) => stream.push(GOLDEN.subarray(at[i], end)));
        expect(stream.linkType).to.equal(whole.linkType);
        expect(records).to.deep.equal(whole.records);
      }),
      { numRuns: 50 },
    );
  });

  it('yields nothing until a whole record has arrived', () => {
    const stream = new PcapStream();
    expect(stream.push(GOLDEN.subarray(0, 30))).to.deep.equal([]);
    expect(stream.linkType).to.equal(parsePcap(GOLDEN, 'link.pcap').linkType);
  });
});
