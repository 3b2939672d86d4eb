/**
 * The link-local forgery TRUST-004 cannot show on a pod with security groups (the group drops a
 * foreign source at the port): with no group in front, Kea told `ipv6-link-local` hands the
 * victim's reservation to an instance sending from the victim's link-local, and Kea keyed on
 * v6pod's option 37 (the frame's Ethernet source) does not. Both with a positive control
 * (docs/relays.md). The instances get NIC-style universally administered MACs, the only ones Kea
 * derives a MAC from a link-local for.
 */
import { expect } from 'chai';
import { loadPodFile, DEFAULT_POD_FILE, withRelayChoice, type MacSource, type Pod } from '../../harness/pod/pod-file.ts';
import { up } from '../../netns/realize.ts';
import { teardownRun } from '../../netns/teardown.ts';
import { uniqueRunName } from '../../harness/pod/names.ts';
import type { InstancePlan, Plan } from '../../harness/pod/plan.ts';
import { run } from '../../harness/os/exec.ts';
import { dhcpClient, reservedPrefixes } from '../../harness/probe/dhcp.ts';
import { setCurrentPod, clearCurrentPod } from '../../harness/probe/pod-context.ts';
import { runDir } from '../../harness/pod/names.ts';

const MACS: Record<string, string> = { vm2: '00:16:3e:5c:00:02', vm4: '00:16:3e:5c:00:04' };

/** The default pod with vm2 and vm4 on universally administered MACs and Kea's sources given. */
function pod(macSources: MacSource[]): Pod {
  const base = withRelayChoice(loadPodFile(DEFAULT_POD_FILE), { relay: 'v6pod', macSources });
  return {
    ...base,
    hypervisors: base.hypervisors.map((h) => ({ ...h, instances: h.instances.map((i) => (MACS[i.name] ? { ...i, mac: MACS[i.name]! } : i)) })),
  };
}

const prefixesOf = (r: Awaited<ReturnType<typeof dhcpClient>>) =>
  r.steps[0]!.answer === 'reply' ? r.steps[0]!.iaPds.flatMap((ia) => ia.prefixes.map((p) => p.prefix)).sort() : [];

/** vm4 sends from vm2's link-local (added without DAD) with its own DUID; what it was delegated. */
async function forgeFromVictim(plan: Plan): Promise<string[]> {
  const [vm2, vm4] = ['vm2', 'vm4'].map((n) => plan.instances.find((i) => i.name === n)!) as [InstancePlan, InstancePlan];
  await run(['ip', '-6', 'address', 'add', `${vm2.linkLocal}/64`, 'dev', 'eth0', 'nodad'], { ns: vm4.ns });
  try {
    return prefixesOf(await dhcpClient({ ...vm4, linkLocal: vm2.linkLocal }, { duid: vm4.mac, steps: [{ op: 'acquire' }, { op: 'release' }] }));
  } finally {
    await run(['ip', '-6', 'address', 'del', `${vm2.linkLocal}/64`, 'dev', 'eth0'], { ns: vm4.ns, allowFailure: true });
  }
}

for (const [sources, expectation] of [
  [['ipv6-link-local'], 'victim'],
  [['remote-id'], 'own'],
] as const) {
  describe(`a forged link-local with no security group, Kea mac-sources [${sources.join(', ')}]`, function () {
    this.timeout(90_000);
    const runName = uniqueRunName('llforge');
    let plan: Plan;
    const inst = (n: string) => plan.instances.find((i) => i.name === n)!;

    before(async function () {
      // No security groups: the forged source reaches the relays, as it would behind a group that allowed it.
      ({ plan } = await up(pod([...sources]), runName, { podFile: DEFAULT_POD_FILE, owner: process.pid, securityGroups: false }));
      setCurrentPod(plan, `${runDir(runName)}/test`);
    });
    after(async function () {
      clearCurrentPod();
      if (process.env.V6POD_KEEP !== '1') await teardownRun(runName);
    });

    it('positive control: vm2 and vm4, honest, get their own reservations', async function () {
      for (const n of ['vm2', 'vm4']) {
        const r = await dhcpClient(inst(n), { steps: [{ op: 'acquire' }, { op: 'release' }] });
        expect(prefixesOf(r), `${n} honest`).to.deep.equal([...(await reservedPrefixes(inst(n)))].sort());
      }
    });

    it(
      expectation === 'victim'
        ? "vm4 sending from vm2's link-local gets vm2's reservation: Kea believed the link-local"
        : "vm4 sending from vm2's link-local still gets only its own: option 37 is the frame's MAC",
      async function () {
        const got = await forgeFromVictim(plan);
        const want = await reservedPrefixes(inst(expectation === 'victim' ? 'vm2' : 'vm4'));
        expect(got).to.deep.equal([...want].sort());
      },
    );
  });
}
