/**
 * TAP devices for synthetic instances: the fd side plays the instance's NIC (what it writes the
 * kernel receives on the TAP, as from a KVM guest on vnetN), the device side is the hypervisor's
 * port. Non-persistent: the device exists exactly while the TapDevice is open (or the process lives).
 */
import { FramePort } from './frame-port.ts';
import { checkInterfaceName, frameIo, netnsPath, type NativePort } from './native.ts';

export interface TapOptions {
  /** Create the device in this network namespace: a name (ip netns) or a path like /run/netns/<name>. */
  netns?: string;
}

/** An open TAP device (IFF_TAP|IFF_NO_PI): whole Ethernet frames, no packet-info header. */
export class TapDevice extends FramePort {
  /** The namespace path the device was created in (null: the caller's own). */
  readonly netns: string | null;

  private constructor(native: NativePort, netns: string | null) {
    super(native);
    this.netns = netns;
  }

  /** Use openTap(). */
  static fromNative(native: NativePort, netns: string | null): TapDevice {
    return new TapDevice(native, netns);
  }
}

/** Creates TAP `name` (≤ 15 bytes; EBUSY if the name is taken), in `opts.netns` if given, and opens it non-blocking. */
export function openTap(name: string, opts: TapOptions = {}): TapDevice {
  checkInterfaceName(name, 'openTap: name');
  const netns = netnsPath(opts.netns);
  return TapDevice.fromNative(frameIo().openTap(name, netns), netns);
}
