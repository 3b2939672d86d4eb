/**
 * The in-place DHCPv6 reader agrees with the codec: isWellFormedDhcpv6 is true exactly when
 * decodeDhcpv6 returns, and optionAt finds the option findOption finds, on the golden captures'
 * messages, generated messages of every type and option, and mutants of all of them.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { fileURLToPath } from 'node:url';
import {
  decodeDhcpv6,
  decodeOptions,
  encodeDhcpv6,
  findOption,
  isRelayMessage,
  DHCPV6_OPTION_NUMBERS,
  type Dhcpv6Message,
  type KnownOptionType,
} from './dhcpv6.ts';
import { isWellFormedDhcpv6, optionAt, optionsStart } from './dhcpv6-scan.ts';
import { decodeFrame } from './frame.ts';
import { readPcap } from './pcap.ts';
import { dhcpv6MessageArb } from './testing/dhcpv6-arbitraries.ts';
import { mutate } from './testing/mutate.ts';
import { prng } from '../os/prng.ts';
import { sampleRelayForwardFrame } from './testing/samples.ts';

const SEED = 0x5ca11;
const MUTANTS = 100_000;
const GOLDEN = fileURLToPath(new URL('../../fixtures/golden/link.pcap', import.meta.url));

function decodes(buf: Buffer): Dhcpv6Message | undefined {
  try {
    return decodeDhcpv6(buf);
  } catch {
    return undefined;
  }
}

/** For a message that decoded: optionAt's option, decoded, is the codec's first option of each type the relay looks for. */
function expectSameOptions(buf: Buffer, msg: Dhcpv6Message): void {
  if (msg.type === 'unknown') return;
  for (const name of ['relay-message', 'interface-id', 'ia-pd', 'client-id'] as KnownOptionType[]) {
    const at = optionAt(buf, optionsStart(buf), buf.length, DHCPV6_OPTION_NUMBERS[name]);
    const found = at < 0 ? undefined : decodeOptions(buf.subarray(at - 4, at + buf.readUInt16BE(at - 2)))[0];
    expect(found, `${name} in ${buf.toString('hex')}`).to.deep.equal(findOption(msg.options, name));
  }
}

function expectAgreement(buf: Buffer): 'decoded' | 'rejected' {
  const msg = decodes(buf);
  expect(isWellFormedDhcpv6(buf), `isWellFormedDhcpv6(${buf.toString('hex')})`).to.equal(msg !== undefined);
  if (msg) expectSameOptions(buf, msg);
  return msg ? 'decoded' : 'rejected';
}

describe('in-place DHCPv6 reading (dhcpv6-scan.ts) agrees with the codec', () => {
  const golden = readPcap(GOLDEN)
    .records.map((r) => decodeFrame(Buffer.from(r.data)).dhcpv6)
    .filter((m): m is Dhcpv6Message => m !== undefined)
    .map(encodeDhcpv6);
  const generated = fc.sample(dhcpv6MessageArb(3), { numRuns: 2000, seed: SEED }).map(encodeDhcpv6);
  const corpus = [...golden, encodeDhcpv6(sampleRelayForwardFrame().dhcpv6!), ...generated];

  it('golden captures (dhcp6c, Kea, relay) and generated messages of every type and option are well-formed', () => {
    expect(golden.length).to.be.greaterThan(3);
    for (const buf of corpus) expect(expectAgreement(buf)).to.equal('decoded');
  });

  it(`${MUTANTS} mutants: well-formed exactly when the codec decodes them`, () => {
    const rng = prng(SEED);
    const counts = { decoded: 0, rejected: 0 };
    for (let i = 0; i < MUTANTS; i++) counts[expectAgreement(mutate(rng.pick(corpus), rng, corpus))]++;
    console.log(`      mutants: ${counts.decoded} decoded, ${counts.rejected} rejected`);
    // Both outcomes must be well represented, or the agreement says little.
    expect(counts.decoded).to.be.greaterThan(MUTANTS / 20);
    expect(counts.rejected).to.be.greaterThan(MUTANTS / 20);
  });

  it('every option code with bodies of every length up to 40 bytes, at the top level and inside IA_PD and IAPREFIX', () => {
    const rng = prng(SEED);
    const option = (code: number, body: Buffer) => Buffer.concat([Buffer.of(code >> 8, code & 0xff, body.length >> 8, body.length & 0xff), body]);
    const counts = { decoded: 0, rejected: 0 };
    for (const code of [...Object.values(DHCPV6_OPTION_NUMBERS), 0, 99]) {
      for (let length = 0; length <= 40; length++) {
        for (let trial = 0; trial < 8; trial++) {
          const body = rng.bytes(length);
          // DUID type and domain label values the rules branch on, half of the time.
          if (length >= 2 && trial % 2) body.writeUInt16BE(1 + rng.int(5), 0);
          if (code === DHCPV6_OPTION_NUMBERS['domain-list'] && trial % 2)
            for (let i = 0; i < length; i++) body[i] = rng.pick([0, 1, 2, 3, 0x41, 0x2e, 0x7f, 63, 64]);
          const inner = option(code, body);
          for (const wrapped of [
            inner,
            option(25, Buffer.concat([Buffer.alloc(12), inner])),
            option(25, Buffer.concat([Buffer.alloc(12), option(26, Buffer.concat([Buffer.alloc(25), inner]))])),
          ]) {
            counts[expectAgreement(Buffer.concat([Buffer.of(1, 0, 0, 1), wrapped]))]++;
          }
        }
      }
    }
    expect(counts.decoded).to.be.greaterThan(1000);
    expect(counts.rejected).to.be.greaterThan(1000);
  });

  it('domain lists at the label (63) and name (255) limits', () => {
    const rng = prng(SEED);
    const counts = { decoded: 0, rejected: 0 };
    for (let trial = 0; trial < 3000; trial++) {
      const parts: Buffer[] = [];
      for (let n = rng.int(8); n > 0; n--) {
        if (rng.int(4) === 0) parts.push(Buffer.of(0));
        const length = rng.pick([1, 2, 62, 63, 64]);
        const label = Buffer.alloc(length, 0x61);
        if (rng.int(8) === 0) label[rng.int(length)] = rng.pick([0x20, 0x2e, 0x7f, 0x21, 0x7e]);
        parts.push(Buffer.of(length), label);
      }
      if (rng.int(4)) parts.push(Buffer.of(0));
      const body = Buffer.concat(parts);
      counts[expectAgreement(Buffer.concat([Buffer.of(7, 0, 0, 1, 0, 24, body.length >> 8, body.length & 0xff), body]))]++;
    }
    expect(counts.decoded).to.be.greaterThan(300);
    expect(counts.rejected).to.be.greaterThan(300);
  });

  it("nesting: relay messages nested to the codec's limit are well-formed, one level deeper is not", () => {
    const nest = (levels: number): Dhcpv6Message => {
      let msg: Dhcpv6Message = { type: 'solicit', transactionId: 1, options: [] };
      for (let i = 0; i < levels; i++)
        msg = { type: 'relay-forward', hopCount: i, linkAddress: '::', peerAddress: '::', options: [{ type: 'relay-message', message: msg }] };
      return msg;
    };
    let deepestDecoded = -1;
    for (let levels = 0; levels < 40; levels++) {
      const buf = encodeDhcpv6(nest(levels));
      if (expectAgreement(buf) === 'decoded') deepestDecoded = levels;
    }
    expect(deepestDecoded).to.be.within(30, 38); // the limit was reached and crossed
    expect(isRelayMessage(decodeDhcpv6(encodeDhcpv6(nest(1))))).to.equal(true);
  });
});
