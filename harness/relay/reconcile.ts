/**
 * Reconciliation at start: a restarted relay must lose no route and keep no stale one. Kea's
 * active IA_PD leases (lease6-get-page, all pages) say which prefixes are delegated; Kea stores the client's
 * MAC (from option 37) and DUID but not its link-local, so the link-local comes from the relay's
 * persisted table, else from the kernel route the previous run left, else from the router's
 * neighbour table (the link-local whose MAC is the lease's). Everything else is removed.
 */
import { CONTROL_RESULT, keaCommand } from '../os/control-socket.ts';
import { ipJson } from '../os/exec.ts';
import type { RelayConfig } from './config.ts';
import { readPersistedRoutes, type DelegatedRoute, type RouteTable } from './routes.ts';

export interface KeaLease6 {
  type: string;
  'ip-address': string;
  'prefix-len'?: number;
  'hw-address'?: string;
  cltt: number;
  'valid-lft': number;
  state?: number;
}

export interface ReconcileReport {
  leases: number;
  kept: number;
  /** Active leases the relay found no link-local for: their routes come back at the next Renew. */
  unknownVia: string[];
  removed: number;
  /** Kea did not answer: persisted routes still inside their lifetime were kept unverified. */
  keaUnavailable: boolean;
}

/** Active delegated-prefix leases (state 0 = default; not expired). */
export function activePrefixLeases(leases: readonly KeaLease6[], nowS = Date.now() / 1000): KeaLease6[] {
  return leases.filter((l) => l.type === 'IA_PD' && (l.state ?? 0) === 0 && l.cltt + l['valid-lft'] > nowS);
}

const PAGE = 1000;

/** Every lease, a page at a time: one lease6-get-all answer for a big pod is megabytes of JSON. */
export async function fetchLeases(socket: string): Promise<KeaLease6[]> {
  const leases: KeaLease6[] = [];
  let from = 'start';
  for (;;) {
    const answer = await keaCommand(socket, 'lease6-get-page', { from, limit: PAGE }, 10_000);
    if (answer.result === CONTROL_RESULT.empty) return leases; // no (more) leases
    if (answer.result !== 0) throw new Error(`lease6-get-page: ${answer.text ?? `result ${answer.result}`}`);
    const page = (answer.arguments?.leases ?? []) as KeaLease6[];
    leases.push(...page);
    if (page.length < PAGE) return leases;
    from = page.at(-1)!['ip-address'];
  }
}

interface KernelRoute {
  dst: string;
  gateway?: string;
}

interface Neighbour {
  dst: string;
  lladdr?: string;
}

export async function reconcile(cfg: RelayConfig, table: RouteTable, log: (msg: string) => void): Promise<ReconcileReport> {
  const persisted = new Map(readPersistedRoutes(cfg.stateFile).map((r) => [r.prefix, r]));
  const kernel = await ipJson<KernelRoute[]>(undefined, ['-6', 'route', 'show', 'proto', String(cfg.routeProtocol), 'dev', cfg.lanInterface]);
  const kernelVia = new Map(kernel.filter((r) => r.gateway).map((r) => [r.dst, r.gateway!]));
  const now = Date.now();

  let leases: KeaLease6[] | undefined;
  if (cfg.keaSocket) {
    try {
      leases = activePrefixLeases(await fetchLeases(cfg.keaSocket), now / 1000);
    } catch (err) {
      log(`reconcile: Kea did not list its leases (${(err as Error).message}); keeping persisted routes unverified`);
    }
  }

  const keep: DelegatedRoute[] = [];
  const unknownVia: string[] = [];
  if (leases) {
    let neighbours: Neighbour[] | undefined;
    for (const l of leases) {
      const prefix = `${l['ip-address']}/${l['prefix-len'] ?? 128}`;
      const mac = l['hw-address']?.toLowerCase();
      let via = persisted.get(prefix)?.via ?? kernelVia.get(prefix);
      if (!via && mac) {
        neighbours ??= await ipJson<Neighbour[]>(undefined, ['-6', 'neigh', 'show', 'dev', cfg.lanInterface]);
        via = neighbours.find((n) => n.lladdr?.toLowerCase() === mac && n.dst.startsWith('fe80:'))?.dst;
      }
      if (!via) unknownVia.push(prefix);
      else keep.push({ prefix, via, ...(mac ? { mac } : {}), expiresAt: (l.cltt + l['valid-lft']) * 1000 });
    }
  } else {
    keep.push(...[...persisted.values()].filter((r) => r.expiresAt === null || r.expiresAt > now));
  }

  // `replace` re-installs each kept route with its remaining lifetime: never a second copy.
  await table.install(keep, now);
  const removed = await table.deleteStray([...new Set([...kernelVia.keys(), ...kernel.map((r) => r.dst)])]);
  table.persist();
  return { leases: leases?.length ?? 0, kept: keep.length, unknownVia, removed, keaUnavailable: !leases };
}
