/**
 * Verifying every instance of a pod at once (the scale profile): each check reads its evidence
 * with one request per daemon or namespace — the hypervisors' host daemons, each router's route
 * table, each hypervisor's nftables maps and sets — never one per instance, so 1,000 instances
 * cost what 4 do. Each returns the instances that fail it with what they lack; an empty list passes.
 */
import { run } from '../os/exec.ts';
import { readState } from '../../netns/run-state.ts';
import { buildPlan, type InstancePlan, type Plan } from '../pod/plan.ts';
import { namespaceName } from '../pod/names.ts';
import { syntheticSnapshots } from '../../netns/observe.ts';
import { PodControl } from '../control/pod-control.ts';
import { chainsOf, sourceElements, TABLE } from '../sg/nft-driver.ts';
import { instanceModel } from '../sg/model.ts';
import { relayRoutes } from './dhcp.ts';
import { Prefix } from '../addr/prefix.ts';
import { pollIntervalMs, waitUntil } from '../os/wait.ts';
import { ControlTimeout } from '../os/control-socket.ts';
import { prng } from '../os/prng.ts';

export interface Shortfall {
  instance: string;
  lacks: string;
}

/** The reserved prefixes of every instance, by MAC (one read of the store). */
export async function reservationsByMac(plan: Plan): Promise<Map<string, string[]>> {
  const state = readState(plan.run)!;
  const control = await PodControl.open(buildPlan(state.pod, state.run, state.ports), state.pg);
  try {
    return new Map((await control.store.list()).map((r) => [r.mac, r.prefixes]));
  } finally {
    await control.close();
  }
}

const sorted = (xs: readonly string[]) => [...xs].sort();
const same = (a: readonly string[], b: readonly string[]) => JSON.stringify(sorted(a)) === JSON.stringify(sorted(b));

/** Synthetic instances whose PD client does not hold exactly the prefixes reserved for their MAC. */
export async function delegationShortfalls(plan: Plan, instances: readonly InstancePlan[], reserved: ReadonlyMap<string, string[]>): Promise<Shortfall[]> {
  const snaps = await syntheticSnapshots(plan.run, instances);
  return instances.flatMap((i) => {
    const want = reserved.get(i.mac) ?? [];
    const held = snaps.get(i.name)?.dhcp?.prefixes.map((p) => p.prefix) ?? [];
    return same(held, want) ? [] : [{ instance: i.name, lacks: `delegated ${JSON.stringify(sorted(held))}, reserved ${JSON.stringify(sorted(want))}` }];
  });
}

/** Instances whose delegated prefixes are not routed exactly once via their link-local on every router. */
export async function routeShortfalls(plan: Plan, instances: readonly InstancePlan[], reserved: ReadonlyMap<string, string[]>): Promise<Shortfall[]> {
  const tables = await Promise.all(plan.routers.map(async (r) => ({ router: r.name, routes: await relayRoutes(r) })));
  const byRouter = tables.map(({ router, routes }) => {
    const vias = new Map<string, string[]>();
    for (const x of routes) vias.set(x.prefix, [...(vias.get(x.prefix) ?? []), x.via ?? '?']);
    return { router, vias };
  });
  return instances.flatMap((i) => {
    const lacks = byRouter.flatMap(({ router, vias }) =>
      (reserved.get(i.mac) ?? [])
        .filter((p) => !same(vias.get(p) ?? [], [i.linkLocal]))
        .map((p) => `${router} routes ${p} via ${JSON.stringify(vias.get(p) ?? [])}, not [${i.linkLocal}]`),
    );
    return lacks.length ? [{ instance: i.name, lacks: lacks.join('; ') }] : [];
  });
}

interface NftObject {
  map?: { name: string; table: string; elem?: Array<[string, { jump?: { target: string } }]> };
  set?: { name: string; table: string; elem?: unknown[] };
}

/** Addresses and prefixes in nft's JSON elements of a `port . address` set, as canonical prefix text. */
function setPrefixes(elems: readonly unknown[]): string[] {
  const out: string[] = [];
  const walk = (e: unknown): void => {
    if (typeof e === 'string') {
      if (e.includes(':')) out.push(`${Prefix.parse(`${e}/128`)}`);
      return;
    }
    if (!e || typeof e !== 'object') return;
    const o = e as { elem?: { val: unknown }; concat?: unknown[]; prefix?: { addr: string; len: number } };
    if (o.elem) walk(o.elem.val);
    else if (o.concat) o.concat.forEach(walk);
    else if (o.prefix) out.push(`${Prefix.parse(`${o.prefix.addr}/${o.prefix.len}`)}`);
  };
  elems.forEach(walk);
  return out;
}

/**
 * Instances whose security group is not in force on their hypervisor (reference driver): the port
 * must dispatch to the instance's own chains both ways, and its source set must hold exactly its
 * SLAAC address, link-local and delegated prefixes.
 */
export async function securityGroupShortfalls(plan: Plan, instances: readonly InstancePlan[], reserved: ReadonlyMap<string, string[]>): Promise<Shortfall[]> {
  const hypervisors = [...new Set(instances.map((i) => i.hypervisor))];
  const listings = await Promise.all(
    hypervisors.map(async (hv) => {
      const ns = namespaceName(plan.run, hv);
      const [maps, sets] = await Promise.all(
        ['maps', 'sets'].map(
          async (what) =>
            (JSON.parse((await run(['nft', '-j', 'list', what, 'bridge'], { ns, timeoutMs: 30_000 })).stdout) as { nftables: NftObject[] }).nftables,
        ),
      );
      const jumps = (name: string) =>
        new Map((maps!.find((o) => o.map?.table === TABLE && o.map.name === name)?.map?.elem ?? []).map(([port, v]) => [port, v.jump?.target]));
      const sources = new Map(sets!.flatMap((o) => (o.set?.table === TABLE ? [[o.set.name, setPrefixes(o.set.elem ?? [])] as const] : [])));
      return [hv, { from: jumps('from-port'), to: jumps('to-port'), sources }] as const;
    }),
  );
  const byHv = new Map(listings);
  return instances.flatMap((i) => {
    const hv = byHv.get(i.hypervisor)!;
    const c = chainsOf(i.name);
    const want = sourceElements(instanceModel(plan, i, reserved.get(i.mac) ?? [])).map((p) => `${Prefix.parse(p)}`);
    const lacks = [
      ...(hv.from.get(i.port) === c.out ? [] : [`${i.port} dispatches out to ${hv.from.get(i.port) ?? 'nothing'}, not ${c.out}`]),
      ...(hv.to.get(i.port) === c.in ? [] : [`${i.port} dispatches in to ${hv.to.get(i.port) ?? 'nothing'}, not ${c.in}`]),
      ...(same(hv.sources.get(c.src) ?? [], want)
        ? []
        : [`${c.src} holds ${JSON.stringify(sorted(hv.sources.get(c.src) ?? []))}, not ${JSON.stringify(sorted(want))}`]),
    ];
    return lacks.length ? [{ instance: i.name, lacks: lacks.join('; ') }] : [];
  });
}

/** "N of M instances fail: a lacks …; b lacks …; and K more" — a readable verdict for 1,000 instances. */
export function describeShortfalls(shortfalls: readonly Shortfall[], total: number, shown = 5): string {
  const head = shortfalls.slice(0, shown).map((s) => `${s.instance}: ${s.lacks}`);
  const more = shortfalls.length > shown ? `; and ${shortfalls.length - shown} more` : '';
  return `${shortfalls.length} of ${total} instances fail: ${head.join('; ')}${more}`;
}

/**
 * Waits until `check` finds no shortfall among `instances`. While waiting it checks again only those
 * still short (at 5,000 a read of every instance costs its daemons and this process a good part of
 * a core), polling less often the more there are; the verdict is one check of them all. The error
 * names the instances still short at the deadline.
 */
export async function untilNoShortfall(
  what: string,
  instances: readonly InstancePlan[],
  check: (instances: readonly InstancePlan[]) => Promise<Shortfall[]>,
  timeoutMs: number,
): Promise<void> {
  let last: Shortfall[] = [];
  let pending = instances;
  let silent = '';
  await waitUntil(
    async () => {
      try {
        last = await check(pending);
        // All the pending passed: the verdict reads them all.
        if (!last.length && pending !== instances) last = await check(instances);
      } catch (err) {
        // A daemon too busy to answer in time is asked again next round (named at the deadline).
        if (!(err instanceof ControlTimeout)) throw err;
        silent = err.message;
        return false;
      }
      silent = '';
      const short = new Set(last.map((s) => s.instance));
      pending = instances.filter((i) => short.has(i.name));
      return last.length === 0;
    },
    {
      timeoutMs,
      what: () => `${what}: ${silent || describeShortfalls(last, instances.length)}`,
      intervalMs: () => pollIntervalMs(pending.length),
    },
  );
}

/**
 * `count` instances (at most all of them) spread over the hypervisors round robin, each picked
 * among its hypervisor's with a PRNG seeded by the run name: a run's sample is reproducible from its name.
 */
export function sampleInstances(plan: Plan, count: number): InstancePlan[] {
  const seed = [...plan.run].reduce((h, c) => (h * 31 + c.charCodeAt(0)) >>> 0, 7);
  const rng = prng(seed);
  const byHv = new Map<string, InstancePlan[]>();
  for (const i of plan.instances) byHv.set(i.hypervisor, [...(byHv.get(i.hypervisor) ?? []), i]);
  const pools = [...byHv.values()];
  return Array.from({ length: Math.min(count, plan.instances.length) }, (_, k) => rng.pick(pools[k % pools.length]!));
}
