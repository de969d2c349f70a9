import type { EngineEvent, EventSink } from './events.js';

export type Answer = 'yes' | 'no' | 'all';

export interface Confirmation {
  kind: 'install-calico' | 'first-node' | 'batch' | 'finalize' | 'revert';
  message: string;
  /** Offer "yes to all remaining". */
  allowAll?: boolean;
}

/** Where the engine's decisions are written down (the local audit log, src/engine/audit.ts). */
export interface AuditSink {
  write(entry: Record<string, unknown>): void;
}

export interface RunHooks {
  /** Progress for the operator (spinner or log lines). */
  onEvent: EventSink;
  /** A question to the operator (or the answer --yes gives). */
  confirm: (c: Confirmation) => Promise<Answer>;
  audit: AuditSink;
  /** Ctrl-C: every wait and loop stops at its next safe point; no new node or step starts. */
  signal?: AbortSignal;
}

/**
 * What a run of the migrate or revert engine shares with the command that started it: events go
 * to the operator and to the audit log, questions go to the operator (an "all" answer is
 * remembered for the rest of the run), and the signal stops the run.
 */
export class RunContext {
  private confirmAll = false;
  readonly signal?: AbortSignal;
  readonly audit: AuditSink;

  constructor(private readonly hooks: RunHooks) {
    this.signal = hooks.signal;
    this.audit = hooks.audit;
  }

  emit(event: EngineEvent): void {
    this.audit.write({ ...event, type: 'event', event: event.type });
    this.hooks.onEvent(event);
  }

  /** True for yes (or an earlier "all", when the question offers it). */
  async ask(c: Confirmation): Promise<boolean> {
    if (this.confirmAll && c.allowAll) return true;
    const answer = await this.hooks.confirm(c);
    if (answer === 'all') this.confirmAll = true;
    return answer !== 'no';
  }

  /** True once the operator (or --yes) confirmed every remaining batch: no batch question will be asked. */
  get confirmsAll(): boolean {
    return this.confirmAll;
  }

  get aborted(): boolean {
    return this.signal?.aborted ?? false;
  }
}
