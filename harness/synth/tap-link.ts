/**
 * A synthetic instance's port as a FrameLink: a TAP device (harness/io/tap.ts) created in the
 * daemon's own namespace, the hypervisor's. A frame the kernel has no room for is reported as not
 * sent (the host counts it); a read failure (the device deleted under us) is logged once.
 */
import { openTap, type TapDevice } from '../io/tap.ts';
import type { FrameLink } from './link.ts';

/** The link, and its TAP for closing many at once (harness/io/tap-bulk-close.ts). */
export function openTapLink(port: string, log: (msg: string) => void = (m) => process.stderr.write(`${m}\n`)): FrameLink & { tap: TapDevice } {
  const tap = openTap(port);
  tap.onError((err) => log(`${port}: ${err.message}`));
  return {
    name: port,
    send: (frame) => tap.send(frame),
    onFrame: (handler) => {
      tap.onFrames((frames) => {
        for (const f of frames) handler(f);
      });
    },
    close: () => tap.close(),
    tap,
  };
}
