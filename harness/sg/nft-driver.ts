/**
 * The reference security-group driver: nftables in the hypervisor's namespace.
 *
 * Mechanism, chosen by measurement on this kernel (6.x, nft 1.0.6):
 *  - Per-port filtering needs the bridge family: with br_netfilter the ip6/inet hooks see bridged
 *    packets with iifname/oifname = the bridge (cloudbr0), never the vnetN port, so an inet table
 *    cannot tell instances apart (nft has no physdev match).
 *  - Stateful ingress needs conntrack, and `ct` in a bridge-family chain fails with "Protocol
 *    error" (EPROTO: CONFIG_NF_CONNTRACK_BRIDGE is unset). br_netfilter is built in and its
 *    bridge-nf-call-ip6tables is 1 in every new namespace (also with disable_ipv6=1 on the
 *    hypervisor), so bridged IPv6 does reach inet hooks, where conntrack works.
 *  - So: all per-instance logic lives in ONE bridge table (`bridge v6pod`); one inet chain with no
 *    per-instance objects (`inet v6pod`) exports conntrack's verdict into the packet mark
 *    (ESTABLISHED_MARK) inside br_netfilter's forward hook (bridge priority 0), and the bridge
 *    forward chain at priority 10 — measured to run after it and to see the mark — reads it.
 *  - Frames from an instance are checked at bridge prerouting, priority -200: before br_netfilter
 *    (so before conntrack's defragmentation: fragments are judged as they arrive, RFC 6980/7113)
 *    and before the bridge learns the source MAC (a spoofed MAC never enters the FDB).
 *
 * Layout: `prerouting` and `forward` dispatch by port through the verdict maps `from-port` and
 * `to-port` (one lookup, however many instances) to the instance's chains `out-NAME`/`in-NAME`;
 * its sources are the set `src-NAME` of `port . address` intervals (SLAAC /128, link-local /128,
 * delegated prefixes). A vnetN port without a group is dropped (fail closed: deploying never opens
 * a window). Every rule has a counter and a comment naming its reason; scenarios read them
 * (nft-inspect.ts). Every change is one `nft -f` transaction touching only that instance's chains,
 * set and map elements (the instance's rules are re-rendered, its counters restart).
 *
 * Cost of one change with many instances installed (measured, nft 1.0.6, 1,000 instances, ~35,000
 * rules): nft never loads the rule cache for `add`/`delete` of chains, rules and elements, but any
 * `add|delete element` makes it dump the elements of every non-concatenated interval set of the
 * table (cache.c, NFT_CACHE_SETELEM_MAYBE) — 1,000 dumps when each instance had a plain
 * `ipv6_addr` interval set, ~0.2-0.5 s per change. Keyed by `ifname . ipv6_addr` the sets are
 * concatenations, which nft skips: add 44 ms, remove 71 ms (was 221 ms, 2.8 s; bench/sg.ts). For
 * the same reason presence is checked with `list map` (set cache only), never `list table` (the
 * whole ruleset, ~1-4 s).
 */
import { run } from '../os/exec.ts';
import { ipv6ToBytes } from '../addr/bytes.ts';
import { ipv6Cidrs, type SgInstance, type SgRule } from './model.ts';
import type { HypervisorRef, SgDriver } from './driver.ts';

export const TABLE = 'v6pod';
/** Set on packets conntrack calls established/related (the hypervisor namespace uses no other marks). */
export const ESTABLISHED_MARK = 0x1;
/** Ports that must have a group (CloudStack/libvirt name instance ports vnetN). */
export const INSTANCE_PORTS = 'vnet*';

export const chainsOf = (name: string) => ({ out: `out-${name}`, in: `in-${name}`, src: `src-${name}` });

/** ICMPv6 an instance may send (RFC 4890 §4.3.1 and the seed's list); RA, Redirect, queries are not among them. */
const ICMPV6_FROM_INSTANCE = [
  'destination-unreachable',
  'packet-too-big',
  'time-exceeded',
  'parameter-problem',
  'echo-request',
  'echo-reply',
  'nd-router-solicit',
  'nd-neighbor-solicit',
  'nd-neighbor-advert',
  'mld-listener-report',
  'mld-listener-done',
  'mld2-listener-report',
];

/**
 * The constant sets the instance chains look up, declared once in the base table. Written inline
 * (`icmpv6 type { … }`), each is an anonymous set in every one of the instance's rules, which
 * made one hypervisor's transaction for 250 instances twice as long (1.1 s of CPU against 0.6 s,
 * docs/facts.md).
 */
const CONSTANT_SETS = {
  'nd-types': ['type icmpv6_type', ['nd-router-solicit', 'nd-router-advert', 'nd-neighbor-solicit', 'nd-neighbor-advert', 'nd-redirect']],
  // The next header a fragment header right after IPv6 names (byte 40 of the network header).
  'hidden-chain-headers': ['typeof @nh,320,8', ['0', '43', '60']],
  'router-only-icmpv6': ['type icmpv6_type', ['mld-listener-query', 'router-renumbering']],
  'icmpv6-from-instance': ['type icmpv6_type', ICMPV6_FROM_INSTANCE],
  // DHCPv6 message types 12 and 13: Relay-Forward and Relay-Reply.
  'relay-message-types': ['typeof @th,64,8', ['12', '13']],
} as const satisfies Record<string, readonly [string, readonly string[]]>;

const hex128 = (address: string) => `0x${ipv6ToBytes(address).toString('hex')}`;
const hexMac = (mac: string) => `0x${mac.replace(/:/g, '')}`;
const q = (text: string) => `"${text}"`;

/** The hypervisor's table, dispatch chains and the conntrack export; idempotent (flush and re-add in one transaction). */
export function renderBase(): string {
  return [
    `add table bridge ${TABLE}`,
    ...Object.entries(CONSTANT_SETS).map(([name, [type, elements]]) => `add set bridge ${TABLE} ${name} { ${type}; elements = { ${elements.join(', ')} }; }`),
    `add map bridge ${TABLE} from-port { type ifname : verdict; }`,
    `add map bridge ${TABLE} to-port { type ifname : verdict; }`,
    `add chain bridge ${TABLE} prerouting { type filter hook prerouting priority -200; policy accept; }`,
    `flush chain bridge ${TABLE} prerouting`,
    `add rule bridge ${TABLE} prerouting iifname vmap @from-port`,
    `add rule bridge ${TABLE} prerouting iifname ${q(INSTANCE_PORTS)} counter drop comment "port-without-group"`,
    // Priority 10: after br_netfilter (0), whose inet forward hook has set the mark by then.
    `add chain bridge ${TABLE} forward { type filter hook forward priority 10; policy accept; }`,
    `flush chain bridge ${TABLE} forward`,
    `add rule bridge ${TABLE} forward oifname vmap @to-port`,
    `add rule bridge ${TABLE} forward oifname ${q(INSTANCE_PORTS)} counter drop comment "port-without-group"`,
    `add table inet ${TABLE}`,
    `add chain inet ${TABLE} conntrack { type filter hook forward priority 0; policy accept; }`,
    `flush chain inet ${TABLE} conntrack`,
    `add rule inet ${TABLE} conntrack ct state established,related meta mark set ${ESTABLISHED_MARK} comment "export conntrack state to the bridge table"`,
  ].join('\n');
}

/** `ip6 saddr|daddr { … } <l4 match>` of one user rule; undefined when it has no IPv6 CIDR. */
function userRuleMatch(r: SgRule): string | undefined {
  const cidrs = ipv6Cidrs(r);
  if (!cidrs.length) return undefined;
  const who = `ip6 ${r.direction === 'ingress' ? 'saddr' : 'daddr'} { ${cidrs.join(', ')} }`;
  const ports = r.start === 0 && r.end === 0 ? '' : r.start === r.end ? ` ${r.start}` : ` ${r.start}-${r.end}`;
  switch (r.protocol) {
    case 'tcp':
    case 'udp':
      return ports ? `${who} ${r.protocol} dport${ports}` : `${who} meta l4proto ${r.protocol}`;
    case 'icmp':
    case 'icmpv6':
      if (r.start === -1) return `${who} meta l4proto icmpv6`;
      return `${who} icmpv6 type ${r.start}${r.end === -1 ? '' : ` icmpv6 code ${r.end}`}`;
    case 'all':
      return who;
    default:
      return `${who} meta l4proto ${r.protocol}`;
  }
}

/** The rules of `out-NAME`, in order: (match, verdict, comment). Comments are the counters' names. */
export function egressRules(inst: SgInstance): Array<[string, 'accept' | 'drop', string]> {
  const own = `{ ${hex128(inst.slaac)}, ${hex128(inst.linkLocal)} }`;
  const mac = hexMac(inst.mac);
  const userRules = inst.rules.filter((r) => r.direction === 'egress').flatMap((r) => userRuleMatch(r) ?? []);
  return [
    [`ether saddr != ${inst.mac}`, 'drop', 'mac-spoof'],
    // v6pod pods are IPv6-only: ARP and IPv4 have no business on the port.
    ['ether type != ip6', 'drop', 'not-ipv6'],
    // Every ND message is sent with hop limit 255 (RFC 4861 §6.1.1, §7.1.1): anything else was forged.
    ['icmpv6 type @nd-types ip6 hoplimit != 255', 'drop', 'nd-hop-limit'],
    // An upper-layer header pushed out of the first fragment by extension headers inside the fragmentable part
    // (RFC 7112, RFC 7113 §3) hides what the packet is: the fragment header (right after IPv6) naming another extension header.
    ['ip6 nexthdr 44 @nh,320,8 @hidden-chain-headers', 'drop', 'fragmented-header-chain'],
    // `::` only for DAD of its own addresses (RFC 4862 §5.4.2; a DAD probe for another's address would
    // make that one give its address up), MLD reports and RSs sent before it has a link-local (RFC 3810 §5.2.13).
    [`ip6 saddr :: icmpv6 type nd-neighbor-solicit @th,64,128 ${own}`, 'accept', 'dad'],
    ['ip6 saddr :: icmpv6 type mld2-listener-report', 'accept', 'mld-unspecified'],
    // An RS may come from :: before the instance has an address (RFC 4861 §4.1, §6.3.7).
    ['ip6 saddr :: icmpv6 type nd-router-solicit', 'accept', 'rs-unspecified'],
    ['ip6 saddr ::', 'drop', 'unspecified-source'],
    [`iifname . ip6 saddr != @${chainsOf(inst.name).src}`, 'drop', 'source-spoof'],
    // ND and everything else on link-local is never fragmented (RFC 6980 §5); this also stops RAs
    // hidden as atomic fragments or with their ICMPv6 header in a later fragment (RFC 7113 §5).
    ['ip6 saddr fe80::/10 exthdr frag exists', 'drop', 'link-local-fragment'],
    // nft walks Hop-by-Hop and Destination Options to the ICMPv6 header: extension headers hide nothing.
    ['icmpv6 type nd-router-advert', 'drop', 'router-advertisement'],
    ['icmpv6 type nd-redirect', 'drop', 'redirect'],
    ['icmpv6 type @router-only-icmpv6', 'drop', 'router-only-icmpv6'],
    [`icmpv6 type nd-neighbor-advert @th,64,128 != ${own}`, 'drop', 'na-target'],
    // The first option at byte 24 of an NA (type 2, length 1) must carry its own MAC.
    [`icmpv6 type nd-neighbor-advert @th,192,16 0x0201 @th,208,48 != ${mac}`, 'drop', 'na-tlla'],
    [`icmpv6 type nd-neighbor-solicit @th,192,16 0x0101 @th,208,48 != ${mac}`, 'drop', 'ns-slla'],
    [`icmpv6 type nd-router-solicit @th,64,16 0x0101 @th,80,48 != ${mac}`, 'drop', 'rs-slla'],
    ['icmpv6 type @icmpv6-from-instance', 'accept', 'icmpv6'],
    // Not first fragments of ICMPv6 from a global source: the first fragment decided (it is dropped
    // when its ICMPv6 header is unreadable, next rule), so a later one alone reassembles into nothing.
    ['ip6 saddr != fe80::/10 frag frag-off != 0', 'accept', 'later-fragment'],
    // ICMPv6 whose type is not allowed, or not in this fragment.
    ['meta l4proto icmpv6', 'drop', 'icmpv6-other'],
    // DHCPv6: the instance is a client, never a server or relay (RFC 8415 §7.2, §19).
    ['udp sport 547', 'drop', 'dhcpv6-server'],
    ['udp dport 546', 'drop', 'dhcpv6-to-client'],
    // Only to All_DHCP_Relay_Agents_and_Servers: a client reaching the server directly could forge option 37.
    ['udp dport 547 ip6 daddr != ff02::1:2', 'drop', 'dhcpv6-not-multicast'],
    ['udp dport 547 @th,64,8 @relay-message-types', 'drop', 'dhcpv6-relay-message'],
    ['ip6 saddr fe80::/10 udp sport 546 udp dport 547', 'accept', 'dhcpv6-client'],
    // Seed: "On Link Local no UDP or TCP is allowed".
    ['ip6 saddr fe80::/10', 'drop', 'link-local-not-icmpv6'],
    ...userRules.map((m, i): [string, 'accept', string] => [m, 'accept', `egress-rule-${i + 1}`]),
    // CloudStack: without egress rules everything goes out; with any, only what they allow.
    ['', userRules.length ? 'drop' : 'accept', 'egress-default'],
  ];
}

/** The rules of `in-NAME`, in order. */
export function ingressRules(inst: SgInstance): Array<[string, 'accept' | 'drop', string]> {
  const userRules = inst.rules.filter((r) => r.direction === 'ingress').flatMap((r) => userRuleMatch(r) ?? []);
  return [
    ['ether type != ip6', 'drop', 'not-ipv6'],
    // ICMPv6 is essential (seed; RFC 4890): ND, RAs, MLD, errors and echo reach the instance.
    ['meta l4proto icmpv6', 'accept', 'icmpv6'],
    ['udp sport 547 udp dport 546', 'accept', 'dhcpv6-reply'],
    [`meta mark ${ESTABLISHED_MARK}`, 'accept', 'established'],
    ...userRules.map((m, i): [string, 'accept', string] => [m, 'accept', `ingress-rule-${i + 1}`]),
    ['', 'drop', 'ingress-default'],
  ];
}

function chainLines(chain: string, rules: Array<[string, string, string]>): string[] {
  return [
    `add chain bridge ${TABLE} ${chain}`,
    `flush chain bridge ${TABLE} ${chain}`,
    ...rules.map(([m, v, c]) => `add rule bridge ${TABLE} ${chain} ${m ? `${m} ` : ''}counter ${v} comment ${q(c)}`),
  ];
}

/** Sources the instance may use: its SLAAC address, its link-local and its delegated prefixes. */
export function sourceElements(inst: SgInstance): string[] {
  return [`${inst.slaac}/128`, `${inst.linkLocal}/128`, ...inst.prefixes];
}

/**
 * The source set: `port . address` intervals. Keying by port as well binds the addresses to the
 * instance's port (belt and braces behind the dispatch), and makes the set a concatenation, which
 * spares every later change a dump of it (see the top of this file).
 */
const SOURCE_SET_TYPE = '{ type ifname . ipv6_addr; flags interval; }';

function sourceSetElements(inst: SgInstance): string {
  return sourceElements(inst)
    .map((e) => `${q(inst.vif)} . ${e}`)
    .join(', ');
}

/** One instance's objects, (re)created: its chains re-rendered, its set refilled, its ports mapped. */
export function renderInstance(inst: SgInstance): string {
  const c = chainsOf(inst.name);
  return [
    `add set bridge ${TABLE} ${c.src} ${SOURCE_SET_TYPE}`,
    `flush set bridge ${TABLE} ${c.src}`,
    `add element bridge ${TABLE} ${c.src} { ${sourceSetElements(inst)} }`,
    ...chainLines(c.out, egressRules(inst)),
    ...chainLines(c.in, ingressRules(inst)),
    `add element bridge ${TABLE} from-port { ${q(inst.vif)} : jump ${c.out} }`,
    `add element bridge ${TABLE} to-port { ${q(inst.vif)} : jump ${c.in} }`,
  ].join('\n');
}

/** Removes one instance's objects; fails (changing nothing) if its port is mapped to another instance. */
export function renderRemoval(inst: SgInstance): string {
  const c = chainsOf(inst.name);
  return [
    // Adding what may be missing first makes the deletes below valid whatever state a crash left.
    `add set bridge ${TABLE} ${c.src} ${SOURCE_SET_TYPE}`,
    `add chain bridge ${TABLE} ${c.out}`,
    `add chain bridge ${TABLE} ${c.in}`,
    `add element bridge ${TABLE} from-port { ${q(inst.vif)} : jump ${c.out} }`,
    `add element bridge ${TABLE} to-port { ${q(inst.vif)} : jump ${c.in} }`,
    `delete element bridge ${TABLE} from-port { ${q(inst.vif)} }`,
    `delete element bridge ${TABLE} to-port { ${q(inst.vif)} }`,
    `flush chain bridge ${TABLE} ${c.out}`,
    `flush chain bridge ${TABLE} ${c.in}`,
    `delete chain bridge ${TABLE} ${c.out}`,
    `delete chain bridge ${TABLE} ${c.in}`,
    `delete set bridge ${TABLE} ${c.src}`,
  ].join('\n');
}

async function nft(ns: string, script: string): Promise<void> {
  await run(['nft', '-f', '-'], { ns, input: `${script}\n`, timeoutMs: 60_000 });
}

/** Whether the hypervisor has the bridge table: its `from-port` map (created with it in one transaction) is there. */
export async function bridgeTablePresent(ns: string): Promise<boolean> {
  return (await run(['nft', 'list', 'map', 'bridge', TABLE, 'from-port'], { ns, allowFailure: true })).exitCode === 0;
}

export class NftDriver implements SgDriver {
  readonly name = 'nft (reference)';
  /** Hypervisors whose base table this driver has checked, so each add is one transaction. */
  private readonly based = new Set<string>();

  private async ensureBase(hv: HypervisorRef): Promise<void> {
    if (this.based.has(hv.ns)) return;
    // The inet table holds one rule: listing it is cheap, unlike the bridge table's.
    const ct = await run(['nft', 'list', 'table', 'inet', TABLE], { ns: hv.ns, allowFailure: true });
    if (!(await bridgeTablePresent(hv.ns)) || ct.exitCode !== 0) await nft(hv.ns, renderBase());
    this.based.add(hv.ns);
  }

  async add(hv: HypervisorRef, inst: SgInstance): Promise<void> {
    await this.ensureBase(hv);
    await nft(hv.ns, renderInstance(inst));
  }

  update(hv: HypervisorRef, inst: SgInstance): Promise<void> {
    return this.add(hv, inst);
  }

  async remove(hv: HypervisorRef, inst: SgInstance): Promise<void> {
    if (!(await bridgeTablePresent(hv.ns))) return; // no table, nothing of the instance's
    await nft(hv.ns, renderRemoval(inst));
  }

  /** Applies many instances in one transaction (bulk `up`, benchmarks). */
  async addMany(hv: HypervisorRef, insts: readonly SgInstance[]): Promise<void> {
    await this.ensureBase(hv);
    await nft(hv.ns, insts.map(renderInstance).join('\n'));
  }

  /** Removes the hypervisor's tables entirely (what this driver created there). */
  async removeAll(hv: HypervisorRef): Promise<void> {
    for (const family of ['bridge', 'inet']) await run(['nft', 'delete', 'table', family, TABLE], { ns: hv.ns, allowFailure: true });
    this.based.delete(hv.ns);
  }
}
