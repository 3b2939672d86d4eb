/**
 * The guest matrix in `npm test`: `v6pod test --pod fixtures/pods/guests.yaml --profile guests`
 * runs every GUEST cell against the real Debian 12 clients and exits 0; each cell the capability
 * table declares unsupported is reported skipped with its reason (never a pass); the report draws
 * the matrix; nothing of the run is left (namespaces, client processes).
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RunResult } from '../../harness/report/result.ts';
import { loadScenarioMetadata } from '../../harness/report/conformance-doc.ts';
import { v6podNamespaces } from '../../netns/teardown.ts';

const CLI = new URL('../../bin/v6pod.js', import.meta.url).pathname;
const POD = new URL('../../fixtures/pods/guests.yaml', import.meta.url).pathname;

/** Guest client processes anywhere on the host (they run only inside pod namespaces). */
function clientProcesses(): string[] {
  const r = spawnSync('ps', ['-eo', 'pid=,args='], { encoding: 'utf8' });
  return r.stdout.split('\n').filter((l) => /dhcp6c -f|dhcpcd:|dhcpcd -B|dhclient -6|systemd-networkd|dibbler-client run/.test(l));
}

describe('v6pod test --profile guests (the guest matrix)', function () {
  this.timeout(240_000);

  it('runs every GUEST cell on fixtures/pods/guests.yaml: exit 0, unsupported cells skipped with their reason, nothing left', async () => {
    const before = clientProcesses();
    const out = join(mkdtempSync(join(tmpdir(), 'v6pod-guests-')), 'art');
    const started = Date.now();
    const r = spawnSync('node', [CLI, 'test', '--pod', POD, '--profile', 'guests', '--artifacts', out], { encoding: 'utf8', timeout: 230_000 });
    console.log(`      guest matrix: ${((Date.now() - started) / 1000).toFixed(1)} s wall`);
    expect(r.status, r.stdout + r.stderr).to.equal(0);

    const res = JSON.parse(readFileSync(join(out, 'result.json'), 'utf8')) as RunResult;
    const cells = (await loadScenarioMetadata()).filter((m) => m.id.startsWith('GUEST-'));
    expect(res.scenarios.map((s) => s.id).sort()).to.deep.equal(cells.map((m) => m.id).sort());
    for (const s of res.scenarios) {
      const want = s.unsupported ? 'skip' : 'pass';
      expect(`${s.id} ${s.verdict}`, s.failure?.message ?? s.unsupported ?? '').to.equal(`${s.id} ${want}`);
    }
    expect(
      res.scenarios.filter((s) => s.unsupported).map((s) => s.id),
      'cells declared unsupported',
    ).to.include('GUEST-networkd.two-prefixes');
    expect(readFileSync(join(out, 'report.html'), 'utf8')).to.match(/<table class="matrix">/);
    expect(r.stdout).to.match(/unsupported: systemd-networkd 252 asks for one IA_PD/);
    expect(v6podNamespaces().get(res.run), 'namespaces left by the run').to.equal(undefined);
    expect(clientProcesses(), 'guest client processes left').to.deep.equal(before);
  });
});
