/**
 * DHCPv6 messages (RFC 8415 §8 client/server, §9 relay agent/server). Relay messages nest
 * through the Relay Message option to any depth, bounded by DHCPV6_MAX_NESTING when decoding.
 * This module is the entry point: it re-exports the option and DUID codecs.
 */
import { DecodeError } from './errors.ts';
import { layout, Struct } from './struct.ts';
import { ipv6FromBytes, ipv6ToBytes } from '../addr/bytes.ts';
import { decodeOptions, encodeOptions, findOption, type Dhcpv6Option } from './dhcpv6-options.ts';

export * from './dhcpv6-options.ts';
export * from './duid.ts';

export const DHCPV6_MESSAGE_NUMBERS = {
  solicit: 1,
  advertise: 2,
  request: 3,
  confirm: 4,
  renew: 5,
  rebind: 6,
  reply: 7,
  release: 8,
  decline: 9,
  reconfigure: 10,
  'information-request': 11,
  'relay-forward': 12,
  'relay-reply': 13,
} as const;

export type Dhcpv6MessageName = keyof typeof DHCPV6_MESSAGE_NUMBERS;
export type RelayMessageType = 'relay-forward' | 'relay-reply';
export type ClientServerMessageType = Exclude<Dhcpv6MessageName, RelayMessageType>;

export interface ClientServerMessage {
  type: ClientServerMessageType;
  /** 24 bits. */
  transactionId: number;
  options: Dhcpv6Option[];
}

export interface RelayMessage {
  type: RelayMessageType;
  hopCount: number;
  linkAddress: string;
  peerAddress: string;
  options: Dhcpv6Option[];
}

/** A message type this codec does not model: the bytes after msg-type, kept raw. */
export interface UnknownMessage {
  type: 'unknown';
  msgType: number;
  body: Buffer;
}

export type Dhcpv6Message = ClientServerMessage | RelayMessage | UnknownMessage;

const LAYER = 'dhcpv6';

const MSG_TYPE = new Struct<{ msgType: number }>(LAYER, 'msg-type', layout().uint8('msgType'));
const CLIENT_SERVER = new Struct<{ msgType: number; transactionId: number }>(
  LAYER,
  'message.header',
  layout()
    .uint8('msgType')
    .buffer('transactionId', { length: 3, formatter: (b: Buffer) => b.readUIntBE(0, 3) }),
);
const RELAY = new Struct<{ msgType: number; hopCount: number; linkAddress: Buffer; peerAddress: Buffer }>(
  LAYER,
  'relay.header',
  layout().uint8('msgType').uint8('hopCount').buffer('linkAddress', { length: 16 }).buffer('peerAddress', { length: 16 }),
);

const NAME_BY_NUMBER = new Map<number, Dhcpv6MessageName>(Object.entries(DHCPV6_MESSAGE_NUMBERS).map(([name, n]) => [n, name as Dhcpv6MessageName]));

export function isRelayMessage(msg: Dhcpv6Message): msg is RelayMessage {
  return msg.type === 'relay-forward' || msg.type === 'relay-reply';
}

export function encodeDhcpv6(msg: Dhcpv6Message): Buffer {
  if (msg.type === 'unknown') {
    // A known type here would decode as that message, breaking the round trip.
    if (NAME_BY_NUMBER.has(msg.msgType)) throw new Error(`unknown message with known msg-type ${msg.msgType}`);
    return Buffer.concat([Buffer.of(msg.msgType), msg.body]);
  }
  const number = DHCPV6_MESSAGE_NUMBERS[msg.type];
  if (isRelayMessage(msg)) {
    const head = Buffer.alloc(RELAY.size);
    head.writeUInt8(number, 0);
    head.writeUInt8(msg.hopCount, 1);
    ipv6ToBytes(msg.linkAddress).copy(head, 2);
    ipv6ToBytes(msg.peerAddress).copy(head, 18);
    return Buffer.concat([head, encodeOptions(msg.options)]);
  }
  const head = Buffer.alloc(CLIENT_SERVER.size);
  head.writeUInt8(number, 0);
  head.writeUIntBE(msg.transactionId, 1, 3);
  return Buffer.concat([head, encodeOptions(msg.options)]);
}

/**
 * Decodes a whole DHCPv6 message (a UDP payload). `base` is the absolute offset of buf[0] in the
 * frame, so every DecodeError offset points into the frame; `depth` is the encapsulation level,
 * set by the Relay Message option. Throws only DecodeError.
 */
export function decodeDhcpv6(buf: Buffer, base = 0, depth = 0): Dhcpv6Message {
  const { msgType } = MSG_TYPE.read(buf, 0, base);
  const type = NAME_BY_NUMBER.get(msgType);
  if (type === undefined) return { type: 'unknown', msgType, body: Buffer.from(buf.subarray(MSG_TYPE.size)) };
  if (type === 'relay-forward' || type === 'relay-reply') {
    const head = RELAY.read(buf, 0, base);
    return {
      type,
      hopCount: head.hopCount,
      linkAddress: ipv6FromBytes(head.linkAddress),
      peerAddress: ipv6FromBytes(head.peerAddress),
      options: decodeOptions(buf.subarray(RELAY.size), base + RELAY.size, depth),
    };
  }
  const { transactionId } = CLIENT_SERVER.read(buf, 0, base);
  return { type, transactionId, options: decodeOptions(buf.subarray(CLIENT_SERVER.size), base + CLIENT_SERVER.size, depth) };
}

/** The relays from the outermost (the one the server sees) to the one closest to the client. */
export function relayChain(msg: Dhcpv6Message): RelayMessage[] {
  const chain: RelayMessage[] = [];
  let current: Dhcpv6Message | undefined = msg;
  while (current && isRelayMessage(current)) {
    chain.push(current);
    current = findOption(current.options, 'relay-message')?.message;
  }
  return chain;
}

/** The client or server message inside any relay chain; undefined when a relay carries no Relay Message option. */
export function innermostMessage(msg: Dhcpv6Message): ClientServerMessage | UnknownMessage | undefined {
  const chain = relayChain(msg);
  const last = chain.at(-1);
  if (!last) return msg as ClientServerMessage | UnknownMessage;
  const inner = findOption(last.options, 'relay-message')?.message;
  return inner && !isRelayMessage(inner) ? inner : undefined;
}

/** Display form of a protocol number from one of the name→number tables: "solicit (1)", "unknown (99)". */
export function numberLabel(table: Readonly<Record<string, number>>, value: number): string {
  const name = Object.keys(table).find((key) => table[key] === value);
  return `${name ?? 'unknown'} (${value})`;
}

export { DecodeError };
