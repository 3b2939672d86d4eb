/**
 * The layer check of `npm run lint` (tools/layers.ts with the rules of .dependency-cruiser.cjs —
 * the same file, read from the repository, not a copy) fails on a planted cross-layer import and
 * on a planted folder cycle, naming the rule and the import, and passes on the real tree.
 *
 * Planted imports go into a small tree in a temporary directory that mirrors the project's folder
 * names, never into the real source tree (others edit it concurrently). No root, no namespaces.
 */
import { expect } from 'chai';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { checkLayers, CONFIG, type LayerCheck } from '../../tools/layers.ts';

/** A clean tree: each layer imports one below it, as the real tree does. */
const CLEAN: Record<string, string> = {
  'tsconfig.json': JSON.stringify({
    compilerOptions: { module: 'NodeNext', moduleResolution: 'NodeNext', allowImportingTsExtensions: true, noEmit: true, strict: true },
  }),
  'harness/addr/prefix.ts': 'export const prefix = 64;\n',
  'harness/os/exec.ts': "export const run = (argv: string[]): string => argv.join(' ');\n",
  'harness/packet/ipv6.ts': "import { prefix } from '../addr/prefix.ts';\nexport const hopLimit = prefix;\n",
  'harness/pod/plan.ts':
    "import { prefix } from '../addr/prefix.ts';\nimport { run } from '../os/exec.ts';\nexport interface Plan { prefix: number }\nexport const plan = (): Plan => ({ prefix: run(['x']).length + prefix });\n",
  'harness/relay/main.ts': "import { hopLimit } from '../packet/ipv6.ts';\nexport const relay = hopLimit;\n",
  'harness/synth/host.ts': "import { plan } from '../pod/plan.ts';\nexport const host = plan;\n",
  'harness/synth/testing/fake-link.ts': "import { host } from '../host.ts';\nexport const link = host;\n",
  'netns/realize.ts':
    "import { plan } from '../harness/pod/plan.ts';\nimport { relay } from '../harness/relay/main.ts';\nexport const up = () => [plan(), relay];\n",
  'netns/daemons/kea.ts': "import { up } from '../realize.ts';\nexport const kea = up;\n",
  'harness/probe/api.ts': "import { up } from '../../netns/realize.ts';\nexport const vm = up;\n",
  'scenarios/slaac.scenario.ts':
    "import { vm } from '../harness/probe/api.ts';\nimport { hopLimit } from '../harness/packet/ipv6.ts';\nexport default [vm, hopLimit];\n",
  'cli/main.ts': "import { up } from '../netns/realize.ts';\nimport { vm } from '../harness/probe/api.ts';\nexport const main = [up, vm];\n",
  'tests/support/pod.ts': "import { up } from '../../netns/realize.ts';\nexport const pod = up;\n",
  'tests/faults/restarts.test.ts': "import { pod } from '../support/pod.ts';\nexport const t = pod;\n",
};

/** Checks the clean tree with `plant` added (paths relative to the tree). */
async function checkTree(plant: Record<string, string>): Promise<LayerCheck> {
  const root = mkdtempSync(join(tmpdir(), 'v6pod-layers-'));
  try {
    for (const [path, text] of Object.entries({ ...CLEAN, ...plant })) {
      mkdirSync(dirname(join(root, path)), { recursive: true });
      writeFileSync(join(root, path), text);
    }
    return await checkLayers(root);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

describe('layer check (tools/layers.ts, .dependency-cruiser.cjs)', function () {
  this.timeout(20_000);

  it('reads the config lint uses', () => {
    expect(CONFIG).to.match(/\/\.dependency-cruiser\.cjs$/);
  });

  it('passes on a clean tree shaped like the project (so the failures below are the plants)', async () => {
    const check = await checkTree({});
    expect(check.ok, check.report).to.equal(true);
    expect(check.violations).to.deep.equal([]);
    expect(check.folderCycles).to.deep.equal([]);
  });

  it('fails on a ground layer importing netns/, naming the rule and the import', async () => {
    const check = await checkTree({
      'harness/addr/leak.ts': "import { up } from '../../netns/realize.ts';\nexport const leak = up;\n",
    });
    expect(check.ok).to.equal(false);
    expect(check.violations).to.deep.include({ rule: 'layer-addr-imports-nothing', from: 'harness/addr/leak.ts', to: 'netns/realize.ts' });
    expect(check.report).to.include('error layer-addr-imports-nothing: harness/addr/leak.ts → netns/realize.ts');
  });

  it('fails on a type-only import of a higher layer (harness/packet → harness/pod)', async () => {
    const check = await checkTree({
      'harness/packet/frame.ts': "import type { Plan } from '../pod/plan.ts';\nexport const size = (p: Plan): number => p.prefix;\n",
    });
    expect(check.ok).to.equal(false);
    expect(check.violations).to.deep.include({ rule: 'layer-packet-imports-only-addr-os', from: 'harness/packet/frame.ts', to: 'harness/pod/plan.ts' });
    expect(check.report).to.include('error layer-packet-imports-only-addr-os: harness/packet/frame.ts → harness/pod/plan.ts');
  });

  it('fails on a scenario reaching past the scenario API, and on the library importing cli/ or tests/', async () => {
    const check = await checkTree({
      'scenarios/sg.scenario.ts': "import { run } from '../harness/os/exec.ts';\nexport default run;\n",
      'netns/status.ts': "import { main } from '../cli/main.ts';\nexport const status = main;\n",
      'harness/pod/sample.ts': "import { pod } from '../../tests/support/pod.ts';\nexport const sample = pod;\n",
    });
    expect(check.violations).to.deep.include.members([
      { rule: 'scenarios-use-the-scenario-api', from: 'scenarios/sg.scenario.ts', to: 'harness/os/exec.ts' },
      { rule: 'library-never-imports-cli', from: 'netns/status.ts', to: 'cli/main.ts' },
      { rule: 'source-never-imports-test-code', from: 'harness/pod/sample.ts', to: 'tests/support/pod.ts' },
    ]);
    // One rule per violation: the layer rules leave cli/ and tests/ to the shared rules.
    expect(check.violations.filter(({ from }) => from === 'netns/status.ts').map(({ rule }) => rule)).to.deep.equal(['library-never-imports-cli']);
  });

  it('fails on a folder cycle through different files, naming both folders and an import each way', async () => {
    // tests/ has no layer rules, so only the folder-cycle check can catch this one.
    const check = await checkTree({
      'tests/support/faults.ts': "import { t } from '../faults/restarts.test.ts';\nexport const all = [t];\n",
    });
    expect(check.ok).to.equal(false);
    expect(check.violations).to.deep.equal([]);
    expect(check.folderCycles).to.deep.equal([
      {
        folders: ['tests/faults', 'tests/support'],
        imports: [
          { from: 'tests/faults/restarts.test.ts', to: 'tests/support/pod.ts' },
          { from: 'tests/support/faults.ts', to: 'tests/faults/restarts.test.ts' },
        ],
      },
    ]);
    expect(check.report).to.include(
      'error folder-cycle: tests/faults → tests/support → tests/faults (tests/faults/restarts.test.ts → tests/support/pod.ts; tests/support/faults.ts → tests/faults/restarts.test.ts)',
    );
  });

  it('sees a folder cycle through a test-support subfolder as a cycle of the two layers', async () => {
    // harness/relay → harness/synth/testing while harness/synth → harness/relay: no module cycle, a folder cycle.
    const check = await checkTree({
      'harness/relay/link.ts': "import { link } from '../synth/testing/fake-link.ts';\nexport const relayLink = link;\n",
      'harness/synth/relay-client.ts': "import { relay } from '../relay/main.ts';\nexport const client = relay;\n",
    });
    expect(check.violations.map(({ rule }) => rule)).to.have.members([
      'layer-relay-imports-only-addr-os-packet-pod-io',
      'layer-synth-imports-only-addr-os-packet-pod-io',
    ]);
    expect(check.folderCycles.map(({ folders }) => folders)).to.deep.equal([['harness/relay', 'harness/synth']]);
    expect(check.report).to.include('error folder-cycle: harness/relay → harness/synth → harness/relay');
  });

  it('fails on a module cycle', async () => {
    const check = await checkTree({
      'harness/os/wait.ts': "import { run } from './exec.ts';\nexport const wait = run;\nexport const poll = 1;\n",
      'harness/os/exec.ts': "import { poll } from './wait.ts';\nexport const run = (argv: string[]): string => argv.join(' ') + poll;\n",
    });
    expect(check.violations.map(({ rule }) => rule)).to.include('no-circular');
    expect(check.report).to.match(/error no-circular: harness\/os\/(exec|wait)\.ts → harness\/os\/(exec|wait)\.ts → /);
  });

  it('passes on the real tree', async () => {
    const check = await checkLayers();
    expect(check.ok, `\n${check.report}`).to.equal(true);
  });
});
