/**
 * Reading the reference driver's state back from a hypervisor's kernel (`nft -j`), for scenarios
 * and tests: the packets each commented rule counted, and which instance's source set admits an
 * address. Nothing here changes the ruleset.
 */
import ipaddr from 'ipaddr.js';
import { run } from '../os/exec.ts';
import { TABLE } from './nft-driver.ts';

interface NftJsonRule {
  rule?: { chain: string; comment?: string; expr: Array<{ counter?: { packets: number; bytes: number }; drop?: null }> };
}

/** A chain's counters from one read: packets by rule comment, and the packets of every drop rule summed. */
export interface ChainCounters {
  rules: Map<string, number>;
  drops: number;
}

/** One `nft -j list chain` read of both figures; undefined when there is no such chain. */
export async function chainCounters(ns: string, chain: string): Promise<ChainCounters | undefined> {
  const listed = await run(['nft', '-j', 'list', 'chain', 'bridge', TABLE, chain], { ns, allowFailure: true });
  if (listed.exitCode !== 0) return undefined;
  const rules = new Map<string, number>();
  let drops = 0;
  for (const r of (JSON.parse(listed.stdout) as { nftables: NftJsonRule[] }).nftables) {
    if (!r.rule) continue;
    const packets = r.rule.expr.find((e) => e.counter)?.counter?.packets ?? 0;
    if (r.rule.comment) rules.set(r.rule.comment, (rules.get(r.rule.comment) ?? 0) + packets);
    if (r.rule.expr.some((e) => 'drop' in e)) drops += packets;
  }
  return { rules, drops };
}

/** Packets counted by each commented rule of a chain, by comment. */
export async function ruleCounters(ns: string, chain: string): Promise<Map<string, number>> {
  const counters = await chainCounters(ns, chain);
  if (!counters) throw new Error(`no chain ${chain} in table bridge ${TABLE}`);
  return counters.rules;
}

/** One element of a set in nft's JSON: an address, a prefix, a range, a concatenation of those, or any of them wrapped with its own counter. */
type NftJsonElem = string | { prefix?: { addr: string; len: number }; range?: [string, string]; concat?: NftJsonElem[]; elem?: { val: NftJsonElem } };

/** The IPv6 part of an element as [first, last] addresses (the port of a `port . address` element is dropped). */
function addressRange(e: NftJsonElem): [ipaddr.IPv6, ipaddr.IPv6] | undefined {
  if (typeof e === 'string') return ipaddr.IPv6.isValid(e) ? [ipaddr.IPv6.parse(e), ipaddr.IPv6.parse(e)] : undefined;
  if (e.elem) return addressRange(e.elem.val);
  if (e.concat) return e.concat.map(addressRange).find(Boolean);
  if (e.range) return [ipaddr.IPv6.parse(e.range[0]), ipaddr.IPv6.parse(e.range[1])];
  if (e.prefix) {
    const net = ipaddr.IPv6.parse(e.prefix.addr);
    return [ipaddr.IPv6.networkAddressFromCIDR(`${net.toString()}/${e.prefix.len}`), ipaddr.IPv6.broadcastAddressFromCIDR(`${net.toString()}/${e.prefix.len}`)];
  }
  return undefined;
}

const big = (a: ipaddr.IPv6) => BigInt(`0x${Buffer.from(a.toByteArray()).toString('hex')}`);

/**
 * The instances (by their `src-NAME` set) whose group admits `address` as a source on this
 * hypervisor; empty when none does, or when the reference driver's table is absent.
 */
export async function sourceSetsAdmitting(ns: string, address: string): Promise<string[]> {
  const r = await run(['nft', '-j', 'list', 'sets', 'bridge'], { ns, allowFailure: true });
  if (r.exitCode !== 0) return [];
  const a = big(ipaddr.IPv6.parse(address));
  const sets = (JSON.parse(r.stdout) as { nftables: Array<{ set?: { name: string; table: string; elem?: NftJsonElem[] } }> }).nftables.flatMap((o) =>
    o.set?.table === TABLE && o.set.name.startsWith('src-') ? [o.set] : [],
  );
  return sets
    .filter((s) =>
      (s.elem ?? []).some((e) => {
        const range = addressRange(e);
        return range !== undefined && big(range[0]) <= a && a <= big(range[1]);
      }),
    )
    .map((s) => s.name.slice('src-'.length));
}
