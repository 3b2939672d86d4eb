/**
 * IPv6 prefixes as values: strict parsing (host bits must be zero), canonical RFC 5952 text,
 * carving the n-th sub-prefix out of a larger one, containment and overlap. Math is on 128-bit
 * BigInts; text goes through ipaddr.js (via bytes.ts).
 */
import ipaddr from 'ipaddr.js';
import { ipv6FromBytes, ipv6ToBytes } from './bytes.ts';

const BITS = 128;

export function ipv6ToBigInt(text: string): bigint {
  return BigInt(`0x${ipv6ToBytes(text).toString('hex')}`);
}

export function bigIntToIpv6(value: bigint): string {
  return ipv6FromBytes(Buffer.from(value.toString(16).padStart(32, '0'), 'hex'));
}

function hostMask(length: number): bigint {
  return (1n << BigInt(BITS - length)) - 1n;
}

export class Prefix {
  private constructor(
    /** The network address as a 128-bit integer (host bits zero). */
    readonly network: bigint,
    readonly length: number,
  ) {}

  /** Parses "address/length"; throws when the text is not a prefix or has host bits set. */
  static parse(text: string): Prefix {
    const m = /^([0-9A-Fa-f:.]+)\/(0|[1-9][0-9]{0,2})$/.exec(text);
    const length = Number(m?.[2]);
    if (!m || !ipaddr.IPv6.isValid(m[1]!) || length > BITS) {
      throw new Error(`'${text}' is not an IPv6 prefix (want address/length, e.g. 2001:db8::/64)`);
    }
    return Prefix.of(ipv6ToBigInt(m[1]!), length, text);
  }

  /** A prefix from its integer network; throws when host bits are set. */
  static of(network: bigint, length: number, text = `${bigIntToIpv6(network)}/${length}`): Prefix {
    if (!Number.isInteger(length) || length < 0 || length > BITS) throw new Error(`prefix length ${length} is not in 0..128`);
    if (network < 0n || network >> BigInt(BITS) !== 0n) throw new Error(`${network} is not a 128-bit address`);
    const host = network & hostMask(length);
    if (host !== 0n) {
      throw new Error(`${text} has host bits set (the network is ${new Prefix(network & ~host, length)})`);
    }
    return new Prefix(network, length);
  }

  /** Canonical text: RFC 5952 network address, "/", length. */
  toString(): string {
    return `${bigIntToIpv6(this.network)}/${this.length}`;
  }

  equals(other: Prefix): boolean {
    return this.network === other.network && this.length === other.length;
  }

  /** How many /`length` prefixes this one holds. */
  subprefixCount(length: number): bigint {
    if (!Number.isInteger(length) || length < this.length || length > BITS) {
      throw new Error(`cannot carve a /${length} out of ${this}: the length must be in ${this.length}..${BITS}`);
    }
    return 1n << BigInt(length - this.length);
  }

  /** The `index`-th /`length` inside this prefix, counting from 0; throws when the index is out of range. */
  carve(length: number, index: bigint | number): Prefix {
    const count = this.subprefixCount(length);
    if (typeof index === 'number' && !Number.isSafeInteger(index)) throw new Error(`index ${index} is not an integer`);
    const n = BigInt(index);
    if (n < 0n || n >= count) {
      throw new RangeError(`${this} holds ${count} /${length}s (index 0..${count - 1n}); index ${n} is out of range`);
    }
    return new Prefix(this.network | (n << BigInt(BITS - length)), length);
  }

  /** The inverse of carve: the index of `inner` among this prefix's /inner.length sub-prefixes. */
  indexOf(inner: Prefix): bigint {
    if (!this.containsPrefix(inner)) throw new Error(`${inner} is not inside ${this}`);
    return (inner.network & hostMask(this.length)) >> BigInt(BITS - inner.length);
  }

  containsAddress(address: string): boolean {
    return (ipv6ToBigInt(address) & ~hostMask(this.length)) === this.network;
  }

  containsPrefix(inner: Prefix): boolean {
    return inner.length >= this.length && (inner.network & ~hostMask(this.length)) === this.network;
  }

  /** Two prefixes overlap exactly when one contains the other (prefixes nest, they never straddle). */
  overlaps(other: Prefix): boolean {
    return this.containsPrefix(other) || other.containsPrefix(this);
  }

  /** The address at `offset` from the network address (0 is the network address itself). */
  address(offset: bigint = 0n): string {
    if (offset < 0n || offset > hostMask(this.length)) throw new RangeError(`offset ${offset} is outside ${this}`);
    return bigIntToIpv6(this.network | offset);
  }
}

/** Canonical text of prefix text; throws like Prefix.parse. */
export function canonicalPrefix(text: string): string {
  return Prefix.parse(text).toString();
}
