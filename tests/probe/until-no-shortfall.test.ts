/**
 * untilNoShortfall: while waiting it re-reads only the instances still short, and its verdict is
 * one read of them all, so an instance that fell short again after passing is not missed.
 */
import { expect } from 'chai';
import { untilNoShortfall, type Shortfall } from '../../harness/probe/fleet.ts';
import type { InstancePlan } from '../../harness/pod/plan.ts';
import { ControlTimeout } from '../../harness/os/control-socket.ts';

const fleet = ['a', 'b', 'c', 'd'].map((name) => ({ name }) as InstancePlan);

/** A check over scripted rounds: each round names the instances short in it; records what it was asked. */
function scripted(rounds: string[][]) {
  const asked: string[][] = [];
  const check = (some: readonly InstancePlan[]): Promise<Shortfall[]> => {
    asked.push(some.map((i) => i.name));
    const short = rounds[Math.min(asked.length - 1, rounds.length - 1)]!;
    return Promise.resolve(some.filter((i) => short.includes(i.name)).map((i) => ({ instance: i.name, lacks: 'a route' })));
  };
  return { asked, check };
}

describe('untilNoShortfall', () => {
  it('re-reads only the instances still short, then all of them once for the verdict', async () => {
    const { asked, check } = scripted([['b', 'c'], ['c'], []]);
    await untilNoShortfall('routed', fleet, check, 5000);
    expect(asked).to.deep.equal([['a', 'b', 'c', 'd'], ['b', 'c'], ['c'], ['a', 'b', 'c', 'd']]);
  });

  it('keeps waiting when the verdict finds one that fell short again after it passed', async () => {
    const { asked, check } = scripted([['b'], [], ['a'], [], []]);
    await untilNoShortfall('routed', fleet, check, 5000);
    expect(asked).to.deep.equal([['a', 'b', 'c', 'd'], ['b'], ['a', 'b', 'c', 'd'], ['a'], ['a', 'b', 'c', 'd']]);
  });

  it('passes at once with a single read when nothing is short', async () => {
    const { asked, check } = scripted([[]]);
    await untilNoShortfall('routed', fleet, check, 5000);
    expect(asked).to.have.length(1);
  });

  it('asks again when a daemon does not answer in time, and names it if it never does', async () => {
    let calls = 0;
    await untilNoShortfall(
      'routed',
      fleet,
      () => (++calls === 1 ? Promise.reject(new ControlTimeout("no answer to 'state' on hv1.sock within 10 ms")) : Promise.resolve([])),
      5000,
    );
    expect(calls).to.equal(2);
    let error: Error | undefined;
    await untilNoShortfall('routed', fleet, () => Promise.reject(new ControlTimeout("no answer to 'state' on hv1.sock within 10 ms")), 100).catch(
      (err: Error) => (error = err),
    );
    expect(error?.message).to.match(/waiting for routed: no answer to 'state' on hv1\.sock within 10 ms$/);
    const broken = await untilNoShortfall('routed', fleet, () => Promise.reject(new Error('the synthetic host on hv1 did not answer')), 5000).catch(
      (err: Error) => err,
    );
    expect((broken as Error).message, 'any other failure ends the wait at once').to.equal('the synthetic host on hv1 did not answer');
  });

  it('names the instances still short at the deadline', async () => {
    const { check } = scripted([['d']]);
    let error: Error | undefined;
    await untilNoShortfall('every prefix routed', fleet, check, 100).catch((err: Error) => (error = err));
    expect(error?.message).to.match(/waiting for every prefix routed: 1 of 4 instances fail: d: a route$/);
  });
});
