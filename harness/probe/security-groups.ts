/**
 * The run's security groups as scenarios see them: the driver `up` applied them with (the reference
 * nft driver, or the one `--sg-driver` names) and each instance's model — its port, MAC, addresses,
 * delegated prefixes (read from the control plane's store: Kea's config, or the run's PostgreSQL
 * host database) and user rules. A scenario may change one instance's group for a while; the
 * reference driver's state (source sets, rule counters) is read back from the hypervisor's kernel.
 */
import { currentPod } from './pod-context.ts';
import { instance } from './nodes.ts';
import { readState } from '../../netns/run-state.ts';
import { hypervisorRef, type SgDriver } from '../sg/driver.ts';
import { driverFor, podInstanceModels } from '../sg/pod-groups.ts';
import { bridgeTablePresent, chainsOf } from '../sg/nft-driver.ts';
import { chainCounters, sourceSetsAdmitting, type ChainCounters } from '../sg/nft-inspect.ts';
import { parseRule, type SgInstance } from '../sg/model.ts';
import type { InstancePlan } from '../pod/plan.ts';

/** One instance's security group as the driver applies it. */
export type SecurityGroup = SgInstance;

let cached: { run: string; groups: Promise<{ driver: SgDriver; models: SgInstance[] }> } | undefined;

/** The run's driver and every instance's model, read once per run. */
function runGroups(): Promise<{ driver: SgDriver; models: SgInstance[] }> {
  const plan = currentPod();
  if (cached?.run !== plan.run) {
    const groups = (async () => ({ driver: driverFor(), models: await podInstanceModels(plan, readState(plan.run)?.pg) }))();
    groups.catch(() => (cached = undefined)); // a failed read may be retried
    cached = { run: plan.run, groups };
  }
  return cached.groups;
}

/** The driver that applied the run's groups. */
export async function securityGroupDriver(): Promise<SgDriver> {
  return (await runGroups()).driver;
}

/** An instance's group as `up` applied it: its delegated prefixes, its rules. */
export async function securityGroupOf(name: string): Promise<SecurityGroup> {
  const model = (await runGroups()).models.find((m) => m.name === name);
  if (!model) throw new Error(`no security group for instance '${name}' in the run`);
  return model;
}

/** A change to one instance's group: its delegated prefixes, or its rules in CloudStack's text (`I:tcp;80;80;::/0`). */
export interface GroupChange {
  prefixes?: string[];
  rules?: string[];
}

/** Runs `fn` with `name`'s group changed (re-rendered by the run's driver), restoring it afterwards. */
export async function withSecurityGroup<T>(name: string, change: GroupChange, fn: () => Promise<T>): Promise<T> {
  const { driver } = await runGroups();
  const original = await securityGroupOf(name);
  const ref = hypervisorRef(currentPod(), original.hypervisor);
  await driver.update(ref, {
    ...original,
    ...(change.prefixes ? { prefixes: change.prefixes } : {}),
    ...(change.rules ? { rules: change.rules.map(parseRule) } : {}),
  });
  try {
    return await fn();
  } finally {
    await driver.update(ref, original);
  }
}

const hypervisorNs = (hypervisor: string) => {
  const node = currentPod().nodes.find((n) => n.name === hypervisor && n.role === 'hypervisor');
  if (!node) throw new Error(`no hypervisor '${hypervisor}' in the pod`);
  return node.ns;
};

/** The hypervisors of the pod, by name. */
export function hypervisors(): string[] {
  return currentPod()
    .nodes.filter((n) => n.role === 'hypervisor')
    .map((n) => n.name);
}

/** Whether the reference driver's table is on each hypervisor namespace: it stays so for the run. */
let tables: { run: string; present: Map<string, Promise<boolean>> } | undefined;

function tablePresent(ns: string): Promise<boolean> {
  const run = currentPod().run;
  if (tables?.run !== run) tables = { run, present: new Map() };
  let present = tables.present.get(ns);
  if (!present) {
    present = bridgeTablePresent(ns);
    present.catch(() => tables?.present.delete(ns)); // a failed read may be retried
    tables.present.set(ns, present);
  }
  return present;
}

/** True when the reference driver's table guards this hypervisor (another driver has no sets or counters to read). */
export function referenceDriverOn(hypervisor: string): Promise<boolean> {
  return tablePresent(hypervisorNs(hypervisor));
}

/**
 * The instances whose group admits `address` as a source on `hypervisor`, read back from the
 * reference driver's source sets; undefined when another driver guards it (no sets to read).
 */
export async function groupsAdmittingSource(address: string, hypervisor: string): Promise<string[] | undefined> {
  if (!(await referenceDriverOn(hypervisor))) return undefined;
  return sourceSetsAdmitting(hypervisorNs(hypervisor), address);
}

/**
 * Reads of a chain's counters asked for in the same turn of the event loop share one `nft` run (a
 * drop proof asks for the rule's counter and the drop total together, before and after): a read is
 * never shared with a request made after the turn it started in, so none misses what came later.
 */
const reading = new Map<string, Promise<ChainCounters | undefined>>();

function countersOf(ns: string, chain: string): Promise<ChainCounters | undefined> {
  const key = `${ns} ${chain}`;
  let read = reading.get(key);
  if (!read) {
    read = chainCounters(ns, chain);
    reading.set(key, read);
    setImmediate(() => reading.delete(key));
  }
  return read;
}

/**
 * Packets the reference driver's rule `rule` counted in an instance's chain ('out': from it, 'in':
 * to it); undefined when another driver guards its hypervisor.
 */
export async function ruleCount(inst: string | InstancePlan, rule: string, direction: 'out' | 'in'): Promise<number | undefined> {
  const i = instance(inst);
  const ns = hypervisorNs(i.hypervisor);
  if (!(await tablePresent(ns))) return undefined;
  const chain = chainsOf(i.name)[direction];
  const counters = await countersOf(ns, chain);
  if (!counters) throw new Error(`no chain ${chain} on ${i.hypervisor}`);
  const count = counters.rules.get(rule);
  if (count === undefined) throw new Error(`no rule '${rule}' in ${chain} on ${i.hypervisor}`);
  return count;
}

/**
 * Packets every drop rule of an instance's chain counted, summed ('out': from it, 'in': to it);
 * undefined when another driver guards its hypervisor.
 */
export async function dropCount(inst: string | InstancePlan, direction: 'out' | 'in'): Promise<number | undefined> {
  const i = instance(inst);
  const ns = hypervisorNs(i.hypervisor);
  if (!(await tablePresent(ns))) return undefined;
  const chain = chainsOf(i.name)[direction];
  const counters = await countersOf(ns, chain);
  if (!counters) throw new Error(`no chain ${chain} on ${i.hypervisor}`);
  return counters.drops;
}
