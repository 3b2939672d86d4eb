/**
 * SLAAC on the pod /64 (seed: "Instances use SLAAC (without Privacy Extensions) … the /64 subnet
 * plus their MAC"; RFC 4862, RFC 4291 App. A, RFC 4861 §6.2). The kernel of every instance is the
 * ground truth; harness/addr is the prediction CloudStack makes without storing the address.
 */
import { expect } from 'chai';
import { scenario } from '../harness/probe/scenario.ts';
import { currentPod, artifactPath } from '../harness/probe/pod-context.ts';
import { inNode, instances, kernelState } from '../harness/probe/instance.ts';
import { Capture } from '../harness/probe/agent-client.ts';
import { slaacAddress, linkLocalAddress } from '../harness/addr/slaac.ts';
import { parsePodFile, PodFileError } from '../harness/pod/pod-file.ts';
import type { RouterAdvertisement } from '../harness/packet/icmpv6.ts';

/** RFC 4861 §10: MAX_RA_DELAY_TIME, the most a router may wait before answering an RS. */
const MAX_RA_DELAY_MS = 500;

describe('SLAAC: addresses and default routes instances derive', () => {
  scenario(
    {
      id: 'SLAAC-001',
      title: "every instance's kernel address equals the computed pod /64 + modified EUI-64",
      reference: 'seed: "CloudStack can calculate which address an Instance will obtain"; RFC 4862 §5.5.3; RFC 4291 App. A',
      proves: 'the address CloudStack computes from the pod /64 and the MAC (never stored) is the one the instance configures',
    },
    async () => {
      const plan = currentPod();
      const seen = await kernelState();
      for (const inst of instances()) {
        const globals = seen.get(inst.name)!.addresses.filter((a) => a.scope === 'global').map((a) => `${a.address}/${a.prefixLength}`);
        expect(globals, `${inst.name} (MAC ${inst.mac}) global addresses`).to.deep.equal([`${slaacAddress(plan.pod.pod.l2Prefix, inst.mac)}/64`]);
      }
    },
  );

  scenario(
    {
      id: 'SLAAC-002',
      title: 'every instance has an EUI-64 link-local and no privacy or stable-privacy address',
      reference: 'seed: "without Privacy Extensions"; RFC 4862 §5.3; RFC 4941',
      proves: 'instances identify by MAC-derived interface ids only, so the computed address is the only global one',
    },
    async () => {
      const seen = await kernelState();
      for (const inst of instances()) {
        const links = seen.get(inst.name)!.addresses.filter((a) => a.scope === 'link').map((a) => a.address);
        expect(links, `${inst.name} link-local addresses`).to.deep.equal([linkLocalAddress(inst.mac)]);
      }
    },
  );

  scenario(
    {
      id: 'SLAAC-003',
      title: "two default routes on every instance, one via each router's link-local",
      reference: 'seed: route table "default via fe80::20c:dbff:fef9:cf00 … default via fe80::212:f2ff:fe9c:3300"; RFC 4861 §6.3.4',
      proves: 'both routers advertise on the pod L2 and every instance can leave the pod through either',
    },
    async () => {
      const routers = currentPod().routers.map((r) => r.linkLocal).sort();
      const seen = await kernelState();
      for (const inst of instances()) expect([...seen.get(inst.name)!.defaultRoutes].sort(), `${inst.name} default routes`).to.deep.equal(routers);
    },
  );

  scenario(
    {
      id: 'SLAAC-004',
      title: 'an RS from rdisc6 gets an RA from each router within 0.5 s: pod /64 with L=1 A=1, M=0, O=1',
      reference: 'RFC 4861 §6.2.6 (MAX_RA_DELAY_TIME), §4.2, §4.6.2; seed: "a /64 … configured with Router Advertisements (SLAAC)"',
      proves: 'the routers answer solicitations promptly with the pod prefix for SLAAC and no stateful addressing',
    },
    async () => {
      const plan = currentPod();
      const vm = instances()[0]!;
      const capture = await Capture.start(vm.ns, 'eth0', artifactPath('SLAAC-004.pcap'), 'icmp6');
      try {
        // rdisc6 (ndisc6) is the real client: it sends the RS and prints what it understood of each RA.
        const actor = await inNode(vm.name, ['rdisc6', '-m', '-n', '-w', String(MAX_RA_DELAY_MS + 200), 'eth0']);
        for (const r of plan.routers) expect(actor.stdout, `rdisc6 heard ${r.name}`).to.include(`from ${r.linkLocal}`);
        const { rs, ras } = await capture.waitFor(
          (frames) => {
            const rs = frames.find((f) => f.frame.icmpv6?.type === 'router-solicitation' && f.frame.ethernet.src === vm.mac);
            const ras = plan.routers.map((r) => frames.find((f) => rs && f.timestampUs >= rs.timestampUs && f.frame.icmpv6?.type === 'router-advertisement' && f.frame.ipv6?.src === r.linkLocal));
            return rs && ras.every(Boolean) ? { rs, ras: ras.map((f) => f!) } : undefined;
          },
          3000,
          `an RS from ${vm.name} and an RA from each router after it`,
        );
        plan.routers.forEach((r, i) => {
          const ra = ras[i]!;
          const msg = ra.frame.icmpv6 as RouterAdvertisement;
          const delayMs = (ra.timestampUs - rs.timestampUs) / 1000;
          expect(delayMs, `${r.name} answered after ${delayMs} ms (pcap ${capture.file})`).to.be.at.most(MAX_RA_DELAY_MS);
          expect(ra.frame.ipv6!.hopLimit, `${r.name} RA hop limit`).to.equal(255);
          expect(msg, `${r.name} RA flags`).to.include({ managed: false, other: true });
          const pio = msg.options.filter((o) => o.type === 'prefix-information');
          expect(pio, `${r.name} prefix information`).to.have.length(1);
          expect(pio[0], `${r.name} prefix information`).to.include({ prefix: plan.pod.pod.l2Prefix.split('/')[0], prefixLength: 64, onLink: true, autonomous: true });
          expect(msg.options, `${r.name} source link-layer address`).to.deep.include({ type: 'source-link-layer-address', address: r.mac });
        });
      } finally {
        await capture.stop();
      }
    },
  );

  scenario(
    {
      id: 'SLAAC-005',
      title: 'a /64 is the only L2 prefix length a pod accepts',
      reference: 'seed: "The subnet used here has to be a /64 exactly"; RFC 4862 §5.5.3 (prefix length + interface id = 128)',
      proves: 'a pod with any other L2 prefix length is refused with a line naming the field, before anything is built',
    },
    () => {
      const pod = (l2: string) => `name: p\npod:\n  l2Prefix: ${l2}\n  pdPool: 2001:db8:200::/40\nhypervisors:\n  - name: hv1\n`;
      expect(() => parsePodFile(pod('2001:db8:100::/64'), 'ok.yaml'), 'the /64 control').to.not.throw();
      for (const bad of ['2001:db8:100::/56', '2001:db8:100::/80', '2001:db8:100::/48']) {
        let errors: readonly string[] = [];
        try {
          parsePodFile(pod(bad), 'bad.yaml');
        } catch (err) {
          if (err instanceof PodFileError) errors = err.errors;
        }
        expect(errors.join('\n'), `pod with l2Prefix ${bad}`).to.match(/bad\.yaml:3: pod\.l2Prefix .*must be exactly a \/64/);
      }
    },
  );
});

describe('pod reachability', () => {
  scenario(
    {
      id: 'POD-001',
      title: 'the core reaches every instance at its SLAAC address through the routers',
      reference: 'seed: "The Layer 3 routers/gateways of the CloudStack POD get a /40 … routed to them"; RFC 4443 §4.1',
      proves: 'the pod /64 is routed from outside through both routers and every instance answers from its computed address',
    },
    async () => {
      const plan = currentPod();
      for (const inst of instances()) {
        const ping = await inNode(plan.pod.core.name, ['ping', '-6', '-c', '1', '-W', '2', inst.slaac], { allowFailure: true });
        expect(ping.exitCode, `core → ${inst.name} ${inst.slaac}: ${ping.stdout.trim().split('\n').slice(-2).join(' ')}`).to.equal(0);
      }
    },
  );
});
