/**
 * The measure of done: as an unprivileged user (nobody, no capabilities, its own HOME and
 * artifacts folder) `v6pod test` on the default pod passes every scenario inside the user's own
 * namespaces, the host's links, IPv6 routes, nftables ruleset and named namespaces are the same
 * before and after, and nothing of the user's is left (the keeper exits with the last run).
 */
import { expect } from 'chai';
import { rmSync } from 'node:fs';
import { asUser, foreignNamespaces, hostView, userHome, userLeftovers, type HostView } from './testing.ts';

describe('rootless: v6pod test as nobody', function () {
  this.timeout(300_000);
  let home: string;

  before(function () {
    if (process.getuid?.() !== 0) this.skip();
    home = userHome('rootless-test');
  });

  after(() => {
    if (home) rmSync(home, { recursive: true, force: true });
  });

  it('passes every scenario of the default pod and leaves the host and the user as they were', async () => {
    const before: HostView = await hostView();
    const r = asUser(home, ['test', '--artifacts', `${home}/artifacts`], 280_000);
    const after = await hostView();
    const output = `${r.stdout.slice(-3000)}${r.stderr.slice(-2000)}`;
    expect(r.status, `v6pod test as nobody exited ${r.status}:\n${output}`).to.equal(0);
    expect(r.stdout).to.match(/^\d+ passed, 0 failed$/m);
    const run = /v6pod test: run (\S+):/.exec(r.stdout)?.[1];
    expect(run, 'the run name in the figures line').to.be.a('string');

    expect(after.links, 'the host links (ip -d link)').to.equal(before.links);
    expect(after.routes, 'the host routes (ip -6 route show table all)').to.equal(before.routes);
    expect(after.nft, 'the host ruleset (nft list ruleset)').to.equal(before.nft);
    expect(foreignNamespaces(before, after), 'named namespaces that appeared on the host').to.deep.equal([]);
    expect(after.namespaces.filter((ns) => ns.startsWith(`v6p-${run}.`))).to.deep.equal([]);
    expect(userLeftovers(home), "what is left of the user's pods").to.deep.equal([]);
  });
});
