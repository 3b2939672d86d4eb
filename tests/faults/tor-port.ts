/**
 * A namespace of the fault tests' own with one port on the pod's ToR bridge (a load tool or an
 * injector on the pod L2): named in the run (`v6p-<run>.<name>`, so the run's teardown removes it),
 * link-local only, no RA, no DAD (it sends from its link-local at once).
 */
import { run } from '../../harness/os/exec.ts';
import { namespaceName } from '../../harness/pod/names.ts';
import { BRIDGES, type Plan } from '../../harness/pod/plan.ts';

/** Adds the namespace with `eth0` (MAC `mac`) bridged into the ToR; returns the namespace's name. */
export async function addTorPort(plan: Plan, name: string, mac: string): Promise<string> {
  const ns = namespaceName(plan.run, name);
  const tor = namespaceName(plan.run, plan.pod.tor.name);
  await run(['ip', 'netns', 'add', ns]);
  await run(['ip', 'link', 'add', 'name', 'eth0', 'netns', ns, 'address', mac, 'type', 'veth', 'peer', 'name', name, 'netns', tor]);
  await run(['ip', 'link', 'set', name, 'master', BRIDGES.tor, 'up'], { ns: tor });
  await run(
    [
      'sh',
      '-ec',
      'for k in accept_ra=0 autoconf=0 accept_dad=0; do echo ${k#*=} > /proc/sys/net/ipv6/conf/eth0/${k%=*}; done; ip link set lo up; ip link set eth0 up',
    ],
    { ns },
  );
  return ns;
}
