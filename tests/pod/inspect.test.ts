/**
 * inspectRun against a real pod of its own (run `t-insp-<random>`, owned by this process): a pod
 * as planned reads back healthy, matches the documented JSON Schema, and every instance holds the
 * SLAAC address the plan predicts; with r2's radvd killed it reads back degraded, naming r2's
 * radvd and nothing else; `up` again restores it.
 */
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { Ajv } from 'ajv';
import { loadPodFile } from '../../harness/pod/pod-file.ts';
import { DEFAULT_POD_FILE } from '../../harness/pod/pod-file.ts';
import { up } from '../../netns/realize.ts';
import { teardownRun } from '../../netns/teardown.ts';
import { readState } from '../../netns/run-state.ts';
import { daemonAlive } from '../../netns/daemons/process.ts';
import { waitUntil } from '../../harness/os/wait.ts';
import { inspectRun, type RunStatus } from '../../netns/inspect.ts';

const RUN = `t-insp-${randomBytes(3).toString('hex')}`;
const validate = new Ajv({ allErrors: true }).compile(JSON.parse(readFileSync(new URL('../../docs/status.schema.json', import.meta.url), 'utf8')));

/** As `status --json` prints it: through JSON, so the schema sees exactly what a consumer does. */
async function status(): Promise<RunStatus> {
  return JSON.parse(JSON.stringify(await inspectRun(RUN))) as RunStatus;
}

function upPod() {
  return up(loadPodFile(DEFAULT_POD_FILE), RUN, { podFile: DEFAULT_POD_FILE, owner: process.pid });
}

describe(`inspectRun (live pod ${RUN})`, function () {
  this.timeout(60_000);

  before(upPod);
  after(() => teardownRun(RUN));

  it('reports a pod as planned: every node, link, daemon and instance healthy, valid against docs/status.schema.json', async () => {
    const s = await status();
    expect(validate(s), JSON.stringify(validate.errors)).to.equal(true);
    expect(s.problems).to.deep.equal([]);
    expect(s.verdict).to.equal('ok');
    expect(s.nodes.map((n) => n.name)).to.deep.equal(['core', 'r1', 'r2', 'kea', 'tor', 'hv1', 'hv2', 'vm1', 'vm2', 'vm3', 'vm4']);
    expect(s.nodes.every((n) => n.present && n.ok)).to.equal(true);
    expect(s.links).to.have.length(12);
    expect(s.links.every((l) => l.ok)).to.equal(true);
    expect(s.daemons.map((d) => `${d.name}@${d.node}:${d.alive}`)).to.deep.equal([
      'kea-dhcp6@kea:true',
      'radvd@r1:true',
      'dhcp6-relay@r1:true',
      'radvd@r2:true',
      'dhcp6-relay@r2:true',
    ]);
    expect(s.kea.answering).to.equal(true);
    const r1 = s.nodes.find((n) => n.name === 'r1')!;
    expect(r1.interfaces.find((i) => i.name === 'lan')!.addresses.map((a) => a.address)).to.include('2001:db8:100::1');
    expect(r1.routes.some((r) => r.destination === 'default' && r.gateway === 'fe80::2')).to.equal(true);
  });

  it("finds every instance's kernel SLAAC address equal to the plan's prediction, and its MAC and default routes", async () => {
    const s = await status();
    expect(s.instances).to.have.length(4);
    for (const i of s.instances) {
      expect(i.slaac.kernel, i.name).to.deep.equal([i.slaac.predicted]);
      expect(i.slaac.state, i.name).to.equal('usable');
      expect(i.kernelMac, i.name).to.equal(i.mac);
      expect(i.linkLocal.present, i.name).to.equal(true);
      expect([...i.defaultRoutes.kernel].sort(), i.name).to.deep.equal([...i.defaultRoutes.expected].sort());
      expect(i.ok, i.name).to.equal(true);
    }
    // CloudStack's own EUI-64 test vector (fixtures/pods/default.yaml).
    expect(s.instances[0]!.slaac.predicted).to.equal('2001:db8:100:0:47a:88ff:fe00:8b');
  });

  it("reports r2's radvd dead and the pod degraded once it is killed, r1's radvd still alive; up restores it", async () => {
    const radvd = readState(RUN)!.daemons.find((d) => d.name === 'radvd' && d.node === 'r2')!;
    process.kill(radvd.pid, 'SIGKILL');
    await waitUntil(() => !daemonAlive(radvd), { timeoutMs: 5000, what: `radvd (pid ${radvd.pid}) to die` });

    const s = await status();
    expect(validate(s), JSON.stringify(validate.errors)).to.equal(true);
    expect(s.verdict).to.equal('degraded');
    expect(s.daemons.find((d) => d.node === 'r2')).to.include({ name: 'radvd', alive: false, pid: radvd.pid, log: radvd.log });
    expect(s.daemons.find((d) => d.node === 'r1')!.alive).to.equal(true);
    expect(s.problems).to.have.length(1);
    expect(s.problems[0]).to.match(/radvd on r2 \(pid \d+\) is dead/);

    await upPod();
    const again = await status();
    expect(again.verdict, again.problems.join('; ')).to.equal('ok');
    expect(again.daemons.find((d) => d.node === 'r2')!.pid).to.not.equal(radvd.pid);
  });
});
