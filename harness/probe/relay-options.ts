/** The options a relay put in its Relay-Forward (outermost level), by name: what Kea could learn a MAC from. */
import { relayMessageOf } from './frame-match.ts';
import type { CapturedFrame } from './agent-client.ts';

export function relayOptionsOf(f: CapturedFrame): string[] {
  const m = relayMessageOf(f);
  return m ? m.options.map((o) => (o.type === 'unknown' ? `option ${o.optionCode}` : o.type)) : [];
}
