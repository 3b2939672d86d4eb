/**
 * The mutation engine the fuzz test and the reliability bench share: mutants of real frames (bit flips, edge values, truncation, extension, splices, inserts and
 * deletes), with the IPv6/UDP lengths fixed up half the time so mutants reach the layers beneath.
 */
import type { Rng } from '../../os/prng.ts';

// Values at the edges of length and count fields, where off-by-one bugs live.
const INTERESTING = [0x00, 0x01, 0x02, 0x03, 0x04, 0x06, 0x07, 0x08, 0x10, 0x1f, 0x20, 0x3f, 0x40, 0x7f, 0x80, 0xfe, 0xff];

/**
 * Rewrites the IPv6 payload length (and a directly following UDP length) to fit the buffer, so a
 * mutant that changed the size gets past those checks and exercises the layers beneath.
 */
export function fixLengths(buf: Buffer): Buffer {
  if (buf.length < 14) return buf;
  const ip = buf.readUInt16BE(12) === 0x8100 ? 18 : 14;
  if (buf.length < ip + 40 || buf.readUInt16BE(ip - 2) !== 0x86dd) return buf;
  const payload = Math.min(buf.length - ip - 40, 0xffff);
  buf.writeUInt16BE(payload, ip + 4);
  if (buf[ip + 6] === 17 && payload >= 8) buf.writeUInt16BE(payload, ip + 44);
  return buf;
}

const MUTATIONS: Array<(buf: Buffer, rng: Rng, other: Buffer) => Buffer> = [
  function flipBits(buf, rng) {
    for (let n = 1 + rng.int(4); n > 0 && buf.length; n--) buf[rng.int(buf.length)]! ^= 1 << rng.int(8);
    return buf;
  },
  function setBytes(buf, rng) {
    for (let n = 1 + rng.int(3); n > 0 && buf.length; n--) buf[rng.int(buf.length)] = rng.int(2) ? rng.pick(INTERESTING) : rng.int(256);
    return buf;
  },
  (buf, rng) => buf.subarray(0, rng.int(buf.length + 1)), // truncate
  (buf, rng) => Buffer.concat([buf, rng.bytes(1 + rng.int(64))]), // extend
  (buf, rng, other) => Buffer.concat([buf.subarray(0, rng.int(buf.length + 1)), other.subarray(rng.int(other.length + 1))]), // splice
  function insertOrDelete(buf, rng) {
    const at = rng.int(buf.length + 1);
    return rng.int(2)
      ? Buffer.concat([buf.subarray(0, at), rng.bytes(1 + rng.int(8)), buf.subarray(at)])
      : Buffer.concat([buf.subarray(0, at), buf.subarray(at + 1 + rng.int(8))]);
  },
];

/** Random bytes; half of them behind an Ethernet header saying IPv6 and a version-6 nibble, so they reach the IPv6 layer and below. */
export function randomFrame(rng: Rng): Buffer {
  const buf = rng.bytes(rng.int(160));
  if (rng.int(2) || buf.length < 15) return buf;
  buf.writeUInt16BE(0x86dd, 12);
  buf[14] = 0x60 | (buf[14]! & 0x0f);
  return rng.int(2) ? fixLengths(buf) : buf;
}

export function mutate(seedFrame: Buffer, rng: Rng, corpus: readonly Buffer[]): Buffer {
  let buf: Buffer = Buffer.from(seedFrame);
  for (let n = 1 + rng.int(3); n > 0; n--) buf = MUTATIONS[rng.int(MUTATIONS.length)]!(buf, rng, rng.pick(corpus));
  return rng.int(2) ? fixLengths(Buffer.from(buf)) : buf;
}
