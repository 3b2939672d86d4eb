/**
 * Frame builders with the RFC defaults, scapy-style: each returns a whole Frame (the codec's flat
 * record of layers, built on the wire by `buildFrame`) filled in as a conforming host sends it —
 * Neighbor Discovery with hop limit 255, link-local sources where the RFC asks for them, the
 * Ethernet destination of a multicast group derived from the group — and every field can be
 * overridden. That is how attacks are built: a rogue RA is `routerAdvertisement({ mac })` sent
 * from an instance, a forged NA is `neighborAdvertisement({ mac, target: someoneElses })`, a
 * Solicit smuggled past a relay is `dhcpv6Datagram({ mac, message: relayForward(…) })`.
 *
 * Every builder takes the sender's MAC (`mac`) and the IPv6/Ethernet fields of `Wire`; the
 * message's own fields follow the builder's RFC. A Frame is a plain record, so anything not
 * covered by an option can still be changed by spreading it (`{ ...frame, checksum: 0 }`).
 */
import { ETHERTYPE_IPV6 } from './ethernet.ts';
import { buildFrame, type Frame } from './frame.ts';
import { PROTO, IPV6_HEADER_LENGTH, type ExtensionHeader } from './ipv6.ts';
import type { Icmpv6Message, MulticastAddressRecord, RouterAdvertisement } from './icmpv6.ts';
import type { NdOption } from './nd-options.ts';
import type { ClientServerMessage, ClientServerMessageType, Dhcpv6Message, Dhcpv6Option } from './dhcpv6.ts';
import { duidLl } from './dhcpv6-client-frame.ts';
import { pseudoHeaderChecksum } from './checksum.ts';
import {
  ALL_DHCP_RELAY_AGENTS_AND_SERVERS,
  ALL_MLDV2_ROUTERS,
  ALL_NODES,
  ALL_ROUTERS,
  DHCPV6_CLIENT_PORT,
  DHCPV6_SERVER_PORT,
  ND_HOP_LIMIT,
} from './constants.ts';
import { ipv6ToBytes } from '../addr/bytes.ts';
import { isMulticast, multicastMac, solicitedNodeAddress } from '../addr/multicast.ts';
import { linkLocalAddress } from '../addr/slaac.ts';

/** The hop limit of ordinary unicast traffic (RFC 8200 leaves it to the host; Linux and IANA's default). */
export const DEFAULT_HOP_LIMIT = 64;
/** MLD messages never leave the link (RFC 3810 §5). */
export const MLD_HOP_LIMIT = 1;
/** Router Advertisement defaults of RFC 4861 §6.2.1: AdvDefaultLifetime (3 × MaxRtrAdvInterval), AdvValidLifetime, AdvPreferredLifetime. */
export const RA_DEFAULTS = { routerLifetime: 1800, curHopLimit: 64, validLifetime: 2_592_000, preferredLifetime: 604_800 } as const;
/** First port of the dynamic range (RFC 6335 §6): the default source port of UDP and TCP builders. */
export const EPHEMERAL_PORT = 49152;
/** The Discard service (RFC 863): where probe datagrams go when the port does not matter. */
export const DISCARD_PORT = 9;
/** Enterprise number of the Remote-Id (option 37) the pod's relays insert (RFC 4649 §3; CableLabs' 4491). */
export const REMOTE_ID_ENTERPRISE = 4491;
/** MLDv2 record type CHANGE_TO_EXCLUDE_MODE: what a host sends joining a group (RFC 3810 §5.2.12, §6.1). */
export const MLD_CHANGE_TO_EXCLUDE = 4;
/** The IPv6 Router Alert option, value 0 = MLD (RFC 2711 §2.1), that every MLD message carries (RFC 3810 §5). */
const ROUTER_ALERT_MLD = { optionType: 5, data: Buffer.from([0, 0]) };

/** The Ethernet and IPv6 fields every builder accepts; what a builder does not default must be given. */
export interface Wire {
  /** Ethernet source: the sender's MAC (its link-local is derived from it by default, EUI-64). */
  mac: string;
  /** Ethernet destination: defaults to the group's MAC for a multicast `dst` (RFC 2464 §7); required for unicast. */
  dstMac?: string;
  src?: string;
  dst?: string;
  hopLimit?: number;
  trafficClass?: number;
  flowLabel?: number;
  /** Extension headers between IPv6 and the upper layer (RFC 8200 §4). */
  extensions?: ExtensionHeader[];
}

/** Wire fields for traffic that has no default source or destination (echo, UDP, TCP, errors). */
export type Addressed = Wire & { src: string; dst: string };

type Upper = Pick<Frame, 'udp' | 'icmpv6' | 'dhcpv6' | 'payload' | 'protocol'>;

/** Puts the layers together: the caller's overrides win over the builder's RFC defaults. */
function assemble(w: Wire, defaults: { src?: string; dst?: string; hopLimit: number }, upper: Upper): Frame {
  const src = w.src ?? defaults.src ?? linkLocalAddress(w.mac);
  const dst = w.dst ?? defaults.dst;
  if (dst === undefined) throw new Error('a destination address (dst) is needed');
  const dstMac = w.dstMac ?? (isMulticast(dst) ? multicastMac(dst) : undefined);
  if (dstMac === undefined) throw new Error(`unicast destination ${dst} needs the Ethernet destination (dstMac)`);
  return {
    ethernet: { src: w.mac, dst: dstMac, etherType: ETHERTYPE_IPV6 },
    ipv6: { trafficClass: w.trafficClass ?? 0, flowLabel: w.flowLabel ?? 0, hopLimit: w.hopLimit ?? defaults.hopLimit, src, dst },
    ...(w.extensions?.length ? { extensions: w.extensions } : {}),
    ...upper,
  };
}

const slla = (mac: string): NdOption => ({ type: 'source-link-layer-address', address: mac });
const tlla = (mac: string): NdOption => ({ type: 'target-link-layer-address', address: mac });

// ---- Neighbor Discovery (RFC 4861) ------------------------------------------------------------

/**
 * Router Solicitation (RFC 4861 §4.1, §6.3.7): from the link-local to all-routers, hop limit 255,
 * with the sender's MAC as source link-layer address — left out when the source is `::`, as §4.1 requires.
 */
export function routerSolicitation(o: Wire & { options?: NdOption[] }): Frame {
  const src = o.src ?? linkLocalAddress(o.mac);
  return assemble(
    { ...o, src },
    { dst: ALL_ROUTERS, hopLimit: ND_HOP_LIMIT },
    { icmpv6: { type: 'router-solicitation', code: 0, options: o.options ?? (src === '::' ? [] : [slla(o.mac)]) } },
  );
}

/**
 * Router Advertisement (RFC 4861 §4.2, §6.2.1 defaults): from the link-local to all-nodes, hop limit
 * 255, router lifetime 1800 s, no M/O flags, medium preference, the source link-layer address and one
 * Prefix Information option (L=1, A=1, the §6.2.1 lifetimes) per prefix in `prefixes`.
 */
export function routerAdvertisement(o: Wire & Partial<Omit<RouterAdvertisement, 'type' | 'options'>> & { prefixes?: string[]; options?: NdOption[] }): Frame {
  const pios = (o.prefixes ?? []).map((p): NdOption => {
    const [prefix, length] = p.split('/');
    return {
      type: 'prefix-information',
      prefixLength: Number(length ?? 64),
      onLink: true,
      autonomous: true,
      otherFlags: 0,
      validLifetime: RA_DEFAULTS.validLifetime,
      preferredLifetime: RA_DEFAULTS.preferredLifetime,
      prefix: prefix!,
    };
  });
  return assemble(
    o,
    { dst: ALL_NODES, hopLimit: ND_HOP_LIMIT },
    {
      icmpv6: {
        type: 'router-advertisement',
        code: o.code ?? 0,
        curHopLimit: o.curHopLimit ?? RA_DEFAULTS.curHopLimit,
        managed: o.managed ?? false,
        other: o.other ?? false,
        homeAgent: o.homeAgent ?? false,
        preference: o.preference ?? 'medium',
        proxy: o.proxy ?? false,
        reserved: o.reserved ?? 0,
        routerLifetime: o.routerLifetime ?? RA_DEFAULTS.routerLifetime,
        reachableTime: o.reachableTime ?? 0,
        retransTimer: o.retransTimer ?? 0,
        options: o.options ?? [slla(o.mac), ...pios],
      },
    },
  );
}

/**
 * Neighbor Solicitation (RFC 4861 §4.3, §7.2.2), hop limit 255, for one of three purposes:
 *   resolution      (default) from the link-local to the target's solicited-node group, with the source link-layer address;
 *   unreachability  NUD (§7.3.1): unicast to the target itself (`dstMac` is the neighbor's), with the source link-layer address;
 *   dad             Duplicate Address Detection (RFC 4862 §5.4.2): from `::` to the solicited-node group, with no link-layer option.
 */
export function neighborSolicitation(o: Wire & { target: string; purpose?: 'resolution' | 'unreachability' | 'dad'; options?: NdOption[] }): Frame {
  const purpose = o.purpose ?? 'resolution';
  const group = solicitedNodeAddress(o.target);
  const src = o.src ?? (purpose === 'dad' ? '::' : linkLocalAddress(o.mac));
  const dst = o.dst ?? (purpose === 'unreachability' ? o.target : group);
  return assemble(
    { ...o, src, dst },
    { hopLimit: ND_HOP_LIMIT },
    { icmpv6: { type: 'neighbor-solicitation', code: 0, target: o.target, options: o.options ?? (src === '::' ? [] : [slla(o.mac)]) } },
  );
}

/**
 * Neighbor Advertisement (RFC 4861 §4.4): by default unsolicited (§7.2.6) — from the link-local to
 * all-nodes, S=0, O=1, hop limit 255, the sender's MAC as target link-layer address (`tlla: null`
 * leaves the option out). A solicited one answers the solicitor: `dst` its address, `solicited: true`.
 */
export function neighborAdvertisement(
  o: Wire & { target: string; router?: boolean; solicited?: boolean; override?: boolean; tlla?: string | null; options?: NdOption[] },
): Frame {
  const options = o.options ?? (o.tlla === null ? [] : [tlla(o.tlla ?? o.mac)]);
  return assemble(
    o,
    { dst: ALL_NODES, hopLimit: ND_HOP_LIMIT },
    {
      icmpv6: {
        type: 'neighbor-advertisement',
        code: 0,
        router: o.router ?? false,
        solicited: o.solicited ?? false,
        override: o.override ?? true,
        reserved: 0,
        target: o.target,
        options,
      },
    },
  );
}

/**
 * Redirect (RFC 4861 §4.5, §8.2): from the link-local (only routers send one) to the host being
 * redirected (`dst`, unicast), hop limit 255, naming the better first hop `target` for `destination`,
 * with the sender's MAC as target link-layer address.
 */
export function redirect(o: Wire & { dst: string; target: string; destination: string; tlla?: string; options?: NdOption[] }): Frame {
  return assemble(
    o,
    { hopLimit: ND_HOP_LIMIT },
    { icmpv6: { type: 'redirect', code: 0, target: o.target, destination: o.destination, options: o.options ?? [tlla(o.tlla ?? o.mac)] } },
  );
}

// ---- MLD (RFC 3810) ---------------------------------------------------------------------------

/**
 * MLDv2 Report (RFC 3810 §5.2): from the link-local to all-MLDv2-routers (ff02::16), hop limit 1,
 * behind a Hop-by-Hop header carrying Router Alert (§5), one record per group — by default the
 * join of an any-source group (CHANGE_TO_EXCLUDE_MODE, no sources).
 */
export function mldReport(o: Wire & { groups?: string[]; records?: MulticastAddressRecord[] }): Frame {
  const records = o.records ?? (o.groups ?? []).map((g) => ({ recordType: MLD_CHANGE_TO_EXCLUDE, auxData: Buffer.alloc(0), multicastAddress: g, sources: [] }));
  const extensions = o.extensions ?? [{ type: 'hop-by-hop' as const, options: [ROUTER_ALERT_MLD] }];
  return assemble({ ...o, extensions }, { dst: ALL_MLDV2_ROUTERS, hopLimit: MLD_HOP_LIMIT }, { icmpv6: { type: 'mld2-report', code: 0, records } });
}

/**
 * MLDv2 Query (RFC 3810 §5.1; an MLDv1 host reads its first 24 bytes as RFC 2710's): a general
 * query to all nodes by default, or one for `group` (`::` is general), from the router's
 * link-local, hop limit 1, behind Router Alert. `maxResponseCode` is in ms (below 32768 it is the
 * delay itself), no sources, QRV and QQIC zero.
 */
export function mldQuery(o: Wire & { group?: string; maxResponseCode?: number }): Frame {
  const body = Buffer.alloc(24);
  body.writeUInt16BE(o.maxResponseCode ?? 0, 0);
  ipv6ToBytes(o.group ?? '::').copy(body, 4);
  const extensions = o.extensions ?? [{ type: 'hop-by-hop' as const, options: [ROUTER_ALERT_MLD] }];
  return assemble({ ...o, extensions }, { dst: ALL_NODES, hopLimit: MLD_HOP_LIMIT }, { icmpv6: { type: 'unknown', icmpType: 130, code: 0, body } });
}

// ---- ICMPv6 (RFC 4443) ------------------------------------------------------------------------

/** Any ICMPv6 message (an error, or one of the ND/MLD messages built by hand) between two addresses, hop limit 64. */
export function icmpv6Packet(o: Addressed & { message: Icmpv6Message }): Frame {
  return assemble(o, { hopLimit: DEFAULT_HOP_LIMIT }, { icmpv6: o.message });
}

/** Echo Request (RFC 4443 §4.1): identifier, sequence 1 and data as given (the data defaults to empty). */
export function echoRequest(o: Addressed & { identifier?: number; sequence?: number; data?: Buffer }): Frame {
  return icmpv6Packet({
    ...o,
    message: { type: 'echo-request', code: 0, identifier: o.identifier ?? 0, sequence: o.sequence ?? 1, data: o.data ?? Buffer.alloc(0) },
  });
}

/** Echo Reply (RFC 4443 §4.2). */
export function echoReply(o: Addressed & { identifier?: number; sequence?: number; data?: Buffer }): Frame {
  return icmpv6Packet({
    ...o,
    message: { type: 'echo-reply', code: 0, identifier: o.identifier ?? 0, sequence: o.sequence ?? 1, data: o.data ?? Buffer.alloc(0) },
  });
}

// ---- UDP and TCP ------------------------------------------------------------------------------

/** A UDP datagram (RFC 768), hop limit 64, from an ephemeral port to Discard unless told. */
export function udpDatagram(o: Addressed & { sport?: number; dport?: number; payload?: Buffer }): Frame {
  return assemble(
    o,
    { hopLimit: DEFAULT_HOP_LIMIT },
    { udp: { srcPort: o.sport ?? EPHEMERAL_PORT, dstPort: o.dport ?? DISCARD_PORT }, payload: o.payload ?? Buffer.alloc(0) },
  );
}

/**
 * A TCP SYN (RFC 9293 §3.1, §3.5), hop limit 64: 20 header bytes (no options), window 65535, the
 * checksum over the IPv6 pseudo-header filled in (the codecs model no TCP: it is the frame's payload).
 */
export function tcpSyn(o: Addressed & { dport: number; sport?: number; seq?: number; window?: number }): Frame {
  const src = o.src;
  const dst = o.dst;
  const t = Buffer.alloc(20);
  t.writeUInt16BE(o.sport ?? EPHEMERAL_PORT, 0);
  t.writeUInt16BE(o.dport, 2);
  t.writeUInt32BE((o.seq ?? 1) >>> 0, 4);
  t[12] = 5 << 4; // data offset: 5 words
  t[13] = 0x02; // SYN
  t.writeUInt16BE(o.window ?? 65535, 14);
  t.writeUInt16BE(pseudoHeaderChecksum(ipv6ToBytes(src), ipv6ToBytes(dst), PROTO.tcp, t), 16);
  return assemble(o, { hopLimit: DEFAULT_HOP_LIMIT }, { protocol: PROTO.tcp, payload: t });
}

// ---- DHCPv6 (RFC 8415) ------------------------------------------------------------------------

/**
 * A DHCPv6 datagram with a client's defaults (RFC 8415 §7.1, §7.2, §13.1): from the link-local, UDP
 * 546 → 547, to All_DHCP_Relay_Agents_and_Servers (ff02::1:2); hop limit 1 to a link-scoped group
 * (the message never leaves the link), 64 otherwise. It carries `message` (default: a Solicit for
 * one IA_PD, DUID-LL of the sender's MAC) or, to send bytes that need not decode, `payload`.
 */
export function dhcpv6Datagram(o: Wire & { sport?: number; dport?: number; message?: Dhcpv6Message; payload?: Buffer }): Frame {
  const dst = o.dst ?? ALL_DHCP_RELAY_AGENTS_AND_SERVERS;
  const linkScoped = isMulticast(dst) && (ipv6ToBytes(dst)[1]! & 0x0f) === 2;
  const body: Upper = o.payload ? { payload: o.payload } : { dhcpv6: o.message ?? solicit({ mac: o.mac }) };
  return assemble(
    { ...o, dst },
    { hopLimit: linkScoped ? 1 : DEFAULT_HOP_LIMIT },
    { udp: { srcPort: o.sport ?? DHCPV6_CLIENT_PORT, dstPort: o.dport ?? DHCPV6_SERVER_PORT }, ...body },
  );
}

/**
 * A client's message (RFC 8415 §16, §18.2): Client Identifier (DUID-LL of `duid`, default the
 * client's MAC), Elapsed Time 0, one IA_PD per IAID in `iaPds` (default one, IAID 1) and any `options`.
 */
export function clientMessage(
  type: ClientServerMessageType,
  o: { mac: string; duid?: string; transactionId?: number; iaPds?: number[]; options?: Dhcpv6Option[] },
): ClientServerMessage {
  return {
    type,
    transactionId: o.transactionId ?? 0x5347,
    options: [
      { type: 'client-id', duid: duidLl(o.duid ?? o.mac) },
      { type: 'elapsed-time', centiseconds: 0 },
      ...(o.iaPds ?? [1]).map((iaid): Dhcpv6Option => ({ type: 'ia-pd', iaid, t1: 0, t2: 0, options: [] })),
      ...(o.options ?? []),
    ],
  };
}

/** A Solicit for prefix delegation (RFC 8415 §18.2.1). */
export function solicit(o: { mac: string; duid?: string; transactionId?: number; iaPds?: number[]; options?: Dhcpv6Option[] }): ClientServerMessage {
  return clientMessage('solicit', o);
}

/** A server's message (RFC 8415 §18.3): Server Identifier (DUID-LL of the server's MAC), Preference 255 for an Advertise. */
export function serverMessage(type: 'advertise' | 'reply', o: { mac: string; transactionId?: number; options?: Dhcpv6Option[] }): ClientServerMessage {
  return {
    type,
    transactionId: o.transactionId ?? 1,
    options: [{ type: 'server-id', duid: duidLl(o.mac) }, ...(type === 'advertise' ? [{ type: 'preference' as const, value: 255 }] : []), ...(o.options ?? [])],
  };
}

/**
 * A Relay-Forward (RFC 8415 §9.1, §19.1.1) wrapping `message`, hop count 0, with the client's MAC
 * as Remote-Id (option 37, RFC 4649 §3) when `remoteId` is given.
 */
export function relayForward(o: { linkAddress: string; peerAddress: string; message: Dhcpv6Message; remoteId?: string; hopCount?: number }): Dhcpv6Message {
  return {
    type: 'relay-forward',
    hopCount: o.hopCount ?? 0,
    linkAddress: o.linkAddress,
    peerAddress: o.peerAddress,
    options: [
      ...(o.remoteId ? [{ type: 'remote-id' as const, enterpriseNumber: REMOTE_ID_ENTERPRISE, remoteId: o.remoteId }] : []),
      { type: 'relay-message', message: o.message },
    ],
  };
}

// ---- Fragmentation (RFC 8200 §4.5) ------------------------------------------------------------

/**
 * Splits a frame's IPv6 packet into two fragments, the first carrying `firstBytes` (a multiple of 8)
 * of everything after the fixed header — extension headers included, so the upper-layer header can
 * be made to start in the second fragment (RFC 7113 §3). Returns the two frames' bytes.
 */
export function fragments(frame: Frame, o: { firstBytes: number; identification: number }): [Buffer, Buffer] {
  if (o.firstBytes <= 0 || o.firstBytes % 8) throw new Error(`a first fragment carries a positive multiple of 8 bytes, not ${o.firstBytes}`);
  const whole = buildFrame(frame);
  const eth = whole.subarray(0, 14);
  const header = whole.subarray(14, 14 + IPV6_HEADER_LENGTH);
  const rest = whole.subarray(14 + IPV6_HEADER_LENGTH);
  if (rest.length <= o.firstBytes)
    throw new Error(`the packet has ${rest.length} bytes after its header: nothing is left for a second fragment after ${o.firstBytes}`);
  const parts = [rest.subarray(0, o.firstBytes), rest.subarray(o.firstBytes)];
  const out = parts.map((part, i) => {
    const fh = Buffer.alloc(8);
    fh[0] = header[6]!; // the next header of the original packet
    fh.writeUInt16BE(((i ? o.firstBytes / 8 : 0) << 3) | (i ? 0 : 1), 2);
    fh.writeUInt32BE(o.identification >>> 0, 4);
    const h = Buffer.from(header);
    h[6] = PROTO.fragment;
    h.writeUInt16BE(fh.length + part.length, 4);
    return Buffer.concat([eth, h, fh, part]);
  });
  return [out[0]!, out[1]!];
}
