/** `v6pod down [RUN] [--all]`: remove a run, or every run left up or orphaned. Only v6pod's objects. */
import type { Command } from 'commander';

export function registerDown(program: Command): void {
  program
    .command('down')
    .description('remove a run: its daemons, namespaces, links and run directory')
    .argument('[run]', 'run name (default: the only run)')
    .option('--all', 'every run left up, whose owner died, or whose namespaces lost their run directory')
    .action(async (named: string | undefined, opts: { all?: boolean }) => {
      const [{ sweepableRuns, teardownRun }, { assertNetAdmin }, { resolveRun }] = await Promise.all([
        import('../netns/teardown.ts'),
        import('../netns/privileges.ts'),
        import('./run-option.ts'),
      ]);
      assertNetAdmin('v6pod down');
      const runs = opts.all ? sweepableRuns() : [resolveRun(named)];
      for (const r of runs) {
        const { namespaces, daemons } = await teardownRun(r);
        process.stdout.write(`down: run ${r}: ${daemons} daemons stopped, ${namespaces} namespaces removed\n`);
      }
      if (opts.all && runs.length === 0) process.stdout.write('down: nothing to remove\n');
    });
}
