/**
 * The `v6pod` command line. Each verb lives in cli/<verb>.ts and registers itself here;
 * usage errors and UsageError exit 2 with one line, never a stack trace.
 */
import { Command, CommanderError } from 'commander';
import { UsageError } from '../harness/os/usage-error.ts';
import { WaitTimeout } from '../harness/os/wait.ts';
import { DaemonError } from '../netns/daemons/process.ts';
import { CommandError } from '../harness/os/exec.ts';
import { PoolExhaustedError } from '../harness/control/allocator.ts';
import { registerDecode } from './decode.ts';
import { registerValidate } from './validate.ts';
import { registerUp } from './up.ts';
import { registerDown } from './down.ts';
import { registerTest } from './test.ts';
import { registerVm } from './vm.ts';
import { registerStatus } from './status.ts';
import { registerExec } from './exec.ts';
import { registerGraph } from './graph.ts';
import { registerCapture } from './capture.ts';
import { registerReport } from './report.ts';
import { rootlessChoice, runInUserns } from '../netns/userns.ts';

// Output piped into `head` and closed early is not an error.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(0);
  throw err;
});

const program = new Command('v6pod')
  .description('IPv6 CloudStack Basic Networking pod: build it from namespaces, test it, tear it down')
  // Taken out of the arguments before parsing (rootlessChoice); listed here for --help.
  .option('--rootless', "run in the user's own user namespace even as root (any other user always does; docs/rootless.md)")
  .showHelpAfterError(false)
  .exitOverride();

registerDecode(program);
registerValidate(program);
registerUp(program);
registerDown(program);
registerTest(program);
registerVm(program);
registerStatus(program);
registerExec(program);
registerGraph(program);
registerCapture(program);
registerReport(program);

try {
  // A user other than root (or --rootless) runs the verbs that act on runs inside the user's own
  // namespaces: the command runs again there, and its exit code is this one's.
  const { enter, argv } = rootlessChoice(process.argv);
  if (enter) process.exitCode = await runInUserns(argv);
  else await program.parseAsync(argv);
} catch (err) {
  if (err instanceof CommanderError) {
    process.exitCode = err.exitCode === 0 ? 0 : 2;
  } else if (err instanceof UsageError) {
    process.stderr.write(`v6pod: ${err.message}\n`);
    process.exitCode = 2;
  } else if (err instanceof WaitTimeout || err instanceof DaemonError || err instanceof CommandError || err instanceof PoolExhaustedError) {
    // The pod did not come to be (a daemon, a command, a deadline): one line, no stack trace.
    process.stderr.write(`v6pod: ${err.message}\n`);
    process.exitCode = 1;
  } else {
    process.stderr.write(`v6pod: internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  }
}
