/**
 * Robustness: decodeFrame on random and mutated buffers either returns or throws a DecodeError
 * that points into the buffer; any other exception is a codec bug (a crash on hostile input).
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { fileURLToPath } from 'node:url';
import { DecodeError } from './errors.ts';
import { buildFrame, decodeFrame } from './frame.ts';
import { readPcap } from './pcap.ts';
import { frameArb } from './testing/frame-arbitraries.ts';
import { sampleRelayForwardFrame } from './testing/samples.ts';

const SEED = 0x5eed6;
const RANDOM_BUFFERS = 20_000;
const MUTANTS = 100_000;
import { mutate, randomFrame } from './testing/mutate.ts';
import { prng } from '../os/prng.ts';

const GOLDEN = fileURLToPath(new URL('../../fixtures/golden/link.pcap', import.meta.url));

describe('decodeFrame fuzzing', function () {
  it(`throws only DecodeError, pointing into the buffer, on ${RANDOM_BUFFERS + MUTANTS} random and mutated frames`, function () {
    const golden = readPcap(GOLDEN).records.map((r) => Buffer.from(r.data));
    const generated = fc.sample(frameArb, { numRuns: 500, seed: SEED }).map(buildFrame);
    const corpus = [...golden, buildFrame(sampleRelayForwardFrame()), ...generated];
    const rng = prng(SEED);
    const counts = { decoded: 0, rejected: 0, failed: 0 };
    const failures: string[] = [];
    const rejectedBy = new Map<string, number>();

    const check = (buf: Buffer) => {
      try {
        decodeFrame(buf);
        counts.decoded++;
      } catch (err) {
        const ok =
          err instanceof DecodeError && err.layer !== '' && err.field !== '' && Number.isInteger(err.offset) && err.offset >= 0 && err.offset <= buf.length;
        if (ok) {
          counts.rejected++;
          rejectedBy.set(err.layer, (rejectedBy.get(err.layer) ?? 0) + 1);
        } else if (counts.failed++ < 5)
          failures.push(`${String(err)}${err instanceof DecodeError ? ` (offset ${err.offset}, length ${buf.length})` : ''}\n  input ${buf.toString('hex')}`);
      }
    };

    for (let i = 0; i < RANDOM_BUFFERS; i++) check(randomFrame(rng));
    for (let i = 0; i < MUTANTS; i++) check(mutate(rng.pick(corpus), rng, corpus));

    const { decoded, rejected, failed } = counts;
    const layers = [...rejectedBy].map(([layer, n]) => `${layer} ${n}`).join(', ');
    console.log(`      fuzz: ${decoded + rejected + failed} buffers: ${decoded} decoded, ${rejected} rejected with DecodeError (${layers}), ${failed} failed`);
    console.log(`      corpus: ${golden.length} golden frames + ${corpus.length - golden.length} built frames`);
    expect(failed, failures.join('\n')).to.equal(0);
  });
});
