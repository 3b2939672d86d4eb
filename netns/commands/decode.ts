/** `v6pod decode FILE.pcap [--json]`: one decoded frame per line, every layer and option with its fields. */
import type { Command } from 'commander';
import { decodeFrame } from '../../harness/packet/frame.ts';
import { DecodeError } from '../../harness/packet/errors.ts';
import { describeFrame, frameLine } from '../../harness/packet/describe.ts';
import { LINKTYPE_ETHERNET, PcapError, readPcap } from '../../harness/packet/pcap.ts';
import { UsageError } from '../usage-error.ts';

export function registerDecode(program: Command): void {
  program
    .command('decode')
    .description('decode a pcap file: one frame per line, every layer and every DHCPv6/ND option')
    .argument('<file>', 'classic pcap file (tcpdump -w)')
    .option('--json', 'one JSON object per line (JSON Lines)')
    .action((file: string, opts: { json?: boolean }) => {
      let capture;
      try {
        capture = readPcap(file);
      } catch (err) {
        const e = err as NodeJS.ErrnoException;
        throw new UsageError(err instanceof PcapError ? err.message : `${file}: cannot read: ${e.code === 'ENOENT' ? 'no such file' : e.message}`);
      }
      if (capture.linkType !== LINKTYPE_ETHERNET) throw new UsageError(`${file}: link type ${capture.linkType} is not Ethernet (1)`);
      let failures = 0;
      capture.records.forEach((rec, i) => {
        const meta = { index: i + 1, timestampUs: rec.timestampUs, length: rec.data.length };
        try {
          const shown = describeFrame(decodeFrame(rec.data), meta);
          process.stdout.write(`${opts.json ? JSON.stringify(shown) : frameLine(shown)}\n`);
        } catch (err) {
          if (!(err instanceof DecodeError)) throw err;
          failures++;
          const error = { layer: err.layer, field: err.field, offset: err.offset, reason: err.reason };
          process.stdout.write(opts.json ? `${JSON.stringify({ frame: meta.index, length: meta.length, error })}\n` : `#${meta.index} len=${meta.length} | error ${err.message}\n`);
        }
      });
      // Frames that do not decode are reported in-line; the exit code says some did not.
      if (failures) process.exitCode = 1;
    });
}
