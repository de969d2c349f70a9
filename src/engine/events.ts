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
  | 'done';

export const NODE_STEPS: readonly NodeStep[] = ['cordon', 'drain', 'stop-flannel', 'host-cleanup', 'start-calico', 'probe', 'uncordon', 'done'];

export const STEP_TITLES: Record<NodeStep, string> = {
  cordon: 'cordon',
  drain: 'drain',
  'stop-flannel': 'stop flannel (label network=none)',
  'host-cleanup': 'remove flannel from the host',
  'start-calico': 'start calico-node (label network=calico)',
  probe: 'prove pod connectivity',
  uncordon: 'uncordon',
  done: 'done',
};

export type EngineEvent =
  | { type: 'phase'; phase: string; message: string }
  | { type: 'step-start'; node: string; step: NodeStep; message: string }
  | { type: 'step-wait'; node: string; step: NodeStep; message: string }
  | { type: 'step-done'; node: string; step: NodeStep; message: string; elapsedMs: number; skipped?: boolean }
  | { type: 'node-done'; node: string; elapsedMs: number }
  | { type: 'node-failed'; node: string; step: NodeStep; message: string }
  | { type: 'batch-start'; index: number; total: number; nodes: string[] }
  | { type: 'info'; message: string; node?: string }
  | { type: 'warning'; message: string; node?: string };

export type EventSink = (event: EngineEvent) => void;
