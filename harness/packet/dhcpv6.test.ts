import { expect } from 'chai';
import fc from 'fast-check';
import {
  DecodeError,
  DHCPV6_MAX_NESTING,
  DHCPV6_MESSAGE_NUMBERS,
  DHCPV6_OPTION_NUMBERS,
  DHCPV6_STATUS_CODES,
  DUID_TYPE_NUMBERS,
  decodeDhcpv6,
  decodeDuid,
  decodeOptions,
  encodeDhcpv6,
  encodeDuid,
  encodeOption,
  findOption,
  findOptions,
  innermostMessage,
  numberLabel,
  relayChain,
  type Dhcpv6Message,
  type Dhcpv6Option,
  type Dhcpv6OptionType,
} from './dhcpv6.ts';
import { dhcpv6MessageArb, dhcpv6OptionArbs, duidArb } from './testing/dhcpv6-arbitraries.ts';

/** Hex bytes with whitespace and `#` comments ignored. */
const hex = (text: string) => Buffer.from(text.replace(/#.*$/gm, '').replace(/\s+/g, ''), 'hex');

/** One option, header written by hand. */
const tlv = (code: number, body: Buffer) => Buffer.concat([Buffer.from([code >> 8, code & 0xff, body.length >> 8, body.length & 0xff]), body]);

/** Runs `fn` and returns its DecodeError, failing the test on success or any other exception. */
function decodeErrorOf(fn: () => unknown): DecodeError {
  try {
    fn();
  } catch (err) {
    if (err instanceof DecodeError) return err;
    throw err;
  }
  expect.fail('expected a DecodeError');
}

/** Decoding `buf` either throws DecodeError or yields a value that re-encodes to exactly `buf`. */
function decodesCanonicallyOrRejects(buf: Buffer): void {
  let msg: Dhcpv6Message;
  try {
    msg = decodeDhcpv6(buf);
  } catch (err) {
    if (err instanceof DecodeError) return;
    throw err;
  }
  expect(encodeDhcpv6(msg).equals(buf), buf.toString('hex')).to.equal(true);
}

// Known-answer vectors, written out field by field from RFC 8415 §8, §9, §21 and RFC 4649.
const SOLICIT_BYTES = hex(`
  01 123456                                   # msg-type solicit, transaction-id
  0001 000a  0003 0001 00163e112233           # client-id: DUID-LL, hardware type 1 (Ethernet), MAC
  0008 0002  0000                             # elapsed-time 0
  0019 0029  00000001 00000000 00000000       # ia-pd: iaid 1, T1 0, T2 0
             001a 0019 00000000 00000000 00   # iaprefix: preferred 0, valid 0, prefix-length 0
                       00000000000000000000000000000000   # prefix ::
`);

const SOLICIT: Dhcpv6Message = {
  type: 'solicit',
  transactionId: 0x123456,
  options: [
    { type: 'client-id', duid: { type: 'll', hardwareType: 1, linkLayerAddress: '00:16:3e:11:22:33' } },
    { type: 'elapsed-time', centiseconds: 0 },
    {
      type: 'ia-pd',
      iaid: 1,
      t1: 0,
      t2: 0,
      options: [{ type: 'iaprefix', preferredLifetime: 0, validLifetime: 0, prefixLength: 0, prefix: '::', options: [] }],
    },
  ],
};

const RELAY_BYTES = Buffer.concat([
  hex(`
    0c 00                                       # msg-type relay-forward, hop-count 0
    20010db8000100000000000000000001            # link-address 2001:db8:1::1
    fe800000000000000216 3efffe112233           # peer-address fe80::216:3eff:fe11:2233
    0012 0004  65746830                         # interface-id "eth0"
    0025 000a  0000118b 00163e112233            # remote-id: enterprise 4491, MAC
    0009 0045                                   # relay-message, 69 bytes:
  `),
  SOLICIT_BYTES,
]);

const RELAY: Dhcpv6Message = {
  type: 'relay-forward',
  hopCount: 0,
  linkAddress: '2001:db8:1::1',
  peerAddress: 'fe80::216:3eff:fe11:2233',
  options: [
    { type: 'interface-id', id: Buffer.from('eth0') },
    { type: 'remote-id', enterpriseNumber: 4491, remoteId: '00:16:3e:11:22:33' },
    { type: 'relay-message', message: SOLICIT },
  ],
};

/** Wraps `inner` in `levels` Relay-Forward messages (hop 0, link and peer ::), built by hand. */
function nestRelays(inner: Buffer, levels: number): Buffer {
  let buf = inner;
  for (let i = 0; i < levels; i++) buf = Buffer.concat([hex('0c00'), Buffer.alloc(32), tlv(DHCPV6_OPTION_NUMBERS['relay-message'], buf)]);
  return buf;
}

describe('dhcpv6 codec', () => {
  describe('known-answer vectors', () => {
    it('has vectors of the hand-computed sizes', () => {
      expect(SOLICIT_BYTES.length).to.equal(69);
      expect(RELAY_BYTES.length).to.equal(34 + 8 + 14 + 4 + 69);
    });

    it('encodes and decodes a Solicit with DUID-LL, Elapsed Time and an IA_PD hint', () => {
      expect(encodeDhcpv6(SOLICIT).toString('hex')).to.equal(SOLICIT_BYTES.toString('hex'));
      expect(decodeDhcpv6(SOLICIT_BYTES)).to.deep.equal(SOLICIT);
    });

    it('encodes and decodes a Relay-Forward with Interface-Id, Remote-Id and the Solicit', () => {
      expect(encodeDhcpv6(RELAY).toString('hex')).to.equal(RELAY_BYTES.toString('hex'));
      expect(decodeDhcpv6(RELAY_BYTES)).to.deep.equal(RELAY);
    });

    it('encodes a status code with a UTF-8 message and a domain list', () => {
      expect(encodeOption({ type: 'status-code', code: DHCPV6_STATUS_CODES.NoPrefixAvail, message: 'né' }).toString('hex')).to.equal(
        '000d0005' + '0006' + '6ec3a9',
      );
      expect(encodeOption({ type: 'domain-list', domains: ['example.com', ''] }).toString('hex')).to.equal('0018000e' + '076578616d706c6503636f6d00' + '00');
    });

    it('encodes DUID-LLT, DUID-EN and DUID-UUID', () => {
      const llt = encodeDuid({ type: 'llt', hardwareType: 1, time: 0x2a2b2c2d, linkLayerAddress: '00:16:3e:11:22:33' });
      expect(llt.toString('hex')).to.equal('0001' + '0001' + '2a2b2c2d' + '00163e112233');
      expect(encodeDuid({ type: 'en', enterpriseNumber: 2495, identifier: hex('0102') }).toString('hex')).to.equal('0002000009bf0102');
      const uuid = '0123abcd-4567-89ef-0123-456789abcdef';
      expect(encodeDuid({ type: 'uuid', uuid }).toString('hex')).to.equal('0004' + uuid.replaceAll('-', ''));
      expect(decodeDuid(hex('0004' + uuid.replaceAll('-', '')))).to.deep.equal({ type: 'uuid', uuid });
    });
  });

  describe('round trips', () => {
    const arbs = dhcpv6OptionArbs(2);
    for (const type of Object.keys(arbs) as Dhcpv6OptionType[]) {
      it(`option ${type}: decode(encode(o)) deep-equals o, encode(decode(b)) equals b`, () => {
        fc.assert(
          fc.property(arbs[type] as fc.Arbitrary<Dhcpv6Option>, (option) => {
            const bytes = encodeOption(option);
            const decoded = decodeOptions(bytes);
            expect(decoded).to.deep.equal([option]);
            expect(Buffer.concat(decoded.map(encodeOption)).equals(bytes)).to.equal(true);
          }),
          { numRuns: 300 },
        );
      });
    }

    it('every message type: decode(encode(m)) deep-equals m, encode(decode(b)) equals b', () => {
      const seen = new Set<string>();
      fc.assert(
        fc.property(dhcpv6MessageArb(3), (msg) => {
          seen.add(msg.type);
          const bytes = encodeDhcpv6(msg);
          expect(decodeDhcpv6(bytes)).to.deep.equal(msg);
          expect(encodeDhcpv6(decodeDhcpv6(bytes)).equals(bytes)).to.equal(true);
        }),
        { numRuns: 2000 },
      );
      expect([...seen].sort()).to.deep.equal([...Object.keys(DHCPV6_MESSAGE_NUMBERS), 'unknown'].sort());
    });

    it('DUIDs: decode(encode(d)) deep-equals d', () => {
      fc.assert(fc.property(duidArb, (duid) => void expect(decodeDuid(encodeDuid(duid))).to.deep.equal(duid)));
    });
  });

  describe('malformed input', () => {
    it('rejects relays nested deeper than the limit with a DecodeError, not a stack overflow', () => {
      const err = decodeErrorOf(() => decodeDhcpv6(nestRelays(SOLICIT_BYTES, 40)));
      expect(err.field).to.equal('options');
      expect(err.reason).to.match(/nested deeper/);
      expect(decodeDhcpv6(nestRelays(SOLICIT_BYTES, DHCPV6_MAX_NESTING - 2))).to.have.property('type', 'relay-forward');
    });

    it('rejects the deepest relay chain and IA nesting a 64 KiB datagram can hold', () => {
      decodeErrorOf(() => decodeDhcpv6(nestRelays(hex('01000000'), Math.floor((0xffff - 4) / 38))));
      // ia-ta (code 4) nested in ia-ta, 8 bytes per level.
      const levels = Math.floor(0xfff0 / 8);
      let ia = Buffer.alloc(0);
      for (let i = 0; i < levels; i++) ia = tlv(DHCPV6_OPTION_NUMBERS['ia-ta'], Buffer.concat([hex('00000000'), ia]));
      decodeErrorOf(() => decodeDhcpv6(Buffer.concat([hex('01000000'), ia])));
    });

    it('every truncation of the relay vector is rejected unless it ends on an option boundary', () => {
      const boundaries = new Map([
        [34, 0],
        [42, 1],
        [56, 2],
      ]);
      for (let length = 0; length < RELAY_BYTES.length; length++) {
        const cut = RELAY_BYTES.subarray(0, length);
        const kept = boundaries.get(length);
        if (kept === undefined) decodeErrorOf(() => decodeDhcpv6(cut));
        else expect(decodeDhcpv6(cut)).to.deep.equal({ ...RELAY, options: (RELAY as { options: Dhcpv6Option[] }).options.slice(0, kept) });
      }
    });

    it('every truncation of a random message is rejected or re-encodes to the same bytes', () => {
      fc.assert(
        fc.property(dhcpv6MessageArb(2), (msg) => {
          const bytes = encodeDhcpv6(msg);
          for (let length = 0; length < bytes.length; length++) decodesCanonicallyOrRejects(bytes.subarray(0, length));
        }),
        { numRuns: 300 },
      );
    });

    it('reports the option, the field and the absolute offset in the frame', () => {
      const frameOffset = 62; // Ethernet 14 + IPv6 40 + UDP 8
      const bad = Buffer.from(RELAY_BYTES);
      const elapsedLength = 56 + 4 + 4 + 14 + 2; // relay-message body, client-id, elapsed-time's length field
      bad.writeUInt16BE(3, elapsedLength);
      const err = decodeErrorOf(() => decodeDhcpv6(bad, frameOffset));
      expect(err.layer).to.equal('dhcpv6');
      expect(err.field).to.equal('elapsed-time.length');
      expect(err.offset).to.equal(frameOffset + elapsedLength);

      const shortDuid = decodeErrorOf(() => decodeOptions(hex('0002 0003 000100'), 100));
      expect([shortDuid.field, shortDuid.offset]).to.deep.equal(['server-id.duid.llt', 106]);
      const badUtf8 = decodeErrorOf(() => decodeOptions(hex('000d 0003 0000ff')));
      expect([badUtf8.field, badUtf8.offset]).to.deep.equal(['status-code.message', 6]);
      const compressed = decodeErrorOf(() => decodeOptions(hex('0018 0002 c00c')));
      expect(compressed.field).to.equal('domain-list.domains');
    });

    it('20k random and mutated buffers only ever raise DecodeError, and what decodes re-encodes exactly', () => {
      // Mostly known message types, so the option walker rather than the unknown-message path sees the bytes.
      const msgType = fc.oneof({ weight: 9, arbitrary: fc.integer({ min: 1, max: 13 }) }, { weight: 1, arbitrary: fc.integer({ min: 0, max: 0xff }) });
      const random = fc.tuple(msgType, fc.uint8Array({ maxLength: 96 })).map(([type, rest]) => Buffer.concat([Buffer.of(type), rest]));
      fc.assert(fc.property(random, decodesCanonicallyOrRejects), { numRuns: 10_000 });
      const mutation = fc.tuple(fc.constantFrom('set', 'insert', 'delete'), fc.nat(), fc.integer({ min: 0, max: 0xff }));
      fc.assert(
        fc.property(dhcpv6MessageArb(2), fc.array(mutation, { minLength: 1, maxLength: 4 }), (msg, mutations) => {
          const bytes = [...encodeDhcpv6(msg)];
          for (const [kind, at, value] of mutations) {
            const i = at % (bytes.length + 1);
            if (kind === 'set' && i < bytes.length) bytes[i] = value;
            else if (kind === 'insert') bytes.splice(i, 0, value);
            else bytes.splice(i, 1);
          }
          decodesCanonicallyOrRejects(Buffer.from(bytes));
        }),
        { numRuns: 10_000 },
      );
    });
  });

  describe('encoder guards', () => {
    it('refuses unknown values that carry a known number, which would not round-trip', () => {
      expect(() => encodeOption({ type: 'unknown', optionCode: 1, data: Buffer.alloc(0) })).to.throw(/known code/);
      expect(() => encodeDhcpv6({ type: 'unknown', msgType: 1, body: Buffer.alloc(0) })).to.throw(/known msg-type/);
      expect(() => encodeDuid({ type: 'unknown', duidType: 3, data: Buffer.alloc(0) })).to.throw(/known type/);
    });

    it('refuses out-of-range numbers and malformed text', () => {
      expect(() => encodeDhcpv6({ ...SOLICIT, transactionId: 0x1000000 } as Dhcpv6Message)).to.throw(RangeError);
      expect(() => encodeOption({ type: 'dns-servers', servers: ['2001:db8::zz'] })).to.throw(/not an IPv6/);
      expect(() => encodeOption({ type: 'domain-list', domains: ['example.com.'] })).to.throw(/label/);
      expect(() => encodeDuid({ type: 'uuid', uuid: 'nope' })).to.throw(/UUID/);
    });
  });

  describe('helpers', () => {
    it('finds options by type, typed', () => {
      const solicit = decodeDhcpv6(SOLICIT_BYTES) as { options: Dhcpv6Option[] };
      expect(findOption(solicit.options, 'ia-pd')?.iaid).to.equal(1);
      expect(findOption(solicit.options, 'server-id')).to.equal(undefined);
      expect(findOptions(solicit.options, 'elapsed-time').map((o) => o.centiseconds)).to.deep.equal([0]);
    });

    it('walks a relay chain to the client message', () => {
      const twice = decodeDhcpv6(nestRelays(RELAY_BYTES, 1));
      expect(relayChain(twice).map((r) => r.peerAddress)).to.deep.equal(['::', 'fe80::216:3eff:fe11:2233']);
      expect(innermostMessage(twice)).to.deep.equal(SOLICIT);
      expect(innermostMessage(SOLICIT)).to.equal(SOLICIT);
      expect(innermostMessage({ ...RELAY, options: [] } as Dhcpv6Message)).to.equal(undefined);
    });

    it('labels protocol numbers for display', () => {
      expect(numberLabel(DHCPV6_MESSAGE_NUMBERS, 1)).to.equal('solicit (1)');
      expect(numberLabel(DHCPV6_OPTION_NUMBERS, 37)).to.equal('remote-id (37)');
      expect(numberLabel(DUID_TYPE_NUMBERS, 3)).to.equal('ll (3)');
      expect(numberLabel(DHCPV6_STATUS_CODES, 6)).to.equal('NoPrefixAvail (6)');
      expect(numberLabel(DHCPV6_OPTION_NUMBERS, 999)).to.equal('unknown (999)');
    });
  });
});
