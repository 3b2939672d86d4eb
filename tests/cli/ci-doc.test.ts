/**
 * docs/ci.md's CI jobs, run here: the GitHub Actions and GitLab CI files on that page run the same
 * commands in the same order (checked), and those commands — each shard's job, then the report
 * job — are run in a folder standing in for the job's checkout (a link to this checkout's
 * `v6pod`), after which every path the publishing steps name exists and the merged report covers
 * the whole catalogue.
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import type { RunResult } from '../../harness/report/result.ts';
import { loadScenarioMetadata } from '../../harness/report/conformance-doc.ts';

const DOC = new URL('../../docs/ci.md', import.meta.url);
const V6POD = new URL('../../v6pod', import.meta.url).pathname;

interface Step {
  run?: string;
  uses?: string;
  with?: Record<string, string>;
}
interface GithubJob {
  strategy?: { matrix: { shard: number[] } };
  steps: Step[];
}
interface GitlabJob {
  parallel?: number;
  script: string[];
  artifacts: { paths: string[]; reports?: { junit: string } };
}

/** The page's YAML blocks, in order. */
function yamlBlocks(): unknown[] {
  return [...readFileSync(DOC, 'utf8').matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => parse(m[1]!) as unknown);
}

/** One job instance's commands with its variables filled in, as the CI service would run them. */
const github = (job: GithubJob, shard?: number) => job.steps.flatMap((s) => (s.run ? [s.run.replaceAll('${{ matrix.shard }}', String(shard))] : []));
const gitlab = (job: GitlabJob, index?: number) =>
  job.script.map((c) => c.replaceAll('$CI_NODE_INDEX', String(index)).replaceAll('$CI_NODE_TOTAL', String(job.parallel)));

describe('docs/ci.md: the CI jobs, run as written', function () {
  this.timeout(600_000);
  const [gh, gl] = yamlBlocks() as [{ jobs: Record<string, GithubJob> }, Record<string, GitlabJob>];
  const shards = gh.jobs.conformance!.strategy!.matrix.shard;
  const workspace = mkdtempSync(join(tmpdir(), 'v6pod-ci-'));
  after(() => rmSync(workspace, { recursive: true, force: true }));

  it('GitHub Actions and GitLab CI run the same commands, slice by slice, then the merge', () => {
    expect(gl.conformance!.parallel, 'slices').to.equal(shards.length);
    for (const i of shards) expect(gitlab(gl.conformance!, i), `slice ${i}`).to.deep.equal(github(gh.jobs.conformance!, i));
    expect(gitlab(gl.report!)).to.deep.equal(github(gh.jobs.report!));
  });

  it('the commands, in order, give every slice, one merged report of the whole catalogue, and every published path', async () => {
    // The job's checkout: `./v6pod` resolves its own checkout through the link.
    symlinkSync(V6POD, join(workspace, 'v6pod'));
    const commands = [...shards.flatMap((i) => github(gh.jobs.conformance!, i)), ...github(gh.jobs.report!)];
    for (const command of commands) {
      const r = spawnSync('bash', ['-eo', 'pipefail', '-c', command], { cwd: workspace, encoding: 'utf8', env: { ...process.env, CI: 'true' } });
      expect(r.status, `${command}\n${r.stdout}${r.stderr}`).to.equal(0);
    }
    const published = [
      ...shards.map((i) => gitlab(gl.conformance!, i)[0]!.match(/--artifacts (\S+)/)![1]!),
      ...Object.values(gh.jobs).flatMap((j) =>
        j.steps.flatMap((s) => [s.with?.path, s.with?.report_paths]).filter((p): p is string => !!p && !p.includes('$')),
      ),
      ...gl.report!.artifacts.paths,
      gl.report!.artifacts.reports!.junit,
    ];
    for (const p of published) expect(existsSync(join(workspace, p)), `published path ${p}`).to.equal(true);
    const merged = JSON.parse(readFileSync(join(workspace, 'artifacts/merged/result.json'), 'utf8')) as RunResult;
    const catalogue = (await loadScenarioMetadata()).filter((m) => !m.id.startsWith('SCALE-') && !m.id.startsWith('GUEST-'));
    expect(merged.scenarios.map((s) => s.id).sort()).to.deep.equal(catalogue.map((m) => m.id).sort());
    expect(merged.scenarios.filter((s) => s.verdict !== 'pass').map((s) => `${s.id}: ${s.failure?.message}`)).to.deep.equal([]);
  });
});
