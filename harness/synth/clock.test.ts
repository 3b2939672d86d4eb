/**
 * The system clock's timers run after the input that had arrived when they fell due, so a lagging
 * host never retransmits what an answer waiting in its socket already settled; clearing one that
 * fell due but has not run yet cancels it.
 */
import { expect } from 'chai';
import { createSocket } from 'node:dgram';
import { systemClock } from './clock.ts';

const busy = (ms: number) => {
  const end = Date.now() + ms;
  while (Date.now() < end);
};

describe('systemClock', () => {
  it('a timer that fell due while the loop was busy runs after the datagram that arrived meanwhile', async () => {
    const sock = createSocket('udp4');
    await new Promise<void>((resolve) => sock.bind(0, '127.0.0.1', resolve));
    const order: string[] = [];
    const done = new Promise<void>((resolve) => {
      sock.on('message', () => order.push('datagram'));
      systemClock.setTimeout(() => {
        order.push('timer');
        resolve();
      }, 5);
    });
    const sent = new Promise<void>((resolve) => sock.send('answer', sock.address().port, '127.0.0.1', () => resolve()));
    await sent;
    busy(30); // the timer is due and the datagram waits in the socket
    await done;
    sock.close();
    expect(order).to.deep.equal(['datagram', 'timer']);
  });

  it('clearTimeout cancels a timer, also one that fell due and waits for the I/O phase', async () => {
    let ran = 0;
    const a = systemClock.setTimeout(() => ran++, 1);
    systemClock.clearTimeout(a);
    const b = systemClock.setTimeout(() => ran++, 1);
    // Due together, Node runs them in order in one timers phase: b's timeout has fired and left its
    // callback for the I/O phase when this one cancels it.
    let firedFirst = false;
    setTimeout(() => {
      firedFirst = (b as { immediate?: unknown }).immediate !== undefined;
      systemClock.clearTimeout(b);
    }, 1);
    busy(10);
    await new Promise<void>((resolve) => setTimeout(resolve, 20));
    expect(firedFirst, "b's timeout had fired").to.equal(true);
    expect(ran).to.equal(0);
  });
});
