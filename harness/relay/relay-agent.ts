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
import { decodeFrame } from '../packet/frame.ts';
import { decodeDhcpv6, findOption, isRelayMessage, findOptions, relayChain, type ClientServerMessage, type ClientServerMessageType, type Dhcpv6Message, type Dhcpv6Option } from '../packet/dhcpv6.ts';
import { isMulticastMac } from '../addr/mac.ts';
import type { RelayConfig } from './config.ts';
import type { Counters } from './counters.ts';
import { ClientLedger } from './clients.ts';
import { expiresAtFor, type DelegatedRoute } from './routes.ts';

/** Where relayed messages go; lan-port.ts and server-port.ts in the daemon, fakes in tests. */
export interface RelayPorts {
  toServer(server: string, message: Dhcpv6Message): void;
  /** `mac`: the client's MAC when the relay has seen a frame from `peer`. */
  toClient(peer: string, mac: string | undefined, message: Dhcpv6Message): void;
}

export interface RouteSink {
  install(routes: DelegatedRoute[]): Promise<void>;
  remove(prefixes: string[]): Promise<string[]>;
}

export const ALL_DHCP_RELAY_AGENTS_AND_SERVERS = 'ff02::1:2';
const ALL_DHCP_MAC = '33:33:00:01:00:02';
/** Client-to-server types a relay forwards (RFC 8415 §7.3); everything else from the LAN is refused. */
const RELAYED: ReadonlySet<ClientServerMessageType> = new Set(['solicit', 'request', 'confirm', 'renew', 'rebind', 'release', 'decline', 'information-request']);
/** Server-to-client types a Relay-Reply may carry. */
const DELIVERED: ReadonlySet<string> = new Set(['advertise', 'reply', 'reconfigure']);
/** Replies to these leave the prefixes gone whatever the status (the client stops using them). */
const RELEASING: ReadonlySet<string> = new Set(['release', 'decline']);
/** Ethernet + IPv6 + UDP headers in front of a DHCPv6 message without VLAN tag or extension headers. */
const HEADERS = 14 + 40 + 8;
/** fe80::/10 on the codec's canonical (lower-case RFC 5952) text. */
const isLinkLocal = (address: string) => /^fe[89ab][0-9a-f]?:/.test(address);

const prefixText = (o: Extract<Dhcpv6Option, { type: 'iaprefix' }>) => `${o.prefix}/${o.prefixLength}`;
const iaPrefixes = (msg: ClientServerMessage) => findOptions(msg.options, 'ia-pd').flatMap((ia) => findOptions(ia.options, 'iaprefix'));

export class RelayAgent {
  readonly clients = new ClientLedger();
  private readonly interfaceId: Buffer;
  private readonly servers: ReadonlySet<string>;

  constructor(
    private readonly cfg: RelayConfig,
    private readonly counters: Counters,
    private readonly ports: RelayPorts,
    private readonly routes: RouteSink,
    private readonly log: (msg: string) => void = () => undefined,
  ) {
    this.interfaceId = Buffer.from(cfg.interfaceId);
    this.servers = new Set(cfg.servers);
  }

  private drop(reason: string): void {
    this.counters.drop(reason);
  }

  /** One Ethernet frame captured on the LAN (UDP to port 547, not sent by the router). */
  fromClient(raw: Buffer): void {
    if (raw.length - HEADERS > this.cfg.maxMessageBytes) return this.drop('oversize');
    let frame;
    try {
      frame = decodeFrame(raw);
    } catch {
      return this.drop('malformed');
    }
    const { ethernet, ipv6, dhcpv6: msg } = frame;
    if (!ipv6 || !msg) return this.drop('malformed');
    // The UDP checksum is not checked: over veth the sender's checksum is offloaded and never
    // filled in, so a capture sees a partial sum (the kernel itself trusts such frames).
    const mac = ethernet.src;
    if (mac === this.cfg.routerMac) return; // our own frame (the capture filter excludes them already)
    const forUs = ipv6.dst === ALL_DHCP_RELAY_AGENTS_AND_SERVERS ? ethernet.dst === ALL_DHCP_MAC : ethernet.dst === this.cfg.routerMac && (ipv6.dst === this.cfg.linkAddress || ipv6.dst === this.cfg.linkLocal);
    if (!forUs) return this.drop('not-for-us');
    if (isMulticastMac(mac)) return this.drop('multicast-source-mac');
    if (!isLinkLocal(ipv6.src)) return this.drop('source-not-link-local');
    if (msg.type === 'unknown') return this.drop('unknown-message-type');
    if (msg.type === 'relay-forward' && msg.hopCount >= this.cfg.hopCountLimit) return this.drop('hop-count-exceeded');
    // Relay-Forward (own option 37), Relay-Reply, Advertise, Reply, Reconfigure: never from a client.
    if (isRelayMessage(msg) || !RELAYED.has(msg.type)) return this.drop(`from-client:${msg.type}`);

    this.counters.receivedFrom('client', msg.type);
    const prefixes = RELEASING.has(msg.type) ? iaPrefixes(msg).map(prefixText) : [];
    this.clients.record(ipv6.src, msg.transactionId, { type: msg.type, mac, prefixes });
    const forward: Dhcpv6Message = {
      type: 'relay-forward',
      hopCount: 0,
      linkAddress: this.cfg.linkAddress,
      peerAddress: ipv6.src,
      options: [
        { type: 'interface-id', id: this.interfaceId },
        { type: 'remote-id', enterpriseNumber: this.cfg.enterpriseNumber, remoteId: mac },
        { type: 'relay-message', message: msg },
      ],
    };
    for (const server of this.servers) {
      this.ports.toServer(server, forward);
      this.counters.sentTo('server', 'relay-forward');
    }
  }

  /** One UDP datagram received on the service side from `from`. */
  fromServer(payload: Buffer, from: string): void {
    if (!this.servers.has(from)) return this.drop('unknown-server');
    let msg: Dhcpv6Message;
    try {
      msg = decodeDhcpv6(payload);
    } catch {
      return this.drop('server-malformed');
    }
    if (msg.type !== 'relay-reply') return this.drop(`from-server:${msg.type === 'unknown' ? 'unknown-message-type' : msg.type}`);
    this.counters.receivedFrom('server', 'relay-reply');
    // The relay never nests (it refuses Relay-Forwards from the LAN), so a nested reply is not for it.
    const chain = relayChain(msg);
    if (chain.length > this.cfg.hopCountLimit) return this.drop('hop-count-exceeded');
    if (chain.length > 1) return this.drop('nested-relay-reply');
    if (msg.linkAddress !== this.cfg.linkAddress) return this.drop('foreign-link-address');
    const ifId = findOption(msg.options, 'interface-id');
    if (ifId && !ifId.id.equals(this.interfaceId)) return this.drop('foreign-interface-id');
    const inner = findOption(msg.options, 'relay-message')?.message;
    if (!inner || inner.type === 'unknown' || !DELIVERED.has(inner.type)) return this.drop('bad-relay-message');
    if (!isLinkLocal(msg.peerAddress)) return this.drop('peer-not-link-local');
    const client = inner as ClientServerMessage;

    this.ports.toClient(msg.peerAddress, this.clients.macOf(msg.peerAddress), client);
    this.counters.sentTo('client', client.type);
    if (client.type === 'reply') this.routesFromReply(msg.peerAddress, client);
  }

  /** A Reply installs its IA_PD prefixes via the client, refreshes them, or removes them (Release/Decline, valid lifetime 0). */
  private routesFromReply(peer: string, reply: ClientServerMessage): void {
    const asked = this.clients.answered(peer, reply.transactionId);
    const offered = iaPrefixes(reply);
    const now = Date.now();
    const install: DelegatedRoute[] = [];
    const remove: string[] = [];
    if (asked && RELEASING.has(asked.type)) remove.push(...asked.prefixes, ...offered.map(prefixText));
    else {
      const mac = asked?.mac ?? this.clients.macOf(peer);
      for (const p of offered) {
        if (p.validLifetime === 0) remove.push(prefixText(p));
        else install.push({ prefix: prefixText(p), via: peer, ...(mac ? { mac } : {}), expiresAt: expiresAtFor(p.validLifetime, now) });
      }
    }
    const fail = (err: Error) => this.log(`route change failed: ${err.message}`);
    if (install.length) this.routes.install(install).catch(fail);
    if (remove.length) this.routes.remove([...new Set(remove)]).catch(fail);
  }
}
