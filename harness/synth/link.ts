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
  /**
   * Lets only frames to these destination MACs arrive (a TAP's filter in the kernel): on a bridge
   * that floods every multicast to every port, most frames are for other instances, and this spares
   * reading them at all. Optional: a link without it delivers everything and the host drops what is
   * not for it itself.
   */
  acceptOnly?(macs: readonly string[]): void;
  close(): void;
}
