/**
 * The relay's client side on the LAN. Receives with libpcap (`cap`) rather than a UDP socket,
 * because the relay must know the Ethernet source of each client frame: that MAC, not the client's
 * DUID or link-local, is what goes into option 37. Delivers server messages in frames completed
 * from a prebuilt template and injected on the LAN (from the router's MAC and link-local, port 547,
 * to the MAC the client's frames came from), so no neighbour discovery stands between the relay
 * and a client; a client the relay has not seen yet is reached through a UDP socket bound to the
 * router's link-local instead. UDP sockets also sit on port 547 of the router's LAN addresses so
 * the kernel does not answer unicast client messages with Port Unreachable (pcap sees them first).
 */
import { createSocket, type Socket, type SocketOptions } from 'node:dgram';
import { lookup } from 'node:dns';
import { isIPv6 } from 'node:net';
import cap from 'cap';
import { DHCPV6_CLIENT_PORT, DHCPV6_SERVER_PORT } from '../packet/frame.ts';
import { ETHERTYPE_IPV6 } from '../packet/ethernet.ts';
import { PROTO } from '../packet/ipv6.ts';
import { pseudoHeaderChecksum } from '../packet/checksum.ts';
import { ipv6ToBytes, macToBytes } from '../addr/bytes.ts';
import type { RelayConfig } from './config.ts';

const CAPTURE_BUFFER_BYTES = 8 * 1024 * 1024;
const SNAPLEN = 65535;
/** Hop limit of delivered messages (Linux's default for unicast). */
const HOP_LIMIT = 64;

/** Ethernet + IPv6 + UDP in front of the DHCPv6 message. */
const HEADERS = 14 + 40 + 8;
const IPV6_SRC = 14 + 8;
const IPV6_DST = 14 + 24;
const UDP = 14 + 40;

/**
 * Frames carrying a server message to a client: Ethernet from the router's MAC, IPv6 from its
 * link-local (hop limit 64, no traffic class or flow label), UDP 547 → 546 — the frame codec's
 * buildFrame output for them (relay-wire.test.ts), from a template completed per message.
 */
export class DeliveryFrames {
  private readonly template = Buffer.alloc(HEADERS);

  constructor(routerMac: string, linkLocal: string) {
    const t = this.template;
    macToBytes(routerMac).copy(t, 6);
    t.writeUInt16BE(ETHERTYPE_IPV6, 12);
    t.writeUInt32BE(0x60000000, 14); // version 6, traffic class 0, flow label 0
    t[20] = PROTO.udp;
    t[21] = HOP_LIMIT;
    ipv6ToBytes(linkLocal).copy(t, IPV6_SRC);
    t.writeUInt16BE(DHCPV6_SERVER_PORT, UDP);
    t.writeUInt16BE(DHCPV6_CLIENT_PORT, UDP + 2);
  }

  build(mac: string, peer: string, message: Buffer): Buffer {
    const frame = Buffer.allocUnsafe(HEADERS + message.length);
    this.template.copy(frame, 0);
    macToBytes(mac).copy(frame, 0);
    ipv6ToBytes(peer).copy(frame, IPV6_DST);
    frame.writeUInt16BE(8 + message.length, 18); // IPv6 payload length
    frame.writeUInt16BE(8 + message.length, UDP + 4); // UDP length
    message.copy(frame, HEADERS);
    // The checksum field is zero (from the template) while the sum runs.
    frame.writeUInt16BE(pseudoHeaderChecksum(frame.subarray(IPV6_SRC, IPV6_SRC + 16), frame.subarray(IPV6_DST, IPV6_DST + 16), PROTO.udp, frame.subarray(UDP)), UDP + 6);
    return frame;
  }
}

export class LanPort {
  private readonly pcap = new cap.Cap();
  private readonly buffer = Buffer.alloc(SNAPLEN);
  private readonly sockets: Socket[] = [];
  private readonly frames: DeliveryFrames;

  private constructor(private readonly cfg: RelayConfig) {
    this.frames = new DeliveryFrames(cfg.routerMac, cfg.linkLocal);
  }

  /**
   * Opens the capture; `onFrame` gets each client frame sent to UDP port 547, as a view of the
   * capture buffer valid during the call only (no copy per frame: the relay reads it and is done).
   */
  static async open(cfg: RelayConfig, onFrame: (frame: Buffer) => void): Promise<LanPort> {
    const port = new LanPort(cfg);
    // Not from the router itself. (libpcap's `inbound` matches nothing through this binding on veth.)
    const filter = `ip6 and udp dst port ${DHCPV6_SERVER_PORT} and not ether src ${cfg.routerMac}`;
    const linkType = port.pcap.open(cfg.lanInterface, filter, CAPTURE_BUFFER_BYTES, port.buffer);
    if (linkType !== 'ETHERNET') throw new Error(`${cfg.lanInterface} is not an Ethernet interface (${linkType})`);
    port.pcap.on('packet', (nbytes) => onFrame(port.buffer.subarray(0, nbytes)));
    for (const address of [`${cfg.linkLocal}%${cfg.lanInterface}`, cfg.linkAddress]) {
      port.sockets.push(await bindUdp(address, DHCPV6_SERVER_PORT));
    }
    return port;
  }

  /** An encoded server message to the client at `peer` (port 546). */
  deliver(peer: string, mac: string | undefined, message: Buffer): void {
    if (!mac) {
      this.sockets[0]!.send(message, DHCPV6_CLIENT_PORT, `${peer}%${this.cfg.lanInterface}`);
      return;
    }
    const frame = this.frames.build(mac, peer, message);
    this.pcap.send(frame, frame.length);
  }

  close(): void {
    this.pcap.close();
    for (const s of this.sockets) s.close();
  }
}

/**
 * Node resolves every datagram's destination through dns.lookup, one extra turn of the event loop
 * per send even for an address literal; the relay only ever names literals, so they answer at once.
 */
const literalLookup: SocketOptions['lookup'] = (hostname, options, callback) => {
  if (isIPv6(hostname)) callback(null, hostname, 6);
  else lookup(hostname, options, callback);
};

/** A UDP socket bound to address:port whose received datagrams are discarded (the capture has them). */
export function bindUdp(address: string, port: number, onMessage: (msg: Buffer, from: string) => void = () => undefined): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const sock = createSocket({ type: 'udp6', reuseAddr: false, lookup: literalLookup });
    sock.once('error', reject);
    sock.on('message', (msg, rinfo) => onMessage(msg, rinfo.address));
    sock.bind({ address, port, exclusive: true }, () => {
      sock.off('error', reject);
      sock.on('error', () => undefined); // send errors (unreachable peer) are not fatal to the relay
      resolve(sock);
    });
  });
}
