/** Scenario helpers about instances: what their kernels hold, and running tools inside them. */
import { currentPod } from './pod-context.ts';
import { observeAll, type ObservedInstance } from '../../netns/observe.ts';
import { run, type RunResult } from '../os/exec.ts';
import type { InstancePlan } from '../pod/plan.ts';
import { ProbeAgent } from './agent-client.ts';
import { synthCommand, synthPaths } from '../../netns/daemons/synth.ts';

export function instances(): InstancePlan[] {
  return currentPod().instances;
}

export function instance(name: string): InstancePlan {
  const found = currentPod().instances.find((i) => i.name === name);
  if (!found) throw new Error(`no instance '${name}' in the pod (instances: ${currentPod().instances.map((i) => i.name).join(', ')})`);
  return found;
}

/** What each instance's stack holds: its kernel's (namespace instance) or its emulated stack's (synthetic). */
export async function kernelState(names: readonly InstancePlan[] = instances()): Promise<Map<string, ObservedInstance>> {
  const seen = await observeAll(currentPod().run, names);
  return new Map(names.map((i) => [i.name, seen.get(i.name) ?? { addresses: [], defaultRoutes: [] }]));
}

/** Runs a command inside a node's namespace. */
export function inNode(node: string, argv: string[], opts: { allowFailure?: boolean; timeoutMs?: number } = {}): Promise<RunResult> {
  const plan = currentPod();
  const ns = plan.nodes.find((n) => n.name === node)?.ns;
  if (!ns) throw new Error(`no node '${node}' in the pod`);
  return run(argv, { ns, timeoutMs: opts.timeoutMs ?? 10_000, allowFailure: opts.allowFailure });
}

/** Sends frames from an instance's own port: its kernel's eth0, or — synthetic — its TAP, through the host daemon. */
export async function sendFrom(inst: InstancePlan, frames: readonly Buffer[]): Promise<void> {
  if (inst.kind === 'namespace') {
    const agent = await ProbeAgent.in(inst.ns);
    for (const f of frames) await agent.inject('eth0', f);
    return;
  }
  const answer = await synthCommand(synthPaths(currentPod().run, inst.hypervisor).socket, 'send', { name: inst.name, frames: frames.map((f) => f.toString('hex')) });
  if (answer.result !== 0) throw new Error(`the synthetic host on ${inst.hypervisor} did not send ${inst.name}'s frames: ${answer.text ?? `result ${answer.result}`}`);
}
