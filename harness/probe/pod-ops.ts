/**
 * Changing the running pod as CloudStack does: deploying an instance (the next free prefixes
 * reserved for its MAC, its port and group created, its SLAAC address waited for) and destroying
 * one (port and group removed, leases and reservation deleted, routes dropped, prefixes
 * quarantined) — the same lifecycle `v6pod vm deploy|destroy` runs.
 */
import { currentPod } from './pod-context.ts';
import { deployInstance, destroyInstance, findInstance, type DeploySpec } from '../../netns/instance-lifecycle.ts';
import { readState } from '../../netns/run-state.ts';
import type { InstancePlan } from '../pod/plan.ts';

export type VmSpec = Omit<DeploySpec, 'name'>;

export interface DeployedVm {
  instance: InstancePlan;
  /** The prefixes reserved for it (its delegated prefixes once it asks). */
  prefixes: string[];
}

/** Deploys instance `name` on the running pod (default: a namespace instance on the least busy hypervisor). */
export function deployVm(name: string, spec: VmSpec = {}): Promise<DeployedVm> {
  return deployInstance(currentPod().run, { name, ...spec });
}

/** Destroys instance `name`; returns the prefixes it held (now quarantined). */
export async function destroyVm(name: string): Promise<string[]> {
  return (await destroyInstance(currentPod().run, name)).prefixes;
}

/** True while the running pod has an instance `name` (declared or deployed). */
export function vmExists(name: string): boolean {
  const state = readState(currentPod().run);
  return state !== undefined && findInstance(state.pod, name) !== undefined;
}

/** Deploys `name`, runs `fn` with it, and destroys it afterwards — unless `fn` destroyed it already. */
export async function withVm<T>(name: string, spec: VmSpec, fn: (vm: DeployedVm) => Promise<T>): Promise<T> {
  const deployed = await deployVm(name, spec);
  try {
    return await fn(deployed);
  } finally {
    if (vmExists(name)) await destroyVm(name);
  }
}

/**
 * An instance several scenarios of one `describe` share (a deploy costs ~1.3 s, most of it the
 * guest's own DAD second before its first RS): deployed by the first scenario that asks for it,
 * destroyed after the last one. Call it in the describe's body; each scenario awaits the result.
 */
export function sharedVm(name: string, spec: VmSpec = {}): () => Promise<DeployedVm> {
  let deployed: Promise<DeployedVm> | undefined;
  after(async () => {
    if (deployed && vmExists(name)) await destroyVm(name);
  });
  return () => (deployed ??= deployVm(name, spec));
}
