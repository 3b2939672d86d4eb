/**
 * The host daemon's control commands (served by harness/os/control-socket.ts, Kea's dialect;
 * result 0 ok, 1 bad request or failure, 2 unknown command, 3 no such instance):
 *   list-commands
 *   state [{name} | {names}]     {instances: HostSnapshot[]} — all, the one named, or those of the names it serves
 *   counters                     {instances: n, totals: HostCounters}
 *   add {instance} | {instances} opens, attaches and starts them (vm deploy)   → {added: names}
 *   remove {name}                stops it and closes its TAP, sends nothing (vm destroy) → {removed: name}
 *   release {name}               DHCPv6 Release of its prefixes, once answered → {dhcp}
 *   renew {name}                 DHCPv6 Renew now → {dhcp}
 *   start-dhcp {name}            starts its PD client when it was configured without → {dhcp}
 *   send {name, frames: hex[]}   writes the raw frames from its port as they are → {written: n taken by the port}
 */
import type { ControlAnswer, ControlRequest } from '../os/control-socket.ts';
import { Fleet, UnknownInstance } from './fleet.ts';
import { SynthConfigError } from './host-config.ts';
import type { HostCounters, SyntheticHost } from './host.ts';
import { CONTROL_RESULT } from '../os/control-socket.ts';

export const SYNTH_COMMANDS = ['list-commands', 'state', 'counters', 'add', 'remove', 'release', 'renew', 'start-dhcp', 'send'] as const;
export type SynthCommand = (typeof SYNTH_COMMANDS)[number];

const HEX_FRAME = /^([0-9a-fA-F]{2}){14,}$/; // at least an Ethernet header

class BadRequest extends Error {}

export async function handleSynthCommand(request: ControlRequest, fleet: Fleet): Promise<ControlAnswer> {
  try {
    return await dispatch(request, fleet);
  } catch (err) {
    if (err instanceof UnknownInstance) return { result: CONTROL_RESULT.empty, text: err.message };
    if (err instanceof BadRequest || err instanceof SynthConfigError) return { result: CONTROL_RESULT.error, text: err.message };
    return { result: CONTROL_RESULT.error, text: (err as Error).message };
  }
}

function nameOf(request: ControlRequest): string {
  const name = request.arguments?.name;
  if (typeof name !== 'string' || name === '') throw new BadRequest(`${String(request.command)} needs arguments.name (an instance name)`);
  return name;
}

/** A list of instance names (`state {names}`: a poller asking only for the instances it still waits for). */
function namesOf(names: unknown): string[] {
  if (!Array.isArray(names) || names.some((n) => typeof n !== 'string' || n === '')) throw new BadRequest('arguments.names must be a list of instance names');
  return names as string[];
}

async function dispatch(request: ControlRequest, fleet: Fleet): Promise<ControlAnswer> {
  const args = request.arguments ?? {};
  const dhcpOf = (host: SyntheticHost): ControlAnswer => ({ result: 0, arguments: { name: host.name, dhcp: host.snapshot().dhcp } });
  switch (request.command) {
    case 'list-commands':
      return { result: 0, arguments: { commands: [...SYNTH_COMMANDS] } };
    case 'state': {
      const hosts =
        args.names !== undefined ? fleet.hosts(new Set(namesOf(args.names))) : args.name === undefined ? fleet.hosts() : [fleet.host(nameOf(request))];
      return { result: 0, arguments: { instances: hosts.map((h) => h.snapshot()) } };
    }
    case 'counters': {
      const totals: Record<string, number> = {};
      for (const h of fleet.hosts()) for (const [k, v] of Object.entries(h.snapshot().counters)) totals[k] = (totals[k] ?? 0) + v;
      return { result: 0, arguments: { instances: fleet.size, totals: totals as unknown as HostCounters } };
    }
    case 'add': {
      const list = args.instances ?? (args.instance === undefined ? undefined : [args.instance]);
      if (!Array.isArray(list) || list.length === 0) throw new BadRequest('add needs arguments.instance (an object) or arguments.instances (a non-empty list)');
      return { result: 0, arguments: { added: await fleet.add(list) } };
    }
    case 'remove': {
      const name = nameOf(request);
      fleet.remove(name);
      return { result: 0, arguments: { removed: name } };
    }
    case 'release': {
      const host = fleet.host(nameOf(request));
      await host.release();
      return dhcpOf(host);
    }
    case 'renew': {
      const host = fleet.host(nameOf(request));
      host.renew();
      return dhcpOf(host);
    }
    case 'start-dhcp': {
      const host = fleet.host(nameOf(request));
      host.startDhcp();
      return dhcpOf(host);
    }
    case 'send': {
      const host = fleet.host(nameOf(request));
      const frames = args.frames;
      if (!Array.isArray(frames) || frames.some((f) => typeof f !== 'string' || !HEX_FRAME.test(f))) {
        throw new BadRequest('send needs arguments.frames: a list of frames in hex, each at least 14 bytes');
      }
      let written = 0;
      for (const f of frames as string[]) if (host.inject(Buffer.from(f, 'hex'))) written++;
      return { result: 0, arguments: { written } };
    }
    default:
      return { result: CONTROL_RESULT.unsupported, text: `unknown command '${String(request.command)}'` };
  }
}
