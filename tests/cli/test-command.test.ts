/**
 * `v6pod test` end to end, as CI and a release gate run it: the whole catalogue on the default pod
 * passes, the reports are written, the pod is gone afterwards; the scale profile verifies a pod of
 * both instance kinds; shards split the catalogue and `report merge` joins them; a selection that
 * runs nothing does not pass.
 */
import { expect } from 'chai';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RunResult } from '../../harness/report/result.ts';
import { v6podNamespaces } from '../../netns/teardown.ts';
import { loadScenarioMetadata } from '../../harness/report/conformance-doc.ts';

const CLI = new URL('../../bin/v6pod.js', import.meta.url).pathname;
const v6pod = (args: string[]) => spawnSync('node', [CLI, ...args], { encoding: 'utf8', timeout: 180_000 });
const result = (dir: string) => JSON.parse(readFileSync(join(dir, 'result.json'), 'utf8')) as RunResult;

describe('v6pod test (the conformance run)', function () {
  this.timeout(180_000);
  const dir = mkdtempSync(join(tmpdir(), 'v6pod-test-'));

  it('runs the whole catalogue on the default pod: every scenario passes, reports written, pod removed', async () => {
    const out = join(dir, 'full');
    const r = v6pod(['test', '--artifacts', out]);
    expect(r.status, r.stdout + r.stderr).to.equal(0);
    const res = result(out);
    // The default profile runs the conformance catalogue: everything but the scale profile's and the guest matrix's.
    const catalogue = (await loadScenarioMetadata()).filter((m) => !m.id.startsWith('SCALE-') && !m.id.startsWith('GUEST-'));
    expect(res.scenarios.map((s) => s.id).sort()).to.deep.equal(catalogue.map((m) => m.id).sort());
    expect(res.scenarios.filter((s) => s.verdict !== 'pass').map((s) => `${s.id}: ${s.failure?.message}`)).to.deep.equal([]);
    for (const f of ['junit.xml', 'summary.md', 'report.html', 'topology.svg']) expect(existsSync(join(out, f)), f).to.equal(true);
    expect(readFileSync(join(out, 'junit.xml'), 'utf8')).to.match(new RegExp(`tests="${catalogue.length}" failures="0"`));
    expect(r.stdout).to.match(new RegExp(`^${catalogue.length} passed, 0 failed$`, 'm'));
    expect(v6podNamespaces().get(res.run), 'namespaces left by the run').to.equal(undefined);
  });

  it('two shards cover the selection exactly once, and report merge joins them', () => {
    const shards = ['1/2', '2/2'].map((s, i) => {
      const out = join(dir, `shard${i + 1}`);
      // Sharding is what this proves: SLAAC-004's timing right after up is left to the full runs (a
      // loaded runner twice saw r1 answer late there, 0.7 s and 4.0 s; not understood yet).
      const r = v6pod(['test', '--grep', 'SLAAC-00[1235] ', '--shard', s, '--artifacts', out]);
      expect(r.status, r.stdout + r.stderr).to.equal(0);
      return out;
    });
    const ids = shards.map((d) => result(d).scenarios.map((s) => s.id));
    expect(
      ids[0]!.filter((id) => ids[1]!.includes(id)),
      'in both shards',
    ).to.deep.equal([]);
    const merged = join(dir, 'merged');
    const partial = v6pod(['report', 'merge', shards[1]!, '--out', merged]);
    expect([partial.status, partial.stderr], 'a merge missing a slice').to.deep.equal([2, 'v6pod: slice 1/2 missing: merge all 2 slices\n']);
    const m = v6pod(['report', 'merge', ...shards, '--out', merged]);
    expect(m.status, m.stdout + m.stderr).to.equal(0);
    expect(result(merged).scenarios.map((s) => s.id)).to.deep.equal([...ids[0]!, ...ids[1]!].sort());
    expect(result(merged).totals).to.deep.equal({ passed: ids[0]!.length + ids[1]!.length, failed: 0, skipped: 0 });
  });

  it('the scale profile runs its catalogue on a pod mixing kernel and synthetic instances, checking both kinds', () => {
    const out = join(dir, 'mixed');
    const r = v6pod(['test', '--pod', new URL('../../fixtures/pods/mixed.yaml', import.meta.url).pathname, '--profile', 'scale', '--artifacts', out]);
    expect(r.status, r.stdout + r.stderr).to.equal(0);
    const ids = result(out).scenarios.map((s) => `${s.id} ${s.verdict}`);
    expect(ids.length, 'the scale catalogue only').to.be.greaterThan(0);
    for (const id of ids) expect(id).to.match(/^SCALE-\d+ pass$/);
    expect(v6podNamespaces().get(result(out).run), 'namespaces left by the run').to.equal(undefined);
  });

  it('the scale profile on fixtures/pods/scale-1000.yaml: all 1,000 synthetic instances verified, nothing left', function () {
    this.timeout(300_000);
    const out = join(dir, 'scale');
    const r = spawnSync(
      'node',
      [CLI, 'test', '--pod', new URL('../../fixtures/pods/scale-1000.yaml', import.meta.url).pathname, '--profile', 'scale', '--artifacts', out],
      { encoding: 'utf8', timeout: 290_000 },
    );
    expect(r.status, r.stdout + r.stderr).to.equal(0);
    expect(result(out).scenarios.map((s) => `${s.id} ${s.verdict}`)).to.deep.equal(
      ['SCALE-001', 'SCALE-002', 'SCALE-003', 'SCALE-004', 'SCALE-005', 'SCALE-006'].map((id) => `${id} pass`),
    );
    expect(v6podNamespaces().get(result(out).run), 'namespaces left by the run').to.equal(undefined);
  });

  it('two runs at the same time on one host both pass', async () => {
    const runOne = (i: number) =>
      new Promise<{ code: number | null; out: string }>((resolve) => {
        const child = spawn('node', [CLI, 'test', '--grep', 'SLAAC|PD-00[12]', '--artifacts', join(dir, `concurrent${i}`)], {
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        let out = '';
        child.stdout.on('data', (d: Buffer) => (out += d));
        child.stderr.on('data', (d: Buffer) => (out += d));
        child.on('close', (code) => resolve({ code, out }));
      });
    const both = await Promise.all([runOne(1), runOne(2)]);
    for (const r of both) expect(r.code, r.out).to.equal(0);
    expect(result(join(dir, 'concurrent1')).run).to.not.equal(result(join(dir, 'concurrent2')).run);
  });

  it('a selection that runs no scenario fails, and bad arguments are one line with exit 2', () => {
    const none = v6pod(['test', '--grep', 'NO-SUCH-SCENARIO', '--artifacts', join(dir, 'none')]);
    expect(none.status).to.equal(1);
    expect(none.stdout).to.match(/^0 passed, 0 failed$/m);
    for (const args of [
      ['test', '--shard', '3/2'],
      ['test', '--profile', 'fast'],
      ['report', 'merge', join(dir, 'nowhere')],
    ]) {
      const r = v6pod(args);
      expect(r.status, args.join(' ')).to.equal(2);
      expect(r.stderr.trim().split('\n'), args.join(' ')).to.have.length(1);
    }
  });
});
