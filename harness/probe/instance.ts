/** Scenario helpers about instances: what their kernels hold, and running tools inside them. */
import { currentPod } from './pod-context.ts';
import { observeInstances, type ObservedInstance } from '../../netns/net/observe.ts';
import { run, type RunResult } from '../../netns/exec.ts';
import type { InstancePlan } from '../../netns/net/plan.ts';

export function instances(): InstancePlan[] {
  return currentPod().instances;
}

export function instance(name: string): InstancePlan {
  const found = currentPod().instances.find((i) => i.name === name);
  if (!found) throw new Error(`no instance '${name}' in the pod (instances: ${currentPod().instances.map((i) => i.name).join(', ')})`);
  return found;
}

export async function kernelState(names: readonly InstancePlan[] = instances()): Promise<Map<string, ObservedInstance>> {
  const seen = await observeInstances(names.map((i) => i.ns));
  return new Map(names.map((i) => [i.name, seen.get(i.ns) ?? { addresses: [], defaultRoutes: [] }]));
}

/** Runs a command inside a node's namespace. */
export function inNode(node: string, argv: string[], opts: { allowFailure?: boolean; timeoutMs?: number } = {}): Promise<RunResult> {
  const plan = currentPod();
  const ns = plan.nodes.find((n) => n.name === node)?.ns;
  if (!ns) throw new Error(`no node '${node}' in the pod`);
  return run(argv, { ns, timeoutMs: opts.timeoutMs ?? 10_000, allowFailure: opts.allowFailure });
}
