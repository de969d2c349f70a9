/**
 * Every failure that reaches the operator from the Kubernetes API is turned into a ClusterError:
 * one sentence saying what failed, and a hint saying what to do next. Stack traces and raw
 * response bodies are kept in `detail` for `-v`.
 */
export type ClusterErrorKind =
  | 'kubeconfig'
  | 'unreachable'
  | 'unauthorized'
  | 'forbidden'
  | 'not-found'
  | 'conflict'
  | 'too-many-requests'
  | 'invalid'
  | 'timeout'
  | 'server';

export interface RequestContext {
  verb: string;
  resource: string;
  name?: string;
  namespace?: string;
}

export class ClusterError extends Error {
  constructor(
    readonly kind: ClusterErrorKind,
    message: string,
    readonly hint?: string,
    readonly status?: number,
    readonly detail?: string,
    readonly causes: Array<{ reason?: string; message?: string; field?: string }> = [],
  ) {
    super(message);
    this.name = 'ClusterError';
  }
}

export function isClusterError(err: unknown, kind?: ClusterErrorKind): err is ClusterError {
  return err instanceof ClusterError && (kind === undefined || err.kind === kind);
}

interface StatusBody {
  reason?: string;
  message?: string;
  details?: { causes?: Array<{ reason?: string; message?: string; field?: string }> };
}

function parseStatusBody(body: unknown): StatusBody {
  if (body && typeof body === 'object') return body as StatusBody;
  if (typeof body === 'string') {
    try {
      return JSON.parse(body) as StatusBody;
    } catch {
      return { message: body.slice(0, 500) };
    }
  }
  return {};
}

export function describeTarget(ctx: RequestContext): string {
  const name = ctx.name ? ` "${ctx.name}"` : '';
  const ns = ctx.namespace ? ` in namespace "${ctx.namespace}"` : '';
  return `${ctx.resource}${name}${ns}`;
}

const NETWORK_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EHOSTUNREACH', 'ETIMEDOUT', 'ECONNRESET', 'EAI_AGAIN', 'ENETUNREACH']);

/** Maps anything thrown by @kubernetes/client-node (ApiException, FetchError, …) to a ClusterError. */
export function toClusterError(err: unknown, ctx: RequestContext, server: string): ClusterError {
  if (err instanceof ClusterError) return err;
  const e = err as { code?: unknown; body?: unknown; message?: string; errno?: string; type?: string; stack?: string };
  const detail = e?.stack ?? String(err);
  if (typeof e?.code === 'number') {
    const status = parseStatusBody(e.body);
    const apiMessage = status.message ?? `HTTP ${e.code}`;
    const causes = status.details?.causes ?? [];
    const target = describeTarget(ctx);
    switch (e.code) {
      case 401:
        return new ClusterError('unauthorized', `the API server at ${server} rejected the credentials (401 Unauthorized) while trying to ${ctx.verb} ${target}`,
          'Check that the kubeconfig user\'s token or certificate is valid and not expired (kubectl auth whoami).', 401, detail);
      case 403:
        return new ClusterError('forbidden', `forbidden: cannot ${ctx.verb} ${target}: ${apiMessage}`,
          `Grant the user the "${ctx.verb}" verb on ${ctx.resource} (see docs/detect.md for the full RBAC list), or run with a cluster-admin kubeconfig.`, 403, detail, causes);
      case 404:
        return new ClusterError('not-found', `${target} not found`, undefined, 404, detail, causes);
      case 409:
        return new ClusterError('conflict', `conflict while trying to ${ctx.verb} ${target}: ${apiMessage}`,
          'Another client changed the object at the same time; rerun the command.', 409, detail, causes);
      case 422:
      case 400:
        return new ClusterError('invalid', `the API server refused to ${ctx.verb} ${target}: ${apiMessage}`, undefined, e.code, detail, causes);
      case 429:
        return new ClusterError('too-many-requests', `too many requests: cannot ${ctx.verb} ${target} now: ${apiMessage}`,
          'Retry later.', 429, detail, causes);
      case 504:
        return new ClusterError('timeout', `the API server timed out while trying to ${ctx.verb} ${target}`, 'Retry; the command resumes where it stopped.', 504, detail);
      default:
        return new ClusterError('server', `cannot ${ctx.verb} ${target}: ${apiMessage} (HTTP ${e.code})`, undefined, e.code, detail, causes);
    }
  }
  const code = (e as { code?: string })?.code ?? e?.errno;
  const message = e?.message ?? String(err);
  if (/Unrecognized API version and kind/.test(message)) {
    return new ClusterError('not-found', `the API server does not serve ${ctx.resource}`, undefined, 404, detail);
  }
  if ((typeof code === 'string' && NETWORK_CODES.has(code)) || e?.type === 'system' || /ECONNREFUSED|ENOTFOUND|EHOSTUNREACH|socket hang up|connect ETIMEDOUT/.test(message)) {
    return new ClusterError('unreachable', `cannot reach the API server at ${server} (${code ?? message})`,
      'Check that the cluster is running and that --kubeconfig/--context point at it (kubectl cluster-info).', undefined, detail);
  }
  if (/certificate|self.signed|TLS|SSL/i.test(message)) {
    return new ClusterError('unreachable', `TLS handshake with ${server} failed: ${message}`,
      'Check certificate-authority-data in the kubeconfig.', undefined, detail);
  }
  return new ClusterError('server', `cannot ${ctx.verb} ${describeTarget(ctx)}: ${message}`, undefined, undefined, detail);
}
