/**
 * The relay's client ledger stays bounded under a flood of spoofed clients, yet always remembers
 * the most recent ones (their MACs and pending messages).
 */
import { expect } from 'chai';
import { ClientLedger } from './clients.ts';

describe('client ledger (clients.ts)', () => {
  it('remembers at least the last `capacity` clients and forgets older ones', () => {
    const capacity = 100;
    const ledger = new ClientLedger(capacity);
    const peer = (i: number) => `fe80::${i.toString(16)}`;
    for (let i = 0; i < 1000; i++)
      ledger.record(peer(i), i, {
        type: 'solicit',
        mac: `02:00:00:00:${(i >> 8).toString(16).padStart(2, '0')}:${(i & 0xff).toString(16).padStart(2, '0')}`,
        prefixes: [],
      });
    for (let i = 900; i < 1000; i++) {
      expect(ledger.macOf(peer(i)), `client ${i}`).to.not.equal(undefined);
      expect(ledger.answered(peer(i), i)?.type).to.equal('solicit');
    }
    // Never more than twice the capacity: everything older than 2 × capacity is gone.
    for (let i = 0; i < 1000 - 2 * capacity; i++) expect(ledger.macOf(peer(i)), `client ${i}`).to.equal(undefined);
  });

  it('a later frame from the same address replaces the MAC; a pending message ages out', () => {
    const ledger = new ClientLedger(10, 1000);
    ledger.record('fe80::1', 7, { type: 'release', mac: '02:00:00:00:00:01', prefixes: ['2001:db8:200::/60'] }, 0);
    ledger.record('fe80::1', 8, { type: 'renew', mac: '02:00:00:00:00:02', prefixes: [] }, 0);
    expect(ledger.macOf('fe80::1')).to.equal('02:00:00:00:00:02');
    expect(ledger.answered('fe80::1', 7, 1000)?.prefixes).to.deep.equal(['2001:db8:200::/60']);
    expect(ledger.answered('fe80::1', 7, 1001)).to.equal(undefined);
  });

  it('a flood of messages from one address keeps only its newest few pending', () => {
    const ledger = new ClientLedger(10);
    for (let t = 0; t < 100; t++) ledger.record('fe80::1', t, { type: 'request', mac: '02:00:00:00:00:01', prefixes: [] }, 0);
    expect(ledger.answered('fe80::1', 99, 0)?.type).to.equal('request');
    expect(ledger.answered('fe80::1', 92, 0)?.type).to.equal('request');
    expect(ledger.answered('fe80::1', 91, 0)).to.equal(undefined);
  });
});
