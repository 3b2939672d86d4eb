/**
 * The scenario API: everything a scenario uses, from one module. A scenario imports this, the frame
 * builders and codecs of harness/packet and the address math of harness/addr — nothing else — and
 * reads like the seed: `vm('vm1').solicitRouters()`, `vm('vm3').requestPrefixes({ iaPds: 2 })`,
 * `expectRoute(router('r1'), prefix, { via })`, `expectDropped(frame, { from: 'vm1', control })`.
 * Every verdict is proved with captured packets kept under the run's artifacts.
 *
 *   declaring        scenario({ id, title, reference, proves, slow? }, body)
 *   the pod          currentPod, instances, instance, routers, router, core, kea, podPrefix,
 *                    hypervisors, portOf(vm) / uplinkOf(vm) (ports are written NODE:IFACE)
 *   actors           vm(name): solicitRouters, discoverRouters, requestPrefixes, reservedPrefixes,
 *                    send, startDhcp6c, addAddress, removeAddress, dadOutcome;
 *                    send(from, …frames), inNode(node, argv), ping(from, address), startTool(node, argv)
 *   what is held     kernelState, usable; relayRoutes, routesVia, expectRoute, waitRoutesOnAllRouters,
 *                    waitNoRoutes, relayCounters; delegatedPrefixes(clientResult)
 *   the lifecycle    deployVm, destroyVm, withVm, sharedVm (one instance for several scenarios)
 *   security groups  securityGroupOf, withSecurityGroup, groupsAdmittingSource, securityGroupDriver
 *   ordinary traffic datagramToCore(vm), echoToCore(vm): what cases alter to offend, and their controls
 *   verdicts         expectDelivered, expectDropped (the one drop proof), relayWindow;
 *                    proveBatch / proveBatches: that proof for many cells per window, as outcomes
 *   watching         watch / watching(where, traffic); matching frames: FramePattern, dhcpv6Of,
 *                    relayMessageOf, relayedOf, icmpv6Of, delegatedIn, remoteIdOf
 *   real guests      guest(name): its declared DHCPv6 client shut down as its OS does and started
 *                    again; CLIENT_FACTS / unsupportedBy (the capability table), ownAddresses,
 *                    iaPdsIn, saysNoPrefixAvail, statusCodesOf
 *   large pods       sampleInstances, delegationShortfalls, routeShortfalls,
 *                    securityGroupShortfalls, untilNoShortfall, describeShortfalls, reservationsByMac
 *   waiting          waitUntil (bounded; the error says what did not happen), WaitTimeout
 */
export { scenario, type ScenarioMeta } from './scenario.ts';
export { currentPod, artifactPath, currentScenario } from './pod-context.ts';
export { instances, instance, routers, router, core, kea, podPrefix, portOf, uplinkOf, type Port } from './nodes.ts';
export { vm, type VmHandle, type SolicitedRa } from './vm.ts';
export { send, kernelState, usable, type ObservedAddress, type ObservedInstance } from './instance.ts';
export { inNode, ping, startTool, type PingResult, type RunningTool } from './tools.ts';
export {
  dhcpClient,
  delegatedPrefixes,
  expectRoute,
  relayCounters,
  relayRoutes,
  reservedPrefixes,
  routesVia,
  waitNoRoutes,
  waitRoutesOnAllRouters,
  type ClientOptions,
  type RelayRoute,
} from './dhcp.ts';
export { deployVm, destroyVm, withVm, vmExists, sharedVm, type DeployedVm, type VmSpec } from './pod-ops.ts';
export {
  groupsAdmittingSource,
  hypervisors,
  securityGroupDriver,
  securityGroupOf,
  withSecurityGroup,
  type GroupChange,
  type SecurityGroup,
} from './security-groups.ts';
export {
  expectDelivered,
  expectDropped,
  type DropOptions,
  type DropProof,
  type Guard,
  type Offending,
  type ProvokedControl,
  type ToolRun,
  type ToolServe,
} from './traffic-proof.ts';
export { proveBatch, proveBatches, type BatchProof, type CellOutcome, type ProbeBatch, type ProbeCell, type Seen } from './batch-proof.ts';
export { relayWindow, eachRouter, type RelayWindow } from './relay-proof.ts';
export { macSources, missingRouteReason, relayInsertsRemoteId, relayInstallsRoutes, relayKind, relayName } from './relay-choice.ts';
export { relayOptionsOf } from './relay-options.ts';
export { watch, watching, evidence, type Traffic } from './watch.ts';
export {
  delegatedIn,
  dhcpv6Of,
  icmpv6Of,
  matches,
  relayedOf,
  relayMessageOf,
  remoteIdOf,
  sameBytes,
  type FrameMatch,
  type FramePattern,
} from './frame-match.ts';
export { datagramToCore, echoToCore } from './pod-frames.ts';
export {
  delegationShortfalls,
  describeShortfalls,
  reservationsByMac,
  routeShortfalls,
  sampleInstances,
  securityGroupShortfalls,
  untilNoShortfall,
  type Shortfall,
} from './fleet.ts';
export { podFileErrors } from './pod-file-check.ts';
export type { Capture, CapturedFrame, SeenFrame } from './agent-client.ts';
export type { DhcpClientResult, DhcpStep, IaPdOutcome, StepOutcome } from './dhcp-client.ts';
export type { InstancePlan, Plan, RouterPlan } from '../pod/plan.ts';
export { waitUntil, WaitTimeout } from '../os/wait.ts';
export { threatMatrixScenarios } from './matrix-run.ts';
export {
  CLIENT_FACTS,
  GUEST_CAPABILITIES,
  guest,
  iaPdsIn,
  ownAddresses,
  saysNoPrefixAvail,
  statusCodesOf,
  unsupportedBy,
  type ClientFacts,
  type GuestCapability,
  type GuestHandle,
  type RealClient,
} from './guests.ts';
