/**
 * The `v6pod` command line. Each verb lives in netns/commands/<verb>.ts and registers itself here;
 * usage errors and UsageError exit 2 with one line, never a stack trace.
 */
import { Command, CommanderError } from 'commander';
import { UsageError } from './usage-error.ts';
import { WaitTimeout } from './wait.ts';
import { DaemonError } from './daemons/process.ts';
import { CommandError } from './exec.ts';
import { PoolExhaustedError } from '../harness/control/allocator.ts';
import { registerDecode } from './commands/decode.ts';
import { registerValidate } from './commands/validate.ts';
import { registerUp } from './commands/up.ts';
import { registerDown } from './commands/down.ts';
import { registerTest } from './commands/test.ts';
import { registerVm } from './commands/vm.ts';
import { registerStatus } from './commands/status.ts';
import { registerExec } from './commands/exec.ts';
import { registerGraph } from './commands/graph.ts';
import { registerCapture } from './commands/capture.ts';
import { registerReport } from './commands/report.ts';

// Output piped into `head` and closed early is not an error.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(0);
  throw err;
});

const program = new Command('v6pod')
  .description('IPv6 CloudStack Basic Networking pod: build it from namespaces, test it, tear it down')
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
  await program.parseAsync(process.argv);
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
