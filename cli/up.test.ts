import { expect } from 'chai';
import { Command } from 'commander';
import { fileURLToPath } from 'node:url';
import { registerUp } from './up.ts';
import { buildPlan } from '../harness/pod/plan.ts';
import { loadPodFile } from '../harness/pod/pod-file.ts';

const pods = fileURLToPath(new URL('../fixtures/pods/', import.meta.url));

describe('v6pod up --dry-run', () => {
  async function dryRun(file: string): Promise<string> {
    const program = new Command('v6pod').exitOverride();
    registerUp(program);
    const out: string[] = [];
    const write = process.stdout.write;
    process.stdout.write = ((s: string) => out.push(s) > 0) as typeof process.stdout.write;
    try {
      await program.parseAsync(['up', file, '--dry-run'], { from: 'user' });
    } finally {
      process.stdout.write = write;
    }
    return out.join('');
  }

  it("prints up's phases in up's order, each with its commands, and the daemons where they start", async () => {
    const out = await dryRun(`${pods}default.yaml`);
    const plan = buildPlan(loadPodFile(`${pods}default.yaml`), 'default');
    const phases = out.split('\n').filter((l) => l.startsWith('# '));
    expect(phases.map((l) => l.slice(0, 5))).to.deep.equal(['# 1. ', '# 2. ', '# 3. ', '# 4. ', '# 5. ']);
    // Every root command sits under phase 1, the instances' IPv6 switched on under phase 4, radvd in phase 5.
    const at = (text: string) => out.indexOf(text);
    for (const line of plan.root) expect(at(line), line).to.be.within(at('# 1. '), at('# 2. '));
    for (const ns of Object.keys(plan.attach)) expect(out.indexOf(`ip netns exec ${ns} sh`, at('# 4. ')), ns).to.be.within(at('# 4. '), at('# 5. '));
    expect(phases[2]).to.include(`kea-dhcp6 in ${plan.kea.ns}`).and.include("v6pod's relay");
    expect(phases[4]).to.include(`radvd in ${plan.routers.map((r) => r.ns).join(', ')}`);
  });

  it('names the PostgreSQL cluster and its pooler for a postgresql pod', async () => {
    expect(await dryRun(`${pods}postgresql.yaml`)).to.match(/^# 3\. .*private PostgreSQL cluster, pgbouncer in front/m);
  });
});
