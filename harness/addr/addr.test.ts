import { expect } from 'chai';
import fc from 'fast-check';
import { canonicalIpv6, ipv6ToBytes } from './bytes.ts';
import { interfaceIdFromMac, invertUniversalLocal, macFromInterfaceId } from './eui64.ts';
import { assertUnicastMac, generateMac, isLocallyAdministeredMac, isMulticastMac, parseMac } from './mac.ts';
import { canonicalPrefix, Prefix } from './prefix.ts';
import { linkLocalAddress, slaacAddress } from './slaac.ts';

const macBytes = fc.uint8Array({ minLength: 6, maxLength: 6 });
const macText = macBytes.map((b) => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join(':'));

describe('addr: modified EUI-64 (RFC 4291 App. A)', () => {
  it('inserts ff:fe and inverts the U/L bit', () => {
    expect(interfaceIdFromMac('00:0c:db:f9:cf:00').toString('hex')).to.equal('020cdbfffef9cf00');
    expect(interfaceIdFromMac('06:7a:88:00:00:8b').toString('hex')).to.equal('047a88fffe00008b');
  });

  it('recovers the MAC from a MAC-derived interface id, refuses others', () => {
    expect(macFromInterfaceId(Buffer.from('020cdbfffef9cf00', 'hex'))).to.equal('00:0c:db:f9:cf:00');
    expect(() => macFromInterfaceId(Buffer.from('0000000000000001', 'hex'))).to.throw(/not MAC-derived/);
  });

  it('property: inverting the U/L bit twice is the identity, once changes only that bit', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 8 }), (bytes) => {
        const once = invertUniversalLocal(bytes);
        expect(invertUniversalLocal(once)).to.deep.equal(Buffer.from(bytes));
        expect(once[0]! ^ bytes[0]!).to.equal(0x02);
        expect(once.subarray(1)).to.deep.equal(Buffer.from(bytes.subarray(1)));
      }),
    );
  });

  it('property: MAC → interface id → MAC is the identity, with the U/L bit inverted in between', () => {
    fc.assert(
      fc.property(macText, (mac) => {
        const iid = interfaceIdFromMac(mac);
        expect(macFromInterfaceId(iid)).to.equal(mac);
        expect((iid[0]! & 0x02) !== 0).to.equal(!isLocallyAdministeredMac(mac));
      }),
    );
  });
});

describe('addr: SLAAC and link-local (RFC 4862)', () => {
  it("CloudStack's vector: 2001:db8:100::/64 + 06:7a:88:00:00:8b", () => {
    const address = slaacAddress('2001:db8:100::/64', '06:7a:88:00:00:8b');
    // CloudStack's test writes 2001:db8:100::47a:88ff:fe00:8b; RFC 5952 §4.2.2 forbids "::" for one zero group.
    expect(address).to.equal(canonicalIpv6('2001:db8:100::47a:88ff:fe00:8b'));
    expect(address).to.equal('2001:db8:100:0:47a:88ff:fe00:8b');
  });

  it("the seed's route table: the routers' link-locals from their MACs", () => {
    expect(linkLocalAddress('00:0c:db:f9:cf:00')).to.equal('fe80::20c:dbff:fef9:cf00');
    expect(linkLocalAddress('00:12:f2:9c:33:00')).to.equal('fe80::212:f2ff:fe9c:3300');
  });

  it('returns canonical RFC 5952 text whatever form the inputs take', () => {
    expect(slaacAddress('2001:0DB8:0001:0000::/64', '00-0C-DB-F9-CF-00')).to.equal('2001:db8:1:0:20c:dbff:fef9:cf00');
  });

  it('refuses a prefix that is not exactly /64', () => {
    expect(() => slaacAddress('2001:db8::/56', '00:0c:db:f9:cf:00')).to.throw('SLAAC needs exactly a /64, got 2001:db8::/56');
  });

  it('property: the SLAAC address lies in its /64 and ends with the interface id', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), macText, (hi, mac) => {
        const p = Prefix.of(hi << 64n, 64);
        const address = slaacAddress(p, mac);
        expect(p.containsAddress(address)).to.equal(true);
        expect(Prefix.parse(`${address}/128`).network & ((1n << 64n) - 1n)).to.equal(BigInt(`0x${interfaceIdFromMac(mac).toString('hex')}`));
      }),
    );
  });
});

describe('addr: prefixes', () => {
  const pool = Prefix.parse('2001:db8:200::/40');

  it('parses strictly and prints canonical text', () => {
    expect(canonicalPrefix('2001:0db8:0200:0000::/40')).to.equal('2001:db8:200::/40');
    expect(() => Prefix.parse('2001:db8::1/64')).to.throw('2001:db8::1/64 has host bits set (the network is 2001:db8::/64)');
    for (const bad of ['2001:db8::', '2001:db8::/129', '2001:db8::/064', '10.0.0.0/8', 'fe80::%eth0/64', ' 2001:db8::/64', 'x/1']) {
      expect(() => Prefix.parse(bad), bad).to.throw(/is not an IPv6 prefix/);
    }
  });

  it('carves /60s out of the /40: first, second, last, out of range', () => {
    expect(pool.subprefixCount(60)).to.equal(1048576n);
    expect(String(pool.carve(60, 0))).to.equal('2001:db8:200::/60');
    expect(String(pool.carve(60, 1))).to.equal('2001:db8:200:10::/60');
    expect(String(pool.carve(60, 1048575n))).to.equal('2001:db8:2ff:fff0::/60');
    expect(() => pool.carve(60, 1048576)).to.throw('2001:db8:200::/40 holds 1048576 /60s (index 0..1048575); index 1048576 is out of range');
    expect(() => pool.carve(60, -1)).to.throw(/out of range/);
    expect(() => pool.carve(60, 1.5)).to.throw(/not an integer/);
    expect(() => pool.carve(32, 0)).to.throw('cannot carve a /32 out of 2001:db8:200::/40: the length must be in 40..128');
  });

  it('answers containment and overlap', () => {
    const l2 = Prefix.parse('2001:db8:100::/64');
    expect(pool.containsAddress('2001:db8:2ab::1')).to.equal(true);
    expect(pool.containsAddress('2001:db8:100::1')).to.equal(false);
    expect(pool.containsPrefix(Prefix.parse('2001:db8:2ab::/48'))).to.equal(true);
    expect(pool.containsPrefix(Prefix.parse('2001:db8::/32'))).to.equal(false);
    expect(pool.overlaps(l2)).to.equal(false);
    expect(pool.overlaps(Prefix.parse('2001:db8::/32'))).to.equal(true);
    expect(Prefix.parse('::/0').containsPrefix(pool)).to.equal(true);
  });

  const carving = fc
    .record({ high: fc.bigInt({ min: 0n, max: (1n << 128n) - 1n }), outer: fc.integer({ min: 0, max: 128 }), extra: fc.integer({ min: 0, max: 24 }) })
    .map(({ high, outer, extra }) => {
      const parent = Prefix.of(outer === 0 ? 0n : (high >> BigInt(128 - outer)) << BigInt(128 - outer), outer);
      return { parent, length: Math.min(128, outer + extra) };
    });

  it('property: the n-th carved prefix lies inside its parent and carve/indexOf are inverse', () => {
    fc.assert(
      fc.property(carving, fc.bigInt({ min: 0n, max: (1n << 24n) - 1n }), ({ parent, length }, raw) => {
        const n = raw % parent.subprefixCount(length);
        const child = parent.carve(length, n);
        expect(parent.containsPrefix(child)).to.equal(true);
        expect(parent.containsAddress(child.address())).to.equal(true);
        expect(parent.indexOf(child)).to.equal(n);
        expect(Prefix.parse(String(child)).equals(child)).to.equal(true);
      }),
    );
  });

  it('property: distinct indexes give prefixes that do not overlap', () => {
    fc.assert(
      fc.property(carving, fc.bigInt({ min: 0n, max: (1n << 24n) - 1n }), fc.bigInt({ min: 0n, max: (1n << 24n) - 1n }), ({ parent, length }, a, b) => {
        const count = parent.subprefixCount(length);
        fc.pre(a % count !== b % count);
        expect(parent.carve(length, a % count).overlaps(parent.carve(length, b % count))).to.equal(false);
      }),
    );
  });
});

describe('addr: MACs', () => {
  it('parses to canonical lower-case colon form', () => {
    expect(parseMac('06-7A-88-00-00-8B')).to.equal('06:7a:88:00:00:8b');
    expect(() => parseMac('06:7a:88:00:00')).to.throw(/not a 6-byte MAC/);
  });

  it('accepts unicast, refuses multicast, broadcast and zero', () => {
    expect(assertUnicastMac('00:0C:DB:F9:CF:00')).to.equal('00:0c:db:f9:cf:00');
    expect(() => assertUnicastMac('33:33:00:00:00:01')).to.throw('33:33:00:00:00:01 is a multicast MAC (I/G bit set)');
    expect(() => assertUnicastMac('ff:ff:ff:ff:ff:ff')).to.throw(/multicast/);
    expect(() => assertUnicastMac('00:00:00:00:00:00')).to.throw(/all-zero/);
  });

  it('generates the same locally administered MAC for the same seed', () => {
    expect(generateMac('default/vm1')).to.equal(generateMac('default/vm1'));
    expect(generateMac('default/vm1')).to.match(/^02(:[0-9a-f]{2}){5}$/);
    expect(generateMac('default/vm1')).to.not.equal(generateMac('default/vm2'));
  });

  it('property: generated MACs are unicast, locally administered and distinct for distinct seeds', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.string(), { minLength: 1, maxLength: 50 }), (seeds) => {
        const macs = seeds.map(generateMac);
        expect(new Set(macs).size).to.equal(seeds.length);
        for (const mac of macs) {
          expect(isMulticastMac(mac)).to.equal(false);
          expect(isLocallyAdministeredMac(mac)).to.equal(true);
        }
      }),
    );
  });
});

describe('embedded IPv4 text', () => {
  it('keeps IPv4-compatible and IPv4-mapped addresses apart (RFC 4291 §2.5.5)', () => {
    expect(ipv6ToBytes('::1.2.3.4').toString('hex')).to.equal('00000000000000000000000001020304');
    expect(ipv6ToBytes('::ffff:1.2.3.4').toString('hex')).to.equal('00000000000000000000ffff01020304');
  });
});
