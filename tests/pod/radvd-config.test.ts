/**
 * radvd's rate limit for solicited RAs follows the pod's size (netns/daemons/radvd.ts): small
 * pods answer an RS within MAX_RA_DELAY_TIME (SLAAC-004), large ones send fewer RAs, each of which
 * floods every instance port, and never beyond RFC 4861's MIN_DELAY_BETWEEN_RAS.
 */
import { expect } from 'chai';
import { loadPodFile, DEFAULT_POD_FILE } from '../../harness/pod/pod-file.ts';
import { buildPlan } from '../../harness/pod/plan.ts';
import { minDelayBetweenRAs, radvdConfig } from '../../netns/daemons/radvd.ts';

describe('radvd configuration', () => {
  it('a pod of up to 100 instances answers RSs at once; larger pods wait longer between RAs, up to 3 s', () => {
    expect(minDelayBetweenRAs(4)).to.equal(0.05);
    expect(minDelayBetweenRAs(100)).to.equal(0.05);
    expect(minDelayBetweenRAs(1000)).to.equal(0.5);
    expect(minDelayBetweenRAs(5000)).to.equal(2.5);
    expect(minDelayBetweenRAs(20000)).to.equal(3);
    // Each instance hears an answer (at most the delay plus MAX_RA_DELAY_TIME) before its next RS, 4 s later.
    for (const n of [1, 1000, 5000, 10000, 100000]) expect(minDelayBetweenRAs(n) + 0.5, `${n} instances`).to.be.below(4);
  });

  it("the default pod's radvd.conf carries its rate limit", () => {
    const plan = buildPlan(loadPodFile(DEFAULT_POD_FILE), 'cfg', {});
    expect(radvdConfig(plan)).to.match(/^\s*MinDelayBetweenRAs 0\.05;$/m);
  });
});
