/**
 * A packet ladder: who sent what to whom, in order, drawn from a capture. Endpoints are named after
 * the pod's nodes (by MAC and address) so a failure reads like the exchange it broke.
 */
import { readPcap } from '../packet/pcap.ts';
import { decodeFrame, type DecodedFrame } from '../packet/frame.ts';
import { DecodeError } from '../packet/errors.ts';
import type { Plan } from '../pod/plan.ts';
import { ALL_DHCP_RELAY_AGENTS_AND_SERVERS, ALL_NODES, ALL_ROUTERS } from '../packet/constants.ts';
import { PROTO } from '../packet/ipv6.ts';

/** Names for the pod's MACs and addresses: routers, instances, Kea, core. */
export function endpointNames(plan: Plan): Map<string, string> {
  const names = new Map<string, string>();
  for (const r of plan.routers) for (const k of [r.mac, r.linkLocal, r.lanAddress, r.serviceAddress]) names.set(k, r.name);
  for (const i of plan.instances) for (const k of [i.mac, i.linkLocal, i.slaac]) names.set(k, i.name);
  names.set(plan.kea.address, plan.pod.kea.name);
  names.set(plan.core.address, plan.pod.core.name);
  names.set(ALL_NODES, 'all-nodes');
  names.set(ALL_ROUTERS, 'all-routers');
  names.set(ALL_DHCP_RELAY_AGENTS_AND_SERVERS, 'dhcp-agents');
  return names;
}

function what(f: DecodedFrame): string {
  if (f.dhcpv6) {
    const inner = 'options' in f.dhcpv6 ? f.dhcpv6.options.find((o) => o.type === 'relay-message') : undefined;
    return `DHCPv6 ${f.dhcpv6.type}${inner && 'message' in inner ? `(${inner.message.type})` : ''}`;
  }
  if (f.icmpv6) return `ICMPv6 ${f.icmpv6.type}${'target' in f.icmpv6 ? ` ${f.icmpv6.target}` : ''}`;
  if (f.udp) return `UDP ${f.udp.srcPort} → ${f.udp.dstPort}`;
  const frag = f.extensions?.find((e) => e.type === 'fragment');
  if (frag && (frag.offset > 0 || frag.more)) return `fragment offset ${frag.offset}${frag.more ? ' (more)' : ''}`;
  if (f.protocol === PROTO.tcp && f.payload && f.payload.length >= 20) return tcpSummary(f.payload);
  return f.ipv6 ? `IP protocol ${f.protocol}` : `ethertype 0x${f.ethernet.etherType.toString(16)}`;
}

const TCP_FLAGS: Array<[number, string]> = [
  [0x02, 'SYN'],
  [0x10, 'ACK'],
  [0x01, 'FIN'],
  [0x04, 'RST'],
  [0x08, 'PSH'],
  [0x20, 'URG'],
];

/** "TCP SYN 40000 → 22" from the TCP header the codecs leave as payload (RFC 9293 §3.1). */
export function tcpSummary(header: Buffer): string {
  const flags = TCP_FLAGS.filter(([bit]) => header[13]! & bit).map(([, name]) => name);
  return `TCP ${flags.join('+') || 'no flags'} ${header.readUInt16BE(0)} → ${header.readUInt16BE(2)}`;
}

export function packetLadder(pcapPath: string, names: Map<string, string>, limit = 40): string[] {
  const { records } = readPcap(pcapPath);
  if (!records.length) return ['(no frames captured)'];
  const t0 = records[0]!.timestampUs;
  const name = (mac: string, ip?: string) => (ip && names.get(ip)) || names.get(mac) || ip || mac;
  const rows = records.slice(0, limit).map((r) => {
    const ms = ((r.timestampUs - t0) / 1000).toFixed(1).padStart(8);
    try {
      const f = decodeFrame(r.data);
      return `${ms} ms  ${name(f.ethernet.src, f.ipv6?.src).padEnd(12)} → ${name(f.ethernet.dst, f.ipv6?.dst).padEnd(12)}  ${what(f)}`;
    } catch (err) {
      if (err instanceof DecodeError) return `${ms} ms  (undecodable: ${err.message})`;
      throw err;
    }
  });
  if (records.length > limit) rows.push(`… ${records.length - limit} more frames in ${pcapPath}`);
  return rows;
}
