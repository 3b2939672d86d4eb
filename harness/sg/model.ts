/**
 * The security-group model: what the hypervisor must know about one instance to guard its port
 * (vif, MAC, SLAAC address, link-local, delegated prefixes) and its user rules, in CloudStack's own
 * rule text `I|E:proto;start;end;cidr,…` — parsed and formatted 1:1, so a rule read from a pod file
 * or handed to CloudStack's security_group.py is the same string. Pure: no kernel objects here.
 *
 * The defaults every group carries, whatever its user rules (seed: "IPv6 also need security
 * grouping"; RFC 4890 §4.3; RFC 6105/7113; RFC 6980):
 *   from the instance  its own MAC only; IPv6 only; sources: its SLAAC address, its link-local, an
 *                      address in one of its delegated prefixes, or `::` for DAD and MLD only;
 *                      from the link-local only ICMPv6 and the DHCPv6 client exchange (546 → 547
 *                      to ff02::1:2), never fragmented; no RA, Redirect, Router Renumbering or MLD
 *                      query; NA only for its own addresses with its own MAC; no DHCPv6 server or
 *                      relay messages; ICMPv6 errors and echo allowed; everything else allowed
 *                      unless the group has egress rules (then only what they allow, CloudStack's rule).
 *   to the instance    all ICMPv6 (ND, RA, MLD, errors, echo), DHCPv6 replies (547 → 546), replies to
 *                      its own connections; new inbound traffic only where an ingress rule allows.
 */
import ipaddr from 'ipaddr.js';
import type { InstancePlan, Plan } from '../pod/plan.ts';

export type RuleDirection = 'ingress' | 'egress';

/** CloudStack's protocol words; a number is an IP protocol (0-255). `icmp` means ICMPv6 for IPv6 CIDRs. */
export type RuleProtocol = 'tcp' | 'udp' | 'icmp' | 'icmpv6' | 'all' | number;

export interface SgRule {
  direction: RuleDirection;
  protocol: RuleProtocol;
  /** tcp/udp: first port (0 with end 0: any port); icmp: ICMP type (-1: any). */
  start: number;
  /** tcp/udp: last port; icmp: ICMP code (-1: any). */
  end: number;
  /** As written (IPv4 CIDRs are kept for the round trip; v6pod pods are IPv6-only and ignore them). */
  cidrs: string[];
}

export class SgRuleError extends Error {
  override name = 'SgRuleError';
  constructor(
    readonly rule: string,
    reason: string,
  ) {
    super(`security-group rule '${rule}': ${reason}`);
  }
}

const DIRECTIONS: Record<string, RuleDirection> = { I: 'ingress', E: 'egress' };
const LETTERS: Record<RuleDirection, string> = { ingress: 'I', egress: 'E' };
const WORDS = ['tcp', 'udp', 'icmp', 'icmpv6', 'all'] as const;

function integer(text: string, rule: string, what: string, min: number, max: number): number {
  if (!/^-?\d+$/.test(text)) throw new SgRuleError(rule, `${what} '${text}' is not a whole number`);
  const n = Number(text);
  if (n < min || n > max) throw new SgRuleError(rule, `${what} ${n} is outside ${min}-${max}`);
  return n;
}

function checkCidr(text: string, rule: string): string {
  if (!ipaddr.isValidCIDR(text)) throw new SgRuleError(rule, `'${text}' is not a CIDR (address/length)`);
  return text;
}

/** Parses one rule, e.g. `I:tcp;22;22;::/0` or `E:icmp;128;-1;2001:db8::/32,fd00::/8`. */
export function parseRule(text: string): SgRule {
  const m = /^([^:]*):([^;]*);([^;]*);([^;]*);(.*)$/.exec(text);
  if (!m) throw new SgRuleError(text, 'expected I|E:protocol;start;end;cidr[,cidr…]');
  const [, type, proto, startText, endText, cidrText] = m as unknown as [string, string, string, string, string, string];
  const direction = DIRECTIONS[type];
  if (!direction) throw new SgRuleError(text, `rule type '${type}' must be I (ingress) or E (egress)`);
  let protocol: RuleProtocol;
  if ((WORDS as readonly string[]).includes(proto)) protocol = proto as RuleProtocol;
  else if (/^\d+$/.test(proto)) protocol = integer(proto, text, 'protocol number', 0, 255);
  else throw new SgRuleError(text, `protocol '${proto}' must be tcp, udp, icmp, icmpv6, all or a number 0-255`);
  let start: number;
  let end: number;
  if (protocol === 'tcp' || protocol === 'udp') {
    start = integer(startText, text, 'start port', 0, 65535);
    end = integer(endText, text, 'end port', 0, 65535);
    if (start > end) throw new SgRuleError(text, `start port ${start} is after end port ${end}`);
  } else if (protocol === 'icmp' || protocol === 'icmpv6') {
    start = integer(startText, text, 'ICMP type', -1, 255);
    end = integer(endText, text, 'ICMP code', -1, 255);
    if (start === -1 && end !== -1) throw new SgRuleError(text, `ICMP code ${end} needs a type (type is -1: any)`);
  } else {
    start = integer(startText, text, 'start', -1, 65535);
    end = integer(endText, text, 'end', -1, 65535);
  }
  if (!cidrText) throw new SgRuleError(text, 'needs at least one CIDR');
  const cidrs = cidrText.split(',').map((c) => checkCidr(c, text));
  return { direction, protocol, start, end, cidrs };
}

export function formatRule(r: SgRule): string {
  return `${LETTERS[r.direction]}:${r.protocol};${r.start};${r.end};${r.cidrs.join(',')}`;
}

/** CloudStack's `--rules` argument of security_group.py: each rule followed by `NEXT;`. */
export function toCloudStackRules(rules: readonly SgRule[]): string {
  return rules.map((r) => `${formatRule(r)}NEXT;`).join('');
}

export function fromCloudStackRules(text: string): SgRule[] {
  if (!text) return [];
  if (!text.endsWith('NEXT;')) throw new SgRuleError(text, "CloudStack's rule list ends every rule with NEXT;");
  return text.slice(0, -'NEXT;'.length).split('NEXT;').map(parseRule);
}

/** The IPv6 CIDRs of a rule (the ones a v6pod pod can match). */
export function ipv6Cidrs(r: SgRule): string[] {
  return r.cidrs.filter((c) => ipaddr.parseCIDR(c)[0].kind() === 'ipv6');
}

/** One instance as its hypervisor's security group sees it. */
export interface SgInstance {
  name: string;
  hypervisor: string;
  /** The hypervisor port (vnetN). */
  vif: string;
  mac: string;
  slaac: string;
  linkLocal: string;
  /** Delegated prefixes, canonical text. */
  prefixes: string[];
  group: string;
  rules: SgRule[];
}

/** The group's rules, parsed; a bad rule names the group. */
export function groupRules(plan: Plan, group: string): SgRule[] {
  const g = plan.pod.securityGroups[group];
  if (!g) throw new Error(`unknown security group '${group}' (groups: ${Object.keys(plan.pod.securityGroups).join(', ')})`);
  return g.rules.map((text) => {
    try {
      return parseRule(text);
    } catch (err) {
      throw new Error(`security group '${group}': ${(err as Error).message}`, { cause: err });
    }
  });
}

/** The model of a planned instance; `prefixes` come from the control plane (the reservation store). */
export function instanceModel(plan: Plan, inst: InstancePlan, prefixes: readonly string[]): SgInstance {
  return {
    name: inst.name,
    hypervisor: inst.hypervisor,
    vif: inst.port,
    mac: inst.mac,
    slaac: inst.slaac,
    linkLocal: inst.linkLocal,
    prefixes: [...prefixes],
    group: inst.securityGroup,
    rules: groupRules(plan, inst.securityGroup),
  };
}
