/**
 * Kill trials of rootless runs: `v6pod up` as nobody SIGKILLed at seeded random points (before the
 * keeper exists, while the namespaces and daemons come up, after); then `v6pod down --all` as the
 * same user leaves nothing: no run directory, no keeper, no process in the user's namespace.
 */
import { expect } from 'chai';
import { rmSync } from 'node:fs';
import { waitUntil } from '../../harness/os/wait.ts';
import { prng } from '../../harness/os/prng.ts';
import { asUser, spawnAsUser, userHome, userLeftovers } from './testing.ts';

const SEED = Number(process.env.V6POD_KILL_SEED ?? 18);
const TRIALS = 3;
/** ms after spawn: the CLI starts in ~0.3 s compiled (~1 s from the sources), up takes ~2-3 s more. */
const WINDOW = [150, 3500] as const;

describe('rootless: SIGKILLed up, then down --all', function () {
  this.timeout(240_000);
  let home: string;

  before(function () {
    if (process.getuid?.() !== 0) this.skip();
    home = userHome('rootless-kill');
  });

  after(() => {
    if (!home) return;
    asUser(home, ['down', '--all']);
    rmSync(home, { recursive: true, force: true });
  });

  const rng = prng(SEED);
  for (let i = 0; i < TRIALS; i++) {
    const delayMs = rng.between(WINDOW[0], WINDOW[1]);
    it(`trial ${i} (seed ${SEED}): killed ${delayMs} ms into up, down --all leaves nothing and the keeper exits`, async () => {
      const child = spawnAsUser(home, ['up', '--run', `rlk${i}`]);
      let output = '';
      child.stdout.on('data', (b: Buffer) => (output += b.toString()));
      child.stderr.on('data', (b: Buffer) => (output += b.toString()));
      const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
      await Promise.race([new Promise((r) => setTimeout(r, delayMs)), exited]);
      child.kill('SIGKILL');
      await exited;

      const down = asUser(home, ['down', '--all']);
      expect(down.status, `down --all exited ${down.status} after up was killed (up said: ${output.trim()}):\n${down.stderr}`).to.equal(0);
      // What the killed up had started on its way (an `ip` half-way) ends by itself: bounded wait.
      await waitUntil(() => userLeftovers(home).length === 0, {
        timeoutMs: 10_000,
        what: () => `nothing left of the user's pods (left: ${userLeftovers(home).join('; ')})`,
      });
    });
  }
});
