/** closeTaps against the real kernel: all given TAPs go (in one batch), a TAP not given stays open and present. */
import { expect } from 'chai';
import { ScratchNamespace } from '../support/netns.ts';
import { openTap, type TapDevice } from '../../harness/io/tap.ts';
import { closeTaps } from '../../harness/io/tap-bulk-close.ts';

describe('harness/io closeTaps (real kernel)', function () {
  let ns: ScratchNamespace;
  const open: TapDevice[] = [];

  before(async () => {
    ns = await ScratchNamespace.create('bulk', { quiet: true });
  });
  after(async () => {
    for (const t of open.splice(0)) t.close();
    await ns?.delete();
  });

  it('closes and deletes every TAP given, leaves the others alone', async () => {
    const taps = Array.from({ length: 50 }, (_, i) => openTap(`bk${i}`, { netns: ns.path }));
    open.push(...taps);
    const kept = openTap('bkkeep', { netns: ns.name });
    open.push(kept);
    taps[0]!.onFrames(() => undefined); // a polled one too
    expect(await closeTaps(taps), 'deleted as one group').to.deep.equal({ batched: 50 });
    expect(taps.every((t) => t.closed)).to.equal(true);
    const { stdout } = await ns.ip('-json', 'link', 'show');
    const names = (JSON.parse(stdout) as { ifname: string }[]).map((l) => l.ifname);
    expect(names.sort()).to.deep.equal(['bkkeep', 'lo']);
    expect(kept.closed).to.equal(false);
    expect(kept.netns).to.equal(ns.path);
    expect(await closeTaps(taps), 'already closed: nothing to do').to.deep.equal({ batched: 0 });
  });
});
