import { expect } from 'chai';
import { Command } from 'commander';
import { fileURLToPath } from 'node:url';
import { registerValidate } from './validate.ts';

const pods = fileURLToPath(new URL('../fixtures/pods/', import.meta.url));
const invalid = `${pods}invalid/`;

describe('v6pod validate', () => {
  async function run(file: string): Promise<{ out: string; err: string; code: number | string | undefined }> {
    const program = new Command('v6pod').exitOverride();
    registerValidate(program);
    const out: string[] = [];
    const err: string[] = [];
    const [stdout, stderr, exitCode] = [process.stdout.write, process.stderr.write, process.exitCode];
    const capture = (into: string[]) => ((s: string) => into.push(s) > 0) as typeof process.stdout.write;
    process.stdout.write = capture(out);
    process.stderr.write = capture(err);
    try {
      await program.parseAsync(['validate', file], { from: 'user' });
      return { out: out.join(''), err: err.join(''), code: process.exitCode };
    } finally {
      [process.stdout.write, process.stderr.write, process.exitCode] = [stdout, stderr, exitCode];
    }
  }

  it('prints a summary for a good file', async () => {
    const file = `${pods}default.yaml`;
    expect(await run(file)).to.deep.equal({ out: `${file}: ok (2 hypervisors, 4 instances)\n`, err: '', code: undefined });
  });

  it('prints every error line on stderr and sets exit code 2', async () => {
    const file = `${invalid}wrong-types.yaml`;
    const result = await run(file);
    expect(result.out).to.equal('');
    expect(result.err.trimEnd().split('\n')).to.have.length(3);
    expect(result.err).to.not.match(/\bat .*\.ts:\d+/);
    expect(result.code).to.equal(2);
  });
});
