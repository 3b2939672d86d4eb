import { expect } from 'chai';
import fc from 'fast-check';
import { DecodeError } from './errors.ts';
import { decodeIcmpv6, encodeIcmpv6, ICMPV6_TYPE_NUMBERS, type Icmpv6Message, type NeighborAdvertisement } from './icmpv6.ts';
import { decodeNdOptions, encodeNdOptions, ND_OPTION_NUMBERS, type NdOption } from './nd-options.ts';
import { arbIcmpv6Message, icmpv6MessageArbitraries, ndOptionArbitraries } from './testing/icmpv6-arbitraries.ts';

/** Hex with free spacing and line breaks, so vectors can be laid out like the RFC diagrams. */
const hex = (text: string) => Buffer.from(text.replace(/\s+/g, ''), 'hex');

const MAC = '52 54 00 12 34 56';
const LINK_LOCAL = 'fe80 0000 0000 0000 5054 00ff fe12 3456';

/** Decodes a truncated copy; returns true when the prefix is itself a valid message, re-encoding to the same bytes. */
function decodesTruncated(bytes: Buffer, length: number, base: number): boolean {
  const cut = bytes.subarray(0, length);
  try {
    const msg = decodeIcmpv6(cut, base);
    expect(encodeIcmpv6(msg).toString('hex')).to.equal(cut.toString('hex'));
    return true;
  } catch (err) {
    if (!(err instanceof DecodeError)) throw err;
    expect(err.field.length, err.message).to.be.greaterThan(0);
    expect(err.offset, err.message).to.be.within(base, base + length);
    return false;
  }
}

/** The lengths (< full) at which a cut message is still valid. */
function validCuts(bytes: Buffer, base = 0): number[] {
  return Array.from({ length: bytes.length }, (_, n) => n).filter((n) => decodesTruncated(bytes, n, base));
}

function expectDecodeError(fn: () => unknown, field: string, offset: number): void {
  try {
    fn();
  } catch (err) {
    expect(err).to.be.instanceOf(DecodeError);
    expect((err as DecodeError).field).to.equal(field);
    expect((err as DecodeError).offset).to.equal(offset);
    return;
  }
  expect.fail(`expected a DecodeError on ${field}`);
}

describe('icmpv6 codec', () => {
  describe('known-answer vectors', () => {
    // radvd with AdvOtherConfigFlag on, AdvDefaultLifetime 1800, AdvReachableTime 30000, AdvRetransTimer 1000,
    // prefix 2001:db8:1::/64 at its default lifetimes, RDNSS, AdvLinkMTU 1500 and the router's MAC.
    const raBytes = hex(`
      86 00 0000   40 40 0708   00007530   000003e8
      03 04 40 c0   00015180   00003840   00000000   2001 0db8 0001 0000 0000 0000 0000 0000
      19 03 0000   00000e10   2001 0db8 0000 0000 0000 0000 0000 0053
      05 01 0000   000005dc
      01 01 ${MAC}`);
    const ra: Icmpv6Message = {
      type: 'router-advertisement',
      code: 0,
      curHopLimit: 64,
      managed: false,
      other: true,
      homeAgent: false,
      preference: 'medium',
      proxy: false,
      reserved: 0,
      routerLifetime: 1800,
      reachableTime: 30000,
      retransTimer: 1000,
      options: [
        {
          type: 'prefix-information',
          prefixLength: 64,
          onLink: true,
          autonomous: true,
          otherFlags: 0,
          validLifetime: 86400,
          preferredLifetime: 14400,
          prefix: '2001:db8:1::',
        },
        { type: 'rdnss', lifetime: 3600, servers: ['2001:db8::53'] },
        { type: 'mtu', mtu: 1500 },
        { type: 'source-link-layer-address', address: '52:54:00:12:34:56' },
      ],
    };

    // Linux DAD probe with the RFC 7527 nonce.
    const nsBytes = hex(`87 00 0000   00000000   ${LINK_LOCAL}   0e 01 010203040506`);
    const ns: Icmpv6Message = {
      type: 'neighbor-solicitation',
      code: 0,
      target: 'fe80::5054:ff:fe12:3456',
      options: [{ type: 'nonce', nonce: hex('010203040506') }],
    };

    const naBytes = hex(`88 00 0000   60000000   ${LINK_LOCAL}   02 01 ${MAC}`);
    const na: Icmpv6Message = {
      type: 'neighbor-advertisement',
      code: 0,
      router: false,
      solicited: true,
      override: true,
      reserved: 0,
      target: 'fe80::5054:ff:fe12:3456',
      options: [{ type: 'target-link-layer-address', address: '52:54:00:12:34:56' }],
    };

    const rsBytes = hex(`85 00 0000   00000000   01 01 ${MAC}`);
    const rs: Icmpv6Message = {
      type: 'router-solicitation',
      code: 0,
      options: [{ type: 'source-link-layer-address', address: '52:54:00:12:34:56' }],
    };

    const redirectBytes = hex(`
      89 00 0000   00000000   fe80 0000 0000 0000 0000 0000 0000 0001   2001 0db8 0000 0000 0000 0000 0000 0099
      02 01 ${MAC}
      04 02 000000000000   60000000 00083a40`);
    const redirect: Icmpv6Message = {
      type: 'redirect',
      code: 0,
      target: 'fe80::1',
      destination: '2001:db8::99',
      options: [
        { type: 'target-link-layer-address', address: '52:54:00:12:34:56' },
        { type: 'redirected-header', data: hex('60000000 00083a40') },
      ],
    };

    // The join Linux sends for a solicited-node group before DAD (CHANGE_TO_EXCLUDE, no sources),
    // then an ALLOW_NEW_SOURCES record with one source and one word of auxiliary data.
    const mldBytes = hex(`
      8f 00 0000   0000 0002
      04 00 0000   ff02 0000 0000 0000 0000 0001 ff12 3456
      05 01 0001   ff0e 0000 0000 0000 0000 0000 0000 0001   2001 0db8 0000 0000 0000 0000 0000 0001   deadbeef`);
    const mld: Icmpv6Message = {
      type: 'mld2-report',
      code: 0,
      records: [
        { recordType: 4, auxData: Buffer.alloc(0), multicastAddress: 'ff02::1:ff12:3456', sources: [] },
        { recordType: 5, auxData: hex('deadbeef'), multicastAddress: 'ff0e::1', sources: ['2001:db8::1'] },
      ],
    };

    const echoBytes = hex(`80 00 0000   1234 0001   61626364`);
    const echo: Icmpv6Message = { type: 'echo-request', code: 0, identifier: 0x1234, sequence: 1, data: Buffer.from('abcd') };

    const ptbBytes = hex(`02 00 0000   00000500   6000000000083a40`);
    const ptb: Icmpv6Message = { type: 'packet-too-big', code: 0, mtu: 1280, invoking: hex('6000000000083a40') };

    const unreachableBytes = hex(`01 04 0000   00000000   6000`);
    const unreachable: Icmpv6Message = { type: 'destination-unreachable', code: 4, unused: 0, invoking: hex('6000') };

    // MLDv1 query (RFC 2710): no model, kept whole.
    const mldv1Bytes = hex(`82 00 0000   2710 0000   ${'00'.repeat(16)}`);
    const mldv1: Icmpv6Message = { type: 'unknown', icmpType: 130, code: 0, body: hex(`2710 0000 ${'00'.repeat(16)}`) };

    const vectors: [string, Buffer, Icmpv6Message][] = [
      ['router advertisement (radvd)', raBytes, ra],
      ['neighbor solicitation (DAD)', nsBytes, ns],
      ['neighbor advertisement', naBytes, na],
      ['router solicitation', rsBytes, rs],
      ['redirect', redirectBytes, redirect],
      ['mld2 report', mldBytes, mld],
      ['echo request', echoBytes, echo],
      ['packet too big', ptbBytes, ptb],
      ['destination unreachable (port)', unreachableBytes, unreachable],
      ['mldv1 query as unknown', mldv1Bytes, mldv1],
    ];
    for (const [name, bytes, msg] of vectors) {
      it(`${name}: decodes and encodes`, () => {
        expect(decodeIcmpv6(bytes)).to.deep.equal(msg);
        expect(encodeIcmpv6(msg).toString('hex')).to.equal(bytes.toString('hex'));
      });
    }

    it('RA: valid only when cut after the fixed part or an option', () => {
      expect(validCuts(raBytes, 54)).to.deep.equal([16, 48, 72, 80]);
    });

    it('MLDv2 report: every cut is an error (the record count is explicit)', () => {
      expect(validCuts(mldBytes, 54)).to.deep.equal([]);
    });

    it('error offsets are absolute and name the field', () => {
      expectDecodeError(() => decodeIcmpv6(raBytes.subarray(0, 30), 54), 'prefix-information', 54 + 16);
      expectDecodeError(() => decodeIcmpv6(raBytes.subarray(0, 10), 54), 'router-advertisement', 54 + 4);
      expectDecodeError(() => decodeIcmpv6(Buffer.alloc(3), 54), 'header', 54);
    });

    it('reads the RA flag bits that later RFCs define', () => {
      const flags = (byte: number) => decodeIcmpv6(Buffer.from([134, 0, 0, 0, 64, byte, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]));
      expect(flags(0x80)).to.include({ managed: true, other: false, preference: 'medium' });
      expect(flags(0x08)).to.include({ preference: 'high' });
      expect(flags(0x18)).to.include({ preference: 'low' });
      expect(flags(0x10)).to.include({ preference: 'reserved' });
      expect(flags(0x24)).to.include({ homeAgent: true, proxy: true, reserved: 0 });
      expect(flags(0x03)).to.include({ managed: false, reserved: 3 });
    });

    it('reads the NA R flag from the top bit', () => {
      const bytes = hex(`88 00 0000   80000001   ${'00'.repeat(16)}`);
      expect(decodeIcmpv6(bytes)).to.include({ router: true, solicited: false, override: false, reserved: 1 });
      expect(encodeIcmpv6(decodeIcmpv6(bytes)).toString('hex')).to.equal(bytes.toString('hex'));
    });

    it('type number tables match the IANA registry', () => {
      expect(ICMPV6_TYPE_NUMBERS).to.include({ 'router-advertisement': 134, 'neighbor-solicitation': 135, 'mld2-report': 143 });
      expect(ND_OPTION_NUMBERS).to.include({ 'prefix-information': 3, nonce: 14, rdnss: 25 });
    });
  });

  describe('ND options', () => {
    it('rejects a zero length (RFC 4861 §4.6) naming the length byte', () => {
      expectDecodeError(() => decodeNdOptions(hex(`01 01 ${MAC}   01 00 000000000000`), 0, 100), 'length', 100 + 9);
    });

    it('rejects fixed-size options whose length disagrees', () => {
      expectDecodeError(() => decodeNdOptions(hex('05 02 0000 000005dc 0000000000000000'), 0), 'mtu.length', 1);
      expectDecodeError(() => decodeNdOptions(hex('03 01 40c0 00000000'), 0), 'prefix-information', 2);
    });

    it('rejects an RDNSS option with an even length', () => {
      expectDecodeError(() => decodeNdOptions(hex(`19 02 0000 00000e10 ${'00'.repeat(8)}`), 0), 'rdnss.servers', 8);
    });

    it('rejects an option running past the message', () => {
      expectDecodeError(() => decodeNdOptions(hex('03 04 40c0 00000000'), 0), 'prefix-information', 0);
    });

    it('pads link-layer addresses to 8 bytes and keeps the padding on decode', () => {
      const eui64: NdOption = { type: 'source-link-layer-address', address: '02:11:22:ff:fe:33:44:55' };
      const bytes = encodeNdOptions([eui64]);
      expect(bytes.toString('hex')).to.equal(`0102${'021122fffe334455'}${'00'.repeat(6)}`);
      expect(decodeNdOptions(bytes, 0)).to.deep.equal([{ ...eui64, address: `${eui64.address}${':00'.repeat(6)}` }]);
    });

    it('refuses options longer than 255 units', () => {
      expect(() => encodeNdOptions([{ type: 'nonce', nonce: Buffer.alloc(2039) }])).to.throw(RangeError);
    });

    for (const [name, arb] of Object.entries(ndOptionArbitraries)) {
      it(`${name}: round-trips model and bytes`, () => {
        fc.assert(
          fc.property(fc.array(arb as fc.Arbitrary<NdOption>, { minLength: 1, maxLength: 3 }), (options) => {
            const bytes = encodeNdOptions(options);
            expect(bytes.length % 8).to.equal(0);
            expect(decodeNdOptions(bytes, 0)).to.deep.equal(options);
            expect(encodeNdOptions(decodeNdOptions(bytes, 0)).toString('hex')).to.equal(bytes.toString('hex'));
          }),
        );
      });
    }
  });

  describe('encoder', () => {
    it('refuses values that do not fit their fields', () => {
      expect(() => encodeIcmpv6({ type: 'unknown', icmpType: 1, code: 256, body: Buffer.alloc(0) })).to.throw(RangeError);
      const na: NeighborAdvertisement = {
        type: 'neighbor-advertisement',
        code: 0,
        router: true,
        solicited: false,
        override: false,
        reserved: 2 ** 29,
        target: '::',
        options: [],
      };
      expect(() => encodeIcmpv6(na)).to.throw(RangeError);
      const record = { recordType: 1, auxData: Buffer.alloc(3), multicastAddress: 'ff02::1', sources: [] };
      expect(() => encodeIcmpv6({ type: 'mld2-report', code: 0, records: [record] })).to.throw(RangeError);
    });

    it('accepts any IPv6 text and decodes it canonical', () => {
      const msg = decodeIcmpv6(encodeIcmpv6({ type: 'neighbor-solicitation', code: 0, target: 'FE80:0:0::0:1', options: [] }));
      expect(msg).to.include({ target: 'fe80::1' });
    });

    it('leaves the checksum zero', () => {
      fc.assert(
        fc.property(arbIcmpv6Message, (m) => {
          expect(encodeIcmpv6(m).readUInt16BE(2)).to.equal(0);
        }),
      );
    });
  });

  describe('properties', () => {
    for (const [name, arb] of Object.entries(icmpv6MessageArbitraries)) {
      it(`${name}: decode(encode(m)) = m and encode(decode(bytes)) = bytes`, () => {
        fc.assert(
          fc.property(arb as fc.Arbitrary<Icmpv6Message>, (msg) => {
            const bytes = encodeIcmpv6(msg);
            expect(decodeIcmpv6(bytes)).to.deep.equal(msg);
            expect(encodeIcmpv6(decodeIcmpv6(bytes)).toString('hex')).to.equal(bytes.toString('hex'));
          }),
        );
      });

      it(`${name}: every truncation is a DecodeError or a shorter valid message`, () => {
        fc.assert(
          fc.property(arb as fc.Arbitrary<Icmpv6Message>, (msg) => {
            const bytes = encodeIcmpv6(msg);
            for (let n = 0; n < bytes.length; n++) decodesTruncated(bytes, n, 14);
          }),
          { numRuns: 50 },
        );
      });
    }

    // Random bytes, random bytes behind a known type, and mutated valid messages (which reach option and record parsing).
    const knownTypes = Object.values(ICMPV6_TYPE_NUMBERS);
    const noise = fc.uint8Array({ maxLength: 96 }).map((a) => Buffer.from(a));
    const typed = fc.tuple(fc.constantFrom(...knownTypes), noise).map(([t, rest]) => Buffer.concat([Buffer.from([t, 0, 0, 0]), rest]));
    const mutated = fc
      .tuple(arbIcmpv6Message, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }), fc.nat())
      .map(([msg, edits, cut]) => {
        const bytes = encodeIcmpv6(msg);
        for (const [at, value] of edits) if (bytes.length > 0) bytes[at % bytes.length] = value;
        return bytes.subarray(0, bytes.length - (cut % 9));
      });

    it('20k arbitrary buffers: only DecodeError, and what decodes re-encodes to the same model', () => {
      fc.assert(
        fc.property(fc.oneof(noise, typed, mutated), (bytes) => {
          let msg: Icmpv6Message;
          try {
            msg = decodeIcmpv6(bytes, 14);
          } catch (err) {
            expect(err).to.be.instanceOf(DecodeError);
            return;
          }
          expect(decodeIcmpv6(encodeIcmpv6(msg))).to.deep.equal(msg);
        }),
        { numRuns: 20_000 },
      );
    });
  });
});
