/**
 * `npm run bench -- deploy`: the control plane's cost per deploy as the pod grows. For each store
 * (Kea's config file, Kea's PostgreSQL host database) a real pod is brought up, N reservations
 * (100, 1,000, 10,000) are pre-loaded in one write (one config rewrite and reload, one
 * transaction), then deploys and destroys are timed, medians of several:
 *   controlDeploy   PodControl.open + reserve + close: what `vm deploy` spends on the store
 *   controlDestroy  PodControl.open + release + close (Kea's lease6-del, the quarantine record)
 *   deploy          deployInstance: the above plus the namespace, its port and security group,
 *                   and the wait for its SLAAC address and routes (what `v6pod vm deploy` does)
 *   destroy         destroyInstance
 * and the slope of each against N (ms per 1,000 reservations, least squares over the three sizes).
 * Wall times depend on how busy the host is; the CPU time of a control-plane deploy plus destroy
 * does not, much: `controlCpuMs` is this process's, Kea's and the PostgreSQL cluster's (its
 * backends included, reaped) CPU time per deploy-and-destroy pair, from /proc.
 * The private PostgreSQL cluster's sessions go through the run's PgBouncer, as `vm deploy`'s do.
 * The config store re-checks and reloads every reservation on every write, so it gets fewer
 * repetitions at 10,000 (CONFIG_REPS_LARGE). `--sizes 100,1000` and `--stores postgresql` narrow it.
 */
import { loadPodFile, DEFAULT_POD_FILE } from '../harness/pod/pod-file.ts';
import { fileURLToPath } from 'node:url';
import { up } from '../netns/realize.ts';
import { teardownRun } from '../netns/teardown.ts';
import { controlDatabase, readState } from '../netns/run-state.ts';
import { deployInstance, destroyInstance } from '../netns/instance-lifecycle.ts';
import { buildPlan } from '../harness/pod/plan.ts';
import { PodControl } from '../harness/control/pod-control.ts';
import { Allocator } from '../harness/control/allocator.ts';
import type { Reservation } from '../harness/control/reservation-store.ts';
import { readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { waitUntil } from '../harness/os/wait.ts';
import { emit, median, progress } from './_stats.ts';

const POD_FILES = { config: DEFAULT_POD_FILE, postgresql: fileURLToPath(new URL('../fixtures/pods/postgresql.yaml', import.meta.url)) };
type Store = keyof typeof POD_FILES;

function option(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : undefined;
}

const SIZES = (option('sizes') ?? '100,1000,10000').split(',').map(Number);
const STORES = (option('stores') ?? 'config,postgresql').split(',') as Store[];
const REPS = 7;
/** At 10,000 a config-store write (config-test + reload) takes seconds: fewer repetitions there. */
const CONFIG_REPS_LARGE = 3;

const round = (x: number) => +x.toFixed(1);

/** A MAC of its own per pre-loaded reservation (locally administered, never one a pod file generates). */
function preloadMac(n: number): string {
  return `02:b0:00:${((n >> 16) & 0xff).toString(16).padStart(2, '0')}:${((n >> 8) & 0xff).toString(16).padStart(2, '0')}:${(n & 0xff).toString(16).padStart(2, '0')}`;
}

function controlMac(n: number): string {
  return `02:c0:00:00:${((n >> 8) & 0xff).toString(16).padStart(2, '0')}:${(n & 0xff).toString(16).padStart(2, '0')}`;
}

async function openControl(run: string): Promise<PodControl> {
  const state = readState(run)!;
  return PodControl.open(buildPlan(state.pod, run, state.ports), controlDatabase(state));
}

/** Tops the store up to `n` reservations besides the pod's own, in one write. */
async function preload(run: string, have: number, n: number): Promise<void> {
  const control = await openControl(run);
  try {
    const reserved = await control.store.list();
    const plan = control.plan;
    const alloc = Allocator.fromReserved(
      plan.pod.pod.pdPool,
      plan.pod.pod.delegatedLength,
      reserved.flatMap((r) => r.prefixes),
      { quarantineMs: 0, quarantined: await control.store.quarantined() },
    );
    const batch: Reservation[] = [];
    for (let i = have; i < n; i++) batch.push({ mac: preloadMac(i), prefixes: alloc.allocate(plan.pod.pod.prefixesPerInstance).map(String) });
    const t = performance.now();
    await control.store.put(batch);
    progress(`  pre-loaded ${batch.length} reservations in one write: ${((performance.now() - t) / 1000).toFixed(2)} s`);
  } finally {
    await control.close();
  }
}

const TICK_MS = 1000 / Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());

/** utime, stime, cutime, cstime of a process, in ms (0 when it is gone). */
function cpuFields(pid: number): number[] {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return [11, 12, 13, 14].map((i) => Number(f[i]) * TICK_MS);
  } catch {
    return [0, 0, 0, 0];
  }
}

function children(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** CPU ms of a process, its reaped children and its live children (a postmaster and its backends). */
function treeCpuMs(pid: number): number {
  const own = cpuFields(pid).reduce((a, b) => a + b, 0);
  return (
    own +
    children(pid).reduce(
      (sum, c) =>
        sum +
        cpuFields(c)
          .slice(0, 2)
          .reduce((a, b) => a + b, 0),
      0,
    )
  );
}

function clientBackends(pid: number): number {
  return children(pid).filter((c) => {
    try {
      return readFileSync(`/proc/${c}/cmdline`, 'utf8').includes('[local]');
    } catch {
      return false;
    }
  }).length;
}

/** CPU ms so far of this process, Kea and the run's PostgreSQL cluster. */
function controlCpuMs(run: string): { client: number; kea: number; postgres: number } {
  const daemons = readState(run)!.daemons;
  const kea = daemons.find((d) => d.name === 'kea-dhcp6')?.pid;
  const postgres = daemons.find((d) => d.name === 'postgres')?.pid;
  const self = process.cpuUsage();
  return { client: (self.user + self.system) / 1000, kea: kea ? treeCpuMs(kea) : 0, postgres: postgres ? treeCpuMs(postgres) : 0 };
}

interface Sample {
  controlDeploy: number[];
  controlDestroy: number[];
  deploy: number[];
  destroy: number[];
}

async function timed<T>(into: number[], fn: () => Promise<T>): Promise<T> {
  const t = performance.now();
  const result = await fn();
  into.push(performance.now() - t);
  return result;
}

let serial = 0;

async function measure(run: string, reps: number): Promise<Sample & { cpu: { client: number; kea: number; postgres: number }; failures: number }> {
  const s: Sample = { controlDeploy: [], controlDestroy: [], deploy: [], destroy: [] };
  const postgres = readState(run)!.daemons.find((d) => d.name === 'postgres')?.pid;
  const idle = postgres ? clientBackends(postgres) : 0;
  const cpuBefore = controlCpuMs(run);
  for (let i = 0; i < reps; i++) {
    const mac = controlMac(serial++);
    await timed(s.controlDeploy, async () => {
      const c = await openControl(run);
      try {
        await c.reserve([{ mac, count: c.plan.pod.pod.prefixesPerInstance }]);
      } finally {
        await c.close();
      }
    });
    await timed(s.controlDestroy, async () => {
      const c = await openControl(run);
      try {
        await c.release(mac);
      } finally {
        await c.close();
      }
    });
  }
  // Our sessions' backends end after close() returns: their CPU counts once they are reaped.
  if (postgres) await waitUntil(() => clientBackends(postgres) <= idle, { timeoutMs: 10_000, what: "the deploys' database sessions to end" });
  const cpuAfter = controlCpuMs(run);
  const part = (k: keyof typeof cpuAfter) => (cpuAfter[k] - cpuBefore[k]) / reps;
  const cpu = { client: part('client'), kea: part('kea'), postgres: part('postgres') };
  let failures = 0;
  for (let i = 0; i < reps; i++) {
    const name = `bd${serial++}`;
    try {
      await timed(s.deploy, () => deployInstance(run, { name }));
    } catch (err) {
      // A deploy that fails (its instance not ready in time on a saturated host) undoes itself: counted, not timed.
      failures++;
      progress(`  deploy of ${name} failed: ${(err as Error).message.split('\n')[0]}`);
      continue;
    }
    await timed(s.destroy, () => destroyInstance(run, name));
  }
  return { ...s, cpu, failures };
}

/** Least-squares slope of y over x, per 1,000 of x. */
function slope(xs: number[], ys: number[]): number {
  const mx = xs.reduce((a, b) => a + b, 0) / xs.length;
  const my = ys.reduce((a, b) => a + b, 0) / ys.length;
  let num = 0;
  let den = 0;
  for (let i = 0; i < xs.length; i++) {
    num += (xs[i]! - mx) * (ys[i]! - my);
    den += (xs[i]! - mx) ** 2;
  }
  return den ? (num / den) * 1000 : 0;
}

const results: Record<string, unknown> = {};
const started = performance.now();
for (const store of STORES) {
  const run = `bdep${store === 'config' ? 'c' : 'p'}-${process.pid}`;
  progress(`${store} store: bringing up a pod (${POD_FILES[store]})`);
  await up(loadPodFile(POD_FILES[store]), run, { podFile: POD_FILES[store], owner: process.pid });
  try {
    const perSize: Record<string, Record<string, number>> = {};
    const medians: Record<keyof Sample, number[]> = { controlDeploy: [], controlDestroy: [], deploy: [], destroy: [] };
    const cpu: number[] = [];
    let have = 0;
    for (const n of SIZES) {
      await preload(run, have, n);
      have = n;
      const reps = store === 'config' && n >= 10_000 ? CONFIG_REPS_LARGE : REPS;
      progress(`  ${n} reservations: ${reps} deploys and destroys, control plane alone then whole`);
      const s = await measure(run, reps);
      const total = s.cpu.client + s.cpu.kea + s.cpu.postgres;
      const row: Record<string, number> = {
        reps,
        controlCpuMs: round(total),
        clientCpuMs: round(s.cpu.client),
        keaCpuMs: round(s.cpu.kea),
        postgresCpuMs: round(s.cpu.postgres),
        deployFailures: s.failures,
      };
      cpu.push(total);
      for (const k of Object.keys(medians) as (keyof Sample)[]) {
        row[`${k}Ms`] = round(median(s[k]));
        medians[k].push(median(s[k]));
      }
      perSize[n] = row;
      progress(`  ${n}: ${JSON.stringify(row)}`);
    }
    results[store] = {
      ...perSize,
      slopeMsPer1000: {
        ...Object.fromEntries(Object.entries(medians).map(([k, ys]) => [k, round(slope(SIZES, ys))])),
        controlCpu: round(slope(SIZES, cpu)),
      },
    };
  } finally {
    await teardownRun(run);
  }
}
emit({
  bench: 'deploy',
  sizes: SIZES,
  wallS: round((performance.now() - started) / 1000),
  ...results,
  // PostgreSQL store before its sessions went through the run's pooler (docs/facts.md): a backend forked per command.
  before: { postgresql: { controlDeployMs: { 100: 58, 10000: 170 }, controlCpuMs: { 100: 152, 1000: 160, 10000: 157 } } },
  goal: { postgresqlControlDeployMsAt10000: 50 },
});
