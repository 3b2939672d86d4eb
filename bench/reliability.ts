/**
 * Reliability figures: kill trials (v6pod SIGKILLed at seeded random points of up, test
 * and down, then `down`), daemon start failures, Kea SIGKILLed and restarted by up()'s reconcile,
 * PostgreSQL stopped and started under `vm deploy` (tests/faults/pg-restart-trial.ts), the codec
 * fuzzed with mutants of the golden capture, and the running relay fuzzed on both sides
 * (tests/faults/relay-fuzz.ts). Prints one JSON line: trials run, faults injected, objects leaked
 * (must be 0), prefixes double-delegated (must be 0), packets fuzzed, decoded/rejected, crashes
 * (must be 0), relay_packets_fuzzed, relay_crashes (must be 0) and the relay's accounting.
 * V6POD_BENCH_KILLS (default 9), V6POD_BENCH_PG (default 4), V6POD_BENCH_FUZZ (default 1,000,000)
 * and V6POD_BENCH_RELAY_FUZZ (default 1,000,000) size it.
 */
import { mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { emit, progress } from './_stats.ts';
import { loadPodFile } from '../harness/pod/pod-file.ts';
import { up } from '../netns/realize.ts';
import { teardownRun } from '../netns/teardown.ts';
import { runDir, uniqueRunName } from '../harness/pod/names.ts';
import { readState } from '../netns/run-state.ts';
import { daemonAlive } from '../netns/daemons/process.ts';
import { keaCommand } from '../harness/os/control-socket.ts';
import { keaPaths } from '../harness/control/kea-config.ts';
import { waitUntil } from '../harness/os/wait.ts';
import { dhcpClient } from '../harness/probe/dhcp.ts';
import { killSchedule, killTrial, type KillVerb } from '../tests/faults/kill-trial.ts';
import { leftovers, runsWithPrefix, smallPodFile, v6pod } from '../tests/faults/testing.ts';
import { mutate } from '../harness/packet/testing/mutate.ts';
import { prng } from '../harness/os/prng.ts';
import { DecodeError } from '../harness/packet/errors.ts';
import { decodeFrame } from '../harness/packet/frame.ts';
import { readPcap } from '../harness/packet/pcap.ts';
import { pgRestartTrial, pgSchedule } from '../tests/faults/pg-restart-trial.ts';
import { relayFuzz, upFuzzPod, type RelayFuzzResult } from '../tests/faults/relay-fuzz.ts';
import { stopPostgres } from '../netns/daemons/postgres.ts';

const SEED = 0x9c0de;
const KILLS = Number(process.env.V6POD_BENCH_KILLS ?? 9);
const FUZZ = Number(process.env.V6POD_BENCH_FUZZ ?? 1_000_000);
const PG_TRIALS = Number(process.env.V6POD_BENCH_PG ?? 4);
const RELAY_FUZZ = Number(process.env.V6POD_BENCH_RELAY_FUZZ ?? 1_000_000);
const PG_POD = fileURLToPath(new URL('../fixtures/pods/postgresql.yaml', import.meta.url));
const GOLDEN = fileURLToPath(new URL('../fixtures/golden/link.pcap', import.meta.url));

const figures = {
  trials: 0,
  faultsInjected: 0,
  objectsLeaked: 0,
  prefixesDoubleDelegated: 0,
  packetsFuzzed: 0,
  decoded: 0,
  rejected: 0,
  crashes: 0,
  relay_packets_fuzzed: 0,
  relay_crashes: 0,
  leaks: [] as string[],
  problems: [] as string[],
};

const name = `rb${(process.pid % 0xffff).toString(16)}`;
const podFile = smallPodFile(name, 2);
const pod = loadPodFile(podFile);

// 1. Kill trials.
const verbs: KillVerb[] = Array.from({ length: KILLS }, (_, i) => (['up', 'test', 'down'] as const)[i % 3]!);
for (const t of killSchedule(SEED, verbs)) {
  progress(`kill trial ${t.i + 1}/${KILLS}: ${t.verb} killed after ${t.delayMs} ms`);
  const o = await killTrial({ ...t, all: false }, pod, podFile);
  figures.trials++;
  if (o.killed) figures.faultsInjected++;
  figures.objectsLeaked += o.leaked.length;
  figures.leaks.push(...o.leaked);
  figures.problems.push(...o.downFailures);
}

// 2. Daemons that fail to start: radvd missing from PATH; the relay's control socket path taken.
{
  const bin = mkdtempSync(join(tmpdir(), `${name}-bin-`));
  for (const f of readdirSync('/usr/sbin')) if (f !== 'radvd') symlinkSync(join('/usr/sbin', f), join(bin, f));
  const path = [bin, ...(process.env.PATH ?? '/usr/bin:/bin').split(':').filter((p) => !/sbin$/.test(p))].join(':');
  const cases: Array<{ run: string; env: NodeJS.ProcessEnv; prepare?: (r: string) => void }> = [
    { run: `${name}-radvd`, env: { ...process.env, PATH: path } },
    { run: `${name}-relay`, env: process.env, prepare: (r) => mkdirSync(`${runDir(r)}/relay-r1.sock/taken`, { recursive: true }) },
  ];
  for (const c of cases) {
    progress(`daemon failure: ${c.run}`);
    c.prepare?.(c.run);
    const res = await v6pod(['up', podFile, '--run', c.run], { env: c.env });
    figures.trials++;
    figures.faultsInjected++;
    if (res.status === 0) figures.problems.push(`${c.run}: up succeeded despite the fault`);
    const left = await leftovers(c.run);
    figures.objectsLeaked += left.length;
    figures.leaks.push(...left);
    if (left.length) await teardownRun(c.run);
  }
  rmSync(bin, { recursive: true, force: true });
}

// 3. Kea SIGKILLed and restarted by up(): count prefixes leased to two clients or to a MAC they are not reserved for.
{
  const runName = uniqueRunName(name);
  progress(`Kea restart on ${runName}`);
  try {
    const { plan } = await up(pod, runName, { podFile, owner: process.pid });
    const socket = keaPaths(runName).socket;
    /** Instances that did not get their prefixes. */
    const acquireAll = async () => {
      const without: string[] = [];
      for (const inst of plan.instances) {
        const r = await dhcpClient(inst, { iaPds: inst.prefixes });
        if (r.steps[0]!.iaPds.flatMap((ia) => ia.prefixes).length !== inst.prefixes) without.push(inst.name);
      }
      return without;
    };
    const before = await acquireAll();
    if (before.length) figures.problems.push(`before Kea's restart, no prefixes for ${before.join(', ')}`);
    const old = readState(runName)!.daemons.find((d) => d.name === 'kea-dhcp6')!;
    process.kill(old.pid, 'SIGKILL');
    figures.trials++;
    figures.faultsInjected++;
    await waitUntil(() => !daemonAlive(old), { timeoutMs: 10_000, what: 'Kea to die' });
    await up(pod, runName, { podFile, owner: process.pid });
    const after = await acquireAll();
    if (after.length) figures.problems.push(`after Kea's restart by up(), no prefixes for ${after.join(', ')}`);
    const leases = ((await keaCommand(socket, 'lease6-get-all', undefined, 10_000)).arguments?.leases ?? []) as Array<{
      type: string;
      'ip-address': string;
      'prefix-len': number;
      'hw-address'?: string;
    }>;
    const byPrefix = new Map<string, Set<string>>();
    for (const l of leases.filter((x) => x.type === 'IA_PD')) {
      const p = `${l['ip-address']}/${l['prefix-len']}`;
      byPrefix.set(p, new Set([...(byPrefix.get(p) ?? []), l['hw-address'] ?? '?']));
    }
    figures.prefixesDoubleDelegated = [...byPrefix.values()].filter((macs) => macs.size > 1).length;
  } catch (err) {
    figures.problems.push(`Kea restart: ${(err as Error).message}`);
  } finally {
    await teardownRun(runName);
  }
}
// 4. PostgreSQL stopped (fast) and started under `vm deploy`: the store and the run's instances must agree after up.
{
  const pgPod = loadPodFile(PG_POD);
  const runName = uniqueRunName(name);
  progress(`PostgreSQL restarts under vm deploy on ${runName}`);
  try {
    await up(pgPod, runName, { podFile: PG_POD, owner: process.pid });
    for (const t of pgSchedule(SEED, PG_TRIALS)) {
      const o = await pgRestartTrial(t, pgPod, PG_POD, runName);
      figures.trials++;
      if (o.faulted) figures.faultsInjected++;
      figures.problems.push(...o.problems.map((p) => `pg trial ${t.name}: ${p}`));
      progress(
        `pg trial ${t.name}: cluster down at ${t.at === 'delay' ? `${t.delayMs} ms` : t.at} (${t.mode}), deploy exit ${o.deploy.status}${o.again ? `, again exit ${o.again.status}` : ''}`,
      );
    }
  } catch (err) {
    figures.problems.push(`PostgreSQL restarts: ${(err as Error).message}`);
  } finally {
    await stopPostgres(`${runDir(runName)}/postgres`).catch(() => undefined);
    await teardownRun(runName);
  }
}

// 5. The running relay fuzzed on both sides, every packet accounted for, a valid client served throughout.
let relay: RelayFuzzResult | undefined;
const fuzzPodFile = smallPodFile(`${name}f`, 1);
{
  const runName = uniqueRunName(name);
  progress(`fuzzing the relay with ${RELAY_FUZZ} packets on ${runName}`);
  try {
    const { plan, router } = await upFuzzPod(loadPodFile(fuzzPodFile), fuzzPodFile, runName);
    relay = await relayFuzz({ plan, router, packets: RELAY_FUZZ, seed: SEED, valid: plan.instances[0]!, progress });
    figures.relay_packets_fuzzed = relay.sides.clientSeen + relay.sides.serverSeen;
    figures.relay_crashes = relay.relayAlive ? 0 : 1;
    figures.problems.push(...relay.problems.map((p) => `relay fuzz: ${p}`));
  } catch (err) {
    figures.problems.push(`relay fuzz: ${(err as Error).message}`);
  } finally {
    await teardownRun(runName);
    rmSync(join(fuzzPodFile, '..'), { recursive: true, force: true });
  }
}

for (const r of runsWithPrefix(`${name}-`)) {
  figures.leaks.push(`run ${r}`);
  figures.objectsLeaked++;
  await teardownRun(r);
}
rmSync(join(podFile, '..'), { recursive: true, force: true });

// 6. The codec fuzzed: mutants of the golden capture's frames (as harness/packet/fuzz.test.ts mutates them).
progress(`fuzzing the codec with ${FUZZ} mutated packets`);
const corpus = readPcap(GOLDEN).records.map((r) => Buffer.from(r.data));
const rng = prng(SEED);
const started = Date.now();
for (let i = 0; i < FUZZ; i++) {
  const buf = mutate(rng.pick(corpus), rng, corpus);
  try {
    decodeFrame(buf);
    figures.decoded++;
  } catch (err) {
    if (err instanceof DecodeError && Number.isInteger(err.offset) && err.offset >= 0 && err.offset <= buf.length) figures.rejected++;
    else figures.crashes++;
  }
  figures.packetsFuzzed++;
}
const fuzzSeconds = (Date.now() - started) / 1000;

const { leaks, problems, ...rest } = figures;
emit({
  benchmark: 'reliability',
  seed: SEED,
  ...rest,
  fuzzPacketsPerSecond: Math.round(figures.packetsFuzzed / fuzzSeconds),
  ...(relay
    ? {
        relay_fuzz: {
          seconds: relay.seconds,
          packets_per_second: Math.round(figures.relay_packets_fuzzed / relay.seconds),
          lan_frames_sent: relay.lan.sent,
          lan_frames_past_filter: relay.lan.reaching,
          server_datagrams_sent: relay.server.sent,
          kea_replies: relay.keaSent,
          tcpdump_passed: relay.observer.passed,
          socket_buffer_drops: relay.rcvbufErrors,
          valid_client: relay.valid,
          counters: relay.counters,
        },
      }
    : {}),
  ...(leaks.length ? { leaks } : {}),
  ...(problems.length ? { problems } : {}),
  ok: figures.objectsLeaked === 0 && figures.prefixesDoubleDelegated === 0 && figures.crashes === 0 && figures.relay_crashes === 0 && problems.length === 0,
});
