/**
 * `v6pod test`: the main job (harness/report/conformance-run.ts). Exit 0 only when every selected
 * scenario passes; 1 when one fails; 2 for usage or environment errors.
 */
import type { Command } from 'commander';
import type { ConformanceRunOptions } from '../harness/report/conformance-run.ts';
import { UsageError } from '../harness/os/usage-error.ts';
import type { Pod } from '../harness/pod/pod-file.ts';
import { DEFAULT_POD_FILE, MAC_SOURCES, RELAY_KINDS } from '../harness/pod/pod-choices.ts';
import { POLICY_VARIANTS } from '../harness/sg/threat-matrix.ts';
import { loadPod } from './up.ts';
import { progressPrinter } from './progress.ts';

interface TestOptions extends Omit<ConformanceRunOptions, 'podFile' | 'profile'> {
  pod: string;
  profile: string;
  sgDriver?: string;
  sgPolicy?: string;
  relay?: string;
  relayCommand?: string;
  macSources?: string;
}

const PROFILES = ['quick', 'full', 'scale', 'guests'] as const;

export function registerTest(program: Command): void {
  program
    .command('test')
    .description('bring up a pod, run the conformance scenarios, write the report, tear the pod down')
    .option('--pod <file>', 'pod file', DEFAULT_POD_FILE)
    .option('--grep <pattern>', 'only scenarios whose "ID title" matches')
    .option(
      '--profile <name>',
      'quick (skips slow scenarios), full, scale (every instance of the pod verified, a drop-matrix sample; for pods like fixtures/pods/scale-1000.yaml), or guests (the real guest clients and address modes, for fixtures/pods/guests.yaml)',
      'full',
    )
    .option('--shard <i/n>', 'run the I-th of N deterministic slices of the catalogue')
    .option('--keep', 'leave the pod up afterwards (v6pod down RUN removes it)')
    .option('--keep-artifacts', 'keep the captures of passing scenarios too')
    .option('--artifacts <dir>', 'where reports and evidence go (default: artifacts/<run>)')
    .option('--sg-driver <cmd>', 'apply security groups with this external driver instead of the reference one (docs/sg-driver.md)')
    .option(
      '--sg-policy <name>',
      `the security-group policy variant the driver implements, for the threat matrix (${Object.keys(POLICY_VARIANTS).join(', ')}; docs/sg-policy.md)`,
      'v6pod',
    )
    .option('--relay <kind>', `the routers' DHCPv6 relay instead of the pod file's: ${RELAY_KINDS.join(', ')} (docs/relays.md)`)
    .option('--relay-command <cmd>', 'with --relay external: the command run on each router under the contract of docs/relays.md')
    .option('--mac-sources <list>', `Kea's MAC sources instead of the pod file's kea.macSources, comma-separated, in order (${MAC_SOURCES.join(', ')})`)
    .action(async (opts: TestOptions) => {
      const profile = PROFILES.find((p) => p === opts.profile);
      if (!profile) throw new UsageError(`--profile '${opts.profile}' must be quick, full, scale or guests`);
      // The run's code loads once a run is asked for: `v6pod --help` and usage errors stay fast.
      const [{ assertNetAdmin }, { writeReports }, { conformanceRun, parseShard }, { SG_POLICY_ENV }, { relayText }] = await Promise.all([
        import('../netns/privileges.ts'),
        import('../harness/report/artifacts.ts'),
        import('../harness/report/conformance-run.ts'),
        import('../harness/probe/matrix-run.ts'),
        import('../harness/report/result.ts'),
      ]);
      parseShard(opts.shard);
      assertNetAdmin('v6pod test');
      // The driver every deploy and `up` use in this process (harness/sg/driver.ts driverFor).
      if (opts.sgDriver) process.env.V6POD_SG_DRIVER = opts.sgDriver;
      if (opts.sgPolicy && !POLICY_VARIANTS[opts.sgPolicy])
        throw new UsageError(`--sg-policy '${opts.sgPolicy}' must be one of ${Object.keys(POLICY_VARIANTS).join(', ')}`);
      process.env[SG_POLICY_ENV] = opts.sgPolicy ?? 'v6pod';
      const pod = await relayChoice(await loadPod(opts.pod), opts);
      const { result, artifacts } = await conformanceRun(pod, { ...opts, podFile: opts.pod, profile }, progressPrinter());
      const paths = writeReports(artifacts, result);
      const f = result.figures;
      process.stdout.write(
        `\nv6pod test: run ${result.run}: ${f.wallSeconds} s wall (up ${f.upSeconds} s, scenarios ${f.scenariosSeconds} s, down ${f.downSeconds} s)${opts.keep ? `; pod kept: v6pod down ${result.run}` : ''}\n`,
      );
      // Another relay or other Kea MAC sources than the default (docs/relays.md): said with the results.
      if (relayText(result)) process.stdout.write(`${relayText(result).slice(2)}\n`);
      process.stdout.write(`report ${paths.html}\njunit  ${paths.junit}\n`);
      process.stdout.write(
        `${result.totals.passed} passed, ${result.totals.failed} failed${result.totals.skipped ? `, ${result.totals.skipped} skipped` : ''}\n`,
      );
      if (result.totals.failed > 0 || result.totals.passed === 0) process.exitCode = 1;
    });
}

/** The pod with the relay and MAC sources the options choose (the relay interoperability matrix, docs/relays.md). */
async function relayChoice(pod: Pod, opts: TestOptions): Promise<Pod> {
  if (opts.relay === undefined && opts.relayCommand === undefined && opts.macSources === undefined) return pod;
  const { PodFileError, withRelayChoice } = await import('../harness/pod/pod-file.ts');
  try {
    return withRelayChoice(pod, {
      ...(opts.relay !== undefined ? { relay: opts.relay } : {}),
      ...(opts.relayCommand !== undefined ? { relayCommand: opts.relayCommand } : {}),
      ...(opts.macSources !== undefined ? { macSources: opts.macSources.split(',').map((s) => s.trim()) } : {}),
    });
  } catch (err) {
    if (err instanceof PodFileError) throw new UsageError(err.errors.join('\nv6pod: '));
    throw err;
  }
}
