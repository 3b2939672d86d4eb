/**
 * The pod's nodes as scenarios name them — instances, routers, the core, Kea — and the ports
 * where frames are sent or watched, written `NODE:IFACE` ("hv1:uplink", "r1:lan"): `portOf(vm)`
 * is an instance's hypervisor port, `uplinkOf(vm)` its hypervisor's uplink to the ToR.
 */
import { currentPod } from './pod-context.ts';
import { namespaceName } from '../pod/names.ts';
import type { InstancePlan, RouterPlan } from '../pod/plan.ts';

export function instances(): InstancePlan[] {
  return currentPod().instances;
}

/** An instance of the pod, by name (as the pod file declares it), or the plan of one a scenario deployed. */
export function instance(name: string | InstancePlan): InstancePlan {
  if (typeof name !== 'string') return name;
  const found = currentPod().instances.find((i) => i.name === name);
  if (!found)
    throw new Error(
      `no instance '${name}' in the pod (instances: ${currentPod()
        .instances.map((i) => i.name)
        .join(', ')})`,
    );
  return found;
}

export function routers(): RouterPlan[] {
  return currentPod().routers;
}

export function router(name: string): RouterPlan {
  const r = currentPod().routers.find((x) => x.name === name);
  if (!r)
    throw new Error(
      `no router '${name}' (routers: ${currentPod()
        .routers.map((x) => x.name)
        .join(', ')})`,
    );
  return r;
}

/** The core: the node outside the pod that routes the pool and the pod /64 to both routers. */
export function core(): { name: string; ns: string; address: string } {
  const plan = currentPod();
  return { name: plan.pod.core.name, ...plan.core };
}

/** Kea, on the routers' service network. */
export function kea(): { name: string; ns: string; iface: string; address: string } {
  const plan = currentPod();
  return { name: plan.pod.kea.name, ...plan.kea };
}

/** The pod /64 every instance's SLAAC address is in. */
export function podPrefix(): string {
  return currentPod().pod.pod.l2Prefix;
}

/** `NODE:IFACE`: a port of a node of the pod. */
export type Port = string;

/** The instance's port on its hypervisor's bridge (`hv1:vnet0`): where its frames enter and its traffic leaves. */
export function portOf(inst: string | InstancePlan): Port {
  const i = instance(inst);
  return `${i.hypervisor}:${i.port}`;
}

/** The instance's hypervisor's uplink to the ToR: what its frames cross to leave the hypervisor. */
export function uplinkOf(inst: string | InstancePlan): Port {
  return `${instance(inst).hypervisor}:uplink`;
}

/** The namespace and interface of `NODE:IFACE`. */
export function resolvePort(port: Port): { node: string; ns: string; iface: string } {
  const [node, iface] = port.split(':');
  if (!node || !iface || !currentPod().nodes.some((n) => n.name === node)) throw new Error(`'${port}' is not NODE:IFACE of this pod`);
  return { node, ns: namespaceName(currentPod().run, node), iface };
}

/** The namespace a node (an instance, a router, the core, …) runs in. */
export function namespaceOf(node: string | InstancePlan): string {
  if (typeof node !== 'string') return node.ns;
  const ns = currentPod().nodes.find((n) => n.name === node)?.ns;
  if (!ns) throw new Error(`no node '${node}' in the pod`);
  return ns;
}
