/**
 * What a synthetic instance is attached to: one Ethernet port that sends and receives whole frames.
 * In the host daemon it is a TAP device on the hypervisor's bridge (harness/io/tap.ts); in unit
 * tests a fake that records what was sent and injects what arrives.
 */
export interface FrameLink {
  readonly name: string;
  /** false: the port had no room and dropped the frame (a TAP's send queue full). */
  send(frame: Buffer): boolean | void;
  onFrame(handler: (frame: Buffer) => void): void;
  close(): void;
}
