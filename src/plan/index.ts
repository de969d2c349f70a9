/** The planner's public surface; see docs/plan.md. Only collectSnapshot performs I/O. */
export type { ClusterSnapshot, Finding, PdbRef, Plan, PlanOptions, PlannedNode, PodAction, PodDisposition } from './types.js';
export { buildPlan, planFails, DEFAULT_DRAIN_TIMEOUT_SECONDS, PlanInputError } from './planner.js';
export { collectSnapshot } from './snapshot.js';
export { stateHash, fingerprint, fingerprintHash, diffSnapshots, diffFingerprints, describeKey, type DriftChange } from './fingerprint.js';
export { classifyPod, classifyNodePods, drainContext, drainRefusal, pdbsCovering, DRAIN_MESSAGES, type ClassifiedPod, type DrainFilterContext } from './drain-filters.js';
export { selectorMatches, formatSelector, type LabelSelector } from './selector.js';
export { parseMaxParallel, batchSize, orderNodes, makeBatches, isControlPlane, compareNames } from './order.js';
