/**
 * Real guests as actors: an instance's declared DHCPv6 client (netns/guest-clients.ts), stopped the
 * way its OS stops it at shutdown and started again, what the capability table says it can do, and
 * what a guest's kernel holds as its own addresses (a stable-privacy or temporary guest's source is
 * not the address CloudStack computes).
 */
import { currentPod } from './pod-context.ts';
import { instance } from './nodes.ts';
import { kernelState } from './instance.ts';
import { readState, writeState, type DaemonRecord } from '../../netns/run-state.ts';
import { guestDir, isRealClient, shutdownGuestClient, startGuestClient, waitLinkLocalReady } from '../../netns/guest-clients.ts';
import { CLIENT_FACTS, type ClientFacts, type GuestCapability } from '../../netns/guest-capabilities.ts';
import { daemonAlive } from '../../netns/daemons/process.ts';
import { Prefix } from '../addr/prefix.ts';
import { findOption, findOptions, DHCPV6_STATUS_CODES } from '../packet/dhcpv6-options.ts';
import type { ClientServerMessage } from '../packet/dhcpv6.ts';
import type { RealClient } from '../pod/pod-file.ts';
import type { InstancePlan } from '../pod/plan.ts';

export { CLIENT_FACTS, GUEST_CAPABILITIES, type ClientFacts, type GuestCapability } from '../../netns/guest-capabilities.ts';
export type { RealClient } from '../pod/pod-file.ts';

export interface GuestHandle {
  plan: InstancePlan;
  client: RealClient;
  facts: ClientFacts;
  /** Its client's folder (config, DUID, leases) in the run directory. */
  dir: string;
  /** True while its client runs. */
  running(): boolean;
  /** Stops its client as its OS does at shutdown (a Release where the client sends one). */
  shutdown(): Promise<void>;
  /** Starts its client again (its state folder kept: the same DUID, the leases it remembers). */
  start(): Promise<void>;
}

function recordOf(plan: InstancePlan): DaemonRecord | undefined {
  return readState(currentPod().run)?.daemons.find((d) => d.name === plan.client && d.node === plan.name);
}

/** Records (or forgets) the instance's client among the run's daemons. */
function setRecord(plan: InstancePlan, d: DaemonRecord | undefined): void {
  const state = readState(currentPod().run)!;
  state.daemons = [...state.daemons.filter((x) => !(x.name === plan.client && x.node === plan.name)), ...(d ? [d] : [])];
  writeState(state);
}

export function guest(name: string | InstancePlan): GuestHandle {
  const plan = instance(name);
  const client = plan.client;
  if (!isRealClient(client)) throw new Error(`${plan.name} runs no real DHCPv6 client (client: ${client}); the pod file names one per instance`);
  return {
    plan,
    client,
    facts: CLIENT_FACTS[client],
    dir: guestDir(currentPod().run, plan.name),
    running() {
      const d = recordOf(plan);
      return d !== undefined && daemonAlive(d);
    },
    async shutdown() {
      const d = recordOf(plan);
      if (d) await shutdownGuestClient(currentPod(), plan, d);
      // A stopped client is no daemon of the run: readiness checks would take it for a crash.
      setRecord(plan, undefined);
    },
    async start() {
      const d = recordOf(plan);
      if (d && daemonAlive(d)) return;
      await waitLinkLocalReady([plan]);
      setRecord(plan, await startGuestClient(currentPod(), plan));
    },
  };
}

/** The reason a client cannot do `capability` (the capability table), or undefined when it can. */
export function unsupportedBy(client: RealClient, capability: GuestCapability): string | undefined {
  return CLIENT_FACTS[client].unsupported[capability];
}

/** The instance's own global addresses in the pod /64 other than the one CloudStack computes, and its link-local. */
export async function ownAddresses(name: string | InstancePlan): Promise<{ global: string[]; linkLocal: string | undefined }> {
  const plan = instance(name);
  const l2 = Prefix.parse(currentPod().pod.pod.l2Prefix);
  const seen = (await kernelState([plan])).get(plan.name)?.addresses ?? [];
  return {
    global: seen.filter((a) => a.scope === 'global' && l2.containsAddress(a.address) && a.address !== plan.slaac).map((a) => a.address),
    linkLocal: seen.find((a) => a.scope === 'link')?.address,
  };
}

/** The status codes a server message carries: top level and in each IA_PD. */
export function statusCodesOf(msg: ClientServerMessage | undefined): number[] {
  if (!msg) return [];
  const top = findOption(msg.options, 'status-code');
  const inIa = findOptions(msg.options, 'ia-pd').flatMap((ia) => findOptions(ia.options, 'status-code'));
  return [...(top ? [top] : []), ...inIa].map((s) => s.code);
}

/** True when the message tells the client no prefix is available for it (RFC 8415 §21.13). */
export function saysNoPrefixAvail(msg: ClientServerMessage | undefined): boolean {
  return statusCodesOf(msg).includes(DHCPV6_STATUS_CODES.NoPrefixAvail);
}

/** The IA_PDs a message carries: each IAID with the prefixes in it. */
export function iaPdsIn(msg: ClientServerMessage | undefined): Array<{ iaid: number; prefixes: string[] }> {
  if (!msg) return [];
  return findOptions(msg.options, 'ia-pd').map((ia) => ({
    iaid: ia.iaid,
    prefixes: findOptions(ia.options, 'iaprefix').map((p) => `${p.prefix}/${p.prefixLength}`),
  }));
}
