/**
 * Instance lifecycle on a running pod, as CloudStack does it: deploy allocates the next free
 * prefixes, records them as a host reservation keyed by the MAC, then creates the instance's
 * namespace and hypervisor port; destroy removes the port and namespace, deletes the leases and the
 * reservation and quarantines the prefixes. Each step is recorded first (state.pending), so an
 * interrupted deploy or destroy is finished by the next one; the SLAAC address is computed, never stored.
 */
import type { AddressMode, GuestClient, Instance, InstanceKind, Pod } from '../harness/pod/pod-file.ts';
import { NAME_MAX, REAL_CLIENTS } from '../harness/pod/pod-choices.ts';
import { buildPlan, instanceSteps, nsShellScript, type InstancePlan, type Plan } from '../harness/pod/plan.ts';
import { controlDatabase, readState, writeState, type RunState } from './run-state.ts';
import { withRunLock } from './run-lock.ts';
import { removeNamespaces } from './teardown.ts';
import { waitInstancesReady } from './realize.ts';
import { run } from '../harness/os/exec.ts';
import { DaemonError, daemonAlive } from './daemons/process.ts';
import { isRealClient, startGuestClient, waitLinkLocalReady } from './guest-clients.ts';
import { startSynthHost, synthCommand, synthInstance, synthPaths } from './daemons/synth.ts';
import { keaPaths } from '../harness/control/kea-config.ts';
import { relayCommand, relayPaths } from './daemons/relay.ts';
import { relayIsV6pod } from './daemons/router-relays.ts';
import { hypervisorRef } from '../harness/sg/driver.ts';
import { driverFor } from '../harness/sg/pod-groups.ts';
import { instanceModel } from '../harness/sg/model.ts';
import { UsageError } from '../harness/os/usage-error.ts';
import { assertUnicastMac, generateMac } from '../harness/addr/mac.ts';
import { PodControl } from '../harness/control/pod-control.ts';
import { isDatabaseUnavailable } from '../harness/control/pg-store.ts';

export interface DeploySpec {
  name: string;
  /** namespace (default) or synthetic: a TAP port served by the hypervisor's host daemon (harness/synth/). */
  kind?: InstanceKind;
  hypervisor?: string;
  mac?: string;
  prefixes?: number;
  securityGroup?: string;
  /** The guest's DHCPv6 client (default: none in a namespace, the emulated one in a synthetic instance). */
  client?: GuestClient;
  /** How the guest's kernel forms its addresses (default eui64; other modes need a namespace). */
  addressing?: AddressMode;
}

const ADDRESS_MODES: readonly AddressMode[] = ['eui64', 'stable-privacy', 'temporary'];

/** A crash-injection point for tests: V6POD_CRASH_AT=<step> kills this process at that step. */
function step(name: string): void {
  if (process.env.V6POD_CRASH_AT === name) process.kill(process.pid, 'SIGKILL');
}

export function liveState(runName: string): RunState {
  const state = readState(runName);
  if (!state || state.phase !== 'ready') throw new UsageError(`run '${runName}' is not up`);
  return state;
}

function withInstance(pod: Pod, hv: string, inst: Instance): Pod {
  return { ...pod, hypervisors: pod.hypervisors.map((h) => (h.name === hv ? { ...h, instances: [...h.instances, inst] } : h)) };
}

function withoutInstance(pod: Pod, name: string): Pod {
  return { ...pod, hypervisors: pod.hypervisors.map((h) => ({ ...h, instances: h.instances.filter((i) => i.name !== name) })) };
}

export function findInstance(pod: Pod, name: string): { hv: string; inst: Instance } | undefined {
  for (const h of pod.hypervisors) for (const i of h.instances) if (i.name === name) return { hv: h.name, inst: i };
  return undefined;
}

/** The checks a deploy must pass before anything is touched; one clear line each. */
function validateDeploy(state: RunState, spec: DeploySpec): { hv: string; inst: Instance } {
  const pod = state.pod;
  if (!/^[a-z0-9][a-z0-9-]*$/.test(spec.name) || spec.name.length > NAME_MAX)
    throw new UsageError(`instance name '${spec.name}' must be 1-${NAME_MAX} characters of a-z, 0-9 and '-'`);
  const nodes = [
    pod.core.name,
    pod.kea.name,
    pod.tor.name,
    ...pod.routers.map((r) => r.name),
    ...pod.hypervisors.flatMap((h) => [h.name, ...h.instances.map((i) => i.name)]),
  ];
  if (nodes.includes(spec.name)) throw new UsageError(`name '${spec.name}' is taken in run ${state.run}`);
  const hv = spec.hypervisor ?? [...pod.hypervisors].sort((a, b) => a.instances.length - b.instances.length)[0]!.name;
  if (!pod.hypervisors.some((h) => h.name === hv))
    throw new UsageError(`unknown hypervisor '${hv}' (hypervisors: ${pod.hypervisors.map((h) => h.name).join(', ')})`);
  let mac: string;
  try {
    mac = spec.mac ? assertUnicastMac(spec.mac) : generateMac(`${pod.name}/${spec.name}`);
  } catch (err) {
    throw new UsageError(`--mac ${spec.mac}: ${(err as Error).message}`);
  }
  const owner = pod.hypervisors.flatMap((h) => h.instances).find((i) => i.mac === mac);
  if (owner) throw new UsageError(`MAC ${mac} belongs to instance ${owner.name} already`);
  const prefixes = spec.prefixes ?? pod.pod.prefixesPerInstance;
  if (!Number.isInteger(prefixes) || prefixes < 0) throw new UsageError(`--prefixes ${prefixes} must be a whole number ≥ 0`);
  const securityGroup = spec.securityGroup ?? 'default';
  if (!pod.securityGroups[securityGroup])
    throw new UsageError(`unknown security group '${securityGroup}' (groups: ${Object.keys(pod.securityGroups).join(', ')})`);
  const kind = spec.kind ?? 'namespace';
  if (kind !== 'namespace' && kind !== 'synthetic') throw new UsageError(`--kind '${String(kind)}' must be namespace or synthetic`);
  const clients: readonly GuestClient[] = kind === 'synthetic' ? ['synthetic', 'none'] : [...REAL_CLIENTS, 'none'];
  const client = spec.client ?? (kind === 'synthetic' ? 'synthetic' : 'none');
  if (!clients.includes(client)) throw new UsageError(`--client '${client}' must be ${clients.join(', ')} for a ${kind} instance`);
  const addressing = spec.addressing ?? 'eui64';
  if (!ADDRESS_MODES.includes(addressing)) throw new UsageError(`--addressing '${addressing}' must be ${ADDRESS_MODES.join(', ')}`);
  if (kind === 'synthetic' && addressing !== 'eui64')
    throw new UsageError(`--addressing '${addressing}' needs a namespace instance (the emulated stack forms EUI-64 addresses only)`);
  return {
    hv,
    inst: {
      name: spec.name,
      mac,
      prefixes,
      securityGroup,
      kind,
      dhcp: client === 'synthetic',
      client,
      addressing,
    },
  };
}

/**
 * The run's state as an instance's readiness wait checks its daemons: without the database, which
 * may be restarted under a deploy (its record's PID is stale until the next `up`) and which an
 * instance's addresses and routes do not depend on.
 */
const forReadiness = (state: RunState): RunState => ({ ...state, daemons: state.daemons.filter((d) => d.name !== 'postgres') });

async function createKernelObjects(plan: Plan, inst: InstancePlan, state: RunState, prefixes: string[]): Promise<void> {
  if (inst.kind === 'synthetic') return createSyntheticPort(plan, inst, state, prefixes);
  const steps = instanceSteps(plan, inst);
  // A resumed deploy may find a namespace the crash left half-configured: start it over.
  await removeNamespaces(plan.run, [inst.ns]);
  await run(['ip', '-batch', '-'], { input: `${steps.root.join('\n')}\n` });
  step('after-namespace');
  await Promise.all([
    run(['ip', 'netns', 'exec', steps.hypervisor.ns, 'sh', '-es'], { input: nsShellScript(steps.hypervisor.script) }),
    run(['ip', 'netns', 'exec', inst.ns, 'sh', '-es'], { input: nsShellScript(steps.setup) }),
  ]);
  // The port is in the bridge and eth0 still down: the security group is in force before the instance's first frame.
  await (await driverFor()).add(hypervisorRef(plan, inst.hypervisor), instanceModel(plan, inst, prefixes));
  await run(['ip', 'netns', 'exec', inst.ns, 'sh', '-es'], { input: nsShellScript({ sysctls: [], ip: steps.attach }) });
  // A stable-privacy guest's link-local is not the one its group allows: its RS is dropped, so its
  // addresses and routes wait for the routers' periodic RA (docs/guests.md). Ready once it can speak.
  if (inst.addressing === 'stable-privacy') await waitLinkLocalReady([inst], 15_000);
  else await waitInstancesReady(plan, forReadiness(state), 15_000, [inst]);
  if (isRealClient(inst.client)) await startClient(plan, inst);
}

/** Starts the guest's declared DHCPv6 client, as `up` does, and records it with the run's daemons (`down` stops it). */
async function startClient(plan: Plan, inst: InstancePlan): Promise<void> {
  await waitLinkLocalReady([inst]);
  const record = await startGuestClient(plan, inst);
  const now = readState(plan.run)!;
  writeState({ ...now, daemons: [...now.daemons.filter((d) => !(d.name === record.name && d.node === inst.name)), record] });
}

/**
 * A synthetic instance: its group first (the port is dropped until it has one), then its TAP from
 * the hypervisor's host daemon — started for it when the hypervisor has none yet.
 */
async function createSyntheticPort(plan: Plan, inst: InstancePlan, state: RunState, prefixes: string[]): Promise<void> {
  await (await driverFor()).add(hypervisorRef(plan, inst.hypervisor), instanceModel(plan, inst, prefixes));
  const host = state.daemons.find((d) => d.name === 'synth-host' && d.node === inst.hypervisor && daemonAlive(d));
  if (host) {
    // A resumed deploy may find the port there already: remove it and add it anew.
    await synthCommand(synthPaths(plan.run, inst.hypervisor).socket, 'remove', { name: inst.name });
    const answer = await synthCommand(synthPaths(plan.run, inst.hypervisor).socket, 'add', { instance: synthInstance(inst) });
    if (answer.result !== 0)
      throw new DaemonError(`the synthetic host on ${inst.hypervisor} did not add ${inst.name}: ${answer.text ?? `result ${answer.result}`}`);
  } else {
    const record = await startSynthHost(plan, inst.hypervisor, [synthInstance(inst)]);
    const now = readState(plan.run)!;
    writeState({ ...now, daemons: [...now.daemons.filter((d) => !(d.name === 'synth-host' && d.node === inst.hypervisor)), record] });
    state.daemons.push(record);
  }
  step('after-namespace');
  await waitInstancesReady(plan, forReadiness(state), 15_000, [inst]);
}

/** Removes an instance's stack: its namespace, or its TAP from the host daemon (which may be gone: nothing to remove then). */
async function removeStack(plan: Plan, inst: InstancePlan): Promise<void> {
  if (inst.kind === 'namespace') await removeNamespaces(plan.run, [inst.ns]);
  else await synthCommand(synthPaths(plan.run, inst.hypervisor).socket, 'remove', { name: inst.name }).catch(() => undefined);
}

export async function deployInstance(runName: string, spec: DeploySpec): Promise<{ instance: InstancePlan; prefixes: string[] }> {
  return withRunLock(runName, async () => {
    const state = liveState(runName);
    // A deploy a crash interrupted is resumed: every step below is idempotent.
    const resumed = state.pending[spec.name] === 'deploying' ? findInstance(state.pod, spec.name) : undefined;
    const { hv, inst } = resumed ?? validateDeploy(state, spec);
    const pod = resumed ? state.pod : withInstance(state.pod, hv, inst);
    const plan = buildPlan(pod, runName, state.ports);
    const instance = plan.instances.find((i) => i.name === inst.name)!;
    // Record the intent first: a crash from here on is finished (or undone) by destroy.
    const namespaces = instance.kind === 'namespace' && !state.namespaces.includes(instance.ns) ? [...state.namespaces, instance.ns] : state.namespaces;
    writeState({ ...state, pod, ports: { ...state.ports, [inst.name]: instance.port }, namespaces, pending: { ...state.pending, [inst.name]: 'deploying' } });
    step('after-intent');
    try {
      const prefixes = await withControl(plan, state, async (c) => (await c.reserve([{ mac: inst.mac, count: inst.prefixes }])).flatMap((r) => r.prefixes));
      step('after-reservation');
      await createKernelObjects(plan, instance, state, prefixes);
      const done = readState(runName)!;
      delete done.pending[inst.name];
      writeState(done);
      return { instance, prefixes };
    } catch (err) {
      // A failed deploy (not a crash) leaves nothing: no group, no namespace, no reservation, no entry.
      await (await driverFor()).remove(hypervisorRef(plan, instance.hypervisor), instanceModel(plan, instance, [])).catch(() => undefined);
      await removeStack(plan, instance);
      // Released whether or not the write was seen to succeed: a commit whose answer was lost with
      // the connection is in the store all the same. No reservation of this MAC: nothing to do.
      const undone = await withControl(plan, state, (c) => c.release(inst.mac, 0)).then(
        () => undefined,
        (e: Error) => e,
      );
      if (undone) {
        // The store may hold a reservation no one can release now: the instance stays recorded as a
        // pending deploy, so the store and the run's instances still agree, and a re-run finishes it.
        const why = undone.message === (err as Error).message ? 'either' : `(${undone.message})`;
        throw new DaemonError(
          `${(err as Error).message}; the deploy of ${inst.name} could not be undone ${why}: 'v6pod vm deploy ${inst.name}' finishes it, 'v6pod vm destroy ${inst.name}' removes it`,
        );
      }
      forgetInState(runName, instance);
      throw err;
    }
  });
}

/**
 * Runs `fn` with the pod's store and allocator; a Kea or a PostgreSQL that does not answer becomes
 * one clear line naming it (node-postgres errors would otherwise surface as an internal error).
 */
async function withControl<T>(plan: Plan, state: RunState, fn: (c: PodControl) => Promise<T>): Promise<T> {
  let control: PodControl | undefined;
  try {
    control = await PodControl.open(plan, controlDatabase(state));
    return await fn(control);
  } catch (err) {
    const message = (err as Error).message;
    const kea = keaPaths(plan.run);
    if (state.pg && isDatabaseUnavailable(err) && !message.includes(kea.socket)) {
      const log = state.daemons.find((d) => d.name === 'postgres')?.log;
      throw new DaemonError(`PostgreSQL (Kea's host database, ${state.pg.host}) is not answering (${message})${log ? `; see ${log}` : ''}`);
    }
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ECONNREFUSED' || code === 'ENOENT' || /did not answer/.test(message)) {
      throw new DaemonError(`Kea is not answering on ${kea.socket} (${message}); see ${kea.log}`);
    }
    throw err;
  } finally {
    await control?.close().catch(() => undefined);
  }
}

/**
 * Removes an instance from the pod: namespace and port, its leases and reservation (its prefixes
 * quarantined for a lease's valid lifetime), then its routes on every router.
 */
async function forget(runName: string, plan: Plan, instance: InstancePlan, state: RunState): Promise<string[]> {
  // Port, group and namespace first: the instance is gone from the network before its prefixes are.
  await removeStack(plan, instance);
  await (await driverFor()).remove(hypervisorRef(plan, instance.hypervisor), instanceModel(plan, instance, []));
  step('after-namespace-removed');
  const prefixes = await withControl(plan, state, (control) => control.release(instance.mac));
  // Its leases are gone, so no Release will ever pass a relay: every relay drops its routes now.
  // Only v6pod's relay keeps routes to drop; another relay (docs/relays.md) installs its own, or none.
  const relays = relayIsV6pod(plan) ? plan.routers.filter((r) => state.daemons.some((d) => d.name === 'dhcp6-relay' && d.node === r.name)) : [];
  for (const r of relays) {
    const answer = await relayCommand(relayPaths(runName, r.name).socket, 'drop-routes', { mac: instance.mac }).catch((err: Error) => ({
      result: 1,
      text: err.message,
    }));
    if (answer.result !== 0)
      throw new DaemonError(`the relay on ${r.name} did not drop ${instance.name}'s routes: ${answer.text ?? `result ${answer.result}`}`);
  }
  forgetInState(runName, instance);
  return prefixes;
}

function forgetInState(runName: string, instance: InstancePlan): void {
  const after = readState(runName)!;
  delete after.pending[instance.name];
  delete after.ports[instance.name];
  const namespaces = instance.kind === 'namespace' ? after.namespaces.filter((n) => n !== instance.ns) : after.namespaces;
  // Its guest client died with its namespace: the run keeps no record of it.
  const daemons = after.daemons.filter((d) => d.node !== instance.name);
  writeState({ ...after, pod: withoutInstance(after.pod, instance.name), namespaces, daemons });
}

export async function destroyInstance(runName: string, name: string): Promise<{ instance: InstancePlan; prefixes: string[] }> {
  return withRunLock(runName, async () => {
    const state = liveState(runName);
    const found = findInstance(state.pod, name);
    if (!found) throw new UsageError(`no instance '${name}' in run ${runName}`);
    const plan = buildPlan(state.pod, runName, state.ports);
    const instance = plan.instances.find((i) => i.name === name)!;
    writeState({ ...state, pending: { ...state.pending, [name]: 'destroying' } });
    return { instance, prefixes: await forget(runName, plan, instance, state) };
  });
}
