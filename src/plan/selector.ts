import { labelSelector } from '../k8s.js';

/** A Kubernetes metav1.LabelSelector, as plain data. */
export interface LabelSelector {
  matchLabels?: Record<string, string> | null;
  matchExpressions?: Array<{ key: string; operator: string; values?: string[] | null }> | null;
}

/**
 * Whether a label selector selects a set of labels, with Kubernetes' semantics: every matchLabels
 * entry and every expression must hold; an empty selector selects everything; a missing (null)
 * selector selects nothing (policy/v1 PodDisruptionBudget rule). NotIn and DoesNotExist hold for an
 * absent key. An unknown operator selects nothing, as the API server would reject it.
 */
export function selectorMatches(selector: LabelSelector | null | undefined, labels: Record<string, string> | null | undefined): boolean {
  if (!selector) return false;
  const have = labels ?? {};
  for (const [key, value] of Object.entries(selector.matchLabels ?? {})) {
    if (have[key] !== value) return false;
  }
  for (const expr of selector.matchExpressions ?? []) {
    const present = Object.prototype.hasOwnProperty.call(have, expr.key);
    const values = expr.values ?? [];
    switch (expr.operator) {
      case 'In':
        if (!present || !values.includes(have[expr.key])) return false;
        break;
      case 'NotIn':
        if (present && values.includes(have[expr.key])) return false;
        break;
      case 'Exists':
        if (!present) return false;
        break;
      case 'DoesNotExist':
        if (present) return false;
        break;
      default:
        return false;
    }
  }
  return true;
}

/** kubectl-style rendering of a selector, for messages: "app=web,tier in (a,b),!legacy". */
export function formatSelector(selector: LabelSelector | null | undefined): string {
  if (!selector) return '<none>';
  const matchLabels = labelSelector(selector.matchLabels);
  const parts = matchLabels ? [matchLabels] : [];
  for (const e of selector.matchExpressions ?? []) {
    const values = (e.values ?? []).join(',');
    if (e.operator === 'In') parts.push(`${e.key} in (${values})`);
    else if (e.operator === 'NotIn') parts.push(`${e.key} notin (${values})`);
    else if (e.operator === 'Exists') parts.push(e.key);
    else if (e.operator === 'DoesNotExist') parts.push(`!${e.key}`);
    else parts.push(`${e.key} ${e.operator} (${values})`);
  }
  return parts.length ? parts.join(',') : '<everything>';
}
