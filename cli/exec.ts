/**
 * `v6pod exec [--run NAME] NODE -- CMD…`: runs CMD inside the node's namespace with this terminal
 * (stdin, stdout, stderr inherited) and exits with CMD's exit code (128+N when signal N ended it).
 */
import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import type { Command } from 'commander';
import { nsArgv } from '../harness/os/exec.ts';
import { UsageError } from '../harness/os/usage-error.ts';

/** Runs argv in a namespace with inherited stdio; resolves with its exit code. */
export function execInherited(ns: string, argv: string[]): Promise<number> {
  const full = nsArgv(ns, argv);
  const child = spawn(full[0]!, full.slice(1), { stdio: 'inherit' });
  // Ctrl-C reaches CMD through the terminal's process group: v6pod waits for CMD's own exit code.
  const ignore = () => undefined;
  process.on('SIGINT', ignore);
  return new Promise<number>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code, signal) => resolve(code ?? 128 + (signal ? constants.signals[signal] : 0)));
  }).finally(() => process.off('SIGINT', ignore));
}

export function registerExec(program: Command): void {
  // Everything after NODE belongs to CMD (`v6pod exec vm1 ping -c1 …`), which commander allows
  // only when the parent parses its options positionally; v6pod has no options of its own.
  program.enablePositionalOptions();
  program
    .command('exec')
    .description("run a command in a node's namespace; exits with its exit code")
    .option('--run <name>', 'run name (default: the only run)')
    .argument('<node>', 'node name (core, r1, kea, tor, hv1, vm1 …)')
    .argument('<cmd...>', 'the command and its arguments (after --)')
    .passThroughOptions()
    .action(async (node: string, cmd: string[], opts: { run?: string }) => {
      const argv = cmd[0] === '--' ? cmd.slice(1) : cmd;
      if (!argv.length) throw new UsageError('exec: no command given (v6pod exec NODE -- CMD…)');
      const [{ planNode, planOfRun }, { resolveRun }] = await Promise.all([import('../netns/inspect.ts'), import('./run-option.ts')]);
      const { plan } = planOfRun(resolveRun(opts.run));
      process.exitCode = await execInherited(planNode(plan, node).ns, argv);
    });
}
