/**
 * The relay's server side: one UDP socket on [service address]:547. Relay-Forwards leave from it
 * (source port 547, RFC 8415 §19.1), and the servers' Relay-Replies arrive on it.
 */
import type { Socket } from 'node:dgram';
import { DHCPV6_SERVER_PORT } from '../packet/constants.ts';
import { bindUdp } from './lan-port.ts';

const RECEIVE_BUFFER_BYTES = 4 * 1024 * 1024;

export class ServerPort {
  private constructor(private readonly sock: Socket) {}

  static async open(serviceAddress: string, onMessage: (payload: Buffer, from: string) => void): Promise<ServerPort> {
    const sock = await bindUdp(serviceAddress, DHCPV6_SERVER_PORT, onMessage);
    sock.setRecvBufferSize(RECEIVE_BUFFER_BYTES);
    sock.setSendBufferSize(RECEIVE_BUFFER_BYTES);
    return new ServerPort(sock);
  }

  /** An encoded Relay-Forward to [server]:547. */
  send(server: string, relayForward: Buffer): void {
    this.sock.send(relayForward, DHCPV6_SERVER_PORT, server);
  }

  close(): void {
    this.sock.close();
  }
}
