/** `v6pod decode FILE.pcap [--json]`: one decoded frame per line, every layer and option with its fields. */
import type { Command } from 'commander';
import { ioReason, UsageError } from '../harness/os/usage-error.ts';

export function registerDecode(program: Command): void {
  program
    .command('decode')
    .description('decode a pcap file: one frame per line, every layer and every DHCPv6/ND option')
    .argument('<file>', 'classic pcap file (tcpdump -w)')
    .option('--json', 'one JSON object per line (JSON Lines)')
    .action(async (file: string, opts: { json?: boolean }) => {
      const [{ recordLine }, { LINKTYPE_ETHERNET, PcapError, readPcap }] = await Promise.all([
        import('../harness/packet/describe.ts'),
        import('../harness/packet/pcap.ts'),
      ]);
      let capture;
      try {
        capture = readPcap(file);
      } catch (err) {
        const e = err as NodeJS.ErrnoException;
        throw new UsageError(err instanceof PcapError ? err.message : `${file}: cannot read: ${ioReason(e)}`);
      }
      if (capture.linkType !== LINKTYPE_ETHERNET) throw new UsageError(`${file}: link type ${capture.linkType} is not Ethernet (1)`);
      let failures = 0;
      capture.records.forEach((rec, i) => {
        const { line, decoded } = recordLine(rec, i + 1, opts.json === true);
        if (!decoded) failures++;
        process.stdout.write(`${line}\n`);
      });
      // Frames that do not decode are reported in-line; the exit code says some did not.
      if (failures) process.exitCode = 1;
    });
}
