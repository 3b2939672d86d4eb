/**
 * PostgreSQL restarted mid-deploy. A pod whose reservations live in Kea's PostgreSQL host
 * database (fixtures/pods/postgresql.yaml: a private cluster in the run directory) gets instances
 * deployed through the CLI (`v6pod vm deploy`) while the cluster is stopped (fast shutdown) at
 * seeded points and started again, at once or after the deploy ended (pg-restart-trial.ts).
 *
 * Pass: each deploy completes or fails with one clear line (non-zero exit); after `up` again (and
 * the failed deploy run again), the hosts table and the run's instances agree exactly — never a
 * reservation without an instance or the reverse, no prefix in two reservations, the allocator
 * rebuilt from the store holds exactly the reserved prefixes; and Kea, which lost its database
 * connection with every restart, delegates each deployed instance exactly its reservation.
 */
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { loadPodFile } from '../../harness/pod/pod-file.ts';
import { up } from '../../netns/realize.ts';
import { teardownRun } from '../../netns/teardown.ts';
import { runDir, uniqueRunName } from '../../harness/pod/names.ts';
import { processAlive, readState } from '../../netns/run-state.ts';
import { buildPlan } from '../../harness/pod/plan.ts';
import { startPostgres, stopPostgres } from '../../netns/daemons/postgres.ts';
import { waitUntil } from '../../harness/os/wait.ts';
import { dhcpClient } from '../../harness/probe/dhcp.ts';
import { PodControl } from '../../harness/control/pod-control.ts';
import { deployVerdict, errorLines, pgRestartTrial, pgSchedule, storeAgreement, type PgOutcome } from './pg-restart-trial.ts';
import { v6pod } from './testing.ts';

const POD_FILE = fileURLToPath(new URL('../../fixtures/pods/postgresql.yaml', import.meta.url));
const SEED = 0x9f95;
const TRIALS = 4;

describe('PostgreSQL restarted mid-deploy (vm deploy through the CLI)', function () {
  this.timeout(180_000);
  const pod = loadPodFile(POD_FILE);
  const runName = uniqueRunName('pgr');
  const outcomes: PgOutcome[] = [];

  before(async () => {
    await up(pod, runName, { podFile: POD_FILE, owner: process.pid });
  });

  after(async () => {
    await teardownRun(runName);
  });

  for (const t of pgSchedule(SEED, TRIALS)) {
    const point = t.at === 'intent' ? 'once its intent is recorded' : t.at === 'reserved' ? 'once its reservation is committed' : `${t.delayMs} ms in`;
    it(`deploy ${t.name}, the cluster stopped ${point} and started ${t.mode === 'bounce' ? 'at once' : 'after the deploy'}: completes or fails in one line; store and instances agree after up`, async () => {
      const o = await pgRestartTrial(t, pod, POD_FILE, runName);
      outcomes.push(o);
      // What the fault met, for the log: the deploy's verdict and its one line.
      console.log(
        `      ${t.name}: ${o.faulted ? 'cluster down mid-deploy' : 'deploy ended first'}, exit ${o.deploy.status}${o.deploy.status ? `: ${errorLines(o.deploy)[0]}` : ''}${o.again ? `; again: exit ${o.again.status}` : ''}`,
      );
      expect(o.problems, `deploy exit ${o.deploy.status}: ${o.deploy.stdout}${o.deploy.stderr}`).to.deep.equal([]);
      expect(
        readState(runName)!
          .pod.hypervisors.flatMap((h) => h.instances)
          .map((i) => i.name),
        'the instance is deployed in the end',
      ).to.include(t.name);
    });
  }

  it('the faults landed: deploys ran into the stopped cluster, some failed (each naming PostgreSQL) and some completed', () => {
    expect(outcomes).to.have.length(TRIALS);
    expect(outcomes.filter((o) => o.faulted).length, 'deploys still running when the cluster went down').to.be.greaterThan(0);
    expect(outcomes.filter((o) => o.deploy.status !== 0).length, 'deploys that failed').to.be.greaterThan(0);
    expect(outcomes.filter((o) => o.deploy.status === 0).length, 'deploys that completed').to.be.greaterThan(0);
    for (const o of outcomes.filter((x) => x.deploy.status !== 0))
      expect(o.deploy.stderr, 'a failed deploy says what failed').to.match(/^v6pod: PostgreSQL \(Kea's host database/m);
  });

  it("Kea reconnected after the restarts: every instance gets exactly its reservation (a client's retransmission allowed), and a later deploy and destroy work", async () => {
    const state = readState(runName)!;
    const plan = buildPlan(state.pod, runName, state.ports);
    const control = await PodControl.open(plan, state.pg);
    const reserved = new Map((await control.store.list()).map((r) => [r.mac, [...r.prefixes].sort()]));
    await control.close();
    for (const inst of plan.instances.filter((i) => i.prefixes > 0)) {
      // Kea notices a lost connection at the first packet that needs it and reconnects: a real client's Solicit is retransmitted.
      const got = await waitUntil(
        async () => {
          const r = await dhcpClient(inst, { iaPds: inst.prefixes });
          return r.steps[0]!.answer === 'reply' ? r.steps[0]!.iaPds.flatMap((ia) => ia.prefixes.map((p) => p.prefix)).sort() : undefined;
        },
        { timeoutMs: 15_000, what: `${inst.name} to be answered by Kea` },
      );
      expect(got, `${inst.name}'s delegated prefixes`).to.deep.equal(reserved.get(inst.mac));
    }
    const later = await v6pod(['vm', 'deploy', 'later', '--run', runName]);
    expect(deployVerdict('later', later)).to.deep.equal([]);
    expect(later.status).to.equal(0);
    const gone = await v6pod(['vm', 'destroy', 'later', '--run', runName]);
    expect(gone.status, gone.stderr).to.equal(0);
    expect(await storeAgreement(runName)).to.deep.equal([]);
  });

  it('down after a restart the run has not caught up with (no up since) leaves no postmaster behind', async () => {
    const dir = `${runDir(runName)}/postgres`;
    await stopPostgres(dir);
    await startPostgres(dir);
    const pid = Number(readFileSync(`${dir}/data/postmaster.pid`, 'utf8').split('\n')[0]);
    expect(processAlive(pid), 'positive control: the restarted postmaster runs').to.equal(true);
    await teardownRun(runName);
    await waitUntil(() => !processAlive(pid), { timeoutMs: 15_000, what: `the restarted postmaster (pid ${pid}) to be stopped by the run's teardown` });
  });
});
