/**
 * Codec throughput on one core: decode and encode of a Relay-Forward wrapping a Solicit with
 * IA_PD and option 37 (the message every relayed PD exchange starts with), median of 5 runs.
 * The baseline is the same message decoded and encoded as a whole Ethernet frame (with checksums).
 */
import { decodeDhcpv6, encodeDhcpv6 } from '../harness/packet/dhcpv6.ts';
import { buildFrame, decodeFrame } from '../harness/packet/frame.ts';
import { sampleRelayForwardFrame } from '../harness/packet/testing/samples.ts';
import { emit, median, progress, rate } from './_stats.ts';

const RUNS = 5;
const frame = sampleRelayForwardFrame();
const message = frame.dhcpv6!;
const bytes = encodeDhcpv6(message);
const frameBytes = buildFrame(frame);

const figures: Record<string, number[]> = { decode: [], encode: [], frameDecode: [], frameBuild: [] };
for (let run = 1; run <= RUNS; run++) {
  progress(`run ${run}/${RUNS}`);
  figures.decode!.push(rate(() => decodeDhcpv6(bytes)));
  figures.encode!.push(rate(() => encodeDhcpv6(message)));
  figures.frameDecode!.push(rate(() => decodeFrame(frameBytes)));
  figures.frameBuild!.push(rate(() => buildFrame(frame)));
}
const m = (k: string) => Math.round(median(figures[k]!));
emit({
  bench: 'codec',
  message: 'relay-forward(solicit + ia-pd, remote-id 37)',
  bytes: bytes.length,
  runs: RUNS,
  decode_msgs_per_s: m('decode'),
  encode_msgs_per_s: m('encode'),
  baseline: 'whole Ethernet frame incl. IPv6/UDP and checksum',
  frame_decode_msgs_per_s: m('frameDecode'),
  frame_build_msgs_per_s: m('frameBuild'),
  decode_ratio_vs_frame: +(m('decode') / m('frameDecode')).toFixed(2),
  encode_ratio_vs_frame: +(m('encode') / m('frameBuild')).toFixed(2),
});
