/**
 * What the relay reads from DHCPv6 messages, read in place from the wire bytes: a relay handles
 * every message of every exchange, and decoding each into objects cost more than the rest of
 * the relay. Every message is checked well-formed first (isWellFormedDhcpv6: exactly what the
 * codec accepts), so the relay accepts and refuses what it did with the codec;
 * relay-wire.test.ts holds each reader to the codec's decode on generated and mutated messages.
 */
import { decodeEthernetHeader, ETHERTYPE_IPV6 } from '../packet/ethernet.ts';
import { decodeIpv6, PROTO } from '../packet/ipv6.ts';
import { decodeUdp } from '../packet/udp.ts';
import { DHCPV6_CLIENT_PORT, DHCPV6_SERVER_PORT } from '../packet/constants.ts';
import { decodeDhcpv6, DHCPV6_MESSAGE_NUMBERS, DHCPV6_OPTION_NUMBERS, type Dhcpv6MessageName } from '../packet/dhcpv6.ts';
import { isWellFormedDhcpv6, optionAt, optionsAt } from '../packet/dhcpv6-scan.ts';
import { ipv6FromBytes } from '../addr/bytes.ts';

/** Ethernet + IPv6 + UDP headers in front of a DHCPv6 message without VLAN tag or extension headers. */
export const HEADERS = 14 + 40 + 8;
/** Relay message header: msg-type, hop-count, link-address, peer-address (RFC 8415 §9). */
export const RELAY_HEADER = 34;
export const LINK_ADDRESS = 2;
export const PEER_ADDRESS = 18;
const CLIENT_SERVER_HEADER = 4;

const NAMES: (Dhcpv6MessageName | undefined)[] = [];
for (const [name, n] of Object.entries(DHCPV6_MESSAGE_NUMBERS)) NAMES[n] = name as Dhcpv6MessageName;
/** The codec's name for a msg-type byte ('unknown' for numbers it does not model). */
export const messageName = (msgType: number): Dhcpv6MessageName | 'unknown' => NAMES[msgType] ?? 'unknown';
export const isRelayType = (msgType: number) => msgType === DHCPV6_MESSAGE_NUMBERS['relay-forward'] || msgType === DHCPV6_MESSAGE_NUMBERS['relay-reply'];

const isDhcpPort = (port: number) => port === DHCPV6_CLIENT_PORT || port === DHCPV6_SERVER_PORT;

/** A client frame's DHCPv6 message, well-formed: its bytes, its type and where the IPv6 header starts in the frame. */
export interface ClientMessage {
  ip: number;
  bytes: Buffer;
  type: Dhcpv6MessageName | 'unknown';
}

/**
 * The DHCPv6 message in a client frame, or undefined when the frame carries none; throws DecodeError
 * when malformed. Accepts and refuses exactly what decodeFrame would (its layers, without the
 * checksum it reports but nobody checks): the plain frame every client sends — untagged, no
 * extension headers — is read in place; anything else goes through the codec's layers.
 */
export function readClientMessage(raw: Buffer): ClientMessage | undefined {
  const payloadLength = raw.length >= HEADERS ? raw.readUInt16BE(18) : -1;
  if (
    payloadLength >= 8 &&
    raw.readUInt16BE(12) === ETHERTYPE_IPV6 &&
    raw[14]! >> 4 === 6 &&
    raw[20] === PROTO.udp &&
    54 + payloadLength <= raw.length &&
    raw.readUInt16BE(58) === payloadLength &&
    (isDhcpPort(raw.readUInt16BE(54)) || isDhcpPort(raw.readUInt16BE(56)))
  ) {
    const bytes = raw.subarray(HEADERS, 54 + payloadLength);
    // The codec throws the DecodeError naming what is wrong (dhcpv6-scan.test.ts: it always does).
    if (!isWellFormedDhcpv6(bytes)) decodeDhcpv6(bytes, HEADERS);
    return { ip: 14, bytes, type: messageName(bytes[0]!) };
  }
  const { header, length } = decodeEthernetHeader(raw);
  if (header.etherType !== ETHERTYPE_IPV6) return undefined;
  const ip = decodeIpv6(raw.subarray(length), length);
  if (ip.protocol !== PROTO.udp || ip.extensions.some((e) => e.type === 'fragment' && (e.offset !== 0 || e.more))) return undefined;
  const udp = decodeUdp(ip.payload, ip.payloadOffset);
  if (!isDhcpPort(udp.header.srcPort) && !isDhcpPort(udp.header.dstPort)) return undefined;
  const msg = decodeDhcpv6(udp.payload, ip.payloadOffset + 8);
  return { ip: length, bytes: udp.payload, type: msg.type };
}

/** The 24-bit transaction-id of a client/server message. */
export const transactionIdOf = (msg: Buffer): number => msg.readUIntBE(1, 3);

/** The body of the first option `code` of a well-formed relay message, or undefined. */
function relayOption(relay: Buffer, code: number): Buffer | undefined {
  const at = optionAt(relay, RELAY_HEADER, relay.length, code);
  return at < 0 ? undefined : relay.subarray(at, at + relay.readUInt16BE(at - 2));
}

/** The message in the first Relay Message option of a well-formed relay message (RFC 8415 §21.10). */
export const relayMessageOf = (relay: Buffer) => relayOption(relay, DHCPV6_OPTION_NUMBERS['relay-message']);
export const interfaceIdOf = (relay: Buffer) => relayOption(relay, DHCPV6_OPTION_NUMBERS['interface-id']);

/** How many relay messages nest, following first Relay Message options (the codec's relayChain length). */
export function relayChainLength(relay: Buffer): number {
  let length = 1;
  for (let m = relayMessageOf(relay); m && isRelayType(m[0]!); m = relayMessageOf(m)) length++;
  return length;
}

export interface DelegatedPrefix {
  /** "2001:db8:200::/60" */
  prefix: string;
  /** Its length, and where its 16 address bytes sit in the message. */
  length: number;
  at: number;
  validLifetime: number;
}

/** The IAPREFIX options inside the IA_PD options of a well-formed client/server message, in order (RFC 8415 §21.21–22). */
export function delegatedPrefixes(msg: Buffer): DelegatedPrefix[] {
  const prefixes: DelegatedPrefix[] = [];
  for (const ia of optionsAt(msg, CLIENT_SERVER_HEADER, msg.length, DHCPV6_OPTION_NUMBERS['ia-pd'])) {
    for (const p of optionsAt(msg, ia + 12, ia + msg.readUInt16BE(ia - 2), DHCPV6_OPTION_NUMBERS.iaprefix)) {
      // iaprefix body: preferred-lifetime, valid-lifetime, prefix-length, prefix.
      prefixes.push({ prefix: `${ipv6FromBytes(msg, p + 9)}/${msg[p + 8]!}`, length: msg[p + 8]!, at: p + 9, validLifetime: msg.readUInt32BE(p + 4) });
    }
  }
  return prefixes;
}
