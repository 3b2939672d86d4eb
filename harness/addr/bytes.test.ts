/**
 * The hand-written IPv6 and colon-hex conversions in bytes.ts against their references:
 * ipaddr.js for IPv6 (RFC 5952 text, and which text is valid), the regex grammar for colon-hex.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import ipaddr from 'ipaddr.js';
import { hexColon, hexColonToBytes, ipv6FromBytes, ipv6ToBytes } from './bytes.ts';

/** Bytes biased towards zero groups, so compression runs of every length and position come up. */
const groupBytes = fc
  .array(fc.oneof(fc.constant(0), fc.constant(0), fc.integer({ min: 0, max: 0xffff }), fc.constantFrom(1, 0xff, 0x100, 0xfe80, 0xffff)), {
    minLength: 8,
    maxLength: 8,
  })
  .map((groups) => {
    const b = Buffer.alloc(16);
    groups.forEach((g, i) => b.writeUInt16BE(g, 2 * i));
    return b;
  });

const reference = (b: Uint8Array) => (ipaddr.fromByteArray(Array.from(b)) as ipaddr.IPv6).toRFC5952String();

/** Text forms of the same bytes: canonical, full, leading zeros, upper case, "::" over any zero run. */
const textForms = groupBytes.chain((b) => {
  const groups = Array.from({ length: 8 }, (_, i) => b.readUInt16BE(2 * i));
  return fc.record({ b: fc.constant(b), pad: fc.boolean(), upper: fc.boolean(), cut: fc.nat(8), len: fc.nat(8) }).map(({ pad, upper, cut, len }) => {
    let parts = groups.map((g) => (pad ? g.toString(16).padStart(4, '0') : g.toString(16)));
    if (upper) parts = parts.map((p) => p.toUpperCase());
    // Compress groups [cut, cut+len) when they are all zero (any run, not only the canonical one).
    const end = Math.min(8, cut + len);
    const text =
      len > 0 && cut < 8 && groups.slice(cut, end).every((g) => g === 0) ? `${parts.slice(0, cut).join(':')}::${parts.slice(end).join(':')}` : parts.join(':');
    return { b, text };
  });
});

describe('addr: IPv6 bytes ↔ text (against ipaddr.js)', () => {
  it('prints canonical RFC 5952 text', () => {
    expect(ipv6FromBytes(Buffer.alloc(16))).to.equal('::');
    expect(ipv6FromBytes(ipv6ToBytes('2001:db8:0:0:1:0:0:1'))).to.equal('2001:db8::1:0:0:1');
    expect(ipv6FromBytes(ipv6ToBytes('2001:db8:0:1:1:1:1:1'))).to.equal('2001:db8:0:1:1:1:1:1');
    expect(ipv6FromBytes(ipv6ToBytes('fe80::20c:dbff:fef9:cf00'))).to.equal('fe80::20c:dbff:fef9:cf00');
    expect(ipv6FromBytes(Buffer.concat([Buffer.alloc(3), ipv6ToBytes('::1')]), 3)).to.equal('::1');
    expect(() => ipv6FromBytes(Buffer.alloc(15))).to.throw(RangeError);
  });

  it('property: bytes → text equals ipaddr.js toRFC5952String', () => {
    fc.assert(
      fc.property(groupBytes, (b) => {
        expect(ipv6FromBytes(b)).to.equal(reference(b));
      }),
      { numRuns: 5000 },
    );
  });

  it('property: every text form of an address parses to its bytes, as ipaddr.js does', () => {
    fc.assert(
      fc.property(textForms, ({ b, text }) => {
        expect(ipv6ToBytes(text)).to.deep.equal(b);
        expect(Buffer.from(ipaddr.IPv6.parse(text).toByteArray())).to.deep.equal(b);
      }),
      { numRuns: 5000 },
    );
  });

  it('property: random text is accepted exactly when ipaddr.js accepts it, with the same bytes', () => {
    const alphabet = fc.constantFrom(...'0123456789abcdefABCDEF::::::.%g '.split(''));
    fc.assert(
      fc.property(fc.string({ unit: alphabet, minLength: 0, maxLength: 42 }), (text) => {
        const valid = ipaddr.IPv6.isValid(text) && !text.includes('%');
        if (!valid) expect(() => ipv6ToBytes(text)).to.throw(/not an IPv6 address/);
        // Embedded IPv4 aside (bytes.ts deliberately keeps "::1.2.3.4" apart, see ipv6ToBytes), the bytes agree.
        else if (!text.includes('.')) expect(ipv6ToBytes(text)).to.deep.equal(Buffer.from(ipaddr.IPv6.parse(text).toByteArray()));
      }),
      { numRuns: 20000 },
    );
  });

  it('property: one-character edits of valid text are accepted exactly when ipaddr.js accepts them, with the same bytes', () => {
    const edit = fc.record({ at: fc.nat(40), op: fc.constantFrom('insert', 'delete', 'replace'), c: fc.constantFrom(...'0fF:.%'.split('')) });
    fc.assert(
      fc.property(textForms, edit, ({ text }, { at, op, c }) => {
        const i = at % (text.length + 1);
        const edited =
          op === 'insert'
            ? text.slice(0, i) + c + text.slice(i)
            : op === 'delete'
              ? text.slice(0, i) + text.slice(i + 1)
              : text.slice(0, i) + c + text.slice(i + 1);
        const valid = ipaddr.IPv6.isValid(edited) && !edited.includes('%');
        if (!valid) expect(() => ipv6ToBytes(edited)).to.throw(/not an IPv6 address/);
        else if (!edited.includes('.')) expect(ipv6ToBytes(edited)).to.deep.equal(Buffer.from(ipaddr.IPv6.parse(edited).toByteArray()));
      }),
      { numRuns: 20000 },
    );
  });

  it('refuses the near misses of the plain form', () => {
    for (const bad of [
      '',
      ':',
      ':::',
      '1::2::3',
      '1:2:3:4:5:6:7',
      '1:2:3:4:5:6:7:8:9',
      '1:2:3:4:5:6:7:8::',
      ':1::',
      '1::2:',
      '00000::1',
      'g::1',
      ' ::1',
      '::1 ',
      'fe80::1%eth0',
    ]) {
      expect(() => ipv6ToBytes(bad), bad).to.throw(/not an IPv6 address/);
    }
    expect(ipv6ToBytes('1:2:3:4:5:6:7::').toString('hex')).to.equal('00010002000300040005000600070000');
    expect(ipv6ToBytes('::2:3:4:5:6:7:8').toString('hex')).to.equal('00000002000300040005000600070008');
  });
});

describe('addr: colon-hex bytes ↔ text', () => {
  it('property: round trip, lower case', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 20 }), (b) => {
        const text = hexColon(b);
        expect(text).to.equal(Array.from(b, (x) => x.toString(16).padStart(2, '0')).join(':'));
        expect(hexColonToBytes(text)).to.deep.equal(Buffer.from(b));
        expect(hexColonToBytes(text.toUpperCase())).to.deep.equal(Buffer.from(b));
      }),
    );
  });

  it('property: accepts exactly the /^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2})*$/ grammar', () => {
    const alphabet = fc.constantFrom(...'0aF9g:-: '.split(''));
    fc.assert(
      fc.property(fc.string({ unit: alphabet, maxLength: 14 }), (text) => {
        if (text === '' || /^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2})*$/.test(text))
          expect(hexColonToBytes(text)).to.deep.equal(Buffer.from(text.replaceAll(':', ''), 'hex'));
        else expect(() => hexColonToBytes(text)).to.throw(/not colon-separated hex bytes/);
      }),
      { numRuns: 5000 },
    );
  });
});
