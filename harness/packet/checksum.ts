/** The Internet checksum (RFC 1071) over the IPv6 pseudo-header (RFC 8200 §8.1), as UDP and ICMPv6 use it. */

function sum16(buf: Uint8Array, acc: number): number {
  let s = acc;
  const even = buf.length & ~1;
  for (let i = 0; i < even; i += 2) s += (buf[i]! << 8) | buf[i + 1]!;
  if (buf.length & 1) s += buf[buf.length - 1]! << 8;
  return s;
}

/** One's-complement sum of the pseudo-header and `upper`, folded to 16 bits. */
function pseudoHeaderSum(src: Uint8Array, dst: Uint8Array, nextHeader: number, upper: Uint8Array): number {
  const len = upper.length;
  let s = sum16(upper, sum16(dst, sum16(src, 0)));
  s += Math.floor(len / 0x10000) + (len & 0xffff) + nextHeader;
  while (s > 0xffff) s = (s & 0xffff) + Math.floor(s / 0x10000);
  return s;
}

/** Checksum to store in `upper`, whose checksum field must be zero. UDP sends 0 as 0xffff (RFC 8200 §8.1). */
export function pseudoHeaderChecksum(src: Uint8Array, dst: Uint8Array, nextHeader: number, upper: Uint8Array): number {
  const c = ~pseudoHeaderSum(src, dst, nextHeader, upper) & 0xffff;
  return c === 0 ? 0xffff : c;
}

/** True when `upper`, checksum field as received, sums to all ones under the pseudo-header. */
export function verifyPseudoHeaderChecksum(src: Uint8Array, dst: Uint8Array, nextHeader: number, upper: Uint8Array): boolean {
  return pseudoHeaderSum(src, dst, nextHeader, upper) === 0xffff;
}
