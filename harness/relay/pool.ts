/**
 * Whether a delegated prefix lies inside the pod's delegation pool, answered on the prefix's wire
 * bytes: the relay asks for every prefix of every Reply, and parsing each text into a Prefix
 * (BigInts, ipaddr.js) cost more than the rest of the Reply. Same answer as
 * `pool.containsPrefix(Prefix.parse(text))` (pool.test.ts), including "no" for host bits set.
 */
import { Prefix } from '../addr/prefix.ts';
import { ipv6ToBytes } from '../addr/bytes.ts';

export class DelegationPool {
  private readonly network: Buffer;
  private readonly length: number;

  constructor(pool: string) {
    const p = Prefix.parse(pool);
    this.network = ipv6ToBytes(p.address());
    this.length = p.length;
  }

  /** The prefix of `length` bits whose 16 address bytes sit at buf[at]: inside the pool, and no bits set beyond `length`. */
  contains(buf: Uint8Array, at: number, length: number): boolean {
    if (length < this.length || length > 128) return false;
    for (let bit = 0; bit < 128; bit += 8) {
      const byte = buf[at + bit / 8]!;
      // Bits of this byte the pool fixes, and bits beyond the prefix length (host bits).
      const fixed = maskOf(this.length - bit);
      const host = ~maskOf(length - bit) & 0xff;
      if ((byte & fixed) !== (this.network[bit / 8]! & fixed) || (byte & host) !== 0) return false;
    }
    return true;
  }
}

/** The top `bits` bits of a byte (0..8, clamped). */
const maskOf = (bits: number) => (bits <= 0 ? 0 : bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff);
