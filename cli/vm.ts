/** `v6pod vm deploy|destroy|show`: the instance lifecycle on a running pod (netns/instance-lifecycle.ts). */
import type { Command } from 'commander';
import { UsageError } from '../harness/os/usage-error.ts';
import type { AddressMode, GuestClient, InstanceKind } from '../harness/pod/pod-file.ts';

function count(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value)) throw new UsageError(`--prefixes '${value}' must be a whole number`);
  return n;
}

export function registerVm(program: Command): void {
  const vm = program.command('vm').description('deploy, destroy and show instances on a running pod');
  vm.command('deploy')
    .description('allocate prefixes, write the reservation, create the instance and its hypervisor port')
    .argument('<name>')
    .option('--run <name>', 'run (default: the only run)')
    .option('--hv <hypervisor>', 'hypervisor (default: the one with the fewest instances)')
    .option('--mac <mac>', 'unicast MAC (default: generated from the pod and instance names)')
    .option('--prefixes <k>', 'delegated prefixes (default: the pod’s prefixesPerInstance)', count)
    .option('--sg <group>', 'security group (default: default)')
    .option('--kind <kind>', 'namespace (the kernel’s stack) or synthetic (a TAP served by an emulated stack)', 'namespace')
    .option('--client <client>', 'the guest’s DHCPv6 client: dhcp6c, dhcpcd, dhclient, networkd, dibbler or none (synthetic: synthetic or none)')
    .option('--addressing <mode>', 'how the guest forms its addresses: eui64, stable-privacy or temporary (namespace only)')
    .action(
      async (
        name: string,
        o: { run?: string; hv?: string; mac?: string; prefixes?: number; sg?: string; kind: string; client?: string; addressing?: string },
      ) => {
        const [{ deployInstance }, { assertNetAdmin }, { resolveRun }] = await Promise.all([
          import('../netns/instance-lifecycle.ts'),
          import('../netns/privileges.ts'),
          import('./run-option.ts'),
        ]);
        assertNetAdmin('v6pod vm deploy');
        const kind = o.kind as InstanceKind;
        const { instance, prefixes } = await deployInstance(resolveRun(o.run), {
          name,
          hypervisor: o.hv,
          mac: o.mac,
          prefixes: o.prefixes,
          securityGroup: o.sg,
          kind,
          client: o.client as GuestClient | undefined,
          addressing: o.addressing as AddressMode | undefined,
        });
        process.stdout.write(
          `deployed ${instance.kind} instance ${name} on ${instance.hypervisor}:${instance.port}: MAC ${instance.mac}, SLAAC ${instance.slaac}, prefixes ${prefixes.join(', ') || 'none'}, client ${instance.client}, addressing ${instance.addressing}\n`,
        );
        if (instance.addressing === 'stable-privacy')
          process.stdout.write(
            `note: ${name} forms its addresses from a stable secret, not its MAC: its security group drops its RS, NS and DHCPv6, so it waits for the routers' periodic RA and its traffic is dropped (fix: addr_gen_mode=0; docs/guests.md)\n`,
          );
      },
    );
  vm.command('destroy')
    .description('remove the instance and its port, delete its leases and reservation, release its prefixes')
    .argument('<name>')
    .option('--run <name>', 'run (default: the only run)')
    .action(async (name: string, o: { run?: string }) => {
      const [{ destroyInstance }, { assertNetAdmin }, { resolveRun }] = await Promise.all([
        import('../netns/instance-lifecycle.ts'),
        import('../netns/privileges.ts'),
        import('./run-option.ts'),
      ]);
      assertNetAdmin('v6pod vm destroy');
      const { prefixes } = await destroyInstance(resolveRun(o.run), name);
      process.stdout.write(`destroyed ${name}: released ${prefixes.join(', ') || 'no prefixes'} (quarantined for a lease lifetime)\n`);
    });
  vm.command('show')
    .description('MAC, computed SLAAC address, reserved prefixes, Kea leases, routes on each router')
    .argument('<name>')
    .option('--run <name>', 'run (default: the only run)')
    .option('--json', 'one JSON object')
    .action(async (name: string, o: { run?: string; json?: boolean }) => {
      const [{ instanceReport }, { resolveRun }] = await Promise.all([import('../netns/instance-report.ts'), import('./run-option.ts')]);
      const r = await instanceReport(resolveRun(o.run), name);
      if (o.json) {
        process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
        return;
      }
      const lines = [
        `${r.name} (${r.kind}) on ${r.hypervisor}:${r.port}${r.pending ? ` (${r.pending} interrupted)` : ''}`,
        `  MAC            ${r.mac}`,
        `  SLAAC          ${r.slaac} (computed: pod /64 + modified EUI-64)`,
        `  link-local     ${r.linkLocal}`,
        `  security group ${r.securityGroup}`,
        `  prefixes       ${r.prefixes.join(', ') || '-'}`,
        `  leases         ${r.leases.map((l) => `${l.prefix} (DUID ${l.duid}, valid ${l.validLifetime} s)`).join(', ') || '-'}`,
        ...Object.entries(r.routes).map(
          ([router, rs]) => `  routes on ${router.padEnd(5)} ${rs.map((x) => `${x.prefix} via ${x.via ?? '?'} dev ${x.dev ?? '?'}`).join(', ') || '-'}`,
        ),
      ];
      process.stdout.write(`${lines.join('\n')}\n`);
    });
}
