/**
 * Recognising frames in captures: a FramePattern names what a frame must carry (Ethernet and IPv6
 * addresses, UDP ports, an ICMPv6 type and target), read from the frame's headers — so a frame the
 * codecs cannot decode whole (a later fragment, a real tool's odd DHCPv6 message) still matches on
 * what it has. Typed accessors give a decoded frame's DHCPv6 or ICMPv6 message of one type, or
 * undefined, instead of casts.
 */
import type { CapturedFrame, SeenFrame } from './agent-client.ts';
import { decodeEthernetHeader, ETHERTYPE_IPV6 } from '../packet/ethernet.ts';
import { decodeIpv6, PROTO } from '../packet/ipv6.ts';
import {
  findOption,
  findOptions,
  innermostMessage,
  isRelayMessage,
  type ClientServerMessage,
  type ClientServerMessageType,
  type RelayMessage,
  type RelayMessageType,
} from '../packet/dhcpv6.ts';
import type { DecodedFrame } from '../packet/frame.ts';
import type { Icmpv6Message, Icmpv6TypeName } from '../packet/icmpv6.ts';

export interface FramePattern {
  ethSrc?: string;
  ethDst?: string;
  src?: string;
  dst?: string;
  /** UDP source / destination port (plain or behind extension headers; not in a later fragment). */
  sport?: number;
  dport?: number;
  /** The ICMPv6 message type (the frame must decode). */
  icmpv6?: Icmpv6TypeName;
  /** The target address of an NS, NA or Redirect. */
  target?: string;
}

/** A pattern, or any test of a captured frame. */
export type FrameMatch = FramePattern | ((f: SeenFrame) => boolean);

interface Headers {
  ethSrc: string;
  ethDst: string;
  src?: string;
  dst?: string;
  sport?: number;
  dport?: number;
}

/** The headers of a frame's bytes, as far as they go. */
function headersOf(data: Buffer): Headers | undefined {
  try {
    const { header, length } = decodeEthernetHeader(data);
    const out: Headers = { ethSrc: header.src, ethDst: header.dst };
    if (header.etherType !== ETHERTYPE_IPV6) return out;
    const ip = decodeIpv6(data.subarray(length), length);
    out.src = ip.header.src;
    out.dst = ip.header.dst;
    const laterFragment = ip.extensions.some((e) => e.type === 'fragment' && e.offset !== 0);
    if (ip.protocol === PROTO.udp && !laterFragment && ip.payload.length >= 4) {
      out.sport = ip.payload.readUInt16BE(0);
      out.dport = ip.payload.readUInt16BE(2);
    }
    return out;
  } catch {
    return undefined;
  }
}

/** True when the captured frame is what `m` describes. */
export function matches(f: SeenFrame, m: FrameMatch): boolean {
  if (typeof m === 'function') return m(f);
  const h = headersOf(f.data);
  if (!h) return false;
  if (m.ethSrc !== undefined && h.ethSrc !== m.ethSrc) return false;
  if (m.ethDst !== undefined && h.ethDst !== m.ethDst) return false;
  if (m.src !== undefined && h.src !== m.src) return false;
  if (m.dst !== undefined && h.dst !== m.dst) return false;
  if (m.sport !== undefined && h.sport !== m.sport) return false;
  if (m.dport !== undefined && h.dport !== m.dport) return false;
  if (m.icmpv6 !== undefined && f.frame?.icmpv6?.type !== m.icmpv6) return false;
  if (m.target !== undefined) {
    const msg = f.frame?.icmpv6;
    if (!msg || !('target' in msg) || msg.target !== m.target) return false;
  }
  return true;
}

/** Exactly these bytes (a frame the harness put on the wire crosses bridges unchanged). */
export function sameBytes(wire: Buffer): (f: SeenFrame) => boolean {
  return (f) => f.data.equals(wire);
}

type WithFrame = { frame?: DecodedFrame } | undefined;

/** The frame's DHCPv6 client/server message, if it is one (of `type`, when given). */
export function dhcpv6Of(f: WithFrame, type?: ClientServerMessageType): ClientServerMessage | undefined {
  const m = f?.frame?.dhcpv6;
  if (!m || m.type === 'unknown' || isRelayMessage(m)) return undefined;
  return type === undefined || m.type === type ? m : undefined;
}

/** The frame's DHCPv6 relay message, if it is one (of `type`, when given). */
export function relayMessageOf(f: WithFrame, type?: RelayMessageType): RelayMessage | undefined {
  const m = f?.frame?.dhcpv6;
  if (!m || !isRelayMessage(m)) return undefined;
  return type === undefined || m.type === type ? m : undefined;
}

/** The client's message a Relay-Forward carries (the innermost one, through nested relays), if the frame is one. */
export function relayedOf(f: WithFrame, type?: ClientServerMessageType): ClientServerMessage | undefined {
  const forward = relayMessageOf(f, 'relay-forward');
  const inner = forward ? innermostMessage(forward) : undefined;
  if (!inner || inner.type === 'unknown') return undefined;
  return type === undefined || inner.type === type ? inner : undefined;
}

/** The frame's ICMPv6 message of `type`, typed, if it is one. */
export function icmpv6Of<K extends Icmpv6TypeName>(f: WithFrame, type: K): Extract<Icmpv6Message, { type: K }> | undefined {
  const m = f?.frame?.icmpv6;
  return m?.type === type ? (m as Extract<Icmpv6Message, { type: K }>) : undefined;
}

/** The prefixes a DHCPv6 message delegates (IAPREFIX in IA_PD), as "prefix/length", in message order. */
export function delegatedIn(msg: ClientServerMessage | undefined): string[] {
  if (!msg) return [];
  return findOptions(msg.options, 'ia-pd').flatMap((ia) => findOptions(ia.options, 'iaprefix').map((p) => `${p.prefix}/${p.prefixLength}`));
}

/** The MAC in a relay message's Remote-Id (option 37), if it carries one. */
export function remoteIdOf(f: WithFrame | CapturedFrame): string | undefined {
  const m = relayMessageOf(f);
  return m ? findOption(m.options, 'remote-id')?.remoteId : undefined;
}
