/**
 * What instances hold and what they put on the wire: the addresses and default routes of their
 * stacks (a namespace instance's kernel, a synthetic instance's emulated stack), and frames sent
 * from an instance's own port or injected on any port of the pod.
 */
import { currentPod } from './pod-context.ts';
import { instance, instances, resolvePort, type Port } from './nodes.ts';
import { ProbeAgent } from './agent-client.ts';
import { observeAll, usable as usableAddress, type ObservedAddress, type ObservedInstance } from '../../netns/observe.ts';
import { synthCommand, synthPaths } from '../../netns/daemons/synth.ts';
import type { InstancePlan } from '../pod/plan.ts';
import { buildFrame, type Frame } from '../packet/frame.ts';

export type { ObservedAddress, ObservedInstance };

/** What each instance's stack holds: its kernel's (namespace instance) or its emulated stack's (synthetic). */
export async function kernelState(names: readonly InstancePlan[] = instances()): Promise<Map<string, ObservedInstance>> {
  const seen = await observeAll(currentPod().run, names);
  return new Map(names.map((i) => [i.name, seen.get(i.name) ?? { addresses: [], defaultRoutes: [] }]));
}

/** An address usable for traffic: DAD done, or optimistic (RFC 4429). */
export function usable(a: ObservedAddress): boolean {
  return usableAddress(a);
}

const wire = (f: Frame | Buffer) => (Buffer.isBuffer(f) ? f : buildFrame(f));

/** Sends frames from an instance's own port: its kernel's eth0, or — synthetic — its TAP, through the host daemon. */
export async function sendFrom(inst: InstancePlan, frames: ReadonlyArray<Frame | Buffer>): Promise<void> {
  if (inst.kind === 'namespace') {
    const agent = await ProbeAgent.in(inst.ns);
    for (const f of frames) await agent.inject('eth0', wire(f));
    return;
  }
  const answer = await synthCommand(synthPaths(currentPod().run, inst.hypervisor).socket, 'send', {
    name: inst.name,
    frames: frames.map((f) => wire(f).toString('hex')),
  });
  if (answer.result !== 0)
    throw new Error(`the synthetic host on ${inst.hypervisor} did not send ${inst.name}'s frames: ${answer.text ?? `result ${answer.result}`}`);
}

/**
 * Puts frames on the wire, in order: from an instance (its name or plan: out of its own port) or
 * on a port of the pod (`NODE:IFACE`, e.g. "r1:lan": as if that node sent them).
 */
export async function send(from: string | InstancePlan, ...frames: Array<Frame | Buffer>): Promise<void> {
  if (typeof from !== 'string' || !from.includes(':')) return sendFrom(instance(from), frames);
  const at = resolvePort(from as Port);
  const agent = await ProbeAgent.in(at.ns);
  for (const f of frames) await agent.inject(at.iface, wire(f));
}
