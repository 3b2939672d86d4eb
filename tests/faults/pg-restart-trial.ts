/**
 * One PostgreSQL-restart trial (pg-restarts.test.ts and bench/reliability.ts): `v6pod vm deploy
 * NAME` spawned as a user runs it, and at the trial's point the run's private cluster is stopped
 * (fast shutdown: sessions ended, open transactions rolled back) and started again — at once
 * ('bounce') or only once the deploy has ended ('outage'). The point is an event of the deploy
 * (its intent recorded in the run state; its reservation committed in the database) or a seeded
 * delay after it was spawned. Then `up` brings the run back (it re-records the new postmaster), a
 * deploy that failed is run again (it resumes what it recorded, or starts afresh), and the store is
 * compared with the run's instances (storeAgreement).
 */
import pg from 'pg';
import type { Pod } from '../../harness/pod/pod-file.ts';
import { up } from '../../netns/realize.ts';
import { runDir } from '../../harness/pod/names.ts';
import { readState } from '../../netns/run-state.ts';
import { buildPlan } from '../../harness/pod/plan.ts';
import { startPostgres, stopPostgres } from '../../netns/daemons/postgres.ts';
import { PodControl } from '../../harness/control/pod-control.ts';
import { formatMac } from '../../harness/addr/mac.ts';
import { Prefix } from '../../harness/addr/prefix.ts';
import { prng, spawnV6pod, v6pod, type CliResult } from './testing.ts';
import { waitUntil } from '../../harness/os/wait.ts';
import { macToBytes } from '../../harness/addr/bytes.ts';

/**
 * When the cluster goes down, in ms after the deploy was spawned: node and tsx take ~0.6 s, then
 * the store is opened and written (~0.1 s), the kernel objects made and the instance waited for (~0.7 s).
 */
export const PG_WINDOW = [500, 1600] as const;
export type PgFaultMode = 'bounce' | 'outage';

/** Where the cluster goes down: once the deploy recorded its intent, once its reservation is committed, or after a delay. */
export type PgFaultPoint = 'intent' | 'reserved' | 'delay';

export interface PgTrial {
  i: number;
  /** The instance the trial deploys, and its MAC (given, so its hosts row can be watched for). */
  name: string;
  mac: string;
  at: PgFaultPoint;
  /** For 'delay': ms after the deploy was spawned. */
  delayMs: number;
  mode: PgFaultMode;
}

const delay = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

const POINTS: readonly PgFaultPoint[] = ['intent', 'reserved', 'delay'];

/** Trials cycling through the points, each with a seeded delay and mode. */
export function pgSchedule(seed: number, count: number): PgTrial[] {
  const rng = prng(seed);
  return Array.from({ length: count }, (_, i) => ({
    i,
    name: `d${i + 1}`,
    mac: `02:9f:00:00:00:${(i + 1).toString(16).padStart(2, '0')}`,
    at: POINTS[i % POINTS.length]!,
    delayMs: rng.between(PG_WINDOW[0], PG_WINDOW[1]),
    mode: rng.int(2) ? 'bounce' : 'outage',
  }));
}

/** Resolves when the deploy reaches the trial's point (or has exited: then the fault comes after it). */
async function reached(t: PgTrial, runName: string, exited: Promise<void>): Promise<void> {
  if (t.at === 'delay') return Promise.race([exited, delay(t.delayMs)]);
  let done = false;
  void exited.then(() => (done = true));
  const db = t.at === 'reserved' ? new pg.Client(readState(runName)!.pg!) : undefined;
  db?.on('error', () => undefined);
  await db?.connect();
  try {
    await waitUntil(
      async () => {
        if (done) return true;
        if (t.at === 'intent') return readState(runName)?.pending[t.name] === 'deploying';
        return ((await db!.query('SELECT 1 FROM hosts WHERE dhcp_identifier = $1', [macToBytes(t.mac)])).rowCount ?? 0) > 0;
      },
      { timeoutMs: 30_000, intervalMs: 2, what: `deploy ${t.name} to reach '${t.at}'` },
    );
  } finally {
    await db?.end().catch(() => undefined);
  }
}

export interface PgOutcome {
  deploy: CliResult;
  /** The cluster went down while the deploy was still running. */
  faulted: boolean;
  /** The re-run of a deploy that failed. */
  again?: CliResult;
  /** What is wrong: the deploy's output, the re-run, the store against the run's instances. Empty when all is well. */
  problems: string[];
}

const PROGRESS = /^\[\d+\.\ds\] /;
/** stderr without progress lines. */
export const errorLines = (r: CliResult) => r.stderr.split('\n').filter((l) => l && !PROGRESS.test(l));

/** Problems with a deploy's result: exit 0 and its "deployed" line, or non-zero and exactly one clear line. */
export function deployVerdict(name: string, r: CliResult): string[] {
  if (r.status === 0)
    return /^deployed (\S+ instance )?\S+ on /.test(r.stdout) ? [] : [`deploy ${name} exited 0 without its 'deployed' line: ${r.stdout.trim()}`];
  const lines = errorLines(r);
  if (lines.length !== 1 || !lines[0]!.startsWith('v6pod: ') || lines[0]!.startsWith('v6pod: internal error')) {
    return [`deploy ${name} failed (exit ${r.status}, signal ${r.signal}) without one clear line:\n${r.stderr}`];
  }
  return [];
}

export async function pgRestartTrial(t: PgTrial, pod: Pod, podFile: string, runName: string): Promise<PgOutcome> {
  const cluster = `${runDir(runName)}/postgres`;
  const { child, exited } = spawnV6pod(['vm', 'deploy', t.name, '--mac', t.mac, '--run', runName]);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: string) => (stdout += d));
  child.stderr!.on('data', (d: string) => (stderr += d));
  const status = new Promise<CliResult>((resolve) => child.once('close', (code, signal) => resolve({ status: code, signal, stdout, stderr })));
  let done = false;
  void exited.then(() => (done = true));
  await reached(t, runName, exited);
  const faulted = !done;
  await stopPostgres(cluster);
  if (t.mode === 'bounce') await startPostgres(cluster);
  const deploy = await status;
  if (t.mode === 'outage') await startPostgres(cluster);

  const problems = deployVerdict(t.name, deploy);
  // `up` again: the postmaster is re-recorded, anything else that died restarted.
  // (A pending deploy whose namespace is gone must not make `up` tear the run down and build it anew.)
  const { reused } = await up(pod, runName, { podFile, owner: process.pid });
  if (!reused) problems.push('up built the run anew instead of reusing it');
  let again: CliResult | undefined;
  if (deploy.status !== 0) {
    again = await v6pod(['vm', 'deploy', t.name, '--mac', t.mac, '--run', runName], { timeoutMs: 60_000 });
    if (again.status !== 0) problems.push(`deploy ${t.name} again after the restart: exit ${again.status}: ${again.stderr.trim()}`);
  }
  problems.push(...(await storeAgreement(runName)));
  return { deploy, faulted, ...(again ? { again } : {}), problems };
}

/**
 * The run's instances against Kea's host database, read directly (hosts and ipv6_reservations, as
 * Kea reads them), and against the allocator rebuilt from it: each instance with k prefixes has one
 * hosts row with k prefixes, no row belongs to no instance, no prefix is in two rows, the
 * allocator holds exactly the reserved prefixes and quarantines none of them, nothing is pending.
 */
export async function storeAgreement(runName: string): Promise<string[]> {
  const state = readState(runName);
  if (!state?.pg) return [`run ${runName} has no database recorded`];
  const problems = Object.entries(state.pending).map(([name, what]) => `${name} is still pending (${what})`);
  const client = new pg.Client(state.pg);
  client.on('error', () => undefined);
  await client.connect();
  let rows: Array<{ mac: Buffer; address: string | null; prefix_len: number | null }>;
  let twice: Array<{ address: string; prefix_len: number; n: string }>;
  try {
    rows = (
      await client.query(
        'SELECT h.dhcp_identifier AS mac, r.address, r.prefix_len FROM hosts h LEFT JOIN ipv6_reservations r USING (host_id) ORDER BY h.host_id, r.reservation_id',
      )
    ).rows;
    twice = (await client.query('SELECT address, prefix_len, count(*) AS n FROM ipv6_reservations GROUP BY address, prefix_len HAVING count(*) > 1')).rows;
  } finally {
    await client.end();
  }
  problems.push(...twice.map((r) => `${r.address}/${r.prefix_len} is in ${r.n} reservations`));
  const byMac = new Map<string, string[]>();
  for (const r of rows) {
    const mac = formatMac(r.mac);
    byMac.set(mac, [...(byMac.get(mac) ?? []), ...(r.address !== null ? [Prefix.parse(`${r.address}/${r.prefix_len}`).toString()] : [])]);
  }
  const instances = state.pod.hypervisors.flatMap((h) => h.instances);
  for (const inst of instances) {
    const held = byMac.get(inst.mac);
    if (inst.prefixes > 0 && held?.length !== inst.prefixes)
      problems.push(`${inst.name} (${inst.mac}) has ${inst.prefixes} prefixes but ${held ? `a reservation of ${held.length}` : 'no reservation'}`);
  }
  const known = new Set(instances.map((i) => i.mac));
  for (const [mac, prefixes] of byMac) if (!known.has(mac)) problems.push(`a reservation for ${mac} (${prefixes.join(', ')}) belongs to no instance`);

  const control = await PodControl.open(buildPlan(state.pod, runName, state.ports), state.pg);
  try {
    const rebuilt = await control.rebuiltAllocator();
    const live = rebuilt.livePrefixes().map(String).sort();
    const reserved = [...byMac.values()].flat().sort();
    if (live.join() !== reserved.join()) problems.push(`allocator holds ${live.join(' ')}, the store reserves ${reserved.join(' ')}`);
    const quarantined = (await control.store.quarantined()).filter((q) => reserved.includes(q.prefix));
    problems.push(...quarantined.map((q) => `${q.prefix} is reserved and quarantined at once`));
    // The database's own allocation (its cursor and records) hands out what the rebuilt allocator would.
    const next = await control.nextPrefixes(2);
    const expected = rebuilt.allocate(2).map(String);
    if (next.join() !== expected.join()) problems.push(`the store would allocate ${next.join(' ')} next, the rebuilt allocator ${expected.join(' ')}`);
  } finally {
    await control.close();
  }
  return problems;
}
