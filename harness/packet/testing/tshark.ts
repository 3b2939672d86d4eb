/**
 * Runs Wireshark's tshark over a pcap as an independent decoder: one record per frame, each
 * requested field mapped to all its occurrences in dissection-tree order (pre-order).
 */
import { spawnSync } from 'node:child_process';

/** Field name → every occurrence's value as tshark prints it (numbers in decimal, bytes as hex). */
export type TsharkRecord = Record<string, string[]>;

// Occurrences are joined with a control character: some values (expert messages) contain commas.
const AGGREGATOR = '\x1f';

/** The severity tshark prints in _ws.expert.severity for PI_ERROR (epan/proto.h). */
export const EXPERT_SEVERITY_ERROR = 0x00800000;

export function tsharkAvailable(): boolean {
  return spawnSync('tshark', ['--version'], { stdio: 'ignore' }).status === 0;
}

/** Dissects every frame of `pcapPath` (UDP checksums verified) and returns `fields` per frame, in capture order. */
export function tsharkFields(pcapPath: string, fields: readonly string[]): TsharkRecord[] {
  const args = ['-r', pcapPath, '-n', '-o', 'udp.check_checksum:TRUE', '-T', 'fields', '-E', 'header=n', '-E', 'quote=n'];
  args.push('-E', 'occurrence=a', '-E', `aggregator=${AGGREGATOR}`, ...fields.flatMap((f) => ['-e', f]));
  const run = spawnSync('tshark', args, { encoding: 'utf8', maxBuffer: 1 << 28 });
  if (run.error) throw run.error;
  if (run.status !== 0) throw new Error(`tshark exited ${run.status}: ${run.stderr}`);
  return run.stdout
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => {
      const columns = line.split('\t');
      if (columns.length !== fields.length) throw new Error(`tshark printed ${columns.length} columns, expected ${fields.length}: ${line}`);
      return Object.fromEntries(fields.map((f, i) => [f, columns[i] === '' ? [] : columns[i]!.split(AGGREGATOR)]));
    });
}
