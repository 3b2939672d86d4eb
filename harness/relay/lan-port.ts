/**
 * The relay's client side on the LAN. Receives with libpcap (`cap`) rather than a UDP socket,
 * because the relay must know the Ethernet source of each client frame: that MAC, not the client's
 * DUID or link-local, is what goes into option 37. Delivers server messages as frames crafted with
 * the frame codec and injected on the LAN (from the router's MAC and link-local, port 547, to the
 * MAC the client's frames came from), so no neighbour discovery stands between the relay and a
 * client; a client the relay has not seen yet is reached through a UDP socket bound to the
 * router's link-local instead. UDP sockets also sit on port 547 of the router's LAN addresses so
 * the kernel does not answer unicast client messages with Port Unreachable (pcap sees them first).
 */
import { createSocket, type Socket } from 'node:dgram';
import cap from 'cap';
import { buildFrame, DHCPV6_CLIENT_PORT, DHCPV6_SERVER_PORT } from '../packet/frame.ts';
import { ETHERTYPE_IPV6 } from '../packet/ethernet.ts';
import { encodeDhcpv6, type Dhcpv6Message } from '../packet/dhcpv6.ts';
import type { RelayConfig } from './config.ts';

const CAPTURE_BUFFER_BYTES = 8 * 1024 * 1024;
const SNAPLEN = 65535;
/** Hop limit of delivered messages (Linux's default for unicast). */
const HOP_LIMIT = 64;

export class LanPort {
  private readonly pcap = new cap.Cap();
  private readonly buffer = Buffer.alloc(SNAPLEN);
  private readonly sockets: Socket[] = [];

  private constructor(private readonly cfg: RelayConfig) {}

  /** Opens the capture; `onFrame` gets a copy of each client frame sent to UDP port 547. */
  static async open(cfg: RelayConfig, onFrame: (frame: Buffer) => void): Promise<LanPort> {
    const port = new LanPort(cfg);
    // Not from the router itself. (libpcap's `inbound` matches nothing through this binding on veth.)
    const filter = `ip6 and udp dst port ${DHCPV6_SERVER_PORT} and not ether src ${cfg.routerMac}`;
    const linkType = port.pcap.open(cfg.lanInterface, filter, CAPTURE_BUFFER_BYTES, port.buffer);
    if (linkType !== 'ETHERNET') throw new Error(`${cfg.lanInterface} is not an Ethernet interface (${linkType})`);
    port.pcap.on('packet', (nbytes) => onFrame(Buffer.from(port.buffer.subarray(0, nbytes))));
    for (const address of [`${cfg.linkLocal}%${cfg.lanInterface}`, cfg.linkAddress]) {
      port.sockets.push(await bindUdp(address, DHCPV6_SERVER_PORT));
    }
    return port;
  }

  deliver(peer: string, mac: string | undefined, message: Dhcpv6Message): void {
    if (!mac) {
      this.sockets[0]!.send(encodeDhcpv6(message), DHCPV6_CLIENT_PORT, `${peer}%${this.cfg.lanInterface}`);
      return;
    }
    const frame = buildFrame({
      ethernet: { dst: mac, src: this.cfg.routerMac, etherType: ETHERTYPE_IPV6 },
      ipv6: { trafficClass: 0, flowLabel: 0, hopLimit: HOP_LIMIT, src: this.cfg.linkLocal, dst: peer },
      udp: { srcPort: DHCPV6_SERVER_PORT, dstPort: DHCPV6_CLIENT_PORT },
      dhcpv6: message,
    });
    this.pcap.send(frame, frame.length);
  }

  close(): void {
    this.pcap.close();
    for (const s of this.sockets) s.close();
  }
}

/** A UDP socket bound to address:port whose received datagrams are discarded (the capture has them). */
export function bindUdp(address: string, port: number, onMessage: (msg: Buffer, from: string) => void = () => undefined): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const sock = createSocket({ type: 'udp6', reuseAddr: false });
    sock.once('error', reject);
    sock.on('message', (msg, rinfo) => onMessage(msg, rinfo.address));
    sock.bind({ address, port, exclusive: true }, () => {
      sock.off('error', reject);
      sock.on('error', () => undefined); // send errors (unreachable peer) are not fatal to the relay
      resolve(sock);
    });
  });
}
