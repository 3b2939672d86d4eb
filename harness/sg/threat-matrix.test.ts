import { expect } from 'chai';
import { decodeFrame } from '../packet/frame.ts';
import { COLUMNS, matrixCells, policyFor, quickSample, ROWS, FORBIDDEN_ROWS, LEGITIMATE_ROWS } from './threat-matrix.ts';
import { cellFrames, controlFrame, controlRowOf, type Identities } from './threat-frames.ts';

const IDS: Identities = {
  self: { mac: '06:7a:88:00:00:8b', slaac: '2001:db8:100::47a:88ff:fe00:8b', linkLocal: 'fe80::47a:88ff:fe00:8b', ownPrefixAddress: '2001:db8:200::1' },
  neighbour: { mac: '02:00:00:00:00:02' },
  other: { mac: '02:00:00:00:00:03', slaac: '2001:db8:100::ff:fe00:3', linkLocal: 'fe80::ff:fe00:3', prefixAddress: '2001:db8:200:10::1' },
  router: { mac: '00:0c:db:f9:cf:00', linkLocal: 'fe80::20c:dbff:fef9:cf00' },
  core: '2001:db8:ffff::1',
  server: 'fd76:3670:ffff:547::547',
  victim: { mac: '02:00:00:00:00:02', slaac: '2001:db8:100::ff:fe00:2', linkLocal: 'fe80::ff:fe00:2' },
  openPort: 22,
  closedPort: 23,
};

describe('security-group threat matrix: the policy', () => {
  const cells = matrixCells();

  it('has at least 150 cells, every ID unique and of the form SGM-<row>.<column>', () => {
    expect(cells.length).to.be.at.least(150);
    expect(new Set(cells.map((c) => c.id)).size).to.equal(cells.length);
    for (const c of cells) expect(c.id).to.match(/^SGM-[a-z0-9-]+\.[a-z0-9-]+$/);
  });

  it('every row has a cell, and every row an instance may send passes with its honest identity', () => {
    for (const r of ROWS)
      expect(
        cells.some((c) => c.row.id === r.id),
        r.id,
      ).to.equal(true);
    for (const r of LEGITIMATE_ROWS)
      expect(
        policyFor(
          r,
          COLUMNS.find((c) => c.id === 'honest')!,
        )?.verdict,
        r.id,
      ).to.equal('pass');
  });

  it('every forbidden kind is dropped honest and behind every extension header and fragment form', () => {
    for (const r of FORBIDDEN_ROWS)
      for (const col of ['honest', 'hop-by-hop', 'destination-options', 'atomic-fragment', 'header-in-second-fragment'])
        expect(cells.find((c) => c.id === `SGM-${r.id}.${col}`)?.verdict, `${r.id}.${col}`).to.equal('drop');
  });

  it('every forged MAC and forged source of another is dropped, whatever the kind', () => {
    for (const c of cells.filter((x) =>
      ['mac-other', 'src-other-slaac', 'src-other-link-local', 'src-other-prefix', 'src-router', 'src-foreign-global', 'src-multicast'].includes(x.column.id),
    ))
      expect(c.verdict, c.id).to.equal('drop');
  });

  it('decides both ways where the RFCs do: resolving another address passes, claiming it does not; :: only for DAD and MLDv2', () => {
    const v = (id: string) => cells.find((c) => c.id === id)?.verdict;
    expect(v('SGM-ns-resolution.target-other')).to.equal('pass');
    expect(v('SGM-ns-nud.target-other')).to.equal('pass');
    expect(v('SGM-ns-dad.target-other')).to.equal('drop');
    expect(v('SGM-na-unsolicited.target-other')).to.equal('drop');
    expect(v('SGM-mldv2-report.src-unspecified')).to.equal('pass');
    expect(v('SGM-echo-request.src-unspecified')).to.equal('drop');
    expect(v('SGM-in-udp.reply')).to.equal('pass');
    expect(v('SGM-in-udp.unsolicited')).to.equal('drop');
  });

  it('a policy variant changes only its declared cells and says so', () => {
    const cs = matrixCells('cloudstack');
    const changed = cs.filter((c, i) => c.verdict !== cells[i]!.verdict);
    expect(changed.map((c) => c.id)).to.deep.equal(['SGM-in-echo-request.unsolicited']);
    expect(changed[0]!.variant).to.equal('cloudstack');
    expect(() => matrixCells('nope')).to.throw(/unknown security-group policy variant 'nope'/);
  });

  it('the quick sample keeps every row and every column', () => {
    const q = quickSample(cells);
    expect(q.length).to.be.below(cells.length / 2);
    expect(new Set(q.map((c) => c.row.id))).to.have.property('size', ROWS.length);
    expect(new Set(q.map((c) => c.column.id))).to.have.property('size', new Set(cells.map((c) => c.column.id)).size);
  });
});

describe('security-group threat matrix: the frames', () => {
  const cells = matrixCells();

  it('every cell builds frames that decode with valid checksums, and no two cells share bytes', () => {
    const seen = new Set<string>();
    cells.forEach((c, i) => {
      const frames = cellFrames(c, IDS, i + 1)!;
      expect(frames, c.id).to.not.equal(undefined);
      for (const f of frames) {
        const d = decodeFrame(f);
        expect(d.checksumStatus?.valid, `${c.id} checksum`).to.not.equal(false);
        const hex = f.toString('hex');
        expect(seen.has(hex), `${c.id} bytes unique`).to.equal(false);
        seen.add(hex);
      }
    });
  });

  it('forges exactly the column: the MAC, the source, the link-layer option, the hop limit, the wrapper', () => {
    const frame = (id: string) =>
      decodeFrame(
        cellFrames(
          cells.find((c) => c.id === id)!,
          IDS,
          7,
        )![0]!,
      );
    expect(frame('SGM-rs.honest').ethernet.src).to.equal(IDS.self.mac);
    expect(frame('SGM-rs.mac-other').ethernet.src).to.equal(IDS.neighbour.mac);
    expect(frame('SGM-rs.mac-other').ipv6!.src).to.equal(IDS.self.linkLocal);
    expect(frame('SGM-echo-request.src-other-slaac').ipv6!.src).to.equal(IDS.other.slaac);
    expect(frame('SGM-ns-resolution.hop-limit').ipv6!.hopLimit).to.equal(64);
    expect(frame('SGM-ns-resolution.honest').ipv6!.hopLimit).to.equal(255);
    const ns = frame('SGM-ns-resolution.lla-other').icmpv6;
    expect(ns?.type === 'neighbor-solicitation' && ns.options[0]).to.deep.equal({ type: 'source-link-layer-address', address: IDS.neighbour.mac });
    expect(frame('SGM-ra.hop-by-hop').extensions?.[0]?.type).to.equal('hop-by-hop');
    expect(frame('SGM-ra.atomic-fragment').extensions?.[0]?.type).to.equal('fragment');
    expect(
      cellFrames(
        cells.find((c) => c.id === 'SGM-ra.header-in-second-fragment')!,
        IDS,
        7,
      ),
    ).to.have.length(2);
  });

  it('a cell that forges what the attacker lacks has no frames (an instance without a delegated prefix)', () => {
    const c = cells.find((x) => x.id === 'SGM-udp.src-own-prefix')!;
    expect(cellFrames(c, { ...IDS, self: { ...IDS.self, ownPrefixAddress: undefined } }, 1)).to.equal(undefined);
  });

  it('every row has a control that decodes, from a legitimate kind', () => {
    for (const r of ROWS) {
      const control = controlRowOf(r);
      expect(ROWS.find((x) => x.id === control)?.kind, r.id).to.not.equal('forbidden');
      expect(() => decodeFrame(controlFrame(control, IDS, 1)), r.id).to.not.throw();
    }
  });
});
