/**
 * What every DHCPv6 client on the pod L2 puts on the wire (RFC 8415 §7.1, §13.1): messages from its
 * link-local, UDP 546 → 547, to All_DHCP_Relay_Agents_and_Servers (ff02::1:2, Ethernet 33:33:00:01:00:02),
 * and the DUID-LL of its MAC as the usual client DUID (untrusted: Kea keys on the relay's option 37).
 */
import { buildFrame } from './frame.ts';
import { ALL_DHCP_RELAY_AGENTS_AND_SERVERS, ALL_DHCP_RELAY_AGENTS_AND_SERVERS_MAC, DHCPV6_CLIENT_PORT, DHCPV6_SERVER_PORT } from './constants.ts';
import { ETHERTYPE_IPV6 } from './ethernet.ts';
import type { Duid } from './duid.ts';
import type { ClientServerMessage } from './dhcpv6.ts';

/** ARP hardware type of Ethernet, the hardware type in DUID-LL/LLT. */
export const HARDWARE_TYPE_ETHERNET = 1;

/** DUID-LL (RFC 8415 §11.4) of an Ethernet MAC. */
export function duidLl(mac: string): Duid {
  return { type: 'll', hardwareType: HARDWARE_TYPE_ETHERNET, linkLayerAddress: mac };
}

/** A whole client frame to ff02::1:2 from `mac` and `linkLocal` (hop limit 1: it never leaves the link). */
export function clientFrame(mac: string, linkLocal: string, message: ClientServerMessage): Buffer {
  return buildFrame({
    ethernet: { dst: ALL_DHCP_RELAY_AGENTS_AND_SERVERS_MAC, src: mac, etherType: ETHERTYPE_IPV6 },
    ipv6: { trafficClass: 0, flowLabel: 0, hopLimit: 1, src: linkLocal, dst: ALL_DHCP_RELAY_AGENTS_AND_SERVERS },
    udp: { srcPort: DHCPV6_CLIENT_PORT, dstPort: DHCPV6_SERVER_PORT },
    dhcpv6: message,
  });
}
