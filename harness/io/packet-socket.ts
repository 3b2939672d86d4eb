/**
 * AF_PACKET raw sockets bound to one interface: every frame the interface sends or receives (or
 * only IPv6), optionally shared across sockets by a PACKET_FANOUT group (each frame goes to one
 * member) and pre-filtered in the kernel by a classic BPF program (`tcpdump -dd` output).
 */
import { FramePort } from './frame-port.ts';
import { checkInterfaceName, frameIo, netnsPath, type NativePort } from './native.ts';

/** One classic BPF instruction as `tcpdump -dd` prints it: { code, jt, jf, k }. */
export type BpfInstruction = readonly [code: number, jt: number, jf: number, k: number];

export type FanoutMode = 'hash' | 'lb' | 'cpu';

export interface PacketSocketOptions {
  /** Open the socket in this network namespace: a name (ip netns) or a path like /run/netns/<name>. */
  netns?: string;
  /** EtherType to receive: 'all' (ETH_P_ALL, default), 'ipv6', or a number. */
  protocol?: 'all' | 'ipv6' | number;
  /** Join fanout group `group` (0..65535; members must share interface and protocol): hash = per flow, lb = round robin, cpu = by receiving CPU. */
  fanout?: { group: number; mode: FanoutMode };
  /** Do not receive frames this host sends on the interface (PACKET_IGNORE_OUTGOING). */
  ignoreOutgoing?: boolean;
  /** Classic BPF program run in the kernel before queueing (e.g. parseTcpdumpDd(`tcpdump -dd ...` output)). */
  filter?: readonly BpfInstruction[];
  /** Receive buffer in bytes (SO_RCVBUFFORCE; default: the kernel's, also where the caller may not force it). */
  receiveBuffer?: number;
}

/** An open AF_PACKET SOCK_RAW socket bound to one interface; it keeps capturing across down/up, and goes silent if the interface is deleted. */
export class PacketSocket extends FramePort {
  #packets = 0;
  #drops = 0;

  /** Use openPacketSocket(). */
  static fromNative(native: NativePort): PacketSocket {
    return new PacketSocket(native);
  }

  /** The kernel's count of frames queued to this socket and dropped for lack of room, since open (PACKET_STATISTICS). */
  kernelStatistics(): { packets: number; drops: number } {
    if (!this.closed) {
      const [packets, drops] = this.native.packetStatistics();
      this.#packets += packets;
      this.#drops += drops;
    }
    return { packets: this.#packets, drops: this.#drops };
  }
}

function protocolNumber(protocol: PacketSocketOptions['protocol']): number {
  const addon = frameIo();
  if (protocol === undefined || protocol === 'all') return addon.ETH_P_ALL;
  if (protocol === 'ipv6') return addon.ETH_P_IPV6;
  if (!Number.isInteger(protocol) || protocol < 1 || protocol > 0xffff)
    throw new Error(`openPacketSocket: protocol must be 'all', 'ipv6' or an EtherType 1..65535 (got ${String(protocol)})`);
  return protocol;
}

function fanoutArgs(fanout: PacketSocketOptions['fanout']): [group: number, mode: number] {
  if (!fanout) return [-1, 0];
  const addon = frameIo();
  const modes: Record<FanoutMode, number> = { hash: addon.FANOUT_HASH, lb: addon.FANOUT_LB, cpu: addon.FANOUT_CPU };
  if (!Number.isInteger(fanout.group) || fanout.group < 0 || fanout.group > 0xffff)
    throw new Error(`openPacketSocket: fanout.group must be 0..65535 (got ${fanout.group})`);
  if (!(fanout.mode in modes)) throw new Error(`openPacketSocket: fanout.mode must be hash, lb or cpu (got ${String(fanout.mode)})`);
  return [fanout.group, modes[fanout.mode]];
}

function filterArray(filter: PacketSocketOptions['filter']): Uint32Array | null {
  if (!filter) return null;
  if (filter.length < 1 || filter.length > 4096) throw new Error(`openPacketSocket: filter must have 1..4096 instructions (got ${filter.length})`);
  const out = new Uint32Array(filter.length * 4);
  filter.forEach((insn, i) => {
    const [code, jt, jf, k] = insn;
    const ok =
      insn.length === 4 && [code, jt, jf, k].every((v) => Number.isInteger(v) && v >= 0) && code <= 0xffff && jt <= 0xff && jf <= 0xff && k <= 0xffffffff;
    if (!ok) throw new Error(`openPacketSocket: filter[${i}] must be [code ≤ 0xffff, jt ≤ 255, jf ≤ 255, k ≤ 0xffffffff]`);
    out.set([code, jt, jf, k], i * 4);
  });
  return out;
}

/** Parses `tcpdump -dd EXPR` output ("{ 0x28, 0, 0, 0x0000000c }," per line) into a filter. */
export function parseTcpdumpDd(text: string): BpfInstruction[] {
  const lines = text
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  return lines.map((line, i) => {
    const m = /^\{\s*(0x[0-9a-f]+|\d+),\s*(\d+),\s*(\d+),\s*(0x[0-9a-f]+|\d+)\s*\},?$/i.exec(line);
    if (!m) throw new Error(`tcpdump -dd line ${i + 1}: expected '{ code, jt, jf, k },' (got '${line}')`);
    return [Number(m[1]), Number(m[2]), Number(m[3]), Number(m[4])] as const;
  });
}

/** Opens an AF_PACKET socket on `ifname` (in `opts.netns` if given), bound before it receives anything. */
export function openPacketSocket(ifname: string, opts: PacketSocketOptions = {}): PacketSocket {
  checkInterfaceName(ifname, 'openPacketSocket: ifname');
  const receiveBuffer = opts.receiveBuffer ?? 0;
  if (!Number.isInteger(receiveBuffer) || receiveBuffer < 0 || receiveBuffer > 0x7fffffff)
    throw new Error('openPacketSocket: receiveBuffer must be a byte count');
  const [group, mode] = fanoutArgs(opts.fanout);
  const open = (bytes: number) =>
    frameIo().openPacketSocket(
      ifname,
      netnsPath(opts.netns),
      protocolNumber(opts.protocol),
      group,
      mode,
      opts.ignoreOutgoing ?? false,
      filterArray(opts.filter),
      bytes,
    );
  try {
    return PacketSocket.fromNative(open(receiveBuffer));
  } catch (err) {
    // SO_RCVBUFFORCE needs CAP_NET_ADMIN in the initial user namespace, which a rootless pod
    // (docs/rootless.md) never has: there the socket keeps the kernel's default buffer.
    if (!receiveBuffer || (err as NodeJS.ErrnoException).code !== 'EPERM') throw err;
    return PacketSocket.fromNative(open(0));
  }
}
