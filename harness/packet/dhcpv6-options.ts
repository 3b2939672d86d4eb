/**
 * DHCPv6 options (RFC 8415 §21, IA_PD §21.21–22, remote-id RFC 4649, subscriber-id RFC 4580,
 * DNS RFC 3646, client link-layer address RFC 6939), typed in the style of Rust's `dhcproto`:
 * each known option has one codec whose decode and encode are exact inverses, so
 * encode(decode(bytes)) reproduces the bytes. Unknown options are kept raw.
 *
 * Option 9 holds a whole message, so this module and dhcpv6.ts import each other; neither
 * touches the other's bindings while loading, only inside function calls.
 */
import { DecodeError, need } from './errors.ts';
import { layout, Struct } from './struct.ts';
import { hexColon, hexColonToBytes, ipv6FromBytes, ipv6ToBytes } from '../addr/bytes.ts';
import { decodeDuid, encodeDuid, type Duid } from './duid.ts';
import { decodeDhcpv6, encodeDhcpv6, type Dhcpv6Message } from './dhcpv6.ts';

export const DHCPV6_OPTION_NUMBERS = {
  'client-id': 1,
  'server-id': 2,
  'ia-na': 3,
  'ia-ta': 4,
  iaaddr: 5,
  oro: 6,
  preference: 7,
  'elapsed-time': 8,
  'relay-message': 9,
  'status-code': 13,
  'rapid-commit': 14,
  'interface-id': 18,
  'reconfigure-accept': 20,
  'dns-servers': 23,
  'domain-list': 24,
  'ia-pd': 25,
  iaprefix: 26,
  'remote-id': 37,
  'subscriber-id': 38,
  'client-linklayer-addr': 79,
} as const;

/** Status Code option values (RFC 8415 §21.13). */
export const DHCPV6_STATUS_CODES = {
  Success: 0,
  UnspecFail: 1,
  NoAddrsAvail: 2,
  NoBinding: 3,
  NotOnLink: 4,
  UseMulticast: 5,
  NoPrefixAvail: 6,
} as const;

/**
 * Encapsulation levels (relay messages and options inside IA options) a decoder follows before
 * refusing: real relay chains stop at HOP_COUNT_LIMIT 8, and the bound keeps the stack shallow.
 */
export const DHCPV6_MAX_NESTING = 32;

export type Dhcpv6Option =
  | { type: 'client-id'; duid: Duid }
  | { type: 'server-id'; duid: Duid }
  | { type: 'ia-na'; iaid: number; t1: number; t2: number; options: Dhcpv6Option[] }
  | { type: 'ia-ta'; iaid: number; options: Dhcpv6Option[] }
  | { type: 'iaaddr'; address: string; preferredLifetime: number; validLifetime: number; options: Dhcpv6Option[] }
  | { type: 'oro'; requested: number[] }
  | { type: 'preference'; value: number }
  | { type: 'elapsed-time'; centiseconds: number }
  | { type: 'relay-message'; message: Dhcpv6Message }
  | { type: 'status-code'; code: number; message: string }
  | { type: 'rapid-commit' }
  | { type: 'interface-id'; id: Buffer }
  | { type: 'reconfigure-accept' }
  | { type: 'dns-servers'; servers: string[] }
  /** Fully qualified names in text form without the trailing dot ("example.com"; "" is the root). */
  | { type: 'domain-list'; domains: string[] }
  | { type: 'ia-pd'; iaid: number; t1: number; t2: number; options: Dhcpv6Option[] }
  | {
      type: 'iaprefix';
      preferredLifetime: number;
      validLifetime: number;
      prefixLength: number;
      prefix: string;
      options: Dhcpv6Option[];
    }
  /** remoteId: the relay's identifier bytes in colon-hex (a MAC for the pod's routers). */
  | { type: 'remote-id'; enterpriseNumber: number; remoteId: string }
  | { type: 'subscriber-id'; id: Buffer }
  | { type: 'client-linklayer-addr'; linkLayerType: number; address: string }
  | { type: 'unknown'; optionCode: number; data: Buffer };

export type Dhcpv6OptionType = Dhcpv6Option['type'];
export type KnownOptionType = keyof typeof DHCPV6_OPTION_NUMBERS;
export type OptionOf<K extends Dhcpv6OptionType> = Extract<Dhcpv6Option, { type: K }>;

const LAYER = 'dhcpv6';

/** Where an option body sits: `base` is the absolute offset of body[0]; `depth` its encapsulation level. */
interface At {
  name: KnownOptionType;
  base: number;
  depth: number;
}

interface Codec<K extends KnownOptionType> {
  decode(body: Buffer, at: At): OptionOf<K>;
  /** The option body, without the code/length header. */
  encode(option: OptionOf<K>): Buffer;
}

function fail(at: At, field: string, offset: number, reason: string): never {
  throw new DecodeError(LAYER, `${at.name}.${field}`, at.base + offset, reason);
}

function exactLength(body: Buffer, at: At, length: number): void {
  if (body.length !== length) fail(at, 'length', -2, `must be ${length}, is ${body.length}`);
}

function multipleOf(body: Buffer, at: At, unit: number): void {
  if (body.length % unit !== 0) fail(at, 'length', -2, `must be a multiple of ${unit}, is ${body.length}`);
}

const copy = (bytes: Buffer): Buffer => Buffer.from(bytes);

const OPTION_HEADER = new Struct<{ code: number; length: number }>(LAYER, 'option.header', layout().uint16('code').uint16('length'));

// Fixed parts of option bodies.
const iaHeader = (name: string) =>
  new Struct<{ iaid: number; t1: number; t2: number }>(LAYER, `${name}.header`, layout().uint32('iaid').uint32('t1').uint32('t2'));
const IA_NA = iaHeader('ia-na');
const IA_PD = iaHeader('ia-pd');
const IA_TA = new Struct<{ iaid: number }>(LAYER, 'ia-ta.header', layout().uint32('iaid'));
const IAADDR = new Struct<{ address: Buffer; preferredLifetime: number; validLifetime: number }>(
  LAYER,
  'iaaddr.header',
  layout().buffer('address', { length: 16 }).uint32('preferredLifetime').uint32('validLifetime'),
);
const IAPREFIX = new Struct<{ preferredLifetime: number; validLifetime: number; prefixLength: number; prefix: Buffer }>(
  LAYER,
  'iaprefix.header',
  layout().uint32('preferredLifetime').uint32('validLifetime').uint8('prefixLength').buffer('prefix', { length: 16 }),
);
const PREFERENCE = new Struct<{ value: number }>(LAYER, 'preference.value', layout().uint8('value'));
const ELAPSED = new Struct<{ centiseconds: number }>(LAYER, 'elapsed-time.centiseconds', layout().uint16('centiseconds'));
const STATUS = new Struct<{ code: number }>(LAYER, 'status-code.code', layout().uint16('code'));
const REMOTE_ID = new Struct<{ enterpriseNumber: number }>(LAYER, 'remote-id.enterprise-number', layout().uint32('enterpriseNumber'));
const LINKLAYER = new Struct<{ linkLayerType: number }>(LAYER, 'client-linklayer-addr.link-layer-type', layout().uint16('linkLayerType'));

/** Big-endian unsigned fields in order, each [value, bytes]; Node range-checks every value. */
function fields(...values: [number, 1 | 2 | 4][]): Buffer {
  const buf = Buffer.alloc(values.reduce((n, [, size]) => n + size, 0));
  let offset = 0;
  for (const [value, size] of values) offset = buf.writeUIntBE(value, offset, size);
  return buf;
}

/** Options nested in a body from `offset` on, one encapsulation level deeper. */
const nested = (body: Buffer, at: At, offset: number) => decodeOptions(body.subarray(offset), at.base + offset, at.depth + 1);

function iaCodec<K extends 'ia-na' | 'ia-pd'>(type: K, header: typeof IA_NA): Codec<K> {
  return {
    decode: (body, at) => ({ type, ...header.read(body, 0, at.base), options: nested(body, at, header.size) }) as OptionOf<K>,
    encode: (o: OptionOf<'ia-na' | 'ia-pd'>) => Buffer.concat([fields([o.iaid, 4], [o.t1, 4], [o.t2, 4]), encodeOptions(o.options)]),
  };
}

function duidCodec<K extends 'client-id' | 'server-id'>(type: K): Codec<K> {
  return {
    decode: (body, at) => ({ type, duid: decodeDuid(body, at.base, `${type}.duid`) }) as OptionOf<K>,
    encode: (o: OptionOf<'client-id' | 'server-id'>) => encodeDuid(o.duid),
  };
}

function opaqueCodec<K extends 'interface-id' | 'subscriber-id'>(type: K): Codec<K> {
  return {
    decode: (body) => ({ type, id: copy(body) }) as OptionOf<K>,
    encode: (o: OptionOf<'interface-id' | 'subscriber-id'>) => o.id,
  };
}

function flagCodec<K extends 'rapid-commit' | 'reconfigure-accept'>(type: K): Codec<K> {
  return {
    decode: (body, at) => {
      exactLength(body, at, 0);
      return { type } as OptionOf<K>;
    },
    encode: () => Buffer.alloc(0),
  };
}

// RFC 8415 §21.13: the status message is UTF-8. Decoding is strict and keeps a BOM so the text re-encodes to the same bytes.
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

// Domain names (RFC 1035 §3.1, uncompressed per RFC 8415 §10). Labels are limited to printable ASCII
// other than '.', so the dotted text maps back to the same bytes.
const MAX_LABEL = 63;
const MAX_NAME = 255;
const labelByte = (b: number) => b > 0x20 && b < 0x7f && b !== 0x2e;

function decodeDomains(body: Buffer, at: At): string[] {
  const domains: string[] = [];
  let offset = 0;
  while (offset < body.length) {
    const start = offset;
    const labels: string[] = [];
    for (;;) {
      if (offset >= body.length) fail(at, 'domains', start, 'name is not terminated by the root label');
      const length = body[offset]!;
      if (length === 0) break;
      if (length > MAX_LABEL) fail(at, 'domains', offset, `label length ${length} exceeds ${MAX_LABEL} (compression is not allowed)`);
      need(body, offset + 1, length, LAYER, `${at.name}.domains`, at.base);
      const label = body.subarray(offset + 1, offset + 1 + length);
      const bad = label.findIndex((b) => !labelByte(b));
      if (bad >= 0) fail(at, 'domains', offset + 1 + bad, `byte 0x${label[bad]!.toString(16)} is not printable ASCII other than '.'`);
      labels.push(label.toString('latin1'));
      offset += 1 + length;
    }
    offset += 1;
    if (offset - start > MAX_NAME) fail(at, 'domains', start, `name is ${offset - start} bytes, over ${MAX_NAME}`);
    domains.push(labels.join('.'));
  }
  return domains;
}

function encodeDomain(name: string): Buffer {
  const labels = name === '' ? [] : name.split('.');
  const parts = labels.map((label) => {
    const bytes = Buffer.from(label, 'latin1');
    if (bytes.length === 0 || bytes.length > MAX_LABEL || bytes.toString('latin1') !== label || !bytes.every(labelByte)) {
      throw new Error(`domain '${name}': label '${label}' must be 1-${MAX_LABEL} printable ASCII characters`);
    }
    return Buffer.concat([Buffer.of(bytes.length), bytes]);
  });
  const wire = Buffer.concat([...parts, Buffer.of(0)]);
  if (wire.length > MAX_NAME) throw new Error(`domain '${name}' is ${wire.length} bytes on the wire, over ${MAX_NAME}`);
  return wire;
}

const CODECS: { [K in KnownOptionType]: Codec<K> } = {
  'client-id': duidCodec('client-id'),
  'server-id': duidCodec('server-id'),
  'ia-na': iaCodec('ia-na', IA_NA),
  'ia-ta': {
    decode: (body, at) => ({ type: 'ia-ta', ...IA_TA.read(body, 0, at.base), options: nested(body, at, IA_TA.size) }),
    encode: (o) => Buffer.concat([fields([o.iaid, 4]), encodeOptions(o.options)]),
  },
  iaaddr: {
    decode: (body, at) => {
      const { address, preferredLifetime, validLifetime } = IAADDR.read(body, 0, at.base);
      return { type: 'iaaddr', address: ipv6FromBytes(address), preferredLifetime, validLifetime, options: nested(body, at, IAADDR.size) };
    },
    encode: (o) => Buffer.concat([ipv6ToBytes(o.address), fields([o.preferredLifetime, 4], [o.validLifetime, 4]), encodeOptions(o.options)]),
  },
  oro: {
    decode: (body, at) => {
      multipleOf(body, at, 2);
      const requested: number[] = [];
      for (let i = 0; i < body.length; i += 2) requested.push(body.readUInt16BE(i));
      return { type: 'oro', requested };
    },
    encode: (o) => fields(...o.requested.map((code): [number, 2] => [code, 2])),
  },
  preference: {
    decode: (body, at) => {
      exactLength(body, at, PREFERENCE.size);
      return { type: 'preference', ...PREFERENCE.read(body, 0, at.base) };
    },
    encode: (o) => fields([o.value, 1]),
  },
  'elapsed-time': {
    decode: (body, at) => {
      exactLength(body, at, ELAPSED.size);
      return { type: 'elapsed-time', ...ELAPSED.read(body, 0, at.base) };
    },
    encode: (o) => fields([o.centiseconds, 2]),
  },
  'relay-message': {
    decode: (body, at) => ({ type: 'relay-message', message: decodeDhcpv6(body, at.base, at.depth + 1) }),
    encode: (o) => encodeDhcpv6(o.message),
  },
  'status-code': {
    decode: (body, at) => {
      const { code } = STATUS.read(body, 0, at.base);
      let message: string;
      try {
        message = utf8.decode(body.subarray(STATUS.size));
      } catch {
        fail(at, 'message', STATUS.size, 'is not valid UTF-8');
      }
      return { type: 'status-code', code, message };
    },
    encode: (o) => Buffer.concat([fields([o.code, 2]), Buffer.from(o.message, 'utf8')]),
  },
  'rapid-commit': flagCodec('rapid-commit'),
  'interface-id': opaqueCodec('interface-id'),
  'reconfigure-accept': flagCodec('reconfigure-accept'),
  'dns-servers': {
    decode: (body, at) => {
      multipleOf(body, at, 16);
      const servers: string[] = [];
      for (let i = 0; i < body.length; i += 16) servers.push(ipv6FromBytes(body, i));
      return { type: 'dns-servers', servers };
    },
    encode: (o) => Buffer.concat(o.servers.map(ipv6ToBytes)),
  },
  'domain-list': {
    decode: (body, at) => ({ type: 'domain-list', domains: decodeDomains(body, at) }),
    encode: (o) => Buffer.concat(o.domains.map(encodeDomain)),
  },
  'ia-pd': iaCodec('ia-pd', IA_PD),
  iaprefix: {
    decode: (body, at) => {
      const { preferredLifetime, validLifetime, prefixLength, prefix } = IAPREFIX.read(body, 0, at.base);
      const options = nested(body, at, IAPREFIX.size);
      return { type: 'iaprefix', preferredLifetime, validLifetime, prefixLength, prefix: ipv6FromBytes(prefix), options };
    },
    encode: (o) =>
      Buffer.concat([fields([o.preferredLifetime, 4], [o.validLifetime, 4], [o.prefixLength, 1]), ipv6ToBytes(o.prefix), encodeOptions(o.options)]),
  },
  'remote-id': {
    decode: (body, at) => ({ type: 'remote-id', ...REMOTE_ID.read(body, 0, at.base), remoteId: hexColon(body.subarray(REMOTE_ID.size)) }),
    encode: (o) => Buffer.concat([fields([o.enterpriseNumber, 4]), hexColonToBytes(o.remoteId)]),
  },
  'subscriber-id': opaqueCodec('subscriber-id'),
  'client-linklayer-addr': {
    decode: (body, at) => ({
      type: 'client-linklayer-addr',
      ...LINKLAYER.read(body, 0, at.base),
      address: hexColon(body.subarray(LINKLAYER.size)),
    }),
    encode: (o) => Buffer.concat([fields([o.linkLayerType, 2]), hexColonToBytes(o.address)]),
  },
};

const NAME_BY_CODE = new Map<number, KnownOptionType>(Object.entries(DHCPV6_OPTION_NUMBERS).map(([name, code]) => [code, name as KnownOptionType]));

function codecFor<K extends KnownOptionType>(name: K): Codec<K> {
  return CODECS[name] as Codec<K>;
}

/** One option with its code/length header. */
export function encodeOption(option: Dhcpv6Option): Buffer {
  let code: number;
  let body: Buffer;
  if (option.type === 'unknown') {
    // A known code here would decode as that option, breaking the round trip.
    if (NAME_BY_CODE.has(option.optionCode)) throw new Error(`unknown option with known code ${option.optionCode}`);
    code = option.optionCode;
    body = option.data;
  } else {
    code = DHCPV6_OPTION_NUMBERS[option.type];
    body = codecFor(option.type).encode(option as never);
  }
  return Buffer.concat([fields([code, 2], [body.length, 2]), body]);
}

export function encodeOptions(options: readonly Dhcpv6Option[]): Buffer {
  return Buffer.concat(options.map(encodeOption));
}

/**
 * Walks a list of options filling all of `buf` (RFC 8415 §21.1). `base` is the absolute offset of
 * buf[0] in the frame; `depth` the encapsulation level, bounded by DHCPV6_MAX_NESTING.
 */
export function decodeOptions(buf: Buffer, base = 0, depth = 0): Dhcpv6Option[] {
  if (depth > DHCPV6_MAX_NESTING) throw new DecodeError(LAYER, 'options', base, `nested deeper than ${DHCPV6_MAX_NESTING} levels`);
  const options: Dhcpv6Option[] = [];
  let offset = 0;
  while (offset < buf.length) {
    const { code, length } = OPTION_HEADER.read(buf, offset, base);
    const name = NAME_BY_CODE.get(code);
    const start = offset + OPTION_HEADER.size;
    need(buf, start, length, LAYER, `${name ?? `option ${code}`}.body`, base);
    const body = buf.subarray(start, start + length);
    if (name) options.push(codecFor(name).decode(body, { name, base: base + start, depth }));
    else options.push({ type: 'unknown', optionCode: code, data: copy(body) });
    offset = start + length;
  }
  return options;
}

/** The first option of a type, typed by it: `findOption(msg.options, 'ia-pd')?.iaid`. */
export function findOption<K extends Dhcpv6OptionType>(options: readonly Dhcpv6Option[], type: K): OptionOf<K> | undefined {
  return options.find((o): o is OptionOf<K> => o.type === type);
}

export function findOptions<K extends Dhcpv6OptionType>(options: readonly Dhcpv6Option[], type: K): OptionOf<K>[] {
  return options.filter((o): o is OptionOf<K> => o.type === type);
}
