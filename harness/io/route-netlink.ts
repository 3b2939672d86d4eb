/**
 * A NETLINK_ROUTE socket for route changes, synchronous: rtnetlink handles a request inside the
 * sendmsg that carries it and queues its answers to the socket before sendmsg returns, so one
 * transact() sends many messages in one datagram and returns every answer (native/frame-io).
 */
import { checkInterfaceName, frameIo, netnsPath } from './native.ts';

export class RouteNetlinkSocket {
  #fd: number;
  /** The ifindex of the interface named at open, in the socket's namespace. */
  readonly ifindex: number;

  private constructor(fd: number, ifindex: number) {
    this.#fd = fd;
    this.ifindex = ifindex;
  }

  /** Opens the socket in `netns` (a name or /run/netns path; default: ours) and looks `ifname` up there. */
  static open(ifname: string, netns?: string): RouteNetlinkSocket {
    checkInterfaceName(ifname, 'RouteNetlinkSocket: ifname');
    const [fd, ifindex] = frameIo().openRouteNetlink(ifname, netnsPath(netns));
    return new RouteNetlinkSocket(fd, ifindex);
  }

  /** Sends the messages (back to back, host byte order) and returns the kernel's answers, back to back. */
  transact(request: Uint8Array): Buffer {
    if (this.#fd < 0) throw new Error('RouteNetlinkSocket: closed');
    return frameIo().netlinkTransact(this.#fd, request);
  }

  get closed(): boolean {
    return this.#fd < 0;
  }

  /** Idempotent. */
  close(): void {
    if (this.#fd < 0) return;
    frameIo().netlinkClose(this.#fd);
    this.#fd = -1;
  }
}
