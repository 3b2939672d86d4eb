/**
 * The relay agent proper (RFC 8415 §19), independent of sockets so it can be tested with fakes:
 *  - a client frame from the LAN becomes a Relay-Forward (hop-count 0, link-address = the router's
 *    global LAN address, peer-address = the client's source, Interface-Id, Remote-Id = enterprise
 *    number + the 6 bytes of the frame's Ethernet source (RFC 4649), Relay-Message) to every server;
 *  - a Relay-Reply from a server delivers its inner message to peer-address port 546, and a Reply
 *    carrying IA_PD prefixes installs, refreshes or removes `prefix via peer-address`.
 * Anything else is dropped and counted by reason, never thrown: an instance must not be able to
 * inject its own option 37 (Relay-Forward from the client side) or play server.
 */
import { decodeDhcpv6, DHCPV6_MESSAGE_NUMBERS, DHCPV6_OPTION_NUMBERS, type ClientServerMessageType, type Dhcpv6Message } from '../packet/dhcpv6.ts';
import { isWellFormedDhcpv6 } from '../packet/dhcpv6-scan.ts';
import { hexColon, ipv6FromBytes, ipv6ToBytes, macToBytes } from '../addr/bytes.ts';
import {
  delegatedPrefixes,
  HEADERS,
  interfaceIdOf,
  LINK_ADDRESS,
  messageName,
  PEER_ADDRESS,
  readClientMessage,
  RELAY_HEADER,
  relayChainLength,
  relayMessageOf,
  transactionIdOf,
  type DelegatedPrefix,
} from './messages.ts';
import type { RelayConfig } from './config.ts';
import { DelegationPool } from './pool.ts';
import { LeaseRepair } from './lease-repair.ts';
import { activePrefixLeases, type KeaLease6 } from './reconcile.ts';
import type { Counters } from './counters.ts';
import { ClientLedger } from './clients.ts';
import { expiresAtFor, type DelegatedRoute } from './routes.ts';
import { ALL_DHCP_RELAY_AGENTS_AND_SERVERS, ALL_DHCP_RELAY_AGENTS_AND_SERVERS_MAC } from '../packet/constants.ts';

/**
 * Where relayed messages go, as wire bytes (lan-port.ts and server-port.ts in the daemon). The
 * relay re-encodes nothing: a Relay-Forward carries the client's message bytes as received, and a
 * client receives the Relay Message option's body as the server sent it (RFC 8415 §19.1–19.2).
 */
export interface WirePorts {
  /** An encoded Relay-Forward for `server`. */
  forward(server: string, relayForward: Buffer): void;
  /** An encoded server message for the client at `peer`; `mac`: the client's MAC when the relay has seen a frame from `peer`. */
  deliver(peer: string, mac: string | undefined, message: Buffer): void;
}

/** The same ports taking decoded messages (tests, tools): they get the very bytes a WirePorts would, decoded. */
export interface RelayPorts {
  toServer(server: string, message: Dhcpv6Message): void;
  /** `mac`: the client's MAC when the relay has seen a frame from `peer`. */
  toClient(peer: string, mac: string | undefined, message: Dhcpv6Message): void;
}

export interface RouteSink {
  install(routes: DelegatedRoute[]): Promise<void>;
  remove(prefixes: string[]): Promise<string[]>;
}

/** Client-to-server types a relay forwards (RFC 8415 §7.3); everything else from the LAN is refused. */
const RELAYED: ReadonlySet<string> = new Set(['solicit', 'request', 'confirm', 'renew', 'rebind', 'release', 'decline', 'information-request']);
/** Server-to-client types a Relay-Reply may carry. */
const DELIVERED: ReadonlySet<string> = new Set(['advertise', 'reply', 'reconfigure']);
/** Replies to these leave the prefixes gone whatever the status (the client stops using them). */
const RELEASING: ReadonlySet<string> = new Set(['release', 'decline']);
/** Messages whose Reply binds prefixes: one left unanswered here makes the relay ask the server (lease-repair.ts). */
const BINDING: ReadonlySet<string> = new Set(['request', 'renew', 'rebind']);
/** Field offsets: in the Ethernet header, and from the start of the IPv6 header. */
const MAC_DST = 0;
const MAC_SRC = 6;
const IPV6_SRC = 8;
const IPV6_DST = 24;
/** fe80::/10 (RFC 4291 §2.5.6): the 16 bytes at `at`. */
const isLinkLocalAt = (b: Buffer, at: number) => b[at] === 0xfe && (b[at + 1]! & 0xc0) === 0x80;

function sameBytes(a: Buffer, at: number, b: Buffer): boolean {
  for (let i = 0; i < b.length; i++) if (a[at + i] !== b[i]) return false;
  return true;
}

/**
 * Relay-Forwards as bytes around the client's message: a template holding everything fixed per
 * relay (msg-type, hop-count 0, link-address, Interface-Id, Remote-Id's enterprise number, the
 * Relay Message option's code), completed per message with peer-address, the MAC and the message.
 */
class RelayForwardWriter {
  private readonly template: Buffer;
  private readonly macAt: number;

  constructor(cfg: RelayConfig, interfaceId: Buffer) {
    const remoteId = 4 + 4 + 6;
    this.template = Buffer.alloc(RELAY_HEADER + 4 + interfaceId.length + remoteId + 4);
    const t = this.template;
    t[0] = DHCPV6_MESSAGE_NUMBERS['relay-forward'];
    t[1] = 0; // hop-count: the relay never relays a relay message
    ipv6ToBytes(cfg.linkAddress).copy(t, 2);
    let at = RELAY_HEADER;
    at = t.writeUInt16BE(DHCPV6_OPTION_NUMBERS['interface-id'], at);
    at = t.writeUInt16BE(interfaceId.length, at);
    at += interfaceId.copy(t, at);
    at = t.writeUInt16BE(DHCPV6_OPTION_NUMBERS['remote-id'], at);
    at = t.writeUInt16BE(4 + 6, at);
    at = t.writeUInt32BE(cfg.enterpriseNumber, at);
    this.macAt = at;
    at += 6;
    t.writeUInt16BE(DHCPV6_OPTION_NUMBERS['relay-message'], at);
  }

  /** The Relay-Forward for `message` from the client whose address is at raw[peerAt] and MAC at raw[macAt]. */
  write(raw: Buffer, peerAt: number, macAt: number, message: Buffer): Buffer {
    const t = this.template;
    const out = Buffer.allocUnsafe(t.length + message.length);
    t.copy(out, 0);
    raw.copy(out, PEER_ADDRESS, peerAt, peerAt + 16);
    raw.copy(out, this.macAt, macAt, macAt + 6);
    out.writeUInt16BE(message.length, t.length - 2);
    message.copy(out, t.length);
    return out;
  }
}

/** Decoded ports served by decoding the wire bytes, so tests see exactly what the daemon sends. */
function decodingPorts(ports: RelayPorts): WirePorts {
  return {
    forward: (server, wire) => ports.toServer(server, decodeDhcpv6(wire)),
    deliver: (peer, mac, wire) => ports.toClient(peer, mac, decodeDhcpv6(wire)),
  };
}

export class RelayAgent {
  readonly clients = new ClientLedger();
  private readonly interfaceId: Buffer;
  private readonly servers: ReadonlySet<string>;
  private readonly ports: WirePorts;
  private readonly forwards: RelayForwardWriter;
  // The router's own identities as bytes, compared against each frame in place.
  private readonly routerMac: Buffer;
  private readonly linkAddress: Buffer;
  private readonly linkLocal: Buffer;
  private readonly pool: DelegationPool;
  /** Binding exchanges forwarded and not answered through this relay (lease-repair.ts). */
  private readonly repair = new LeaseRepair();
  private repairing = false;
  private readonly allDhcpAddress = ipv6ToBytes(ALL_DHCP_RELAY_AGENTS_AND_SERVERS);
  private readonly allDhcpMac = macToBytes(ALL_DHCP_RELAY_AGENTS_AND_SERVERS_MAC);

  constructor(
    private readonly cfg: RelayConfig,
    private readonly counters: Counters,
    ports: WirePorts | RelayPorts,
    private readonly routes: RouteSink,
    private readonly log: (msg: string) => void = () => undefined,
  ) {
    this.interfaceId = Buffer.from(cfg.interfaceId);
    this.servers = new Set(cfg.servers);
    this.ports = 'forward' in ports ? ports : decodingPorts(ports);
    this.forwards = new RelayForwardWriter(cfg, this.interfaceId);
    this.routerMac = macToBytes(cfg.routerMac);
    this.linkAddress = ipv6ToBytes(cfg.linkAddress);
    this.linkLocal = ipv6ToBytes(cfg.linkLocal);
    this.pool = new DelegationPool(cfg.delegationPool);
  }

  private drop(reason: string): void {
    this.counters.drop(reason);
  }

  /**
   * One Ethernet frame captured on the LAN (UDP to port 547, not sent by the router). The frame is
   * read during the call only (the capture may reuse its buffer afterwards).
   */
  fromClient(raw: Buffer): void {
    if (raw.length - HEADERS > this.cfg.maxMessageBytes) return this.drop('oversize');
    let client;
    try {
      client = readClientMessage(raw);
    } catch {
      return this.drop('malformed');
    }
    if (!client) return this.drop('malformed');
    const { ip, bytes, type } = client;
    // The UDP checksum is not checked: over veth the sender's checksum is offloaded and never
    // filled in, so a capture sees a partial sum (the kernel itself trusts such frames).
    if (sameBytes(raw, MAC_SRC, this.routerMac)) return; // our own frame (the capture filter excludes them already)
    const toAllDhcp = sameBytes(raw, ip + IPV6_DST, this.allDhcpAddress);
    const forUs = toAllDhcp
      ? sameBytes(raw, MAC_DST, this.allDhcpMac)
      : sameBytes(raw, MAC_DST, this.routerMac) && (sameBytes(raw, ip + IPV6_DST, this.linkAddress) || sameBytes(raw, ip + IPV6_DST, this.linkLocal));
    if (!forUs) return this.drop('not-for-us');
    if (raw[MAC_SRC]! & 1) return this.drop('multicast-source-mac'); // the I/G bit
    if (!isLinkLocalAt(raw, ip + IPV6_SRC)) return this.drop('source-not-link-local');
    if (type === 'unknown') return this.drop('unknown-message-type');
    if (type === 'relay-forward' && bytes[1]! >= this.cfg.hopCountLimit) return this.drop('hop-count-exceeded');
    // Relay-Forward (own option 37), Relay-Reply, Advertise, Reply, Reconfigure: never from a client.
    if (!RELAYED.has(type)) return this.drop(`from-client:${type}`);

    this.counters.receivedFrom('client', type);
    const peer = ipv6FromBytes(raw, ip + IPV6_SRC);
    const mac = hexColon(raw.subarray(MAC_SRC, MAC_SRC + 6));
    const prefixes = RELEASING.has(type) ? delegatedPrefixes(bytes).map((p) => p.prefix) : [];
    this.clients.record(peer, transactionIdOf(bytes), { type: type as ClientServerMessageType, mac, prefixes });
    if (BINDING.has(type)) this.repair.forwarded(peer, mac);
    const forward = this.forwards.write(raw, ip + IPV6_SRC, MAC_SRC, bytes);
    for (const server of this.servers) {
      this.ports.forward(server, forward);
      this.counters.sentTo('server', 'relay-forward');
    }
  }

  /** One UDP datagram received on the service side from `from`. */
  fromServer(payload: Buffer, from: string): void {
    if (!this.servers.has(from)) return this.drop('unknown-server');
    if (!isWellFormedDhcpv6(payload)) return this.drop('server-malformed');
    const type = messageName(payload[0]!);
    if (type !== 'relay-reply') return this.drop(`from-server:${type === 'unknown' ? 'unknown-message-type' : type}`);
    this.counters.receivedFrom('server', 'relay-reply');
    // The relay never nests (it refuses Relay-Forwards from the LAN), so a nested reply is not for it.
    const chain = relayChainLength(payload);
    if (chain > this.cfg.hopCountLimit) return this.drop('hop-count-exceeded');
    if (chain > 1) return this.drop('nested-relay-reply');
    if (!sameBytes(payload, LINK_ADDRESS, this.linkAddress)) return this.drop('foreign-link-address');
    const ifId = interfaceIdOf(payload);
    if (ifId && !ifId.equals(this.interfaceId)) return this.drop('foreign-interface-id');
    const inner = relayMessageOf(payload);
    const innerType = inner ? messageName(inner[0]!) : 'unknown';
    if (!inner || !DELIVERED.has(innerType)) return this.drop('bad-relay-message');
    if (!isLinkLocalAt(payload, PEER_ADDRESS)) return this.drop('peer-not-link-local');

    // The server's own bytes go to the client: the first Relay Message option's body.
    const peer = ipv6FromBytes(payload, PEER_ADDRESS);
    this.ports.deliver(peer, this.clients.macOf(peer), inner);
    this.counters.sentTo('client', innerType);
    if (innerType === 'reply') {
      this.repair.answered(peer);
      this.routesFromReply(peer, transactionIdOf(inner), this.inPool(inner, delegatedPrefixes(inner)));
    }
  }

  /** A Reply installs its IA_PD prefixes via the client, refreshes them, or removes them (Release/Decline, valid lifetime 0). */
  private routesFromReply(peer: string, transactionId: number, offered: DelegatedPrefix[]): void {
    const asked = this.clients.answered(peer, transactionId);
    const install: DelegatedRoute[] = [];
    const remove: string[] = [];
    if (asked && RELEASING.has(asked.type)) remove.push(...asked.prefixes, ...offered.map((p) => p.prefix));
    else {
      const mac = asked?.mac ?? this.clients.macOf(peer);
      const now = Date.now();
      for (const p of offered) {
        if (p.validLifetime === 0) remove.push(p.prefix);
        else
          install.push(
            mac
              ? { prefix: p.prefix, via: peer, mac, expiresAt: expiresAtFor(p.validLifetime, now) }
              : { prefix: p.prefix, via: peer, expiresAt: expiresAtFor(p.validLifetime, now) },
          );
      }
    }
    if (install.length) this.routes.install(install).catch(this.routeChangeFailed);
    if (remove.length) this.routes.remove([...new Set(remove)]).catch(this.routeChangeFailed);
  }

  /** The prefixes of `reply` inside the pod's delegation pool; the others are refused (counted), never routed. */
  private inPool(reply: Buffer, offered: DelegatedPrefix[]): DelegatedPrefix[] {
    const kept = offered.filter((p) => this.pool.contains(reply, p.at, p.length));
    this.counters.routes.refused += offered.length - kept.length;
    return kept;
  }

  /**
   * Routes for binding exchanges the server answered through the other router only: when one has
   * waited past the grace period, the server's active leases of that client's MAC are routed via
   * its address (inside the delegation pool only, as for a Reply). Called on a timer; one at a time.
   */
  async repairRoutes(fetchLeases: () => Promise<KeaLease6[]>, now = Date.now()): Promise<number> {
    if (this.repairing || !this.repair.due(now)) return 0;
    this.repairing = true;
    try {
      const routes = this.repair.routesFrom(activePrefixLeases(await fetchLeases(), now / 1000), now).filter((r) => {
        const [address, length] = r.prefix.split('/');
        return this.pool.contains(ipv6ToBytes(address!), 0, Number(length));
      });
      if (routes.length) {
        this.counters.routes.repaired += routes.length;
        await this.routes.install(routes);
      }
      return routes.length;
    } finally {
      this.repairing = false;
    }
  }

  private readonly routeChangeFailed = (err: Error) => this.log(`route change failed: ${err.message}`);
}
