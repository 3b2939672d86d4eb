/**
 * The relay's client side on the LAN. Receives on a packet socket (harness/io) rather than a UDP
 * socket, because the relay must know the Ethernet source of each client frame: that MAC, not the
 * client's DUID or link-local, is what goes into option 37. The kernel filters the socket down to
 * client messages (client-filter.ts) and hands them over in batches, one call per batch. Delivers
 * server messages in frames completed from a prebuilt template and sent on the packet socket (from
 * the router's MAC and link-local, port 547, to the MAC the client's frames came from), so no
 * neighbour discovery stands between the relay and a client; a client the relay has not seen yet
 * is reached through a UDP socket bound to the router's link-local instead. UDP sockets also sit on
 * port 547 of the router's LAN addresses so the kernel does not answer unicast client messages
 * with Port Unreachable (the packet socket sees them first).
 */
import { createSocket, type Socket, type SocketOptions } from 'node:dgram';
import { lookup } from 'node:dns';
import { isIPv6 } from 'node:net';
import { DHCPV6_CLIENT_PORT, DHCPV6_SERVER_PORT } from '../packet/constants.ts';
import { ETHERTYPE_IPV6 } from '../packet/ethernet.ts';
import { PROTO } from '../packet/ipv6.ts';
import { pseudoHeaderChecksum } from '../packet/checksum.ts';
import { ipv6ToBytes, macToBytes } from '../addr/bytes.ts';
import type { RelayConfig } from './config.ts';
import { openPacketSocket, type PacketSocket } from '../io/packet-socket.ts';
import { clientMessageFilter } from './client-filter.ts';

const RECEIVE_BUFFER_BYTES = 8 * 1024 * 1024;
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

  /** `mac` as the relay keeps it (lower-case colon-hex from the client's frame), written straight into the frame. */
  build(mac: string, peer: string, message: Buffer): Buffer {
    const frame = Buffer.allocUnsafe(HEADERS + message.length);
    this.template.copy(frame, 0);
    frame.write(mac.replaceAll(':', ''), 0, 6, 'hex');
    ipv6ToBytes(peer).copy(frame, IPV6_DST);
    frame.writeUInt16BE(8 + message.length, 18); // IPv6 payload length
    frame.writeUInt16BE(8 + message.length, UDP + 4); // UDP length
    message.copy(frame, HEADERS);
    // The checksum field is zero (from the template) while the sum runs.
    frame.writeUInt16BE(
      pseudoHeaderChecksum(frame.subarray(IPV6_SRC, IPV6_SRC + 16), frame.subarray(IPV6_DST, IPV6_DST + 16), PROTO.udp, frame.subarray(UDP)),
      UDP + 6,
    );
    return frame;
  }
}

export class LanPort {
  private readonly sockets: Socket[] = [];
  private readonly frames: DeliveryFrames;

  private constructor(
    private readonly cfg: RelayConfig,
    private readonly packets: PacketSocket,
  ) {
    this.frames = new DeliveryFrames(cfg.routerMac, cfg.linkLocal);
  }

  /**
   * Opens the LAN side; `onFrame` gets each client frame sent to UDP port 547 (IPv6, not from the
   * router), and `onError` a read failure, after which no frame arrives.
   */
  static async open(cfg: RelayConfig, onFrame: (frame: Buffer) => void, onError: (err: Error) => void): Promise<LanPort> {
    // IPv6 frames only (the kernel does not even show the socket the router's own sends), filtered in the kernel.
    const packets = openPacketSocket(cfg.lanInterface, {
      protocol: 'ipv6',
      ignoreOutgoing: true,
      filter: clientMessageFilter(cfg.routerMac),
      receiveBuffer: RECEIVE_BUFFER_BYTES,
    });
    const port = new LanPort(cfg, packets);
    try {
      for (const address of [`${cfg.linkLocal}%${cfg.lanInterface}`, cfg.linkAddress]) {
        port.sockets.push(await bindUdp(address, DHCPV6_SERVER_PORT));
      }
    } catch (err) {
      port.close();
      throw err;
    }
    packets.onError(onError).onFrames((frames) => {
      for (const frame of frames) onFrame(frame);
    });
    return port;
  }

  /** An encoded server message to the client at `peer` (port 546). */
  deliver(peer: string, mac: string | undefined, message: Buffer): void {
    if (!mac) {
      this.sockets[0]!.send(message, DHCPV6_CLIENT_PORT, `${peer}%${this.cfg.lanInterface}`);
      return;
    }
    // A frame the kernel has no room for is lost as on a wire (the client retransmits); the socket counts it.
    this.packets.send(this.frames.build(mac, peer, message));
  }

  close(): void {
    this.packets.close();
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
