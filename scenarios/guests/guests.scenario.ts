/**
 * The guest matrix (`v6pod test --pod fixtures/pods/guests.yaml --profile guests`; docs/guests.md):
 * the DHCPv6 clients cloud images ship, each the real Debian 12 program run by `up` in its own
 * instance (the pod file's `client:`), against the routers' relays and Kea — one row per client,
 * one column per capability a guest needs in Basic Networking — and the address modes a guest OS
 * may use instead of the EUI-64 address CloudStack computes. A capability a client lacks is
 * declared in the capability table with its reason and reported unsupported, never as a pass.
 */
import { expect } from 'chai';
import {
  CLIENT_FACTS,
  core,
  delegatedIn,
  dhcpv6Of,
  expectDelivered,
  expectDropped,
  expectRoute,
  guest,
  iaPdsIn,
  instances,
  ownAddresses,
  reservedPrefixes,
  routers,
  routesVia,
  saysNoPrefixAvail,
  scenario,
  unsupportedBy,
  waitNoRoutes,
  waitRoutesOnAllRouters,
  watching,
  datagramToCore,
  echoToCore,
  type CapturedFrame,
  type GuestCapability,
  type InstancePlan,
  type RealClient,
} from '../../harness/probe/api.ts';
import { Prefix } from '../../harness/addr/prefix.ts';
import { echoRequest } from '../../harness/packet/builders.ts';

const CLIENTS = Object.keys(CLIENT_FACTS) as RealClient[];
const CLIENT_REFERENCE = 'seed: "DHCPv6+Prefix Delegation", "multiple prefixes per Instances should be allowed"; RFC 8415 §18, §21.21; docs/guests.md';

/** The pod's instance running `client` with a reservation (reserved) or without one. */
function guestOf(client: RealClient, reserved: boolean): InstancePlan {
  const found = instances().find((i) => i.client === client && i.prefixes > 0 === reserved);
  if (!found) throw new Error(`the pod has no instance running ${client} ${reserved ? 'with' : 'without'} a reservation (see fixtures/pods/guests.yaml)`);
  return found;
}

const fromMac = (mac: string) => (f: CapturedFrame) => f.frame.ethernet.src === mac;
const toMac = (mac: string) => (f: CapturedFrame) => f.frame.ethernet.dst === mac;

/** Waits until both routers route exactly the reservation via the guest's link-local (and nothing else via it). */
async function expectExactlyRouted(plan: InstancePlan, reserved: readonly string[], timeoutMs = 15_000): Promise<void> {
  await waitRoutesOnAllRouters(reserved, plan.linkLocal, timeoutMs);
  for (const r of routers()) for (const p of reserved) await expectRoute(r, p, { via: plan.linkLocal });
  const via = (await routesVia(plan.linkLocal)).map((x) => x.prefix);
  expect([...new Set(via)].sort(), `prefixes any router routes via ${plan.name}'s link-local`).to.deep.equal([...reserved].sort());
}

const EXPECT: Record<GuestCapability, (c: RealClient) => string> = {
  delegation: (c) => `its ${CLIENT_FACTS[c].maxIaPds > 1 ? 'two reserved /60s' : 'reserved /60'}, routed on both routers`,
  'two-prefixes': () => 'two IA_PDs, one reserved /60 in each',
  renew: () => 'Renew/Rebind keeps prefixes and routes',
  shutdown: (c) => (CLIENT_FACTS[c].releasesOnShutdown ? 'Release: both routes removed' : 'no Release: routes kept until the lease expires'),
  'no-reservation': () => 'NoPrefixAvail, retries, nothing routed',
  traffic: () => 'SLAAC, link-local, delegated sources pass',
};

const TITLE: Record<GuestCapability, string> = {
  delegation: 'gets exactly its reservation, each prefix routed on both routers via its link-local',
  'two-prefixes': 'asks for two IA_PDs and gets one reserved prefix in each',
  renew: 'a Renew or Rebind keeps its prefixes, and both routers keep routing them',
  shutdown: 'stopped as its OS stops it at shutdown: a Release removes the routes on both routers, or they stay until the lease expires',
  'no-reservation': 'without a reservation it gets NoPrefixAvail, keeps retrying within RFC 8415 bounds, and nothing is routed to it',
  traffic: 'its own traffic passes its security group: from its SLAAC address, its link-local and an address in its delegated prefix',
};

const PROVES: Record<GuestCapability, string> = {
  delegation: 'a guest running this client receives exactly what CloudStack reserved for its MAC, and the pod routes it',
  'two-prefixes': 'a guest with two reserved prefixes can hold both with this client',
  renew: 'the relays follow the lease as the client keeps it: a renewed or rebound prefix stays routed on both routers',
  shutdown: 'what an operator sees when a guest shuts down: the client releases (routes gone at once) or not (routes stay until the lease expires)',
  'no-reservation': 'Kea delegates only what CloudStack reserved, and the real client copes with NoPrefixAvail without a Solicit storm',
  traffic: 'the security group admits everything this guest legitimately sends as a Basic Networking instance',
};

/** Scenario bodies, one per capability. */
const BODY: Record<GuestCapability, (c: RealClient) => Promise<void>> = {
  async delegation(c) {
    // Set up: the guest and its reservation; `up` started its client.
    const g = guest(guestOf(c, true));
    const reserved = await reservedPrefixes(g.plan);
    expect(reserved, `${g.plan.name}'s reservation`).to.have.length(g.plan.prefixes);

    // Act: none — the client runs from boot. Pass criteria: both routers route exactly the
    // reservation via its link-local.
    expect(g.running(), `${c} runs in ${g.plan.name}`).to.equal(true);
    await expectExactlyRouted(g.plan, reserved);
  },

  async 'two-prefixes'(c) {
    // Set up: a guest with two prefixes reserved, and a watch on its DHCPv6 exchanges.
    const g = guest(guestOf(c, true));
    const reserved = await reservedPrefixes(g.plan);
    expect(reserved, `${g.plan.name}'s reservation`).to.have.length(2);
    await watching(g.plan, 'dhcpv6', async (dhcp) => {
      // Act: the guest reboots: its client stops as at shutdown and asks again from scratch.
      await g.shutdown();
      await g.start();
      const byIaid = await dhcp.waitFor(
        (fs) => {
          const held = new Map<number, string[]>();
          for (const f of fs.filter(toMac(g.plan.mac))) for (const ia of iaPdsIn(dhcpv6Of(f, 'reply'))) if (ia.prefixes.length) held.set(ia.iaid, ia.prefixes);
          return new Set([...held.values()].flat()).size >= 2 ? held : undefined;
        },
        15_000,
        `Replies to ${c} in ${g.plan.name} delegating both reserved prefixes`,
      );
      // Pass criteria: two IA_PDs, one reserved prefix in each.
      expect(
        [...byIaid.values()].map((p) => p.length),
        `prefixes per IA_PD in the Replies (pcap ${dhcp.file})`,
      ).to.deep.equal([1, 1]);
      expect([...byIaid.values()].flat().sort(), 'the prefixes').to.deep.equal([...reserved].sort());
    });
  },

  async renew(c) {
    // Set up: the guest, bound and routed.
    const g = guest(guestOf(c, true));
    const reserved = await reservedPrefixes(g.plan);
    await expectExactlyRouted(g.plan, reserved);
    await watching(g.plan, 'dhcpv6', async (dhcp) => {
      // Act: Kea's T1 (kea.renewTimer) runs out; the client renews (or rebinds). dhcp6c takes a T1
      // this short for too small and renews on its own timer, about 18 s later (docs/guests.md).
      const ask = await dhcp.first(
        (f) => fromMac(g.plan.mac)(f) && (dhcpv6Of(f, 'renew') ?? dhcpv6Of(f, 'rebind')) !== undefined,
        25_000,
        `a Renew or Rebind from ${c} in ${g.plan.name}`,
      );
      const xid = (dhcpv6Of(ask, 'renew') ?? dhcpv6Of(ask, 'rebind'))!.transactionId;
      const reply = await dhcp.first(
        (f) => toMac(g.plan.mac)(f) && dhcpv6Of(f, 'reply')?.transactionId === xid,
        5000,
        `the Reply to ${c}'s ${dhcpv6Of(ask, 'renew') ? 'Renew' : 'Rebind'}`,
      );
      // Pass criteria: the Reply keeps every prefix the client renewed (some clients renew each
      // IA_PD on its own), all of them reserved ones; both routers still route each via its link-local.
      const asked = delegatedIn(dhcpv6Of(ask, 'renew') ?? dhcpv6Of(ask, 'rebind')).sort();
      expect(asked, `prefixes ${c} renews`).to.not.deep.equal([]);
      expect(reserved, `prefixes ${c} renews are reserved ones`).to.include.members(asked);
      expect(delegatedIn(dhcpv6Of(reply, 'reply')).sort(), `prefixes in the Reply (pcap ${dhcp.file})`).to.deep.equal(asked);
    });
    await expectExactlyRouted(g.plan, reserved, 5000);
  },

  async shutdown(c) {
    // Set up: the guest, bound and routed.
    const g = guest(guestOf(c, true));
    const reserved = await reservedPrefixes(g.plan);
    await expectExactlyRouted(g.plan, reserved);
    try {
      await watching(g.plan, 'dhcpv6', async (dhcp) => {
        // Act: the client is stopped as its OS stops it at shutdown (CLIENT_FACTS[c].shutdown).
        await g.shutdown();
        const isRelease = (f: CapturedFrame) => fromMac(g.plan.mac)(f) && dhcpv6Of(f, 'release') !== undefined;
        if (g.facts.releasesOnShutdown) {
          // Pass criteria: it sent a Release, and no router routes the prefixes any more.
          await dhcp.first(isRelease, 5000, `${c}'s Release at shutdown`);
          await waitNoRoutes(reserved);
        } else {
          // Pass criteria: no Release (watched for 2 s after it exited), so both routers keep
          // routing its prefixes until the lease expires.
          await new Promise((r) => setTimeout(r, 2000));
          expect(
            dhcp.frames().find(isRelease),
            `${c} is declared to send no Release at shutdown, yet it did (pcap ${dhcp.file}); update the capability table`,
          ).to.equal(undefined);
          for (const r of routers()) for (const p of reserved) await expectRoute(r, p, { via: g.plan.linkLocal });
        }
      });
    } finally {
      // Undo: the guest boots again, and gets its reservation back.
      await g.start();
    }
    await expectExactlyRouted(g.plan, reserved);
  },

  async 'no-reservation'(c) {
    // Set up: the same client in an instance CloudStack reserved nothing for.
    const g = guest(guestOf(c, false));
    expect(await reservedPrefixes(g.plan), `${g.plan.name} has no reservation`).to.deep.equal([]);
    await watching(g.plan, 'dhcpv6', async (dhcp) => {
      // Act: its client starts afresh (its OS boots), and asks for a prefix for a few seconds.
      await g.shutdown();
      const started = Date.now();
      await g.start();
      const solicits = await dhcp.waitFor(
        (fs) => {
          const s = fs.filter((f) => fromMac(g.plan.mac)(f) && dhcpv6Of(f, 'solicit'));
          return s.length >= 2 ? s : undefined;
        },
        6000,
        `${c} in ${g.plan.name} to Solicit and retransmit`,
      );
      await dhcp.first((f) => toMac(g.plan.mac)(f) && saysNoPrefixAvail(dhcpv6Of(f)), 3000, `an answer to ${c} carrying NoPrefixAvail`);
      // Pass criteria: the answers carry NoPrefixAvail and no prefix; its Solicits are spaced as
      // RFC 8415 §15 allows (the first retransmission after IRT = 1 s, minus the 10% jitter at most);
      // no router routes anything via its link-local.
      const toIt = dhcp.frames().filter(toMac(g.plan.mac));
      expect(
        toIt.flatMap((f) => delegatedIn(dhcpv6Of(f))),
        `prefixes delegated to ${g.plan.name} (pcap ${dhcp.file})`,
      ).to.deep.equal([]);
      const gapMs = (solicits[1]!.timestampUs - solicits[0]!.timestampUs) / 1000;
      expect(gapMs, `ms between ${c}'s first two Solicits (started ${solicits[0]!.timestampUs / 1000 - started} ms after boot)`).to.be.at.least(900);
      expect(await routesVia(g.plan.linkLocal), `routes via ${g.plan.name} on any router`).to.deep.equal([]);
    });
  },

  async traffic(c) {
    // Set up: the guest, with an address inside its first delegated prefix as a source.
    const g = guest(guestOf(c, true));
    const [prefix] = await reservedPrefixes(g.plan);
    const delegated = Prefix.parse(prefix!).address(1n);
    const r1 = routers()[0]!;

    // Act and pass criteria: from its SLAAC address and from its delegated prefix to the core, and
    // an echo from its link-local to a router's, each seen beyond its hypervisor's uplink.
    await expectDelivered(
      [
        datagramToCore(g.plan),
        echoToCore(g.plan, { src: delegated }),
        echoRequest({ mac: g.plan.mac, dstMac: r1.mac, src: g.plan.linkLocal, dst: r1.linkLocal, data: Buffer.from(`${c} link-local`) }),
      ],
      { from: g.plan },
    );
  },
};

describe('GUEST: real guest DHCPv6 clients and address modes', () => {
  for (const c of CLIENTS) {
    for (const capability of Object.keys(BODY) as GuestCapability[]) {
      const reason = unsupportedBy(c, capability);
      scenario(
        {
          id: `GUEST-${c}.${capability}`,
          title: `${CLIENT_FACTS[c].program} ${TITLE[capability]}`,
          reference: CLIENT_REFERENCE,
          proves: PROVES[capability],
          matrix: { row: c, column: capability, expect: reason ? `unsupported: ${reason.split(':')[0]}` : EXPECT[capability](c) },
          ...(reason ? { unsupported: reason } : {}),
        },
        () => BODY[capability](c),
      );
    }
  }

  const ADDRESS_MODES = [
    {
      addressing: 'stable-privacy' as const,
      cause: 'its kernel derives its addresses from a secret (RFC 7217), so its source is not the EUI-64 address CloudStack computed for its MAC',
      fix: 'addr_gen_mode=0 (sysctl net.ipv6.conf.<if>.addr_gen_mode), IPv6LinkLocalAddressGenerationMode=eui64 and no Token= (systemd-networkd), ipv6.addr-gen-mode=eui64 (NetworkManager)',
    },
    {
      addressing: 'temporary' as const,
      cause: 'its kernel sends from a temporary address (RFC 8981), not the EUI-64 address CloudStack computed for its MAC',
      fix: 'use_tempaddr=0 (sysctl net.ipv6.conf.<if>.use_tempaddr), IPv6PrivacyExtensions=no (systemd-networkd), ipv6.ip6-privacy=0 (NetworkManager)',
    },
  ];
  for (const mode of ADDRESS_MODES) {
    scenario(
      {
        id: `GUEST-${mode.addressing}.own-address`,
        title: `a ${mode.addressing} guest's own traffic is dropped by its security group: ${mode.cause}`,
        reference: 'seed: "Instances use SLAAC … CloudStack can calculate the IPv6 address"; RFC 7217; RFC 8981; docs/guests.md',
        proves: `a guest image must form EUI-64 addresses: fix it in the guest with ${mode.fix}`,
        matrix: { row: mode.addressing, column: 'own-address', expect: `dropped (fix: ${mode.fix.split(' (')[0]})` },
      },
      async () => {
        // Set up: the guest and the address its kernel chose as its own.
        const plan = instances().find((i) => i.addressing === mode.addressing);
        if (!plan) throw new Error(`the pod has no ${mode.addressing} guest (see fixtures/pods/guests.yaml)`);
        const own = await ownAddresses(plan);
        expect(own.global, `${plan.name}'s own addresses in the pod /64 (not ${plan.slaac})`).to.not.deep.equal([]);

        // Act: the guest's kernel pings the core from the source it picks; the control is a frame
        // from the address CloudStack computed, which the group admits.
        // Pass criteria: its own echo requests enter its port and never leave the hypervisor.
        try {
          await expectDropped(
            { run: ['ping', '-6', '-c', '2', '-i', '0.2', '-W', '1', core().address], sends: (f) => own.global.includes(f.frame?.ipv6?.src ?? '') },
            { from: plan, control: datagramToCore(plan), rule: 'source-spoof' },
          );
        } catch (err) {
          (err as Error).message =
            `${plan.name} (${mode.addressing}): ${mode.cause}; expected its traffic dropped (fix in the guest: ${mode.fix}): ${(err as Error).message}`;
          throw err;
        }
      },
    );
  }
});
