/**
 * The relay itself fed mutated packets on both of its sides while it runs in a pod
 * (relay-fuzz.ts): seeded mutants of the golden capture's DHCPv6 frames and random bytes injected
 * on the pod LAN toward it, mutated Relay-Replies sent to its service address from Kea's address.
 * 50,000 here (a few seconds); `npm run bench -- reliability` puts 1,000,000 through it.
 *
 * Pass: the relay stays alive and answers its control socket; its counters account for every
 * packet (client side = what tcpdump with its capture filter saw on its port; server side = what
 * was sent to it, ours and Kea's, less the kernel's socket-buffer drops; every client message
 * received was relayed, every Relay-Reply received delivered or dropped for a reason); a valid
 * client completes acquire + renew before, during and after.
 */
import { expect } from 'chai';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { loadPodFile } from '../../harness/pod/pod-file.ts';
import { teardownRun } from '../../netns/teardown.ts';
import { uniqueRunName } from '../../harness/pod/names.ts';
import { relayFuzz, upFuzzPod, type RelayFuzzResult } from './relay-fuzz.ts';
import { smallPodFile } from './testing.ts';

const SEED = 0xf0221;
const PACKETS = 50_000;

describe('the relay fed mutated packets on both sides while a valid client is served', function () {
  this.timeout(180_000);
  const name = `rf${(process.pid % 0xffff).toString(16)}`;
  const podFile = smallPodFile(name, 1);
  const runName = uniqueRunName(name);
  let result: RelayFuzzResult;

  before(async () => {
    const { plan, router } = await upFuzzPod(loadPodFile(podFile), podFile, runName);
    result = await relayFuzz({ plan, router, packets: PACKETS, seed: SEED, valid: plan.instances[0]! });
    // The figures, for the log: what the relay took and what it did with it.
    console.log(
      `      ${JSON.stringify({ seconds: result.seconds, lan: result.lan, server: result.server, observer: result.observer, keaSent: result.keaSent, rcvbufErrors: result.rcvbufErrors, valid: result.valid, counters: result.counters })}`,
    );
  });

  after(async () => {
    await teardownRun(runName);
    rmSync(join(podFile, '..'), { recursive: true, force: true });
  });

  it(`${PACKETS} packets went through the relay, on both sides`, () => {
    expect(result.sides.clientSeen + result.sides.serverSeen).to.be.at.least(PACKETS);
    expect(result.lan.reaching, 'LAN frames past its capture filter').to.be.greaterThan(PACKETS / 2);
    expect(result.server.sent, 'datagrams at its service address').to.be.greaterThan(PACKETS / 10);
    // Both verdicts happened: some relayed, some dropped for reasons.
    expect(result.sides.receivedClient, 'client messages relayed').to.be.greaterThan(0);
    expect(Object.keys(result.counters.dropped).length, 'drop reasons seen').to.be.greaterThan(3);
  });

  it('the relay is alive and answers its control socket', () => {
    expect(result.relayAlive).to.equal(true);
  });

  it('its counters account for every packet, and the valid client was served before, during and after', () => {
    expect(result.problems).to.deep.equal([]);
    expect(result.valid.before && result.valid.after).to.equal(true);
    expect(result.valid.during.ok).to.be.greaterThan(0);
  });
});
