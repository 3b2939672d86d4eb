/**
 * Well-known values of IPv6 on a link, each defined once: the multicast groups a pod uses and their
 * Ethernet addresses (RFC 2464 §7: 33:33 and the group's last 32 bits), the DHCPv6 ports, and the
 * hop limit every Neighbor Discovery message carries.
 */

/** RFC 4291 §2.7.1. */
export const ALL_NODES = 'ff02::1';
export const ALL_NODES_MAC = '33:33:00:00:00:01';
export const ALL_ROUTERS = 'ff02::2';
export const ALL_ROUTERS_MAC = '33:33:00:00:00:02';
/** Where MLDv2 reports go (RFC 3810 §5.2.14). */
export const ALL_MLDV2_ROUTERS = 'ff02::16';
export const ALL_MLDV2_ROUTERS_MAC = '33:33:00:00:00:16';
/** Where DHCPv6 clients send (RFC 8415 §7.1). */
export const ALL_DHCP_RELAY_AGENTS_AND_SERVERS = 'ff02::1:2';
export const ALL_DHCP_RELAY_AGENTS_AND_SERVERS_MAC = '33:33:00:01:00:02';

/** RFC 8415 §7.2. */
export const DHCPV6_CLIENT_PORT = 546;
export const DHCPV6_SERVER_PORT = 547;

/** Every ND message is sent with, and accepted only with, hop limit 255 (RFC 4861 §6.1). */
export const ND_HOP_LIMIT = 255;
