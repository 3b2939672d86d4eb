/**
 * The frames of the threat matrix (threat-matrix.ts): for each cell, the row's packet kind as an
 * honest sender puts it on the wire (the packet builders' RFC defaults), with the column's field
 * forged. Every frame carries a tag that makes its bytes unique (an ND nonce option, an echo
 * identifier, a port, a transaction id, a multicast group), so many cells share one capture window.
 * Frames are harmless to the pod when they pass: RAs with router lifetime 0 from no router's address,
 * DHCPv6 messages with no IA and a DUID no one has, datagrams to the discard port.
 */
import { buildFrame, type Frame } from '../packet/frame.ts';
import {
  dhcpv6Datagram,
  echoReply,
  echoRequest,
  fragments,
  icmpv6Packet,
  mldReport,
  neighborAdvertisement,
  neighborSolicitation,
  redirect,
  relayForward,
  routerAdvertisement,
  routerSolicitation,
  serverMessage,
  tcpSyn,
  udpDatagram,
} from '../packet/builders.ts';
import { ALL_DHCP_RELAY_AGENTS_AND_SERVERS, ALL_NODES, DHCPV6_CLIENT_PORT, DHCPV6_SERVER_PORT } from '../packet/constants.ts';
import type { ExtensionHeader } from '../packet/ipv6.ts';
import type { ClientServerMessage, ClientServerMessageType } from '../packet/dhcpv6.ts';
import type { NdOption } from '../packet/nd-options.ts';
import { duidLl } from '../packet/dhcpv6-client-frame.ts';
import { ipv6ToBytes } from '../addr/bytes.ts';
import type { MatrixCell, MatrixRow } from './threat-matrix.ts';

/** Who is who in the matrix: the attacker (egress) or victim (ingress) and the identities it may forge. */
export interface Identities {
  /** The guarded instance whose outgoing traffic is judged. */
  self: { mac: string; slaac: string; linkLocal: string; ownPrefixAddress?: string };
  /** An instance on the same hypervisor (its MAC is forged: the bridge would learn it on the wrong port). */
  neighbour: { mac: string };
  /** An instance on another hypervisor, with a delegated prefix. */
  other: { mac: string; slaac: string; linkLocal: string; prefixAddress: string };
  router: { mac: string; linkLocal: string };
  /** A host beyond the routers (routed traffic goes to the router's MAC). */
  core: string;
  /** The DHCPv6 server's own address (never to be reached directly by an instance). */
  server: string;
  /** The instance whose incoming traffic is judged (its group opens tcp 22). */
  victim: { mac: string; slaac: string; linkLocal: string };
  /** The port an ingress rule of the victim's group opens, and one no rule opens. */
  openPort: number;
  closedPort: number;
}

/** A global address outside any pod: the documentation prefix 3fff::/20 (RFC 9637). */
export const FOREIGN_ADDRESS = '3fff:0:5347::bad';
const MULTICAST_SOURCE = ALL_NODES;
/** An IP protocol number reserved for experimentation (RFC 3692): no host answers it. */
const EXPERIMENTAL_PROTOCOL = 253;
/** A link-local that is no router's: an RA from it with lifetime 0 changes nothing anywhere. */
const NO_ROUTER_LINK_LOCAL = 'fe80::5347:1';

/** The field overrides one column applies to a row's honest frame. */
interface Forge {
  mac?: string;
  src?: string;
  lla?: string;
  target?: 'other';
  hopLimit?: number;
  extensions?: ExtensionHeader[];
}

/** An 8-byte Hop-by-Hop or Destination Options header holding one PadN option (type 1, RFC 8200 §4.2). */
const padded = (type: 'hop-by-hop' | 'destination-options'): ExtensionHeader => ({ type, options: [{ optionType: 1, data: Buffer.alloc(4) }] });

function forgeOf(cell: MatrixCell, ids: Identities, tag: number): Forge {
  switch (cell.column.id) {
    case 'mac-other':
      return { mac: ids.neighbour.mac };
    case 'src-other-slaac':
      return { src: ids.other.slaac };
    case 'src-other-link-local':
      return { src: ids.other.linkLocal };
    case 'src-other-prefix':
      return { src: ids.other.prefixAddress };
    case 'src-own-prefix':
      return { src: ids.self.ownPrefixAddress };
    case 'src-router':
      return { src: ids.router.linkLocal };
    case 'src-foreign-global':
      return { src: FOREIGN_ADDRESS };
    case 'src-unspecified':
      return { src: '::' };
    case 'src-multicast':
      return { src: MULTICAST_SOURCE };
    case 'lla-other':
      return { lla: ids.neighbour.mac };
    case 'target-other':
      return { target: 'other' };
    case 'hop-limit':
      return { hopLimit: 64 };
    case 'hop-by-hop':
      return { extensions: [padded('hop-by-hop')] };
    // RFC 7113 §3: a Destination Options header in the first fragment pushes the upper-layer header into the second.
    case 'destination-options':
    case 'header-in-second-fragment':
      return { extensions: [padded('destination-options')] };
    case 'atomic-fragment':
      return { extensions: [{ type: 'fragment', offset: 0, more: false, identification: tag }] };
    default:
      return {};
  }
}

/** Six bytes unique to the frame: an ND nonce option (RFC 3971 §5.3.2) that receivers ignore. */
function nonce(tag: number): NdOption {
  const b = Buffer.alloc(6);
  b.writeUIntBE(tag, 0, 6);
  return { type: 'nonce', nonce: b };
}

/** A site-scoped group unique to the frame, for MLD reports and queries. */
const groupOf = (tag: number) => `ff05::5347:${(tag >>> 16).toString(16)}:${(tag & 0xffff).toString(16)}`;

const tagBytes = (tag: number) => {
  const b = Buffer.alloc(8);
  b.writeUInt32BE(0x53470000, 0);
  b.writeUInt32BE(tag >>> 0, 4);
  return b;
};

/** The invoking packet of an ICMPv6 error: the start of an IPv6 header the tag makes unique. */
const invoking = (tag: number) =>
  Buffer.concat([Buffer.from([0x60, 0, 0, 0, 0, 8, 17, 64]), ipv6ToBytes(FOREIGN_ADDRESS), ipv6ToBytes(FOREIGN_ADDRESS), tagBytes(tag)]);

function clientMessageOf(type: ClientServerMessageType, ids: Identities, tag: number): ClientServerMessage {
  // A DUID no client has (the tag as its "MAC") and no IA: Kea answers nothing that changes a binding.
  const duidMac = `02:53:47:${[tag >>> 16, tag >>> 8, tag].map((x) => (x & 0xff).toString(16).padStart(2, '0')).join(':')}`;
  const needsServer = ['request', 'renew', 'release', 'decline'].includes(type);
  return {
    type,
    transactionId: tag & 0xffffff,
    options: [
      { type: 'client-id', duid: duidLl(duidMac) },
      ...(needsServer ? [{ type: 'server-id' as const, duid: duidLl('02:53:47:00:00:01') }] : []),
      { type: 'elapsed-time', centiseconds: 0 },
    ],
  };
}

const DHCPV6_ROW_TYPES: Record<string, ClientServerMessageType> = {
  'dhcpv6-solicit': 'solicit',
  'dhcpv6-request': 'request',
  'dhcpv6-renew': 'renew',
  'dhcpv6-rebind': 'rebind',
  'dhcpv6-release': 'release',
  'dhcpv6-decline': 'decline',
  'dhcpv6-confirm': 'confirm',
  'dhcpv6-information-request': 'information-request',
};

const ERRORS: Record<string, (tag: number) => ReturnType<typeof errorMessage>> = {
  'destination-unreachable': (tag) => errorMessage(1, 4, tag),
  'packet-too-big': (tag) => errorMessage(2, 0, tag, 1280),
  'time-exceeded': (tag) => errorMessage(3, 0, tag),
  'parameter-problem': (tag) => errorMessage(4, 0, tag, 6),
};

function errorMessage(icmpType: number, code: number, tag: number, field = 0) {
  const head = Buffer.alloc(4);
  head.writeUInt32BE(field, 0);
  return { type: 'unknown' as const, icmpType, code, body: Buffer.concat([head, invoking(tag)]) };
}

/** An MLD (v1-format) message: Maximum Response Delay, reserved, the group (RFC 2710 §3). */
function mldV1(icmpType: number, group: string) {
  const body = Buffer.concat([Buffer.from([0x03, 0xe8, 0, 0]), ipv6ToBytes(group)]);
  return { type: 'unknown' as const, icmpType, code: 0, body };
}
const ROUTER_ALERT_MLD: ExtensionHeader = { type: 'hop-by-hop', options: [{ optionType: 5, data: Buffer.from([0, 0]) }] };

/** The frame of an egress row, honest but for `f`. */
function egressFrame(row: string, ids: Identities, f: Forge, tag: number): Frame {
  const s = ids.self;
  const mac = f.mac ?? s.mac;
  const lla = f.lla ?? s.mac;
  const wire = {
    mac,
    ...(f.src !== undefined ? { src: f.src } : {}),
    ...(f.hopLimit !== undefined ? { hopLimit: f.hopLimit } : {}),
    ...(f.extensions ? { extensions: f.extensions } : {}),
  };
  const routed = { ...wire, src: f.src ?? s.slaac, dst: ids.core, dstMac: ids.router.mac };
  const other = f.target === 'other';
  const slla: NdOption = { type: 'source-link-layer-address', address: lla };
  const tlla: NdOption = { type: 'target-link-layer-address', address: lla };
  switch (row) {
    case 'rs':
      // From :: an RS carries no source link-layer address (RFC 4861 §4.1).
      return routerSolicitation({ ...wire, src: f.src ?? s.linkLocal, options: f.src === '::' ? [nonce(tag)] : [slla, nonce(tag)] });
    case 'ns-resolution':
      return neighborSolicitation({ ...wire, target: other ? ids.other.slaac : ids.router.linkLocal, options: [slla, nonce(tag)] });
    case 'ns-nud': {
      const [target, dstMac] = other ? [ids.other.slaac, ids.other.mac] : [ids.router.linkLocal, ids.router.mac];
      return neighborSolicitation({ ...wire, target, purpose: 'unreachability', dstMac, options: [slla, nonce(tag)] });
    }
    case 'ns-dad':
      return neighborSolicitation({ ...wire, src: f.src ?? '::', target: other ? ids.other.slaac : s.slaac, purpose: 'dad', options: [nonce(tag)] });
    case 'na-solicited':
      return neighborAdvertisement({
        ...wire,
        dst: ids.router.linkLocal,
        dstMac: ids.router.mac,
        solicited: true,
        target: other ? ids.other.slaac : s.linkLocal,
        options: [tlla, nonce(tag)],
      });
    case 'na-unsolicited':
      return neighborAdvertisement({ ...wire, target: other ? ids.other.slaac : s.slaac, options: [tlla, nonce(tag)] });
    case 'mldv2-report':
      return mldReport({ ...wire, groups: [groupOf(tag)] });
    case 'mldv1-report': {
      const group = groupOf(tag);
      return icmpv6Packet({
        ...wire,
        src: f.src ?? s.linkLocal,
        dst: group,
        hopLimit: f.hopLimit ?? 1,
        extensions: f.extensions ?? [ROUTER_ALERT_MLD],
        message: mldV1(131, group),
      });
    }
    case 'echo-request':
      return echoRequest({ ...routed, identifier: tag & 0xffff, sequence: (tag >>> 16) & 0xffff, data: tagBytes(tag) });
    case 'echo-reply':
      return echoReply({ ...routed, identifier: tag & 0xffff, sequence: (tag >>> 16) & 0xffff, data: tagBytes(tag) });
    case 'tcp':
      return tcpSyn({ ...routed, dport: 9, sport: 20000 + (tag % 40000), seq: tag });
    case 'udp':
      return udpDatagram({ ...routed, sport: 20000 + (tag % 40000), payload: tagBytes(tag) });
    case 'other-protocol':
      return { ...udpDatagram(routed), udp: undefined, protocol: EXPERIMENTAL_PROTOCOL, payload: tagBytes(tag) };
    // Forbidden kinds, sent as a host would forge them.
    case 'ra':
      return routerAdvertisement({ ...wire, src: f.src ?? s.linkLocal, routerLifetime: 0, options: [slla, nonce(tag)] });
    case 'redirect':
      return redirect({ ...wire, dst: ids.other.slaac, dstMac: ids.other.mac, target: s.linkLocal, destination: ids.core, options: [tlla, nonce(tag)] });
    case 'mld-query':
      return icmpv6Packet({
        ...wire,
        src: f.src ?? s.linkLocal,
        dst: ALL_NODES,
        hopLimit: 1,
        extensions: f.extensions ?? [ROUTER_ALERT_MLD],
        message: mldV1(130, groupOf(tag)),
      });
    case 'router-renumbering': {
      const body = Buffer.concat([tagBytes(tag).subarray(4), Buffer.alloc(8)]);
      return icmpv6Packet({ ...wire, src: f.src ?? s.linkLocal, dst: 'ff02::2', message: { type: 'unknown', icmpType: 138, code: 0, body } });
    }
    case 'dhcpv6-advertise':
    case 'dhcpv6-reply':
      return dhcpv6Datagram({
        ...wire,
        dst: ids.other.linkLocal,
        dstMac: ids.other.mac,
        sport: DHCPV6_SERVER_PORT,
        dport: DHCPV6_CLIENT_PORT,
        message: serverMessage(row === 'dhcpv6-advertise' ? 'advertise' : 'reply', { mac: s.mac, transactionId: tag & 0xffffff }),
      });
    case 'dhcpv6-relay-forward':
      return dhcpv6Datagram({
        ...wire,
        sport: DHCPV6_SERVER_PORT,
        message: relayForward({ linkAddress: s.slaac, peerAddress: s.linkLocal, remoteId: ids.other.mac, message: clientMessageOf('solicit', ids, tag) }),
      });
    case 'dhcpv6-relay-reply':
      return dhcpv6Datagram({
        ...wire,
        dst: ids.other.linkLocal,
        dstMac: ids.other.mac,
        sport: DHCPV6_SERVER_PORT,
        message: {
          type: 'relay-reply',
          hopCount: 0,
          linkAddress: s.slaac,
          peerAddress: ids.other.linkLocal,
          options: [{ type: 'relay-message', message: serverMessage('reply', { mac: s.mac, transactionId: tag & 0xffffff }) }],
        },
      });
    case 'dhcpv6-unicast':
      return dhcpv6Datagram({ ...wire, src: f.src ?? s.slaac, dst: ids.server, dstMac: ids.router.mac, message: clientMessageOf('solicit', ids, tag) });
    default: {
      const error = ERRORS[row];
      if (error) return icmpv6Packet({ ...routed, message: error(tag) });
      const type = DHCPV6_ROW_TYPES[row];
      if (type) return dhcpv6Datagram({ ...wire, src: f.src ?? s.linkLocal, dst: ALL_DHCP_RELAY_AGENTS_AND_SERVERS, message: clientMessageOf(type, ids, tag) });
      throw new Error(`no frame for the egress row '${row}'`);
    }
  }
}

/** A port of the victim's that a reply to its own flow comes back to. */
export const replyPort = (tag: number) => 30000 + (tag % 30000);

/** The frame of an ingress row: from a router (ND, MLD, DHCPv6) or from beyond it (the core, routed through the router's MAC). */
function ingressFrame(row: string, column: string, ids: Identities, tag: number): Frame {
  const v = ids.victim;
  const fromRouter = { mac: ids.router.mac, src: ids.router.linkLocal };
  const fromCore = { mac: ids.router.mac, src: ids.core, dst: v.slaac, dstMac: v.mac };
  switch (row) {
    case 'in-ra':
      return routerAdvertisement({ mac: ids.router.mac, src: NO_ROUTER_LINK_LOCAL, routerLifetime: 0, options: [nonce(tag)] });
    case 'in-ns':
      return neighborSolicitation({ ...fromRouter, target: v.slaac, options: [{ type: 'source-link-layer-address', address: ids.router.mac }, nonce(tag)] });
    case 'in-na':
      return neighborAdvertisement({
        ...fromRouter,
        target: ids.router.linkLocal,
        router: true,
        options: [{ type: 'target-link-layer-address', address: ids.router.mac }, nonce(tag)],
      });
    case 'in-mld-query':
      return icmpv6Packet({ ...fromRouter, dst: ALL_NODES, hopLimit: 1, extensions: [ROUTER_ALERT_MLD], message: mldV1(130, groupOf(tag)) });
    case 'in-echo-request':
      return echoRequest({ ...fromCore, identifier: tag & 0xffff, sequence: (tag >>> 16) & 0xffff, data: tagBytes(tag) });
    case 'in-dhcpv6-reply':
      return dhcpv6Datagram({
        ...fromRouter,
        dst: v.linkLocal,
        dstMac: v.mac,
        sport: DHCPV6_SERVER_PORT,
        dport: DHCPV6_CLIENT_PORT,
        message: serverMessage('reply', { mac: ids.router.mac, transactionId: tag & 0xffffff }),
      });
    case 'in-tcp-allowed-port':
      return tcpSyn({ ...fromCore, dport: ids.openPort, sport: 20000 + (tag % 40000), seq: tag });
    case 'in-tcp-closed-port':
      return tcpSyn({ ...fromCore, dport: ids.closedPort, sport: 20000 + (tag % 40000), seq: tag });
    case 'in-udp':
      // A reply comes from the port the victim's own datagram went to (replyRequest), to the port it came from.
      return udpDatagram({ ...fromCore, sport: 9, dport: column === 'reply' ? replyPort(tag) : 40000 + (tag % 20000), payload: tagBytes(tag) });
    case 'in-other-protocol':
      return { ...udpDatagram(fromCore), udp: undefined, protocol: EXPERIMENTAL_PROTOCOL, payload: tagBytes(tag) };
    default: {
      const error = ERRORS[row.slice('in-'.length)];
      if (error) return icmpv6Packet({ ...fromCore, message: error(tag) });
      throw new Error(`no frame for the ingress row '${row}'`);
    }
  }
}

/**
 * The frames of one cell (two for `header-in-second-fragment`: both fragments), unique by `tag`.
 * Undefined when the identities lack what the cell forges (an attacker with no delegated prefix).
 */
export function cellFrames(cell: MatrixCell, ids: Identities, tag: number): Buffer[] | undefined {
  if (cell.row.direction === 'ingress') return [buildFrame(ingressFrame(cell.row.id, cell.column.id, ids, tag))];
  const forge = forgeOf(cell, ids, tag);
  if (cell.column.id === 'src-own-prefix' && !ids.self.ownPrefixAddress) return undefined;
  const frame = egressFrame(cell.row.id, ids, forge, tag);
  if (cell.column.id === 'header-in-second-fragment') return fragments(frame, { firstBytes: 8, identification: tag });
  return [buildFrame(frame)];
}

/** The frame the guarded instance sends to open the flow an `in-udp.reply` cell answers. */
export function replyRequest(ids: Identities, tag: number): Buffer {
  const v = ids.victim;
  return buildFrame(udpDatagram({ mac: v.mac, src: v.slaac, dst: ids.core, dstMac: ids.router.mac, sport: replyPort(tag), dport: 9, payload: tagBytes(tag) }));
}

/** The legitimate kind whose honest frame is the positive control of a row (a forbidden kind has none of its own). */
export function controlRowOf(row: MatrixRow): string {
  switch (row.id) {
    case 'ra':
    case 'redirect':
      return 'rs';
    case 'mld-query':
      return 'mldv2-report';
    case 'router-renumbering':
      return 'echo-request';
    default:
      if (row.kind === 'forbidden') return 'dhcpv6-solicit';
      // An NS for the instance's own address reaches it under every policy variant.
      if (row.direction === 'ingress') return 'in-ns';
      return row.id;
  }
}

/** The honest frame of a row, as a positive control (egress: from the guarded instance; ingress: to the victim). */
export function controlFrame(rowId: string, ids: Identities, tag: number): Buffer {
  if (rowId.startsWith('in-')) return buildFrame(ingressFrame(rowId, 'unsolicited', ids, tag));
  return buildFrame(egressFrame(rowId, ids, {}, tag));
}
