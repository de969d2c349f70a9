/**
 * What the engine tells the outside world while it works. The CLI renders these as spinner lines
 * or plain log lines; the same stream goes to the audit log.
 */
export type NodeStep =
  | 'cordon'
  | 'drain'
  | 'stop-flannel'
  | 'host-cleanup'
  | 'start-calico'
  | 'probe'
  | 'uncordon'
  | 'done'
  // revert
  | 'stop-calico'
  | 'host-revert'
  | 'start-flannel'
  | 'release-ipam';

export const NODE_STEPS: readonly NodeStep[] = [
  'cordon',
  'drain',
  'stop-flannel',
  'host-cleanup',
  'start-calico',
  'probe',
  'uncordon',
  'done',
];

/** The steps of a node's way back to flannel (revert). */
export const REVERT_STEPS: readonly NodeStep[] = [
  'cordon',
  'drain',
  'stop-calico',
  'host-revert',
  'start-flannel',
  'release-ipam',
  'probe',
  'uncordon',
  'done',
];

export const STEP_TITLES: Record<NodeStep, string> = {
  cordon: 'cordon',
  drain: 'drain',
  'stop-flannel': 'stop flannel (label network=none)',
  'host-cleanup': 'remove flannel from the host',
  'start-calico': 'start calico-node (label network=calico)',
  probe: 'prove pod connectivity',
  uncordon: 'uncordon',
  done: 'done',
  'stop-calico': 'stop calico-node (label network=none)',
  'host-revert': 'remove Calico from the host',
  'start-flannel': 'start flannel (label network=flannel)',
  'release-ipam': "release the node's Calico IPAM",
};

export type NetworkName = 'flannel' | 'calico';

export type EngineEvent =
  | { type: 'phase'; phase: string; message: string }
  | { type: 'step-start'; node: string; step: NodeStep; message: string }
  | { type: 'step-wait'; node: string; step: NodeStep; message: string }
  /** `waitedMs`: time spent waiting on the cluster; `pausedMs`: pauses before retries (see step-timing.ts). */
  | {
      type: 'step-done';
      node: string;
      step: NodeStep;
      message: string;
      elapsedMs: number;
      waitedMs?: number;
      pausedMs?: number;
    }
  | { type: 'node-done'; node: string; elapsedMs: number; network?: NetworkName }
  | { type: 'node-failed'; node: string; step: NodeStep; message: string }
  | { type: 'batch-start'; index: number; total: number; nodes: string[] }
  | { type: 'info'; message: string; node?: string }
  | { type: 'warning'; message: string; node?: string };

export type EventSink = (event: EngineEvent) => void;
