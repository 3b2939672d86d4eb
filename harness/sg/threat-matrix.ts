/**
 * The security-group threat matrix, generated from the policy (docs/sg-policy.md): rows are the
 * packet kinds, columns the identities an attacker controls, and each cell's verdict is decided
 * here from the seed's and the RFCs' rules — never from what a driver happens to special-case.
 *
 *   egress   what an instance sends: every kind it may legitimately send (ND, MLD, echo, the RFC 4890
 *            errors, the DHCPv6 client messages, TCP, UDP, another protocol) with an honest identity
 *            and with each forged field; and the kinds it may never send (RA, Redirect, MLD query,
 *            Router Renumbering, DHCPv6 server and relay messages, DHCPv6 not to ff02::1:2), also
 *            hidden behind extension headers and fragments.
 *   ingress  what reaches an instance unsolicited, and what only a reply may bring.
 *
 * Cell IDs are stable: `SGM-<row>.<column>` (ingress rows start with `in-`).
 */

export type Direction = 'egress' | 'ingress';
export type Verdict = 'pass' | 'drop';

/** Kinds of row; they decide which columns apply. */
type RowKind = 'nd' | 'mld' | 'icmp' | 'dhcpv6' | 'transport' | 'forbidden' | 'ingress';

export interface MatrixRow {
  id: string;
  direction: Direction;
  kind: RowKind;
  title: string;
  /** Why this kind is (or is not) the instance's to send or receive. */
  reference: string;
}

export interface MatrixColumn {
  id: string;
  direction: Direction;
  title: string;
}

export interface CellPolicy {
  verdict: Verdict;
  /** The rule that decides, in one sentence. */
  because: string;
  /** The RFC section or seed sentence behind it. */
  reference: string;
}

export interface MatrixCell extends CellPolicy {
  id: string;
  row: MatrixRow;
  column: MatrixColumn;
  /** Set when a policy variant changed the verdict the v6pod policy gives. */
  variant?: string;
}

const row = (id: string, kind: RowKind, title: string, reference: string, direction: Direction = 'egress'): MatrixRow => ({
  id,
  direction,
  kind,
  title,
  reference,
});

/** What an instance may send. */
export const LEGITIMATE_ROWS: readonly MatrixRow[] = [
  row('rs', 'nd', 'Router Solicitation', 'RFC 4861 §4.1, §6.3.7'),
  row('ns-resolution', 'nd', 'Neighbor Solicitation, address resolution (to the solicited-node group)', 'RFC 4861 §7.2.2'),
  row('ns-nud', 'nd', 'Neighbor Solicitation, unreachability detection (unicast)', 'RFC 4861 §7.3.1'),
  row('ns-dad', 'nd', 'Neighbor Solicitation, duplicate address detection (from ::)', 'RFC 4862 §5.4.2'),
  row('na-solicited', 'nd', 'Neighbor Advertisement, solicited (unicast)', 'RFC 4861 §7.2.4'),
  row('na-unsolicited', 'nd', 'Neighbor Advertisement, unsolicited (all-nodes)', 'RFC 4861 §7.2.6'),
  row('mldv2-report', 'mld', 'MLDv2 Report', 'RFC 3810 §5.2; RFC 4890 §4.3.1'),
  row('mldv1-report', 'mld', 'MLDv1 Report', 'RFC 2710 §3; RFC 4890 §4.3.1'),
  row('echo-request', 'icmp', 'ICMPv6 Echo Request', 'RFC 4443 §4.1; RFC 4890 §4.3.1'),
  row('echo-reply', 'icmp', 'ICMPv6 Echo Reply', 'RFC 4443 §4.2; RFC 4890 §4.3.1'),
  row('destination-unreachable', 'icmp', 'ICMPv6 Destination Unreachable', 'RFC 4443 §3.1; RFC 4890 §4.3.1'),
  row('packet-too-big', 'icmp', 'ICMPv6 Packet Too Big', 'RFC 4443 §3.2; RFC 4890 §4.3.1'),
  row('time-exceeded', 'icmp', 'ICMPv6 Time Exceeded', 'RFC 4443 §3.3; RFC 4890 §4.3.1'),
  row('parameter-problem', 'icmp', 'ICMPv6 Parameter Problem', 'RFC 4443 §3.4; RFC 4890 §4.3.1'),
  row('dhcpv6-solicit', 'dhcpv6', 'DHCPv6 Solicit', 'RFC 8415 §18.2.1; seed: "the DHCPv6 client exchange"'),
  row('dhcpv6-request', 'dhcpv6', 'DHCPv6 Request', 'RFC 8415 §18.2.2'),
  row('dhcpv6-renew', 'dhcpv6', 'DHCPv6 Renew', 'RFC 8415 §18.2.4'),
  row('dhcpv6-rebind', 'dhcpv6', 'DHCPv6 Rebind', 'RFC 8415 §18.2.5'),
  row('dhcpv6-release', 'dhcpv6', 'DHCPv6 Release', 'RFC 8415 §18.2.7'),
  row('dhcpv6-decline', 'dhcpv6', 'DHCPv6 Decline', 'RFC 8415 §18.2.8'),
  row('dhcpv6-confirm', 'dhcpv6', 'DHCPv6 Confirm', 'RFC 8415 §18.2.3'),
  row('dhcpv6-information-request', 'dhcpv6', 'DHCPv6 Information-Request', 'RFC 8415 §18.2.6'),
  row('tcp', 'transport', 'TCP SYN to a host beyond the routers', 'seed: everything else allowed out unless the group has egress rules'),
  row('udp', 'transport', 'UDP datagram to a host beyond the routers', 'seed: everything else allowed out unless the group has egress rules'),
  row(
    'other-protocol',
    'transport',
    'another IP protocol (253, RFC 3692 experimentation)',
    'seed: everything else allowed out unless the group has egress rules',
  ),
];

/**
 * What an instance may never send (seed: "prevent rogue RAs and DHCPv6 servers"; RFC 6105; RFC 4890
 * §4.3.3; RFC 8415 §7.2, §19). Each has a legitimate kind that must cross in the same window (its control).
 */
export const FORBIDDEN_ROWS: readonly MatrixRow[] = [
  row('ra', 'forbidden', 'Router Advertisement (rogue router)', 'RFC 6105 §1; RFC 4890 §4.3.3; seed: only the routers advertise'),
  row('redirect', 'forbidden', 'Redirect', 'RFC 4861 §8.2: only routers send Redirects; RFC 4890 §4.3.3'),
  row('mld-query', 'forbidden', 'MLD Query', 'RFC 3810 §5.1: queriers are routers; RFC 4890 §4.3.3'),
  row('router-renumbering', 'forbidden', 'Router Renumbering', 'RFC 2894 §3; RFC 4890 §4.3.3'),
  row('dhcpv6-advertise', 'forbidden', 'DHCPv6 Advertise (rogue server)', 'RFC 8415 §7.2 (servers send from 547 to 546); seed: instances are DHCPv6 clients'),
  row('dhcpv6-reply', 'forbidden', 'DHCPv6 Reply (rogue server)', 'RFC 8415 §7.2; seed: instances are DHCPv6 clients'),
  row(
    'dhcpv6-relay-forward',
    'forbidden',
    'DHCPv6 Relay-Forward (a forged relay, with its own option 37)',
    'RFC 8415 §19.1; RFC 4649; seed: the routers insert option 37',
  ),
  row('dhcpv6-relay-reply', 'forbidden', 'DHCPv6 Relay-Reply', 'RFC 8415 §19.2'),
  row(
    'dhcpv6-unicast',
    'forbidden',
    'DHCPv6 Solicit sent straight to the server, not to ff02::1:2',
    'RFC 8415 §7.1, §18.2.1; seed: MAC taken from the relay, so clients must reach the relay',
  ),
];

/** What reaches the guarded instance from beyond its port. */
export const INGRESS_ROWS: readonly MatrixRow[] = [
  row('in-ra', 'ingress', 'Router Advertisement', 'RFC 4890 §4.3.1; seed: ICMPv6 is essential', 'ingress'),
  row('in-ns', 'ingress', 'Neighbor Solicitation for its address', 'RFC 4890 §4.3.1', 'ingress'),
  row('in-na', 'ingress', 'Neighbor Advertisement', 'RFC 4890 §4.3.1', 'ingress'),
  row('in-mld-query', 'ingress', 'MLD Query', 'RFC 4890 §4.3.1', 'ingress'),
  row('in-echo-request', 'ingress', 'Echo Request from beyond the routers', 'RFC 4890 §4.3.1 (echo must not be dropped)', 'ingress'),
  row('in-destination-unreachable', 'ingress', 'Destination Unreachable', 'RFC 4890 §4.3.1', 'ingress'),
  row('in-packet-too-big', 'ingress', 'Packet Too Big', 'RFC 4890 §4.3.1', 'ingress'),
  row('in-time-exceeded', 'ingress', 'Time Exceeded', 'RFC 4890 §4.3.1', 'ingress'),
  row('in-parameter-problem', 'ingress', 'Parameter Problem', 'RFC 4890 §4.3.1', 'ingress'),
  row('in-dhcpv6-reply', 'ingress', 'DHCPv6 Reply from a router (547 → 546)', 'RFC 8415 §7.2; seed: the DHCPv6 client exchange', 'ingress'),
  row('in-tcp-allowed-port', 'ingress', 'TCP SYN to a port an ingress rule opens', 'seed: user rules (CloudStack I:tcp;22;22;::/0)', 'ingress'),
  row('in-tcp-closed-port', 'ingress', 'TCP SYN to a port no rule opens', 'seed: new inbound traffic only where an ingress rule allows', 'ingress'),
  row('in-udp', 'ingress', 'UDP datagram', 'seed: replies to its own connections come in; nothing else unless a rule allows', 'ingress'),
  row('in-other-protocol', 'ingress', 'another IP protocol (253)', 'seed: new inbound traffic only where an ingress rule allows', 'ingress'),
];

export const ROWS: readonly MatrixRow[] = [...LEGITIMATE_ROWS, ...FORBIDDEN_ROWS, ...INGRESS_ROWS];

const col = (id: string, title: string, direction: Direction = 'egress'): MatrixColumn => ({ id, direction, title });

/** The identities an attacker controls in what it sends. */
export const EGRESS_COLUMNS: readonly MatrixColumn[] = [
  col('honest', 'honest identity (own MAC, own addresses)'),
  col('mac-other', "Ethernet source: a neighbour's MAC"),
  col('src-other-slaac', "IPv6 source: another instance's SLAAC address"),
  col('src-other-link-local', "IPv6 source: another instance's link-local"),
  col('src-other-prefix', "IPv6 source: an address in another instance's delegated prefix"),
  col('src-own-prefix', 'IPv6 source: an address in its own delegated prefix'),
  col('src-router', "IPv6 source: a router's link-local"),
  col('src-foreign-global', 'IPv6 source: a global address outside the pod'),
  col('src-unspecified', 'IPv6 source: ::'),
  col('src-multicast', 'IPv6 source: a multicast address'),
  col('lla-other', "ND link-layer option (SLLA/TLLA): a neighbour's MAC"),
  col('target-other', "ND target: another instance's address"),
  col('hop-limit', 'ND hop limit 64 instead of 255'),
  col('hop-by-hop', 'behind a Hop-by-Hop Options header'),
  col('destination-options', 'behind a Destination Options header'),
  col('atomic-fragment', 'as an atomic fragment'),
  col('header-in-second-fragment', 'upper-layer header in the second fragment'),
];

export const INGRESS_COLUMNS: readonly MatrixColumn[] = [
  col('unsolicited', 'unsolicited, from beyond the port', 'ingress'),
  col('reply', "a reply to the instance's own flow", 'ingress'),
];

export const COLUMNS: readonly MatrixColumn[] = [...EGRESS_COLUMNS, ...INGRESS_COLUMNS];

const SOURCE_FORGERIES = new Set(['src-other-slaac', 'src-other-link-local', 'src-other-prefix', 'src-router', 'src-foreign-global', 'src-multicast']);
const WRAPPERS = new Set(['hop-by-hop', 'destination-options', 'atomic-fragment', 'header-in-second-fragment']);
const ND_WITH_LLA = new Set(['rs', 'ns-resolution', 'ns-nud', 'na-solicited', 'na-unsolicited']);
const WITH_TARGET = new Set(['ns-resolution', 'ns-nud', 'ns-dad', 'na-solicited', 'na-unsolicited']);

const SPOOF = 'seed: "prevent source address spoofing": an instance sends only from its SLAAC address, its link-local, its delegated prefixes';
const pass = (because: string, reference: string): CellPolicy => ({ verdict: 'pass', because, reference });
const drop = (because: string, reference: string): CellPolicy => ({ verdict: 'drop', because, reference });

/** The v6pod policy's verdict for one cell; undefined where the column does not apply to the row (n.a.). */
export function policyFor(r: MatrixRow, c: MatrixColumn): CellPolicy | undefined {
  if (r.direction !== c.direction) return undefined;
  if (r.direction === 'ingress') return ingressPolicy(r, c);
  if (r.kind === 'forbidden') {
    if (c.id === 'honest') return drop(`an instance never sends a ${r.title}`, r.reference);
    if (WRAPPERS.has(c.id))
      return drop(`a ${r.title} stays forbidden ${c.title}: extension headers and fragments hide nothing`, 'RFC 7113 §5; RFC 6980 §5; RFC 7112');
    return undefined;
  }
  switch (c.id) {
    case 'honest':
      return pass(`an instance may send a ${r.title} as itself`, r.reference);
    case 'mac-other':
      return drop('an instance sends only from its own MAC', 'seed: "prevent MAC spoofing"');
    case 'src-own-prefix':
      if (r.kind === 'mld')
        return pass(
          'the source is its own (an MLD report from a global source is ignored by routers, not a forgery)',
          'seed: delegated prefixes are allowed as sources; RFC 3810 §5.2.13',
        );
      return pass('its delegated prefixes are its own sources', 'seed: "We also allow this /60 in the Security Group of the Instance"');
    case 'src-unspecified':
      if (r.id === 'ns-dad') return undefined; // its honest source is ::
      if (r.id === 'mldv2-report') return pass('an MLDv2 report may come from :: while the link-local is tentative', 'RFC 3810 §5.2.13');
      if (r.id === 'rs') return pass('a Router Solicitation may come from :: before an address is assigned (then without SLLA)', 'RFC 4861 §4.1, §6.3.7');
      return drop(
        ':: is a source only for DAD probes, early Router Solicitations and early MLDv2 reports',
        'RFC 4862 §5.4.2; RFC 4861 §4.1; RFC 3810 §5.2.13; RFC 4291 §2.5.2',
      );
    case 'lla-other':
      if (!ND_WITH_LLA.has(r.id)) return undefined;
      return drop(
        "an ND link-layer option carries the sender's own MAC, else it poisons neighbour caches",
        'RFC 4861 §7.2.3, §7.2.5; seed: "prevent MAC spoofing"',
      );
    case 'target-other':
      if (!WITH_TARGET.has(r.id)) return undefined;
      if (r.id === 'ns-resolution' || r.id === 'ns-nud')
        return pass("asking for another node's address is what resolution and NUD do", 'RFC 4861 §7.2.2, §7.3.1');
      if (r.id === 'ns-dad') return drop("a DAD probe for another's address makes its owner give it up", 'RFC 4862 §5.4.3; RFC 3756 §4.1.3');
      return drop('an instance advertises only its own addresses', 'RFC 4861 §7.2.6; RFC 3756 §4.1.1');
    case 'hop-limit':
      if (r.kind !== 'nd') return undefined;
      return drop('no conforming node sends ND with a hop limit other than 255; receivers must discard it', 'RFC 4861 §6.1.1, §7.1.1, §7.1.2');
    default:
      if (SOURCE_FORGERIES.has(c.id)) return drop(`the source is not the instance's (${c.title.replace('IPv6 source: ', '')})`, SPOOF);
      return undefined; // wrappers: legitimate kinds are not tested behind them
  }
}

function ingressPolicy(r: MatrixRow, c: MatrixColumn): CellPolicy | undefined {
  if (c.id === 'reply') return r.id === 'in-udp' ? pass("a reply to the instance's own flow comes in", 'seed: replies to its own connections') : undefined;
  switch (r.id) {
    case 'in-tcp-allowed-port':
      return pass('an ingress rule of its group opens the port', 'seed: user rules');
    case 'in-tcp-closed-port':
    case 'in-udp':
    case 'in-other-protocol':
      return drop('new inbound traffic comes in only where an ingress rule allows', 'seed: CloudStack security groups (default deny ingress)');
    case 'in-dhcpv6-reply':
      return pass("the routers' relays answer the instance's DHCPv6 client", r.reference);
    default:
      return pass('ICMPv6 is essential: ND, RAs, MLD, errors and echo reach the instance', r.reference);
  }
}

/**
 * Policy variants a driver may declare (`--sg-policy NAME`): where an implementation's documented
 * semantics differ from v6pod's, the cell is judged by the variant and reported as a difference of
 * policy, not as a hole.
 */
export const POLICY_VARIANTS: Readonly<Record<string, { description: string; overrides: Record<string, CellPolicy> }>> = {
  v6pod: { description: "v6pod's reference policy (docs/sg-policy.md)", overrides: {} },
  cloudstack: {
    description: "CloudStack's security groups: ingress ICMPv6 echo only where an ingress rule allows it",
    overrides: {
      'SGM-in-echo-request.unsolicited': drop(
        'CloudStack opens ingress echo only through an ingress rule (icmp;128;-1)',
        "CloudStack's security_group.py ingress default",
      ),
    },
  },
};

export const cellId = (r: MatrixRow, c: MatrixColumn) => `SGM-${r.id}.${c.id}`;

/** Every applicable cell, in row then column order, judged by `variant`. */
export function matrixCells(variant = 'v6pod'): MatrixCell[] {
  const v = POLICY_VARIANTS[variant];
  if (!v) throw new Error(`unknown security-group policy variant '${variant}' (variants: ${Object.keys(POLICY_VARIANTS).join(', ')})`);
  const cells: MatrixCell[] = [];
  for (const r of ROWS)
    for (const c of COLUMNS) {
      const p = policyFor(r, c);
      if (!p) continue;
      const id = cellId(r, c);
      const override = v.overrides[id];
      cells.push({ id, row: r, column: c, ...(override ?? p), ...(override ? { variant } : {}) });
    }
  return cells;
}

/**
 * The quick profile's sample: each row's first (usually honest) cell and one forged cell of it, and
 * at least one cell of every column — every kind and every forged field stays covered.
 */
export function quickSample(cells: readonly MatrixCell[]): MatrixCell[] {
  const keep = new Set<string>();
  ROWS.forEach((r, i) => {
    const mine = cells.filter((c) => c.row.id === r.id);
    const forged = mine.filter((c) => c.column.id !== 'honest');
    if (mine[0]) keep.add(mine[0].id);
    if (forged.length) keep.add(forged[i % forged.length]!.id);
  });
  COLUMNS.forEach((col, i) => {
    const mine = cells.filter((c) => c.column.id === col.id);
    if (mine.length && !mine.some((c) => keep.has(c.id))) keep.add(mine[i % mine.length]!.id);
  });
  return cells.filter((c) => keep.has(c.id));
}
