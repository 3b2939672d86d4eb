/** A pcap byte stream (tcpdump -w - as it writes) cut into records as the bytes arrive. */
import { parsePcap, type PcapRecord } from './pcap.ts';

const PCAP_HEADER = 24;
const RECORD_HEADER = 16;

/**
 * Splits a pcap byte stream into records as bytes arrive: the record length is read from each
 * record header (in the byte order the file header's magic gives), and the complete record is
 * parsed by pcap.ts behind a copy of the file header.
 */
export class PcapStream {
  private buf = Buffer.alloc(0);
  private header: Buffer | undefined;
  linkType: number | undefined;

  push(chunk: Buffer): PcapRecord[] {
    this.buf = Buffer.concat([this.buf, chunk]);
    if (!this.header) {
      if (this.buf.length < PCAP_HEADER) return [];
      this.header = Buffer.from(this.buf.subarray(0, PCAP_HEADER));
      this.linkType = parsePcap(this.header, 'tcpdump output').linkType;
      this.buf = this.buf.subarray(PCAP_HEADER);
    }
    const le = [0xa1b2c3d4, 0xa1b23c4d].includes(this.header.readUInt32LE(0));
    const out: PcapRecord[] = [];
    while (this.buf.length >= RECORD_HEADER) {
      const size = RECORD_HEADER + (le ? this.buf.readUInt32LE(8) : this.buf.readUInt32BE(8));
      if (this.buf.length < size) break;
      out.push(...parsePcap(Buffer.concat([this.header, this.buf.subarray(0, size)]), 'tcpdump output').records);
      this.buf = this.buf.subarray(size);
    }
    return out;
  }
}
