/**
 * The classic BPF program the relay's LAN socket runs in the kernel, so only client messages
 * reach the relay: an untagged IPv6 frame, next header UDP, destination port 547, not sent from
 * the router's own MAC. It is the program libpcap compiles for
 * `ip6 and udp dst port 547 and not ether src <routerMac>` (client-filter.test.ts compares it
 * with `tcpdump -dd`), written out so the relay needs neither libpcap nor tcpdump at run time.
 */
import type { BpfInstruction } from '../io/packet-socket.ts';
import { ETHERTYPE_IPV6 } from '../packet/ethernet.ts';
import { PROTO } from '../packet/ipv6.ts';
import { DHCPV6_SERVER_PORT } from '../packet/constants.ts';
import { macToBytes } from '../addr/bytes.ts';

// Opcodes (linux/filter.h): loads of a half-word, byte and word at an absolute offset, jump if equal, return.
const LDH_ABS = 0x28;
const LDB_ABS = 0x30;
const LD_ABS = 0x20;
const JEQ_K = 0x15;
const RET_K = 0x06;
/** What libpcap returns to accept a frame whole (its snapshot length). */
const ACCEPT = 0x40000;

export function clientMessageFilter(routerMac: string): BpfInstruction[] {
  const mac = macToBytes(routerMac);
  // Jump offsets count instructions skipped: "drop" is the last instruction (11), "accept" the one before (10).
  return [
    [LDH_ABS, 0, 0, 12], //          0: EtherType
    [JEQ_K, 0, 9, ETHERTYPE_IPV6], // 1: else drop
    [LDB_ABS, 0, 0, 14 + 6], //      2: IPv6 next header
    [JEQ_K, 0, 7, PROTO.udp], //     3: else drop
    [LDH_ABS, 0, 0, 14 + 40 + 2], // 4: UDP destination port
    [JEQ_K, 0, 5, DHCPV6_SERVER_PORT], // 5: else drop
    [LD_ABS, 0, 0, 8], //            6: Ethernet source, last 4 bytes
    [JEQ_K, 0, 2, mac.readUInt32BE(2)], // 7: differ: accept
    [LDH_ABS, 0, 0, 6], //           8: Ethernet source, first 2 bytes
    [JEQ_K, 1, 0, mac.readUInt16BE(0)], // 9: the router's own: drop
    [RET_K, 0, 0, ACCEPT], //        10: accept
    [RET_K, 0, 0, 0], //             11: drop
  ];
}
