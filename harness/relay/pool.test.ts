/** The relay's byte-level pool check answers as Prefix.containsPrefix(Prefix.parse(text)) does. */
import { expect } from 'chai';
import fc from 'fast-check';
import { Prefix } from '../addr/prefix.ts';
import { ipv6FromBytes } from '../addr/bytes.ts';
import { DelegationPool } from './pool.ts';

const byCodec = (pool: Prefix, text: string) => {
  try {
    return pool.containsPrefix(Prefix.parse(text));
  } catch {
    return false; // host bits set, or not a prefix
  }
};

describe('delegation pool check (pool.ts)', () => {
  it('property: same answer as Prefix.containsPrefix on random prefixes near and far from the pool', () => {
    const pools = ['2001:db8:200::/40', '2001:db8::/32', '::/0', '2001:db8:100:ff00::/56', '2001:db8:1:2:3:4:5:6/128'];
    for (const text of pools) {
      const pool = new DelegationPool(text);
      const reference = Prefix.parse(text);
      const base = ipv6Bytes(reference);
      const answers = { inside: 0, outside: 0 };
      fc.assert(
        fc.property(
          fc.uint8Array({ minLength: 16, maxLength: 16 }),
          fc.oneof(fc.integer({ min: 0, max: 130 }), fc.integer({ min: reference.length, max: 128 })),
          fc.oneof(fc.nat(16), fc.constant(16)),
          fc.boolean(),
          (random, length, keep, near) => {
            // Near: the pool's own bytes for the first `keep` bytes, so inside and edge cases are frequent.
            const bytes = Buffer.from(random);
            if (near) base.copy(bytes, 0, 0, keep);
            if (near && keep >= 8) bytes.fill(0, keep); // host bits often clear
            const inside = byCodec(reference, `${ipv6FromBytes(bytes)}/${length}`);
            expect(pool.contains(bytes, 0, length), `${ipv6FromBytes(bytes)}/${length} in ${text}`).to.equal(inside);
            answers[inside ? 'inside' : 'outside']++;
          },
        ),
        { numRuns: 3000 },
      );
      // Both answers must be well represented, or the agreement says little.
      expect(answers.inside, text).to.be.greaterThan(100);
      expect(answers.outside, text).to.be.greaterThan(100);
    }
  });
});

const ipv6Bytes = (p: Prefix) => Buffer.from(p.network.toString(16).padStart(32, '0'), 'hex');
