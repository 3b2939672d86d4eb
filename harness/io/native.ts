/**
 * Loads v6pod's frame I/O addon (native/frame-io/frame_io.c, built by netns/setup.sh) and types
 * its raw interface. Loaded lazily, so importing harness/io costs nothing until a port is opened.
 * Use tap.ts / packet-socket.ts, not this file.
 */
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** The addon's port object: one non-blocking fd polled on the main loop. */
export interface NativePort {
  readonly name: string;
  readonly ifindex: number;
  /** Starts (or re-targets) delivery: a batch of `count` frames back to back in `frames`, or an error that stopped polling. */
  start(cb: (frames: Buffer | null, lengths: Uint32Array | null, count: number, error?: string) => void): void;
  /** Stops delivery until start() again. */
  stop(): void;
  send(frame: Uint8Array): boolean;
  close(): void;
  truncated(): number;
  packetStatistics(): [packets: number, drops: number];
}

export interface FrameIoAddon {
  openTap(name: string, netns: string | null): NativePort;
  openPacketSocket(
    ifname: string,
    netns: string | null,
    protocol: number,
    fanoutGroup: number,
    fanoutMode: number,
    ignoreOutgoing: boolean,
    filter: Uint32Array | null,
    receiveBuffer: number,
  ): NativePort;
  /** A NETLINK_ROUTE socket in `netns` (null: ours) and the ifindex of `ifname` there: [fd, ifindex]. */
  openRouteNetlink(ifname: string, netns: string | null): [fd: number, ifindex: number];
  /** Sends `request` (netlink messages back to back) in one sendmsg; returns every answer the kernel queued meanwhile. */
  netlinkTransact(fd: number, request: Uint8Array): Buffer;
  netlinkClose(fd: number): void;
  readonly BATCH: number;
  readonly MAX_FRAME: number;
  readonly ETH_P_ALL: number;
  readonly ETH_P_IPV6: number;
  readonly FANOUT_HASH: number;
  readonly FANOUT_LB: number;
  readonly FANOUT_CPU: number;
}

export const ADDON_PATH = fileURLToPath(new URL('../../native/frame-io/build/Release/frame_io.node', import.meta.url));

let addon: FrameIoAddon | undefined;

/** The loaded addon; throws one line saying how to build it when it is missing. */
export function frameIo(): FrameIoAddon {
  if (!addon) {
    if (!existsSync(ADDON_PATH)) throw new Error(`frame I/O addon not built (${ADDON_PATH} missing): run bash netns/setup.sh`);
    addon = createRequire(import.meta.url)(ADDON_PATH) as FrameIoAddon;
  }
  return addon;
}

/** A namespace option as the addon wants it: a path; a bare name means /run/netns/<name> (ip netns). */
export function netnsPath(netns: string | undefined): string | null {
  if (netns === undefined) return null;
  if (!netns) throw new Error('netns: must be a namespace name or a path like /run/netns/<name>');
  return netns.includes('/') ? netns : `/run/netns/${netns}`;
}

/** Linux dev_valid_name(): 1..15 bytes, not "." or "..", no '/', ':' or whitespace. */
export function checkInterfaceName(name: string, field: string): string {
  if (typeof name !== 'string' || !name) throw new Error(`${field}: must be a non-empty interface name`);
  const bytes = Buffer.byteLength(name);
  if (bytes > 15) throw new Error(`${field}: '${name}' is ${bytes} bytes; Linux interface names are at most 15`);
  if (name === '.' || name === '..' || /[/:\s]/.test(name)) throw new Error(`${field}: '${name}' may not be '.', '..' or contain '/', ':' or whitespace`);
  return name;
}
