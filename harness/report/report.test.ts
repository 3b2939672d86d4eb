/** The reports rendered from a result with a failure: table by area, expected/seen, packet ladder, merge. */
import { expect } from 'chai';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mergeResults, type RunResult } from './result.ts';
import { markdownSummary } from './markdown.ts';
import { htmlReport } from './html.ts';
import { writeReports } from './artifacts.ts';
import { packetLadder } from './ladder.ts';
import { writePcap } from '../packet/pcap.ts';
import { buildFrame } from '../packet/frame.ts';
import { tcpSyn, udpDatagram } from '../packet/builders.ts';

const GOLDEN = new URL('../../fixtures/golden/link.pcap', import.meta.url).pathname;
const names = new Map([
  ['52:54:00:12:34:56', 'client'],
  ['52:54:00:aa:00:01', 'server'],
  ['ff02::1:2', 'dhcp-agents'],
]);

function result(run: string, ids: string[], failing?: string): RunResult {
  const scenarios = ids.map((id) => ({
    id,
    title: `title of ${id}`,
    reference: 'RFC 8415 §18',
    proves: 'something',
    area: id.split('-')[0]!,
    verdict: id === failing ? ('fail' as const) : ('pass' as const),
    durationMs: 12,
    pcaps: id === failing ? ['x.pcap'] : [],
    ...(id === failing
      ? { failure: { message: 'expected <a> to equal <b>', expected: '"b"', actual: '"a"' }, ladders: { 'x.pcap': packetLadder(GOLDEN, names, 5) } }
      : {}),
  }));
  return {
    tool: 'v6pod',
    schema: 1,
    run,
    podFile: 'pod.yaml',
    startedAt: '2026-11-28T00:00:00.000Z',
    figures: { wallSeconds: 3, upSeconds: 1, scenariosSeconds: 1.9, downSeconds: 0.1 },
    totals: { passed: ids.length - (failing ? 1 : 0), failed: failing ? 1 : 0, skipped: 0 },
    scenarios,
  };
}

describe('reports', () => {
  it('draws a packet ladder from a capture, naming endpoints', () => {
    const ladder = packetLadder(GOLDEN, names, 30);
    expect(
      ladder.some((l) => /client\s+→ dhcp-agents\s+DHCPv6 solicit/.test(l)),
      ladder.join('\n'),
    ).to.equal(true);
    expect(ladder.some((l) => /server\s+→ client\s+DHCPv6 advertise/.test(l))).to.equal(true);
    expect(ladder.at(-1)).to.match(/more frames in/);
  });

  it('names transport protocols and ports: TCP flags, UDP ports, other protocols by number', () => {
    const w = { mac: '02:00:00:00:00:01', src: '2001:db8::1', dst: '2001:db8::2', dstMac: '02:00:00:00:00:02' };
    const file = join(mkdtempSync(join(tmpdir(), 'v6pod-ladder-')), 'transport.pcap');
    const other = { ...udpDatagram(w), udp: undefined, protocol: 253, payload: Buffer.alloc(4) };
    writePcap(file, [tcpSyn({ ...w, sport: 40000, dport: 22 }), udpDatagram({ ...w, sport: 40001, dport: 53 }), other].map(buildFrame));
    const ladder = packetLadder(file, new Map());
    expect(ladder[0]).to.match(/TCP SYN 40000 → 22$/);
    expect(ladder[1]).to.match(/UDP 40001 → 53$/);
    expect(ladder[2]).to.match(/IP protocol 253$/);
  });

  it('Markdown and HTML show the table by area and each failure with expected, seen and the ladder', () => {
    const r = result('r1', ['PD-001', 'PD-002', 'SLAAC-001'], 'PD-002');
    const md = markdownSummary(r);
    expect(md).to.match(/^# v6pod conformance: FAILED/);
    expect(md).to.include('## PD').and.include('## SLAAC').and.include('| PD-002 | title of PD-002 | ❌ fail |');
    expect(md).to.include('Expected: `"b"`').and.include('Seen: `"a"`').and.include('Packet ladder (x.pcap)');
    const html = htmlReport(r, '<?xml version="1.0"?><svg><g/></svg>');
    expect(html).to.include('<tr class="fail"><td><a href="#PD-002">PD-002</a>').and.include('&lt;a&gt;').and.include('<svg><g/></svg>');
    expect(html).to.not.include('<?xml');
  });

  it('merges shard results and writes every report', () => {
    const merged = mergeResults([result('a', ['SLAAC-002', 'PD-001']), result('b', ['PD-002'], 'PD-002')]);
    expect(merged.scenarios.map((s) => s.id)).to.deep.equal(['PD-001', 'PD-002', 'SLAAC-002']);
    expect(merged.totals).to.deep.equal({ passed: 2, failed: 1, skipped: 0 });
    const dir = mkdtempSync(join(tmpdir(), 'v6pod-report-'));
    const paths = writeReports(dir, merged);
    expect(readFileSync(paths.junit, 'utf8')).to.match(/<testsuites tests="3" failures="1"/);
    expect(JSON.parse(readFileSync(paths.json, 'utf8')).run).to.equal('a+b');
  });
});
