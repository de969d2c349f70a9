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
  | 'not-kubernetes'
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

/** "host:port" of an API server URL, for messages. */
export function serverAddress(server: string): string {
  try {
    const url = new URL(server);
    return `${url.hostname.includes(':') ? `[${url.hostname}]` : url.hostname}:${url.port || (url.protocol === 'http:' ? '80' : '443')}`;
  } catch {
    return server;
  }
}

export function unauthorizedError(server: string, doing: string, detail?: string): ClusterError {
  return new ClusterError(
    'unauthorized',
    `the API server at ${serverAddress(server)} rejected the credentials (401 Unauthorized) ${doing}`,
    'The token or client certificate of the kubeconfig user is wrong or expired: get fresh ' +
      'credentials for this cluster (kubectl config view --minify shows which user; kubectl ' +
      'auth whoami tests it).',
    401,
    detail,
  );
}

export function describeTarget(ctx: RequestContext): string {
  const name = ctx.name ? ` "${ctx.name}"` : '';
  const ns = ctx.namespace ? ` in namespace "${ctx.namespace}"` : '';
  return `${ctx.resource}${name}${ns}`;
}

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'ETIMEDOUT',
  'ECONNRESET',
  'EAI_AGAIN',
  'ENETUNREACH',
]);

/** The socket error code a connection that is not established within the connect timeout fails with. */
export const CONNECT_TIMEOUT_CODE = 'F2C_CONNECT_TIMEOUT';

export interface Timeouts {
  connectTimeoutMs: number;
  requestTimeoutMs: number;
}

function wholeSeconds(ms: number): string {
  return `${Math.round(ms / 100) / 10} s`;
}

/** The error for a request that was not answered in time; `phase` says whether the connection was ever made. */
function timeoutError(
  phase: 'connect' | 'request',
  ctx: RequestContext,
  server: string,
  timeouts: Timeouts,
  detail?: string,
): ClusterError {
  const address = serverAddress(server);
  if (phase === 'connect') {
    return new ClusterError(
      'timeout',
      `no connection to the API server at ${address} within ${wholeSeconds(timeouts.connectTimeoutMs)} ` +
        `(trying to ${ctx.verb} ${describeTarget(ctx)})`,
      `Check that ${address} is the address of the cluster's API server (kubectl config view ` +
        `--minify), that it is running, and that no firewall or proxy drops the connection; ` +
        `--request-timeout sets the bound.`,
      undefined,
      detail,
    );
  }
  return new ClusterError(
    'timeout',
    `the API server at ${address} accepted the connection but did not answer within ${wholeSeconds(timeouts.requestTimeoutMs)} ` +
      `(trying to ${ctx.verb} ${describeTarget(ctx)})`,
    `Check that ${address} is the cluster's API server and that it is healthy (kubectl get ` +
      `--raw /readyz); for a slow server raise --request-timeout.`,
    undefined,
    detail,
  );
}

/** Maps anything thrown by @kubernetes/client-node (ApiException, FetchError, …) to a ClusterError. */
export function toClusterError(err: unknown, ctx: RequestContext, server: string, timeouts?: Timeouts): ClusterError {
  if (err instanceof ClusterError) return err;
  const e = err as {
    code?: unknown;
    body?: unknown;
    message?: string;
    errno?: string;
    type?: string;
    stack?: string;
    name?: string;
  };
  const detail = e?.stack ?? String(err);
  if (timeouts && (e?.code === CONNECT_TIMEOUT_CODE || e?.errno === CONNECT_TIMEOUT_CODE))
    return timeoutError('connect', ctx, server, timeouts, detail);
  if (timeouts && (e?.name === 'AbortError' || e?.type === 'aborted' || e?.name === 'TimeoutError'))
    return timeoutError('request', ctx, server, timeouts, detail);
  if (typeof e?.code === 'number') {
    const status = parseStatusBody(e.body);
    const apiMessage = status.message ?? `HTTP ${e.code}`;
    const causes = status.details?.causes ?? [];
    const target = describeTarget(ctx);
    switch (e.code) {
      case 401:
        return unauthorizedError(server, `trying to ${ctx.verb} ${target}`, detail);
      case 403:
        return new ClusterError(
          'forbidden',
          status.message
            ? `not allowed to ${ctx.verb} ${target}: ${status.message}`
            : `not allowed to ${ctx.verb} ${target} (403 Forbidden)`,
          `Grant the user the "${ctx.verb}" verb on ${ctx.resource} (see docs/detect.md for the ` +
            `full RBAC list), or run with a cluster-admin kubeconfig.`,
          403,
          detail,
          causes,
        );
      case 404:
        return new ClusterError('not-found', `${target} not found`, undefined, 404, detail, causes);
      case 409:
        return new ClusterError(
          'conflict',
          `conflict while trying to ${ctx.verb} ${target}: ${apiMessage}`,
          'Another client changed the object at the same time; rerun the command.',
          409,
          detail,
          causes,
        );
      case 422:
      case 400:
        return new ClusterError(
          'invalid',
          `the API server refused to ${ctx.verb} ${target}: ${apiMessage}`,
          undefined,
          e.code,
          detail,
          causes,
        );
      case 429:
        return new ClusterError(
          'too-many-requests',
          `too many requests: cannot ${ctx.verb} ${target} now: ${apiMessage}`,
          'Retry later.',
          429,
          detail,
          causes,
        );
      case 504:
        return new ClusterError(
          'timeout',
          `the API server timed out while trying to ${ctx.verb} ${target}`,
          'Retry; the command resumes where it stopped.',
          504,
          detail,
        );
      default:
        return new ClusterError(
          'server',
          `cannot ${ctx.verb} ${target}: ${apiMessage} (HTTP ${e.code})`,
          undefined,
          e.code,
          detail,
          causes,
        );
    }
  }
  const code = (e as { code?: string })?.code ?? e?.errno;
  const message = e?.message ?? String(err);
  if (/Unrecognized API version and kind/.test(message)) {
    return new ClusterError('not-found', `the API server does not serve ${ctx.resource}`, undefined, 404, detail);
  }
  if (
    (typeof code === 'string' && NETWORK_CODES.has(code)) ||
    e?.type === 'system' ||
    /ECONNREFUSED|ENOTFOUND|EHOSTUNREACH|socket hang up|connect ETIMEDOUT/.test(message)
  ) {
    const why =
      code === 'ECONNREFUSED'
        ? 'connection refused'
        : code === 'ENOTFOUND' || code === 'EAI_AGAIN'
          ? 'host name not found'
          : String(code ?? message);
    return new ClusterError(
      'unreachable',
      `cannot reach the API server at ${serverAddress(server)} (${why})`,
      'Check that the cluster is running and that --kubeconfig/--context point at it (kubectl ' +
        'config view --minify; kubectl cluster-info).',
      undefined,
      detail,
    );
  }
  if (/certificate|self.signed|TLS|SSL/i.test(message)) {
    return new ClusterError(
      'unreachable',
      `TLS handshake with ${server} failed: ${message}`,
      'Check certificate-authority-data in the kubeconfig.',
      undefined,
      detail,
    );
  }
  return new ClusterError(
    'server',
    `cannot ${ctx.verb} ${describeTarget(ctx)}: ${message}`,
    undefined,
    undefined,
    detail,
  );
}
