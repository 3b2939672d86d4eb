/**
 * The `config` reservation store: reservations live in Kea's own JSON config file (the one
 * netns/daemons/kea.ts renders and Kea was started with). Each batch renders the whole config with
 * keaConfig(plan, reservations), has Kea check it (`config-test`), replaces the file atomically
 * (temp file, fsync, rename, fsync of the directory) and applies it with one `config-reload`.
 * A reload resets Kea's allocator, so callers batch: one reload per put/remove, not per instance.
 *
 * Quarantine records ride in the same file, as the user-context Kea keeps but does not interpret.
 *
 * The file is the truth: list() reads it. A crash before the rename leaves the old file whole; a
 * crash after it leaves the new one, which Kea picks up at the next reload (apply()).
 */
import { open, readFile, rename, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Plan } from '../pod/plan.ts';
import { keaCommand } from '../os/control-socket.ts';
import { keaConfig, keaPaths } from './kea-config.ts';
import {
  canonicalReservations,
  mergeReservations,
  nextQuarantine,
  sortByMac,
  type Quarantined,
  type QuarantineOptions,
  type Reservation,
  type ReservationStore,
} from './reservation-store.ts';
import { parseMac } from '../addr/mac.ts';

/** A reload re-parses every reservation; thousands take well over keaCommand's default 2 s. */
const RELOAD_TIMEOUT_MS = 60_000;

/** Where the quarantine records live in Dhcp6's user-context. */
const QUARANTINE_KEY = 'v6pod-quarantine';

interface KeaConfigShape {
  Dhcp6?: {
    subnet6?: { reservations?: { 'hw-address'?: string; prefixes?: string[] }[] }[];
    'user-context'?: { 'v6pod-quarantine'?: Quarantined[] };
  };
}

export interface ConfigStoreOptions {
  /** The config file Kea was started with (default: keaPaths(plan.run).config). */
  configFile?: string;
  /** Kea's control socket (default: keaPaths(plan.run).socket). */
  socket?: string;
}

async function writeFileDurably(path: string, text: string): Promise<void> {
  const tmp = `${path}.${process.pid}.tmp`;
  const file = await open(tmp, 'w', 0o644);
  try {
    await file.writeFile(text);
    await file.sync();
  } finally {
    await file.close();
  }
  try {
    await rename(tmp, path);
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
  // The rename itself is durable only once the directory entry is on disk.
  const dir = await open(dirname(path), 'r');
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}

export class ConfigStore implements ReservationStore {
  readonly kind = 'config' as const;
  readonly configFile: string;
  readonly socket: string;
  /** put/remove read, merge and rewrite the file: one at a time within this process. */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly plan: Plan,
    opts: ConfigStoreOptions = {},
  ) {
    this.configFile = opts.configFile ?? keaPaths(plan.run).config;
    this.socket = opts.socket ?? keaPaths(plan.run).socket;
  }

  async list(): Promise<Reservation[]> {
    return (await this.read()).reservations;
  }

  async find(macs: readonly string[]): Promise<Reservation[]> {
    const wanted = new Set(macs.map(parseMac));
    return (await this.list()).filter((r) => wanted.has(r.mac));
  }

  async quarantined(): Promise<Quarantined[]> {
    return (await this.read()).quarantined;
  }

  put(reservations: readonly Reservation[]): Promise<void> {
    const batch = canonicalReservations(reservations);
    return this.serialized(async () => {
      const current = await this.read();
      const merged = mergeReservations(current.reservations, batch);
      await this.write(merged, nextQuarantine(current.quarantined, [], undefined, reservedPrefixes(merged)));
    });
  }

  remove(macs: readonly string[], quarantine?: QuarantineOptions): Promise<void> {
    const gone = new Set(macs.map(parseMac));
    return this.serialized(async () => {
      const current = await this.read();
      const kept = current.reservations.filter((r) => !gone.has(r.mac));
      const removed = current.reservations.filter((r) => gone.has(r.mac));
      const released = nextQuarantine(current.quarantined, removed, quarantine, reservedPrefixes(kept));
      if (removed.length || JSON.stringify(released) !== JSON.stringify(current.quarantined)) await this.write(kept, released);
    });
  }

  /** Makes Kea serve what the file holds (after a crash between the rename and the reload). */
  async apply(): Promise<void> {
    const answer = await keaCommand(this.socket, 'config-reload', undefined, RELOAD_TIMEOUT_MS);
    if (answer.result !== 0) throw new Error(`Kea refused config-reload of ${this.configFile}: ${answer.text ?? `result ${answer.result}`}`);
  }

  async close(): Promise<void> {
    await this.queue.catch(() => undefined);
  }

  private serialized<T>(step: () => Promise<T>): Promise<T> {
    const result = this.queue.then(step, step);
    this.queue = result.catch(() => undefined);
    return result;
  }

  private async read(): Promise<{ reservations: Reservation[]; quarantined: Quarantined[] }> {
    const config = JSON.parse(await readFile(this.configFile, 'utf8')) as KeaConfigShape;
    const reservations: Reservation[] = [];
    for (const subnet of config.Dhcp6?.subnet6 ?? []) {
      for (const r of subnet.reservations ?? []) {
        if (r['hw-address']) reservations.push({ mac: parseMac(r['hw-address']), prefixes: r.prefixes ?? [] });
      }
    }
    return { reservations: sortByMac(reservations), quarantined: config.Dhcp6?.['user-context']?.[QUARANTINE_KEY] ?? [] };
  }

  private async write(reservations: Reservation[], quarantined: Quarantined[]): Promise<void> {
    const config = keaConfig(this.plan, reservations) as { Dhcp6: Record<string, unknown> };
    if (quarantined.length) config.Dhcp6['user-context'] = { [QUARANTINE_KEY]: quarantined };
    // Kea validates before anything is replaced, so the file never holds a config Kea would refuse.
    const check = await keaCommand(this.socket, 'config-test', config, RELOAD_TIMEOUT_MS);
    if (check.result !== 0) throw new Error(`Kea rejects the reservations (config-test): ${check.text ?? `result ${check.result}`}`);
    await writeFileDurably(this.configFile, `${JSON.stringify(config, null, 2)}\n`);
    await this.apply();
  }
}

function reservedPrefixes(reservations: readonly Reservation[]): Set<string> {
  return new Set(reservations.flatMap((r) => r.prefixes));
}
