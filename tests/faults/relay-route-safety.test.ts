/**
 * Relay route safety (found by the relay fuzz): a relay that installed `ip route replace
 * PREFIX via PEER dev lan proto 201` for any IA_PD prefix a Reply carried let a Reply delegating
 * ::/0 *replace the router's own default route* (same prefix, table and metric 1024), and the Reply
 * ending it (valid lifetime 0) delete the replacement: after 50,000 fuzzed packets r1 had no default
 * route and routed ::/1, 2000::/6 … to the fuzzer. The relay now routes only prefixes inside the
 * pod's delegation pool and counts the rest as refused (the Reply itself is still delivered).
 *
 * Procedure: one Relay-Reply from Kea's address to r1's service address around a Reply with
 * IA_PD { IAPREFIX ::/0, valid 4000 }, then the same with valid 0. Pass: the router's default route
 * via the core is untouched after each, and the relay counted both prefixes as refused.
 */
import { expect } from 'chai';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { loadPodFile } from '../../harness/pod/pod-file.ts';
import { teardownRun } from '../../netns/teardown.ts';
import { uniqueRunName } from '../../harness/pod/names.ts';
import type { Plan, RouterPlan } from '../../harness/pod/plan.ts';
import { ipJson } from '../../harness/os/exec.ts';
import { waitUntil } from '../../harness/os/wait.ts';
import { relayCommand, relayConfig, relayPaths } from '../../netns/daemons/relay.ts';
import { encodeDhcpv6 } from '../../harness/packet/dhcpv6.ts';
import type { CounterSnapshot } from '../../harness/relay/counters.ts';
import { FUZZ_LINK_LOCAL, Injector, upFuzzPod } from './relay-fuzz.ts';
import { smallPodFile } from './testing.ts';

describe("relay route safety: a delegated ::/0 never replaces or removes the router's default route", function () {
  this.timeout(60_000);
  const name = `rs${(process.pid % 0xffff).toString(16)}`;
  const podFile = smallPodFile(name, 1);
  const runName = uniqueRunName(name);
  let plan: Plan;
  let router: RouterPlan;

  before(async () => {
    ({ plan, router } = await upFuzzPod(loadPodFile(podFile), podFile, runName));
  });
  after(async () => {
    await teardownRun(runName);
    rmSync(join(podFile, '..'), { recursive: true, force: true });
  });

  const defaults = async () =>
    (await ipJson<Array<{ dst: string; gateway?: string; dev?: string; protocol?: string }>>(router.ns, ['-6', 'route', 'show', 'default'])).map(
      (r) => `${r.dst} via ${r.gateway} dev ${r.dev}${r.protocol ? ` proto ${r.protocol}` : ''}`,
    );
  const counters = async () => (await relayCommand(relayPaths(runName, router.name).socket, 'counters')).arguments as unknown as CounterSnapshot;
  const replies = async () => (await counters()).sent['client:reply'] ?? 0;

  /** The Relay-Reply Kea would send around a Reply delegating ::/0 with this valid lifetime. */
  function delegatingDefault(valid: number): string {
    const cfg = relayConfig(plan, router);
    return encodeDhcpv6({
      type: 'relay-reply',
      hopCount: 0,
      linkAddress: cfg.linkAddress,
      peerAddress: FUZZ_LINK_LOCAL,
      options: [
        { type: 'interface-id', id: Buffer.from(cfg.interfaceId) },
        {
          type: 'relay-message',
          message: {
            type: 'reply',
            transactionId: 0x00d0d0 + valid,
            options: [
              {
                type: 'ia-pd',
                iaid: 1,
                t1: 0,
                t2: 0,
                options: [{ type: 'iaprefix', preferredLifetime: Math.min(valid, 3000), validLifetime: valid, prefixLength: 0, prefix: '::', options: [] }],
              },
            ],
          },
        },
      ],
    }).toString('hex');
  }

  it("r1's default route via the core survives a Reply delegating ::/0, and the Reply ending it", async () => {
    const cfg = relayConfig(plan, router);
    const own = await defaults();
    expect(own, 'positive control: r1 routes default via the core').to.have.length(1);
    const refusedBefore = (await counters()).routes.refused;
    const server = new Injector(plan.kea.ns, {
      side: 'server',
      seed: 1,
      from: plan.kea.address,
      to: cfg.serviceAddress,
      replay: [delegatingDefault(4000), delegatingDefault(0)],
    });
    try {
      for (const step of ['delegating ::/0', 'ending it (valid lifetime 0)']) {
        const before = await replies();
        await server.send(1);
        // The relay delivered the Reply (so it acted on it) before the routes are judged.
        await waitUntil(async () => (await replies()) > before, { timeoutMs: 10_000, what: `the relay to deliver the Reply ${step}` });
        await waitUntil(async () => JSON.stringify(await defaults()) === JSON.stringify(own), {
          timeoutMs: 2000,
          what: `r1's default route to be its own after the Reply ${step}`,
        }).catch(() => undefined);
        expect(await defaults(), `r1's default routes after the Reply ${step}`).to.deep.equal(own);
      }
      expect((await counters()).routes.refused - refusedBefore, 'prefixes refused outside the delegation pool').to.equal(2);
    } finally {
      await server.close();
    }
  });
});
