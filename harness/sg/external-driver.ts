/** A security-group implementation other than v6pod's, run through the external-driver contract (docs/sg-driver.md). */
import { spawn } from 'node:child_process';
import { nsArgv } from '../os/exec.ts';
import { driverRequest, type HypervisorRef, type SgDriver, type SgVerb } from './driver.ts';
import type { SgInstance } from './model.ts';

/** How long an external driver may take for one verb before it is killed and the verb fails. */
const EXTERNAL_TIMEOUT_MS = 30_000;

/**
 * Another implementation behind the contract: `CMD VERB` inside the hypervisor's namespace with the
 * request on stdin; exit 0 means applied. CMD is split on whitespace (no shell), so a path with
 * arguments works and nothing is interpreted.
 */
export class ExternalDriver implements SgDriver {
  private readonly argv: string[];
  constructor(readonly command: string) {
    this.argv = command.trim().split(/\s+/).filter(Boolean);
    if (!this.argv.length) throw new Error('--sg-driver needs a command');
  }

  get name(): string {
    return `external: ${this.command}`;
  }

  add(hv: HypervisorRef, inst: SgInstance): Promise<void> {
    return this.call('add', hv, inst);
  }

  update(hv: HypervisorRef, inst: SgInstance): Promise<void> {
    return this.call('update', hv, inst);
  }

  remove(hv: HypervisorRef, inst: SgInstance): Promise<void> {
    return this.call('remove', hv, inst);
  }

  private call(verb: SgVerb, hv: HypervisorRef, inst: SgInstance): Promise<void> {
    const argv = nsArgv(hv.ns, [...this.argv, verb]);
    const input = `${JSON.stringify(driverRequest(verb, hv, inst))}\n`;
    return new Promise((resolve, reject) => {
      const child = spawn(argv[0]!, argv.slice(1), { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, V6POD_SG_VERB: verb } });
      let stderr = '';
      child.stdout.resume(); // its stdout is its own business; never let it block on a full pipe
      child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr = (stderr + d).slice(-4096)));
      const timer = setTimeout(() => child.kill('SIGKILL'), EXTERNAL_TIMEOUT_MS);
      const fail = (why: string) => {
        const last = stderr.trim().split('\n').filter(Boolean).slice(-1)[0];
        reject(new Error(`security-group driver '${this.command} ${verb}' for ${inst.name} on ${hv.name} ${why}${last ? `: ${last}` : ''}`));
      };
      child.on('error', (err) => {
        clearTimeout(timer);
        fail(`did not start (${err.message})`);
      });
      child.on('close', (code, signal) => {
        clearTimeout(timer);
        if (code === 0) resolve();
        else fail(signal ? `was killed (${signal}${signal === 'SIGKILL' ? `, over ${EXTERNAL_TIMEOUT_MS / 1000} s` : ''})` : `failed (exit ${code})`);
      });
      child.stdin.on('error', () => undefined); // a driver that ignores stdin may close it early
      child.stdin.end(input);
    });
  }
}
