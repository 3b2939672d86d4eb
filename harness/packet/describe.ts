/**
 * The display form of decoded frames, as `v6pod decode` prints them: protocol types by name and
 * number ("ia-pd (25)"), status codes by name, transaction ids and byte strings in hex. Addresses
 * and MACs are already canonical text in the codec model. `describeFrame` gives a JSON-ready object,
 * `frameLine` one compact line.
 */
import { decodeFrame, type DecodedFrame } from './frame.ts';
import { DecodeError } from './errors.ts';
import type { PcapRecord } from './pcap.ts';
import { DHCPV6_MESSAGE_NUMBERS, DHCPV6_OPTION_NUMBERS, DHCPV6_STATUS_CODES, DUID_TYPE_NUMBERS, numberLabel } from './dhcpv6.ts';
import { ICMPV6_TYPE_NUMBERS } from './icmpv6.ts';
import { ND_OPTION_NUMBERS } from './nd-options.ts';
import { EXTENSION_NUMBERS, PROTO } from './ipv6.ts';

type Table = Readonly<Record<string, number>>;
type Shown = string | number | boolean | null | Shown[] | { [key: string]: Shown };

const DHCPV6_NAMES: Table = { ...DHCPV6_MESSAGE_NUMBERS, ...DHCPV6_OPTION_NUMBERS, ...DUID_TYPE_NUMBERS };
const ICMPV6_NAMES: Table = { ...ICMPV6_TYPE_NUMBERS, ...ND_OPTION_NUMBERS };
const PROTOCOL_NAMES: Table = { udp: PROTO.udp, icmpv6: PROTO.icmpv6, tcp: PROTO.tcp, 'no-next-header': PROTO.noNext };
/** The field an `unknown` variant keeps its raw type number in, per layer. */
const UNKNOWN_NUMBER_FIELDS = ['msgType', 'optionCode', 'duidType', 'icmpType', 'optionType'];

function hex(buf: Uint8Array): string {
  return Buffer.from(buf).toString('hex');
}

/** Recursively converts a codec value to its display form, naming `type` fields from `names`. */
function show(value: unknown, names: Table): Shown {
  if (Buffer.isBuffer(value) || value instanceof Uint8Array) return hex(value);
  if (Array.isArray(value)) return value.map((v) => show(v, names));
  if (value === null || typeof value !== 'object') return value as Shown;
  const obj = value as Record<string, unknown>;
  const out: Record<string, Shown> = {};
  if (typeof obj.type === 'string') {
    const raw = obj.type === 'unknown' ? UNKNOWN_NUMBER_FIELDS.find((f) => typeof obj[f] === 'number') : undefined;
    out.type = raw !== undefined ? `unknown (${obj[raw] as number})` : names[obj.type] !== undefined ? `${obj.type} (${names[obj.type]})` : obj.type;
  }
  for (const [key, v] of Object.entries(obj)) {
    if (key === 'type' || (obj.type === 'unknown' && UNKNOWN_NUMBER_FIELDS.includes(key))) continue;
    if (key === 'transactionId' && typeof v === 'number') out[key] = `0x${v.toString(16).padStart(6, '0')}`;
    else if (obj.type === 'status-code' && key === 'code' && typeof v === 'number') out[key] = numberLabel(DHCPV6_STATUS_CODES, v);
    else if (obj.type === 'oro' && key === 'requested' && Array.isArray(v)) out[key] = v.map((c: number) => numberLabel(DHCPV6_OPTION_NUMBERS, c));
    else out[key] = show(v, names);
  }
  return out;
}

export interface FrameMeta {
  index: number;
  timestampUs?: number;
  length: number;
}

export function describeFrame(frame: DecodedFrame, meta: FrameMeta): Record<string, Shown> {
  const out: Record<string, Shown> = { frame: meta.index, length: meta.length };
  if (meta.timestampUs !== undefined) out.time = +(meta.timestampUs / 1e6).toFixed(6);
  const { vlan, ...eth } = frame.ethernet;
  out.ethernet = { ...eth, etherType: `0x${eth.etherType.toString(16).padStart(4, '0')}`, ...(vlan ? { vlan: show(vlan, {}) } : {}) };
  if (frame.ipv6) out.ipv6 = show(frame.ipv6, {});
  if (frame.extensions) out.extensions = show(frame.extensions, EXTENSION_NUMBERS);
  if (frame.protocol !== undefined) out.protocol = numberLabel(PROTOCOL_NAMES, frame.protocol);
  if (frame.udp) out.udp = show(frame.udp, {});
  if (frame.icmpv6) out.icmpv6 = show(frame.icmpv6, ICMPV6_NAMES);
  if (frame.dhcpv6) out.dhcpv6 = show(frame.dhcpv6, DHCPV6_NAMES);
  if (frame.checksumStatus) out.checksum = { value: `0x${frame.checksumStatus.value.toString(16).padStart(4, '0')}`, valid: frame.checksumStatus.valid };
  if (frame.payload) out.payload = hex(frame.payload);
  return out;
}

/** Compact text of a display value: `name (n){key=value …}`, arrays in brackets. */
function inline(value: Shown): string {
  if (Array.isArray(value)) return `[${value.map(inline).join(', ')}]`;
  if (value === null || typeof value !== 'object') return String(value);
  const { type, ...rest } = value;
  const body = Object.entries(rest)
    .map(([k, v]) => `${k}=${inline(v)}`)
    .join(' ');
  return type !== undefined ? `${String(type)}{${body}}` : `{${body}}`;
}

const LAYERS = ['ethernet', 'ipv6', 'extensions', 'protocol', 'udp', 'icmpv6', 'dhcpv6', 'checksum', 'payload'];

export function frameLine(shown: Record<string, Shown>): string {
  const head = [`#${String(shown.frame)}`, ...(shown.time !== undefined ? [`t=${String(shown.time)}`] : []), `len=${String(shown.length)}`].join(' ');
  return [head, ...LAYERS.filter((l) => shown[l] !== undefined).map((l) => `${l} ${inline(shown[l]!)}`)].join(' | ');
}

/** One captured frame as `v6pod decode` and `v6pod capture` print it (a line, or JSON); a frame that does not decode says why. */
export function recordLine(rec: PcapRecord, index: number, json: boolean): { line: string; decoded: boolean } {
  const meta = { index, timestampUs: rec.timestampUs, length: rec.data.length };
  try {
    const shown = describeFrame(decodeFrame(rec.data), meta);
    return { line: json ? JSON.stringify(shown) : frameLine(shown), decoded: true };
  } catch (err) {
    if (!(err instanceof DecodeError)) throw err;
    const error = { layer: err.layer, field: err.field, offset: err.offset, reason: err.reason };
    return {
      line: json ? JSON.stringify({ frame: index, length: meta.length, error }) : `#${index} len=${meta.length} | error ${err.message}`,
      decoded: false,
    };
  }
}
