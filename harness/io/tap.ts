/**
 * TAP devices for synthetic instances: the fd side plays the instance's NIC (what it writes the
 * kernel receives on the TAP, as from a KVM guest on vnetN), the device side is the hypervisor's
 * port. Non-persistent: the device exists exactly while the TapDevice is open (or the process lives).
 */
import { FramePort } from './frame-port.ts';
import { checkInterfaceName, frameIo, netnsPath, type NativePort } from './native.ts';
import { formatMac, isMulticastMac } from '../addr/mac.ts';
import { macToBytes } from '../addr/bytes.ts';

/** Destination MACs the tun driver matches exactly; further (multicast only) ones share a 64-bit hash. */
export const TAP_EXACT_FILTER_ENTRIES = 8;

/** The addon's port when it is a TAP: it can also filter by destination MAC (TUNSETTXFILTER). */
interface NativeTap extends NativePort {
  /** Sets the filter (6-byte MACs back to back; empty: off); returns the entries matched exactly. */
  acceptOnly(macs: Uint8Array): number;
}

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

  #accepting: readonly string[] | null = null;

  /**
   * Lets only frames to these destination MACs reach this fd (null or []: every frame again). The
   * kernel drops the rest before waking us (they count as the device's tx_dropped; captures on the
   * device still see them), which is what spares a host of many TAPs on a flooding bridge from
   * reading everyone's multicast. Unicast MACs go first since the kernel matches only the first 8
   * exactly: more than 8 unicast ones are refused (the kernel would silently turn the filter off);
   * multicast ones past the 8th are hashed, so a few other groups may slip through.
   */
  acceptOnly(macs: readonly string[] | null): this {
    const field = `TAP ${this.name}: acceptOnly`;
    const unique = new Map<string, Buffer>();
    for (const text of macs ?? []) {
      let bytes: Buffer;
      try {
        bytes = macToBytes(text);
      } catch (err) {
        throw new Error(`${field}: ${(err as Error).message}`, { cause: err });
      }
      unique.set(formatMac(bytes), bytes);
    }
    const unicast = [...unique.keys()].filter((m) => !isMulticastMac(m));
    if (unicast.length > TAP_EXACT_FILTER_ENTRIES) {
      throw new Error(
        `${field}: at most ${TAP_EXACT_FILTER_ENTRIES} unicast MACs (the tun filter matches only ${TAP_EXACT_FILTER_ENTRIES} exactly), got ${unicast.length}`,
      );
    }
    const ordered = [...unicast, ...[...unique.keys()].filter((m) => isMulticastMac(m))];
    const exact = (this.native as NativeTap).acceptOnly(Buffer.concat(ordered.map((m) => unique.get(m)!)));
    const expected = Math.min(ordered.length, TAP_EXACT_FILTER_ENTRIES);
    if (exact !== expected) throw new Error(`${field}: the kernel took ${exact} exact entries, expected ${expected}`);
    this.#accepting = ordered.length ? ordered : null;
    return this;
  }

  /** The destination MACs the filter lets through (unicast first), or null when it is off. */
  get accepting(): readonly string[] | null {
    return this.#accepting;
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
