/**
 * Ordinary traffic of an instance, addressed for this pod: a datagram or an echo from the instance
 * to the core, through the first router (its default route), which scenarios alter — another source
 * MAC, another source address — to make it offend, and send unaltered as the positive control.
 * The builders of harness/packet fill in the rest; any field can be overridden.
 */
import { core, instance, routers } from './nodes.ts';
import { echoRequest, udpDatagram, type Addressed } from '../packet/builders.ts';
import type { Frame } from '../packet/frame.ts';
import type { InstancePlan } from '../pod/plan.ts';

/** Overrides of the Ethernet/IPv6 fields (the sender's MAC included). */
type Overrides = Partial<Addressed>;

function path(from: string | InstancePlan, o: Overrides): Addressed {
  const vm = instance(from);
  return { ...o, mac: o.mac ?? vm.mac, dstMac: o.dstMac ?? routers()[0]!.mac, src: o.src ?? vm.slaac, dst: o.dst ?? core().address };
}

/** A UDP datagram from the instance's SLAAC address to the core (Discard port unless told). */
export function datagramToCore(from: string | InstancePlan, o: Overrides & { sport?: number; dport?: number; payload?: Buffer } = {}): Frame {
  return udpDatagram({ ...path(from, o), sport: o.sport, dport: o.dport, payload: o.payload ?? Buffer.from(`probe from ${instance(from).name}`) });
}

/** An Echo Request from the instance's SLAAC address to the core. */
export function echoToCore(from: string | InstancePlan, o: Overrides & { identifier?: number; data?: Buffer } = {}): Frame {
  return echoRequest({ ...path(from, o), identifier: o.identifier, data: o.data ?? Buffer.from(`probe from ${instance(from).name}`) });
}
