/**
 * The synthetic-instance host daemon's configuration: one JSON file per hypervisor, written by
 * netns/daemons/synth.ts from the plan. Instances are checked here — at start and for each `add`
 * — so bad input fails in one line naming the field, before any TAP exists.
 */
import { readFileSync } from 'node:fs';
import { assertUnicastMac } from '../addr/mac.ts';
import type { DadMode } from './host.ts';

export interface SynthInstance {
  name: string;
  mac: string;
  /** The hypervisor port (TAP) it sits behind: vnetN. */
  port: string;
  /** One IA_PD per IAID. */
  iaids: number[];
  /** Run the DHCPv6 PD client from the start (otherwise on `start-dhcp`). */
  dhcp: boolean;
  /** Hex DUID used instead of DUID-LL of the MAC ("DUID copied from another instance"). */
  duid?: string;
}

export interface SynthHostConfig {
  hypervisor: string;
  bridge: string;
  controlSocket: string;
  dad: DadMode;
  /** The most a PD client's first Solicit waits, at random (RFC 8415 §18.2.1; default 0: at once). */
  firstSolicitDelayMs?: number;
  /** The MLD version of the instances' reports (default 2; 1 where the bridges snoop: pod.mldSnooping). */
  mldVersion?: 1 | 2;
  instances: SynthInstance[];
}

// IFNAMSIZ is 16 with the NUL; '/' and whitespace are never allowed, ':' would read as an alias.
const IFNAME = /^[A-Za-z0-9_.-]{1,15}$/;
const MAX_DUID_BYTES = 130; // RFC 8415 §11.1: at most 128 octets after the 2-byte type
const UINT32_MAX = 0xffffffff;

export class SynthConfigError extends Error {
  override name = 'SynthConfigError';
}

const fail = (where: string, rule: string): never => {
  throw new SynthConfigError(`${where}: ${rule}`);
};

/** A checked instance with its MAC canonical; throws one line naming the field. */
export function parseSynthInstance(raw: unknown, where = 'instance'): SynthInstance {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return fail(where, 'must be an object');
  const r = raw as Record<string, unknown>;
  if (typeof r.name !== 'string' || r.name === '') fail(`${where}.name`, 'must be a non-empty string');
  const at = `${where} ${String(r.name)}`;
  if (typeof r.mac !== 'string') fail(`${at}.mac`, "must be a MAC ('aa:bb:cc:dd:ee:ff')");
  let mac = '';
  try {
    mac = assertUnicastMac(r.mac as string);
  } catch (err) {
    fail(`${at}.mac`, (err as Error).message);
  }
  if (typeof r.port !== 'string' || !IFNAME.test(r.port)) fail(`${at}.port`, 'must be an interface name of 1-15 letters, digits, _ . -');
  const iaids = r.iaids;
  if (!Array.isArray(iaids) || iaids.some((n) => !Number.isInteger(n) || (n as number) < 0 || (n as number) > UINT32_MAX)) {
    fail(`${at}.iaids`, 'must be a list of integers in 0..4294967295');
  }
  if (new Set(iaids as number[]).size !== (iaids as number[]).length) fail(`${at}.iaids`, 'must not repeat an IAID');
  if (typeof r.dhcp !== 'boolean') fail(`${at}.dhcp`, 'must be true or false');
  if (r.duid !== undefined) {
    const ok = typeof r.duid === 'string' && /^([0-9a-fA-F]{2}){3,}$/.test(r.duid) && r.duid.length / 2 <= MAX_DUID_BYTES;
    if (!ok) fail(`${at}.duid`, `must be hex of 3 to ${MAX_DUID_BYTES} bytes`);
  }
  return {
    name: r.name as string,
    mac,
    port: r.port as string,
    iaids: [...(iaids as number[])],
    dhcp: r.dhcp as boolean,
    ...(r.duid !== undefined ? { duid: (r.duid as string).toLowerCase() } : {}),
  };
}

/** Names, MACs and ports must each be unique among the instances (and those already served). */
export function assertDistinct(instances: readonly SynthInstance[], served: readonly SynthInstance[] = [], where = 'instances'): void {
  for (const key of ['name', 'mac', 'port'] as const) {
    const seen = new Set(served.map((i) => i[key]));
    for (const i of instances) {
      if (seen.has(i[key])) fail(`${where} ${i.name}.${key}`, `'${i[key]}' is already used by another instance`);
      seen.add(i[key]);
    }
  }
}

export function parseSynthHostConfig(text: string, source = 'synth host config'): SynthHostConfig {
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(text) as Record<string, unknown>;
  } catch (err) {
    return fail(source, `not JSON (${(err as Error).message})`);
  }
  if (typeof raw !== 'object' || raw === null) fail(source, 'must be a JSON object');
  for (const key of ['hypervisor', 'bridge', 'controlSocket'] as const)
    if (typeof raw[key] !== 'string' || raw[key] === '') fail(`${source}: ${key}`, 'must be a non-empty string');
  if (!IFNAME.test(raw.bridge as string)) fail(`${source}: bridge`, 'must be an interface name');
  if (raw.dad !== 'optimistic' && raw.dad !== 'full') fail(`${source}: dad`, "must be 'optimistic' or 'full'");
  const delay = raw.firstSolicitDelayMs;
  if (delay !== undefined && (!Number.isInteger(delay) || (delay as number) < 0 || (delay as number) > 60_000))
    fail(`${source}: firstSolicitDelayMs`, 'must be an integer in 0..60000 (ms)');
  const mld = raw.mldVersion;
  if (mld !== undefined && mld !== 1 && mld !== 2) fail(`${source}: mldVersion`, 'must be 1 or 2');
  if (!Array.isArray(raw.instances)) fail(`${source}: instances`, 'must be a list');
  const instances = (raw.instances as unknown[]).map((i, k) => parseSynthInstance(i, `${source}: instances[${k}]`));
  assertDistinct(instances, [], `${source}: instance`);
  return {
    hypervisor: raw.hypervisor as string,
    bridge: raw.bridge as string,
    controlSocket: raw.controlSocket as string,
    dad: raw.dad as DadMode,
    ...(delay !== undefined ? { firstSolicitDelayMs: delay as number } : {}),
    ...(mld !== undefined ? { mldVersion: mld as 1 | 2 } : {}),
    instances,
  };
}

export function loadSynthHostConfig(file: string): SynthHostConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    return fail(file, `cannot read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  return parseSynthHostConfig(text, file);
}
