/**
 * `npm run bench -- allocator`: the allocator in memory (allocations/s; time and peak memory to
 * exhaust a /40 at /60, 1,048,576 prefixes, each exhaustion in a fresh child process so memory is
 * its own) and reservations written per second by each store against real Kea (config store:
 * config-test + atomic rewrite + config-reload per batch) and real PostgreSQL (one transaction
 * per batch), one reservation (a deploy) per write and 100 per batch. Medians of several runs.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Allocator } from '../harness/control/allocator.ts';
import { ConfigStore } from '../harness/control/config-store.ts';
import { PgStore, keaHostsDatabase } from '../harness/control/pg-store.ts';
import type { ReservationStore } from '../harness/control/reservation-store.ts';
import { upTestPod } from '../tests/support/kea-pod.ts';
import { postgresDaemonRecord, removePostgres, startPostgres } from '../netns/daemons/postgres.ts';
import { runDir } from '../harness/pod/names.ts';
import { readState, writeState } from '../netns/run-state.ts';
import { emit, median, progress, rate } from './_stats.ts';

const POOL = '2001:db8:200::/40';
const RUNS = 5;

/** Child mode: exhaust the /40 at /60 once and print { ms, peakRssMB, heapMB, count }. */
function exhaustOnce(): void {
  const base = process.memoryUsage().rss;
  let peak = base;
  const start = performance.now();
  const a = new Allocator(POOL, 60, { quarantineMs: 0 });
  const held = [];
  let count = 0;
  for (;;) {
    try {
      held.push(a.allocate()[0]!);
    } catch {
      break;
    }
    if (++count % 65536 === 0) peak = Math.max(peak, process.memoryUsage().rss);
  }
  const ms = performance.now() - start;
  const mem = process.memoryUsage();
  peak = Math.max(peak, mem.rss);
  process.stdout.write(`${JSON.stringify({ ms, peakRssMB: (peak - base) / 2 ** 20, heapMB: mem.heapUsed / 2 ** 20, count: held.length })}\n`);
}

function exhaustInChildren(): { ms: number; peakRssMB: number; count: number } {
  const results = [];
  for (let i = 0; i < 3; i++) {
    const child = spawnSync(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), 'exhaust'], { encoding: 'utf8' });
    if (child.status !== 0) throw new Error(`exhaust child failed: ${child.stderr}`);
    results.push(JSON.parse(child.stdout.trim().split('\n').at(-1)!) as { ms: number; peakRssMB: number; count: number });
  }
  return { ms: median(results.map((r) => r.ms)), peakRssMB: Math.max(...results.map((r) => r.peakRssMB)), count: results[0]!.count };
}

/** Reservations per second: `writes` puts of `batch` new reservations each, then everything removed. */
async function storeRate(store: ReservationStore, pool: string, batch: number, writes: number): Promise<number> {
  const rates: number[] = [];
  for (let run = 0; run < RUNS; run++) {
    const alloc = Allocator.fromReserved(
      pool,
      60,
      (await store.list()).flatMap((r) => r.prefixes),
      { quarantineMs: 0 },
    );
    let serial = 0;
    const start = performance.now();
    for (let w = 0; w < writes; w++) {
      const reservations = Array.from({ length: batch }, () => {
        const n = serial++;
        return {
          mac: `02:be:${run.toString(16).padStart(2, '0')}:00:${(n >> 8).toString(16).padStart(2, '0')}:${(n & 0xff).toString(16).padStart(2, '0')}`,
          prefixes: alloc.allocate().map(String),
        };
      });
      await store.put(reservations);
    }
    rates.push((batch * writes) / ((performance.now() - start) / 1000));
    await store.remove((await store.list()).map((r) => r.mac));
  }
  return median(rates);
}

async function main(): Promise<void> {
  progress('allocations/s in memory');
  const allocRates: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const a = new Allocator('2001:db8::/32', 64, { quarantineMs: 0 });
    allocRates.push(rate(() => a.allocate(), 500));
  }
  const cycleRates: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const a = new Allocator('2001:db8::/32', 64, { quarantineMs: 0 });
    a.allocate(10_000);
    cycleRates.push(rate(() => a.release(a.allocate()), 500));
  }
  progress('exhausting a /40 at /60 (3 fresh processes)');
  const exhaust = exhaustInChildren();

  progress('bringing up a pod with Kea and a private PostgreSQL');
  const pod = await upTestPod('b4alloc');
  const pool = pod.plan.pod.pod.pdPool;
  try {
    const config = new ConfigStore(pod.plan);
    progress('config store: 1 reservation per write, then 100 per batch');
    const configSingle = await storeRate(config, pool, 1, 20);
    const configBatch = await storeRate(config, pool, 100, 5);
    await config.close();

    const cluster = await startPostgres(`${runDir(pod.run)}/postgres`);
    const state = readState(pod.run)!;
    writeState({ ...state, daemons: [...state.daemons, postgresDaemonRecord(cluster, 'postgres')] });
    await pod.reloadWith({ 'hosts-database': keaHostsDatabase(cluster.target) });
    const pgStore = await PgStore.connect(cluster.target, { subnetId: pod.subnetId });
    progress('postgresql store: 1 reservation per transaction, then 100 per transaction');
    const pgSingle = await storeRate(pgStore, pool, 1, 200);
    const pgBatch = await storeRate(pgStore, pool, 100, 20);
    await pgStore.close();

    emit({
      bench: 'allocator',
      runs: RUNS,
      allocationsPerSec: Math.round(median(allocRates)),
      allocateReleaseCyclesPerSec: Math.round(median(cycleRates)),
      exhaust: { pool: POOL, delegatedLength: 60, prefixes: exhaust.count, ms: Math.round(exhaust.ms), peakRssMB: Math.round(exhaust.peakRssMB) },
      reservationsPerSec: {
        config: { perDeploy: Math.round(configSingle), batch100: Math.round(configBatch) },
        postgresql: { perDeploy: Math.round(pgSingle), batch100: Math.round(pgBatch) },
      },
    });
    await removePostgres(cluster.dir).catch(() => undefined);
  } finally {
    await pod.down();
  }
}

if (process.argv[2] === 'exhaust') exhaustOnce();
else await main();
