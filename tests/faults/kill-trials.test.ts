/**
 * v6pod killed with SIGKILL at random points of `up`, `test` and `down`, then
 * `v6pod down <run>` (or `down --all`, only when no run of anyone else is sweepable) leaves zero
 * namespaces of the run, zero processes that were in them (the synthetic host's and a guest's dhcpcd among them), no run directory and no /run/netns
 * mounts; the decoys (a namespace without the v6pod prefix, one that only resembles it, a veth in
 * the root namespace, processes v6pod did not start, one of them named like Kea) survive.
 *
 * The kill points are drawn from a seeded PRNG (V6POD_FAULT_SEED to replay another schedule), over
 * ranges that cover each verb from process start to its end on this machine kind. The killed
 * process is first frozen (SIGSTOP) so what it had started can be recorded, then killed; commands
 * it left running in the root namespace (an `ip -batch` half-way) are waited for before `down`.
 */
import { expect } from 'chai';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { loadPodFile } from '../../harness/pod/pod-file.ts';
import { teardownRun } from '../../netns/teardown.ts';
import { Decoys, runsWithPrefix, smallPodFile } from './testing.ts';
import { killSchedule, killTrial, type KillVerb } from './kill-trial.ts';

const SEED = Number(process.env.V6POD_FAULT_SEED ?? 0x9c0de);
const SCHEDULE: KillVerb[] = [
  'up',
  'test',
  'down',
  'up',
  'up',
  'test',
  'down',
  'up',
  'test',
  'down',
  'up',
  'up',
  'test',
  'down',
  'up',
  'test',
  'down',
  'up',
  'up',
  'test',
  'down',
  'up',
];

describe('SIGKILL at random points of up, test and down: down leaves nothing, decoys survive', function () {
  this.timeout(60_000);
  const POD = `kt${(process.pid % 0xffff).toString(16)}`;
  // A kernel and a synthetic instance: the synthetic host daemon is among what a kill may leave
  // running; the kernel one runs dhcpcd, a guest client with privilege-separation helpers.
  const podFile = smallPodFile(POD, 1, 1, 'dhcpcd');
  const pod = loadPodFile(podFile);
  const decoys = new Decoys('kt');
  const trials = killSchedule(SEED, SCHEDULE);
  const outcomes: Array<{ i: number; verb: KillVerb; killed: boolean; at: string }> = [];

  before(async () => {
    await decoys.create();
  });

  after(async () => {
    for (const r of runsWithPrefix(`${POD}-`)) await teardownRun(r);
    await decoys.remove();
    rmSync(join(podFile, '..'), { recursive: true, force: true });
    const killed = outcomes.filter((o) => o.killed).length;
    console.log(
      `      kill trials (seed ${SEED}): ${outcomes.length} run, ${killed} killed mid-way, ${outcomes.length - killed} had finished before their kill point`,
    );
    for (const o of outcomes) console.log(`        #${o.i} ${o.verb}: ${o.killed ? `killed with ${o.at}` : 'finished first'}`);
  });

  for (const t of trials) {
    it(`#${t.i} ${t.verb} killed ${t.delayMs} ms after start, then ${t.all ? 'down --all and ' : ''}down <run>`, async () => {
      const o = await killTrial(t, pod, podFile);
      outcomes.push({ i: t.i, verb: t.verb, killed: o.killed, at: o.at });
      expect(o.downFailures, `down refused; the killed v6pod said:\n${o.output}`).to.deep.equal([]);
      expect(o.leaked, 'left behind').to.deep.equal([]);
      expect(await decoys.missing(), 'decoys').to.deep.equal([]);
    });
  }

  it(`ran at least 20 trials, most of them killed mid-way`, () => {
    expect(outcomes.length).to.be.at.least(20);
    expect(outcomes.filter((o) => o.killed).length).to.be.at.least(10);
  });
});
