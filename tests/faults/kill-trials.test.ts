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

/**
 * The trials on one pod: each verb killed at its scheduled point, then down; all of them run, and a
 * share of them (`killedShare`, default 45 %) killed mid-way (a kill after the verb ended proves less).
 */
function killTrials(
  title: string,
  tag: string,
  podFileOf: (pod: string) => string,
  schedule: readonly KillVerb[],
  opts: { window?: Parameters<typeof killSchedule>[2]; killedShare?: number } = {},
) {
  describe(title, function () {
    this.timeout(60_000);
    const POD = `${tag}${(process.pid % 0xffff).toString(16)}`;
    const podFile = podFileOf(POD);
    const pod = loadPodFile(podFile);
    const decoys = new Decoys(tag);
    const trials = killSchedule(SEED, schedule, opts.window);
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

    const share = opts.killedShare ?? 0.45;
    it(`ran all ${schedule.length} trials, ${Math.round(share * 100)} % or more of them killed mid-way`, () => {
      expect(outcomes.length).to.equal(schedule.length);
      expect(outcomes.filter((o) => o.killed).length).to.be.at.least(Math.ceil(schedule.length * share));
    });
  });
}

// A kernel and a synthetic instance: the synthetic host daemon is among what a kill may leave
// running; the kernel one runs dhcpcd, a guest client with privilege-separation helpers.
killTrials('SIGKILL at random points of up, test and down: down leaves nothing, decoys survive', 'kt', (pod) => smallPodFile(pod, 1, 1, 'dhcpcd'), SCHEDULE);

// The other daemons a pod may run: ISC dhcrelay on the routers, a private PostgreSQL cluster and
// the pgbouncer in front of it. That pod's up takes longer: so does the window its kills fall in.
killTrials(
  'SIGKILL of a pod with ISC dhcrelay and a private PostgreSQL cluster behind pgbouncer: down leaves nothing',
  'kp',
  (pod) => smallPodFile(pod, 1, 0, undefined, { relay: 'isc-dhcrelay', keaBackend: 'postgresql', macSources: ['duid'] }),
  ['up', 'up', 'test', 'down', 'up', 'up', 'test', 'up'],
  // How long initdb and the cluster's start take varies most: a quarter of the kills may come late.
  { window: { up: [2500, 4500], test: [2500, 6000], down: [0, 300] }, killedShare: 0.25 },
);
