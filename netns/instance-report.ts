/**
 * What `vm show` tells about one instance: its MAC, the SLAAC address computed from it (never
 * stored), its reserved prefixes, Kea's leases for its MAC, and the routes each router holds for
 * its prefixes.
 */
import { buildPlan } from '../harness/pod/plan.ts';
import type { InstanceKind } from '../harness/pod/pod-file.ts';
import { ipJson } from '../harness/os/exec.ts';
import { keaCommand } from '../harness/os/control-socket.ts';
import { keaPaths } from '../harness/control/kea-config.ts';
import { UsageError } from '../harness/os/usage-error.ts';
import { PodControl } from '../harness/control/pod-control.ts';
import { findInstance, liveState } from './instance-lifecycle.ts';
import { controlDatabase } from './run-state.ts';

export interface InstanceReport {
  name: string;
  kind: InstanceKind;
  hypervisor: string;
  port: string;
  mac: string;
  slaac: string;
  linkLocal: string;
  securityGroup: string;
  pending?: string;
  prefixes: string[];
  leases: Array<{ prefix: string; duid: string; validLifetime: number; state: number }>;
  routes: Record<string, Array<{ prefix: string; via?: string; dev?: string }>>;
}

interface KeaLease {
  'ip-address': string;
  'prefix-len'?: number;
  type: string;
  'hw-address'?: string;
  duid: string;
  'valid-lft': number;
  state: number;
}

export async function instanceReport(runName: string, name: string): Promise<InstanceReport> {
  const state = liveState(runName);
  if (!findInstance(state.pod, name)) throw new UsageError(`no instance '${name}' in run ${runName}`);
  const plan = buildPlan(state.pod, runName, state.ports);
  const inst = plan.instances.find((i) => i.name === name)!;
  const control = await PodControl.open(plan, controlDatabase(state));
  let prefixes: string[];
  try {
    prefixes = (await control.reservationOf(inst.mac))?.prefixes ?? [];
  } finally {
    await control.close();
  }
  const all = await keaCommand(keaPaths(runName).socket, 'lease6-get-all');
  const leases = ((all.arguments?.leases ?? []) as KeaLease[])
    .filter((l) => l.type === 'IA_PD' && l['hw-address'] === inst.mac)
    .map((l) => ({ prefix: `${l['ip-address']}/${l['prefix-len']}`, duid: l.duid, validLifetime: l['valid-lft'], state: l.state }));
  const routes: InstanceReport['routes'] = {};
  for (const r of plan.routers) {
    const held = await Promise.all(
      prefixes.map((p) => ipJson<Array<{ dst: string; gateway?: string; dev?: string }>>(r.ns, ['-6', 'route', 'show', 'exact', p])),
    );
    routes[r.name] = held.flat().map((x) => ({ prefix: x.dst, via: x.gateway, dev: x.dev }));
  }
  return {
    name,
    kind: inst.kind,
    hypervisor: inst.hypervisor,
    port: inst.port,
    mac: inst.mac,
    slaac: inst.slaac,
    linkLocal: inst.linkLocal,
    securityGroup: inst.securityGroup,
    ...(state.pending[name] ? { pending: state.pending[name] } : {}),
    prefixes,
    leases,
    routes,
  };
}
