/**
 * Security-group benchmark (reference nft driver) on a real default pod: time to apply the groups
 * of 1,000 instances to one hypervisor (one transaction, and one transaction per instance); add and
 * remove of one instance with 1,000 installed; iperf3 TCP throughput between two instances on that
 * hypervisor with only their own groups and with 1,000 other instances' groups installed, and the
 * ratio (goal ≥ 0.9: dispatch is one verdict-map lookup per frame, whatever the count). Medians.
 * The 1,000 are groups for ports vnet100… that carry no traffic: rules key on port names.
 */
import { spawn } from 'node:child_process';
import { loadPodFile, DEFAULT_POD_FILE } from '../harness/pod/pod-file.ts';
import { up } from '../netns/realize.ts';
import { teardownRun } from '../netns/teardown.ts';
import { uniqueRunName } from '../harness/pod/names.ts';
import { run } from '../harness/os/exec.ts';
import { generateMac } from '../harness/addr/mac.ts';
import { linkLocalAddress, slaacAddress } from '../harness/addr/slaac.ts';
import { Prefix } from '../harness/addr/prefix.ts';
import { hypervisorRef } from '../harness/sg/driver.ts';
import { podInstanceModels } from '../harness/sg/pod-groups.ts';
import { NftDriver } from '../harness/sg/nft-driver.ts';
import { parseRule, type SgInstance } from '../harness/sg/model.ts';
import { emit, median, progress } from './_stats.ts';

const OTHERS = 1000;
const RUNS = 3;

const ms = (t0: bigint) => Number(process.hrtime.bigint() - t0) / 1e6;

function others(l2: string, pool: string): SgInstance[] {
  const p = Prefix.parse(pool);
  return Array.from({ length: OTHERS }, (_, i) => {
    const mac = generateMac(`bench-sg/${i}`);
    return {
      name: `b${i}`,
      hypervisor: 'hv1',
      vif: `vnet${100 + i}`,
      mac,
      slaac: slaacAddress(l2, mac),
      linkLocal: linkLocalAddress(mac),
      prefixes: [p.carve(60, 1000 + i).toString()],
      group: 'default',
      rules: [parseRule('I:tcp;22;22;::/0')],
    };
  });
}

async function iperf(serverNs: string, clientNs: string, address: string): Promise<number> {
  // One-off server (-1): it exits after the test; killed by its own PID if it does not.
  const server = spawn('ip', ['netns', 'exec', serverNs, 'iperf3', '-s', '-1', '-B', address], { stdio: 'ignore' });
  try {
    await new Promise((r) => setTimeout(r, 300));
    const { stdout } = await run(['iperf3', '-c', address, '-t', '3', '-J'], { ns: clientNs, timeoutMs: 20_000 });
    return (JSON.parse(stdout) as { end: { sum_received: { bits_per_second: number } } }).end.sum_received.bits_per_second;
  } finally {
    if (server.exitCode === null) server.kill('SIGTERM');
  }
}

const runName = uniqueRunName('bsg');
const pod = loadPodFile(DEFAULT_POD_FILE);
const driver = new NftDriver();
try {
  progress('bringing up the default pod');
  const { plan } = await up(pod, runName, { podFile: DEFAULT_POD_FILE, owner: process.pid });
  const hv = hypervisorRef(plan, 'hv1');
  const models = (await podInstanceModels(plan)).filter((m) => m.hypervisor === 'hv1');
  // vm2 serves iperf3: its group opens the iperf3 port.
  const [vm1, vm2] = [models.find((m) => m.name === 'vm1')!, { ...models.find((m) => m.name === 'vm2')!, rules: [parseRule('I:tcp;5201;5201;::/0')] }];
  const many = others(pod.pod.l2Prefix, pod.pod.pdPool);

  const bulk: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    await driver.removeAll(hv);
    const t0 = process.hrtime.bigint();
    await driver.addMany(hv, many);
    bulk.push(ms(t0));
  }
  progress(`1,000 instances in one transaction: ${median(bulk).toFixed(0)} ms`);
  await driver.removeAll(hv);
  let t0 = process.hrtime.bigint();
  for (const m of many) await driver.add(hv, m);
  const sequential = ms(t0);
  progress(`1,000 instances one transaction each: ${sequential.toFixed(0)} ms`);

  const adds: number[] = [];
  const removes: number[] = [];
  const extra = { ...many[0]!, name: 'bx', vif: 'vnet99' };
  for (let i = 0; i < 10; i++) {
    t0 = process.hrtime.bigint();
    await driver.add(hv, extra);
    adds.push(ms(t0));
    t0 = process.hrtime.bigint();
    await driver.remove(hv, extra);
    removes.push(ms(t0));
  }

  await driver.removeAll(hv);
  await driver.add(hv, vm1);
  await driver.add(hv, vm2);
  const ns = (name: string) => plan.instances.find((i) => i.name === name)!.ns;
  const alone: number[] = [];
  for (let i = 0; i < RUNS; i++) alone.push(await iperf(ns('vm2'), ns('vm1'), vm2.slaac));
  progress(`iperf3 with 2 groups: ${(median(alone) / 1e9).toFixed(2)} Gbit/s`);
  await driver.addMany(hv, many);
  const loaded: number[] = [];
  for (let i = 0; i < RUNS; i++) loaded.push(await iperf(ns('vm2'), ns('vm1'), vm2.slaac));
  progress(`iperf3 with ${OTHERS + 2} groups: ${(median(loaded) / 1e9).toFixed(2)} Gbit/s`);

  emit({
    benchmark: 'sg',
    driver: driver.name,
    instances: OTHERS,
    applyAllOneTransactionMs: Math.round(median(bulk)),
    applyAllPerInstanceMs: Math.round(sequential),
    addOneWith1000Ms: Number(median(adds).toFixed(1)),
    removeOneWith1000Ms: Number(median(removes).toFixed(1)),
    throughputBitsPerSecond: { groups2: Math.round(median(alone)), groups1002: Math.round(median(loaded)) },
    throughputRatio: Number((median(loaded) / median(alone)).toFixed(3)),
    runs: RUNS,
  });
} finally {
  await teardownRun(runName);
}
