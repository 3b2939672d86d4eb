/**
 * Classic libpcap files (the format tcpdump -w writes): read and write Ethernet captures.
 * pcapng is refused with a clear error rather than guessed at.
 */
import { readFileSync, writeFileSync } from 'node:fs';

export const LINKTYPE_ETHERNET = 1;

export interface PcapRecord {
  /** Capture time in microseconds since the epoch. */
  timestampUs: number;
  data: Buffer;
  /** Original length on the wire (≥ data.length when the snap length cut it). */
  originalLength: number;
}

const MAGIC_US = 0xa1b2c3d4;
const MAGIC_NS = 0xa1b23c4d;
const PCAPNG_MAGIC = 0x0a0d0d0a;

export class PcapError extends Error {
  override name = 'PcapError';
}

/** `partial`: a file still being written; an incomplete last record is left for the next read. */
export function parsePcap(buf: Buffer, name = 'pcap', partial = false): { linkType: number; records: PcapRecord[] } {
  if (buf.length < 24) throw new PcapError(`${name}: not a pcap file (${buf.length} bytes, header needs 24)`);
  const magicLE = buf.readUInt32LE(0);
  const magicBE = buf.readUInt32BE(0);
  if (magicLE === PCAPNG_MAGIC) throw new PcapError(`${name}: pcapng is not supported; convert it with 'editcap -F pcap'`);
  const le = magicLE === MAGIC_US || magicLE === MAGIC_NS;
  if (!le && magicBE !== MAGIC_US && magicBE !== MAGIC_NS) throw new PcapError(`${name}: not a pcap file (magic 0x${magicBE.toString(16)})`);
  const u32 = (o: number) => (le ? buf.readUInt32LE(o) : buf.readUInt32BE(o));
  const nanos = (le ? magicLE : magicBE) === MAGIC_NS;
  const linkType = u32(20) & 0x0fffffff;
  const records: PcapRecord[] = [];
  let at = 24;
  while (at < buf.length) {
    if (partial && (at + 16 > buf.length || at + 16 + u32(at + 8) > buf.length)) break;
    if (at + 16 > buf.length) throw new PcapError(`${name}: record ${records.length + 1} header truncated at byte ${at}`);
    const caplen = u32(at + 8);
    if (at + 16 + caplen > buf.length) throw new PcapError(`${name}: record ${records.length + 1} data truncated at byte ${at + 16}`);
    const fraction = u32(at + 4);
    records.push({
      timestampUs: u32(at) * 1e6 + (nanos ? Math.floor(fraction / 1000) : fraction),
      originalLength: u32(at + 12),
      data: buf.subarray(at + 16, at + 16 + caplen),
    });
    at += 16 + caplen;
  }
  return { linkType, records };
}

export function readPcap(path: string): { linkType: number; records: PcapRecord[] } {
  return parsePcap(readFileSync(path), path);
}

export function serializePcap(frames: Array<Buffer | PcapRecord>, linkType = LINKTYPE_ETHERNET): Buffer {
  const header = Buffer.alloc(24);
  header.writeUInt32LE(MAGIC_US, 0);
  header.writeUInt16LE(2, 4);
  header.writeUInt16LE(4, 6);
  header.writeUInt32LE(262144, 16);
  header.writeUInt32LE(linkType, 20);
  const parts: Buffer[] = [header];
  frames.forEach((f, i) => {
    const rec: PcapRecord = Buffer.isBuffer(f) ? { timestampUs: i, data: f, originalLength: f.length } : f;
    const h = Buffer.alloc(16);
    h.writeUInt32LE(Math.floor(rec.timestampUs / 1e6), 0);
    h.writeUInt32LE(rec.timestampUs % 1e6, 4);
    h.writeUInt32LE(rec.data.length, 8);
    h.writeUInt32LE(rec.originalLength, 12);
    parts.push(h, rec.data);
  });
  return Buffer.concat(parts);
}

export function writePcap(path: string, frames: Array<Buffer | PcapRecord>): void {
  writeFileSync(path, serializePcap(frames));
}
