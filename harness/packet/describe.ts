/**
 * The display form of decoded frames, as `v6pod decode` prints them. `describeFrame` gives a
 * JSON-ready object in which every protocol number stays a number with its name beside it
 * (`"type": 25, "typeName": "ia-pd"`, `"code": 6, "codeName": "NoPrefixAvail"`), so
 * `jq 'select(.dhcpv6.type == 7)'` works; byte strings are hex, addresses and MACs canonical text.
 * `frameLine` is the one-line text form, where a number and its name read `ia-pd (25)` and
 * transaction ids, EtherTypes and checksums are hex.
 */
import { decodeFrame, type DecodedFrame } from './frame.ts';
import { DecodeError } from './errors.ts';
import type { PcapRecord } from './pcap.ts';
import { DHCPV6_MESSAGE_NUMBERS, DHCPV6_OPTION_NUMBERS, DHCPV6_STATUS_CODES, DUID_TYPE_NUMBERS } from './dhcpv6.ts';
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

/** The name of `value` in `table`, if it has one. */
function nameOf(table: Table, value: number): string | undefined {
  return Object.entries(table).find(([, n]) => n === value)?.[0];
}

/** Recursively converts a codec value to its display form: a named `type` becomes its number, with `typeName` beside it. */
function show(value: unknown, names: Table): Shown {
  if (Buffer.isBuffer(value) || value instanceof Uint8Array) return hex(value);
  if (Array.isArray(value)) return value.map((v) => show(v, names));
  if (value === null || typeof value !== 'object') return value as Shown;
  const obj = value as Record<string, unknown>;
  const out: Record<string, Shown> = {};
  if (typeof obj.type === 'string') {
    const raw = obj.type === 'unknown' ? UNKNOWN_NUMBER_FIELDS.find((f) => typeof obj[f] === 'number') : undefined;
    if (raw !== undefined) Object.assign(out, { type: obj[raw] as number, typeName: 'unknown' });
    else if (names[obj.type] !== undefined) Object.assign(out, { type: names[obj.type]!, typeName: obj.type });
    else out.type = obj.type;
  }
  for (const [key, v] of Object.entries(obj)) {
    if (key === 'type' || (obj.type === 'unknown' && UNKNOWN_NUMBER_FIELDS.includes(key))) continue;
    if (obj.type === 'status-code' && key === 'code' && typeof v === 'number')
      Object.assign(out, { code: v, codeName: nameOf(DHCPV6_STATUS_CODES, v) ?? null });
    else if (obj.type === 'oro' && key === 'requested' && Array.isArray(v))
      Object.assign(out, { requested: v as number[], requestedNames: (v as number[]).map((c) => nameOf(DHCPV6_OPTION_NUMBERS, c) ?? null) });
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
  out.ethernet = { ...eth, ...(vlan ? { vlan: show(vlan, {}) } : {}) };
  if (frame.ipv6) out.ipv6 = show(frame.ipv6, {});
  if (frame.extensions) out.extensions = show(frame.extensions, EXTENSION_NUMBERS);
  if (frame.protocol !== undefined) Object.assign(out, { protocol: frame.protocol, protocolName: nameOf(PROTOCOL_NAMES, frame.protocol) ?? null });
  if (frame.udp) out.udp = show(frame.udp, {});
  if (frame.icmpv6) out.icmpv6 = show(frame.icmpv6, ICMPV6_NAMES);
  if (frame.dhcpv6) out.dhcpv6 = show(frame.dhcpv6, DHCPV6_NAMES);
  if (frame.checksumStatus) out.checksum = { value: frame.checksumStatus.value, valid: frame.checksumStatus.valid };
  if (frame.payload) out.payload = hex(frame.payload);
  return out;
}

/** Fields shown in hex in the text form, with their width in hex digits. */
const HEX_FIELDS: Readonly<Record<string, number>> = { transactionId: 6, etherType: 4 };

/** A number and its name as the text form reads them: `ia-pd (25)`; a number without a name stays a number. */
const labelled = (n: Shown, name: Shown | undefined) => (typeof name === 'string' ? `${name} (${String(n)})` : inline(n));

/** Compact text of a display value: `name (n){key=value …}`, arrays in brackets; `<key>Name` fields fold into their key. */
function inline(value: Shown): string {
  if (Array.isArray(value)) return `[${value.map(inline).join(', ')}]`;
  if (value === null || typeof value !== 'object') return String(value);
  const { type, typeName, ...rest } = value;
  const body = Object.entries(rest)
    .filter(([k]) => !(k.endsWith('Names') || k.endsWith('Name')) || !(k.replace(/Names?$/, '') in rest))
    .map(([k, v]) => {
      const names = rest[`${k}Names`] ?? rest[`${k}Name`];
      if (Array.isArray(v) && Array.isArray(names)) return `${k}=[${v.map((x, i) => labelled(x, names[i])).join(', ')}]`;
      if (typeof v === 'number' && HEX_FIELDS[k]) return `${k}=0x${v.toString(16).padStart(HEX_FIELDS[k]!, '0')}`;
      return `${k}=${names !== undefined ? labelled(v, names) : inline(v)}`;
    })
    .join(' ');
  return type !== undefined ? `${labelled(type, typeName)}{${body}}` : `{${body}}`;
}

const LAYERS = ['ethernet', 'ipv6', 'extensions', 'protocol', 'udp', 'icmpv6', 'dhcpv6', 'checksum', 'payload'];

export function frameLine(shown: Record<string, Shown>): string {
  const head = [`#${String(shown.frame)}`, ...(shown.time !== undefined ? [`t=${String(shown.time)}`] : []), `len=${String(shown.length)}`].join(' ');
  const layer = (l: string) => {
    if (l === 'protocol') return labelled(shown.protocol!, shown.protocolName);
    const c = shown.checksum as { value: number; valid: boolean };
    if (l === 'checksum') return `{value=0x${c.value.toString(16).padStart(4, '0')} valid=${c.valid}}`;
    return inline(shown[l]!);
  };
  return [head, ...LAYERS.filter((l) => shown[l] !== undefined).map((l) => `${l} ${layer(l)}`)].join(' | ');
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
