/**
 * The security-group threat matrix (docs/sg-policy.md): every packet kind an instance may or may
 * not send, and what may reach it, × every identity an attacker controls — generated from the
 * policy, one scenario per cell (`SGM-<row>.<column>`), proved many cells per capture window.
 *
 *   set up         the attacker (an instance sharing its hypervisor, holding a delegated prefix),
 *                  its neighbour, an instance behind another hypervisor, the ingress victim whose
 *                  group opens a TCP port; the cells the run selected (profile, --grep, shard).
 *   act            each window: the honest frame of every row in it crosses first (positive
 *                  control), then every cell's frame is sent from the attacker (or towards the
 *                  victim through a router's port).
 *   pass criteria  every cell's frame entered the port, and is seen beyond it exactly when the
 *                  policy — or the variant the driver declared (`--sg-policy`) — says pass; the
 *                  reference driver's drop counters account for every frame dropped.
 */
import { threatMatrixScenarios } from '../harness/probe/api.ts';

describe('SGM: security-group threat matrix', () => {
  threatMatrixScenarios();
});
